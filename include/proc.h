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
 * A front's or agent's signals.  SIGTERM and SIGINT stay blocked: with
 * stop_fd they are read from the returned signalfd, which the worker polls
 * with its sockets; without (agent) they are ignored and -1 is returned.
 * SIGPIPE and SIGHUP are ignored.
 */
int proc_worker_signals(bool stop_fd);

#endif
