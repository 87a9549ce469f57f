/*
 * Docker image references: request validation shared by the front (before
 * anything is asked of the agent) and the agent (before anything is asked
 * of Docker), and RUN_IMAGE_ALLOWLIST's matching.  Pure: no I/O, no
 * allocation.
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

/*
 * Is s an allowlist entry: a valid image reference, or a namespace
 * pattern (P, a slash and a star) where P followed by "/name" would be a
 * valid name with no tag or digest?
 */
int imageref_pattern_valid(const char *s);

/*
 * Does allowlist entry pattern allow image?  Both sides are compared as
 * Docker resolves them ("python" is "docker.io/library/python",
 * "index.docker.io" is "docker.io").  A namespace pattern allows
 * every repository under P, at any depth, with any tag or digest.  An entry with neither tag nor
 * digest allows any tag or digest of its repository; with a tag, that
 * tag only (an image without one is "latest") and no digest; with a
 * digest, images carrying that digest.  Returns 1 or 0 (0 for anything
 * invalid).
 */
int imageref_allowed(const char *pattern, const char *image);

/* Does any of the n entries allow image?  No entries allow any image. */
int imageref_list_allows(const char (*patterns)[CONFIG_MAX_STR], unsigned n, const char *image);

#endif
