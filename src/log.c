/*
 * Logging and process titles.  A whole line is formatted first and written
 * with one write(2), so lines from different processes sharing stderr never
 * interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/*
 * ps reads /proc/PID/cmdline, which is the argv area; to retitle a process
 * we overwrite that area.  environ usually follows argv contiguously, so it
 * is moved to the heap first and its space joins the title area.
 */
static char *title_base;
static size_t title_len;

void proctitle_init(int argc, char **argv)
{
	extern char **environ;
	char *end;
	char **newenv;
	int i, n;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (n = 0; environ[n]; n++)
		;
	newenv = calloc((size_t)n + 1, sizeof(*newenv));
	if (newenv == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		newenv[i] = strdup(environ[i]);
		if (newenv[i] == NULL) {
			/* Keep the old environment and no title: better than half of each. */
			while (i-- > 0)
				free(newenv[i]);
			free(newenv);
			return;
		}
	}
	environ = newenv;
	for (i = 1; i < argc; i++)
		argv[i] = strdup(argv[i]);
	title_base = argv[0];
	title_len = (size_t)(end - argv[0]);
}

void proctitle_set(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	prctl(PR_SET_NAME, buf + (strncmp(buf, "runboxd: ", 9) == 0 ? 9 : 0), 0, 0, 0);
	if (title_base == NULL || title_len < 2)
		return;
	n = strlen(buf);
	if (n > title_len - 1)
		n = title_len - 1;
	memcpy(title_base, buf, n);
	memset(title_base + n, 0, title_len - n);
}
