/* The agent: the only process that talks to Docker.  See DESIGN.md. */
#ifndef RUNBOXD_AGENT_H
#define RUNBOXD_AGENT_H

#include "config.h"

/* Answer front_fd's messages until it closes.  Never returns. */
_Noreturn void agent_main(struct config *cfg, unsigned slot, int front_fd);

/*
 * Remove every container of this instance, then exit (1 if some could not
 * be).  The master runs it before the first slots start and after the last
 * ones stopped, when no run can be live.
 */
_Noreturn void agent_janitor(struct config *cfg);

#endif
