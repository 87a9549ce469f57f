/*
 * runboxd: an HTTP API that runs untrusted code in transient Docker
 * containers (a hardened drop-in for glot's docker-run).  main() reads the
 * configuration and hands over to the master; see DESIGN.md in README.md.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "master.h"
#include "sandbox.h"

extern char **environ;

static void usage(void)
{
	fprintf(stderr, "usage: runboxd [-t] [-h] [-c file]\n"
			"  -c file  read KEY=VALUE settings from file (the environment overrides it)\n"
			"  -t       check the configuration, print it (token masked) and exit\n"
			"  -h       this help and every variable\n");
}

/*
 * Keep a private copy of the environment for reloads, then wipe the token
 * from the process environment so no child inherits it by accident.
 */
static char **main_save_env(void)
{
	static const char key[] = "API_ACCESS_TOKEN=";
	size_t n = 0;
	char **copy;

	while (environ[n])
		n++;
	copy = calloc(n + 1, sizeof(*copy));
	if (copy == NULL)
		fatal(1, "%s: calloc", __func__);
	for (size_t i = 0; i < n; i++) {
		copy[i] = strdup(environ[i]);
		if (copy[i] == NULL)
			fatal(1, "%s: strdup", __func__);
		if (strncmp(environ[i], key, sizeof(key) - 1) == 0)
			explicit_bzero(environ[i], strlen(environ[i]));
	}
	unsetenv("API_ACCESS_TOKEN");
	return copy;
}

/*
 * Before anything opens a file: no stray fd, fds 0-2 open, or the listen socket
 * or a Docker connection could land on 2 and receive log lines.  And no
 * process of ours may be read or traced by another of the same uid (a
 * compromised front must not read an agent's token): not dumpable, which
 * every child inherits.
 */
static void main_sanitize_process(void)
{
	/* Whatever the launching process left open (a shell's fd 10, 255) is not ours. */
	close_range(3, ~0U, 0);
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			_exit(CONFIG_EXIT_BAD);
	}
	if (prctl(PR_SET_DUMPABLE, 0) < 0) {
		perror("runboxd: prctl(PR_SET_DUMPABLE)");
		_exit(2);
	}
}

/* Kept for SIGHUP reloads for the life of the process. */
static char **saved_env;

int main(int argc, char **argv)
{
	static struct config cfg;
	const char *file = NULL;
	char err[512];
	bool test = false;
	int ch;

	main_sanitize_process();
	proctitle_init(argc, argv);
	while ((ch = getopt(argc, argv, "c:th")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			usage();
			fprintf(stderr, "\nvariables (environment or file):\n");
			config_usage(stderr);
			return 0;
		default:
			usage();
			return CONFIG_EXIT_BAD;
		}
	}
	if (optind != argc) {
		usage();
		return CONFIG_EXIT_BAD;
	}
	saved_env = main_save_env();
	if (config_load(&cfg, file, saved_env, err, sizeof(err)) < 0 ||
	    sandbox_prepare(&cfg, !test, err, sizeof(err)) < 0) {
		fprintf(stderr, "runboxd: configuration error: %s\n", err);
		return CONFIG_EXIT_BAD;
	}
	if (test) {
		config_print(&cfg, stdout);
		sandbox_print(&cfg, stdout);
		printf("# configuration OK\n");
		return 0;
	}
	log_init("master", cfg.log_level);
	return master_run(&cfg, file, saved_env);
}
