/*
 * Running one command: /bin/sh -c CMD in the work directory, its stdin fed
 * from memory and its stdout and stderr captured, all three through one
 * poll() loop so that no program can deadlock us: one that fills both
 * pipes is drained on both, one that never reads its stdin (or closes it)
 * just stops being fed (SIGPIPE ignored, EPIPE ends feeding).  Each stream
 * keeps RUNNER_MAX_STREAM bytes; the rest is read and discarded so the
 * program is never blocked on a full pipe.
 *
 * The loop ends at EOF on both output pipes.  A background process that
 * keeps them open after the program itself exited gets
 * RUNNER_DRAIN_GRACE_MS more, then is no longer read (the container ends
 * with the runner).
 *
 * In a container the runner is PID 1, so every orphaned process becomes
 * our child: SIGCHLD (through a signalfd in the same poll set) reaps them
 * all at once, since zombies count against the container's pids limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "runner.h"

#define EXEC_CHUNK 65536
#define EXEC_SHELL "/bin/sh"

struct exec_pump {
	int in, out, err;
	int records; /* where the output goes live as records, or -1 */
	int sigfd; /* SIGCHLD */
	const char *data;
	size_t len, off;
	pid_t pid;
	bool reaped;
	int status;
	uint64_t t_exit;
};

static uint64_t exec_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns how many of the n bytes were kept (the rest is dropped). */
static size_t exec_capture(struct runner_capture *c, const char *d, size_t n)
{
	size_t keep = RUNNER_MAX_STREAM - c->len, want;
	char *p;

	if (keep > n)
		keep = n;
	if (c->len + keep > c->cap) {
		want = c->cap ? c->cap * 2 : EXEC_CHUNK;
		while (want < c->len + keep)
			want *= 2;
		if (want > RUNNER_MAX_STREAM)
			want = RUNNER_MAX_STREAM;
		p = realloc(c->p, want);
		if (p == NULL) {
			keep = 0; /* out of memory: keep what we have, drain the rest */
		} else {
			c->p = p;
			c->cap = want;
		}
	}
	if (keep > 0)
		memcpy(c->p + c->len, d, keep);
	c->len += keep;
	c->dropped += n - keep;
	return keep;
}

/*
 * One record (frame.h): header and bytes in one writev, so that nothing
 * else of ours lands between them.  Blocking: a reader that is slow holds
 * the program back, as a full pipe would.
 */
static void exec_record(int *fd, enum frame_stream stream, const char *d, size_t n)
{
	unsigned char h[FRAME_HEADER] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
					 (unsigned char)(n >> 16), (unsigned char)(n >> 8),
					 (unsigned char)n};
	struct iovec v[2] = {{h, sizeof(h)}, {(void *)(uintptr_t)d, n}};
	struct iovec *p = v;
	int cnt = 2;

	while (cnt > 0) {
		ssize_t w = writev(*fd, p, cnt);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			*fd = -1; /* nobody reads: the reply's own write will tell */
			return;
		}
		while (cnt > 0 && (size_t)w >= p->iov_len) {
			w -= (ssize_t)p->iov_len;
			p++;
			cnt--;
		}
		if (cnt > 0) {
			p->iov_base = (char *)p->iov_base + w;
			p->iov_len -= (size_t)w;
		}
	}
}

/* In the child: never returns. */
static void exec_child(int dirfd, const char *cmd, int in, int out, int err)
{
	const int from[3] = {in, out, err};
	sigset_t none;
	int fd;

	signal(SIGPIPE, SIG_DFL); /* the runner ignores it; the program must not inherit that */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (fd = 0; fd < 3; fd++) {
		if (from[fd] == fd)
			fcntl(fd, F_SETFD, 0);
		else if (dup2(from[fd], fd) < 0)
			_exit(127);
	}
	if (fchdir(dirfd) < 0) {
		dprintf(2, "runbox-runner: fchdir to the work directory: %s\n", strerror(errno));
		_exit(127);
	}
	execl(EXEC_SHELL, "sh", "-c", cmd, (char *)NULL);
	dprintf(2, "runbox-runner: execl %s: %s\n", EXEC_SHELL, strerror(errno));
	_exit(127);
}

static void exec_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void exec_feed(struct exec_pump *x)
{
	size_t want = x->len - x->off < EXEC_CHUNK ? x->len - x->off : EXEC_CHUNK;
	ssize_t n = write(x->in, x->data + x->off, want);

	if (n > 0)
		x->off += (size_t)n;
	else if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || x->off == x->len) /* EPIPE: the program closed its stdin */
		exec_close(&x->in);
}

static void exec_drain(int *fd, struct runner_capture *c, int *records, enum frame_stream stream)
{
	char buf[EXEC_CHUNK];
	ssize_t n = read(*fd, buf, sizeof(buf));
	size_t kept;

	if (n > 0) {
		kept = exec_capture(c, buf, (size_t)n);
		if (*records >= 0 && kept > 0)
			exec_record(records, stream, buf, kept);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		exec_close(fd);
}

static void exec_try_reap(struct exec_pump *x, int flags)
{
	pid_t w;

	do
		w = waitpid(x->pid, &x->status, flags);
	while (w < 0 && errno == EINTR);
	if (w == x->pid) {
		x->reaped = true;
		x->t_exit = exec_now();
	}
}

/* Reap every child that has exited: ours, and orphans handed to PID 1. */
static void exec_reap_all(struct exec_pump *x)
{
	struct signalfd_siginfo si;
	int st;
	pid_t w;

	while (read(x->sigfd, &si, sizeof(si)) > 0)
		;
	while ((w = waitpid(-1, &st, WNOHANG)) > 0 || (w < 0 && errno == EINTR)) {
		if (w == x->pid && !x->reaped) {
			x->status = st;
			x->reaped = true;
			x->t_exit = exec_now();
		}
	}
}

static int exec_timeout(const struct exec_pump *x)
{
	uint64_t since, grace = (uint64_t)RUNNER_DRAIN_GRACE_MS * 1000000u;

	if (!x->reaped)
		return RUNNER_POLL_TICK_MS;
	since = exec_now() - x->t_exit;
	return since >= grace ? 0 : (int)((grace - since) / 1000000u) + 1;
}

static int exec_pump(struct exec_pump *x, struct runner_result *r, char *err, size_t errsz)
{
	struct pollfd pf[4];
	int nfd, timeout, k;
	int *fds[4] = {&x->in, &x->out, &x->err, &x->sigfd};
	const short ev[4] = {POLLOUT, POLLIN, POLLIN, POLLIN};

	/* A program may close its outputs and go on reading its input. */
	while (x->out >= 0 || x->err >= 0 || (x->in >= 0 && !x->reaped)) {
		timeout = exec_timeout(x);
		if (x->reaped && timeout == 0)
			break;
		for (k = 0; k < 4; k++)
			pf[k] =
			    (struct pollfd){.fd = *fds[k], .events = ev[k]}; /* fd -1 is skipped */
		nfd = poll(pf, 4, timeout);
		if (nfd < 0 && errno != EINTR) {
			snprintf(err, errsz, "poll: %s", strerror(errno));
			return -1;
		}
		if (nfd > 0 && pf[0].revents)
			exec_feed(x);
		if (nfd > 0 && pf[1].revents)
			exec_drain(&x->out, &r->out, &x->records, FRAME_STDOUT);
		if (nfd > 0 && pf[2].revents)
			exec_drain(&x->err, &r->err, &x->records, FRAME_STDERR);
		if (nfd > 0 && pf[3].revents)
			exec_reap_all(x);
		if (!x->reaped)
			exec_try_reap(x, WNOHANG);
	}
	return 0;
}

static int exec_pipes(int p[3][2], char *err, size_t errsz)
{
	int k;

	for (k = 0; k < 3; k++) {
		if (pipe2(p[k], O_CLOEXEC) < 0) {
			snprintf(err, errsz, "pipe2: %s", strerror(errno));
			return -1;
		}
	}
	/* Our ends only: the program gets ordinary blocking pipes. */
	if (fcntl(p[0][1], F_SETFL, O_NONBLOCK) < 0 || fcntl(p[1][0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(p[2][0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(err, errsz, "fcntl O_NONBLOCK: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void exec_status(const struct exec_pump *x, uint64_t t0, struct runner_result *r)
{
	r->ns = x->t_exit - t0;
	r->exited = WIFEXITED(x->status);
	r->code = r->exited ? WEXITSTATUS(x->status) : 0;
	r->sig = WIFSIGNALED(x->status) ? WTERMSIG(x->status) : 0;
}

int runner_exec(int dirfd, const char *cmd, const char *in, size_t inlen, int records,
                struct runner_result *r, char *err, size_t errsz)
{
	int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
	struct exec_pump x = {.in = -1, .out = -1, .err = -1, .sigfd = -1, .data = in, .len = inlen,
			      .records = records};
	sigset_t chld, old;
	uint64_t t0;
	int k, rc = -1;

	memset(r, 0, sizeof(*r));
	signal(SIGPIPE, SIG_IGN); /* a program that closes its stdin must not kill us */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old); /* the child unblocks it before exec */
	x.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (x.sigfd < 0) {
		snprintf(err, errsz, "signalfd: %s", strerror(errno));
		goto out;
	}
	if (exec_pipes(p, err, errsz) < 0)
		goto out;
	t0 = exec_now();
	x.pid = fork();
	if (x.pid < 0) {
		rc = errno == EAGAIN ? RUNNER_NOPROC : -1;
		snprintf(err, errsz, "fork: %s", strerror(errno));
		goto out;
	}
	if (x.pid == 0)
		exec_child(dirfd, cmd, p[0][0], p[1][1], p[2][1]);
	x.in = p[0][1], x.out = p[1][0], x.err = p[2][0];
	p[0][1] = p[1][0] = p[2][0] = -1;
	exec_close(&p[0][0]), exec_close(&p[1][1]), exec_close(&p[2][1]);
	if (x.len == 0)
		exec_close(&x.in);
	rc = exec_pump(&x, r, err, errsz);
	if (rc < 0)
		kill(x.pid, SIGKILL);
	exec_close(&x.in), exec_close(&x.out), exec_close(&x.err);
	if (!x.reaped)
		exec_try_reap(&x, 0);
	if (!x.reaped) {
		snprintf(err, errsz, "waitpid %d: %s", (int)x.pid, strerror(errno));
		x.t_exit = exec_now();
		rc = -1;
	}
	exec_status(&x, t0, r);
out:
	for (k = 0; k < 3; k++)
		exec_close(&p[k][0]), exec_close(&p[k][1]);
	exec_close(&x.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

void runner_result_free(struct runner_result *r)
{
	free(r->out.p);
	free(r->err.p);
	memset(r, 0, sizeof(*r));
}
