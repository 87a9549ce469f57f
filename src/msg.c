/*
 * Front <-> agent transport.  SOCK_SEQPACKET keeps message boundaries, so
 * a short or oversized packet is detected (MSG_TRUNC / MSG_CTRUNC) instead
 * of being glued to the next one.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io.h"
#include "msg.h"

enum msg_fd_rule { MSG_FD_NONE, MSG_FD_ONE };

/*
 * Every message type and its shape: the body size it must have (exactly,
 * or at least for a reply, whose body follows its header) and whether it
 * carries a descriptor.  A type not listed is refused.
 */
static const struct {
	uint32_t type;
	size_t min, max;
	enum msg_fd_rule fd;
} msg_shapes[] = {
	{MSG_VERSION, sizeof(struct msg_ask), sizeof(struct msg_ask), MSG_FD_NONE},
	{MSG_RUN, sizeof(struct msg_ask), sizeof(struct msg_ask), MSG_FD_NONE},
	{MSG_DONE, 0, 0, MSG_FD_NONE},
	{MSG_REPLY, sizeof(struct msg_reply), MSG_MAX - sizeof(struct msg_hdr), MSG_FD_NONE},
	{MSG_ATTACHED, sizeof(struct msg_attached), MSG_MAX - sizeof(struct msg_hdr), MSG_FD_ONE},
	{MSG_AUTH, sizeof(struct msg_ask), sizeof(struct msg_ask), MSG_FD_NONE},
	{MSG_EXIT, 0, 0, MSG_FD_NONE},
	{MSG_EXEC, MSG_EXEC_MIN, MSG_EXEC_MAX, MSG_FD_NONE},
	{MSG_WAIT, sizeof(struct msg_wait), sizeof(struct msg_wait), MSG_FD_NONE},
	{MSG_STATUS, sizeof(struct msg_status), sizeof(struct msg_status), MSG_FD_NONE},
	{MSG_PING, 0, 0, MSG_FD_NONE},
};

static int msg_shape_ok(uint32_t type, size_t len, int fd)
{
	size_t i;

	for (i = 0; i < sizeof(msg_shapes) / sizeof(msg_shapes[0]); i++) {
		if (msg_shapes[i].type != type)
			continue;
		return len >= msg_shapes[i].min && len <= msg_shapes[i].max &&
		       (fd >= 0) == (msg_shapes[i].fd == MSG_FD_ONE);
	}
	return 0;
}

int msg_send(int sock, uint32_t type, const void *a, size_t alen, const void *b, size_t blen,
	     int fd)
{
	struct msg_hdr h = {.type = type, .len = (uint32_t)(alen + blen)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[3] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = (void *)(uintptr_t)a, .iov_len = alen},
		{.iov_base = (void *)(uintptr_t)b, .iov_len = blen},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
	ssize_t n;

	if (sizeof(h) + alen + blen > MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(h) + alen + blen) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

static int msg_wait(int sock, int timeout_ms)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	int r;

	do
		r = io_poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

static int msg_take_fd(struct msghdr *mh)
{
	struct cmsghdr *c;
	int fd = -1;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		/* Exactly one fd is ever sent; close any extra a peer smuggled in. */
		size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = got;
			else
				close(got);
		}
	}
	return fd;
}

ssize_t msg_recv(int sock, uint32_t *type, void *buf, size_t bufsz, int *fd, int timeout_ms)
{
	struct msg_hdr h;
	union {
		char buf[CMSG_SPACE(sizeof(int) * MSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = buf, .iov_len = bufsz},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;
	int got;

	*fd = -1;
	if (timeout_ms >= 0 && msg_wait(sock, timeout_ms) < 0)
		return -1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	got = msg_take_fd(&mh);
	if (n == 0) {
		if (got >= 0)
			close(got);
		errno = ECONNRESET;
		return -1;
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(h) ||
	    h.len != (size_t)n - sizeof(h) || !msg_shape_ok(h.type, h.len, got)) {
		if (got >= 0)
			close(got);
		errno = EBADMSG;
		return -1;
	}
	*type = h.type;
	*fd = got;
	return (ssize_t)h.len;
}
