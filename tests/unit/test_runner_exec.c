/*
 * runbox-runner's command runner: the poll() pump under programs that
 * fill both pipes, never read their stdin, die by a signal, or leave a
 * background process holding the pipes.  alarm() turns a deadlock into a
 * failure instead of a hang.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "frame.h"
#include "runner.h"

#define TEN_MB 10000000u

static char err[RUNNER_ERR_MAX];
static int dfd = -1;
static char workdir[64];

static int run(const char *cmd, const char *in, size_t inlen, struct runner_result *r)
{
	int rc = runner_exec(dfd, cmd, in, inlen, -1, r, err, sizeof(err));

	CHECKF(rc == 0, "%s: %s", cmd, err);
	return rc;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_bytes(const struct runner_capture *c, char want)
{
	size_t i;

	for (i = 0; i < c->len; i++)
		if (c->p[i] != want)
			return false;
	return true;
}

/* 10 MB on each stream, interleaved, 4 MB of stdin that is never read. */
static void test_both_pipes_full(void)
{
	size_t inlen = 4u * 1024 * 1024;
	char *in = malloc(inlen);
	struct runner_result r;

	memset(in, 'i', inlen);
	run("(yes o | tr -d '\\n' | head -c 10000000) & yes e | tr -d '\\n' | head -c 10000000 "
	    ">&2; wait",
	    in, inlen, &r);
	CHECK(r.exited && r.code == 0);
	CHECKF(r.out.len == RUNNER_MAX_STREAM && r.out.dropped == TEN_MB - RUNNER_MAX_STREAM,
	       "stdout kept %zu dropped %zu", r.out.len, r.out.dropped);
	CHECKF(r.err.len == RUNNER_MAX_STREAM && r.err.dropped == TEN_MB - RUNNER_MAX_STREAM,
	       "stderr kept %zu dropped %zu", r.err.len, r.err.dropped);
	CHECK(all_bytes(&r.out, 'o') && all_bytes(&r.err, 'e'));
	runner_result_free(&r);
	free(in);
}

static void test_stdin(void)
{
	size_t inlen = 3u * 1024 * 1024 + 7, i;
	char *in = malloc(inlen);
	struct runner_result r;

	for (i = 0; i < inlen; i++)
		in[i] = (char)(i * 7 + i / 251);
	run("cat", in, inlen, &r);
	CHECK(r.exited && r.code == 0 && r.out.len == inlen && memcmp(r.out.p, in, inlen) == 0);
	runner_result_free(&r);
	/* Closes its stdin at once: feeding stops at EPIPE, we are not killed. */
	run("exec 0<&-; echo closed", in, inlen, &r);
	CHECK(r.exited && r.code == 0 && r.out.len == 7 && memcmp(r.out.p, "closed\n", 7) == 0);
	runner_result_free(&r);
	run("read -r line; echo \"[$line]\"; exit 0", "first\nsecond\n", 13, &r);
	CHECK(r.out.len == 8 && memcmp(r.out.p, "[first]\n", 8) == 0);
	runner_result_free(&r);
	run("wc -c", NULL, 0, &r);
	CHECK(r.out.len >= 2 && atoi(r.out.p) == 0);
	runner_result_free(&r);
	/* Closes its outputs first and reads on: it still gets all of its input. */
	run("exec 1>&- 2>&-; wc -c > closed_outputs.txt", in, inlen, &r);
	CHECK(r.exited && r.code == 0 && r.out.len == 0);
	runner_result_free(&r);
	run("cat closed_outputs.txt", NULL, 0, &r);
	CHECKF(r.out.len > 0 && strtoul(r.out.p, NULL, 10) == inlen, "read %.*s of %zu",
	       (int)r.out.len, r.out.p, inlen);
	runner_result_free(&r);
	free(in);
}

/* Zombie children of this process, from /proc. */
static unsigned zombies(void)
{
	char line[512], path[300];
	unsigned n = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");
	FILE *f;

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL) {
			const char *p = strrchr(line, ')');
			char state = 0;
			int ppid = 0;

			if (p != NULL && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid() &&
			    state == 'Z')
				n++;
		}
		fclose(f);
	}
	if (d != NULL)
		closedir(d);
	return n;
}

/*
 * In a container the runner is PID 1: orphans become its children, and
 * their zombies count against the pids limit.  As a subreaper this test
 * stands in for PID 1.  The program makes 200 orphans, then waits (at most
 * ~30 s) until no child of ours but itself is left, dead or alive: only the
 * runner, which is running it, can reap them.  Once that is seen, no
 * zombie can remain, however slow the machine.
 */
#define ORPHANS                                                                                    \
	"i=0; while [ $i -lt 200 ]; do (true &); i=$((i+1)); done; n=0; "                          \
	"while :; do left=0; "                                                                     \
	"for f in /proc/[0-9]*/stat; do "                                                          \
	"{ read -r l < \"$f\"; } 2>/dev/null || continue; set -- ${l##*') '}; "                     \
	"[ \"$2\" = \"$PPID\" ] && [ \"${l%% *}\" != \"$$\" ] && left=$((left+1)); done; "          \
	"[ $left -eq 0 ] && break; n=$((n+1)); "                                                   \
	"[ $n -ge 300 ] && { echo \"$left orphans not reaped\"; exit 1; }; sleep 0.1; done; "      \
	"echo done"

static void test_orphans(void)
{
	struct runner_result r;

	run(ORPHANS, NULL, 0, &r);
	CHECKF(r.exited && r.code == 0 && r.out.len == 5 && memcmp(r.out.p, "done\n", 5) == 0,
	       "exit %d: %.*s", r.code, (int)r.out.len, r.out.p);
	CHECKF(r.err.len == 0, "%.*s", (int)r.err.len, r.err.p);
	runner_result_free(&r);
	CHECKF(zombies() == 0, "%u zombies left", zombies());
}

static void test_status(void)
{
	struct runner_result r;
	char text[64];

	run("echo out; echo err >&2; exit 3", NULL, 0, &r);
	CHECK(r.exited && r.code == 3 && r.sig == 0);
	CHECK(r.out.len == 4 && memcmp(r.out.p, "out\n", 4) == 0);
	CHECK(r.err.len == 4 && memcmp(r.err.p, "err\n", 4) == 0);
	runner_error_text(&r, text, sizeof(text));
	CHECK(strcmp(text, "Exit code: 3") == 0);
	runner_result_free(&r);

	run("exec sh -c 'kill -KILL $$'", NULL, 0, &r);
	CHECK(!r.exited && r.sig == SIGKILL);
	runner_error_text(&r, text, sizeof(text));
	CHECK(strcmp(text, "Signal: SIGKILL") == 0);
	runner_result_free(&r);

	/* SIGPIPE is back to its default in the program: yes dies quietly. */
	run("yes | head -c 3", NULL, 0, &r);
	CHECK(r.exited && r.code == 0 && r.out.len == 3 && r.err.len == 0);
	runner_result_free(&r);

	run("sleep 0.2", NULL, 0, &r);
	CHECKF(r.ns >= 200000000u && r.ns < 5000000000u, "duration %llu", (unsigned long long)r.ns);
	runner_result_free(&r);

	run("exec /nonexistent/prog", NULL, 0, &r);
	CHECK(r.exited && r.code == 127 && r.err.len > 0);
	runner_result_free(&r);
}

static void test_cwd_and_background(void)
{
	struct runner_result r;
	char want[80];
	double t0;

	run("pwd -P", NULL, 0, &r);
	snprintf(want, sizeof(want), "%s\n", workdir);
	CHECKF(r.out.len == strlen(want) && memcmp(r.out.p, want, r.out.len) == 0, "%.*s",
	       (int)r.out.len, r.out.p);
	runner_result_free(&r);

	/* A background child keeps the pipes open long after the program exits. */
	t0 = seconds();
	run("sleep 30 & echo done", NULL, 0, &r);
	CHECKF(seconds() - t0 < 5.0, "took %.1f s", seconds() - t0);
	CHECK(r.exited && r.code == 0 && r.out.len == 5 && memcmp(r.out.p, "done\n", 5) == 0);
	runner_result_free(&r);
}

/*
 * Records (frame.h): what the front's frame parser reads back from the
 * records fd is, stream by stream, exactly what was kept, in order, with
 * no empty record; past RUNNER_MAX_STREAM nothing more is forwarded.
 */
static void test_records(void)
{
	static char got[2][RUNNER_MAX_STREAM + 1];
	size_t glen[2] = {0, 0}, empty = 0, order_bad = 0, n, off;
	char path[96], *all;
	struct runner_result r;
	struct frame_parser fp;
	struct frame_event ev;
	int fd, rc;
	ssize_t k;

	snprintf(path, sizeof(path), "%s/records", workdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	rc = runner_exec(dfd, "echo one; echo two >&2; printf '\\342\\202'; sleep 0.1; printf '\\254';"
			 "head -c 9000000 /dev/zero", NULL, 0, fd, &r, err, sizeof(err));
	CHECKF(rc == 0, "%s", err);
	n = (size_t)lseek(fd, 0, SEEK_END);
	all = malloc(n + 1);
	CHECK(all != NULL && pread(fd, all, n, 0) == (ssize_t)n);
	frame_init(&fp, UINT64_MAX);
	for (off = 0; all != NULL && off < n; off += (size_t)k) {
		k = frame_parse(&fp, all + off, n - off, &ev);
		if (k < 0)
			break;
		if (ev.start && ev.frame_len == 0)
			empty++;
		if (ev.stream == FRAME_STDIN)
			order_bad++;
		else {
			memcpy(got[ev.stream - 1] + glen[ev.stream - 1], ev.data, ev.len);
			glen[ev.stream - 1] += ev.len;
		}
	}
	CHECKF(off == n && !frame_midway(&fp) && empty == 0 && order_bad == 0,
	       "records: %zu of %zu bytes parsed, %zu empty", off, n, empty);
	CHECK(glen[0] == r.out.len && memcmp(got[0], r.out.p, r.out.len) == 0);
	CHECK(glen[1] == r.err.len && memcmp(got[1], r.err.p, r.err.len) == 0);
	CHECK(r.out.len == RUNNER_MAX_STREAM && r.out.dropped > 0);
	CHECK(memcmp(r.out.p, "one\n\xe2\x82\xac", 7) == 0 && r.err.len == 4);
	free(all);
	close(fd);
	runner_result_free(&r);

	/* A records fd nobody reads any more stops the records, not the run. */
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	rc = runner_exec(dfd, "echo still", NULL, 0, fd, &r, err, sizeof(err));
	CHECK(rc == 0 && r.exited && r.code == 0 && r.out.len == 6);
	if (fd >= 0)
		close(fd);
	runner_result_free(&r);
}

int main(void)
{
	char cmd[96];

	alarm(120);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(workdir, sizeof(workdir), "/tmp/test_runner_exec.XXXXXX");
	if (mkdtemp(workdir) == NULL || (dfd = open(workdir, O_RDONLY | O_DIRECTORY)) < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_both_pipes_full();
	test_stdin();
	test_orphans();
	test_status();
	test_cwd_and_background();
	test_records();
	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
	CHECK(system(cmd) == 0);
	return check_done("test_runner_exec");
}
