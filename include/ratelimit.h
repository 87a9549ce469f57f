/*
 * Per-client-address rate limit (RATE_LIMIT_PER_MINUTE, RATE_LIMIT_BURST):
 * one token bucket per address, in a table every front shares, so that
 * the limit holds across slots.  The master creates the table (shared
 * anonymous memory) before it forks anything; each front inherits it.
 *
 * The table is a fixed set-associative cache of 64-bit words, each an
 * address tag and the bucket's state, updated with compare-and-swap only:
 * no lock, so no front can leave another waiting, not even by dying (or
 * being killed) in the middle of an update.
 *
 * A bucket is kept as the time its next token is due beyond a full
 * bucket (GCRA's "theoretical arrival time"): one number per address, no
 * refill step.  IPv4 addresses (IPv4-mapped ones too) are one client
 * each; IPv6 addresses count by their /64, what one host usually holds.
 */
#ifndef RUNBOXD_RATELIMIT_H
#define RUNBOXD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"

struct ratelimit {
	uint64_t key[2];  /* SipHash key, random per start: collisions cannot be aimed */
	int64_t epoch_ms; /* monotonic ms that times in the table count from */
	uint64_t word[RATELIMIT_SETS * RATELIMIT_WAYS]; /* 0 = empty, else tag << 40 | due */
};

/* What identifies a client: family byte and the bytes that count. */
struct ratelimit_addr {
	uint8_t len;
	uint8_t b[9];
};

/* SipHash-2-4 (Aumasson and Bernstein), exported for its test vectors. */
uint64_t ratelimit_siphash(const uint64_t key[2], const void *data, size_t len);

/* Empty table t with hash key and clock origin now_ms. */
void ratelimit_init(struct ratelimit *t, const uint64_t key[2], int64_t now_ms);

/*
 * The master's table: mapped shared, keyed from getrandom, before any
 * fork.  Returns 0, or -1 with errno (logged by the caller).
 */
int ratelimit_setup(void);

/* The one path RATE_LIMIT_PER_MINUTE does not count: health checkers poll it. */
#define RATELIMIT_EXEMPT_PATH "/health"

/* The table ratelimit_setup made (inherited by every child), or NULL. */
struct ratelimit *ratelimit_shared(void);

/* The client a peer address stands for; false for other families. */
bool ratelimit_addr_of(const struct sockaddr *sa, socklen_t len, struct ratelimit_addr *a);

/*
 * Take a token for client a at now_ms (monotonic), with per_minute tokens
 * a minute (>= 1) and at most burst (>= 1) saved.  Returns true if the
 * request may go on; false, with *retry_s the whole seconds (>= 1) until
 * a token is due, if not.  A refused request takes nothing.
 */
bool ratelimit_take(struct ratelimit *t, const struct ratelimit_addr *a, unsigned per_minute,
		    unsigned burst, int64_t now_ms, unsigned *retry_s);

#endif
