/*
 * The one translation unit that compiles jsmn (Debian's libjsmn-dev is a
 * header-only library), strict and with parent links, so that every user
 * gets the same parser.
 */
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>
