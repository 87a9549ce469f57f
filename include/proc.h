/* Process titles and worker signal set-up. */
#ifndef RUNBOXD_PROC_H
#define RUNBOXD_PROC_H

#include <stdbool.h>

/*
 * Process titles as ps shows them ("runboxd: front 3").  proctitle_init
 * must run first thing in main, before anything reads environ.
 */
void proctitle_init(int argc, char **argv);
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A front's or agent's signals, read from the returned signalfd, which the
 * worker polls with its sockets: SIGTERM and SIGINT for a front (stop),
 * SIGUSR1 for an agent (sweep); an agent ignores SIGTERM and SIGINT.
 * SIGPIPE and SIGHUP are ignored.
 */
int proc_worker_signals(bool front);

/*
 * A worker's first client: one byte on its ready pipe, which is then
 * closed (*fd = -1), so that the master respawns it at once if it dies
 * rather than backing off as from a crash loop.  Later calls do nothing.
 */
void proc_served(int *fd);

#endif
