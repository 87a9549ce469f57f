/* The agent: the only process that talks to Docker.  See DESIGN.md. */
#ifndef RUNBOXD_AGENT_H
#define RUNBOXD_AGENT_H

#include "config.h"

/* Answer front_fd's messages until it closes.  Never returns. */
_Noreturn void agent_main(struct config *cfg, unsigned slot, int front_fd);

#endif
