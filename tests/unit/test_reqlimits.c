/*
 * Per-request limits: the number reader (exact decimals, exponents,
 * overflow), the "limits" object (every field, every refusal, every
 * truncation point against a guard page), the agent's re-check of what a
 * front sends, and what a run gets from it.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "reqlimits.h"

static struct config cfg;

static void cfg_reset(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.run_max_time = 10;
	cfg.run_max_output = 1000000;
	cfg.memory = 256 * 1024 * 1024;
	cfg.memory_swap = 0;
	cfg.pids_limit = 25;
	cfg.nano_cpus = 1500000000;
}

static const struct num_row {
	const char *in;
	unsigned scale;
	uint64_t max;
	enum reqlimits_num want;
	uint64_t out;
} num_rows[] = {
    {"1", 0, UINT64_MAX, REQLIMITS_NUM_OK, 1},
    {"0", 0, UINT64_MAX, REQLIMITS_NUM_OK, 0},
    {"0.000", 3, UINT64_MAX, REQLIMITS_NUM_OK, 0},
    {"0e999", 0, UINT64_MAX, REQLIMITS_NUM_OK, 0},
    {"1.5", 3, UINT64_MAX, REQLIMITS_NUM_OK, 1500},
    {"0.001", 3, UINT64_MAX, REQLIMITS_NUM_OK, 1},
    {"1.5", 0, UINT64_MAX, REQLIMITS_NUM_PRECISE, 0},
    {"0.0001", 3, UINT64_MAX, REQLIMITS_NUM_PRECISE, 0},
    {"1.0", 0, UINT64_MAX, REQLIMITS_NUM_OK, 1},
    {"2000.000", 0, UINT64_MAX, REQLIMITS_NUM_OK, 2000},
    {"1e3", 0, UINT64_MAX, REQLIMITS_NUM_OK, 1000},
    {"1E+3", 0, UINT64_MAX, REQLIMITS_NUM_OK, 1000},
    {"100e-2", 0, UINT64_MAX, REQLIMITS_NUM_OK, 1},
    {"2.5e-1", 3, UINT64_MAX, REQLIMITS_NUM_OK, 250},
    {"1.5e-3", 3, UINT64_MAX, REQLIMITS_NUM_PRECISE, 0},
    {"0.01", 9, UINT64_MAX, REQLIMITS_NUM_OK, 10000000},
    {"1.5", 9, UINT64_MAX, REQLIMITS_NUM_OK, 1500000000},
    {"0.0000000001", 9, UINT64_MAX, REQLIMITS_NUM_PRECISE, 0},
    {"18446744073709551615", 0, UINT64_MAX, REQLIMITS_NUM_OK, UINT64_MAX},
    {"18446744073709551616", 0, UINT64_MAX, REQLIMITS_NUM_RANGE, 0},
    {"18446744073709551615", 3, UINT64_MAX, REQLIMITS_NUM_RANGE, 0},
    {"1e20", 0, UINT64_MAX, REQLIMITS_NUM_RANGE, 0},
    {"1e999999999999999999999", 0, UINT64_MAX, REQLIMITS_NUM_RANGE, 0},
    {"1e-999999999999999999999", 9, UINT64_MAX, REQLIMITS_NUM_PRECISE, 0},
    {"00000000000000000000000000001e0", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"10", 0, 9, REQLIMITS_NUM_RANGE, 0},
    {"9", 0, 9, REQLIMITS_NUM_OK, 9},
    {"-1", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"-0", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"01", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1.", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {".5", 3, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1e", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1e+", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1e+-1", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"+1", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1 ", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1x", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"0x10", 0, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
    {"1.5.5", 3, UINT64_MAX, REQLIMITS_NUM_INVALID, 0},
};

static void test_number(void)
{
	for (size_t i = 0; i < sizeof(num_rows) / sizeof(num_rows[0]); i++) {
		const struct num_row *r = &num_rows[i];
		uint64_t out = 77;
		enum reqlimits_num got = reqlimits_number(r->in, strlen(r->in), r->scale, r->max, &out);

		CHECKF(got == r->want && (got != REQLIMITS_NUM_OK || out == r->out),
		       "\"%s\" scale %u: got %d (%llu), want %d (%llu)", r->in, r->scale, (int)got,
		       (unsigned long long)out, (int)r->want, (unsigned long long)r->out);
	}
}

static const struct ok_row {
	const char *in;
	struct reqlimits want;
} ok_rows[] = {
    {"{}", {0, 0, 0, 0, 0}},
    {" { } ", {0, 0, 0, 0, 0}},
    {"{\"executionTime\": 2.5}", {2500, 0, 0, 0, 0}},
    {"{\"executionTime\": 10}", {10000, 0, 0, 0, 0}},
    {"{\"executionTime\": 0.001}", {1, 0, 0, 0, 0}},
    {"{\"outputSize\": 1000}", {0, 1000, 0, 0, 0}},
    {"{\"outputSize\": 1000000}", {0, 1000000, 0, 0, 0}},
    {"{\"memory\": 67108864}", {0, 0, 67108864, 0, 0}},
    {"{\"memory\": 6291456}", {0, 0, 6291456, 0, 0}},
    {"{\"memory\": 268435456.0}", {0, 0, 268435456, 0, 0}},
    {"{\"pids\": 5}", {0, 0, 0, 5, 0}},
    {"{\"pids\": 25}", {0, 0, 0, 25, 0}},
    {"{\"cpus\": 0.5}", {0, 0, 0, 0, 500000000}},
    {"{\"cpus\": 1.5}", {0, 0, 0, 0, 1500000000}},
    {"{\"cpus\": 0.01}", {0, 0, 0, 0, 10000000}},
    {"{\"cpus\": 5e-1}", {0, 0, 0, 0, 500000000}},
    {"{\"\\u0070ids\": 3}", {0, 0, 0, 3, 0}},
    {"{\"executionTime\":1,\"outputSize\":2,\"memory\":1e7,\"pids\":4,\"cpus\":1}",
     {1000, 2, 10000000, 4, 1000000000}},
    {"\n{ \"cpus\" : 1 ,\t\"pids\" : 2 }\r\n", {0, 0, 0, 2, 1000000000}},
};

static void test_parse_ok(void)
{
	for (size_t i = 0; i < sizeof(ok_rows) / sizeof(ok_rows[0]); i++) {
		const struct ok_row *r = &ok_rows[i];
		struct reqlimits l;
		char msg[REQLIMITS_MAX_MESSAGE] = "";
		int rc = reqlimits_parse(r->in, strlen(r->in), &cfg, &l, msg, sizeof(msg));

		CHECKF(rc == 0 && memcmp(&l, &r->want, sizeof(l)) == 0, "%s: rc %d: %s", r->in, rc, msg);
		/* What the front accepts, the agent accepts. */
		CHECKF(rc != 0 || reqlimits_check(&cfg, &l, msg, sizeof(msg)) == 0, "%s: agent: %s", r->in,
		       msg);
	}
}

static const struct bad_row {
	const char *in;
	const char *msg; /* a substring of the refusal */
} bad_rows[] = {
    /* Not an object. */
    {"[]", "\"limits\" must be a JSON object"},
    {"1", "\"limits\" must be a JSON object"},
    {"\"x\"", "\"limits\" must be a JSON object"},
    {"null", "\"limits\" must be a JSON object"},
    {"true", "\"limits\" must be a JSON object"},
    {"", "\"limits\" must be a JSON object"},
    {"{", "\"limits\" must be a JSON object"},
    {"{}}", "\"limits\" must be a JSON object"},
    {"{\"pids\":1,}", "\"limits\" must be a JSON object"},
    {"{\"pids\" 1}", "\"limits\" must be a JSON object"},
    /* Unknown members, duplicates. */
    {"{\"foo\":1}", "unknown member \"foo\""},
    {"{\"pids\":1,\"Pids\":2}", "unknown member \"Pids\""},
    {"{\"timeout\":{\"a\":[1,2]}}", "unknown member \"timeout\""},
    {"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", "has an unknown member (known"},
    {"{\"pids\":1,\"pids\":2}", "\"limits.pids\" is given more than once"},
    {"{\"cpus\":1,\"pids\":1,\"cpus\":1}", "\"limits.cpus\" is given more than once"},
    /* executionTime: seconds, (0, RUN_MAX_EXECUTION_TIME], milliseconds. */
    {"{\"executionTime\":11}", "\"limits.executionTime\" must be a number of seconds from 0.001 to 10 "
			      "(RUN_MAX_EXECUTION_TIME), at most 3 decimals"},
    {"{\"executionTime\":10.001}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":0}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":-1}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":0.0001}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":\"2\"}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":null}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":true}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":[1]}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":{\"s\":1}}", "\"limits.executionTime\" must be"},
    {"{\"executionTime\":1e400}", "\"limits.executionTime\" must be"},
    /* outputSize: bytes. */
    {"{\"outputSize\":1000001}", "\"limits.outputSize\" must be a whole number of bytes from 1 to 1000000 "
				"(RUN_MAX_OUTPUT_SIZE)"},
    {"{\"outputSize\":0}", "\"limits.outputSize\" must be"},
    {"{\"outputSize\":1.5}", "\"limits.outputSize\" must be"},
    /* memory: bytes, Docker's minimum up to DOCKER_CONTAINER_MEMORY. */
    {"{\"memory\":268435457}", "\"limits.memory\" must be a whole number of bytes from 6291456 to "
			      "268435456 (DOCKER_CONTAINER_MEMORY)"},
    {"{\"memory\":1000}", "\"limits.memory\" must be"},
    {"{\"memory\":0}", "\"limits.memory\" must be"},
    /* pids. */
    {"{\"pids\":26}", "\"limits.pids\" must be a whole number of processes from 1 to 25 "
		     "(DOCKER_CONTAINER_PIDS_LIMIT)"},
    {"{\"pids\":0}", "\"limits.pids\" must be"},
    {"{\"pids\":-5}", "\"limits.pids\" must be"},
    /* cpus: decimal CPUs, 0.01 up to DOCKER_CONTAINER_CPUS. */
    {"{\"cpus\":1.6}", "\"limits.cpus\" must be a number of CPUs from 0.01 to 1.5 (DOCKER_CONTAINER_CPUS), "
		      "at most 9 decimals"},
    {"{\"cpus\":0.001}", "\"limits.cpus\" must be"},
    {"{\"cpus\":0.0000000001}", "\"limits.cpus\" must be"},
    /* The first problem in the text decides. */
    {"{\"pids\":99,\"foo\":1}", "\"limits.pids\" must be"},
    {"{\"foo\":1,\"pids\":99}", "unknown member \"foo\""},
};

static void test_parse_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad_row *r = &bad_rows[i];
		struct reqlimits l, zero;
		char msg[REQLIMITS_MAX_MESSAGE] = "";
		int rc;

		memset(&zero, 0, sizeof(zero));
		memset(&l, 0x5a, sizeof(l));
		rc = reqlimits_parse(r->in, strlen(r->in), &cfg, &l, msg, sizeof(msg));
		CHECKF(rc == -1 && strstr(msg, r->msg) != NULL, "%s: rc %d, \"%s\"", r->in, rc, msg);
		CHECKF(memcmp(&l, &zero, sizeof(l)) == 0, "%s: limits left set after a refusal", r->in);
	}
}

/* Without a configured maximum, only the floor holds, and the message says so. */
static void test_unlimited(void)
{
	static const char in[] = "{\"memory\":1099511627776,\"pids\":100000,\"cpus\":64}";
	struct reqlimits l;
	char msg[REQLIMITS_MAX_MESSAGE] = "";

	cfg.memory = 0;
	cfg.pids_limit = 0;
	cfg.nano_cpus = 0;
	CHECKF(reqlimits_parse(in, sizeof(in) - 1, &cfg, &l, msg, sizeof(msg)) == 0 &&
	       l.memory == 1099511627776ull && l.pids == 100000 && l.nano_cpus == 64000000000ull, "%s", msg);
	CHECK(reqlimits_parse("{\"memory\":5}", 12, &cfg, &l, msg, sizeof(msg)) == -1 &&
	      strstr(msg, "\"limits.memory\" must be a whole number of bytes of at least 6291456 "
			  "(DOCKER_CONTAINER_MEMORY sets no maximum)") != NULL);
	cfg_reset();
}

/* Every prefix of a valid object, ending at a guard page, is refused cleanly. */
static void test_truncation(void)
{
	static const char in[] = "{\"executionTime\":2.5e0,\"outputSize\":100,\"memory\":1e7,"
				 "\"pids\":\"x\",\"cpus\":0.5}";
	long pg = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char valid[] = "{\"executionTime\":2.5e0,\"outputSize\":100,\"memory\":1e7,\"pids\":3,\"cpus\":0.5}";
	size_t n = sizeof(valid) - 1;

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	CHECK(mprotect(map + pg, (size_t)pg, PROT_NONE) == 0);
	for (size_t k = 0; k <= n; k++) {
		char *p = map + pg - k;
		struct reqlimits l;
		char msg[REQLIMITS_MAX_MESSAGE];
		int rc;

		memcpy(p, valid, k);
		rc = reqlimits_parse(p, k, &cfg, &l, msg, sizeof(msg));
		CHECKF(rc == (k == n ? 0 : -1), "prefix of %zu bytes: rc %d", k, rc);
	}
	/* A string where a number belongs, cut anywhere: refused, never read past. */
	for (size_t k = 0; k < sizeof(in) - 1; k++) {
		struct reqlimits l;
		char msg[REQLIMITS_MAX_MESSAGE];

		memcpy(map + pg - k, in, k);
		CHECK(reqlimits_parse(map + pg - k, k, &cfg, &l, msg, sizeof(msg)) == -1);
	}
	munmap(map, (size_t)pg * 2);
}

/* The agent's check: a front that sends more than the configuration allows is refused. */
static void test_agent_check(void)
{
	struct reqlimits ok = {10000, 1000000, 268435456, 25, 1500000000};
	struct reqlimits none = {0, 0, 0, 0, 0};
	static const struct {
		struct reqlimits l;
		const char *field;
	} raised[] = {
	    {{10001, 0, 0, 0, 0}, "\"limits.executionTime\""},
	    {{UINT64_MAX, 0, 0, 0, 0}, "\"limits.executionTime\""},
	    {{0, 1000001, 0, 0, 0}, "\"limits.outputSize\""},
	    {{0, 0, 268435457, 0, 0}, "\"limits.memory\""},
	    {{0, 0, 1, 0, 0}, "\"limits.memory\""},
	    {{0, 0, 0, 26, 0}, "\"limits.pids\""},
	    {{0, 0, 0, UINT64_MAX, 0}, "\"limits.pids\""},
	    {{0, 0, 0, 0, 1500000001}, "\"limits.cpus\""},
	    {{0, 0, 0, 0, 9999999}, "\"limits.cpus\""},
	    {{1, 1, 6291456, 1, 1ull << 63}, "\"limits.cpus\""},
	};
	char msg[REQLIMITS_MAX_MESSAGE];

	CHECK(reqlimits_check(&cfg, &ok, msg, sizeof(msg)) == 0);
	CHECK(reqlimits_check(&cfg, &none, msg, sizeof(msg)) == 0);
	for (size_t i = 0; i < sizeof(raised) / sizeof(raised[0]); i++) {
		msg[0] = '\0';
		CHECKF(reqlimits_check(&cfg, &raised[i].l, msg, sizeof(msg)) == -1 &&
		       strncmp(msg, raised[i].field, strlen(raised[i].field)) == 0, "row %zu: %s", i, msg);
	}
}

/* What a run gets, and the container settings that follow from it. */
static void test_effective(void)
{
	struct reqlimits none = {0, 0, 0, 0, 0}, eff;
	struct reqlimits some = {2500, 100, 64 * 1024 * 1024, 5, 500000000};
	struct config run;

	reqlimits_effective(&cfg, &none, &eff);
	CHECK(eff.time_ms == 10000 && eff.output == 1000000 && eff.memory == 268435456 && eff.pids == 25 &&
	      eff.nano_cpus == 1500000000);
	CHECK(!reqlimits_container_differs(&cfg, &eff));
	/* Lowering only the stream-side limits keeps the container's settings: a warm one will do. */
	some.memory = some.pids = some.nano_cpus = 0;
	reqlimits_effective(&cfg, &some, &eff);
	CHECK(eff.time_ms == 2500 && eff.output == 100 && !reqlimits_container_differs(&cfg, &eff));
	some.memory = 64 * 1024 * 1024;
	reqlimits_effective(&cfg, &some, &eff);
	CHECK(reqlimits_container_differs(&cfg, &eff));

	/* No swap (MemorySwap 0: equal to Memory) stays no swap. */
	run = cfg;
	reqlimits_apply(&run, &eff);
	CHECK(run.memory == 64 * 1024 * 1024 && run.memory_swap == 0 && run.pids_limit == 25 &&
	      run.nano_cpus == 1500000000);
	/* Configured swap stays the same amount on top of the lower memory. */
	run = cfg;
	run.memory_swap = cfg.memory + 32 * 1024 * 1024;
	reqlimits_apply(&run, &eff);
	CHECK(run.memory_swap == 96 * 1024 * 1024);
	/* Unlimited swap stays unlimited. */
	run = cfg;
	run.memory_swap = -1;
	reqlimits_apply(&run, &eff);
	CHECK(run.memory_swap == -1);
	some.pids = 5;
	some.nano_cpus = 500000000;
	reqlimits_effective(&cfg, &some, &eff);
	run = cfg;
	reqlimits_apply(&run, &eff);
	CHECK(run.pids_limit == 5 && run.nano_cpus == 500000000);
}

int main(void)
{
	cfg_reset();
	test_number();
	test_parse_ok();
	test_parse_bad();
	test_unlimited();
	test_truncation();
	test_agent_check();
	test_effective();
	return check_done("test_reqlimits");
}
