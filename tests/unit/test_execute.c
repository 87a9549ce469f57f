/*
 * execute.c: request parsing (tables of good and bad bodies), the output
 * kept under its limit with its stream map, the answers (always one valid
 * JSON object whatever the bytes, pieces cut between characters), and the
 * pump over a socketpair standing in for Docker's attach stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "execute.h"
#include "io.h"
#include "json.h"

static char body[EXEC_MAX_SCRIPT * 2 + 1024];

static const char *parse_exec(const char *js, struct exec_request *r)
{
	char msg[256];

	snprintf(body, sizeof(body), "%s", js);
	return exec_parse_execute(body, strlen(body), r, msg, sizeof(msg));
}

static void test_parse_execute(void)
{
	static const struct {
		const char *js, *code;
	} bad[] = {
		{"", "request.json"},
		{"[]", "request.json"},
		{"{\"script\":\"a\"", "request.json"},
		{"{\"script\":\"a\",\"script\":\"b\"}", "request.json"},
		{"{\"script\":\"a\",\"stdin\":\"\",\"stdin\":\"\"}", "request.json"},
		{"{}", "request.script"},
		{"{\"script\":\"\"}", "request.script"},
		{"{\"script\":null}", "request.script"},
		{"{\"script\":1}", "request.script"},
		{"{\"script\":\"a\\u0000b\"}", "request.script"},
		{"{\"script\":\"a\",\"stdin\":[]}", "request.stdin"},
		{"{\"script\":\"a\",\"stdin\":true}", "request.stdin"},
		{"{\"script\":\"a\",\"image\":\"\"}", "request.image"},
		{"{\"script\":\"a\",\"image\":\"UPPER/case\"}", "request.image"},
		{"{\"script\":\"a\",\"image\":5}", "request.image"},
		{"{\"script\":\"a\",\"limits\":{},\"limits\":{}}", "request.json"},
	};
	struct exec_request r;
	const char *code;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		code = parse_exec(bad[i].js, &r);
		CHECKF(code != NULL && strcmp(code, bad[i].code) == 0, "%s: %s", bad[i].js,
		       code ? code : "accepted");
	}

	code = parse_exec("{\"script\":\"echo \\\"hi\\\"\\n\",\"stdin\":\"a\\u0000\\u00e9\",\"image\":\"runbox/sh\","
			  "\"other\":1}", &r);
	CHECK(code == NULL);
	CHECK(r.script_len == 10 && memcmp(r.script, "echo \"hi\"\n", 10) == 0);
	CHECK(r.input_len == 4 && memcmp(r.input, "a\0\xc3\xa9", 4) == 0);
	CHECK(strcmp(r.image, "runbox/sh") == 0);

	code = parse_exec("{\"script\":\"true\",\"stdin\":null,\"image\":null}", &r);
	CHECK(code == NULL && r.input_len == 0 && r.image[0] == '\0');
	CHECK(r.limits == NULL && r.limits_len == 0);
	/* "limits" is left as it is, for reqlimits_parse, next to strings decoded in place. */
	code = parse_exec("{\"script\":\"a\\u0041\",\"limits\": {\"pids\": 3} ,\"stdin\":\"\\n\"}", &r);
	CHECK(code == NULL && r.limits_len == 11 && memcmp(r.limits, "{\"pids\": 3}", 11) == 0 &&
	      r.script_len == 2 && memcmp(r.script, "aA", 2) == 0);
	code = parse_exec("{\"script\":\"true\"}", &r);
	CHECK(code == NULL && r.input_len == 0 && r.image[0] == '\0');

	/* The longest script, and one byte more. */
	for (size_t extra = 0; extra < 2; extra++) {
		size_t n = EXEC_MAX_SCRIPT + extra;
		char msg[256];

		memcpy(body, "{\"script\":\"", 11);
		memset(body + 11, '#', n);
		memcpy(body + 11 + n, "\"}", 3);
		code = exec_parse_execute(body, strlen(body), &r, msg, sizeof(msg));
		CHECKF(extra ? code != NULL && strcmp(code, "request.script") == 0 : code == NULL,
		       "script of %zu bytes", n);
	}
}

static void test_parse_compile(void)
{
	struct exec_request r;
	char msg[256];
	const char *code;

	snprintf(body, sizeof(body), "{\"code\":\"print(1)\\n\"}");
	code = exec_parse_compile(body, strlen(body), &r, msg, sizeof(msg));
	CHECK(code == NULL && r.input_len == 9 && memcmp(r.input, "print(1)\n", 9) == 0 &&
	      r.script_len == 0);
	snprintf(body, sizeof(body), "{\"code\":1}");
	code = exec_parse_compile(body, strlen(body), &r, msg, sizeof(msg));
	CHECK(code != NULL && strcmp(code, "request.code") == 0);
	snprintf(body, sizeof(body), "{\"code\":\"a\",\"code\":\"a\"}");
	code = exec_parse_compile(body, strlen(body), &r, msg, sizeof(msg));
	CHECK(code != NULL && strcmp(code, "request.json") == 0);
	snprintf(body, sizeof(body), "{}");
	code = exec_parse_compile(body, strlen(body), &r, msg, sizeof(msg));
	CHECK(code != NULL && strcmp(code, "request.code") == 0);
}

/* The decoded value of a string member of an answer, in out. */
static ssize_t member(const char *js, size_t len, const char *key, char *out, size_t outsz)
{
	const char *v;
	size_t vlen;

	if (json_member(js, len, key, &v, &vlen) != JSON_STRING || vlen > outsz)
		return -1;
	memcpy(out, v, vlen);
	return json_string_bytes(out, vlen);
}

static void test_out_and_answers(void)
{
	static char buf[64], ans[4096];
	static unsigned char map[64 / 8 + 1];
	struct exec_result r = {.end = EXEC_EOF, .exit_known = true, .exit_code = 0, .ms = 1234,
				.output_limit = 16};
	struct exec_out o;
	char v[256];
	ssize_t n;

	exec_out_init(&o, buf, map, 16);
	r.out = &o;
	CHECK(exec_out_keep(&o, FRAME_STDOUT, "out\xff", 4));
	CHECK(exec_out_keep(&o, FRAME_STDERR, "err\n", 4));
	CHECK(exec_out_keep(&o, FRAME_STDIN, "ignored", 7));
	CHECK(exec_out_keep(&o, FRAME_STDOUT, "\x01\"", 2));
	CHECK(o.len == 10 && !o.truncated);

	n = exec_answer_body(EXEC_ANSWER_EXECUTE, &r, ans, sizeof(ans));
	CHECKF(n > 0 && json_check(ans, (size_t)n) == JSON_OBJECT, "%.*s", (int)n, ans);
	CHECK(member(ans, (size_t)n, "stdout", v, sizeof(v)) == 8 &&
	      memcmp(v, "out\xef\xbf\xbd\x01\"", 8) == 0);
	CHECK(member(ans, (size_t)n, "stderr", v, sizeof(v)) == 4 && memcmp(v, "err\n", 4) == 0);
	CHECK(memmem(ans, (size_t)n, "\"success\":true", 14) && memmem(ans, (size_t)n, "\"error\":null", 12) &&
	      memmem(ans, (size_t)n, "\"exit_code\":0,", 14) &&
	      memmem(ans, (size_t)n, "\"execution_time\":1.234,", 23));

	n = exec_answer_body(EXEC_ANSWER_COMPILE, &r, ans, sizeof(ans));
	CHECK(n > 0 && json_check(ans, (size_t)n) == JSON_OBJECT);
	CHECK(member(ans, (size_t)n, "combined", v, sizeof(v)) == 12 &&
	      memcmp(v, "out\xef\xbf\xbd" "err\n\x01\"", 12) == 0);
	CHECK(memmem(ans, (size_t)n, "\"isError\":false", 15) &&
	      memmem(ans, (size_t)n, "\"killedByContainer\":false", 25));

	/* The limit: the rest of the frame is cut, and the sink says stop. */
	CHECK(!exec_out_keep(&o, FRAME_STDERR, "0123456789", 10));
	CHECK(o.len == 16 && o.truncated);
	r.exit_code = 137;
	n = exec_answer_body(EXEC_ANSWER_EXECUTE, &r, ans, sizeof(ans));
	CHECK(n > 0 && json_check(ans, (size_t)n) == JSON_OBJECT);
	CHECK(member(ans, (size_t)n, "stderr", v, sizeof(v)) == 10 && memcmp(v, "err\n012345", 10) == 0);
	CHECK(member(ans, (size_t)n, "error", v, sizeof(v)) > 0 &&
	      strcmp(v, "Max output size exceeded (16 bytes)") == 0);
	CHECK(memmem(ans, (size_t)n, "\"output_truncated\":true", 23) &&
	      memmem(ans, (size_t)n, "\"success\":false", 15));

	/* Unknown exit: null, and no success. */
	exec_out_init(&o, buf, map, 16);
	r.exit_known = false;
	r.end = EXEC_TIMEOUT;
	n = exec_answer_body(EXEC_ANSWER_EXECUTE, &r, ans, sizeof(ans));
	CHECK(n > 0 && memmem(ans, (size_t)n, "\"exit_code\":null", 16) &&
	      memmem(ans, (size_t)n, "\"timed_out\":true", 16));
	n = exec_answer_body(EXEC_ANSWER_COMPILE, &r, ans, sizeof(ans));
	CHECK(n > 0 && memmem(ans, (size_t)n, "\"killedByContainer\":true", 24));
	/* Too small a buffer is refused, not cut. */
	CHECK(exec_answer_body(EXEC_ANSWER_EXECUTE, &r, ans, 20) == -1);
}

/* Output longer than a piece, of 2-, 3- and 4-byte characters: no cut splits one. */
static void test_pieces(void)
{
	static const char *const chars[] = {"\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "a"};
	size_t cap = 3 * EXEC_EMIT_PIECE + 7, len = 0;
	char *buf = malloc(cap), *ans = malloc(cap * 8), *v = malloc(cap * 8);
	unsigned char *map = calloc(cap / 8 + 1, 1);
	struct exec_result r = {.end = EXEC_EOF, .exit_known = true, .output_limit = cap};
	struct exec_out o;
	ssize_t n;

	exec_out_init(&o, buf, map, cap);
	r.out = &o;
	for (size_t i = 0; len + 4 <= cap; i++) {
		const char *c = chars[i % 4 == 3 ? 3 : (i / 7) % 3];

		CHECK(exec_out_keep(&o, FRAME_STDOUT, c, strlen(c)));
		len += strlen(c);
	}
	n = exec_answer_body(EXEC_ANSWER_COMPILE, &r, ans, cap * 8);
	CHECK(n > 0 && json_check(ans, (size_t)n) == JSON_OBJECT);
	CHECK(member(ans, (size_t)n, "stdout", v, cap * 8) == (ssize_t)len && memcmp(v, buf, len) == 0);
	CHECK(member(ans, (size_t)n, "combined", v, cap * 8) == (ssize_t)len && memcmp(v, buf, len) == 0);
	CHECK(memmem(ans, (size_t)n, "\xef\xbf\xbd", 3) == NULL);
	free(buf);
	free(ans);
	free(v);
	free(map);
}

static void frame(int fd, int stream, const char *p, uint32_t n)
{
	unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
			      (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};

	CHECK(write(fd, h, 8) == 8);
	CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
}

/* The pump against a socketpair: input written and closed, frames to the sink, EOF, deadline. */
static void test_pump(void)
{
	static char buf[64], got[64];
	static unsigned char map[9];
	struct exec_out o;
	struct exec_io x;
	int sv[2];
	ssize_t n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	frame(sv[1], 1, "hello ", 6);
	frame(sv[1], 2, "warn", 4);
	frame(sv[1], 1, "world", 5);
	shutdown(sv[1], SHUT_WR);
	exec_out_init(&o, buf, map, sizeof(buf));
	memset(&x, 0, sizeof(x));
	x.sfd = sv[0];
	x.client_fd = -1;
	x.input = "input";
	x.input_len = 5;
	x.deadline = io_now_ms() + 30000;
	x.sink = exec_out_keep;
	x.arg = &o;
	CHECK(exec_pump(&x, NULL, 0) == EXEC_EOF);
	CHECK(o.len == 15 && memcmp(o.buf, "hello warnworld", 15) == 0);
	CHECK(x.wdone && x.written == 5);
	n = read(sv[1], got, sizeof(got));
	CHECK(n == 5 && memcmp(got, "input", 5) == 0);
	CHECK(read(sv[1], got, sizeof(got)) == 0); /* stdin was closed */
	close(sv[0]);
	close(sv[1]);

	/* A stream that ends inside a frame is an error; one that says nothing times out. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], "\1\0\0\0\0\0\0\10abc", 11) == 11);
	shutdown(sv[1], SHUT_WR);
	exec_out_init(&o, buf, map, sizeof(buf));
	x.sfd = sv[0];
	CHECK(exec_pump(&x, NULL, 0) == EXEC_READ_ERROR);
	close(sv[0]);
	close(sv[1]);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	x.sfd = sv[0];
	x.deadline = io_now_ms() + 50;
	CHECK(exec_pump(&x, NULL, 0) == EXEC_TIMEOUT);
	/* Early bytes count, and a bad header is refused. */
	x.deadline = io_now_ms() + 30000;
	CHECK(exec_pump(&x, "\7\0\0\0\0\0\0\1x", 9) == EXEC_BAD_FRAME);
	/* The sink's refusal ends the run. */
	exec_out_init(&o, buf, map, 3);
	CHECK(exec_pump(&x, "\1\0\0\0\0\0\0\4abcd", 12) == EXEC_TOO_BIG);
	CHECK(o.len == 3 && o.truncated);
	close(sv[0]);
	close(sv[1]);
}

/*
 * exec_answer_event into a temporary file: chunked, one chunk holding
 * {"result": <exec_answer_body's body>} and a newline, then the last
 * chunk; not chunked, the same line bare.  Answers over several pieces.
 */
static void test_event(void)
{
	size_t cap = 3 * EXEC_EMIT_PIECE, want, len;
	char *buf = malloc(cap), *whole = malloc(cap * 8), *got = malloc(cap * 8 + 64);
	char *emit = malloc(EXEC_EMIT_BUF), path[] = "/tmp/test_execute_event.XXXXXX", *end;
	unsigned char *map = calloc(cap / 8 + 1, 1);
	struct exec_result r = {.end = EXEC_TIMEOUT, .exit_known = true, .exit_code = 137, .output_limit = cap};
	struct exec_out o;
	ssize_t n, b;
	int fd = mkstemp(path);

	CHECK(fd >= 0 && buf && whole && got && emit && map);
	unlink(path);
	exec_out_init(&o, buf, map, cap);
	r.out = &o;
	memset(buf, '\n', cap);
	CHECK(exec_out_keep(&o, FRAME_STDERR, buf, cap - 1));
	b = exec_answer_body(EXEC_ANSWER_EXECUTE, &r, whole, cap * 8);
	CHECK(b > 0 && memchr(whole, '\n', (size_t)b) == NULL);
	for (int chunked = 0; chunked < 2; chunked++) {
		CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
		n = exec_answer_event(fd, io_now_ms() + 5000, EXEC_ANSWER_EXECUTE, &r, emit, chunked);
		CHECK(n > 0 && pread(fd, got, (size_t)n + 1, 0) == n);
		want = (size_t)b + 12;
		len = chunked ? (size_t)strtoul(got, &end, 16) : 0;
		if (chunked)
			CHECK(len == want && end[0] == '\r' && end[1] == '\n');
		else
			end = got - 2;
		CHECK(memcmp(end + 2, "{\"result\":", 10) == 0 && memcmp(end + 12, whole, (size_t)b) == 0);
		CHECK(memcmp(end + 12 + b, chunked ? "}\n\r\n0\r\n\r\n" : "}\n", chunked ? 9 : 2) == 0);
		CHECK(end + 12 + b + (chunked ? 9 : 2) == got + n);
	}
	close(fd);
	free(buf);
	free(whole);
	free(got);
	free(emit);
	free(map);
}

int main(void)
{
	test_parse_execute();
	test_parse_compile();
	test_out_and_answers();
	test_pieces();
	test_pump();
	test_event();
	return check_done("test_execute");
}
