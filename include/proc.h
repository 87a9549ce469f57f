/* Process titles and worker signal set-up. */
#ifndef RUNBOXD_PROC_H
#define RUNBOXD_PROC_H

/*
 * Process titles as ps shows them ("runboxd: front 3").  proctitle_init
 * must run first thing in main, before anything reads environ.
 */
void proctitle_init(int argc, char **argv);
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A front's or agent's signals: on_stop (or SIG_IGN) for SIGTERM/SIGINT,
 * blocked but while the worker waits; SIGPIPE and SIGHUP ignored.
 */
void proc_worker_signals(void (*on_stop)(int));

#endif
