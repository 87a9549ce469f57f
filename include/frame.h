/*
 * Docker's multiplexed attach stream (Tty=false): frames of an 8-byte
 * header {stream, 0, 0, 0, big-endian uint32 length} and that many payload
 * bytes.  A pure parser in the picohttpparser style: the caller owns the
 * state and the buffers, events point into the caller's buffer, nothing is
 * allocated, nothing is read or written.
 */
#ifndef RUNBOXD_FRAME_H
#define RUNBOXD_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"

#define FRAME_ERROR (-1)      /* a header that is not Docker's */
#define FRAME_INCOMPLETE (-2) /* all input taken; nothing to report yet */
#define FRAME_TOO_BIG (-3)    /* a header that would take the payloads over the limit */

enum frame_stream { FRAME_STDIN = 0, FRAME_STDOUT = 1, FRAME_STDERR = 2 };

/*
 * A runner's live output, for POST /run?stream=1.  The front appends the
 * member "runboxStream":1 to the payload it writes.  A runner that knows
 * it (runbox-runner) writes on its stdout, before its reply, the run
 * command's output as records in this same frame format -- stream 1 or
 * 2, length > 0, the bytes it also keeps for the reply -- and then its
 * reply, which starts with '{' or whitespace: a byte other than 1 or 2
 * where a header would start.  A runner that does not know the member
 * ignores it and writes its reply alone, as ever.
 */
#define FRAME_STREAM_MEMBER "runboxStream"

struct frame_parser {
	uint64_t limit;         /* payload bytes of all frames together, at most */
	uint64_t total;         /* payload bytes announced by the headers so far */
	unsigned char hdr[FRAME_HEADER];
	size_t hdr_have;        /* bytes of a split header kept so far */
	uint32_t frame_len;     /* payload length of the current frame */
	uint32_t left;          /* ... bytes of it still to come */
	enum frame_stream stream;
	int failed;             /* the error once returned; every later call returns it */
};

/* A span of one frame's payload. */
struct frame_event {
	enum frame_stream stream;
	bool start;         /* the frame's header ended in this call */
	uint32_t frame_len; /* the whole frame's payload length */
	const char *data;   /* payload bytes in the caller's buffer ... */
	size_t len;         /* ... this many (0 for an empty frame) */
};

void frame_init(struct frame_parser *p, uint64_t limit);

/*
 * Parse a header h[0..FRAME_HEADER): 0 with *stream and *len, or
 * FRAME_ERROR if the stream byte is not 0-2 or bytes 1-3 are not zero.
 */
int frame_header(const unsigned char *h, enum frame_stream *stream, uint32_t *len);

/*
 * Take bytes from buf[0..len).  Returns the bytes consumed (> 0) with *ev
 * set, FRAME_INCOMPLETE when every byte was taken (a split header is kept
 * in p) and nothing is to be reported, or FRAME_ERROR / FRAME_TOO_BIG.
 * The limit is checked on the header, before any payload byte is handed
 * out.  Call again with the rest of buf until it returns < 0.
 */
ssize_t frame_parse(struct frame_parser *p, const char *buf, size_t len, struct frame_event *ev);

/* Is a frame begun but not finished (a stream that ends here is truncated)? */
bool frame_midway(const struct frame_parser *p);

#endif
