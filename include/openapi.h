/*
 * The OpenAPI 3.1 document of every route (src/openapi.json), compiled in
 * at build time so that a front, which may open no file, can serve it.
 */
#ifndef RUNBOXD_OPENAPI_H
#define RUNBOXD_OPENAPI_H

#include <stddef.h>

extern const char openapi_doc[];
extern const size_t openapi_doc_len;

#endif
