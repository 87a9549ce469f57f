/*
 * The scoreboard (see scoreboard.h): counters in shared memory, added to
 * with relaxed atomics by the process that owns the row, and rendered as
 * Prometheus text by whichever front is asked for GET /metrics.
 *
 * Sandbox: nothing here makes a system call once the region is mapped.
 * The master maps it before it forks; fronts, agents and janitors inherit
 * the mapping and only load and store (lock-prefixed instructions on
 * x86-64, LL/SC on arm64), so no seccomp table needs a new call.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "scoreboard.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct scoreboard *sb;

/* Label values: fixed here, never taken from a request. */
static const char *const route_names[SB_ROUTES] = {
	"/", "/version", "/run", "/health", "/metrics", "/execute", "/compile", "/openapi.json", "other",
};

static const int status_codes[SB_STATUSES - 1] = {
	200, 204, 400, 401, 403, 404, 405, 408, 411, 413, 414, 415,
	417, 422, 429, 431, 499, 500, 501, 502, 503, 504, 505,
};

#define SB_OUTCOME_OK 0
#define SB_OUTCOME_CLIENT_GONE (SB_OUTCOMES - 2)
#define SB_OUTCOME_OTHER (SB_OUTCOMES - 1)

/*
 * "ok", every code README's error tables list that a request routed to
 * POST /run, /execute or /compile can end with (what is refused before
 * the route is known is not a run), then these two.  test_metrics holds
 * the tables and this list to each other.
 */
static const char *const outcome_names[SB_OUTCOMES] = {
	"ok",
	"access_token",
	"docker.unixsocket",
	"docker.container.create",
	"docker.container.start",
	"docker.container.attach",
	"docker.container.stream.read",
	"limits.execution_time",
	"limits.read.size",
	"limits.memory",
	"coderunner.stdin",
	"coderunner.stderr",
	"coderunner.stdout.decode",
	"request.malformed",
	"request.json",
	"request.image",
	"request.payload",
	"request.timeout",
	"request.length",
	"request.size",
	"request.content_type",
	"request.content_encoding",
	"request.headers",
	"image.not_allowed",
	"agent.unavailable",
	"limits.pids",
	"request.limits",
	"request.query",
	"request.script",
	"request.stdin",
	"request.code",
	"docker.pull",
	"docker.container.prepare",
	"server.busy",
	"client_gone", /* 499: the client left before its answer; there is no code */
	"other",
};

/* Upper bounds of the duration buckets: ms, and as Prometheus reads them. */
static const int64_t bucket_ms[SB_BUCKETS - 1] = {
	25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
};
static const char *const bucket_le[SB_BUCKETS] = {
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf",
};

static const char *const path_names[SB_PATHS] = {"cold", "warm"};
static const char *const role_names[SB_ROLES] = {"front", "agent", "reader"};
static const char *const cause_names[SB_CAUSES] = {"crash", "signal", "sandbox", "config"};
static const char *const removal_names[SB_REMOVALS] = {
	"after_run", "expired", "failed", "warm", "sweep", "janitor",
};

_Static_assert(ARRAY_SIZE(route_names) == SB_ROUTES, "route labels");
_Static_assert(ARRAY_SIZE(outcome_names) == SB_OUTCOMES, "outcome labels");
_Static_assert(ARRAY_SIZE(bucket_le) == SB_BUCKETS, "bucket labels");
_Static_assert(ARRAY_SIZE(cause_names) == SB_CAUSES, "cause labels");
_Static_assert(ARRAY_SIZE(removal_names) == SB_REMOVALS, "removal labels");

static void sb_add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t sb_load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static struct scoreboard_row *sb_row(unsigned slot)
{
	if (sb != NULL && slot == SCOREBOARD_READER)
		return &sb->reader;
	return sb != NULL && slot < SCOREBOARD_ROWS ? &sb->row[slot] : NULL;
}

int scoreboard_create(void)
{
	void *p = mmap(NULL, sizeof(struct scoreboard), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		log_error("%s: mmap(%zu bytes, MAP_SHARED|MAP_ANONYMOUS)", __func__,
			  sizeof(struct scoreboard));
		return -1;
	}
	sb = p; /* anonymous pages come zeroed: every counter starts at 0 */
	return 0;
}

void scoreboard_use(struct scoreboard *p)
{
	sb = p;
}

const struct scoreboard *scoreboard_get(void)
{
	return sb;
}

/* ---- master ---- */

void scoreboard_set_slots(unsigned n)
{
	if (sb == NULL)
		return;
	n = n < SCOREBOARD_ROWS ? n : SCOREBOARD_ROWS;
	__atomic_store_n(&sb->nslots, n, __ATOMIC_RELAXED);
	if (n > __atomic_load_n(&sb->rows_used, __ATOMIC_RELAXED))
		__atomic_store_n(&sb->rows_used, n, __ATOMIC_RELAXED);
}

void scoreboard_slot_up(unsigned slot, bool up)
{
	struct scoreboard_row *r = sb_row(slot);

	if (r == NULL)
		return;
	/* A new pair starts idle, whatever its dead front last said. */
	if (up)
		__atomic_store_n(&r->busy, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->up, up, __ATOMIC_RELAXED);
}

void scoreboard_respawn(enum scoreboard_role role, enum scoreboard_cause cause)
{
	if (sb != NULL && role < SB_ROLES && cause < SB_CAUSES)
		sb_add(&sb->respawns[role][cause], 1);
}

/* ---- front ---- */

void scoreboard_busy(unsigned slot, bool busy)
{
	struct scoreboard_row *r = sb_row(slot);

	if (r != NULL)
		__atomic_store_n(&r->busy, busy, __ATOMIC_RELAXED);
}

static unsigned sb_route_index(const char *path)
{
	for (unsigned i = 0; i < SB_ROUTES - 1; i++)
		if (strcmp(route_names[i], path) == 0)
			return i;
	return SB_ROUTES - 1;
}

static unsigned sb_status_index(int status)
{
	for (unsigned i = 0; i < ARRAY_SIZE(status_codes); i++)
		if (status_codes[i] == status)
			return i;
	return SB_STATUSES - 1;
}

void scoreboard_request(unsigned slot, const char *path, int status)
{
	struct scoreboard_row *r = sb_row(slot);

	if (r != NULL)
		sb_add(&r->requests[sb_route_index(path)][sb_status_index(status)], 1);
}

int scoreboard_outcome(const char *code, size_t len)
{
	/* "ok" and the two without a code are never an answer's code. */
	for (int i = 1; i < SB_OUTCOME_CLIENT_GONE; i++)
		if (strlen(outcome_names[i]) == len && memcmp(outcome_names[i], code, len) == 0)
			return i;
	return SB_OUTCOME_OTHER;
}

bool scoreboard_is_run(const char *method, size_t mlen, const char *path, size_t plen)
{
	static const char *const runs[] = {"/run", "/execute", "/compile"};

	if (mlen != 4 || memcmp(method, "POST", 4) != 0)
		return false;
	for (unsigned i = 0; i < ARRAY_SIZE(runs); i++)
		if (strlen(runs[i]) == plen && memcmp(runs[i], path, plen) == 0)
			return true;
	return false;
}

void scoreboard_run(unsigned slot, int status, int outcome)
{
	struct scoreboard_row *r = sb_row(slot);
	int i = SB_OUTCOME_OTHER;

	if (r == NULL)
		return;
	if (status == 200)
		i = SB_OUTCOME_OK;
	else if (outcome > SB_OUTCOME_OK && outcome < SB_OUTCOMES)
		i = outcome;
	else if (status == 499)
		i = SB_OUTCOME_CLIENT_GONE;
	sb_add(&r->runs[i], 1);
}

/* The agent stored the flag before it sent the stream; the message orders the two. */
bool scoreboard_took_warm(unsigned slot)
{
	struct scoreboard_row *r = sb_row(slot);

	return r != NULL && __atomic_load_n(&r->warm, __ATOMIC_ACQUIRE) != 0;
}

void scoreboard_duration(unsigned slot, bool warm, int64_t ms)
{
	struct scoreboard_row *r = sb_row(slot);
	unsigned b = 0, p = warm ? SB_PATH_WARM : SB_PATH_COLD;

	if (r == NULL)
		return;
	ms = ms < 0 ? 0 : ms;
	while (b < ARRAY_SIZE(bucket_ms) && ms > bucket_ms[b])
		b++;
	sb_add(&r->duration[p][b], 1);
	sb_add(&r->duration_us[p], (uint64_t)ms * 1000);
}

void scoreboard_late_output(unsigned slot, uint64_t bytes)
{
	struct scoreboard_row *r = sb_row(slot);

	if (r == NULL)
		return;
	sb_add(&r->late_runs, 1);
	sb_add(&r->late_bytes, bytes);
}

/* ---- agent, janitor ---- */

void scoreboard_warm(unsigned slot, bool hit)
{
	struct scoreboard_row *r = sb_row(slot);

	if (r == NULL)
		return;
	sb_add(hit ? &r->warm_hit : &r->warm_miss, 1);
	__atomic_store_n(&r->warm, hit, __ATOMIC_RELEASE);
}

void scoreboard_removed(int slot, enum scoreboard_removal why)
{
	struct scoreboard_row *r;

	if (sb == NULL || why >= SB_REMOVALS)
		return;
	if (slot < 0) {
		sb_add(&sb->janitor_removed, 1);
		return;
	}
	r = sb_row((unsigned)slot);
	if (r != NULL)
		sb_add(&r->removed[why], 1);
}

/* ---- reading ---- */

/* Bounds written by other processes are clamped: any of them may be wrong. */
static unsigned sb_rows(const struct scoreboard *s)
{
	unsigned n = __atomic_load_n(&s->rows_used, __ATOMIC_RELAXED);

	return n < SCOREBOARD_ROWS ? n : SCOREBOARD_ROWS;
}

void scoreboard_slots(const struct scoreboard *s, unsigned *busy, unsigned *idle, unsigned *down)
{
	unsigned n = __atomic_load_n(&s->nslots, __ATOMIC_RELAXED);

	*busy = *idle = *down = 0;
	n = n < SCOREBOARD_ROWS ? n : SCOREBOARD_ROWS;
	for (unsigned i = 0; i < n; i++) {
		const struct scoreboard_row *r = &s->row[i];

		if (!__atomic_load_n(&r->up, __ATOMIC_RELAXED))
			(*down)++;
		else if (__atomic_load_n(&r->busy, __ATOMIC_RELAXED))
			(*busy)++;
		else
			(*idle)++;
	}
}

/* The sum over every row of the counter at the same offset as c in row 0. */
static uint64_t sb_sum(const struct scoreboard *s, const uint64_t *c)
{
	size_t off = (size_t)((const char *)c - (const char *)&s->row[0]);
	unsigned n = sb_rows(s);
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v += sb_load((const uint64_t *)(const void *)((const char *)&s->row[i] + off));
	return v + sb_load((const uint64_t *)(const void *)((const char *)&s->reader + off));
}

struct sb_out {
	char *p;
	size_t len, cap;
	bool overflow;
};

__attribute__((format(printf, 2, 3))) static void sb_put(struct sb_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
}

static void sb_head(struct sb_out *o, const char *name, const char *type, const char *help)
{
	sb_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sb_render_runs(const struct scoreboard *s, struct sb_out *o)
{
	const struct scoreboard_row *r0 = &s->row[0];

	sb_head(o, "runboxd_runs_total", "counter",
		"Runs (POST /run, /execute, /compile routed) by outcome: ok, the error code answered, client_gone or other.");
	for (unsigned i = 0; i < SB_OUTCOMES; i++)
		sb_put(o, "runboxd_runs_total{outcome=\"%s\"} %llu\n", outcome_names[i],
		       (unsigned long long)sb_sum(s, &r0->runs[i]));

	sb_head(o, "runboxd_run_duration_seconds", "histogram",
		"Time from asking the agent for a run to its answer, by whether the run took a warm container.");
	for (unsigned p = 0; p < SB_PATHS; p++) {
		uint64_t cum = 0, us = sb_sum(s, &r0->duration_us[p]);

		for (unsigned b = 0; b < SB_BUCKETS; b++) {
			cum += sb_sum(s, &r0->duration[p][b]);
			sb_put(o, "runboxd_run_duration_seconds_bucket{path=\"%s\",le=\"%s\"} %llu\n",
			       path_names[p], bucket_le[b], (unsigned long long)cum);
		}
		sb_put(o, "runboxd_run_duration_seconds_sum{path=\"%s\"} %llu.%06llu\n", path_names[p],
		       (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
		sb_put(o, "runboxd_run_duration_seconds_count{path=\"%s\"} %llu\n", path_names[p],
		       (unsigned long long)cum);
	}

	sb_head(o, "runboxd_warm_total", "counter",
		"Runs that took a warm container (hit) or were created and started for the request (miss).");
	sb_put(o, "runboxd_warm_total{result=\"hit\"} %llu\n",
	       (unsigned long long)sb_sum(s, &r0->warm_hit));
	sb_put(o, "runboxd_warm_total{result=\"miss\"} %llu\n",
	       (unsigned long long)sb_sum(s, &r0->warm_miss));

	sb_head(o, "runboxd_output_after_reply_runs_total", "counter",
		"Runs whose runner wrote more after its reply had been answered (logged, not answered).");
	sb_put(o, "runboxd_output_after_reply_runs_total %llu\n",
	       (unsigned long long)sb_sum(s, &r0->late_runs));
	sb_head(o, "runboxd_output_after_reply_bytes_total", "counter",
		"Bytes those runs wrote after the reply: stdout other than white space, and stderr kept.");
	sb_put(o, "runboxd_output_after_reply_bytes_total %llu\n",
	       (unsigned long long)sb_sum(s, &r0->late_bytes));
}

static void sb_render_requests(const struct scoreboard *s, struct sb_out *o)
{
	const struct scoreboard_row *r0 = &s->row[0];

	sb_head(o, "runboxd_http_requests_total", "counter",
		"Answered requests by route (other: any unknown path) and status; series seen so far.");
	for (unsigned i = 0; i < SB_ROUTES; i++)
		for (unsigned k = 0; k < SB_STATUSES; k++) {
			uint64_t v = sb_sum(s, &r0->requests[i][k]);

			if (v == 0)
				continue;
			if (k < ARRAY_SIZE(status_codes))
				sb_put(o, "runboxd_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
				       route_names[i], status_codes[k], (unsigned long long)v);
			else
				sb_put(o, "runboxd_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
				       route_names[i], (unsigned long long)v);
		}
}

static void sb_render_processes(const struct scoreboard *s, struct sb_out *o)
{
	const struct scoreboard_row *r0 = &s->row[0];
	unsigned busy, idle, down;

	scoreboard_slots(s, &busy, &idle, &down);
	sb_head(o, "runboxd_slots", "gauge", "Configured slots serving a connection, idle, or down.");
	sb_put(o, "runboxd_slots{state=\"busy\"} %u\nrunboxd_slots{state=\"idle\"} %u\n"
		  "runboxd_slots{state=\"down\"} %u\n", busy, idle, down);

	sb_head(o, "runboxd_respawns_total", "counter",
		"Slot processes and the reader that ended unasked, by role and cause (sandbox: killed by SIGSYS; "
		"config: exit status 2, not respawned).");
	for (unsigned r = 0; r < SB_ROLES; r++)
		for (unsigned c = 0; c < SB_CAUSES; c++)
			sb_put(o, "runboxd_respawns_total{role=\"%s\",cause=\"%s\"} %llu\n", role_names[r],
			       cause_names[c], (unsigned long long)sb_load(&s->respawns[r][c]));

	sb_head(o, "runboxd_containers_removed_total", "counter", "Containers removed, by reason.");
	for (unsigned k = 0; k < SB_REMOVALS; k++) {
		uint64_t v = k == SB_RM_JANITOR ? sb_load(&s->janitor_removed)
						: sb_sum(s, &r0->removed[k]);

		sb_put(o, "runboxd_containers_removed_total{reason=\"%s\"} %llu\n", removal_names[k],
		       (unsigned long long)v);
	}
}

int scoreboard_render(const struct scoreboard *s, char *out, size_t outsz)
{
	struct sb_out o = {.p = out, .len = 0, .cap = outsz, .overflow = outsz == 0};

	sb_render_runs(s, &o);
	sb_render_requests(s, &o);
	sb_render_processes(s, &o);
	if (o.overflow) {
		errno = ENOBUFS;
		return -1;
	}
	return (int)o.len;
}
