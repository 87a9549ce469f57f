/*
 * HTTP client over a unix socket (dhttp): reply framings, malformed and
 * oversized replies, timeouts, refused requests.  A forked child plays the
 * daemon (fakeserve.h).  Timeouts are generous wherever the daemon
 * answers; where it hangs on purpose the test asserts only that the call
 * failed and did not end before its timeout.
 */
#include "check.h"
#include "dhttp.h"
#include "fakeserve.h"

#define GENEROUS_MS 10000 /* never reached by a daemon that answers */
#define SHORT_MS 500      /* a hanging daemon's calls end after this */
/* ... and not before, to the millisecond the deadlines are kept in. */
#define NOT_BEFORE ((SHORT_MS - 2) / 1000.0)

static struct dhttp_ctx ctx;
static struct dhttp_error herr;

static void test_call_framings(void)
{
	char out[64];
	size_t outlen = 99;
	int status = 0, rc;
	pid_t pid;

	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", SERVE_WHOLE);
	rc = dhttp_call(&ctx, "GET", "/version", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && status == 200 && outlen == 5 && strcmp(out, "hello") == 0);
	CHECKF(strcmp(request_seen(), "GET /version HTTP/1.1\r\nHost: docker\r\n"
	                              "User-Agent: runboxd\r\nConnection: close\r\n\r\n") == 0,
	       "%s", request_seen());

	pid = serve("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}", SERVE_WHOLE);
	rc =
	    dhttp_call(&ctx, "POST", "/x?a=1", "{\"a\":1}", 7, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && status == 201 && outlen == 2 && strcmp(out, "{}") == 0);
	CHECKF(strcmp(request_seen(),
	              "POST /x?a=1 HTTP/1.1\r\nHost: docker\r\n"
	              "User-Agent: runboxd\r\nContent-Type: application/json\r\n"
	              "Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}") == 0,
	       "%s", request_seen());

	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                              "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
	pid = serve(chunked, SERVE_WHOLE);
	rc = dhttp_call(&ctx, "GET", "/c", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && status == 200 && outlen == 11 && strcmp(out, "hello world") == 0);

	pid = serve(chunked, SERVE_BYTEWISE);
	rc = dhttp_call(&ctx, "GET", "/c", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && status == 200 && outlen == 11 && strcmp(out, "hello world") == 0);

	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", SERVE_BYTEWISE);
	rc = dhttp_call(&ctx, "GET", "/b", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && outlen == 5 && strcmp(out, "hello") == 0);

	pid = serve("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", SERVE_WHOLE);
	rc = dhttp_call(&ctx, "GET", "/cl", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && status == 200 && outlen == 11 && strcmp(out, "until close") == 0);

	pid = serve("HTTP/1.1 204 No Content\r\n\r\n", SERVE_WHOLE);
	rc = dhttp_call(&ctx, "POST", "/s", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && status == 204 && outlen == 0 && out[0] == '\0');

	/* Exactly outsz bytes fit (no room for the NUL, none promised). */
	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", SERVE_WHOLE);
	rc = dhttp_call(&ctx, "GET", "/e", NULL, 0, &status, out, 5, &outlen, &herr);
	reap(pid);
	CHECK(rc == DHTTP_OK && outlen == 5 && memcmp(out, "hello", 5) == 0);
}

static void expect_call(const char *reply, enum serve_mode mode, size_t outsz, int want,
                        const char *what)
{
	char out[64];
	size_t outlen;
	int status, rc;
	pid_t pid = serve(reply, mode);

	rc = dhttp_call(&ctx, "GET", "/x", NULL, 0, &status, out, outsz, &outlen, &herr);
	reap(pid);
	CHECKF(rc == want, "%s: got %d, want %d", what, rc, want);
	CHECKF(rc == DHTTP_OK || herr.message[0] != '\0', "%s: no message", what);
}

/* With no socket there, a request that got as far as connecting would be DHTTP_ECONNECT. */
static void expect_nothing_sent(const char *path, const char *method)
{
	char out[64];
	size_t outlen;
	int status;

	CHECKF(dhttp_call(&ctx, method, path, NULL, 0, &status, out, sizeof(out), &outlen,
	                  &herr) == DHTTP_EPROTO,
	       "%s %s", method, path);
}

static void test_call_errors(void)
{
	size_t i, n;

	expect_call("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", SERVE_WHOLE, 10,
	            DHTTP_EPROTO, "content-length over outsz");
	expect_call("HTTP/1.1 200 OK\r\n\r\n0123456789abcdef", SERVE_WHOLE, 10, DHTTP_EPROTO,
	            "close-delimited over outsz");
	expect_call("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef"
	            "\r\n0\r\n\r\n",
	            SERVE_WHOLE, 10, DHTTP_EPROTO, "chunked over outsz");
	expect_call("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", SERVE_WHOLE, 64, DHTTP_EPROTO,
	            "bad status code");
	expect_call("SSH-2.0-OpenSSH\r\n\r\n", SERVE_WHOLE, 64, DHTTP_EPROTO, "not HTTP");
	expect_call("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", SERVE_WHOLE, 64,
	            DHTTP_EPROTO, "truncated body");
	expect_call("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
	            SERVE_WHOLE, 64, DHTTP_EPROTO, "bad chunk size");
	expect_call("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", SERVE_WHOLE,
	            64, DHTTP_EPROTO, "truncated chunked");
	expect_call("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	            SERVE_WHOLE, 64, DHTTP_EPROTO, "conflicting lengths");
	expect_call("", SERVE_WHOLE, 64, DHTTP_EPROTO, "closed without a reply");

	/* A head that never ends. */
	static char big[DOCKER_MAX_RESPONSE_HEAD + 200];
	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
	for (i = 0; n + 20 < sizeof(big); i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%05zu: aaaaaaa\r\n", i);
	expect_call(big, SERVE_WHOLE, 64, DHTTP_EPROTO, "head over the limit");

	/* Request lines that would smuggle a second header or request: refused before any I/O. */
	unlink(sock_path);
	expect_nothing_sent("/x HTTP/1.1\r\nX: y", "GET");
	expect_nothing_sent("x", "GET");
	expect_nothing_sent("/x", "get");
	expect_nothing_sent("/x", "");
}

/* The daemon hangs or dawdles: the call fails, and not before its timeout. */
static void test_timeouts(void)
{
	struct dhttp_ctx sh = ctx;
	char out[64];
	size_t outlen;
	int status, rc;
	double t0, dt;
	pid_t pid;

	sh.read_timeout_ms = SHORT_MS;
	sh.write_timeout_ms = SHORT_MS;
	pid = serve("", SERVE_HANG);
	t0 = now_s();
	rc = dhttp_call(&sh, "GET", "/x", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	dt = now_s() - t0;
	reap(pid);
	CHECKF(rc == DHTTP_EIO && dt >= NOT_BEFORE, "hang: %d %.3f", rc, dt);
	CHECKF(strcmp(herr.message, "timed out reading from Docker") == 0, "%s", herr.message);

	/*
	 * Every byte comes well within the read timeout (gaps of a fifth of
	 * it), the whole reply only after eight timeouts: one call has one
	 * read budget, so it must fail.  A client that timed each read alone
	 * would succeed here.
	 */
	static const char paced[] = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
	                            "0123456789012345678901234567890123456789";
	bytewise_us = SHORT_MS * 1000 / 5;
	pid = serve(paced, SERVE_BYTEWISE);
	t0 = now_s();
	rc = dhttp_call(&sh, "GET", "/x", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	dt = now_s() - t0;
	reap(pid);
	bytewise_us = 1000;
	CHECKF(rc == DHTTP_EIO && dt >= NOT_BEFORE, "paced: %d %.3f", rc, dt);

	/* A daemon that never reads: the body write must time out, not block. */
	size_t blen = 8u * 1024 * 1024;
	char *body = malloc(blen);
	memset(body, 'x', blen);
	pid = serve("", SERVE_NOREAD);
	t0 = now_s();
	rc = dhttp_call(&sh, "POST", "/x", body, blen, &status, out, sizeof(out), &outlen, &herr);
	dt = now_s() - t0;
	reap(pid);
	free(body);
	CHECKF(rc == DHTTP_EIO && dt >= NOT_BEFORE, "write hang: %d %.3f", rc, dt);
	CHECKF(strcmp(herr.message, "timed out writing to Docker") == 0, "%s", herr.message);
}

static void test_connect(void)
{
	struct dhttp_ctx bad = ctx;
	char out[64], longpath[200], want[256];
	size_t outlen;
	int status, rc;

	unlink(sock_path);
	rc = dhttp_call(&ctx, "GET", "/x", NULL, 0, &status, out, sizeof(out), &outlen, &herr);
	CHECK(rc == DHTTP_ECONNECT && herr.status == 0);
	snprintf(want, sizeof(want), "cannot connect to %s: No such file or directory", sock_path);
	CHECKF(strcmp(herr.message, want) == 0, "%s", herr.message);

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	bad.socket_path = longpath;
	errno = 0;
	CHECK(dhttp_connect(&bad) == -1 && errno == ENAMETOOLONG);
	CHECK(dhttp_call(&bad, "GET", "/x", NULL, 0, &status, out, sizeof(out), &outlen, &herr) ==
	      DHTTP_ECONNECT);
	bad.socket_path = "";
	errno = 0;
	CHECK(dhttp_connect(&bad) == -1 && errno == ENOENT);
}

/* The message reaches logs and clients: control bytes never do. */
static void test_scrub(void)
{
	char s[64];

	snprintf(s, sizeof(s), "a\r\nb\x1b[31m\x7f caf\xc3\xa9");
	dhttp_scrub(s, 1);
	CHECKF(strcmp(s, "a??b?[31m? caf\xc3\xa9") == 0, "%s", s);
	snprintf(s, sizeof(s), "caf\xc3\xa9");
	dhttp_scrub(s, 0);
	CHECKF(strcmp(s, "caf??") == 0, "%s", s);
	CHECK(dhttp_fail(&herr, DHTTP_EIO, 7, "x%cy", '\n') == DHTTP_EIO && herr.status == 7 &&
	      strcmp(herr.message, "x?y") == 0);
}

int main(void)
{
	serve_setup("test_dhttp");
	ctx.socket_path = sock_path;
	ctx.read_timeout_ms = GENEROUS_MS;
	ctx.write_timeout_ms = GENEROUS_MS;

	test_call_framings();
	test_call_errors();
	test_timeouts();
	test_connect();
	test_scrub();
	serve_cleanup();
	return check_done("test_dhttp");
}
