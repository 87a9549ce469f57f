/*
 * The shared rate-limit table (see ratelimit.h).  Each word holds a
 * 24-bit tag and a 40-bit time in ms from the table's epoch (34 years).
 * An address hashes (keyed SipHash) to one set of RATELIMIT_WAYS words;
 * the set index and the tag together are 34 bits of the hash, so two
 * clients share a bucket by chance once in 2^34 pairs, and not by design:
 * the key is random per start and never leaves the processes.
 *
 * Bucket math (GCRA): a token every T = 60000 / per_minute ms, at most
 * burst saved.  "due" is when the bucket would be full again; a request
 * at now is allowed if max(due, now) + T - now <= burst * T, and then
 * due becomes max(due, now) + T.  A refused request changes nothing.
 *
 * Eviction, when a new client finds its set full: a word whose due has
 * passed holds a full bucket, exactly what a new entry would be, so it
 * goes first; otherwise the word with the earliest due, the client with
 * the most tokens left, whose loss gives it least.  A throttled client
 * (due far ahead) is evicted only when every other client of its set is
 * throttled at least as long; a flood of new addresses enters with one
 * token spent, so it evicts itself first and cannot reset a throttled
 * client's bucket unless it first spends a burst on each of the
 * set's other ways, and it cannot tell which addresses share a set.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "io.h"
#include "ratelimit.h"

#define RL_DUE_BITS 40
#define RL_DUE_MASK ((UINT64_C(1) << RL_DUE_BITS) - 1)
#define RL_TAG_MASK ((UINT64_C(1) << (64 - RL_DUE_BITS)) - 1)
#define RL_MS_PER_MINUTE 60000
#define RL_IPV6_COUNTED 8 /* bytes of an IPv6 address that name a client: its /64 */

_Static_assert((RATELIMIT_SETS & (RATELIMIT_SETS - 1)) == 0, "RATELIMIT_SETS is a power of two");
_Static_assert((uint64_t)RATELIMIT_MAX_BURST * RL_MS_PER_MINUTE < RL_DUE_MASK / 2,
	       "a full bucket's span fits the due field");

static struct ratelimit *rl_shared;

static uint64_t rl_rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void rl_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rl_rotl(v[1], 13) ^ v[0];
	v[0] = rl_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rl_rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rl_rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rl_rotl(v[1], 17) ^ v[2];
	v[2] = rl_rotl(v[2], 32);
}

static void rl_sipblock(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	rl_sipround(v);
	rl_sipround(v);
	v[0] ^= m;
}

uint64_t ratelimit_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v[4] = {key[0] ^ UINT64_C(0x736f6d6570736575), key[1] ^ UINT64_C(0x646f72616e646f6d),
			 key[0] ^ UINT64_C(0x6c7967656e657261), key[1] ^ UINT64_C(0x7465646279746573)};
	uint64_t m;
	size_t i, left = len % 8;

	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (unsigned k = 0; k < 8; k++)
			m |= (uint64_t)p[i + k] << (8 * k);
		rl_sipblock(v, m);
	}
	m = (uint64_t)(len & 0xff) << 56;
	for (unsigned k = 0; k < left; k++)
		m |= (uint64_t)p[i + k] << (8 * k);
	rl_sipblock(v, m);
	v[2] ^= 0xff;
	for (unsigned k = 0; k < 4; k++)
		rl_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void ratelimit_init(struct ratelimit *t, const uint64_t key[2], int64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	t->key[0] = key[0];
	t->key[1] = key[1];
	/* Times count from 1, so that no live word is 0 (empty). */
	t->epoch_ms = now_ms - 1;
}

int ratelimit_setup(void)
{
	uint64_t key[2];
	void *p;

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return -1;
	p = mmap(NULL, sizeof(struct ratelimit), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* The fronts' clock (io_now_ms), which every process shares. */
	ratelimit_init(p, key, io_now_ms());
	explicit_bzero(key, sizeof(key));
	rl_shared = p;
	return 0;
}

struct ratelimit *ratelimit_shared(void)
{
	return rl_shared;
}

bool ratelimit_addr_of(const struct sockaddr *sa, socklen_t len, struct ratelimit_addr *a)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		a->b[0] = 4;
		memcpy(a->b + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		a->len = 5;
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const uint8_t *in6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

		if (memcmp(in6, v4mapped, sizeof(v4mapped)) == 0) {
			a->b[0] = 4;
			memcpy(a->b + 1, in6 + 12, 4);
			a->len = 5;
		} else {
			a->b[0] = 6;
			memcpy(a->b + 1, in6, RL_IPV6_COUNTED);
			a->len = 1 + RL_IPV6_COUNTED;
		}
		return true;
	}
	return false;
}

/* The way of word[base..] holding tag, or -1; *victim: where a newcomer would go. */
static int rl_find(const uint64_t *set, uint64_t tag, uint64_t now, int *victim, uint64_t *seen)
{
	uint64_t best = UINT64_MAX, due;
	int way;

	*victim = 0;
	for (way = 0; way < RATELIMIT_WAYS; way++) {
		seen[way] = __atomic_load_n(&set[way], __ATOMIC_ACQUIRE);
		if (seen[way] != 0 && seen[way] >> RL_DUE_BITS == tag)
			return way;
		/* Empty or full (due passed) is no loss at all; else the most tokens left. */
		due = seen[way] & RL_DUE_MASK;
		if (due <= now)
			due = 0;
		if (due < best) {
			best = due;
			*victim = way;
		}
	}
	return -1;
}

bool ratelimit_take(struct ratelimit *t, const struct ratelimit_addr *a, unsigned per_minute,
		    unsigned burst, int64_t now_ms, unsigned *retry_s)
{
	uint64_t h = ratelimit_siphash(t->key, a->b, a->len);
	uint64_t *set = &t->word[(h & (RATELIMIT_SETS - 1)) * RATELIMIT_WAYS];
	uint64_t tag = (h >> RL_DUE_BITS) & RL_TAG_MASK, seen[RATELIMIT_WAYS];
	uint64_t period, span, now, due, next;
	int way, victim;

	if (per_minute == 0 || burst == 0)
		return true;
	if (tag == 0)
		tag = 1; /* 0 is the empty word's */
	period = RL_MS_PER_MINUTE / per_minute;
	if (period == 0)
		period = 1;
	span = (uint64_t)burst * period;
	now = now_ms > t->epoch_ms ? (uint64_t)(now_ms - t->epoch_ms) : 1;
	for (unsigned attempt = 0; attempt < RATELIMIT_RETRIES; attempt++) {
		way = rl_find(set, tag, now, &victim, seen);
		if (way < 0) {
			/* A new client: a full bucket, less the token this request takes. */
			next = tag << RL_DUE_BITS | ((now + period) & RL_DUE_MASK);
			if (__atomic_compare_exchange_n(&set[victim], &seen[victim], next, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return true;
			continue;
		}
		due = seen[way] & RL_DUE_MASK;
		next = (due > now ? due : now) + period;
		if (next - now > span) {
			/* The next token is due when due - (burst - 1) * period is reached. */
			uint64_t wait = due - (span - period) - now;

			*retry_s = (unsigned)((wait + 999) / 1000);
			if (*retry_s == 0)
				*retry_s = 1;
			return false;
		}
		next = tag << RL_DUE_BITS | (next & RL_DUE_MASK);
		if (__atomic_compare_exchange_n(&set[way], &seen[way], next, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return true;
	}
	/* Only a table written under us this often (a compromised front) gets here: let it through. */
	return true;
}
