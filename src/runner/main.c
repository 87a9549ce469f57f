/*
 * runbox-runner [--path DIR]: the default command of the runner images.
 *
 * One JSON payload on stdin (at most RUNNER_MAX_PAYLOAD bytes), one JSON
 * reply on stdout, exit 0 -- whatever the user's program did.  A payload
 * that is not what the contract says, or a failure of the runner itself,
 * is a message on stderr and exit 1: the server reports that as
 * coderunner.stderr.  A command the process limit left no process for
 * exits RUNNER_EXIT_NOPROC instead, which the server reports as
 * limits.pids.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "exitcodes.h"
#include "runner.h"

#define MAIN_READ_CHUNK 65536

static void main_fail_status(const char *msg, int status)
{
	fprintf(stderr, "runbox-runner: %s\n", msg);
	exit(status);
}

static void main_fail(const char *msg)
{
	main_fail_status(msg, 1);
}

/* All of stdin, or exit 1 past RUNNER_MAX_PAYLOAD. */
static char *main_read_payload(size_t *len)
{
	size_t cap = MAIN_READ_CHUNK, n = 0;
	char *buf = malloc(cap), *p;
	ssize_t r;

	for (;;) {
		if (buf == NULL)
			main_fail("out of memory reading the payload");
		if (n == cap) {
			cap = cap * 2 > RUNNER_MAX_PAYLOAD + 1 ? RUNNER_MAX_PAYLOAD + 1 : cap * 2;
			p = realloc(buf, cap);
			if (p == NULL)
				free(buf);
			buf = p;
			continue;
		}
		r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			main_fail("read of the payload on stdin failed");
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > RUNNER_MAX_PAYLOAD) {
			fprintf(stderr, "runbox-runner: payload larger than %u bytes\n",
			        RUNNER_MAX_PAYLOAD);
			exit(1);
		}
	}
	*len = n;
	return buf;
}

static void main_write_all(const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(1, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			main_fail("write of the reply on stdout failed");
		s += w;
		n -= (size_t)w;
	}
}

static void main_flush(struct jbuf *b)
{
	if (b->overflow)
		main_fail("out of memory writing the reply");
	main_write_all(b->p, b->len);
	b->len = 0;
}

static void main_reply(const struct runner_result *r, const char *error)
{
	struct jbuf b;

	jbuf_init_grow(&b);
	runner_output(&b, r, error, main_flush);
	main_flush(&b);
	free(b.p);
}

static const char *main_args(int argc, char **argv)
{
	const char *path = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strncmp(argv[i], "--path=", 7) == 0) {
			path = argv[i] + 7;
		} else {
			fprintf(stderr, "usage: runbox-runner [--path DIR] < payload.json\n");
			exit(strcmp(argv[i], "--help") == 0 ? 0 : 1);
		}
	}
	return path;
}

static int main_workdir(const char *path)
{
	char home[PATH_MAX], err[RUNNER_ERR_MAX];
	int fd;

	if (path == NULL) {
		if (runner_home(home, sizeof(home), err, sizeof(err)) < 0)
			main_fail(err);
		path = home;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "runbox-runner: open work directory %s: %s\n", path,
		        strerror(errno));
		exit(1);
	}
	return fd;
}

/* Build commands, then the run command; the first that fails is the reply. */
static void main_run(int dirfd, const struct runner_plan *plan, const struct runner_payload *p)
{
	struct runner_result r;
	char err[RUNNER_ERR_MAX], error[RUNNER_ERR_MAX];
	size_t i;

	for (i = 0; i <= plan->nbuild; i++) {
		bool last = i == plan->nbuild;
		const char *cmd = last ? plan->run : plan->build[i];

		/* Only the run command's output goes live: a build's is in the reply when it fails. */
		int rc = runner_exec(dirfd, cmd, last ? p->stdin_data.p : NULL,
		                     last ? p->stdin_data.len : 0, last && p->stream ? STDOUT_FILENO : -1, &r,
		                     err, sizeof(err));

		/* No process left for the command: a status the server tells from our other failures. */
		if (rc == RUNNER_NOPROC)
			main_fail_status(err, RUNNER_EXIT_NOPROC);
		if (rc < 0)
			main_fail(err);
		runner_error_text(&r, error, sizeof(error));
		if (last || error[0] != '\0') {
			main_reply(&r, error);
			runner_result_free(&r);
			return;
		}
		runner_result_free(&r);
	}
}

int main(int argc, char **argv)
{
	struct runner_payload p;
	struct runner_plan plan;
	char err[RUNNER_ERR_MAX];
	const char *path;
	size_t len;
	char *js;
	int dirfd;

	/*
	 * The user's program runs as our uid: without this it could write to
	 * our stdout through /proc/<pid>/fd/1 (or ptrace us) and forge the
	 * reply.  Its own execve makes it dumpable again, as it should be.
	 */
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		main_fail("prctl(PR_SET_DUMPABLE) failed");
	path = main_args(argc, argv);
	js = main_read_payload(&len);

	if (runner_payload_parse(js, len, &p, err, sizeof(err)) < 0)
		main_fail(err);
	free(js);
	dirfd = main_workdir(path);
	if (runner_files_write(dirfd, &p, err, sizeof(err)) < 0 ||
	    runner_plan_make(&p, &plan, err, sizeof(err)) < 0) {
		main_reply(NULL, err);
	} else {
		main_run(dirfd, &plan, &p);
		runner_plan_free(&plan);
	}
	runner_payload_free(&p);
	close(dirfd);
	return 0;
}
