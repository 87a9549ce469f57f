/*
 * Logging to stderr, one line per event, prefixed with time, process role
 * and level.  OpenBSD's shape: the *x forms carry no errno, the others
 * append strerror(errno); fatal/fatalx exit with the given status.
 */
#ifndef RUNBOXD_LOG_H
#define RUNBOXD_LOG_H

#include "config.h"

void log_init(const char *role, enum log_level level);
void log_set_role(const char *role);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A client's bytes as a log line may hold them: at most outsz - 1, each
 * not printable ASCII (or a space) replaced by '?', NUL-terminated.
 */
void log_clean(char *out, size_t outsz, const char *s, size_t n);

_Noreturn void fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fatalx(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
