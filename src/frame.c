/*
 * Docker's attach-stream frames.  The header's length is checked against
 * the caller's limit as soon as the header is whole, so a hostile length
 * never sizes anything and no payload byte of an over-limit frame leaves
 * the parser.
 */
#include <string.h>

#include "frame.h"

void frame_init(struct frame_parser *p, uint64_t limit)
{
	memset(p, 0, sizeof(*p));
	p->limit = limit;
}

int frame_header(const unsigned char *h, enum frame_stream *stream, uint32_t *len)
{
	if (h[0] > FRAME_STDERR || h[1] != 0 || h[2] != 0 || h[3] != 0)
		return FRAME_ERROR;
	*stream = (enum frame_stream)h[0];
	*len = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | (uint32_t)h[7];
	return 0;
}

/* The header in p->hdr is whole: start its frame, or fail for good. */
static int frame_begin(struct frame_parser *p)
{
	uint32_t len;

	p->hdr_have = 0;
	if (frame_header(p->hdr, &p->stream, &len) < 0)
		return p->failed = FRAME_ERROR;
	if (len > p->limit - p->total)
		return p->failed = FRAME_TOO_BIG;
	p->total += len;
	p->left = p->frame_len = len;
	return 0;
}

ssize_t frame_parse(struct frame_parser *p, const char *buf, size_t len, struct frame_event *ev)
{
	size_t used = 0, k;

	if (p->failed)
		return p->failed;
	if (len == 0)
		return FRAME_INCOMPLETE;
	ev->start = false;
	if (p->left == 0) {
		k = FRAME_HEADER - p->hdr_have;
		if (k > len)
			k = len;
		memcpy(p->hdr + p->hdr_have, buf, k);
		p->hdr_have += k;
		used = k;
		if (p->hdr_have < FRAME_HEADER)
			return FRAME_INCOMPLETE;
		if (frame_begin(p) < 0)
			return p->failed;
		ev->start = true;
	}
	k = len - used < p->left ? len - used : p->left;
	ev->stream = p->stream;
	ev->frame_len = p->frame_len;
	ev->data = buf + used;
	ev->len = k;
	p->left -= (uint32_t)k;
	return (ssize_t)(used + k);
}

bool frame_midway(const struct frame_parser *p)
{
	return p->hdr_have > 0 || p->left > 0;
}
