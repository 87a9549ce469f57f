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
	const char *target; /* request-target as sent ("/run?x=1", "http://h/run") */
	size_t target_len;
	const char *path;   /* its path: no scheme, authority or query; */
	size_t path_len;    /* empty (meaning "/") for "http://h" or "http://h?q" */
	int minor_version;  /* HTTP/1.<minor>: 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
};

/*
 * Request line and headers in buf[0..len), after at most one empty line
 * (RFC 9112 2.2).  The target is in origin-form, absolute-form (http or
 * https) or asterisk-form.  On HTTP_ERROR *status is the answer: 400
 * malformed (bare LF, obs-fold, NUL/CR/CTL in a value, bad token, bad
 * target), 414 target longer than HTTP_MAX_PATH, 431 more than
 * HTTP_MAX_HEADERS headers or HTTP_MAX_HEADER_BYTES without the end of
 * the head, 501 method longer than HTTP_MAX_METHOD, 505 version other
 * than HTTP/1.0 and HTTP/1.1.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req, int *status);

/*
 * picohttpparser's last_len: buf[0..last_len) was parsed and was
 * incomplete, and bytes arrived up to len.  False when parsing again
 * cannot end the head yet -- no control byte (CR, LF, or one no head may
 * hold) came since, and the head limit is not reached -- so a head that
 * trickles in is not re-parsed from byte 0 on every read.  Other errors
 * inside a line are then found when the line ends.
 */
bool http_head_may_end(const char *buf, size_t len, size_t last_len);

/*
 * RFC 9112 3.2: an HTTP/1.1 request has exactly one Host field, any
 * request at most one, and its value is a valid authority (see
 * http_authority_valid; empty is allowed).  0, or -1 for 400.
 */
int http_request_host(const struct http_request *req);

/* uri-host [":" port] of RFC 3986, no userinfo; empty is valid. */
bool http_authority_valid(const char *s, size_t n);

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
 * Content-Length, a Content-Length that is not 1*DIGIT or has more than
 * HTTP_MAX_LENGTH_DIGITS digits after leading zeros;
 * 501 for a Transfer-Encoding other than "chunked"; 417 for an Expect
 * other than 100-continue.
 */
int http_request_framing(const struct http_request *req, struct http_framing *f, int *status);

/* First header named name (case-insensitive), or NULL. */
const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name);

/*
 * The field that must occur at most once: 0 with *found pointing at it
 * (NULL if absent), -1 if more than one line carries it.
 */
int http_header_unique(const struct http_header *h, size_t n, const char *name,
		       const struct http_header **found);

/*
 * Is the field value v[0..n) a media-type (RFC 9110 8.3.1) whose
 * "type/subtype" is type (case-insensitive), with well-formed parameters
 * after OWS (SP or HTAB)?
 */
bool http_media_type_is(const char *v, size_t n, const char *type);

/* Is every element of the comma-separated list v[0..n) the token (empty ones aside)? */
bool http_list_only(const char *v, size_t n, const char *token);

/* Case-insensitive compare of a counted string with a C string. */
bool http_token_eq(const char *s, size_t n, const char *lit);

/*
 * Chunked body decoder (phr_decode_chunked's shape).  Zero-initialise,
 * then feed each newly arrived run of bytes: they are decoded in place and
 * *len becomes the number of decoded bytes now at buf[0..*len).  Returns
 * the number of undecoded bytes left after the last chunk and trailers
 * (>= 0) when the body is complete, HTTP_INCOMPLETE, or HTTP_ERROR
 * (malformed size line, size over HTTP_MAX_CHUNK_DIGITS hex digits after
 * leading zeros, bare LF, bad trailer).  After any call, the bytes decoded
 * so far plus remaining is a lower bound of the body's length: a size
 * line counts as soon as its digits arrive, so a caller can refuse a body
 * too large before its data comes.
 */
struct http_chunked {
	int state;
	uint64_t remaining; /* data of the current chunk still to come, or its size so far */
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

/*
 * The access token a request presents: X-Access-Token (docker-run's),
 * X-API-Key (seed 004's) or Authorization: Bearer (RFC 6750 2.1).  Each
 * may appear once; when several do they must agree, so that no two readers of the request can see two
 * tokens.  Returns NULL with *tok and *len set (NULL, 0: none), or what is
 * wrong, for a 400.
 */
const char *http_request_token(const struct http_request *req, const char **tok, size_t *len);

/*
 * What a head must say before anything is routed, whoever reads it: a
 * valid Host (RFC 9112 3.2), no field runboxd reads given twice (a proxy
 * in front may have kept the other one), and one token (as
 * http_request_token, which sets *tok and *len).  NULL, or what is wrong,
 * for a 400 request.malformed.
 */
const char *http_request_fields(const struct http_request *req, const char **tok, size_t *len);

/* The path to route by: an absolute-form target may have none, which is "/". */
void http_route_path(const struct http_request *req, const char **p, size_t *n);

/*
 * The JSON error code and message of an HTTP-level refusal (408, 411, 413,
 * 414, 417, 431, 501, 505; anything else is 400 request.malformed).
 * Returns the status to send.
 */
int http_error_text(int status, const char **code, const char **message);

/* "OK", "Not Found", ...; "Unknown" for others. */
const char *http_status_reason(int status);

/*
 * The parameter name=value of the target's query (after the path's '?',
 * split at '&'; names compared exactly, nothing percent-decoded): 0 when
 * absent, 1 with *val and *vlen (the empty value for a bare "name"), -1
 * when it occurs more than once.
 */
int http_query_param(const struct http_request *req, const char *name, const char **val,
		     size_t *vlen);

/* content_length for a head without Content-Length (a chunked or close-delimited body). */
#define HTTP_NO_LENGTH ((size_t)-1)

/*
 * Response head: status line, Content-Type (if not NULL), Content-Length
 * (unless HTTP_NO_LENGTH),
 * Connection: close, the extra header lines (each ending CRLF, may be
 * NULL), and the blank line.  Returns its length or -1 if out is too small.
 */
int http_format_head(char *out, size_t outsz, int status, const char *content_type,
		     size_t content_length, const char *extra);

#endif
