/* The front: the only process that reads client bytes.  See DESIGN.md. */
#ifndef RUNBOXD_FRONT_H
#define RUNBOXD_FRONT_H

#include "config.h"

/* Serve connections from listen_fd, one at a time, asking agent_fd. Never returns. */
_Noreturn void front_main(struct config *cfg, unsigned slot, int listen_fd, int agent_fd);

/* Bytes of a runner's stderr kept for the coderunner.stderr message. */
#define FRONT_STDERR_KEEP (64u * 1024)
/* Bytes read from the attach stream at a time. */
#define FRONT_STREAM_CHUNK (64u * 1024)
/* Extra time an agent gets beyond its Docker timeouts before the front gives up on it. */
#define FRONT_AGENT_SLACK_MS 5000

#endif
