/*
 * Per-request limits: the optional "limits" object of a run request
 * ({"executionTime", "outputSize", "memory", "pids", "cpus"}), which may
 * only lower what the configuration allows.  The front parses it; the
 * agent checks the numbers again (it must not trust a front) and applies
 * them.  Parsers only: no I/O, never exits.
 */
#ifndef RUNBOXD_REQLIMITS_H
#define RUNBOXD_REQLIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * What a request asked for, in the units runboxd works in; 0 = not asked
 * (the configuration's value holds).  Fixed layout: it travels in struct
 * msg_ask.
 */
struct reqlimits {
	uint64_t time_ms;   /* executionTime, milliseconds (seconds in the request) */
	uint64_t output;    /* outputSize, bytes */
	uint64_t memory;    /* memory, bytes */
	uint64_t pids;      /* pids, processes */
	uint64_t nano_cpus; /* cpus, 1e-9 CPUs (decimal CPUs in the request) */
};

enum reqlimits_num {
	REQLIMITS_NUM_OK,
	REQLIMITS_NUM_INVALID, /* not a JSON number, or negative */
	REQLIMITS_NUM_PRECISE, /* more decimals than scale allows */
	REQLIMITS_NUM_RANGE,   /* over max */
};

/*
 * The JSON number p[0..len) times 10^scale, exactly, as an integer <= max
 * in *out (RFC 8259 syntax, exponents included: 1.5e3, 2000.0).
 */
enum reqlimits_num reqlimits_number(const char *p, size_t len, unsigned scale, uint64_t max,
				    uint64_t *out);

/*
 * Parse the value of "limits" (p[0..len), any JSON value from an already
 * validated body) into *l, checking each member against configuration c.
 * Returns 0, or -1 with a message naming the field in msg.
 */
int reqlimits_parse(const char *p, size_t len, const struct config *c, struct reqlimits *l,
		    char *msg, size_t msgsz);

/*
 * Is every asked value (non-zero) within what c allows?  Returns 0, or -1
 * with a message naming the first field that is not in msg.  The agent's
 * check of what a front sends.
 */
int reqlimits_check(const struct config *c, const struct reqlimits *l, char *msg, size_t msgsz);

/* The limits a run gets: what l asked for, else c's (l checked). */
void reqlimits_effective(const struct config *c, const struct reqlimits *l, struct reqlimits *eff);

/*
 * Does eff give the container other settings than c (memory, pids, cpus)?
 * Then a container made under c (a warm one) will not do.
 */
bool reqlimits_container_differs(const struct config *c, const struct reqlimits *eff);

/* Put eff's container settings into run, a copy of the configuration. */
void reqlimits_apply(struct config *run, const struct reqlimits *eff);

#endif
