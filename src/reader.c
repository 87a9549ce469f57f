/*
 * The reader: accepts clients and holds them, many at once, in one epoll
 * loop, until each one's request -- head and body -- has arrived under
 * the request's deadline and size limits.  A complete request is handed,
 * connection and bytes, to an idle front; a bad, too large or too slow one
 * is answered here (400, 401, 408, 413, 431, ...).  So a worker slot is
 * taken only by a request that is all there, and clients that send
 * nothing or trickle cost a few hundred bytes each, not a slot.
 *
 * The hand-off is one SOCK_SEQPACKET socketpair shared by the reader and
 * every front, which the master creates once and keeps: a front that is
 * idle blocks in recvmsg on its end, so the kernel gives each packet to
 * exactly one idle front and a busy front is never asked; nothing here
 * tracks which front is idle, so a respawned front needs no new channel.
 * Packets are atomic: a front killed before it took one leaves it queued
 * for the next; one killed after took it closes the connection on exit
 * (the client sees the close, nothing leaks).  The reader sends only when
 * the queue is empty (SIOCOUTQ 0): at most one complete request waits in
 * the channel, the others wait here in order, each within its deadline.
 * A front that takes a packet writes one byte back to wake the reader.
 *
 * The reader checks the token before it asks for or reads a body (401
 * otherwise) without holding the token: it keeps SHA-256(salt || token)
 * with a salt drawn at its start.  The agent still checks the token of
 * every call; the verifier only lets the reader refuse early.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <linux/sockios.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http.h"
#include "io.h"
#include "json.h"
#include "log.h"
#include "netacl.h"
#include "proc.h"
#include "pull.h"
#include "ratelimit.h"
#include "reader.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "sha256.h"
#include "version.h"

#define READER_SALT 32

enum rstate { RS_FREE, RS_HEAD, RS_BODY, RS_READY, RS_LINGER };

/* One waiting connection.  Its buffer grows as bytes come, up to the limits. */
struct rconn {
	int fd;
	enum rstate st;
	int64_t started;
	int64_t deadline;     /* of its state: the request, the wait for a front, the linger */
	char *buf;
	size_t len, cap, seen;
	size_t parsed;        /* head bytes the last incomplete parse saw */
	size_t head_len;
	struct http_framing framing;
	struct http_chunked dec;
	size_t decoded;       /* body bytes decoded so far, at buf + head_len */
	size_t body_len;      /* once complete */
	bool no_content;      /* HEAD: answers carry no content */
	bool whole;           /* its head is in, it has no body: a client has nothing more to send */
	size_t lingered;      /* bytes discarded after an answer */
	struct rconn *prev, *next;
	char peer[READER_PEER];
	struct sockaddr_storage addr; /* as accept gave it: the front's rate limit needs it */
	socklen_t addr_len;
	bool rated;           /* its RATE_LIMIT_PER_MINUTE token is taken */
	bool exempt;          /* RATELIMIT_EXEMPT_PATH: takes none */
	char route[SB_ROUTE_TEXT]; /* for the scoreboard: the path, once its token is looked at */
	bool run;             /* ... POST /run: its answer counts as a run too */
	bool polled;          /* in the epoll set (a request complete at accept never is) */
};

struct rlist {
	struct rconn *head, *tail;
};

static struct config *cfg;
static struct rconn *conns;
static struct rconn *free_conns;
static unsigned max_conns, nconns;
/* Each list is in deadline order: every member of one got the same allowance. */
static struct rlist reading, waiting, lingering;
static size_t body_budget, body_used; /* buffer bytes beyond the head limit, all connections */
static int listen_sock = -1, handoff_fd = -1, epfd = -1, stop_fd = -1, life_fd = -1, ready_fd = -1;
static bool stopping, accept_paused;
static bool orphaned; /* the master is gone: its fronts take nothing more */
static uint8_t salt[READER_SALT], verifier[SHA256_LEN];
static struct http_request req; /* the head being looked at */
static const struct rconn *req_of; /* whose parsed head req holds: its log line names method and path */
static int tag_listen, tag_handoff, tag_stop, tag_life;

/* ---- lists and buffers ---- */

static struct rlist *reader_list(const struct rconn *c)
{
	switch (c->st) {
	case RS_HEAD:
	case RS_BODY:
		return &reading;
	case RS_READY:
		return &waiting;
	case RS_LINGER:
		return &lingering;
	default:
		return NULL;
	}
}

static void reader_unlink(struct rconn *c)
{
	struct rlist *l = reader_list(c);

	if (l == NULL)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

/* Enter state st with this deadline, at the end of its list. */
static void reader_enter(struct rconn *c, enum rstate st, int64_t deadline)
{
	struct rlist *l;

	reader_unlink(c);
	c->st = st;
	c->deadline = deadline;
	l = reader_list(c);
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static size_t reader_charge(size_t cap)
{
	return cap > HTTP_MAX_HEADER_BYTES ? cap - HTTP_MAX_HEADER_BYTES : 0;
}

/* The buffer held the client's token: wiped before it goes back. */
static void reader_free_buf(struct rconn *c)
{
	if (c->buf) {
		explicit_bzero(c->buf, c->seen);
		free(c->buf);
	}
	body_used -= reader_charge(c->cap);
	c->buf = NULL;
	c->len = c->cap = c->seen = 0;
}

static void reader_resume_accept(void);

static void reader_close(struct rconn *c)
{
	if (req_of == c)
		req_of = NULL;
	reader_unlink(c);
	close(c->fd);
	reader_free_buf(c);
	c->st = RS_FREE;
	c->next = free_conns;
	free_conns = c;
	nconns--;
	if (accept_paused)
		reader_resume_accept();
}

/*
 * Room for more bytes.  A head may take HTTP_MAX_HEADER_BYTES; a body up
 * to the body limit, out of the budget all bodies share.  0, or the
 * status to answer.
 */
static int reader_grow(struct rconn *c)
{
	size_t limit = c->st == RS_HEAD ? HTTP_MAX_HEADER_BYTES
					: c->head_len + cfg->max_request_bytes + FRONT_CHUNK_SLACK;
	size_t cap = c->cap ? c->cap * 2 : READER_FIRST_BUF;
	size_t more, len = c->len;
	char *p;

	if (c->cap >= limit)
		return c->st == RS_HEAD ? 431 : 413;
	if (cap > limit)
		cap = limit;
	more = reader_charge(cap) - reader_charge(c->cap);
	if (body_used + more > body_budget)
		return 503;
	p = malloc(cap);
	if (p == NULL) {
		log_error("%s: malloc(%zu)", __func__, cap);
		return 503;
	}
	if (c->buf)
		memcpy(p, c->buf, len);
	reader_free_buf(c);
	c->buf = p;
	c->cap = cap;
	c->len = c->seen = len;
	body_used += reader_charge(cap);
	return 0;
}

/*
 * Watch c for these events (0: none), adding it to the epoll set on first
 * use: a request that is whole when accepted (TCP_DEFER_ACCEPT) is read,
 * handed over and closed without ever entering it.
 */
static int reader_poll(struct rconn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (c->polled)
		return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	if (events == 0)
		return 0;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -1;
	c->polled = true;
	return 0;
}

/* ---- answers ---- */

static void reader_linger(struct rconn *c)
{
	/*
	 * A request with no body and nothing after its head: the answer says
	 * Connection: close, the client has no more to send, so closing cannot
	 * reset the answer away, and the place is free at once.
	 */
	if (c->whole && c->len == c->head_len) {
		reader_close(c);
		return;
	}
	/* The answer must reach the client even if it is still sending: drain, then close. */
	shutdown(c->fd, SHUT_WR);
	/* Not watched (the add failed): the linger's deadline closes it. */
	(void)reader_poll(c, EPOLLIN);
	c->lingered = 0;
	reader_enter(c, RS_LINGER, io_now_ms() + IO_LINGER_MAX_MS);
}

/*
 * Write a whole small answer without waiting: a fresh connection's send
 * buffer holds far more than any answer here, so a short write means a
 * client that is gone or refuses to read, and it gets no more.  The bytes
 * sent, or 0.
 */
static size_t reader_send(int fd, int status, const char *body, size_t len, const char *extra,
			  bool no_content)
{
	char head[FRONT_RESPONSE_HEAD];
	struct iovec iov[2];
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	int n = http_format_head(head, sizeof(head), status, "application/json", len, extra);

	if (n < 0)
		return 0;
	iov[0] = (struct iovec){head, (size_t)n};
	iov[1] = (struct iovec){(void *)(uintptr_t)body, no_content ? 0 : len};
	if (sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n + (ssize_t)iov[1].iov_len)
		return 0;
	return (size_t)n + iov[1].iov_len;
}

/* {"error": code, "message": message} in out; its length (0: it did not fit). */
static size_t reader_error_body(char *out, size_t n, const char *code, const char *message)
{
	struct jbuf b;

	jbuf_init(&b, out, n);
	jbuf_lit(&b, "{\"error\":");
	jbuf_str(&b, code, strlen(code));
	jbuf_lit(&b, ",\"message\":");
	jbuf_str(&b, message, strlen(message));
	jbuf_lit(&b, "}");
	return b.overflow ? 0 : b.len;
}

/* One line per request, as a front writes it: peer, method and path (while req holds its head), status, time, bytes. */
static void reader_log(const struct rconn *c, int status, size_t sent, const char *note)
{
	char method[HTTP_MAX_METHOD + 1] = "-", path[FRONT_LOG_PATH] = "-";
	const char *p;
	size_t n;

	if (req_of == c) {
		log_clean(method, sizeof(method), req.method, req.method_len);
		http_route_path(&req, &p, &n);
		log_clean(path, sizeof(path), p, n);
	}
	log_info("%s %s %s %d %" PRId64 "ms %zuB%s", c->peer, method, path, status, io_now_ms() - c->started,
		 sent, note);
}

/*
 * Answer c with a JSON body and let it go (reader_linger).  Counted as a
 * front counts its answers (runboxd_http_requests_total, and
 * runboxd_runs_total with outcome, an index of scoreboard_outcome's).
 */
static void reader_reply(struct rconn *c, int status, const char *body, size_t len, const char *extra,
			 int outcome)
{
	size_t sent = reader_send(c->fd, status, body, len, extra, c->no_content);

	scoreboard_request(SCOREBOARD_READER, c->route[0] ? c->route : "other", status);
	if (c->run)
		scoreboard_run(SCOREBOARD_READER, status, outcome);
	reader_log(c, status, sent, sent ? "" : " (not delivered)");
	reader_linger(c);
}

static void reader_answer(struct rconn *c, int status, const char *code, const char *message,
			  const char *extra)
{
	char body[FRONT_MAX_TEXT * 3];
	size_t len = reader_error_body(body, sizeof(body), code, message);

	reader_reply(c, status, body, len, extra, scoreboard_outcome(code, strlen(code)));
}

/*
 * RATE_LIMIT_PER_MINUTE, as a front takes it (front_rate_ok), for a
 * request the reader answers itself or whose token it reads: once per
 * request, the hand-off says so.  Answers 429 itself and returns false.
 */
static bool reader_rate_ok(struct rconn *c)
{
	struct ratelimit *t = ratelimit_shared();
	struct ratelimit_addr a;
	char extra[FRONT_MAX_TEXT], msg[FRONT_MAX_TEXT];
	unsigned retry;

	if (cfg->rate_per_minute == 0 || t == NULL || c->rated || c->exempt)
		return true;
	c->rated = true;
	if (!ratelimit_addr_of((const struct sockaddr *)&c->addr, c->addr_len, &a) ||
	    ratelimit_take(t, &a, cfg->rate_per_minute, cfg->rate_burst, io_now_ms(), &retry))
		return true;
	snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", retry);
	snprintf(msg, sizeof(msg), "Too many requests from this address; retry in %u s", retry);
	reader_answer(c, 429, "rate.limited", msg, extra);
	return false;
}

static void reader_http_error(struct rconn *c, int status)
{
	const char *code, *message;

	if (!reader_rate_ok(c))
		return;

	status = http_error_text(status, &code, &message);
	reader_answer(c, status, code, message, NULL);
}

static void reader_busy(struct rconn *c, const char *message)
{
	char extra[FRONT_MAX_TEXT];

	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", READER_RETRY_AFTER_SEC);
	reader_answer(c, 503, "server.busy", message, extra);
}

/* ---- the token ---- */

static void reader_digest(const char *tok, size_t n, uint8_t out[SHA256_LEN])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, salt, sizeof(salt));
	sha256_update(&s, tok, n);
	sha256_final(&s, out);
}

/* Is tok the configured token?  In constant time over the digests. */
static bool reader_token_ok(const char *tok, size_t n)
{
	uint8_t d[SHA256_LEN];
	unsigned diff = 0;

	if (tok == NULL || n == 0 || n >= CONFIG_MAX_TOKEN)
		return false;
	reader_digest(tok, n, d);
	for (size_t i = 0; i < SHA256_LEN; i++)
		diff |= (unsigned)(d[i] ^ verifier[i]);
	explicit_bzero(d, sizeof(d));
	return diff == 0;
}

/* ---- reading a request ---- */

/*
 * How long a whole request waits for a free slot: as long as a slot can
 * stay busy with one request (its Docker calls, the run, its answer).  A
 * burst longer than the slots' pace waits here as it would have in the
 * listen queue; only slots that never come free end in 503.
 */
static int64_t reader_slot_wait_ms(void)
{
	int64_t per_call = (int64_t)cfg->docker_read_timeout + cfg->docker_write_timeout;

	return ((int64_t)cfg->request_timeout + cfg->run_max_time + AGENT_MAX_CALLS * per_call) * 1000;
}

static void reader_complete(struct rconn *c, size_t body_len)
{
	c->body_len = body_len;
	/* Nothing more is read from it here: the front owns what comes next. */
	(void)reader_poll(c, 0);
	reader_enter(c, RS_READY, io_now_ms() + reader_slot_wait_ms());
}

/* The body so far; 0 to go on reading, else the status to answer (-1: completed). */
static int reader_body_progress(struct rconn *c)
{
	size_t raw;
	ssize_t r;

	if (c->framing.kind == HTTP_BODY_LENGTH) {
		if (c->len - c->head_len < c->framing.content_length)
			return 0;
		reader_complete(c, (size_t)c->framing.content_length);
		return -1;
	}
	raw = c->len - c->head_len - c->decoded;
	r = http_chunked_decode(&c->dec, c->buf + c->head_len + c->decoded, &raw);
	if (r == HTTP_ERROR)
		return 400;
	c->decoded += raw;
	c->len = c->head_len + c->decoded;
	/* A size line over the limit is refused before its data comes. */
	if (c->decoded + c->dec.remaining > cfg->max_request_bytes)
		return 413;
	if (r < 0)
		return 0;
	reader_complete(c, c->decoded);
	return -1;
}

/*
 * GET / and HEAD / answer a constant that needs no token, no agent and
 * no slot: the reader answers them itself, so that they cost one process
 * and no hand-off, and answer even while every slot is busy.  Only a head
 * a front would take as it is (http_request_fields): one it would refuse
 * goes to a front, which says why, in its order.  True when c is answered.
 */
static bool reader_root(struct rconn *c)
{
	static const char body[] = RUNBOXD_ROOT_BODY;
	const char *path, *tok;
	size_t plen, toklen;

	http_route_path(&req, &path, &plen);
	if (!(c->no_content || (req.method_len == 3 && memcmp(req.method, "GET", 3) == 0)) ||
	    plen != 1 || path[0] != '/' || http_request_fields(&req, &tok, &toklen) != NULL)
		return false;
	memcpy(c->route, "/", 2);
	if (reader_rate_ok(c))
		reader_reply(c, 200, body, sizeof(body) - 1, NULL, -1);
	return true;
}

/*
 * The head is in: decide.  A request with no body is complete.  One with
 * a body is read only for a client with the right token (401 otherwise,
 * before any 100 Continue), and only up to the body limit (413).
 */
static int reader_head_done(struct rconn *c, size_t head_len)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *why, *tok, *path;
	size_t toklen, plen;
	int status = 400;

	c->head_len = head_len;
	c->no_content = req.method_len == 4 && memcmp(req.method, "HEAD", 4) == 0;
	c->exempt = req.path_len == strlen(RATELIMIT_EXEMPT_PATH) &&
		    memcmp(req.path, RATELIMIT_EXEMPT_PATH, req.path_len) == 0;
	if (http_request_framing(&req, &c->framing, &status) < 0)
		return status;
	if (c->framing.kind == HTTP_BODY_NONE) {
		c->whole = true;
		if (reader_root(c))
			return -1;
		reader_complete(c, 0);
		return -1;
	}
	/* Before the token is looked at: guessing tokens is limited too. */
	if (!reader_rate_ok(c))
		return -1;
	http_route_path(&req, &path, &plen);
	if (plen < sizeof(c->route))
		memcpy(c->route, path, plen);
	c->run = scoreboard_is_run(req.method, req.method_len, path, plen);
	why = http_request_token(&req, &tok, &toklen);
	if (why != NULL) {
		reader_answer(c, 400, "request.malformed", why, NULL);
		return -1;
	}
	if (!reader_token_ok(tok, toklen)) {
		reader_answer(c, 401, "access_token", "Missing or wrong access token",
			      "WWW-Authenticate: Bearer realm=\"runboxd\"\r\n");
		return -1;
	}
	if (c->framing.kind == HTTP_BODY_LENGTH && c->framing.content_length > cfg->max_request_bytes)
		return 413;
	c->st = RS_BODY;
	status = reader_body_progress(c);
	/* curl waits a second for this before sending a body over 1 KiB. */
	if (status == 0 && c->framing.expect_continue && req.minor_version == 1 &&
	    send(c->fd, cont, sizeof(cont) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(cont) - 1)
		return 400;
	return status;
}

static int reader_head_progress(struct rconn *c)
{
	int r, status = 400;

	if (!http_head_may_end(c->buf, c->len, c->parsed))
		return 0;
	r = http_parse_request(c->buf, c->len, &req, &status);
	req_of = r > 0 ? c : NULL;
	if (r > 0)
		return reader_head_done(c, (size_t)r);
	if (r == HTTP_ERROR)
		return status;
	if (c->len >= HTTP_MAX_HEADER_BYTES)
		return 431;
	c->parsed = c->len;
	return 0;
}

/* One read per readiness: a client that floods does not starve the others. */
static void reader_read(struct rconn *c)
{
	ssize_t n;
	int status = 0;

	if (c->len == c->cap)
		status = reader_grow(c);
	if (status == 503) {
		reader_busy(c, "The server holds too many request bodies; retry");
		return;
	}
	if (status != 0) {
		reader_http_error(c, status);
		return;
	}
	n = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		reader_log(c, 499, 0, "");
		reader_close(c);
		return;
	}
	c->len += (size_t)n;
	c->seen = c->len > c->seen ? c->len : c->seen;
	status = c->st == RS_HEAD ? reader_head_progress(c) : reader_body_progress(c);
	if (status > 0)
		reader_http_error(c, status);
}

/* After an answer: what the client still sends is discarded, a bounded while. */
static void reader_drain(struct rconn *c)
{
	char sink[4096];
	ssize_t n = read(c->fd, sink, sizeof(sink));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		c->lingered += (size_t)n;
	if (n <= 0 || c->lingered >= IO_LINGER_MAX_BYTES)
		reader_close(c);
}

/* ---- hand-off ---- */

/* Is the channel's queue empty, i.e. has every packet sent been taken? */
static bool reader_channel_free(void)
{
	int queued = 0;

	if (ioctl(handoff_fd, SIOCOUTQ, &queued) < 0) {
		log_error("%s: ioctl(SIOCOUTQ)", __func__);
		return false;
	}
	return queued == 0;
}

/* A request too large for a packet goes in a memfd, the front reads it from offset 0. */
static int reader_memfd(const struct rconn *c, size_t n)
{
	int fd = memfd_create("runboxd-request", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0) {
		log_error("%s: memfd_create", __func__);
		return -1;
	}
	while (off < n) {
		ssize_t w = pwrite(fd, c->buf + off, n - off, (off_t)off);

		if (w <= 0) {
			log_error("%s: pwrite(%zu)", __func__, n - off);
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return fd;
}

/* Send c's request to whichever front is idle: 1 sent, 0 try later, -1 failed. */
static int reader_handoff(struct rconn *c)
{
	struct reader_handoff h;
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2];
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf};
	struct cmsghdr *cm;
	size_t n = c->head_len + c->body_len;
	int fds[2] = {c->fd, -1}, nfd = 1;
	ssize_t w;

	memset(&h, 0, sizeof(h));
	h.head_len = (uint32_t)c->head_len;
	h.body_len = (uint32_t)c->body_len;
	h.waited_ms = (uint32_t)(io_now_ms() - c->started);
	h.addr = c->addr;
	h.addr_len = (uint32_t)c->addr_len;
	h.flags = c->rated ? READER_RATED : 0;
	if (n <= READER_INLINE_MAX) {
		h.inline_len = (uint32_t)n;
	} else {
		fds[1] = reader_memfd(c, n);
		if (fds[1] < 0)
			return -1;
		nfd = 2;
	}
	iov[0] = (struct iovec){&h, sizeof(h)};
	iov[1] = (struct iovec){c->buf, h.inline_len};
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)nfd * sizeof(int));
	w = sendmsg(handoff_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (fds[1] >= 0)
		close(fds[1]);
	if (w == (ssize_t)(sizeof(h) + h.inline_len))
		return 1;
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	log_error("%s: sendmsg(%zu bytes) to the fronts", __func__, sizeof(h) + h.inline_len);
	return -1;
}

/* Hand over complete requests, in arrival order, while the channel is free. */
static void reader_pump(void)
{
	/*
	 * Without a master the fronts finish what they hold and leave, and no
	 * one respawns them: a request that waits here would wait out its whole
	 * slot deadline for nothing.  It is told at once to retry.
	 */
	while (orphaned && waiting.head != NULL)
		reader_busy(waiting.head, "The server is stopping; retry");
	while (waiting.head != NULL && reader_channel_free()) {
		struct rconn *c = waiting.head;
		int r = reader_handoff(c);

		if (r == 0)
			return;
		if (r < 0) {
			reader_busy(c, "The request could not be handed to a worker; retry");
			continue;
		}
		reader_close(c);
	}
}

/* The fronts' wake-up bytes: read and forgotten; the queue itself is the truth. */
static void reader_took(void)
{
	char b[64];

	while (recv(handoff_fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* ---- accepting ---- */

static void reader_peer(struct rconn *c, const struct sockaddr_storage *ss)
{
	io_peer_text(ss, c->peer, sizeof(c->peer));
}

/*
 * Full: the client gets 503 at once and nothing is kept (403 if
 * SERVER_ALLOWED_IPS refuses its address, as when there is room).  What
 * it sent with its connection (TCP_DEFER_ACCEPT: usually its whole
 * request) is read first, so that closing does not reset the answer away.
 */
static void reader_refuse(int fd, bool allowed)
{
	char sink[4096], extra[FRONT_MAX_TEXT], body[FRONT_MAX_TEXT * 3];
	ssize_t n = read(fd, sink, sizeof(sink));
	/* An answer to HEAD carries no content, even this one (a glance, not a parse). */
	bool head = n >= 5 && memcmp(sink, "HEAD ", 5) == 0;
	size_t len, sent;

	snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", READER_RETRY_AFTER_SEC);
	if (allowed) {
		len = reader_error_body(body, sizeof(body), "server.busy", "Too many connections waiting; retry");
		sent = reader_send(fd, 503, body, len, extra, head);
	} else {
		len = reader_error_body(body, sizeof(body), "ip.not_allowed",
					"This address may not use this server");
		sent = reader_send(fd, 403, body, len, NULL, false);
	}
	scoreboard_request(SCOREBOARD_READER, "other", allowed ? 503 : 403);
	if (!sent)
		log_debug("%s: the refused client did not take its answer", __func__);
	shutdown(fd, SHUT_WR);
	close(fd);
	if (allowed)
		log_warnx("%u connections waiting (SERVER_MAX_WAITING): refused one with 503", max_conns);
}

static void reader_pause_accept(void)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, listen_sock, NULL);
	accept_paused = true;
}

static void reader_resume_accept(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};

	if (listen_sock < 0 || stopping)
		return;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_sock, &ev) == 0)
		accept_paused = false;
}


static void reader_accept(void)
{
	for (;;) {
		struct sockaddr_storage ss = {0};
		socklen_t sl = sizeof(ss);
		struct rconn *c;
		int fd = accept4(listen_sock, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("%s: accept4; not accepting until a connection closes", __func__);
				reader_pause_accept();
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("%s: accept4", __func__);
			}
			return;
		}
		proc_served(&ready_fd);
		if (free_conns == NULL) {
			reader_refuse(fd, netacl_allows(&cfg->allowed_ips, (const struct sockaddr *)&ss, sl));
			continue;
		}
		c = free_conns;
		free_conns = c->next;
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->started = io_now_ms();
		c->addr = ss;
		c->addr_len = sl;
		reader_peer(c, &ss);
		nconns++;
		reader_enter(c, RS_HEAD, c->started + (int64_t)cfg->request_timeout * 1000);
		/*
		 * SERVER_ALLOWED_IPS: another address gets one fixed answer and
		 * nothing of its request is parsed; the linger discards what it
		 * sends, so it sees the answer, not a reset.
		 */
		if (!netacl_allows(&cfg->allowed_ips, (const struct sockaddr *)&ss, sl)) {
			reader_answer(c, 403, "ip.not_allowed", "This address may not use this server",
				      NULL);
			continue;
		}
		/*
		 * TCP_DEFER_ACCEPT: its first bytes are most likely here already.
		 * A request they complete is never watched; the rest are.
		 */
		reader_read(c);
		if ((c->st == RS_HEAD || c->st == RS_BODY) && reader_poll(c, EPOLLIN) < 0) {
			log_error("%s: epoll_ctl(ADD)", __func__);
			reader_close(c);
		}
	}
}

/* ---- the loop ---- */

/* Answer or close what is overdue; returns ms until the next deadline (-1: none). */
static int reader_expire(void)
{
	int64_t now = io_now_ms(), next = INT64_MAX;

	while (reading.head && reading.head->deadline <= now)
		reader_http_error(reading.head, 408);
	while (waiting.head && waiting.head->deadline <= now)
		reader_busy(waiting.head, "No worker slot became free in time; retry");
	while (lingering.head && lingering.head->deadline <= now)
		reader_close(lingering.head);
	if (reading.head)
		next = reading.head->deadline;
	if (lingering.head && lingering.head->deadline < next)
		next = lingering.head->deadline;
	if (waiting.head && waiting.head->deadline < next)
		next = waiting.head->deadline;
	/* A front killed after it took a packet never wakes us: look again soon. */
	if (waiting.head && now + READER_HANDOFF_RECHECK_MS < next)
		next = now + READER_HANDOFF_RECHECK_MS;
	return next == INT64_MAX ? -1 : io_left_ms(next);
}

/* SIGTERM, or the master is gone: take no new client, finish the ones we have. */
static void reader_stop(const char *why)
{
	if (stopping)
		return;
	log_info("reader: %s; finishing %u waiting connections", why, nconns);
	stopping = true;
	if (listen_sock >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, listen_sock, NULL);
		close(listen_sock);
		listen_sock = -1;
	}
}

static void reader_event(const struct epoll_event *ev)
{
	struct signalfd_siginfo si;

	if (ev->data.ptr == &tag_listen) {
		reader_accept();
	} else if (ev->data.ptr == &tag_handoff) {
		reader_took();
	} else if (ev->data.ptr == &tag_stop) {
		if (read(stop_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			reader_stop("signal");
	} else if (ev->data.ptr == &tag_life) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, life_fd, NULL);
		orphaned = true;
		reader_stop("master gone");
	} else {
		struct rconn *c = ev->data.ptr;

		if (c->st == RS_HEAD || c->st == RS_BODY)
			reader_read(c);
		else if (c->st == RS_LINGER)
			reader_drain(c);
	}
}

static void reader_watch(int fd, int *tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};

	if (fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal(2, "%s: epoll_ctl(ADD, %d)", __func__, fd);
}

/*
 * Memory: the connection table, every head buffer (up to
 * HTTP_MAX_HEADER_BYTES each) and the bodies' budget, as much as all
 * fronts can take at once.  The descriptors: one per waiting connection
 * and a few of our own, within what the master may grant.
 */
static void reader_setup(int nfds_hard_max)
{
	max_conns = cfg->max_waiting;
	if (nfds_hard_max > 0 && max_conns + READER_SPARE_FDS > (unsigned)nfds_hard_max) {
		max_conns = (unsigned)nfds_hard_max - READER_SPARE_FDS;
		log_warnx("SERVER_MAX_WAITING=%u exceeds the open-file limit (%d); holding %u",
			  cfg->max_waiting, nfds_hard_max, max_conns);
	}
	conns = calloc(max_conns, sizeof(*conns));
	if (conns == NULL)
		fatal(2, "%s: cannot allocate %u connections (SERVER_MAX_WAITING)", __func__, max_conns);
	for (unsigned i = max_conns; i-- > 0;) {
		conns[i].next = free_conns;
		free_conns = &conns[i];
	}
	/*
	 * Bodies' buffers come and go: with their own mappings they go back
	 * to the system when freed, so what the reader holds is what its
	 * waiting clients hold, not the high-water mark of a heap.
	 */
	if (mallopt(M_MMAP_THRESHOLD, READER_MMAP_THRESHOLD) != 1)
		log_warnx("%s: mallopt(M_MMAP_THRESHOLD) refused", __func__);
	body_budget = (size_t)cfg->worker_threads *
		      (size_t)(cfg->max_request_bytes + FRONT_CHUNK_SLACK);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		fatal(2, "%s: epoll_create1", __func__);
}

/* The salted verifier: the token itself is wiped before the sandbox closes. */
static void reader_verifier(void)
{
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
		fatal(2, "%s: getrandom", __func__);
	reader_digest(cfg->access_token, strlen(cfg->access_token), verifier);
	config_forget_token(cfg);
}

void reader_main(struct config *c, int lfd, int hfd, int life, int rfd)
{
	static struct epoll_event evs[READER_EVENTS];
	struct rlimit rl = {0};

	cfg = c;
	listen_sock = lfd;
	handoff_fd = hfd;
	life_fd = life;
	ready_fd = rfd;
	log_set_role("reader");
	proctitle_set("runboxd: reader");
	reader_verifier();
	stop_fd = proc_worker_signals(true);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal(2, "%s: getrlimit(RLIMIT_NOFILE)", __func__);
	reader_setup(rl.rlim_max == RLIM_INFINITY || rl.rlim_max > INT32_MAX ? 0 : (int)rl.rlim_max);
	int keep[] = {listen_sock, handoff_fd, stop_fd, ready_fd, life_fd, epfd};

	/* The agents' pull table is none of the reader's business: it must not be able to forge it. */
	pull_table_forget();
	sandbox_drop_reader(cfg, max_conns + READER_SPARE_FDS, keep, sizeof(keep) / sizeof(keep[0]));
	reader_watch(listen_sock, &tag_listen);
	reader_watch(handoff_fd, &tag_handoff);
	reader_watch(stop_fd, &tag_stop);
	reader_watch(life_fd, &tag_life);
	log_debug("reader ready: up to %u waiting connections", max_conns);
	while (!stopping || nconns > 0) {
		int n = epoll_wait(epfd, evs, READER_EVENTS, reader_expire());

		if (n < 0 && errno != EINTR)
			fatal(1, "%s: epoll_wait", __func__);
		for (int i = 0; i < n; i++)
			reader_event(&evs[i]);
		reader_expire();
		reader_pump();
	}
	log_debug("reader: every waiting connection handed over or answered; leaving");
	_exit(0);
}
