/* The front: the only process that reads client bytes.  See DESIGN.md. */
#ifndef RUNBOXD_FRONT_H
#define RUNBOXD_FRONT_H

#include "config.h"

/*
 * Serve connections from listen_fd, one at a time, asking agent_fd.
 * life_fd hangs up when the master dies; one byte goes to ready_fd when
 * the first connection is accepted.  Never returns.
 */
_Noreturn void front_main(struct config *cfg, unsigned slot, int listen_fd, int agent_fd,
			  int life_fd, int ready_fd);

#endif
