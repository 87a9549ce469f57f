/*
 * The shared pull table, across real processes as the agents use it: one
 * claimer per image, the others wait and get its outcome; a claimer that
 * dies without releasing is taken over once its budget has passed; a
 * waiter never waits longer than its own bound.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "pull.h"

#define IMG "127.0.0.1:5000/runbox/x:t1"
#define GENEROUS_MS 30000

/* A child that claims IMG, signals through p, waits for a byte on q, then releases (or just exits). */
static pid_t claimer(int p[2], int q[2], int64_t budget_ms, int rc, bool release)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct pull_ticket t;
		struct docker_error err = {.status = 404};
		char c = pull_claim(IMG, budget_ms, &t) == PULL_MINE ? 'm' : 'x';

		snprintf(err.message, sizeof(err.message), "manifest unknown\x01");
		if (write(p[1], &c, 1) != 1 || read(q[0], &c, 1) != 1)
			_exit(1);
		if (release)
			pull_release(&t, IMG, rc, &err);
		_exit(0);
	}
	return pid;
}

static void test_one_puller(void)
{
	int p[2], q[2], rc = 1;
	struct pull_ticket t;
	struct docker_error err;
	char c = 0;
	pid_t pid;

	CHECK(pipe(p) == 0 && pipe(q) == 0);
	pid = claimer(p, q, GENEROUS_MS, DOCKER_ESTATUS, true);
	CHECK(read(p[0], &c, 1) == 1 && c == 'm');
	/* Taken: we wait; a bounded wait that runs out says so. */
	CHECK(pull_claim(IMG, GENEROUS_MS, &t) == PULL_WAIT);
	CHECK(pull_wait(&t, IMG, 200, &rc, &err) == -1);
	/* Another image is not held up by it. */
	{
		struct pull_ticket o;

		CHECK(pull_claim("other/image:1", GENEROUS_MS, &o) != PULL_WAIT);
	}
	CHECK(write(q[1], "go", 1) == 1);
	CHECK(pull_wait(&t, IMG, GENEROUS_MS, &rc, &err) == 0);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 404 && strcmp(err.message, "manifest unknown?") == 0,
	       "%d %d %s", rc, err.status, err.message);
	waitpid(pid, NULL, 0);
	/* Released: the next claim is ours. */
	CHECK(pull_claim(IMG, GENEROUS_MS, &t) == PULL_MINE);
	err.status = 0;
	pull_release(&t, IMG, DOCKER_OK, &err);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

static void test_dead_puller(void)
{
	int p[2], q[2];
	struct pull_ticket t;
	char c = 0;
	pid_t pid;
	int64_t start;

	CHECK(pipe(p) == 0 && pipe(q) == 0);
	/* It claims with a 300 ms budget and dies without releasing; start is before its claim. */
	start = io_now_ms();
	pid = claimer(p, q, 300, DOCKER_OK, false);
	CHECK(read(p[0], &c, 1) == 1 && c == 'm');
	CHECK(pull_claim(IMG, GENEROUS_MS, &t) == PULL_WAIT);
	CHECK(write(q[1], "x", 1) == 1);
	waitpid(pid, NULL, 0);
	/* Not before its budget has passed, then exactly one taker. */
	while (pull_claim(IMG, GENEROUS_MS, &t) == PULL_WAIT && io_now_ms() - start < GENEROUS_MS)
		usleep(10000);
	CHECK(io_now_ms() - start >= 300);
	{
		struct pull_ticket t2;

		CHECK(pull_claim(IMG, GENEROUS_MS, &t2) == PULL_WAIT);
	}
	pull_release(&t, IMG, DOCKER_OK, &(struct docker_error){0});
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

int main(void)
{
	struct pull_ticket t;

	/* Without a table every pull is on its own. */
	CHECK(pull_claim(IMG, GENEROUS_MS, &t) == PULL_ALONE);
	CHECK(pull_table_create() == 0);
	test_one_puller();
	test_dead_puller();
	pull_table_forget();
	CHECK(pull_claim(IMG, GENEROUS_MS, &t) == PULL_ALONE);
	return check_done("test_pull");
}
