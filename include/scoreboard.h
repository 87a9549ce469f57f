/*
 * The scoreboard: one shared memory region the master maps before it forks
 * (MAP_SHARED | MAP_ANONYMOUS), so every front, agent and janitor it forks
 * writes the same pages.  Fixed layout, fixed size, no pointers inside.
 * Each slot writes its own row; the master writes the slots' up/down state
 * and the respawn counts.  Counters are only ever added to with __atomic
 * builtins: no lock, no message, no system call on the hot path, and a
 * counter outlives the processes that add to it.  Label values come from
 * the fixed tables in scoreboard.c, so no client can add a series.
 *
 * The region is writable by every process of the server, a front included:
 * what it says is for operators (GET /health, GET /metrics) and decides
 * nothing.  See SECURITY.md.
 */
#ifndef RUNBOXD_SCOREBOARD_H
#define RUNBOXD_SCOREBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* A slot's process or the reader, as runboxd_respawns_total{role} names it. */
enum scoreboard_role { SB_ROLE_FRONT, SB_ROLE_AGENT, SB_ROLE_READER, SB_ROLES };

/* Why a slot's process ended unasked (runboxd_respawns_total{cause}). */
enum scoreboard_cause {
	SB_CAUSE_CRASH,   /* exited with a status other than 0 and 2 */
	SB_CAUSE_SIGNAL,  /* killed by a signal other than SIGSYS */
	SB_CAUSE_SANDBOX, /* killed by SIGSYS: a sandbox violation */
	SB_CAUSE_CONFIG,  /* exited with 2: fatal configuration or sandbox error, not respawned */
	SB_CAUSES
};

/* Why an agent or a janitor removed a container (runboxd_containers_removed_total{reason}). */
enum scoreboard_removal {
	SB_RM_AFTER_RUN, /* the run is over */
	SB_RM_EXPIRED,   /* the front did not end its run in time */
	SB_RM_FAILED,    /* create, attach or start failed after create */
	SB_RM_WARM,      /* a warm container that died, or went with its agent */
	SB_RM_SWEEP,     /* left by the slot's earlier processes, swept by its agent */
	SB_RM_JANITOR,   /* left by a slot or a master, swept by the master's janitor */
	SB_REMOVALS
};

enum scoreboard_path { SB_PATH_COLD, SB_PATH_WARM, SB_PATHS };

/* Sizes of the label tables in scoreboard.c (checked there). */
#define SB_ROUTES 9        /* known paths, and "other" */
#define SB_STATUSES 24     /* answered statuses, and "other" */
#define SB_OUTCOMES 36     /* "ok", every error code a run may end with, and "other" */
#define SB_BUCKETS 12      /* run duration buckets, the last +Inf */

/* One slot's counters.  Its processes add; nobody subtracts. */
struct scoreboard_row {
	uint32_t up;     /* master: front and agent both running */
	uint32_t busy;   /* front: serving a connection */
	uint32_t warm;   /* agent: the run it just handed its front took a warm container */
	uint64_t requests[SB_ROUTES][SB_STATUSES];
	uint64_t runs[SB_OUTCOMES];
	uint64_t duration[SB_PATHS][SB_BUCKETS]; /* per bucket, not cumulative */
	uint64_t duration_us[SB_PATHS];          /* sum */
	uint64_t warm_hit, warm_miss;
	uint64_t removed[SB_REMOVALS];
	uint64_t late_runs, late_bytes; /* runs whose output went on after the reply, and those bytes */
} __attribute__((aligned(64)));

struct scoreboard {
	uint32_t nslots;    /* master: SERVER_WORKER_THREADS now */
	uint32_t rows_used; /* master: the most slots ever configured; their rows are summed */
	uint64_t respawns[SB_ROLES][SB_CAUSES];          /* master */
	uint64_t janitor_removed __attribute__((aligned(64))); /* the janitor child */
	struct scoreboard_row row[SCOREBOARD_ROWS];
	struct scoreboard_row reader; /* the answers the reader gives itself: summed with the slots' */
};

/* The slot argument with which the reader counts its own answers. */
#define SCOREBOARD_READER UINT32_MAX

/* The master, before it forks anything: map the region.  0, or -1 logged. */
int scoreboard_create(void);

/* Use sb (zeroed, sizeof(struct scoreboard)) as the region: unit tests. */
void scoreboard_use(struct scoreboard *sb);

/* Master. */
void scoreboard_set_slots(unsigned n);
void scoreboard_slot_up(unsigned slot, bool up);
void scoreboard_respawn(enum scoreboard_role role, enum scoreboard_cause cause);

/* Front (and the reader, slot SCOREBOARD_READER: requests and runs). */
void scoreboard_busy(unsigned slot, bool busy);
void scoreboard_request(unsigned slot, const char *path, int status);
int scoreboard_outcome(const char *code, size_t len); /* an index for scoreboard_run; unknown: "other" */
/* Does this request count as a run (runboxd_runs_total): POST /run, /execute or /compile? */
bool scoreboard_is_run(const char *method, size_t mlen, const char *path, size_t plen);
void scoreboard_run(unsigned slot, int status, int outcome);
bool scoreboard_took_warm(unsigned slot);
void scoreboard_duration(unsigned slot, bool warm, int64_t ms);
void scoreboard_late_output(unsigned slot, uint64_t bytes);

/* Agent and janitor (slot < 0). */
void scoreboard_warm(unsigned slot, bool hit);
void scoreboard_removed(int slot, enum scoreboard_removal why);

/* Slots up and serving, up and idle, down, of the configured ones. */
void scoreboard_slots(const struct scoreboard *sb, unsigned *busy, unsigned *idle, unsigned *down);

/* The region in use, NULL before scoreboard_create or scoreboard_use. */
const struct scoreboard *scoreboard_get(void);

/*
 * Prometheus text exposition (format 0.0.4) of sb into out (outsz bytes).
 * Pure: reads sb, writes out.  Returns the length, or -1 if it does not fit.
 */
int scoreboard_render(const struct scoreboard *sb, char *out, size_t outsz);

#endif
