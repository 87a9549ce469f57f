/*
 * The rate-limit table with an injected clock: bucket math (burst, refill,
 * Retry-After), addresses (IPv4, IPv4-mapped, IPv6 by /64), eviction under
 * a flood, sharing across processes, and SipHash's reference vectors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ratelimit.h"

static const uint64_t test_key[2] = {UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908)};

static struct ratelimit_addr addr(const char *text)
{
	struct sockaddr_storage ss;
	struct ratelimit_addr a;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		CHECK(inet_pton(AF_INET, text, &in->sin_addr) == 1);
		CHECK(ratelimit_addr_of((struct sockaddr *)in, sizeof(*in), &a));
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		CHECK(inet_pton(AF_INET6, text, &in6->sin6_addr) == 1);
		CHECK(ratelimit_addr_of((struct sockaddr *)in6, sizeof(*in6), &a));
	}
	return a;
}

static struct ratelimit *table(int64_t now)
{
	struct ratelimit *t = malloc(sizeof(*t));

	if (t == NULL)
		abort();
	ratelimit_init(t, test_key, now);
	return t;
}

/* The reference vectors of the SipHash paper (key 00..0f, message 00..len-1). */
static void test_siphash(void)
{
	uint8_t msg[64];

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	CHECK(ratelimit_siphash(test_key, msg, 0) == UINT64_C(0x726fdb47dd0e0e31));
	CHECK(ratelimit_siphash(test_key, msg, 15) == UINT64_C(0xa129ca6149be45e5));
}

static void test_bucket(void)
{
	int64_t t0 = 1000000;
	struct ratelimit *t = table(t0);
	struct ratelimit_addr a = addr("192.0.2.1"), b = addr("192.0.2.2");
	unsigned retry = 0;

	/* 60 a minute: a token a second; burst 3. */
	for (int i = 0; i < 3; i++)
		CHECK(ratelimit_take(t, &a, 60, 3, t0, &retry));
	CHECK(!ratelimit_take(t, &a, 60, 3, t0, &retry) && retry == 1);
	/* Refused requests take nothing: still one token due in a second. */
	CHECK(!ratelimit_take(t, &a, 60, 3, t0 + 999, &retry) && retry == 1);
	/* Another client has its own bucket. */
	CHECK(ratelimit_take(t, &b, 60, 3, t0, &retry));
	CHECK(ratelimit_take(t, &a, 60, 3, t0 + 1000, &retry));
	CHECK(!ratelimit_take(t, &a, 60, 3, t0 + 1000, &retry) && retry == 1);
	/* Idle long enough, the bucket is full again, and no fuller than burst. */
	for (int i = 0; i < 3; i++)
		CHECK(ratelimit_take(t, &a, 60, 3, t0 + 100000, &retry));
	CHECK(!ratelimit_take(t, &a, 60, 3, t0 + 100000, &retry));

	/* 2 a minute, burst 1: Retry-After is whole seconds, rounded up. */
	CHECK(ratelimit_take(t, &b, 2, 1, t0 + 500000, &retry));
	CHECK(!ratelimit_take(t, &b, 2, 1, t0 + 500000, &retry) && retry == 30);
	CHECK(!ratelimit_take(t, &b, 2, 1, t0 + 500000 + 29001, &retry) && retry == 1);
	CHECK(!ratelimit_take(t, &b, 2, 1, t0 + 500000 + 29999, &retry) && retry == 1);
	CHECK(ratelimit_take(t, &b, 2, 1, t0 + 530000, &retry));

	/* A steady client at exactly the rate is never refused; one faster is. */
	struct ratelimit_addr c = addr("198.51.100.7");
	int refused = 0;

	for (int i = 0; i < 600; i++)
		refused += !ratelimit_take(t, &c, 600, 1, t0 + 100 * i, &retry);
	CHECK(refused == 0);
	for (int i = 0; i < 600; i++)
		refused += !ratelimit_take(t, &c, 600, 1, t0 + 60000 + 50 * i, &retry);
	CHECKF(refused == 300, "%d", refused);

	/* Off: per_minute 0 never refuses. */
	for (int i = 0; i < 100; i++)
		CHECK(ratelimit_take(t, &a, 0, 1, t0, &retry));
	free(t);
}

static void test_addresses(void)
{
	int64_t now = 5000;
	struct ratelimit *t = table(now);
	struct ratelimit_addr v4 = addr("203.0.113.9"), mapped = addr("::ffff:203.0.113.9");
	struct ratelimit_addr six = addr("2001:db8:1:2::1"), same64 = addr("2001:db8:1:2:ffff::9");
	struct ratelimit_addr other64 = addr("2001:db8:1:3::1");
	unsigned retry;

	CHECK(v4.len == mapped.len && memcmp(v4.b, mapped.b, v4.len) == 0);
	CHECK(six.len == same64.len && memcmp(six.b, same64.b, six.len) == 0);
	CHECK(ratelimit_take(t, &v4, 1, 1, now, &retry));
	CHECK(!ratelimit_take(t, &mapped, 1, 1, now, &retry) && retry == 60);
	CHECK(ratelimit_take(t, &six, 1, 1, now, &retry));
	CHECK(!ratelimit_take(t, &same64, 1, 1, now, &retry));
	CHECK(ratelimit_take(t, &other64, 1, 1, now, &retry));

	struct sockaddr_storage un = {.ss_family = AF_UNIX};
	struct ratelimit_addr x;

	CHECK(!ratelimit_addr_of((struct sockaddr *)&un, sizeof(un), &x));
	free(t);
}

/*
 * A throttled client stays throttled while a flood of new addresses, many
 * times the table's size, passes by; and every flood request is let
 * through (the table makes room, it does not refuse newcomers).
 */
static void test_flood(void)
{
	int64_t now = 1;
	struct ratelimit *t = table(now);
	struct ratelimit_addr victim = addr("192.0.2.200"), a;
	unsigned retry, refused = 0, victim_ok = 0;
	char text[64];

	for (int i = 0; i < 5; i++)
		CHECK(ratelimit_take(t, &victim, 1, 5, now, &retry));
	CHECK(!ratelimit_take(t, &victim, 1, 5, now, &retry));
	for (unsigned i = 0; i < 8u * RATELIMIT_SETS * RATELIMIT_WAYS; i++) {
		snprintf(text, sizeof(text), "10.%u.%u.%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
		a = addr(text);
		refused += !ratelimit_take(t, &a, 1, 5, now + i / 1000, &retry);
		if (i % 997 == 0)
			victim_ok += ratelimit_take(t, &victim, 1, 5, now + i / 1000, &retry);
	}
	CHECK(refused == 0);
	CHECK(victim_ok == 0);
	/* Still the bucket it emptied: its next token is due a minute after it did. */
	CHECK(!ratelimit_take(t, &victim, 1, 5, now + 59000, &retry) && retry == 1);
	CHECK(ratelimit_take(t, &victim, 1, 5, now + 60000, &retry));

	/* Expired entries are free room: after a long idle nobody is refused. */
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "172.16.%u.%u", i >> 8, i & 0xff);
		a = addr(text);
		refused += !ratelimit_take(t, &a, 1, 5, now + 86400000, &retry);
	}
	CHECK(refused == 0);
	free(t);
}

/* Processes that share the table (as forked fronts do) share the buckets, exactly. */
static void test_shared(void)
{
	struct ratelimit *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct ratelimit_addr a = addr("192.0.2.50");
	int pipes[2], kids = 4, per = 500, st;
	unsigned total = 0, got, retry;
	pid_t pid;

	CHECK(t != MAP_FAILED);
	if (t == MAP_FAILED)
		return;
	ratelimit_init(t, test_key, 0);
	CHECK(pipe(pipes) == 0);
	for (int k = 0; k < kids; k++) {
		pid = fork();
		if (pid == 0) {
			unsigned ok = 0;

			/* One instant: exactly burst requests may pass, whoever makes them. */
			for (int i = 0; i < per; i++)
				ok += ratelimit_take(t, &a, 1, 777, 10, &retry);
			if (write(pipes[1], &ok, sizeof(ok)) != (ssize_t)sizeof(ok))
				_exit(1);
			_exit(0);
		}
		CHECK(pid > 0);
	}
	for (int k = 0; k < kids; k++) {
		CHECK(read(pipes[0], &got, sizeof(got)) == (ssize_t)sizeof(got));
		total += got;
	}
	while (wait(&st) > 0)
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECKF(total == 777, "%u", total);
	close(pipes[0]);
	close(pipes[1]);
	munmap(t, sizeof(*t));
}

int main(void)
{
	test_siphash();
	test_bucket();
	test_addresses();
	test_flood();
	test_shared();
	return check_done("ratelimit");
}
