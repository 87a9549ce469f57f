/*
 * The scoreboard: the exact exposition text for a known state, every
 * truncation of the output buffer refused, the worst case within
 * SCOREBOARD_TEXT_MAX, label values only from the fixed tables, and
 * bounds another process may have corrupted clamped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "scoreboard.h"

/* The state the master, two slots and a janitor leave after a few requests. */
static void known_state(void)
{
	scoreboard_set_slots(3);
	scoreboard_slot_up(0, true);
	scoreboard_slot_up(1, true);
	scoreboard_busy(1, true);
	scoreboard_request(0, "/run", 200);
	scoreboard_request(1, "/run", 200);
	scoreboard_request(1, "/nope", 404);
	scoreboard_request(0, "/metrics", 299);
	scoreboard_run(0, 200, -1);
	scoreboard_run(1, 200, -1);
	scoreboard_run(1, 400, scoreboard_outcome("limits.execution_time", 21));
	scoreboard_run(0, 400, scoreboard_outcome("limits.pids", 11));
	scoreboard_run(1, 400, scoreboard_outcome("no.such.code", 12));
	scoreboard_run(0, 499, -1);
	scoreboard_duration(0, false, 20);
	scoreboard_duration(1, true, 25);   /* le is inclusive: 0.025 */
	scoreboard_duration(1, true, 1234);
	scoreboard_warm(0, false);
	scoreboard_warm(1, true);
	scoreboard_removed(0, SB_RM_AFTER_RUN);
	scoreboard_removed(-1, SB_RM_JANITOR);
	scoreboard_respawn(SB_ROLE_FRONT, SB_CAUSE_SIGNAL);
	scoreboard_late_output(1, 7);
}

static void test_is_run(void)
{
	CHECK(scoreboard_is_run("POST", 4, "/run", 4));
	CHECK(scoreboard_is_run("POST", 4, "/execute", 8));
	CHECK(scoreboard_is_run("POST", 4, "/compile", 8));
	CHECK(!scoreboard_is_run("GET", 3, "/run", 4));
	CHECK(!scoreboard_is_run("post", 4, "/run", 4));
	CHECK(!scoreboard_is_run("POST", 4, "/runs", 5));
	CHECK(!scoreboard_is_run("POST", 4, "/ru", 3));
	CHECK(!scoreboard_is_run("POST", 4, "/version", 8));
	CHECK(!scoreboard_is_run("POST", 4, "/", 1));
}

static const char expected[] =
    "# HELP runboxd_runs_total Runs (POST /run, /execute, /compile routed) by outcome: ok, the error code answered, client_gone or other.\n"
    "# TYPE runboxd_runs_total counter\n"
    "runboxd_runs_total{outcome=\"ok\"} 2\n"
    "runboxd_runs_total{outcome=\"access_token\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.unixsocket\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.container.create\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.container.start\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.container.attach\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.container.stream.read\"} 0\n"
    "runboxd_runs_total{outcome=\"limits.execution_time\"} 1\n"
    "runboxd_runs_total{outcome=\"limits.read.size\"} 0\n"
    "runboxd_runs_total{outcome=\"limits.memory\"} 0\n"
    "runboxd_runs_total{outcome=\"coderunner.stdin\"} 0\n"
    "runboxd_runs_total{outcome=\"coderunner.stderr\"} 0\n"
    "runboxd_runs_total{outcome=\"coderunner.stdout.decode\"} 0\n"
    "runboxd_runs_total{outcome=\"request.malformed\"} 0\n"
    "runboxd_runs_total{outcome=\"request.json\"} 0\n"
    "runboxd_runs_total{outcome=\"request.image\"} 0\n"
    "runboxd_runs_total{outcome=\"request.payload\"} 0\n"
    "runboxd_runs_total{outcome=\"request.timeout\"} 0\n"
    "runboxd_runs_total{outcome=\"request.length\"} 0\n"
    "runboxd_runs_total{outcome=\"request.size\"} 0\n"
    "runboxd_runs_total{outcome=\"request.content_type\"} 0\n"
    "runboxd_runs_total{outcome=\"request.content_encoding\"} 0\n"
    "runboxd_runs_total{outcome=\"request.headers\"} 0\n"
    "runboxd_runs_total{outcome=\"image.not_allowed\"} 0\n"
    "runboxd_runs_total{outcome=\"agent.unavailable\"} 0\n"
    "runboxd_runs_total{outcome=\"limits.pids\"} 1\n"
    "runboxd_runs_total{outcome=\"request.limits\"} 0\n"
    "runboxd_runs_total{outcome=\"request.query\"} 0\n"
    "runboxd_runs_total{outcome=\"request.script\"} 0\n"
    "runboxd_runs_total{outcome=\"request.stdin\"} 0\n"
    "runboxd_runs_total{outcome=\"request.code\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.pull\"} 0\n"
    "runboxd_runs_total{outcome=\"docker.container.prepare\"} 0\n"
    "runboxd_runs_total{outcome=\"server.busy\"} 0\n"
    "runboxd_runs_total{outcome=\"client_gone\"} 1\n"
    "runboxd_runs_total{outcome=\"other\"} 1\n"
    "# HELP runboxd_run_duration_seconds Time from asking the agent for a run to its answer, by whether the run took a warm container.\n"
    "# TYPE runboxd_run_duration_seconds histogram\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"0.025\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"0.05\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"0.1\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"0.25\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"0.5\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"1\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"2.5\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"5\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"10\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"30\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"60\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"cold\",le=\"+Inf\"} 1\n"
    "runboxd_run_duration_seconds_sum{path=\"cold\"} 0.020000\n"
    "runboxd_run_duration_seconds_count{path=\"cold\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"0.025\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"0.05\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"0.1\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"0.25\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"0.5\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"1\"} 1\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"2.5\"} 2\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"5\"} 2\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"10\"} 2\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"30\"} 2\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"60\"} 2\n"
    "runboxd_run_duration_seconds_bucket{path=\"warm\",le=\"+Inf\"} 2\n"
    "runboxd_run_duration_seconds_sum{path=\"warm\"} 1.259000\n"
    "runboxd_run_duration_seconds_count{path=\"warm\"} 2\n"
    "# HELP runboxd_warm_total Runs that took a warm container (hit) or were created and started for the request (miss).\n"
    "# TYPE runboxd_warm_total counter\n"
    "runboxd_warm_total{result=\"hit\"} 1\n"
    "runboxd_warm_total{result=\"miss\"} 1\n"
    "# HELP runboxd_output_after_reply_runs_total Runs whose runner wrote more after its reply had been answered (logged, not answered).\n"
    "# TYPE runboxd_output_after_reply_runs_total counter\n"
    "runboxd_output_after_reply_runs_total 1\n"
    "# HELP runboxd_output_after_reply_bytes_total Bytes those runs wrote after the reply: stdout other than white space, and stderr kept.\n"
    "# TYPE runboxd_output_after_reply_bytes_total counter\n"
    "runboxd_output_after_reply_bytes_total 7\n"
    "# HELP runboxd_http_requests_total Answered requests by route (other: any unknown path) and status; series seen so far.\n"
    "# TYPE runboxd_http_requests_total counter\n"
    "runboxd_http_requests_total{route=\"/run\",status=\"200\"} 2\n"
    "runboxd_http_requests_total{route=\"/metrics\",status=\"other\"} 1\n"
    "runboxd_http_requests_total{route=\"other\",status=\"404\"} 1\n"
    "# HELP runboxd_slots Configured slots serving a connection, idle, or down.\n"
    "# TYPE runboxd_slots gauge\n"
    "runboxd_slots{state=\"busy\"} 1\n"
    "runboxd_slots{state=\"idle\"} 1\n"
    "runboxd_slots{state=\"down\"} 1\n"
    "# HELP runboxd_respawns_total Slot processes and the reader that ended unasked, by role and cause (sandbox: killed by SIGSYS; config: exit status 2, not respawned).\n"
    "# TYPE runboxd_respawns_total counter\n"
    "runboxd_respawns_total{role=\"front\",cause=\"crash\"} 0\n"
    "runboxd_respawns_total{role=\"front\",cause=\"signal\"} 1\n"
    "runboxd_respawns_total{role=\"front\",cause=\"sandbox\"} 0\n"
    "runboxd_respawns_total{role=\"front\",cause=\"config\"} 0\n"
    "runboxd_respawns_total{role=\"agent\",cause=\"crash\"} 0\n"
    "runboxd_respawns_total{role=\"agent\",cause=\"signal\"} 0\n"
    "runboxd_respawns_total{role=\"agent\",cause=\"sandbox\"} 0\n"
    "runboxd_respawns_total{role=\"agent\",cause=\"config\"} 0\n"
    "runboxd_respawns_total{role=\"reader\",cause=\"crash\"} 0\n"
    "runboxd_respawns_total{role=\"reader\",cause=\"signal\"} 0\n"
    "runboxd_respawns_total{role=\"reader\",cause=\"sandbox\"} 0\n"
    "runboxd_respawns_total{role=\"reader\",cause=\"config\"} 0\n"
    "# HELP runboxd_containers_removed_total Containers removed, by reason.\n"
    "# TYPE runboxd_containers_removed_total counter\n"
    "runboxd_containers_removed_total{reason=\"after_run\"} 1\n"
    "runboxd_containers_removed_total{reason=\"expired\"} 0\n"
    "runboxd_containers_removed_total{reason=\"failed\"} 0\n"
    "runboxd_containers_removed_total{reason=\"warm\"} 0\n"
    "runboxd_containers_removed_total{reason=\"sweep\"} 0\n"
    "runboxd_containers_removed_total{reason=\"janitor\"} 1\n";

static void test_known(struct scoreboard *sb)
{
	static char out[SCOREBOARD_TEXT_MAX];
	int n;

	memset(sb, 0, sizeof(*sb));
	scoreboard_use(sb);
	known_state();
	n = scoreboard_render(sb, out, sizeof(out));
	CHECKF(n == (int)sizeof(expected) - 1 && memcmp(out, expected, sizeof(expected) - 1) == 0,
	       "got %d bytes:\n%.*s", n, n > 0 ? n : 0, out);
	/* Every buffer too small by even one byte is refused, never truncated. */
	for (size_t sz = 0; sz < sizeof(expected); sz++)
		CHECKF(scoreboard_render(sb, out, sz) == -1, "size %zu", sz);
	CHECK(scoreboard_render(sb, out, sizeof(expected)) == (int)sizeof(expected) - 1);
}

static void test_slots(struct scoreboard *sb)
{
	unsigned busy, idle, down;

	memset(sb, 0, sizeof(*sb));
	scoreboard_use(sb);
	scoreboard_set_slots(4);
	for (unsigned i = 0; i < 4; i++)
		scoreboard_slot_up(i, true);
	scoreboard_busy(2, true);
	scoreboard_slots(sb, &busy, &idle, &down);
	CHECK(busy == 1 && idle == 3 && down == 0);
	/* A front killed while busy: down; its successor starts idle. */
	scoreboard_slot_up(2, false);
	scoreboard_slots(sb, &busy, &idle, &down);
	CHECK(busy == 0 && idle == 3 && down == 1);
	scoreboard_slot_up(2, true);
	scoreboard_slots(sb, &busy, &idle, &down);
	CHECK(busy == 0 && idle == 4 && down == 0);
	/* Fewer slots after a reload: the others are not counted, their counters still are. */
	scoreboard_run(3, 200, -1);
	scoreboard_set_slots(2);
	scoreboard_slots(sb, &busy, &idle, &down);
	CHECK(busy == 0 && idle == 2 && down == 0 && sb->rows_used == 4 && sb->row[3].runs[0] == 1);
	/* Counters outlive a slot's processes: the row is the slot's, not the process's. */
	scoreboard_slot_up(3, false);
	scoreboard_slot_up(3, true);
	CHECK(sb->row[3].runs[0] == 1);
	/* The reader's own answers: a row of their own, in no slot's state, summed into the text. */
	scoreboard_request(SCOREBOARD_READER, "/run", 401);
	scoreboard_run(SCOREBOARD_READER, 401, scoreboard_outcome("access_token", 12));
	scoreboard_slots(sb, &busy, &idle, &down);
	CHECK(busy == 0 && idle == 2 && down == 0 && sb->reader.runs[scoreboard_outcome("access_token", 12)] == 1);
	{
		static char text[SCOREBOARD_TEXT_MAX];

		CHECK(scoreboard_render(sb, text, sizeof(text)) > 0 &&
		      strstr(text, "runboxd_http_requests_total{route=\"/run\",status=\"401\"} 1\n") != NULL &&
		      strstr(text, "runboxd_runs_total{outcome=\"access_token\"} 1\n") != NULL);
	}
}

static void test_labels(void)
{
	/* Only the fixed table: anything else, however long, is "other". */
	int other = scoreboard_outcome("no.such.code", 12);
	char big[4096];

	memset(big, 'a', sizeof(big));
	CHECK(scoreboard_outcome("limits.execution_time", 21) != other);
	CHECK(scoreboard_outcome("limits.execution_time", 20) == other); /* a prefix is not a code */
	CHECK(scoreboard_outcome("ok", 2) == other);                      /* an answer's code is never ok */
	CHECK(scoreboard_outcome("client_gone", 11) == other);
	CHECK(scoreboard_outcome(big, sizeof(big)) == other);
	CHECK(scoreboard_outcome("", 0) == other);
}

static bool has(const char *out, int n, const char *lit)
{
	return n > 0 && memmem(out, (size_t)n, lit, strlen(lit)) != NULL;
}

/*
 * Every series at its largest, every route and status seen, and bounds a
 * compromised front may have written: the text still fits and nothing is
 * read outside the region.
 */
static void test_worst(struct scoreboard *sb)
{
	static char out[SCOREBOARD_TEXT_MAX];
	int n;

	memset(sb, 0xff, sizeof(*sb));
	scoreboard_use(sb);
	n = scoreboard_render(sb, out, sizeof(out));
	CHECKF(n > 0 && (size_t)n < sizeof(out), "worst case %d bytes", n);
	CHECK(n > 0 && has(out, n, "runboxd_http_requests_total{route=\"other\",status=\"other\"} "));
	memset(sb, 0, sizeof(*sb));
	sb->rows_used = UINT32_MAX;
	sb->nslots = UINT32_MAX;
	n = scoreboard_render(sb, out, sizeof(out));
	CHECK(n > 0 && has(out, n, "runboxd_slots{state=\"down\"} 1024\n"));
	/* Out-of-range slots and labels are ignored, not written past the region. */
	scoreboard_request(SCOREBOARD_ROWS, "/run", 200);
	scoreboard_run(SCOREBOARD_ROWS, 200, -1);
	scoreboard_run(0, 400, SB_OUTCOMES + 5);
	scoreboard_removed(SCOREBOARD_ROWS, SB_RM_SWEEP);
	scoreboard_respawn(SB_ROLES, SB_CAUSE_CRASH);
	CHECK(sb->row[0].runs[SB_OUTCOMES - 1] == 1);
}

int main(void)
{
	struct scoreboard *sb = malloc(sizeof(*sb));

	if (sb == NULL)
		return 1;
	test_known(sb);
	test_slots(sb);
	test_labels();
	test_is_run();
	test_worst(sb);
	scoreboard_use(NULL);
	/* Before the master maps the region (unit tests of other modules): nothing happens. */
	scoreboard_run(0, 200, -1);
	CHECK(scoreboard_get() == NULL);
	free(sb);
	return check_done("test_scoreboard");
}
