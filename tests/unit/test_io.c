/*
 * io_poll and its watch: how a worker learns of its master's death in
 * whatever wait it is in.  The watched fd is the read end of a pipe whose
 * write end is closed, as when the master dies.
 */
#include <errno.h>
#include <poll.h>
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

int main(void)
{
	test_no_fire();
	test_fire_once();
	test_fire_with_data();
	test_too_many();
	return check_done("test_io");
}
