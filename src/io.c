/* Deadline-bounded I/O.  Everything here tolerates EINTR and EAGAIN. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "io.h"

int64_t io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int io_left_ms(int64_t deadline)
{
	int64_t left = deadline - io_now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int io_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int io_watch_fd = -1;
static void (*io_watch_fn)(void);

void io_watch(int fd, void (*fn)(void))
{
	io_watch_fd = fd;
	io_watch_fn = fn;
}

int io_poll(struct pollfd *p, unsigned n, int timeout_ms)
{
	struct pollfd all[IO_POLL_MAX + 1];
	int w = io_watch_fd;
	unsigned k = n;
	int r;

	if (n > IO_POLL_MAX) {
		errno = EINVAL;
		return -1;
	}
	memcpy(all, p, n * sizeof(*p));
	if (w >= 0)
		all[k++] = (struct pollfd){.fd = w, .events = POLLIN};
	r = poll(all, k, timeout_ms);
	if (r <= 0)
		return r;
	memcpy(p, all, n * sizeof(*p));
	if (w < 0 || all[n].revents == 0)
		return r;
	/* It fires once: a hung-up pipe would wake every wait from now on. */
	io_watch_fd = -1;
	io_watch_fn();
	if (r > 1)
		return r - 1;
	/* Like a signal: the caller looks at its flags and waits again if it must. */
	errno = EINTR;
	return -1;
}

static int io_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	for (;;) {
		int left = io_left_ms(deadline);

		if (left == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = io_poll(&p, 1, left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * One sendmsg (writev off sockets) for all the pieces while they fit the
 * socket: a small answer's head and body leave in one system call, so a
 * worker killed after it never leaves a client with a head and no body.
 */
int io_writev_all(int fd, struct iovec *v, int cnt, int64_t deadline)
{
	while (cnt > 0 && v->iov_len == 0) {
		v++;
		cnt--;
	}
	while (cnt > 0) {
		struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)cnt};
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			n = writev(fd, v, cnt);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n < 0) {
			if (io_wait(fd, POLLOUT, deadline) < 0)
				return -1;
			continue;
		}
		while (cnt > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int io_write2_all(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  int64_t deadline)
{
	struct iovec iov[2] = {{(void *)(uintptr_t)a, alen}, {(void *)(uintptr_t)b, blen}};

	return io_writev_all(fd, iov, 2, deadline);
}

int io_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	return io_write2_all(fd, buf, len, NULL, 0, deadline);
}

ssize_t io_read_some(int fd, void *buf, size_t len, int64_t deadline)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (io_wait(fd, POLLIN, deadline) < 0)
			return -1;
	}
}

void io_linger_close(int fd, int64_t deadline)
{
	char sink[4096];
	size_t total = 0;
	int64_t limit = io_now_ms() + IO_LINGER_MAX_MS;

	if (deadline > limit)
		deadline = limit;
	shutdown(fd, SHUT_WR);
	while (total < IO_LINGER_MAX_BYTES) {
		ssize_t n = io_read_some(fd, sink, sizeof(sink), deadline);

		if (n <= 0)
			break;
		total += (size_t)n;
	}
	close(fd);
}

void io_peer_text(const struct sockaddr_storage *ss, char *out, size_t outsz)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outsz, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
		return;
	}
	snprintf(out, outsz, "%s:%u", host, port);
}
