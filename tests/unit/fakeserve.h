/*
 * A fake Docker for the unit tests of the Docker client: a forked child
 * answers one connection on a unix socket in a temporary directory with
 * canned bytes, and saves the request it got so that the request side is
 * checked too.  Every wait here is bounded by the child's alarm, never by
 * the speed of the machine.
 */
#ifndef RUNBOXD_FAKESERVE_H
#define RUNBOXD_FAKESERVE_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum serve_mode {
	SERVE_WHOLE,    /* reply in one write, then close */
	SERVE_BYTEWISE, /* reply one byte per write, bytewise_us apart */
	SERVE_HANG,     /* read the request, never answer */
	SERVE_NOREAD,   /* accept, never read, never answer */
	SERVE_ATTACH,   /* reply, read the payload to EOF, answer it in a stdout frame */
};

static char tdir[64];
static char sock_path[96];
static char req_path[128];
/* SERVE_BYTEWISE: the pause between bytes, so that the client reads them one by one. */
static unsigned bytewise_us = 1000;

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* The child saves the request head and its Content-Length body. */
static inline void child_read_request(int c)
{
	char buf[65536], *end, *cl;
	size_t len = 0, want = 0;
	ssize_t r;
	int fd;

	while (len < sizeof(buf) - 1) {
		r = read(c, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(buf, "Content-Length: ");
		want = (size_t)(end + 4 - buf) +
		       (cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
		if (len >= want)
			break;
	}
	fd = open(req_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		write_all(fd, buf, len);
		close(fd);
	}
}

static inline void child_attach(int c)
{
	char buf[4096], frame[8 + sizeof(buf)];
	size_t len = 0;
	ssize_t r;

	while (len < sizeof(buf) && (r = read(c, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)r;
	memset(frame, 0, 8);
	frame[0] = 1;
	frame[6] = (char)(len >> 8);
	frame[7] = (char)(len & 255);
	memcpy(frame + 8, buf, len);
	write_all(c, frame, 8 + len);
}

static inline void child_serve(int l, const char *reply, size_t len, enum serve_mode mode)
{
	int c;
	size_t i;

	alarm(20);
	c = accept(l, NULL, NULL);
	if (c < 0)
		_exit(1);
	if (mode == SERVE_NOREAD)
		pause();
	child_read_request(c);
	switch (mode) {
	case SERVE_BYTEWISE:
		for (i = 0; i < len; i++) {
			write_all(c, reply + i, 1);
			usleep(bytewise_us);
		}
		break;
	case SERVE_HANG:
		pause();
		break;
	case SERVE_ATTACH:
		write_all(c, reply, len);
		child_attach(c);
		break;
	default:
		write_all(c, reply, len);
		break;
	}
	close(c);
	_exit(0);
}

static inline pid_t serve_n(const char *reply, size_t len, enum serve_mode mode)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	pid_t pid;
	int l;

	unlink(sock_path);
	unlink(req_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0) {
		perror("test server");
		exit(2);
	}
	pid = fork();
	if (pid == 0)
		child_serve(l, reply, len, mode);
	close(l);
	return pid;
}

static inline pid_t serve(const char *reply, enum serve_mode mode)
{
	return serve_n(reply, strlen(reply), mode);
}

static inline void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The request the child saw, NUL-terminated. */
static inline const char *request_seen(void)
{
	static char buf[65536];
	ssize_t n = -1;
	int fd = open(req_path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static inline pid_t serve_json(int status, const char *reason, const char *body)
{
	static char reply[8192];

	snprintf(
	    reply, sizeof(reply),
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    status, reason, strlen(body), body);
	return serve(reply, SERVE_WHOLE);
}


/*
 * Answer n connections in turn, the i-th with replies[i] in one write;
 * request_seen() then has all n requests, in order.
 */
static inline pid_t serve_seq(const char *const *replies, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t i;
	pid_t pid;
	int l, c;

	unlink(sock_path);
	unlink(req_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0) {
		perror("test server");
		exit(2);
	}
	pid = fork();
	if (pid == 0) {
		alarm(20);
		for (i = 0; i < n; i++) {
			c = accept(l, NULL, NULL);
			if (c < 0)
				_exit(1);
			child_read_request(c);
			write_all(c, replies[i], strlen(replies[i]));
			close(c);
		}
		_exit(0);
	}
	close(l);
	return pid;
}

/* A fresh directory for the socket; the child's request lands next to it. */
static inline void serve_setup(const char *name)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(tdir, sizeof(tdir), "/tmp/%s.XXXXXX", name);
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(sock_path, sizeof(sock_path), "%s/docker.sock", tdir);
	snprintf(req_path, sizeof(req_path), "%s/request", tdir);
}

static inline void serve_cleanup(void)
{
	unlink(sock_path);
	unlink(req_path);
	rmdir(tdir);
}

#endif
