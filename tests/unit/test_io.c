/*
 * io_poll and its watch: how a worker learns of its master's death in
 * whatever wait it is in.  The watched fd is the read end of a pipe whose
 * write end is closed, as when the master dies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounds.h"
#include "check.h"
#include "io.h"

static int fired;

static void on_watch(void)
{
	fired++;
}

/* A watch that never fires changes nothing: poll's own answers come through. */
static void test_no_fire(void)
{
	int life[2], data[2];
	struct pollfd p;

	CHECK(pipe(life) == 0 && pipe(data) == 0);
	fired = 0;
	io_watch(life[0], on_watch);
	p = (struct pollfd){.fd = data[0], .events = POLLIN};
	CHECK(io_poll(&p, 1, 0) == 0 && fired == 0);
	CHECK(write(data[1], "x", 1) == 1);
	CHECK(io_poll(&p, 1, 1000) == 1 && (p.revents & POLLIN) && fired == 0);
	io_watch(-1, NULL);
	for (int i = 0; i < 2; i++) {
		close(life[i]);
		close(data[i]);
	}
}

/* The hang-up runs the hook once, reports EINTR, and is not watched again. */
static void test_fire_once(void)
{
	int life[2], data[2];
	struct pollfd p;
	int r;

	CHECK(pipe(life) == 0 && pipe(data) == 0);
	fired = 0;
	io_watch(life[0], on_watch);
	close(life[1]);
	p = (struct pollfd){.fd = data[0], .events = POLLIN};
	errno = 0;
	r = io_poll(&p, 1, -1);
	CHECKF(r == -1 && errno == EINTR && fired == 1, "r %d errno %d fired %d", r, errno, fired);
	/* A wait forever would hang here if the dead pipe were still watched. */
	CHECK(io_poll(&p, 1, 50) == 0 && fired == 1);
	close(life[0]);
	close(data[0]);
	close(data[1]);
}

/* Fired together with the caller's fd: the caller's count, the hook run. */
static void test_fire_with_data(void)
{
	int life[2], data[2];
	struct pollfd p[2];

	CHECK(pipe(life) == 0 && pipe(data) == 0);
	fired = 0;
	io_watch(life[0], on_watch);
	close(life[1]);
	CHECK(write(data[1], "x", 1) == 1);
	p[0] = (struct pollfd){.fd = data[0], .events = POLLIN};
	p[1] = (struct pollfd){.fd = -1};
	CHECK(io_poll(p, 2, 1000) == 1 && (p[0].revents & POLLIN) && p[1].revents == 0 && fired == 1);
	close(life[0]);
	close(data[0]);
	close(data[1]);
}

/* More descriptors than io_poll takes is the caller's bug, not a crash. */
static void test_too_many(void)
{
	struct pollfd p[IO_POLL_MAX + 1];

	for (int i = 0; i <= IO_POLL_MAX; i++)
		p[i] = (struct pollfd){.fd = -1};
	errno = 0;
	CHECK(io_poll(p, IO_POLL_MAX + 1, 0) == -1 && errno == EINVAL);
}

/*
 * io_write2_all: head and body arrive whole and in order, on a socket (one
 * sendmsg) and on a pipe (writev), with empty pieces and with a peer that
 * reads slower than a full socket buffer.
 */
static void test_write2(void)
{
	static char big[1 << 20], got[(1 << 20) + 8];
	int sv[2], pp[2];
	char buf[16];
	size_t have = 0;
	int st;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0 && pipe(pp) == 0);
	CHECK(io_write2_all(sv[0], "HEAD", 4, "body", 4, io_now_ms() + 10000) == 0);
	CHECK(read(sv[1], buf, sizeof(buf)) == 8 && memcmp(buf, "HEADbody", 8) == 0);
	CHECK(io_write2_all(sv[0], "", 0, "xy", 2, io_now_ms() + 10000) == 0);
	CHECK(io_write2_all(sv[0], "z", 1, NULL, 0, io_now_ms() + 10000) == 0);
	CHECK(read(sv[1], buf, sizeof(buf)) == 3 && memcmp(buf, "xyz", 3) == 0);
	CHECK(io_write2_all(pp[1], "ab", 2, "cd", 2, io_now_ms() + 10000) == 0);
	CHECK(read(pp[0], buf, sizeof(buf)) == 4 && memcmp(buf, "abcd", 4) == 0);
	/* More than the socket holds: partial writes resume where they stopped. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	pid_t pid = fork();

	if (pid == 0) {
		close(sv[1]);
		_exit(io_write2_all(sv[0], "12345678", 8, big, sizeof(big), io_now_ms() + 60000) == 0 ? 0 : 1);
	}
	close(sv[0]);
	for (ssize_t n; (n = read(sv[1], got + have, sizeof(got) - have)) > 0;)
		have += (size_t)n;
	CHECK(have == sizeof(got) && memcmp(got, "12345678", 8) == 0 &&
	      memcmp(got + 8, big, sizeof(big)) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[1]);
	close(pp[0]);
	close(pp[1]);
}

/* Peer text for logs: both families, and anything else. */
static void test_peer_text(void)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char out[INET6_ADDRSTRLEN + sizeof("[]:65535")];

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	in->sin_port = htons(8088);
	inet_pton(AF_INET, "127.0.0.2", &in->sin_addr);
	io_peer_text(&ss, out, sizeof(out));
	CHECKF(strcmp(out, "127.0.0.2:8088") == 0, "%s", out);
	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(65535);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6->sin6_addr);
	io_peer_text(&ss, out, sizeof(out));
	CHECKF(strcmp(out, "[::ffff:10.0.0.1]:65535") == 0, "%s", out);
	ss.ss_family = AF_UNIX;
	io_peer_text(&ss, out, sizeof(out));
	CHECKF(strcmp(out, "?:0") == 0, "%s", out);
}

int main(void)
{
	test_write2();
	test_peer_text();
	test_no_fire();
	test_fire_once();
	test_fire_with_data();
	test_too_many();
	return check_done("test_io");
}
