/* The front: the only process that reads client bytes.  See DESIGN.md. */
#ifndef RUNBOXD_FRONT_H
#define RUNBOXD_FRONT_H

#include "config.h"

/*
 * Serve the complete requests the reader hands over on handoff_fd, one at
 * a time, asking agent_fd.  life_fd hangs up when the master dies; one
 * byte goes to ready_fd when the first request is taken.  Never returns.
 */
_Noreturn void front_main(struct config *cfg, unsigned slot, int handoff_fd, int agent_fd,
			  int life_fd, int ready_fd);

#endif
