/*
 * Logging and process titles.  A whole line is formatted first and written
 * with one write(2), so lines from different processes sharing stderr never
 * interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"

static char log_role[32] = "runboxd";
static enum log_level log_level = LOG_LEVEL_INFO;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *role, enum log_level level)
{
	log_set_role(role);
	log_level = level;
}

void log_set_role(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

static void log_emit(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char line[LOG_MAX_LINE];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%ld] %s: ", ts.tv_nsec / 1000000,
		     log_role, (long)getpid(), log_names[level]);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	if (errnum && n < sizeof(line) - 1) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(errnum));
		if (r > 0)
			n += (size_t)r < sizeof(line) - n ? (size_t)r : sizeof(line) - n - 1;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}

#define LOG_FN(name, level, with_errno)                                 \
	void name(const char *fmt, ...)                                 \
	{                                                               \
		int saved = errno;                                      \
		va_list ap;                                             \
		va_start(ap, fmt);                                      \
		log_emit(level, (with_errno) ? saved : 0, fmt, ap);     \
		va_end(ap);                                             \
		errno = saved;                                          \
	}

LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)

void fatal(int status, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	_exit(status);
}

void fatalx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	_exit(status);
}

void log_clean(char *out, size_t outsz, const char *s, size_t n)
{
	size_t i;

	if (outsz == 0)
		return;
	n = n < outsz - 1 ? n : outsz - 1;
	for (i = 0; i < n; i++)
		out[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
}
