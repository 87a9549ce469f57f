/*
 * Docker attach-stream frames: a table of streams, each fed whole, split
 * at every point, byte by byte and cut at every length, every piece
 * against a guard page so that a read past the input faults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "frame.h"

static char *guard_area;
static size_t guard_size;

static void guard_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	guard_size = (16 * 1024 + page - 1) / page * page;
	guard_area = mmap(NULL, guard_size + page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_area == MAP_FAILED || mprotect(guard_area + guard_size, page, PROT_NONE) != 0) {
		perror("mmap/mprotect guard page");
		exit(2);
	}
}

/* Copy s[0..n) so that its last byte is the last before the guard page. */
static const char *guarded(const char *s, size_t n)
{
	char *p = guard_area + guard_size - n;

	if (n > 0)
		memcpy(p, s, n);
	return p;
}

/* What a stream came to. */
struct seen {
	int rc; /* 0, FRAME_ERROR or FRAME_TOO_BIG */
	char out[256], err[256];
	size_t out_len, err_len;
	unsigned starts[3]; /* frames begun, per stream */
	int bad_event;      /* an event that broke the contract */
};

/* Feed one piece: every event must lie inside it and consume something. */
static void feed(struct frame_parser *p, const char *s, size_t n, struct seen *w)
{
	const char *buf = guarded(s, n);
	struct frame_event ev;
	size_t off = 0;
	ssize_t r;

	if (w->rc != 0)
		return;
	for (;;) {
		r = frame_parse(p, buf + off, n - off, &ev);
		if (r == FRAME_INCOMPLETE) {
			/* Incomplete only once every byte is taken. */
			if (n - off >= FRAME_HEADER && !frame_midway(p))
				w->bad_event = 1;
			return;
		}
		if (r < 0) {
			w->rc = (int)r;
			return;
		}
		if (r == 0 || (size_t)r > n - off || ev.data < buf + off ||
		    ev.data + ev.len > buf + off + (size_t)r || ev.len > ev.frame_len ||
		    (unsigned)ev.stream > FRAME_STDERR) {
			w->bad_event = 1;
			return;
		}
		if (ev.start)
			w->starts[ev.stream]++;
		if (ev.stream == FRAME_STDOUT && w->out_len + ev.len <= sizeof(w->out)) {
			memcpy(w->out + w->out_len, ev.data, ev.len);
			w->out_len += ev.len;
		} else if (ev.stream == FRAME_STDERR && w->err_len + ev.len <= sizeof(w->err)) {
			memcpy(w->err + w->err_len, ev.data, ev.len);
			w->err_len += ev.len;
		}
		off += (size_t)r;
		if (off == n)
			return;
	}
}

#define H(t, n) t, 0, 0, 0, 0, 0, 0, n

static const struct row {
	const char *name;
	unsigned char in[64];
	size_t len;
	uint64_t limit;
	int rc;              /* after all of in */
	bool midway;         /* a frame is unfinished at the end */
	const char *out, *err;
	unsigned starts[3];
} rows[] = {
    {"empty", {0}, 0, 100, 0, false, "", "", {0, 0, 0}},
    {"stdout", {H(1, 2), 'h', 'i'}, 10, 100, 0, false, "hi", "", {0, 1, 0}},
    {"stderr", {H(2, 3), 'e', 'r', 'r'}, 11, 100, 0, false, "", "err", {0, 0, 1}},
    {"stdin, empty", {H(0, 0)}, 8, 100, 0, false, "", "", {1, 0, 0}},
    {"stdin, payload", {H(0, 1), 'x'}, 9, 100, 0, false, "", "", {1, 0, 0}},
    {"stdout, empty", {H(1, 0)}, 8, 100, 0, false, "", "", {0, 1, 0}},
    {"mixed",
     {H(1, 1), 'a', H(2, 2), 'b', 'c', H(1, 0), H(1, 3), 'd', 'e', 'f'},
     8 + 1 + 8 + 2 + 8 + 8 + 3, 100, 0, false, "adef", "bc", {0, 3, 1}},
    {"half a header", {1, 0, 0}, 3, 100, 0, true, "", "", {0, 0, 0}},
    {"half a payload", {H(1, 4), 'a', 'b'}, 10, 100, 0, true, "ab", "", {0, 1, 0}},
    {"type 3", {H(3, 1), 'x'}, 9, 100, FRAME_ERROR, false, "", "", {0, 0, 0}},
    {"type 0xff", {H(0xff, 1), 'x'}, 9, 100, FRAME_ERROR, false, "", "", {0, 0, 0}},
    {"byte 1 set", {1, 1, 0, 0, 0, 0, 0, 1, 'x'}, 9, 100, FRAME_ERROR, false, "", "", {0}},
    {"byte 2 set", {1, 0, 1, 0, 0, 0, 0, 1, 'x'}, 9, 100, FRAME_ERROR, false, "", "", {0}},
    {"byte 3 set", {1, 0, 0, 1, 0, 0, 0, 1, 'x'}, 9, 100, FRAME_ERROR, false, "", "", {0}},
    {"json, not frames", {'{', '"', 's', 't', 'd', 'o', 'u', 't'}, 8, 100, FRAME_ERROR, false,
     "", "", {0}},
    {"good then bad", {H(1, 1), 'a', H(4, 1), 'b'}, 18, 100, FRAME_ERROR, false, "a", "",
     {0, 1, 0}},
    {"at the limit", {H(1, 5), '1', '2', '3', '4', '5'}, 13, 5, 0, false, "12345", "", {0, 1, 0}},
    {"over the limit", {H(1, 5), '1', '2', '3', '4', '5'}, 13, 4, FRAME_TOO_BIG, false, "", "",
     {0}},
    {"limit over frames", {H(1, 3), 'a', 'b', 'c', H(2, 3), 'd', 'e', 'f'}, 22, 5,
     FRAME_TOO_BIG, false, "abc", "", {0, 1, 0}},
    {"stdin counts", {H(0, 3), 'a', 'b', 'c', H(1, 3), 'd', 'e', 'f'}, 22, 5, FRAME_TOO_BIG,
     false, "", "", {1, 0, 0}},
    {"zero limit, empty frame", {H(1, 0)}, 8, 0, 0, false, "", "", {0, 1, 0}},
    {"4 GiB frame", {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'a'}, 9, 1024u * 1024 * 1024,
     FRAME_TOO_BIG, false, "", "", {0}},
    {"4 GiB frame, no limit", {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'a'}, 9, UINT64_MAX, 0, true,
     "a", "", {0, 1, 0}},
};

static void expect(const struct row *r, const struct seen *w, bool midway, const char *how,
		   size_t at)
{
	CHECKF(w->bad_event == 0, "%s, %s %zu: event out of contract", r->name, how, at);
	CHECKF(w->rc == r->rc, "%s, %s %zu: rc %d, want %d", r->name, how, at, w->rc, r->rc);
	CHECKF(w->out_len == strlen(r->out) && memcmp(w->out, r->out, w->out_len) == 0,
	       "%s, %s %zu: stdout %.*s", r->name, how, at, (int)w->out_len, w->out);
	CHECKF(w->err_len == strlen(r->err) && memcmp(w->err, r->err, w->err_len) == 0,
	       "%s, %s %zu: stderr %.*s", r->name, how, at, (int)w->err_len, w->err);
	CHECKF(memcmp(w->starts, r->starts, sizeof(w->starts)) == 0, "%s, %s %zu: starts", r->name,
	       how, at);
	if (r->rc == 0)
		CHECKF(midway == r->midway, "%s, %s %zu: midway", r->name, how, at);
}

/* The whole stream, then split in two at every point, then byte by byte. */
static void test_rows(void)
{
	struct frame_parser p;
	struct seen w;
	size_t i, k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const char *in = (const char *)r->in;

		for (k = 0; k <= r->len; k++) {
			memset(&w, 0, sizeof(w));
			frame_init(&p, r->limit);
			feed(&p, in, k, &w);
			feed(&p, in + k, r->len - k, &w);
			expect(r, &w, frame_midway(&p), "split at", k);
		}
		memset(&w, 0, sizeof(w));
		frame_init(&p, r->limit);
		for (k = 0; k < r->len; k++)
			feed(&p, in + k, 1, &w);
		expect(r, &w, frame_midway(&p), "bytewise", r->len);
	}
}

/*
 * Every truncation of the "mixed" stream: no error, output a prefix of
 * the whole, and midway exactly when the cut is not at a frame boundary.
 */
static void test_truncations(void)
{
	static const size_t bounds[] = {0, 9, 19, 27, 38};
	const struct row *r = &rows[6];
	struct frame_parser p;
	struct seen w;
	size_t k, b;
	bool at_bound;

	CHECK(strcmp(r->name, "mixed") == 0 && r->len == 38);
	for (k = 0; k <= r->len; k++) {
		memset(&w, 0, sizeof(w));
		frame_init(&p, r->limit);
		feed(&p, (const char *)r->in, k, &w);
		for (at_bound = false, b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++)
			at_bound = at_bound || bounds[b] == k;
		CHECKF(w.rc == 0 && w.bad_event == 0, "cut %zu", k);
		CHECKF(frame_midway(&p) == !at_bound, "cut %zu: midway", k);
		CHECKF(w.out_len <= 4 && memcmp(w.out, "adef", w.out_len) == 0, "cut %zu", k);
		CHECKF(w.err_len <= 2 && memcmp(w.err, "bc", w.err_len) == 0, "cut %zu", k);
	}
}

static void test_events(void)
{
	static const char in[] = "\x01\0\0\0\0\0\0\x05hello\x02\0\0\0\0\0\0\0";
	struct frame_parser p;
	struct frame_event ev;
	const char *buf = guarded(in, 21);
	ssize_t r;

	frame_init(&p, 100);
	CHECK(frame_parse(&p, buf, 0, &ev) == FRAME_INCOMPLETE);
	/* Header and part of the payload in one event. */
	r = frame_parse(&p, buf, 10, &ev);
	CHECK(r == 10 && ev.start && ev.stream == FRAME_STDOUT && ev.frame_len == 5 &&
	      ev.data == buf + 8 && ev.len == 2);
	r = frame_parse(&p, buf + 10, 11, &ev);
	CHECK(r == 3 && !ev.start && ev.frame_len == 5 && ev.data == buf + 10 && ev.len == 3);
	CHECK(!frame_midway(&p));
	/* An empty frame is an event of its own. */
	r = frame_parse(&p, buf + 13, 8, &ev);
	CHECK(r == 8 && ev.start && ev.stream == FRAME_STDERR && ev.frame_len == 0 && ev.len == 0);
	CHECK(p.total == 5);

	/* An error sticks: nothing is parsed after it. */
	frame_init(&p, 100);
	r = frame_parse(&p, guarded("\x05\0\0\0\0\0\0\x01x", 9), 9, &ev);
	CHECK(r == FRAME_ERROR);
	r = frame_parse(&p, buf, 21, &ev);
	CHECK(r == FRAME_ERROR);
	frame_init(&p, 2);
	CHECK(frame_parse(&p, buf, 21, &ev) == FRAME_TOO_BIG);
	CHECK(frame_parse(&p, buf + 13, 8, &ev) == FRAME_TOO_BIG);
}

static void test_header(void)
{
	static const struct {
		unsigned char h[8];
		int rc;
		enum frame_stream s;
		uint32_t len;
	} hrows[] = {
	    {{0, 0, 0, 0, 0, 0, 0, 0}, 0, FRAME_STDIN, 0},
	    {{1, 0, 0, 0, 0, 0, 0, 5}, 0, FRAME_STDOUT, 5},
	    {{2, 0, 0, 0, 0, 0, 1, 0}, 0, FRAME_STDERR, 256},
	    {{1, 0, 0, 0, 0x12, 0x34, 0x56, 0x78}, 0, FRAME_STDOUT, 0x12345678u},
	    {{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 0, FRAME_STDOUT, 0xffffffffu},
	    {{3, 0, 0, 0, 0, 0, 0, 1}, FRAME_ERROR, 0, 0},
	    {{0x80, 0, 0, 0, 0, 0, 0, 1}, FRAME_ERROR, 0, 0},
	    {{1, 0x80, 0, 0, 0, 0, 0, 1}, FRAME_ERROR, 0, 0},
	    {{1, 0, 0, 0xff, 0, 0, 0, 1}, FRAME_ERROR, 0, 0},
	};
	enum frame_stream s;
	uint32_t len;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(hrows) / sizeof(hrows[0]); i++) {
		s = FRAME_STDERR;
		len = 12345;
		rc = frame_header((const unsigned char *)guarded((const char *)hrows[i].h, 8), &s,
				  &len);
		CHECKF(rc == hrows[i].rc, "header row %zu", i);
		if (rc == 0)
			CHECKF(s == hrows[i].s && len == hrows[i].len, "header row %zu", i);
	}
}

int main(void)
{
	guard_init();
	test_header();
	test_rows();
	test_truncations();
	test_events();
	return check_done("test_frame");
}
