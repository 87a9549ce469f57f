/*
 * Process plumbing shared by the master's children: titles as ps shows
 * them, and the signal set-up of a worker process.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

int proc_worker_signals(bool front)
{
	struct sigaction sa;
	sigset_t mask;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!front) {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	/*
	 * The master forks with these blocked, so one sent before now is still
	 * pending and the signalfd reports it.  They stay blocked: a handler's
	 * flag is only looked at when a wait returns, and a wait on a socket
	 * that is always readable returns without ever delivering the signal.
	 */
	sigemptyset(&mask);
	if (front) {
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGINT);
	} else {
		sigaddset(&mask, SIGUSR1);
	}
	sigprocmask(SIG_SETMASK, &mask, NULL);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal(1, "%s: signalfd", __func__);
	return fd;
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

void proc_served(int *fd)
{
	if (*fd < 0)
		return;
	if (write(*fd, "s", 1) != 1)
		log_debug("%s: write: %s", __func__, strerror(errno));
	close(*fd);
	*fd = -1;
}
