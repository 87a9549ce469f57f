/*
 * HTTP/1.1 over a unix socket.  Every call opens its own connection and
 * reads the reply under one deadline per direction, each fixed once per
 * call: connect and send within write_timeout_ms of the call's start, the
 * whole reply (head and body) within read_timeout_ms of the request being
 * sent.  A daemon that trickles a byte at a time, or paces head and body,
 * cannot hold the caller longer than the two timeouts together.  The fd
 * is blocking (the caller of an upgrade gets it that way); the I/O here
 * uses MSG_DONTWAIT and poll() instead, and MSG_NOSIGNAL so that a daemon
 * that goes away is an error, not a SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dhttp.h"
#include "io.h"

/*
 * Messages reach logs and clients: no control byte may pass (CR/LF would
 * forge log lines or headers, ESC drive a terminal).  Bytes >= 0x80 stay
 * when they are known UTF-8 (a decoded JSON string), else they go too.
 */
void dhttp_scrub(char *s, int keep_utf8)
{
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < ' ' || c == 0x7f || (c > 0x7f && !keep_utf8))
			*s = '?';
	}
}

int dhttp_fail(struct dhttp_error *err, int code, int status, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	dhttp_scrub(err->message, 1);
	return code;
}

static int64_t dhttp_deadline(int timeout_ms)
{
	return io_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 poll failed (errno). */
static int dhttp_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	for (;;) {
		r = poll(&p, 1, io_left_ms(deadline));
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/*
 * Unix sockets never answer EINPROGRESS: a full backlog is EAGAIN, and the
 * socket stays unconnected, so the connect is retried until the deadline.
 */
static int dhttp_connect_wait(int fd, const struct sockaddr_un *sa, int64_t deadline)
{
	socklen_t sl = sizeof(int);
	int soerr = 0;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return 0;
		if (errno == EAGAIN) {
			if (io_now_ms() >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			poll(NULL, 0, DHTTP_CONNECT_RETRY_MS);
			continue;
		}
		if (errno != EINPROGRESS && errno != EINTR)
			return -1;
		switch (dhttp_wait(fd, POLLOUT, deadline)) {
		case 0:
			errno = ETIMEDOUT;
			return -1;
		case -1:
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -1;
		if (soerr != 0) {
			errno = soerr;
			return -1;
		}
		return 0;
	}
}

/* dhttp_connect against a deadline the caller fixed. */
static int dhttp_connect_by(const struct dhttp_ctx *ctx, int64_t deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strnlen(ctx->socket_path, sizeof(sa.sun_path));
	int fd, saved;

	if (n == 0 || n >= sizeof(sa.sun_path)) {
		errno = n == 0 ? ENOENT : ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, ctx->socket_path, n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (dhttp_connect_wait(fd, &sa, deadline) < 0 || fcntl(fd, F_SETFL, 0) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int dhttp_connect(const struct dhttp_ctx *ctx)
{
	return dhttp_connect_by(ctx, dhttp_deadline(ctx->write_timeout_ms));
}

static int dhttp_send_all(int fd, const char *p, size_t n, int64_t deadline,
			  struct dhttp_error *err)
{
	ssize_t w;
	int r;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return dhttp_fail(err, DHTTP_EIO, 0, "cannot write to Docker: %s",
					  strerror(errno));
		r = dhttp_wait(fd, POLLOUT, deadline);
		if (r == 0)
			return dhttp_fail(err, DHTTP_EIO, 0, "timed out writing to Docker");
		if (r < 0)
			return dhttp_fail(err, DHTTP_EIO, 0, "poll: %s", strerror(errno));
	}
	return DHTTP_OK;
}

/* Bytes read (> 0), 0 at EOF, or DHTTP_EIO. */
static ssize_t dhttp_recv(int fd, char *buf, size_t n, int64_t deadline, struct dhttp_error *err)
{
	ssize_t r;
	int w;

	for (;;) {
		r = recv(fd, buf, n, MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return dhttp_fail(err, DHTTP_EIO, 0, "cannot read from Docker: %s",
					  strerror(errno));
		w = dhttp_wait(fd, POLLIN, deadline);
		if (w == 0)
			return dhttp_fail(err, DHTTP_EIO, 0, "timed out reading from Docker");
		if (w < 0)
			return dhttp_fail(err, DHTTP_EIO, 0, "poll: %s", strerror(errno));
	}
}

/* The request line and headers; extra ends the header block. */
static int dhttp_request_head(char *buf, size_t sz, const char *method, const char *path,
			      const char *body, size_t body_len, const char *extra)
{
	char clen[96] = "";
	size_t i;
	int n;

	if (method[0] == '\0' || strlen(method) > HTTP_MAX_METHOD || path[0] != '/' ||
	    strlen(path) > HTTP_MAX_PATH)
		return -1;
	for (i = 0; method[i]; i++)
		if (method[i] < 'A' || method[i] > 'Z')
			return -1;
	for (i = 0; path[i]; i++)
		if ((unsigned char)path[i] <= ' ' || (unsigned char)path[i] >= 0x7f)
			return -1;
	if (body != NULL)
		(void)snprintf(clen, sizeof(clen),
			       "Content-Type: application/json\r\nContent-Length: %zu\r\n",
			       body_len);
	n = snprintf(buf, sz,
		     "%s %s HTTP/1.1\r\nHost: docker\r\n"
		     "User-Agent: runboxd\r\n%s%s\r\n",
		     method, path, clen, extra);
	return n < 0 || (size_t)n >= sz ? -1 : n;
}

/* Parse once a line has ended: a bad status line fails at once, not at the deadline. */
static int dhttp_read_head(int fd, struct dhttp_reply *rep, struct dhttp_error *err)
{
	ssize_t n;
	int r;

	rep->head_len = 0;
	for (;;) {
		if (rep->head_len == sizeof(rep->head))
			return dhttp_fail(err, DHTTP_EPROTO, 0,
					  "reply head from Docker is over %d bytes",
					  DOCKER_MAX_RESPONSE_HEAD);
		n = dhttp_recv(fd, rep->head + rep->head_len, sizeof(rep->head) - rep->head_len,
			       rep->deadline, err);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return dhttp_fail(err, DHTTP_EPROTO, 0,
					  "Docker closed the connection before replying");
		rep->head_len += (size_t)n;
		if (memchr(rep->head + rep->head_len - (size_t)n, '\n', (size_t)n) == NULL)
			continue;
		r = http_parse_response(rep->head, rep->head_len, &rep->res);
		if (r > 0) {
			rep->head_end = (size_t)r;
			return DHTTP_OK;
		}
		if (r != HTTP_INCOMPLETE)
			return dhttp_fail(err, DHTTP_EPROTO, 0, "malformed reply head from Docker");
	}
}

int dhttp_exchange(const struct dhttp_ctx *ctx, const char *method, const char *path,
		   const char *body, size_t body_len, const char *extra, struct dhttp_reply *rep,
		   int *fd, struct dhttp_error *err)
{
	char head[DHTTP_REQUEST_HEAD_MAX];
	int64_t deadline;
	int n, rc;

	*fd = -1;
	err->status = 0;
	err->message[0] = '\0';
	rep->head_len = rep->head_end = 0;
	rep->res.status = 0;
	rep->deadline = 0;
	n = dhttp_request_head(head, sizeof(head), method, path, body, body_len, extra);
	if (n < 0)
		return dhttp_fail(err, DHTTP_EPROTO, 0, "bad request to Docker: %s %.64s", method,
				  path);
	deadline = dhttp_deadline(ctx->write_timeout_ms);
	*fd = dhttp_connect_by(ctx, deadline);
	if (*fd < 0)
		return dhttp_fail(err, DHTTP_ECONNECT, 0, "cannot connect to %s: %s",
				  ctx->socket_path, strerror(errno));
	rc = dhttp_send_all(*fd, head, (size_t)n, deadline, err);
	if (rc == DHTTP_OK && body != NULL)
		rc = dhttp_send_all(*fd, body, body_len, deadline, err);
	if (rc != DHTTP_OK)
		return rc;
	rep->deadline = dhttp_deadline(ctx->read_timeout_ms);
	return dhttp_read_head(*fd, rep, err);
}

/* Decoded body bytes accumulate here; more than fits is a protocol error. */
struct dhttp_body {
	char *out;
	size_t outsz;
	size_t len;
	dhttp_sink sink; /* when set, bytes go here instead, unbounded */
	void *arg;
};

static int dhttp_body_put(struct dhttp_body *b, const char *p, size_t n, struct dhttp_error *err)
{
	if (b->sink != NULL) {
		if (n > 0 && b->sink(b->arg, p, n) < 0)
			return dhttp_fail(err, DHTTP_EPROTO, 0, "unexpected reply body from Docker");
		b->len += n; /* counts toward a Content-Length */
		return DHTTP_OK;
	}
	if (n > b->outsz - b->len)
		return dhttp_fail(err, DHTTP_EPROTO, 0, "reply from Docker is over %zu bytes",
				  b->outsz);
	if (n > 0)
		memcpy(b->out + b->len, p, n);
	b->len += n;
	return DHTTP_OK;
}

/*
 * Feed p[0..n) by framing.  Returns 1 when the body is complete, 0 when
 * more is needed, or a DHTTP_E*.  p is decoded in place when chunked.
 */
static int dhttp_body_feed(struct dhttp_body *b, const struct http_framing *f,
			   struct http_chunked *ch, char *p, size_t n, struct dhttp_error *err)
{
	ssize_t r;
	size_t want;
	int rc;

	switch (f->kind) {
	case HTTP_BODY_LENGTH:
		want = (size_t)f->content_length - b->len;
		rc = dhttp_body_put(b, p, n < want ? n : want, err);
		return rc < 0 ? rc : b->len == f->content_length;
	case HTTP_BODY_CHUNKED:
		r = http_chunked_decode(ch, p, &n);
		if (r == HTTP_ERROR)
			return dhttp_fail(err, DHTTP_EPROTO, 0,
					  "malformed chunked body from Docker");
		rc = dhttp_body_put(b, p, n, err);
		return rc < 0 ? rc : r >= 0;
	case HTTP_BODY_CLOSE:
		rc = dhttp_body_put(b, p, n, err);
		return rc < 0 ? rc : 0;
	case HTTP_BODY_NONE:
		break;
	}
	return 1;
}

static int dhttp_read_into(int fd, struct dhttp_reply *rep, const char *method, struct dhttp_body *bp,
			   size_t *outlen, struct dhttp_error *err);

int dhttp_read_body(int fd, struct dhttp_reply *rep, const char *method, char *out, size_t outsz,
		    size_t *outlen, struct dhttp_error *err)
{
	struct dhttp_body b = {.out = out, .outsz = out != NULL ? outsz : 0};

	return dhttp_read_into(fd, rep, method, &b, outlen, err);
}

int dhttp_read_stream(int fd, struct dhttp_reply *rep, dhttp_sink sink, void *arg,
		      struct dhttp_error *err)
{
	struct dhttp_body b = {.sink = sink, .arg = arg};
	size_t n;

	return dhttp_read_into(fd, rep, "POST", &b, &n, err);
}

static int dhttp_read_into(int fd, struct dhttp_reply *rep, const char *method, struct dhttp_body *bp,
			   size_t *outlen, struct dhttp_error *err)
{
	struct dhttp_body b = *bp;
	char *out = b.out;
	struct http_chunked ch = {0};
	struct http_framing f;
	char chunk[DHTTP_READ_CHUNK];
	ssize_t n;
	int rc;

	*outlen = 0;
	if (out != NULL && b.outsz > 0)
		out[0] = '\0';
	if (http_response_framing(&rep->res, &f) < 0)
		return dhttp_fail(err, DHTTP_EPROTO, 0, "bad body framing in reply from Docker");
	if (strcmp(method, "HEAD") == 0)
		f.kind = HTTP_BODY_NONE;
	if (f.kind == HTTP_BODY_LENGTH && b.sink == NULL && f.content_length > b.outsz)
		return dhttp_fail(err, DHTTP_EPROTO, 0, "reply from Docker is over %zu bytes",
				  b.outsz);
	rc = dhttp_body_feed(&b, &f, &ch, rep->head + rep->head_end, rep->head_len - rep->head_end,
			     err);
	while (rc == 0) {
		n = dhttp_recv(fd, chunk, sizeof(chunk), rep->deadline, err);
		if (n < 0)
			return (int)n;
		if (n == 0) {
			if (f.kind != HTTP_BODY_CLOSE)
				return dhttp_fail(err, DHTTP_EPROTO, 0,
						  "Docker closed the connection mid-reply");
			break;
		}
		rc = dhttp_body_feed(&b, &f, &ch, chunk, (size_t)n, err);
	}
	if (rc < 0)
		return rc;
	*outlen = b.len;
	if (out != NULL && b.len < b.outsz)
		out[b.len] = '\0';
	return DHTTP_OK;
}

int dhttp_call(const struct dhttp_ctx *ctx, const char *method, const char *path,
	       const char *body, size_t body_len, int *status, char *out, size_t outsz,
	       size_t *outlen, struct dhttp_error *err)
{
	struct dhttp_reply rep;
	int fd, rc;

	*outlen = 0;
	*status = 0;
	if (out != NULL && outsz > 0)
		out[0] = '\0';
	rc = dhttp_exchange(ctx, method, path, body, body_len, "Connection: close\r\n", &rep, &fd,
			    err);
	if (rc == DHTTP_OK)
		rc = dhttp_read_body(fd, &rep, method, out, outsz, outlen, err);
	if (fd >= 0)
		close(fd);
	if (rc != DHTTP_OK)
		return rc;
	*status = rep.res.status;
	return DHTTP_OK;
}
