/* The agent: the only process that talks to Docker.  See DESIGN.md. */
#ifndef RUNBOXD_AGENT_H
#define RUNBOXD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/*
 * Answer front_fd's messages until it closes, or the master dies (life_fd
 * hangs up) and no run is in progress.  sweep_first: remove what the
 * slot's earlier processes left before answering.  Never returns.
 */
_Noreturn void agent_main(struct config *cfg, unsigned slot, int front_fd, int life_fd,
			  bool sweep_first);

/* Which containers of the instance a live process may still own. */
struct agent_owners {
	const int64_t *since; /* per slot: containers created (Docker's Created, unix s) before are not */
	unsigned n;           /* slots in since; containers of higher slots have no owner */
	int64_t max_age;      /* seconds; an older container outlived any run */
};

/*
 * Remove the containers of this instance that owners says nobody owns
 * (owners NULL: every one), then exit (1 if some could not be).  The
 * master runs it, in a child, at start, periodically, and after the last
 * slots stopped.
 */
_Noreturn void agent_janitor(struct config *cfg, const struct agent_owners *owners);

#endif
