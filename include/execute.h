/*
 * Runs on stock images (POST /execute, POST /compile): the front's half.
 * Parsing a request, pumping the container's attach stream (the input in,
 * Docker's frames out to a sink), keeping the output under its limit, and
 * writing the answer as JSON in pieces.  The agent picks the image and the
 * command line; nothing here talks to it.  No allocation; the only I/O is
 * on the descriptors the caller hands in.
 */
#ifndef RUNBOXD_EXECUTE_H
#define RUNBOXD_EXECUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "config.h"
#include "frame.h"

/* How a stream pump ended. */
enum exec_end {
	EXEC_EOF,          /* the container closed the stream: it exited */
	EXEC_TIMEOUT,      /* the run's deadline passed */
	EXEC_TOO_BIG,      /* the sink refused more output */
	EXEC_BAD_FRAME,    /* not Docker's framing */
	EXEC_READ_ERROR,   /* the stream failed, or ended inside a frame */
	EXEC_CLIENT_GONE,  /* the client hung up */
	EXEC_ATTACH_ERROR, /* the stream could not be used at all */
};

/* A parsed request: spans of the body, decoded in place. */
struct exec_request {
	char image[DOCKER_MAX_IMAGE_REF + 1]; /* "" when none was named */
	const char *script;                   /* /execute: no NUL inside */
	size_t script_len;
	const char *input;                    /* written to the program's stdin */
	size_t input_len;
	const char *limits;                   /* /execute: the raw "limits" value, NULL when absent */
	size_t limits_len;
};

/*
 * {"script": "...", "stdin": "...", "image": "...", "limits": {...}}
 * (stdin and image may be absent or null, limits absent; its value is left
 * for reqlimits_parse) and {"code": "..."}.  body is decoded in place.  Return
 * NULL, or the error code (400) with a message in msg.
 */
const char *exec_parse_execute(char *body, size_t len, struct exec_request *r, char *msg,
			       size_t msgsz);
const char *exec_parse_compile(char *body, size_t len, struct exec_request *r, char *msg,
			       size_t msgsz);

/*
 * Where the stream's payload goes, span by span, as it arrives: false
 * when the sink will take no more (the run ends with EXEC_TOO_BIG).
 */
typedef bool (*exec_sink)(void *arg, enum frame_stream stream, const char *p, size_t n);

/* One run's stream: set the fields, then exec_pump. */
struct exec_io {
	int sfd;             /* the attach stream */
	int client_fd;       /* watched for hang-up; -1: not watched */
	const char *input;   /* written to stdin, which is then closed */
	size_t input_len;
	int64_t deadline;    /* io_now_ms() clock */
	exec_sink sink;
	void *arg;
	/* the pump's own */
	size_t written;
	bool wdone;
	struct frame_parser fp;
};

/*
 * Feed early (stream bytes that came with the attach reply), then write
 * the input and read frames in one poll loop until the stream ends, the
 * deadline, the sink's refusal, a bad frame or the client leaving.
 */
enum exec_end exec_pump(struct exec_io *x, const char *early, size_t early_len);

/*
 * Buffered output under one limit: every byte in arrival order (that is
 * /compile's "combined"), and a bit per byte saying which were stderr.
 */
struct exec_out {
	char *buf;          /* cap bytes */
	unsigned char *map; /* cap / 8 + 1 bytes */
	size_t cap, len;
	bool truncated;     /* some output was cut at the limit */
};

void exec_out_init(struct exec_out *o, char *buf, unsigned char *map, size_t cap);

/* An exec_sink over struct exec_out (stdin frames are ignored). */
bool exec_out_keep(void *arg, enum frame_stream stream, const char *p, size_t n);

/* What the client is told. */
struct exec_result {
	enum exec_end end;     /* EXEC_EOF, EXEC_TIMEOUT or EXEC_TOO_BIG */
	bool exit_known;       /* Docker said how the container ended */
	int exit_code;
	bool oom;              /* the memory limit killed it */
	int64_t ms;            /* the run's time */
	uint64_t output_limit; /* for the message */
	const struct exec_out *out;
};

enum exec_answer { EXEC_ANSWER_EXECUTE, EXEC_ANSWER_COMPILE };

/* Did the script run to its end, in its limits, and exit 0? */
bool exec_success(const struct exec_result *r);

/*
 * Send a 200 answer of kind for r on fd: its head, then its JSON body in
 * pieces of at most EXEC_EMIT_BUF bytes from buf (the head leaves with
 * the first).  Returns the bytes written, -1 with errno on failure.
 */
ssize_t exec_answer_send(int fd, int64_t deadline, enum exec_answer kind,
			 const struct exec_result *r, char *buf);

/*
 * The same answer as a streamed run's final event, {"result": <body>}
 * and a newline: one chunk and the last chunk when chunked, else bare.
 */
ssize_t exec_answer_event(int fd, int64_t deadline, enum exec_answer kind,
			  const struct exec_result *r, char *buf, bool chunked);

/* The body alone into out[0..outsz) (for tests): its length, or -1 if it does not fit. */
ssize_t exec_answer_body(enum exec_answer kind, const struct exec_result *r, char *out, size_t outsz);

#endif
