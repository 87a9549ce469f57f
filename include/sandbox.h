/*
 * Privilege drop and seccomp allowlists of the fronts and the agents
 * (STYLE.md §8, §9).  The master resolves the users and prepares the
 * front's empty root at configuration time; each child drops in one call.
 */
#ifndef RUNBOXD_SANDBOX_H
#define RUNBOXD_SANDBOX_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

enum sandbox_role { SANDBOX_FRONT, SANDBOX_AGENT, SANDBOX_READER };

/*
 * Fill c->front_ids and c->agent_ids from SERVER_FRONT_USER and
 * SERVER_AGENT_USER (ids change only when running as root) and check
 * SERVER_FRONT_CHROOT: root-owned, not writable by others, empty; with
 * create, a missing one is made (0555).  -1 with a message in err.
 */
int sandbox_prepare(struct config *c, bool create, char *err, size_t errsz);

/*
 * Become a sandboxed front or agent: every fd but 0-2 and keep[] closed,
 * parent-death signal, chroot (front), ids, check they cannot be regained,
 * rlimits, not dumpable, no-new-privs, the role's seccomp filter.  keep[]
 * entries < 0 are ignored.  Any failure exits with status 2.
 */
void sandbox_drop_front(const struct config *c, const int *keep, size_t nkeep);
void sandbox_drop_agent(const struct config *c, const int *keep, size_t nkeep);
/* The reader: a front's user, root and rights, plus its own calls and nofile fds. */
void sandbox_drop_reader(const struct config *c, unsigned nofile, const int *keep, size_t nkeep);

/*
 * A role's filter as it is loaded into process self (the only pid it may
 * signal); debug: trap instead of kill.  NULL on error.
 */
scmp_filter_ctx sandbox_filter(enum sandbox_role role, bool debug, pid_t self);

/* Rules in the role's table and BPF instructions of its filter; -1 on error. */
int sandbox_filter_size(enum sandbox_role role, unsigned *rules, unsigned *insns);

/* runboxd -t: each role's user, group, groups, root and filter size. */
void sandbox_print(const struct config *c, FILE *out);

#endif
