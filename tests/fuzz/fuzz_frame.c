/*
 * libFuzzer target for the attach-stream frame parser.  The first input
 * byte picks the limit and how the rest is cut into pieces; the rest is
 * the stream.  The oracle is a separate, whole-buffer reading of the
 * format written for this test: the streaming parser must agree with it
 * on the outcome, the stdout and stderr bytes and whether a frame is left
 * unfinished, however the input is cut.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
	int rc; /* 0, FRAME_ERROR, FRAME_TOO_BIG */
	bool midway;
	size_t out_len, err_len;
	unsigned char out[4096], err[4096];
};

static void keep(struct outcome *o, unsigned stream, const unsigned char *p, size_t n)
{
	if (stream == 1) {
		if (n > sizeof(o->out) - o->out_len)
			n = sizeof(o->out) - o->out_len;
		memcpy(o->out + o->out_len, p, n);
		o->out_len += n;
	} else if (stream == 2) {
		if (n > sizeof(o->err) - o->err_len)
			n = sizeof(o->err) - o->err_len;
		memcpy(o->err + o->err_len, p, n);
		o->err_len += n;
	}
}

/* The format, read at offsets over the whole buffer. */
static void oracle(const unsigned char *s, size_t n, uint64_t limit, struct outcome *o)
{
	uint64_t total = 0, len;
	size_t at = 0, take;

	while (at < n) {
		if (n - at < 8) {
			o->midway = true;
			return;
		}
		if (s[at] > 2 || s[at + 1] | s[at + 2] | s[at + 3]) {
			o->rc = FRAME_ERROR;
			return;
		}
		len = ((uint64_t)s[at + 4] << 24) + ((uint64_t)s[at + 5] << 16) +
		      ((uint64_t)s[at + 6] << 8) + s[at + 7];
		if (total + len > limit) {
			o->rc = FRAME_TOO_BIG;
			return;
		}
		total += len;
		take = len < n - at - 8 ? (size_t)len : n - at - 8;
		keep(o, s[at], s + at + 8, take);
		if (take < len) {
			o->midway = true;
			return;
		}
		at += 8 + take;
	}
}

/* The parser, fed in pieces of piece bytes (0: all at once). */
static void parse(const unsigned char *s, size_t n, uint64_t limit, size_t piece,
		  struct outcome *o)
{
	struct frame_parser p;
	struct frame_event ev;
	size_t at = 0, end;
	ssize_t r;

	frame_init(&p, limit);
	while (at < n && o->rc == 0) {
		end = piece == 0 || n - at < piece ? n : at + piece;
		while (at < end) {
			r = frame_parse(&p, (const char *)s + at, end - at, &ev);
			if (r == FRAME_INCOMPLETE) {
				at = end;
				break;
			}
			if (r < 0) {
				o->rc = (int)r;
				break;
			}
			if (r == 0 || (size_t)r > end - at || ev.len > (size_t)r ||
			    (const unsigned char *)ev.data < s + at ||
			    (const unsigned char *)ev.data + ev.len > s + at + (size_t)r)
				abort();
			keep(o, ev.stream, (const unsigned char *)ev.data, ev.len);
			at += (size_t)r;
		}
	}
	if (o->rc != 0 && frame_parse(&p, (const char *)s, n, &ev) != o->rc)
		abort(); /* errors stick */
	o->midway = o->rc == 0 && frame_midway(&p);
}

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->midway != b->midway || a->out_len != b->out_len ||
	    a->err_len != b->err_len || memcmp(a->out, b->out, a->out_len) != 0 ||
	    memcmp(a->err, b->err, a->err_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t limits[] = {0, 1, 7, 64, 1024, 1u << 20, UINT64_MAX, 100};
	static struct outcome want, got;
	uint64_t limit;
	size_t piece;

	if (size < 1)
		return 0;
	limit = limits[data[0] & 7];
	piece = data[0] >> 3;
	memset(&want, 0, sizeof(want));
	oracle(data + 1, size - 1, limit, &want);
	memset(&got, 0, sizeof(got));
	parse(data + 1, size - 1, limit, 0, &got);
	same(&want, &got);
	memset(&got, 0, sizeof(got));
	parse(data + 1, size - 1, limit, piece + 1, &got);
	same(&want, &got);
	return 0;
}
