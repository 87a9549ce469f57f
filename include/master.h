/* The master: binds, forks the slots, reaps and respawns.  See DESIGN.md. */
#ifndef RUNBOXD_MASTER_H
#define RUNBOXD_MASTER_H

#include "config.h"

/*
 * Run the server with cfg until SIGTERM/SIGINT.  conf_file (may be NULL)
 * and envp are re-read on SIGHUP.  Returns the process exit status.
 */
int master_run(struct config *cfg, const char *conf_file, char **envp);

#endif
