/*
 * Image pulls, one per image at a time across all agents.  Agents are
 * separate processes, so the master maps a small table (shared, anonymous)
 * before it forks any; an agent that finds an image missing either claims
 * the image's entry and pulls, or finds another agent pulling it and waits
 * for that pull's end.  No locks: one compare-and-swap claims an entry.
 */
#ifndef RUNBOXD_PULL_H
#define RUNBOXD_PULL_H

#include <stdint.h>

#include "config.h"
#include "docker.h"

/* The master, before forking: map the table.  -1 (errno) on failure. */
int pull_table_create(void);

/* A process that never pulls (a front) drops its view of the table. */
void pull_table_forget(void);

enum pull_role {
	PULL_MINE,  /* pull, then pull_release */
	PULL_WAIT,  /* another agent pulls it: pull_wait */
	PULL_ALONE, /* no table, or the image's entry is busy with another image: just pull */
};

struct pull_ticket {
	unsigned idx;
	uint64_t key;
	uint32_t seq; /* the entry's seq when we looked */
};

/* Longest a pull may take under c: every attempt, its backoff, and slack. */
int64_t pull_budget_ms(const struct config *c);

/* Claim image's entry, or learn who pulls it; budget_ms bounds our pull. */
enum pull_role pull_claim(const char *image, int64_t budget_ms, struct pull_ticket *t);

/* Our pull ended with rc (and err when it failed): wake the waiters. */
void pull_release(const struct pull_ticket *t, const char *image, int rc,
		  const struct docker_error *err);

/*
 * Wait (at most max_ms) until the pull t names ends.  0: it ended, with
 * *rc and, if it failed, err (the puller's message, when the entry still
 * names image).  -1: it did not end in time (the puller died or hangs).
 */
int pull_wait(const struct pull_ticket *t, const char *image, int64_t max_ms, int *rc,
	      struct docker_error *err);

#endif
