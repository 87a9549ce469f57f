/*
 * libFuzzer target: the chunked decoder.  The first byte picks a split
 * point in the rest; decoding at once and in those two pieces must agree
 * on the result, the decoded bytes and the bytes after the body.  Short
 * inputs are also fed one byte at a time.  Whenever the body turns out
 * complete, the decoded bytes plus remaining never said it was longer.  Each piece lives in a heap
 * block of exactly its length, so ASan catches a read or write past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BYTEWISE_MAX 4096

/* What feeding a body produced: result, decoded bytes, bytes after the end. */
struct outcome {
	ssize_t rc;
	char *out, *rest;
	size_t out_len, rest_len;
	uint64_t claimed; /* the most decoded + remaining said the body holds */
};

/*
 * Feed in[0..n) in pieces of at most `piece` bytes, except that the
 * first piece is `first` bytes long (maybe none: an empty feed).
 */
static void decode(const char *in, size_t n, size_t first, size_t piece, struct outcome *o)
{
	struct http_chunked d;
	size_t start = 0, len, plen, pieces;
	char *p;

	memset(&d, 0, sizeof(d));
	o->rc = HTTP_INCOMPLETE;
	o->out_len = o->rest_len = 0;
	o->claimed = 0;
	o->out = malloc(n + 1);
	o->rest = malloc(n + 1);
	if (o->out == NULL || o->rest == NULL)
		abort();
	for (pieces = 0; start < n; pieces++) {
		plen = pieces == 0 ? first : piece;
		if (plen > n - start)
			plen = n - start;
		p = malloc(plen);
		if (p == NULL)
			abort();
		memcpy(p, in + start, plen);
		len = plen;
		o->rc = http_chunked_decode(&d, p, &len);
		if (len > plen || (o->rc >= 0 && len + (size_t)o->rc > plen))
			abort();
		memcpy(o->out + o->out_len, p, len);
		o->out_len += len;
		if (o->out_len + d.remaining > o->claimed)
			o->claimed = o->out_len + d.remaining;
		start += plen;
		if (o->rc >= 0) {
			memcpy(o->rest, p + len, (size_t)o->rc);
			memcpy(o->rest + o->rc, in + start, n - start);
			o->rest_len = (size_t)o->rc + n - start;
			o->rc = (ssize_t)o->rest_len;
		}
		free(p);
		if (o->rc != HTTP_INCOMPLETE)
			break;
	}
}

static void same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc)
		abort();
	if (a->rc == HTTP_ERROR)
		return;
	if (a->out_len != b->out_len || memcmp(a->out, b->out, a->out_len) != 0)
		abort();
	if (a->rest_len != b->rest_len || memcmp(a->rest, b->rest, a->rest_len) != 0)
		abort();
}

static void release(struct outcome *o)
{
	free(o->out);
	free(o->rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, halves, bytes;
	const char *in = (const char *)data + 1;
	size_t n, split;

	if (size < 1)
		return 0;
	n = size - 1;
	split = (size_t)data[0] * n / 255;
	decode(in, n, n, n, &whole);
	decode(in, n, split, n, &halves);
	same(&whole, &halves);
	/* Decoding never adds bytes. */
	if (whole.out_len + whole.rest_len > n)
		abort();
	/* decoded + remaining never overstates a body that turns out complete. */
	if (whole.rc >= 0 && (whole.claimed > whole.out_len || halves.claimed > whole.out_len))
		abort();
	if (n <= FUZZ_BYTEWISE_MAX) {
		decode(in, n, 1, 1, &bytes);
		same(&whole, &bytes);
		if (whole.rc >= 0 && bytes.claimed > whole.out_len)
			abort();
		release(&bytes);
	}
	release(&whole);
	release(&halves);
	return 0;
}
