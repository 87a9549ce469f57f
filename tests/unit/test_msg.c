/*
 * Front <-> agent messages: a table of packets, each sent raw (any header,
 * any size, any number of descriptors) on a SOCK_SEQPACKET pair, and what
 * msg_recv must make of it.  Descriptors that are refused must be closed,
 * not leaked: the test counts its open descriptors around every row.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"
#include "msg.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* Send a raw packet: header {type, hlen}, blen body bytes, nfds copies of /dev/null. */
static int send_raw(int s, uint32_t type, uint32_t hlen, size_t blen, int nfds, int hdr_bytes)
{
	static char body[MSG_MAX * 2];
	struct msg_hdr h = {.type = type, .len = hlen};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {{.iov_base = &h, .iov_len = (size_t)hdr_bytes},
			       {.iov_base = body, .iov_len = blen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	int fds[8], i, rc;

	memset(&ctl, 0, sizeof(ctl));
	for (i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfds > 0) {
		struct cmsghdr *c;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	rc = (int)sendmsg(s, &mh, MSG_NOSIGNAL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return rc;
}

#define ASK sizeof(struct msg_ask)
#define REP sizeof(struct msg_reply)
#define ATT sizeof(struct msg_attached)
#define HDR ((int)sizeof(struct msg_hdr))
#define OK 0

static const struct row {
	const char *name;
	uint32_t type;
	uint32_t hlen;   /* the length the header claims */
	size_t blen;     /* body bytes actually sent */
	int nfds;        /* descriptors sent with it */
	int hdr_bytes;   /* header bytes sent (short headers) */
	size_t bufsz;    /* room msg_recv is given */
	int err;         /* OK, or the errno of a refusal */
	int got_fd;      /* a descriptor is handed out */
} rows[] = {
    {"version", MSG_VERSION, ASK, ASK, 0, HDR, MSG_MAX, OK, 0},
    {"run", MSG_RUN, ASK, ASK, 0, HDR, MSG_MAX, OK, 0},
    {"auth", MSG_AUTH, ASK, ASK, 0, HDR, MSG_MAX, OK, 0},
    {"done", MSG_DONE, 0, 0, 0, HDR, MSG_MAX, OK, 0},
    {"exit", MSG_EXIT, 0, 0, 0, HDR, MSG_MAX, OK, 0},
    {"exec, no script", MSG_EXEC, MSG_EXEC_MIN, MSG_EXEC_MIN, 0, HDR, MSG_MAX, OK, 0},
    {"exec, longest script", MSG_EXEC, MSG_EXEC_MAX, MSG_EXEC_MAX, 0, HDR, MSG_MAX, OK, 0},
    {"wait", MSG_WAIT, sizeof(struct msg_wait), sizeof(struct msg_wait), 0, HDR, MSG_MAX, OK, 0},
    {"status", MSG_STATUS, sizeof(struct msg_status), sizeof(struct msg_status), 0, HDR, MSG_MAX, OK, 0},
    {"ping", MSG_PING, 0, 0, 0, HDR, MSG_MAX, OK, 0},
    {"reply, empty body", MSG_REPLY, REP, REP, 0, HDR, MSG_MAX, OK, 0},
    {"reply, largest", MSG_REPLY, MSG_MAX - HDR, MSG_MAX - HDR, 0, HDR, MSG_MAX, OK, 0},
    {"attached, no early bytes", MSG_ATTACHED, ATT, ATT, 1, HDR, MSG_MAX, OK, 1},
    {"attached, early bytes", MSG_ATTACHED, ATT + 100, ATT + 100, 1, HDR, MSG_MAX, OK, 1},
    {"attached, extra fds", MSG_ATTACHED, ATT + 10, ATT + 10, 3, HDR, MSG_MAX, OK, 1},
    /* Sizes that do not fit the type. */
    {"version, short", MSG_VERSION, ASK - 1, ASK - 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"run, long", MSG_RUN, ASK + 1, ASK + 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"auth, empty", MSG_AUTH, 0, 0, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"done, body", MSG_DONE, 1, 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"exit, body", MSG_EXIT, 1, 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"exec, short", MSG_EXEC, MSG_EXEC_MIN - 1, MSG_EXEC_MIN - 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"exec, script too long", MSG_EXEC, MSG_EXEC_MAX + 1, MSG_EXEC_MAX + 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"exec with an fd", MSG_EXEC, MSG_EXEC_MIN, MSG_EXEC_MIN, 1, HDR, MSG_MAX, EBADMSG, 0},
    {"wait, empty", MSG_WAIT, 0, 0, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"status, long", MSG_STATUS, sizeof(struct msg_status) + 1, sizeof(struct msg_status) + 1, 0, HDR,
     MSG_MAX, EBADMSG, 0},
    {"ping, body", MSG_PING, 1, 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"reply, short", MSG_REPLY, REP - 1, REP - 1, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"attached, no limits", MSG_ATTACHED, 0, 0, 1, HDR, MSG_MAX, EBADMSG, 0},
    {"attached, short limits", MSG_ATTACHED, ATT - 1, ATT - 1, 1, HDR, MSG_MAX, EBADMSG, 0},
    /* Headers that lie about the body. */
    {"claims more", MSG_VERSION, ASK + 4, ASK, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"claims less", MSG_VERSION, ASK - 4, ASK, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"half a header", MSG_DONE, 0, 0, 0, HDR / 2, MSG_MAX, EBADMSG, 0},
    {"no header", MSG_DONE, 0, 0, 0, 0, MSG_MAX, ECONNRESET, 0},
    /* More than the room: MSG_TRUNC. */
    {"over the room", MSG_REPLY, 2000, 2000, 0, HDR, 1000, EBADMSG, 0},
    {"over MSG_MAX", MSG_REPLY, MSG_MAX, MSG_MAX, 0, HDR, MSG_MAX * 2, EBADMSG, 0},
    /* Descriptors where none belong, or none where one must be. */
    {"version with an fd", MSG_VERSION, ASK, ASK, 1, HDR, MSG_MAX, EBADMSG, 0},
    {"reply with an fd", MSG_REPLY, REP, REP, 1, HDR, MSG_MAX, EBADMSG, 0},
    {"done with fds", MSG_DONE, 0, 0, 2, HDR, MSG_MAX, EBADMSG, 0},
    {"attached without fd", MSG_ATTACHED, ATT + 10, ATT + 10, 0, HDR, MSG_MAX, EBADMSG, 0},
    /* More fds than the control buffer: MSG_CTRUNC. */
    {"attached, too many fds", MSG_ATTACHED, ATT, ATT, 8, HDR, MSG_MAX, EBADMSG, 0},
    /* Types off the menu. */
    {"type 0", 0, 0, 0, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"type 7", 7, ASK, ASK, 0, HDR, MSG_MAX, EBADMSG, 0},
    {"type ~0", 0xffffffffu, 0, 0, 0, HDR, MSG_MAX, EBADMSG, 0},
};

static void test_rows(void)
{
	static char buf[MSG_MAX * 2];
	uint32_t type;
	ssize_t n;
	size_t i;
	int sv[2], fd, before;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			perror("socketpair");
			exit(2);
		}
		/* A packet over the socket's buffer cannot be sent: give it room. */
		int sz = MSG_MAX * 4;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		before = open_fds();
		CHECKF(send_raw(sv[0], r->type, r->hlen, r->blen, r->nfds, r->hdr_bytes) ==
			   r->hdr_bytes + (int)r->blen,
		       "%s: send", r->name);
		type = 0;
		errno = 0;
		n = msg_recv(sv[1], &type, buf, r->bufsz, &fd, 1000);
		if (r->err == OK) {
			CHECKF(n == (ssize_t)r->hlen && type == r->type, "%s: %zd %s", r->name, n,
			       strerror(errno));
			CHECKF((fd >= 0) == (r->got_fd != 0), "%s: fd %d", r->name, fd);
		} else {
			CHECKF(n == -1 && errno == r->err && fd == -1, "%s: %zd %s", r->name, n,
			       strerror(errno));
		}
		if (fd >= 0) {
			CHECKF(fcntl(fd, F_GETFD) & FD_CLOEXEC, "%s: cloexec", r->name);
			close(fd);
		}
		CHECKF(open_fds() == before, "%s: %d fds open, %d before", r->name, open_fds(),
		       before);
		close(sv[0]);
		close(sv[1]);
	}
}

static void test_send_recv(void)
{
	static char buf[MSG_MAX];
	struct msg_reply rep = {.status = 200, .body_len = 2};
	struct msg_attached att = {.time_ms = 1500, .output = 4096};
	uint32_t type;
	ssize_t n;
	int sv[2], fd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	/* Timeout: nothing sent. */
	errno = 0;
	CHECK(msg_recv(sv[1], &type, buf, sizeof(buf), &fd, 50) == -1 && errno == ETIMEDOUT &&
	      fd == -1);
	/* Two parts arrive as one body. */
	CHECK(msg_send(sv[0], MSG_REPLY, &rep, sizeof(rep), "{}", 2, -1) == 0);
	n = msg_recv(sv[1], &type, buf, sizeof(buf), &fd, 1000);
	CHECK(n == (ssize_t)sizeof(rep) + 2 && type == MSG_REPLY && fd == -1 &&
	      memcmp(buf + sizeof(rep), "{}", 2) == 0);
	/* A descriptor goes across. */
	CHECK(msg_send(sv[0], MSG_ATTACHED, &att, sizeof(att), "ab", 2, STDIN_FILENO) == 0);
	n = msg_recv(sv[1], &type, buf, sizeof(buf), &fd, 1000);
	CHECK(n == (ssize_t)sizeof(att) + 2 && type == MSG_ATTACHED && fd >= 0 &&
	      memcmp(buf, &att, sizeof(att)) == 0);
	if (fd >= 0)
		close(fd);
	/* Too big to send. */
	errno = 0;
	CHECK(msg_send(sv[0], MSG_REPLY, buf, MSG_MAX, NULL, 0, -1) == -1 && errno == EMSGSIZE);
	/* EOF. */
	close(sv[0]);
	errno = 0;
	CHECK(msg_recv(sv[1], &type, buf, sizeof(buf), &fd, 1000) == -1 && errno == ECONNRESET);
	errno = 0;
	CHECK(msg_send(sv[1], MSG_DONE, NULL, 0, NULL, 0, -1) == -1 && errno == EPIPE);
	close(sv[1]);
}

int main(void)
{
	test_rows();
	test_send_recv();
	return check_done("test_msg");
}
