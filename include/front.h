/* The front: the only process that reads client bytes.  See DESIGN.md. */
#ifndef RUNBOXD_FRONT_H
#define RUNBOXD_FRONT_H

#include "config.h"

/* Serve connections from listen_fd, one at a time, asking agent_fd. Never returns. */
_Noreturn void front_main(struct config *cfg, unsigned slot, int listen_fd, int agent_fd);

#endif
