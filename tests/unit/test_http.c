/*
 * Unit tests of the HTTP parsers.  Every input the parsers see sits at the
 * very end of a mapping followed by a PROT_NONE page, so a read past len
 * is a crash, not a silent pass.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "http.h"

/* A counted string literal: inputs may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

#define GET "GET / HTTP/1.1\r\n"

static char *guard_area;
static size_t guard_size;

static void guard_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	guard_size = (64 * 1024 + page - 1) / page * page;
	guard_area = mmap(NULL, guard_size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	if (guard_area == MAP_FAILED || mprotect(guard_area + guard_size, page, PROT_NONE) != 0) {
		perror("mmap/mprotect guard page");
		exit(1);
	}
}

/* Copy s[0..n) so that its last byte is the last before the guard page. */
static char *guarded(const char *s, size_t n)
{
	char *p;

	if (n > guard_size) {
		fprintf(stderr, "input of %zu bytes exceeds the guard area\n", n);
		exit(1);
	}
	p = guard_area + guard_size - n;
	memcpy(p, s, n);
	return p;
}

static int parse_req(const char *s, size_t n, struct http_request *req, int *status)
{
	*status = 0;
	return http_parse_request(guarded(s, n), n, req, status);
}

static int parse_res(const char *s, size_t n, struct http_response *res)
{
	return http_parse_response(guarded(s, n), n, res);
}

static bool counted_eq(const char *s, size_t n, const char *lit)
{
	return lit != NULL && n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* Every strict prefix of a valid head must be HTTP_INCOMPLETE. */
static void check_request_prefixes(const char *raw, size_t head_len)
{
	struct http_request req;
	size_t k;
	int rc, status, bad = 0;

	for (k = 0; k < head_len; k++) {
		rc = parse_req(raw, k, &req, &status);
		if (rc != HTTP_INCOMPLETE && bad++ == 0)
			CHECKF(rc == HTTP_INCOMPLETE, "prefix %zu of %.40s... gave %d (status %d)", k, raw,
			       rc, status);
	}
	CHECKF(bad == 0, "%d bad prefixes of %.40s...", bad, raw);
}

static void check_response_prefixes(const char *raw, size_t head_len)
{
	struct http_response res;
	size_t k;
	int bad = 0;

	for (k = 0; k < head_len; k++) {
		if (parse_res(raw, k, &res) != HTTP_INCOMPLETE)
			bad++;
	}
	CHECKF(bad == 0, "%d bad prefixes of %.40s...", bad, raw);
}

/* Length of the head in raw: up to the first empty line. */
static size_t head_length(const char *raw)
{
	return (size_t)(strstr(raw, "\r\n\r\n") + 4 - raw);
}

struct valid_request {
	const char *raw; /* the head, then maybe a body */
	const char *method, *target, *path;
	int minor;
	size_t num_headers;
	const char *headers[4][2]; /* the first ones, name and value */
};

static const struct valid_request valid_requests[] = {
	{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", "/", 1, 1, {{"Host", "a"}}},
	{"GET /run?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n"
	 "Accept: */*\r\n\r\n",
	 "GET", "/run?x=1&y=2", "/run", 1, 3,
	 {{"Host", "example.com"}, {"User-Agent", "curl/8.0"}, {"Accept", "*/*"}}},
	{"POST /languages/python/run HTTP/1.1\r\nHost: x\r\nX-Access-Token: s3cr3t\r\n"
	 "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"files\": []}",
	 "POST", "/languages/python/run", "/languages/python/run", 1, 4,
	 {{"Host", "x"}, {"X-Access-Token", "s3cr3t"}, {"Content-Type", "application/json"},
	  {"Content-Length", "13"}}},
	{"POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST",
	 "/run", "/run", 1, 1, {{"Transfer-Encoding", "chunked"}}},
	{"GET /version HTTP/1.0\r\n\r\n", "GET", "/version", "/version", 0, 0, {{NULL, NULL}}},
	{"GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff\x80\r\n\r\n", "GET", "/", "/", 1, 1,
	 {{"X-Name", "caf\xc3\xa9 \xff\x80"}}},
	{"GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank: \t \r\nX-Last:\t\r\n\r\n", "GET", "/", "/", 1, 3,
	 {{"X-Empty", ""}, {"X-Blank", ""}, {"X-Last", ""}}},
	{"GET / HTTP/1.1\r\nX-A: \t a \t b \t\r\nX-B:c:d\r\n\r\n", "GET", "/", "/", 1, 2,
	 {{"X-A", "a \t b"}, {"X-B", "c:d"}}},
	{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", "OPTIONS", "*", "*", 1, 1, {{"Host", "h"}}},
	{"M-SEARCH /a%20b? HTTP/1.1\r\n!#$%&'*+-.^_`|~09az: v\r\n\r\n", "M-SEARCH", "/a%20b?",
	 "/a%20b", 1, 1, {{"!#$%&'*+-.^_`|~09az", "v"}}},
	{"ABCDEFGHIJKLMNOP /?q HTTP/1.1\r\n\r\n", "ABCDEFGHIJKLMNOP", "/?q", "/", 1, 0,
	 {{NULL, NULL}}},
	{"PUT /x HTTP/1.1\r\nhost: lower\r\nHOST: UPPER\r\n\r\nbody bytes", "PUT", "/x", "/x", 1, 2,
	 {{"host", "lower"}, {"HOST", "UPPER"}}},
	/* One empty line before the request line is skipped. */
	{"\r\nGET /version HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/version", "/version", 1, 1,
	 {{"Host", "a"}}},
	{"\r\nPOST /run HTTP/1.0\r\n\r\n", "POST", "/run", "/run", 0, 0, {{NULL, NULL}}},
	/* absolute-form: routed by its path. */
	{"GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET", "http://127.0.0.1/", "/",
	 1, 1, {{"Host", "127.0.0.1"}}},
	{"POST HTTPS://Example.COM:8088/run?x=/y HTTP/1.1\r\n\r\n", "POST",
	 "HTTPS://Example.COM:8088/run?x=/y", "/run", 1, 0, {{NULL, NULL}}},
	{"GET http://[::1]:80/version HTTP/1.1\r\n\r\n", "GET", "http://[::1]:80/version", "/version",
	 1, 0, {{NULL, NULL}}},
	{"GET http://h HTTP/1.1\r\n\r\n", "GET", "http://h", "", 1, 0, {{NULL, NULL}}},
	{"GET http://h?/a HTTP/1.1\r\n\r\n", "GET", "http://h?/a", "", 1, 0, {{NULL, NULL}}},
	{"GET http://a-b.c_d~e%2A!$&'()*+,;=:/x HTTP/1.0\r\n\r\n", "GET",
	 "http://a-b.c_d~e%2A!$&'()*+,;=:/x", "/x", 0, 0, {{NULL, NULL}}},
};

static void check_valid_request(const struct valid_request *v)
{
	struct http_request req;
	size_t n = strlen(v->raw), head = head_length(v->raw), i;
	int rc, status;

	rc = parse_req(v->raw, n, &req, &status);
	CHECKF(rc == (int)head, "%.40s: rc %d status %d, want %zu", v->raw, rc, status, head);
	if (rc != (int)head)
		return;
	CHECK(counted_eq(req.method, req.method_len, v->method));
	CHECK(counted_eq(req.target, req.target_len, v->target));
	CHECK(counted_eq(req.path, req.path_len, v->path));
	CHECK(req.minor_version == v->minor);
	CHECKF(req.num_headers == v->num_headers, "%.40s: %zu headers", v->raw, req.num_headers);
	for (i = 0; i < 4 && v->headers[i][0]; i++) {
		CHECKF(counted_eq(req.headers[i].name, req.headers[i].name_len, v->headers[i][0]),
		       "header %zu of %.40s", i, v->raw);
		CHECKF(counted_eq(req.headers[i].value, req.headers[i].value_len, v->headers[i][1]),
		       "value %zu of %.40s: [%.*s]", i, v->raw, (int)req.headers[i].value_len,
		       req.headers[i].value);
	}
	/* The same head with only itself in the buffer. */
	CHECK(parse_req(v->raw, head, &req, &status) == (int)head);
	check_request_prefixes(v->raw, head);
}

/* Requests at the limits, built at run time. */
static char big[64 * 1024];

/* start, count header lines (the last one extra bytes longer), CRLF. */
static size_t build_head(const char *start, size_t count, size_t value_len, size_t extra)
{
	size_t n, i, vlen;

	n = (size_t)snprintf(big, sizeof(big), "%s", start);
	for (i = 0; i < count; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-H%zu: ", i);
		vlen = value_len + (i + 1 == count ? extra : 0);
		memset(big + n, 'v', vlen);
		n += vlen;
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	}
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	return n;
}

static size_t build_target(size_t target_len)
{
	size_t n;

	n = (size_t)snprintf(big, sizeof(big), "GET /");
	memset(big + n, 'p', target_len - 1);
	n += target_len - 1;
	n += (size_t)snprintf(big + n, sizeof(big) - n, " HTTP/1.1\r\n\r\n");
	return n;
}

static void test_limits(void)
{
	struct http_request req;
	size_t n, extra;
	int status;

	n = build_head(GET, HTTP_MAX_HEADERS, 3, 0);
	CHECK(parse_req(big, n, &req, &status) == (int)n);
	CHECK(req.num_headers == HTTP_MAX_HEADERS);
	CHECK(counted_eq(req.headers[HTTP_MAX_HEADERS - 1].name,
			 req.headers[HTTP_MAX_HEADERS - 1].name_len, "X-H63"));
	check_request_prefixes(big, n);

	n = build_head(GET, HTTP_MAX_HEADERS + 1, 3, 0);
	CHECK(parse_req(big, n, &req, &status) == HTTP_ERROR && status == 431);

	n = build_target(HTTP_MAX_PATH);
	CHECK(parse_req(big, n, &req, &status) == (int)n);
	CHECK(req.target_len == HTTP_MAX_PATH && req.path_len == HTTP_MAX_PATH);
	check_request_prefixes(big, n);

	n = build_target(HTTP_MAX_PATH + 1);
	CHECK(parse_req(big, n, &req, &status) == HTTP_ERROR && status == 414);

	/* A head of exactly HTTP_MAX_HEADER_BYTES is fine, one byte more is 431. */
	extra = HTTP_MAX_HEADER_BYTES - build_head(GET, 16, 1000, 0);
	n = build_head(GET, 16, 1000, extra);
	CHECK(n == HTTP_MAX_HEADER_BYTES);
	CHECK(parse_req(big, n, &req, &status) == (int)n);
	n = build_head(GET, 16, 1000, extra + 1);
	CHECK(n == HTTP_MAX_HEADER_BYTES + 1);
	CHECK(parse_req(big, n, &req, &status) == HTTP_ERROR && status == 431);
	CHECK(parse_req(big, n - 1, &req, &status) == HTTP_INCOMPLETE);
}

struct invalid_request {
	const char *raw;
	size_t len;
	int status;
};

static const struct invalid_request invalid_requests[] = {
	{S(" / HTTP/1.1\r\n\r\n"), 400},                   /* empty method */
	{S("GE(T / HTTP/1.1\r\n\r\n"), 400},               /* not a tchar */
	{S("G\xc3\x89T / HTTP/1.1\r\n\r\n"), 400},         /* not a tchar */
	{S("ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n"), 501},  /* method too long */
	{S("GET  / HTTP/1.1\r\n\r\n"), 400},               /* two SP */
	{S("GET\t/ HTTP/1.1\r\n\r\n"), 400},               /* HTAB for SP */
	{S("GET /  HTTP/1.1\r\n\r\n"), 400},               /* two SP after target */
	{S("GET ftp://h/ HTTP/1.1\r\n\r\n"), 400},         /* absolute-form, not http */
	{S("GET http:/h/ HTTP/1.1\r\n\r\n"), 400},
	{S("GET http:// HTTP/1.1\r\n\r\n"), 400},          /* no authority */
	{S("GET http:///x HTTP/1.1\r\n\r\n"), 400},
	{S("GET http://u@h/ HTTP/1.1\r\n\r\n"), 400},      /* userinfo */
	{S("GET http://h:8x/ HTTP/1.1\r\n\r\n"), 400},     /* bad port */
	{S("GET http://[::1/ HTTP/1.1\r\n\r\n"), 400},     /* open IP-literal */
	{S("GET http://[]/ HTTP/1.1\r\n\r\n"), 400},
	{S("GET http://h%2/ HTTP/1.1\r\n\r\n"), 400},      /* short escape */
	{S("GET http://h%zz/ HTTP/1.1\r\n\r\n"), 400},
	{S("GET http://h\"/ HTTP/1.1\r\n\r\n"), 400},
	{S("GET h HTTP/1.1\r\n\r\n"), 400},
	{S("CONNECT h:443 HTTP/1.1\r\n\r\n"), 400},        /* authority-form */
	{S("GET *x HTTP/1.1\r\n\r\n"), 400},               /* '*' is alone */
	{S("GET /a\x01 HTTP/1.1\r\n\r\n"), 400},           /* CTL in target */
	{S("GET /a\x7f HTTP/1.1\r\n\r\n"), 400},           /* DEL in target */
	{S("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400},        /* non-ASCII target */
	{S("GET /\0 HTTP/1.1\r\n\r\n"), 400},              /* NUL in target */
	{S("GET /\r\n\r\n"), 400},                         /* no version */
	{S("GET / http/1.1\r\n\r\n"), 400},                /* case of HTTP */
	{S("GET / HTTP/1.2\r\n\r\n"), 505},
	{S("GET / HTTP/2.0\r\n\r\n"), 505},
	{S("GET / HTTP/0.9\r\n\r\n"), 505},
	{S("GET / HTTP/1.10\r\n\r\n"), 400},
	{S("GET / HTTP/1\r\n\r\n"), 400},
	{S("GET / HTTP/1.x\r\n\r\n"), 400},
	{S("GET / HTTP/1.1 \r\n\r\n"), 400},               /* SP after version */
	{S("GET / HTTP/1.1\n\r\n"), 400},                  /* bare LF, request line */
	{S(GET "Host: a\n\r\n"), 400},                     /* bare LF, field line */
	{S(GET "Host: a\r\n\n"), 400},                     /* bare LF, empty line */
	{S(GET "\n"), 400},                                /* bare LF, empty line */
	{S("GET / HTTP/1.1\rX\n\r\n"), 400},               /* lone CR */
	{S(GET "Host: a\rb\r\n\r\n"), 400},                /* lone CR in value */
	{S(GET "Host: a\r\n\rX"), 400},                    /* lone CR at the end */
	{S(GET "\r\r\n"), 400},                            /* lone CR at the end */
	{S(GET "Host: a\r\n b\r\n\r\n"), 400},             /* obs-fold with SP */
	{S(GET "Host: a\r\n\tb\r\n\r\n"), 400},            /* obs-fold with HTAB */
	{S(GET " Host: a\r\n\r\n"), 400},                  /* SP before first field */
	{S(GET "Host: a\0b\r\n\r\n"), 400},                /* NUL in value */
	{S(GET "Host: a\nb\r\n\r\n"), 400},                /* LF in value */
	{S(GET "Host: a\x01\r\n\r\n"), 400},               /* CTL in value */
	{S(GET "Host: a\x1f\r\n\r\n"), 400},               /* CTL in value */
	{S(GET "Host: a\x7f\r\n\r\n"), 400},               /* DEL in value */
	{S(GET ": a\r\n\r\n"), 400},                       /* empty name */
	{S(GET "Host : a\r\n\r\n"), 400},                  /* SP before colon */
	{S(GET "Host\t: a\r\n\r\n"), 400},                 /* HTAB before colon */
	{S(GET "Ho(st: a\r\n\r\n"), 400},                  /* not a tchar */
	{S(GET "H\xc3\xa9: a\r\n\r\n"), 400},              /* obs-text in a name */
	{S(GET "Host a\r\n\r\n"), 400},                    /* no colon */
	{S(GET "Host\r\n\r\n"), 400},                      /* no colon */
	{S("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 400},        /* two empty lines first */
	{S("\nGET / HTTP/1.1\r\n\r\n"), 400},              /* bare LF first */
	{S("\rGET / HTTP/1.1\r\n\r\n"), 400},              /* lone CR first */
	{S(" \r\nGET / HTTP/1.1\r\n\r\n"), 400},           /* not an empty line */
};

static void test_invalid_requests(void)
{
	struct http_request req;
	size_t i;
	int rc, status;

	for (i = 0; i < sizeof(invalid_requests) / sizeof(invalid_requests[0]); i++) {
		const struct invalid_request *v = &invalid_requests[i];

		rc = parse_req(v->raw, v->len, &req, &status);
		CHECKF(rc == HTTP_ERROR && status == v->status, "row %zu (%.30s): rc %d status %d", i,
		       v->raw, rc, status);
	}
}

struct host_case {
	const char *raw; /* a whole head */
	int rc;
};

static const struct host_case host_cases[] = {
	{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0},
	{"GET / HTTP/1.1\r\nhOsT: 127.0.0.1:8088\r\n\r\n", 0},
	{"GET / HTTP/1.1\r\nHost:\r\n\r\n", 0},                    /* empty: allowed */
	{"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0},
	{"GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n", 0},
	{"GET / HTTP/1.1\r\nHost: xn--caf-dma.example\r\n\r\n", 0},
	{"GET / HTTP/1.1\r\nHost: a%41b:\r\n\r\n", 0},              /* escape; empty port */
	{"GET http://other/ HTTP/1.1\r\nHost: a\r\n\r\n", 0},      /* Host still required, not compared */
	{"GET / HTTP/1.0\r\n\r\n", 0},                             /* 1.0 needs none */
	{"GET / HTTP/1.0\r\nHost: a\r\n\r\n", 0},
	{"GET / HTTP/1.1\r\n\r\n", -1},                            /* 1.1 needs one */
	{"GET http://h/ HTTP/1.1\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", -1},      /* two lines, even equal */
	{"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 0},                 /* a sub-delim: valid reg-name */
	{"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", -1},
	{"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", -1},
	{"GET / HTTP/1.0\r\nHost: \"a\"\r\n\r\n", -1},
};

static void test_host(void)
{
	struct http_request req;
	size_t i, n;
	int rc, status;

	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		n = strlen(host_cases[i].raw);
		rc = parse_req(host_cases[i].raw, n, &req, &status);
		CHECKF(rc == (int)n, "host row %zu does not parse: %d", i, rc);
		if (rc != (int)n)
			continue;
		CHECKF(http_request_host(&req) == host_cases[i].rc, "host row %zu", i);
	}
	CHECK(http_authority_valid(guarded("", 0), 0));
	CHECK(http_authority_valid(guarded(S("h:")), 2));
	CHECK(!http_authority_valid(guarded(S("%")), 1));
	CHECK(!http_authority_valid(guarded(S("%4")), 2));
	CHECK(!http_authority_valid(guarded(S("[")), 1));
	CHECK(http_authority_valid(guarded(S(":")), 1)); /* empty host and port */
}

struct text_case {
	const char *v;
	bool want;
};

static const struct text_case media_cases[] = {
	{"application/json", true},
	{"Application/JSON", true},
	{"application/json; charset=utf-8", true},
	{"application/json\t; charset=utf-8", true},
	{"application/json;charset=utf-8", true},
	{"application/json ;\tcharset=\"utf-8\"", true},
	{"application/json; a=\"q \\\" s\"; b=c", true},
	{"application/json;", true},
	{"application/json; ;a=b", true},
	{"application/json x", false},
	{"application/jsonx", false},
	{"application/json+x", false},
	{"application/x-json", false},
	{"text/plain", false},
	{"application/", false},
	{"/json", false},
	{"application json", false},
	{"application/json; charset", false},
	{"application/json; charset=", false},
	{"application/json; =utf-8", false},
	{"application/json; a=\"open", false},
	{"application/json; a=\"esc\\", false},
	{"application/json; a=b c", false},
	{"application/json, text/plain", false},
	{"", false},
};

static const struct text_case identity_cases[] = {
	{"identity", true},
	{"IDENTITY", true},
	{"", true},
	{" , identity ,\t", true},
	{"identity, identity", true},
	{"gzip", false},
	{"identity, gzip", false},
	{"identity;q=1", false},
	{"identityx", false},
	{"x-identity", false},
};

static void test_field_values(void)
{
	size_t i, n;
	const char *v;

	for (i = 0; i < sizeof(media_cases) / sizeof(media_cases[0]); i++) {
		n = strlen(media_cases[i].v);
		v = guarded(media_cases[i].v, n);
		CHECKF(http_media_type_is(v, n, "application/json") == media_cases[i].want,
		       "media type [%s]", media_cases[i].v);
	}
	for (i = 0; i < sizeof(identity_cases) / sizeof(identity_cases[0]); i++) {
		n = strlen(identity_cases[i].v);
		v = guarded(identity_cases[i].v, n);
		CHECKF(http_list_only(v, n, "identity") == identity_cases[i].want, "coding list [%s]",
		       identity_cases[i].v);
	}
}

static void test_unique(void)
{
	static const struct http_header h[] = {
		{"Host", 4, "a", 1},
		{"X-Access-Token", 14, "t", 1},
		{"x-access-token", 14, "t", 1},
		{"Authorization", 13, "Bearer t", 8},
	};
	const struct http_header *f = &h[0];

	CHECK(http_header_unique(h, 4, "host", &f) == 0 && f == &h[0]);
	CHECK(http_header_unique(h, 4, "Authorization", &f) == 0 && f == &h[3]);
	CHECK(http_header_unique(h, 4, "Content-Type", &f) == 0 && f == NULL);
	CHECK(http_header_unique(h, 4, "X-Access-Token", &f) == -1);
	CHECK(http_header_unique(h, 2, "X-Access-Token", &f) == 0 && f == &h[1]);
	CHECK(http_header_unique(h, 0, "Host", &f) == 0 && f == NULL);
}

typedef const char *(*head_check)(const struct http_request *, const char **, size_t *);

/*
 * What check says of "GET / HTTP/1.1" with fields: want, the token (NULL:
 * none), or why, the refusal's text.
 */
static void check_head(head_check check, const char *fields, const char *want, const char *why)
{
	char raw[512];
	struct http_request req;
	const char *tok, *got;
	size_t len;
	int status, rc, n = snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\n%s\r\n", fields);

	rc = parse_req(raw, (size_t)n, &req, &status);
	CHECKF(rc > 0, "parse %s: %d (status %d)", fields, rc, status);
	if (rc <= 0)
		return;
	got = check(&req, &tok, &len);
	if (why != NULL) {
		CHECKF(got != NULL && strcmp(got, why) == 0, "%s: refused with \"%s\", got \"%s\"", fields, why,
		       got ? got : "(none)");
		return;
	}
	CHECKF(got == NULL, "%s: accepted, got \"%s\"", fields, got ? got : "");
	if (want == NULL)
		CHECKF(tok == NULL && len == 0, "%s: no token", fields);
	else
		CHECKF(tok != NULL && len == strlen(want) && memcmp(tok, want, len) == 0, "%s: token %s, got %.*s",
		       fields, want, (int)len, tok ? tok : "");
}

/*
 * Which token a head carries: X-Access-Token (docker-run's), X-API-Key
 * (seed 004's) or Authorization: Bearer; each field at most once, and
 * fields that carry a token carry the same one.
 */
static void check_token(const char *fields, const char *want, const char *why)
{
	char with_host[400];

	snprintf(with_host, sizeof(with_host), "Host: x\r\n%s", fields);
	check_head(http_request_token, with_host, want, why);
}

/* The checks every head meets before it is routed, whoever reads it (the reader or a front). */
static void check_fields(const char *fields, const char *want, const char *why)
{
	check_head(http_request_fields, fields, want, why);
}

static void test_request_fields(void)
{
	const char *p;
	size_t n;
	struct http_request req;
	int status;
	static const char abs_none[] = "GET http://x HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char abs_path[] = "GET http://x/run?a HTTP/1.1\r\nHost: x\r\n\r\n";

	check_fields("Host: x\r\n", NULL, NULL);
	check_fields("Host: x\r\nX-Access-Token: t\r\nContent-Type: application/json\r\n", "t", NULL);
	check_fields("", NULL, "Host field missing, repeated or invalid");
	check_fields("Host: x\r\nHost: x\r\n", NULL, "Host field missing, repeated or invalid");
	check_fields("Host: a b\r\n", NULL, "Host field missing, repeated or invalid");
	check_fields("Host: x\r\nContent-Type: a/b\r\ncontent-type: a/b\r\n", NULL, "More than one Content-Type field");
	check_fields("Host: x\r\nX-API-Key: a\r\nX-Access-Token: b\r\n", NULL, "X-Access-Token and X-API-Key differ");
	/* Host is judged first: a head wrong twice says so once, for the Host. */
	check_fields("X-Access-Token: a\r\nX-Access-Token: a\r\n", NULL, "Host field missing, repeated or invalid");

	CHECK(parse_req(abs_none, sizeof(abs_none) - 1, &req, &status) > 0);
	http_route_path(&req, &p, &n);
	CHECK(n == 1 && p[0] == '/');
	CHECK(parse_req(abs_path, sizeof(abs_path) - 1, &req, &status) > 0);
	http_route_path(&req, &p, &n);
	CHECK(n == 4 && memcmp(p, "/run", 4) == 0);
}

static void test_request_token(void)
{
	check_token("", NULL, NULL);
	check_token("X-Access-Token: abc\r\n", "abc", NULL);
	check_token("x-api-key: abc\r\n", "abc", NULL);
	check_token("Authorization: Bearer abc\r\n", "abc", NULL);
	check_token("Authorization: bearer   abc\r\n", "abc", NULL);
	check_token("Authorization: Basic YWJj\r\n", NULL, NULL); /* another scheme: ignored */
	check_token("Authorization: Basic YWJj\r\nX-Access-Token: abc\r\n", "abc", NULL);
	check_token("Authorization: Bearer\r\nX-Access-Token: abc\r\n", "abc", NULL);
	check_token("Authorization: Bearerabc\r\n", NULL, NULL);
	check_token("X-Access-Token: abc\r\nX-API-Key: abc\r\nAuthorization: Bearer abc\r\n", "abc", NULL);
	check_token("X-Access-Token: abc\r\nX-Access-Token: abc\r\n", NULL, "More than one X-Access-Token field");
	check_token("X-Access-Token: abc\r\nx-access-token: abd\r\n", NULL, "More than one X-Access-Token field");
	check_token("X-API-Key: a\r\nX-API-Key: a\r\n", NULL, "More than one X-API-Key field");
	check_token("Authorization: Bearer a\r\nAuthorization: Basic b\r\n", NULL,
		    "More than one Authorization field");
	check_token("X-Access-Token: abc\r\nX-API-Key: abd\r\n", NULL, "X-Access-Token and X-API-Key differ");
	check_token("X-Access-Token: abc\r\nAuthorization: Bearer abd\r\n", NULL, "The token fields differ");
	check_token("X-API-Key: abc\r\nAuthorization: Bearer ab\r\n", NULL, "The token fields differ");
}

/*
 * The front's reading loop: bytes arrive in pieces, and the head is parsed
 * again only when http_head_may_end says so.  It must end exactly as one
 * parse of the whole input would, with at most a parse per line (plus the
 * first read and the limit) however the bytes are cut.
 */
static int feed_head(const char *raw, size_t n, size_t piece, int *status, size_t *parses)
{
	struct http_request req;
	size_t len = 0, parsed = 0;
	int rc = HTTP_INCOMPLETE;

	*parses = 0;
	while (len < n) {
		len = len + piece < n ? len + piece : n;
		if (!http_head_may_end(raw, len, parsed))
			continue;
		(*parses)++;
		rc = parse_req(raw, len, &req, status);
		if (rc != HTTP_INCOMPLETE)
			return rc;
		parsed = len;
	}
	return rc;
}

/* Control bytes: each makes at most two parses (a CR: its own, and the byte after it). */
static size_t count_ctl(const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += ((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f;
	return k;
}

static void check_feed(const char *raw, size_t n)
{
	struct http_request req;
	size_t piece, parses;
	int want, want_status = 0, rc, status = 0;

	want = parse_req(raw, n, &req, &want_status);
	for (piece = 1; piece <= 64; piece = piece * 2 + 1) {
		rc = feed_head(raw, n, piece, &status, &parses);
		if (want == HTTP_ERROR)
			CHECKF(rc == HTTP_ERROR && status == want_status,
			       "fed %.30s... in %zu-byte pieces: rc %d status %d", raw, piece, rc, status);
		else
			CHECKF(rc == want, "fed %.30s... in %zu-byte pieces: rc %d, want %d", raw, piece, rc,
			       want);
		CHECKF(parses <= 2 * count_ctl(raw, n) + 2, "fed %.30s...: %zu parses", raw, parses);
	}
}

static void test_head_may_end(void)
{
	size_t i, n;

	CHECK(http_head_may_end(guarded(S("G")), 1, 0));
	CHECK(!http_head_may_end(guarded(S("GET / HT")), 8, 3));
	CHECK(http_head_may_end(guarded(S("GET /\n")), 6, 3));
	CHECK(!http_head_may_end(guarded(S("GET /\nX")), 7, 6));
	CHECK(http_head_may_end(guarded(S("GET /\rX")), 7, 6));  /* a lone CR shows */
	CHECK(http_head_may_end(guarded(S("GET /\0")), 6, 5));
	CHECK(http_head_may_end(guarded(S("GET /\x7f")), 6, 5));
	CHECK(!http_head_may_end(guarded(S("GET /\t\x80\xff")), 8, 5));
	CHECK(!http_head_may_end(guarded(S("GET /")), 5, 5));
	for (i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]); i++)
		check_feed(valid_requests[i].raw, head_length(valid_requests[i].raw));
	for (i = 0; i < sizeof(invalid_requests) / sizeof(invalid_requests[0]); i++)
		check_feed(invalid_requests[i].raw, invalid_requests[i].len);
	/* The limit: one long line is parsed again once it reaches it. */
	n = build_head(GET, 1, HTTP_MAX_HEADER_BYTES, 0);
	check_feed(big, n);
	n = build_target(HTTP_MAX_HEADER_BYTES);
	check_feed(big, n);
	n = build_head(GET, HTTP_MAX_HEADERS + 1, 3, 0);
	check_feed(big, n);
}

struct framing_case {
	const char *raw; /* headers after "POST / HTTP/1.1\r\n", or a whole head */
	int rc, status;
	enum http_body_kind kind;
	uint64_t content_length;
	bool expect_continue;
};

#define POST "POST / HTTP/1.1\r\n"

static const struct framing_case framing_cases[] = {
	{POST "\r\n", 0, 0, HTTP_BODY_NONE, 0, false},
	{POST "Content-Length: 0\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 0, false},
	{POST "Content-Length: 42\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 42, false},
	{POST "content-length:  007 \r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 7, false},
	{POST "Content-Length: 9999999999999999999\r\n\r\n", 0, 0, HTTP_BODY_LENGTH,
	 UINT64_C(9999999999999999999), false},
	{POST "Content-Length: 5, 5\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 5, false},
	{POST "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 5, false},
	{POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 5,6\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 5,\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: ,5\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 18446744073709551615\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 00000000000000000001\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 1, false},
	{POST "Content-Length: 0000000000000000000000000000009999999999999999999\r\n\r\n", 0, 0,
	 HTTP_BODY_LENGTH, UINT64_C(9999999999999999999), false},
	{POST "Content-Length: 00\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 0, false},
	{POST "Content-Length: 05, 5\r\nContent-Length: 005\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 5, false},
	{POST "Content-Length: 10000000000000000000\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 0010000000000000000000\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 99999999999999999999999\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: -1\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: +1\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 1 2\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 1a\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 0x10\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length:\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Transfer-Encoding: chunked\r\n\r\n", 0, 0, HTTP_BODY_CHUNKED, 0, false},
	{POST "transfer-encoding: ChUnKeD \r\n\r\n", 0, 0, HTTP_BODY_CHUNKED, 0, false},
	{POST "Transfer-Encoding: gzip\r\n\r\n", -1, 501, 0, 0, false},
	{POST "Transfer-Encoding: identity\r\n\r\n", -1, 501, 0, 0, false},
	{POST "Transfer-Encoding: gzip, chunked\r\n\r\n", -1, 501, 0, 0, false},
	{POST "Transfer-Encoding: chunked, chunked\r\n\r\n", -1, 501, 0, 0, false},
	{POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", -1, 501, 0, 0,
	 false},
	{POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n", -1, 400, 0, 0, false},
	{POST "Content-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n", -1, 400, 0, 0, false},
	{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -1, 400, 0, 0, false},
	{"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 3, false},
	{POST "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", 0, 0, HTTP_BODY_LENGTH, 3, true},
	{POST "Expect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, HTTP_BODY_CHUNKED,
	 0, true},
	{"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", 0, 0,
	 HTTP_BODY_LENGTH, 3, false},
	{POST "Expect: 200-ok\r\nContent-Length: 3\r\n\r\n", -1, 417, 0, 0, false},
	{POST "Expect:\r\n\r\n", -1, 417, 0, 0, false},
	{POST "Expect: 100-continue, foo\r\n\r\n", -1, 417, 0, 0, false},
};

static void test_request_framing(void)
{
	struct http_request req;
	struct http_framing f;
	size_t i, n;
	int rc, status;

	for (i = 0; i < sizeof(framing_cases) / sizeof(framing_cases[0]); i++) {
		const struct framing_case *c = &framing_cases[i];

		n = strlen(c->raw);
		rc = parse_req(c->raw, n, &req, &status);
		CHECKF(rc == (int)n, "framing row %zu does not parse: %d", i, rc);
		if (rc != (int)n)
			continue;
		status = 0;
		rc = http_request_framing(&req, &f, &status);
		CHECKF(rc == c->rc, "framing row %zu: rc %d", i, rc);
		if (rc < 0) {
			CHECKF(status == c->status, "framing row %zu: status %d", i, status);
			continue;
		}
		CHECKF(f.kind == c->kind && f.content_length == c->content_length &&
			       f.expect_continue == c->expect_continue,
		       "framing row %zu: kind %d length %llu expect %d", i, f.kind,
		       (unsigned long long)f.content_length, f.expect_continue);
	}
}

/*
 * Feed in[0..n) to a fresh decoder in pieces cut at cuts[], each piece
 * against the guard page.  Decoded bytes are appended to out, and what
 * follows the body (the returned count, plus any pieces not fed) to rest.
 */
static ssize_t decode_cut(const char *in, size_t n, const size_t *cuts, size_t ncuts, char *out,
			  size_t *outlen, char *rest, size_t *restlen)
{
	struct http_chunked d;
	size_t start = 0, end, i, len;
	ssize_t rc = HTTP_INCOMPLETE;
	char *p;

	memset(&d, 0, sizeof(d));
	*outlen = 0;
	*restlen = 0;
	for (i = 0; i <= ncuts && start < n; i++, start = end) {
		end = i < ncuts ? cuts[i] : n;
		if (end <= start)
			continue;
		p = guarded(in + start, end - start);
		len = end - start;
		rc = http_chunked_decode(&d, p, &len);
		memcpy(out + *outlen, p, len);
		*outlen += len;
		if (rc == HTTP_ERROR)
			return rc;
		if (rc >= 0) {
			memcpy(rest, p + len, (size_t)rc);
			memcpy(rest + rc, in + end, n - end);
			*restlen = (size_t)rc + n - end;
			return (ssize_t)*restlen;
		}
	}
	return rc;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static char dec_out[64 * 1024], dec_rest[64 * 1024];
static size_t cuts[64 * 1024];

/* Decode whole, byte by byte and at random cuts; all must agree. */
static void check_chunked(const char *in, size_t n, ssize_t want_rc, const char *want, size_t want_len,
			  const char *want_rest)
{
	size_t outlen, restlen, i, round, ncuts;
	ssize_t rc;

	for (round = 0; round < 12; round++) {
		if (round == 0) {
			ncuts = 0;
		} else if (round == 1) {
			for (ncuts = 0; ncuts + 1 < n; ncuts++)
				cuts[ncuts] = ncuts + 1;
		} else {
			ncuts = n > 1 ? 1 + rng() % (n < 8 ? n : 8) : 0;
			for (i = 0; i < ncuts; i++)
				cuts[i] = rng() % n;
			qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);
		}
		rc = decode_cut(in, n, cuts, ncuts, dec_out, &outlen, dec_rest, &restlen);
		CHECKF(rc == want_rc, "chunked %.20s... round %zu: rc %zd, want %zd", in, round, rc,
		       want_rc);
		if (rc < 0 || rc != want_rc)
			continue;
		CHECKF(outlen == want_len && memcmp(dec_out, want, want_len) == 0,
		       "chunked %.20s... round %zu: decoded %zu bytes", in, round, outlen);
		CHECKF(restlen == strlen(want_rest) && memcmp(dec_rest, want_rest, restlen) == 0,
		       "chunked %.20s... round %zu: rest", in, round);
	}
}

struct chunked_case {
	const char *in;
	size_t len;
	ssize_t rc;
	const char *out;
	size_t out_len;
	const char *rest;
};

#define ERR HTTP_ERROR, "", 0, ""

static const struct chunked_case chunked_cases[] = {
	{S("5\r\nhello\r\n0\r\n\r\n"), 0, S("hello"), ""},
	{S("0\r\n\r\n"), 0, S(""), ""},
	{S("5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"), 0, S("hello world"), ""},
	{S("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n"), 0, S("0123456789abcdefghij"), ""},
	{S("0005\r\nhello\r\n000\r\n\r\n"), 0, S("hello"), ""},
	{S("000000000000005\r\nhello\r\n0\r\n\r\n"), 0, S("hello"), ""},
	{S("4\r\n\r\n\r\n\r\n0\r\n\r\n"), 0, S("\r\n\r\n"), ""},
	{S("3\r\n\0\n\r\r\n0\r\n\r\n"), 0, S("\0\n\r"), ""},
	{S("5;foo=bar\r\nhello\r\n0;last\r\n\r\n"), 0, S("hello"), ""},
	{S("5 ; a=\"q s\";b\t;c=d\r\nhello\r\n0\r\n\r\n"), 0, S("hello"), ""},
	{S("5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: caf\xc3\xa9\r\n\r\n"), 0, S("hello"), ""},
	{S("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), 16, S("hello"), "GET / HTTP/1.1\r\n"},
	{S("0\r\nT: v\r\n\r\nX"), 1, S(""), "X"},
	{S("g\r\nhello\r\n0\r\n\r\n"), ERR},
	{S("\r\nhello\r\n0\r\n\r\n"), ERR},
	{S(" 5\r\nhello\r\n0\r\n\r\n"), ERR},
	{S("-5\r\nhello\r\n0\r\n\r\n"), ERR},
	{S("0x5\r\nhello\r\n0\r\n\r\n"), ERR},
	{S(";a\r\nhello\r\n0\r\n\r\n"), ERR},
	{S("0000000000000005\r\nhello\r\n0\r\n\r\n"), 0, S("hello"), ""}, /* leading zeros */
	{S("00000000000000000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n"), 0,
	 S("hello"), ""},
	{S("00000000000000000000fffffffffffffff\r\nab"), HTTP_INCOMPLETE, S(""), ""}, /* 15 digits */
	{S("1000000000000000\r\nhello\r\n0\r\n\r\n"), ERR},   /* 16 digits */
	{S("000001000000000000000\r\nhello\r\n0\r\n\r\n"), ERR},
	{S("ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"), ERR},
	{S("5\r\nhelloX\r\n0\r\n\r\n"), ERR},                /* no CRLF after data */
	{S("5\r\nhello\rX0\r\n\r\n"), ERR},
	{S("5\r\nhello\n0\r\n\r\n"), ERR},                   /* bare LF after data */
	{S("5\nhello\r\n0\r\n\r\n"), ERR},                   /* bare LF after size */
	{S("5\rhello\r\n0\r\n\r\n"), ERR},                   /* lone CR */
	{S("5 \r\nhello\r\n0\r\n\r\n"), ERR},                /* BWS without ext */
	{S("5;a\x01\r\nhello\r\n0\r\n\r\n"), ERR},           /* CTL in ext */
	{S("5;a\nhello\r\n0\r\n\r\n"), ERR},                 /* bare LF after ext */
	{S("5\r\nhello\r\n0\r\n\n"), ERR},                   /* bare LF at the end */
	{S("5\r\nhello\r\n0\r\n\rX"), ERR},
	{S("0\r\nX\r\n\r\n"), ERR},                          /* trailer without colon */
	{S("0\r\n: v\r\n\r\n"), ERR},                        /* empty trailer name */
	{S("0\r\nX : v\r\n\r\n"), ERR},
	{S("0\r\nX: a\r\n b\r\n\r\n"), ERR},                 /* obs-fold */
	{S("0\r\nX: a\0\r\n\r\n"), ERR},                     /* NUL in trailer */
	{S("0\r\nX: a\n\r\n"), ERR},                         /* bare LF in trailer */
	{S("0\r\nX: a\rb\r\n\r\n"), ERR},
};

static char chunk_in[64 * 1024], chunk_want[64 * 1024];

static void test_chunked_generated(void)
{
	struct http_chunked d;
	size_t n = 0, w = 0, i, len;

	/* Many one-byte chunks: per-chunk overhead must not use up a budget. */
	for (i = 0; i < 5000; i++) {
		n += (size_t)snprintf(chunk_in + n, sizeof(chunk_in) - n, "1\r\n%c\r\n", 'a' + (int)(i % 26));
		chunk_want[w++] = (char)('a' + i % 26);
	}
	n += (size_t)snprintf(chunk_in + n, sizeof(chunk_in) - n, "0\r\n\r\n");
	check_chunked(chunk_in, n, 0, chunk_want, w, "");

	/* One large chunk of binary data. */
	n = (size_t)snprintf(chunk_in, sizeof(chunk_in), "%x\r\n", 30000);
	for (i = 0; i < 30000; i++)
		chunk_in[n++] = chunk_want[i] = (char)rng();
	n += (size_t)snprintf(chunk_in + n, sizeof(chunk_in) - n, "\r\n0\r\n\r\n");
	check_chunked(chunk_in, n, 0, chunk_want, 30000, "");

	/* Extensions over the budget. */
	n = (size_t)snprintf(chunk_in, sizeof(chunk_in), "1;");
	memset(chunk_in + n, 'e', HTTP_MAX_HEADER_BYTES);
	n += HTTP_MAX_HEADER_BYTES;
	n += (size_t)snprintf(chunk_in + n, sizeof(chunk_in) - n, "\r\nx\r\n0\r\n\r\n");
	check_chunked(chunk_in, n, HTTP_ERROR, "", 0, "");

	/* Trailers just within the budget, then just over it. */
	n = (size_t)snprintf(chunk_in, sizeof(chunk_in), "0\r\nT: ");
	memset(chunk_in + n, 't', HTTP_MAX_HEADER_BYTES - 7);
	n += HTTP_MAX_HEADER_BYTES - 7;
	n += (size_t)snprintf(chunk_in + n, sizeof(chunk_in) - n, "\r\n\r\n");
	check_chunked(chunk_in, n, 0, "", 0, "");
	memmove(chunk_in + 4, chunk_in + 3, n - 3);
	chunk_in[3] = 'U';
	check_chunked(chunk_in, n + 1, HTTP_ERROR, "", 0, "");

	/* Done is done: later bytes are all "after the body"; errors stick. */
	memset(&d, 0, sizeof(d));
	memcpy(chunk_in, "0\r\n\r\n", 5);
	len = 5;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == 0 && len == 0);
	memcpy(chunk_in, "abc", 3);
	len = 3;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == 3 && len == 0 && memcmp(chunk_in, "abc", 3) == 0);
	memset(&d, 0, sizeof(d));
	memcpy(chunk_in, "z\r\n", 3);
	len = 3;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == HTTP_ERROR);
	memcpy(chunk_in, "0\r\n\r\n", 5);
	len = 5;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == HTTP_ERROR);
	/* A size counts as soon as its digits arrive: a caller can refuse it before the line ends. */
	memset(&d, 0, sizeof(d));
	memcpy(chunk_in, "00210", 5);
	len = 5;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == HTTP_INCOMPLETE && len == 0 &&
	      d.remaining == 0x210);
	memcpy(chunk_in, "0\r\nab", 5);
	len = 5;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == HTTP_INCOMPLETE && len == 2 &&
	      d.remaining == 0x2100 - 2);
	/* Nothing new: still incomplete. */
	memset(&d, 0, sizeof(d));
	len = 0;
	CHECK(http_chunked_decode(&d, chunk_in, &len) == HTTP_INCOMPLETE && len == 0);
}

static void test_chunked(void)
{
	size_t i;

	for (i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]); i++) {
		const struct chunked_case *c = &chunked_cases[i];

		check_chunked(c->in, c->len, c->rc, c->out, c->out_len, c->rest);
	}
	/* Every strict prefix of a valid body is incomplete. */
	for (i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]); i++) {
		const struct chunked_case *c = &chunked_cases[i];
		size_t k, outlen, restlen, bad = 0;
		size_t body = c->len - strlen(c->rest);

		for (k = 0; c->rc >= 0 && k < body; k++) {
			if (decode_cut(c->in, k, NULL, 0, dec_out, &outlen, dec_rest, &restlen) !=
			    HTTP_INCOMPLETE)
				bad++;
		}
		CHECKF(bad == 0, "chunked row %zu: %zu prefixes not incomplete", i, bad);
	}
	/* Decoded bytes plus remaining never overstate the body, byte by byte. */
	for (i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]); i++) {
		const struct chunked_case *c = &chunked_cases[i];
		struct http_chunked d;
		size_t k, len, decoded = 0, bad = 0;
		ssize_t rc = HTTP_INCOMPLETE;

		memset(&d, 0, sizeof(d));
		for (k = 0; c->rc >= 0 && k < c->len && rc == HTTP_INCOMPLETE; k++) {
			len = 1;
			rc = http_chunked_decode(&d, guarded(c->in + k, 1), &len);
			decoded += len;
			bad += decoded + d.remaining > c->out_len;
		}
		CHECKF(bad == 0, "chunked row %zu: %zu bytes overstate the body", i, bad);
	}
	test_chunked_generated();
}

struct response_case {
	const char *raw; /* the head, then maybe a body */
	int minor, status;
	const char *reason;
	size_t num_headers;
	int framing_rc;
	enum http_body_kind kind;
	uint64_t content_length;
};

static const struct response_case responses[] = {
	{"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
	 "Content-Length: 2\r\n\r\n{}",
	 1, 200, "OK", 3, 0, HTTP_BODY_LENGTH, 2},
	{"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
	 "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
	 1, 101, "UPGRADED", 3, 0, HTTP_BODY_NONE, 0},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 200, "OK", 1, 0,
	 HTTP_BODY_CHUNKED, 0},
	{"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n", 0, 200, "OK", 1, 0, HTTP_BODY_CLOSE, 0},
	{"HTTP/1.1 201 Created\r\nContent-Length: 88\r\n\r\n", 1, 201, "Created", 1, 0,
	 HTTP_BODY_LENGTH, 88},
	{"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 1, 204, "No Content", 1, 0,
	 HTTP_BODY_NONE, 0},
	{"HTTP/1.1 304 Not Modified\r\n\r\n", 1, 304, "Not Modified", 0, 0, HTTP_BODY_NONE, 0},
	{"HTTP/1.1 100 Continue\r\n\r\n", 1, 100, "Continue", 0, 0, HTTP_BODY_NONE, 0},
	{"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", 1, 404, "", 1, 0, HTTP_BODY_LENGTH, 0},
	{"HTTP/1.1 500\r\n\r\n", 1, 500, "", 0, 0, HTTP_BODY_CLOSE, 0},
	{"HTTP/1.1 409 Con flict \xe2\x9c\x97\r\n\r\n", 1, 409, "Con flict \xe2\x9c\x97", 0, 0,
	 HTTP_BODY_CLOSE, 0},
	{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 1, 200, "OK", 1, -1, 0, 0},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 1, 200, "OK", 2, -1,
	 0, 0},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 200, "OK",
	 2, -1, 0, 0},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 1, 200, "OK", 1, -1, 0, 0},
};

static const struct invalid_request invalid_responses[] = {
	{S("HTTP/1.1 20 OK\r\n\r\n"), -1},
	{S("HTTP/1.1 2000 OK\r\n\r\n"), -1},
	{S("HTTP/1.1 099 Low\r\n\r\n"), -1},
	{S("HTTP/1.1  200 OK\r\n\r\n"), -1},
	{S("HTTP/1.2 200 OK\r\n\r\n"), -1},
	{S("HTTP/2 200 OK\r\n\r\n"), -1},
	{S("http/1.1 200 OK\r\n\r\n"), -1},
	{S("HTTP/1.1 200 OK\n\r\n"), -1},
	{S("HTTP/1.1 200 O\0K\r\n\r\n"), -1},
	{S("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"), -1},
	{S("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"), -1},
	{S("HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n"), -1},
	{S("HTTP/1.1 200 OK\r\nA: b\r\n\n"), -1},
};

static void test_responses(void)
{
	struct http_response res;
	struct http_framing f;
	size_t i, n, head;
	int rc;

	for (i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		const struct response_case *c = &responses[i];

		n = strlen(c->raw);
		head = head_length(c->raw);
		rc = parse_res(c->raw, n, &res);
		CHECKF(rc == (int)head, "response row %zu: rc %d", i, rc);
		if (rc != (int)head)
			continue;
		CHECKF(res.minor_version == c->minor && res.status == c->status &&
			       counted_eq(res.reason, res.reason_len, c->reason) &&
			       res.num_headers == c->num_headers,
		       "response row %zu: fields", i);
		rc = http_response_framing(&res, &f);
		CHECKF(rc == c->framing_rc, "response row %zu: framing rc %d", i, rc);
		if (rc == 0)
			CHECKF(f.kind == c->kind && f.content_length == c->content_length,
			       "response row %zu: kind %d", i, f.kind);
		check_response_prefixes(c->raw, head);
	}
	for (i = 0; i < sizeof(invalid_responses) / sizeof(invalid_responses[0]); i++) {
		rc = parse_res(invalid_responses[i].raw, invalid_responses[i].len, &res);
		CHECKF(rc == HTTP_ERROR, "invalid response row %zu: rc %d", i, rc);
	}
	n = build_head("HTTP/1.1 200 OK\r\n", HTTP_MAX_HEADERS, 1, 0);
	CHECK(parse_res(big, n, &res) == (int)n && res.num_headers == HTTP_MAX_HEADERS);
	n = build_head("HTTP/1.1 200 OK\r\n", HTTP_MAX_HEADERS + 1, 1, 0);
	CHECK(parse_res(big, n, &res) == HTTP_ERROR);
}

static void test_format_head(void)
{
	static const char want1[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				    "Content-Length: 13\r\nConnection: close\r\n\r\n";
	static const char want2[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
				    "Connection: close\r\nAllow: GET\r\nX-A: b\r\n\r\n";
	char out[256];
	size_t n1 = sizeof(want1) - 1;

	memset(out, 'x', sizeof(out));
	CHECK(http_format_head(out, sizeof(out), 200, "application/json", 13, NULL) == (int)n1);
	CHECK(strcmp(out, want1) == 0);
	CHECK(http_format_head(out, sizeof(out), 404, NULL, 0, "Allow: GET\r\nX-A: b\r\n") ==
	      (int)sizeof(want2) - 1);
	CHECK(strcmp(out, want2) == 0);
	CHECK(http_format_head(out, n1 + 1, 200, "application/json", 13, NULL) == (int)n1);
	CHECK(http_format_head(out, n1, 200, "application/json", 13, NULL) == -1);
	CHECK(http_format_head(out, 10, 200, "application/json", 13, NULL) == -1);
	CHECK(http_format_head(NULL, 0, 200, NULL, 0, NULL) == -1);
	CHECK(http_format_head(out, sizeof(out), 200, "text/plain\r\nX-Evil: 1", 0, NULL) == -1);
	CHECK(http_format_head(out, sizeof(out), 42, NULL, 0, NULL) == -1);
	CHECK(http_format_head(out, sizeof(out), 299, NULL, 18446744073709551614u, NULL) > 0);
	CHECK(strcmp(out, "HTTP/1.1 299 Unknown\r\nContent-Length: 18446744073709551614\r\n"
			  "Connection: close\r\n\r\n") == 0);
	/* a streamed body: no length at all */
	CHECK(http_format_head(out, sizeof(out), 200, "application/x-ndjson", HTTP_NO_LENGTH,
			       "Transfer-Encoding: chunked\r\n") > 0);
	CHECK(strcmp(out, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
			  "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n") == 0);
}

/* The value of ?name in target, as "=v" / "absent" / "repeated". */
static void query_is(const char *target, const char *name, const char *want)
{
	char head[512], got[256];
	struct http_request req;
	const char *v;
	size_t vn;
	int st, k;

	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: a\r\n\r\n", target);
	CHECKF(parse_req(head, strlen(head), &req, &st) > 0, "%s does not parse", target);
	k = http_query_param(&req, name, &v, &vn);
	if (k == 1)
		snprintf(got, sizeof(got), "=%.*s", (int)vn, v);
	else
		snprintf(got, sizeof(got), "%s", k == 0 ? "absent" : "repeated");
	CHECKF(strcmp(got, want) == 0, "%s ?%s: got %s want %s", target, name, got, want);
}

static void test_query(void)
{
	query_is("/run", "stream", "absent");
	query_is("/run?", "stream", "absent");
	query_is("/run?stream=1", "stream", "=1");
	query_is("/run?stream=true&x=2", "stream", "=true");
	query_is("/run?x=2&stream=0", "stream", "=0");
	query_is("/run?stream", "stream", "=");
	query_is("/run?stream=", "stream", "=");
	query_is("/run?stream=1=2", "stream", "=1=2");
	query_is("/run?&&stream=1&", "stream", "=1");
	query_is("/run?streams=1&Stream=1&stream_=1", "stream", "absent");
	query_is("/run?stream=1&stream=1", "stream", "repeated");
	query_is("/run?stream&stream=0", "stream", "repeated");
	query_is("/run?str%65am=1", "stream", "absent");
	query_is("/run?x=stream", "stream", "absent");
	query_is("http://h:1/run?stream=1", "stream", "=1");
	query_is("http://h?stream=true", "stream", "=true");
	query_is("http://h/?stream", "stream", "=");
	query_is("/run?a=1?stream=1", "stream", "absent");
}

static void test_reasons_and_helpers(void)
{
	static const int codes[] = {100, 101, 200, 204, 400, 401, 404, 405, 408, 411, 413,
				    414, 415, 417, 431, 500, 501, 502, 503, 504, 505};
	static const struct http_header h[] = {
		{"Host", 4, "a", 1},
		{"Content-Length", 14, "1", 1},
		{"content-length", 14, "2", 1},
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		CHECKF(strcmp(http_status_reason(codes[i]), "Unknown") != 0, "no reason for %d", codes[i]);
	CHECK(strcmp(http_status_reason(200), "OK") == 0);
	CHECK(strcmp(http_status_reason(404), "Not Found") == 0);
	CHECK(strcmp(http_status_reason(431), "Request Header Fields Too Large") == 0);
	CHECK(strcmp(http_status_reason(505), "HTTP Version Not Supported") == 0);
	CHECK(strcmp(http_status_reason(299), "Unknown") == 0);

	CHECK(http_header_find(h, 3, "CONTENT-length") == &h[1]);
	CHECK(http_header_find(h, 3, "host") == &h[0]);
	CHECK(http_header_find(h, 3, "Hos") == NULL);
	CHECK(http_header_find(h, 0, "Host") == NULL);
	CHECK(http_token_eq("chunked", 7, "CHUNKED"));
	CHECK(!http_token_eq("chunked", 6, "chunked"));
	CHECK(!http_token_eq("chunked", 7, "chunke"));
	CHECK(http_token_eq("", 0, ""));
	CHECK(!http_token_eq("a", 1, ""));
}

int main(void)
{
	size_t i;

	guard_init();
	for (i = 0; i < sizeof(valid_requests) / sizeof(valid_requests[0]); i++)
		check_valid_request(&valid_requests[i]);
	test_limits();
	test_invalid_requests();
	test_host();
	test_field_values();
	test_unique();
	test_request_token();
	test_request_fields();
	test_head_may_end();
	test_request_framing();
	test_chunked();
	test_responses();
	test_format_head();
	test_query();
	test_reasons_and_helpers();
	return check_done("test_http");
}
