/*
 * HTTP/1.1 message parsing and response heads.  picohttpparser's shape: no
 * I/O, no allocation; the caller owns the buffer and every pointer returned
 * points into it.  Parsers return bytes consumed (> 0), HTTP_INCOMPLETE or
 * HTTP_ERROR.  Any prefix of a valid message is HTTP_INCOMPLETE, never an
 * error.
 */
#ifndef RUNBOXD_HTTP_H
#define RUNBOXD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"

#define HTTP_ERROR (-1)
#define HTTP_INCOMPLETE (-2)

struct http_header {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing OWS removed */
	size_t value_len;
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target; /* request-target as sent ("/run?x=1") */
	size_t target_len;
	const char *path;   /* target without the query */
	size_t path_len;
	int minor_version;  /* HTTP/1.<minor>: 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
};

/*
 * Request line and headers in buf[0..len).  On HTTP_ERROR *status is the
 * answer: 400 malformed (bare LF, obs-fold, NUL/CR/CTL in a value, bad
 * token), 414 target longer than HTTP_MAX_PATH, 431 more than
 * HTTP_MAX_HEADERS headers, 501 method longer than HTTP_MAX_METHOD,
 * 505 version other than HTTP/1.0 and HTTP/1.1.  The caller answers 431
 * itself when HTTP_MAX_HEADER_BYTES arrive without the end of the head.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req, int *status);

enum http_body_kind {
	HTTP_BODY_NONE,    /* no body */
	HTTP_BODY_LENGTH,  /* Content-Length */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	HTTP_BODY_CLOSE,   /* responses only: body runs to EOF */
};

struct http_framing {
	enum http_body_kind kind;
	uint64_t content_length;
	bool expect_continue; /* Expect: 100-continue */
};

/*
 * How the request body is framed.  Returns 0 or -1 with *status: 400 for
 * Content-Length together with Transfer-Encoding, differing duplicate
 * Content-Length, a Content-Length that is not 1*DIGIT or overflows;
 * 501 for a Transfer-Encoding other than "chunked"; 417 for an Expect
 * other than 100-continue.
 */
int http_request_framing(const struct http_request *req, struct http_framing *f, int *status);

/* First header named name (case-insensitive), or NULL. */
const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name);

/* Case-insensitive compare of a counted string with a C string. */
bool http_token_eq(const char *s, size_t n, const char *lit);

/*
 * Chunked body decoder (phr_decode_chunked's shape).  Zero-initialise,
 * then feed each newly arrived run of bytes: they are decoded in place and
 * *len becomes the number of decoded bytes now at buf[0..*len).  Returns
 * the number of undecoded bytes left after the last chunk and trailers
 * (>= 0) when the body is complete, HTTP_INCOMPLETE, or HTTP_ERROR
 * (malformed size line, size overflow, bare LF, bad trailer).
 */
struct http_chunked {
	int state;
	uint64_t remaining;
	unsigned hex_digits;
	unsigned trailer_bytes;
};
ssize_t http_chunked_decode(struct http_chunked *d, char *buf, size_t *len);

struct http_response {
	int minor_version;
	int status;
	const char *reason;
	size_t reason_len;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
};

/* Status line and headers of a response (Docker's replies). */
int http_parse_response(const char *buf, size_t len, struct http_response *res);

/*
 * How a response body is framed: NONE for 1xx/204/304 (and HEAD, which the
 * caller knows), CHUNKED, LENGTH, else CLOSE.  -1 on conflicting or bad
 * Content-Length.
 */
int http_response_framing(const struct http_response *res, struct http_framing *f);

/* "OK", "Not Found", ...; "Unknown" for others. */
const char *http_status_reason(int status);

/*
 * Response head: status line, Content-Type (if not NULL), Content-Length,
 * Connection: close, the extra header lines (each ending CRLF, may be
 * NULL), and the blank line.  Returns its length or -1 if out is too small.
 */
int http_format_head(char *out, size_t outsz, int status, const char *content_type,
		     size_t content_length, const char *extra);

#endif
