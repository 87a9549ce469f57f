/*
 * HTTP/1.1 client over a unix socket, as the Docker client needs it: one
 * connection per call, connect and send within write_timeout_ms of the
 * call's start, the whole reply (head and body) within read_timeout_ms of
 * the request being sent.  Replies are framed by Content-Length, chunking
 * or the close.  Never prints, never exits: returns a DHTTP_E* code with
 * the reason in a struct dhttp_error.
 */
#ifndef RUNBOXD_DHTTP_H
#define RUNBOXD_DHTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "http.h"

enum dhttp_err {
	DHTTP_OK = 0,
	DHTTP_ECONNECT = -1, /* socket missing / refused / permission */
	DHTTP_EIO = -2,      /* write or read failed, or timed out */
	DHTTP_EPROTO = -3,   /* reply is not HTTP, bad framing, too big; or a bad request */
};

struct dhttp_ctx {
	const char *socket_path;
	int read_timeout_ms;
	int write_timeout_ms;
};

/* Why a call failed: HTTP status (0 if none) and a message, free of control bytes. */
struct dhttp_error {
	int status;
	char message[DHTTP_MAX_MESSAGE];
};

/* A reply head read from the socket; res points into head. */
struct dhttp_reply {
	char head[DOCKER_MAX_RESPONSE_HEAD];
	size_t head_len; /* bytes received into head */
	size_t head_end; /* bytes of it that are the head; the rest is body */
	struct http_response res;
	int64_t deadline; /* the whole reply, head and body, is read by then */
};

/* Connect, non-blocking connect bounded by write_timeout_ms. -1 and errno on failure. */
int dhttp_connect(const struct dhttp_ctx *ctx);

/*
 * One request/response on path (sent as given).  body may be NULL.  The
 * reply body is stored (dechunked) in out[0..*outlen) (out has outsz
 * bytes, NUL-terminated when room).  Returns DHTTP_OK with *status set for
 * any HTTP status, or a negative DHTTP_E* with err filled.
 */
int dhttp_call(const struct dhttp_ctx *ctx, const char *method, const char *path,
	       const char *body, size_t body_len, int *status, char *out, size_t outsz,
	       size_t *outlen, struct dhttp_error *err);

/*
 * Connect, send the request (extra ends its header block), read the reply
 * head into rep.  *fd stays open (blocking, close-on-exec) for what
 * follows: the body, read by dhttp_read_body, or a hijacked stream.
 */
int dhttp_exchange(const struct dhttp_ctx *ctx, const char *method, const char *path,
		   const char *body, size_t body_len, const char *extra, struct dhttp_reply *rep,
		   int *fd, struct dhttp_error *err);

/* The body of rep into out[0..*outlen), by the same deadline as its head. */
int dhttp_read_body(int fd, struct dhttp_reply *rep, const char *method, char *out, size_t outsz,
		    size_t *outlen, struct dhttp_error *err);

/* Takes body bytes as they arrive; < 0 stops the read (DHTTP_EPROTO). */
typedef int (*dhttp_sink)(void *arg, const char *p, size_t n);

/*
 * The body of rep, of any length, handed to sink piece by piece (dechunked),
 * by the same deadline as its head: for streams such as a pull's progress.
 */
int dhttp_read_stream(int fd, struct dhttp_reply *rep, dhttp_sink sink, void *arg,
		      struct dhttp_error *err);

/* Fill err (message scrubbed of control bytes) and return code. */
int dhttp_fail(struct dhttp_error *err, int code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Replace control bytes (and, unless keep_utf8, every byte >= 0x80) by '?':
 * messages reach logs and clients.
 */
void dhttp_scrub(char *s, int keep_utf8);

#endif
