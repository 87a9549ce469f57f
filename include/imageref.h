/*
 * Docker image references: request validation shared by the front (before
 * anything is asked of the agent) and the agent (before anything is asked
 * of Docker).  Pure: no I/O, no allocation.
 */
#ifndef RUNBOXD_IMAGEREF_H
#define RUNBOXD_IMAGEREF_H

#include "bounds.h"

/*
 * Is s a syntactically valid image reference: distribution/reference's
 * grammar without IPv6 hosts, at most DOCKER_MAX_IMAGE_REF bytes?
 * Returns 1 or 0.
 */
int imageref_valid(const char *s);

#endif
