/*
 * The front: takes one complete request at a time from the reader (its
 * connection and bytes), parses HTTP and JSON, and answers.  It holds no
 * token and no Docker access; whatever needs either is a message to its agent.  For a
 * run it gets the container's attach stream from the agent, writes the
 * payload, reads Docker's frames under the run's deadline and output
 * limit, and answers the client before telling the agent it is done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "execute.h"
#include "frame.h"
#include "front.h"
#include "http.h"
#include "imageref.h"
#include "io.h"
#include "json.h"
#include "log.h"
#include "msg.h"
#include "openapi.h"
#include "proc.h"
#include "ratelimit.h"
#include "reader.h"
#include "reqlimits.h"
#include "pull.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "version.h"

#define FRONT_STDERR_PREFIX "Code runner failed with the following message: "

/* One client connection and what the log line and the scoreboard say about it. */
struct conn {
	int fd;
	const struct sockaddr_storage *ss; /* the peer's address, as accept gave it */
	char peer[INET6_ADDRSTRLEN + sizeof("[]:65535")];
	int64_t started;
	int64_t answered; /* when the answer was written: a run drains after it */
	int64_t deadline; /* for reading the request and writing the answer */
	int status;
	size_t sent;
	bool no_content; /* HEAD: the answer's head only */
	bool stream;     /* ?stream=1: a run's answer is a stream of events */
	bool streaming;  /* ... whose head is sent: what is answered now is its final event */
	bool chunked;    /* ... in chunks (HTTP/1.1), else to the close (HTTP/1.0) */
	char method[HTTP_MAX_METHOD + 1];
	char path[FRONT_LOG_PATH];
	const char *route;         /* the route its path named, whatever the method; NULL if none */
	bool run;                  /* ... and it was POST /run */
	int outcome;               /* scoreboard_outcome() of the error code answered; -1: none */
	int final_status;          /* streamed: the status of the final event (the head said 200) */
	bool counted;              /* on the scoreboard: before the answer leaves, not after a run's drain */
	bool rated;                /* the reader took its RATE_LIMIT_PER_MINUTE token */
	int64_t asked;             /* when the agent was asked for a run that got a container; 0: none */
	/* the request */
	char *buf;
	size_t len;
	size_t seen; /* bytes of buf ever written, to wipe */
	size_t head_len;
	struct http_request req;
	struct http_framing framing;
	const char *token; /* the presented token, from X-Access-Token or Authorization: Bearer */
	size_t token_len;
	char *body;
	size_t body_len;
};

static bool front_stop;
static bool front_orphan; /* the master is gone: what is still queued gets 503 */

static struct config *cfg;
static unsigned front_slot;
static int agent_fd = -1;
static int handoff_fd = -1; /* the reader's complete requests (reader.h) */
static int stop_fd = -1;  /* signalfd: SIGTERM/SIGINT */
static int ready_fd = -1; /* one byte to the master at the first connection taken */
static int life_fd = -1;  /* hangs up when the master dies */
static char *reqbuf;      /* head + body of the current request */
static size_t reqbuf_cap;
static char *outbuf;      /* a runner's stdout, RUN_MAX_OUTPUT_SIZE bytes */
static char *errbuf;      /* the first FRONT_STDERR_KEEP bytes of its stderr */
static char *jsonbuf;     /* error bodies */
static unsigned char *outmap; /* /execute: which bytes of outbuf came on stderr */
static char *emitbuf;     /* /execute: an answer's pieces (EXEC_EMIT_BUF) */
static char *stderrmsg;   /* the coderunner.stderr message before escaping */
static char *evbuf;       /* one streamed event */
static char *pendbuf[3];  /* output not yet streamed, per stream (FRAME_STDOUT, FRAME_STDERR) */
static size_t pend_len[3];
static char msgbuf[MSG_MAX];
static char metricsbuf[SCOREBOARD_TEXT_MAX];

/* ---- answers ---- */

/*
 * The answer is decided (or the client left): count it once, before it is
 * written, so that a client that has its answer finds it counted.
 */
static void front_count(struct conn *c)
{
	if (c->counted)
		return;
	c->counted = true;
	/* How long a run that had a container took, cold or warm (the agent noted which before it sent the stream). */
	if (c->asked)
		scoreboard_duration(front_slot, scoreboard_took_warm(front_slot), io_now_ms() - c->asked);
	scoreboard_request(front_slot, c->route ? c->route : "other", c->status);
	if (c->run)
		scoreboard_run(front_slot, c->final_status ? c->final_status : c->status, c->outcome);
}

/* The code of an error answer the agent composed, for runboxd_runs_total. */
static void front_note_outcome(struct conn *c, const char *body, size_t len)
{
	char code[FRONT_MAX_TEXT];
	const char *v;
	size_t vlen;
	ssize_t n;

	c->outcome = scoreboard_outcome("", 0);
	if (json_member(body, len, "error", &v, &vlen) != JSON_STRING)
		return;
	n = json_string_decode(v, vlen, code, sizeof(code));
	if (n > 0)
		c->outcome = scoreboard_outcome(code, (size_t)n);
}

/*
 * Every answer goes out here.  A 401 names the scheme the token is sent
 * in (RFC 9110 11.6.1); an answer to HEAD has GET's head and no content.
 */
static void front_stream_final(struct conn *c, int status, const char *body, size_t len);

static void front_send(struct conn *c, int status, const char *type, const char *body, size_t len,
		       const char *extra)
{
	char head[FRONT_RESPONSE_HEAD];
	int n;

	if (c->streaming) {
		front_stream_final(c, status, body, len);
		return;
	}
	c->status = status;
	if (status >= 400 && c->outcome < 0)
		front_note_outcome(c, body, len);
	if (status == 401 && extra == NULL)
		extra = "WWW-Authenticate: Bearer realm=\"runboxd\"\r\n";
	n = http_format_head(head, sizeof(head), status, type, len, extra);
	if (n < 0)
		return;
	if (c->no_content)
		len = 0;
	/* A client that has its answer finds it counted. */
	front_count(c);
	if (io_write2_all(c->fd, head, (size_t)n, body, len, c->deadline) < 0) {
		log_debug("%s: write to %s: %s", __func__, c->peer, strerror(errno));
		return;
	}
	c->sent += (size_t)n + len;
	c->answered = io_now_ms();
}

static void front_json(struct conn *c, int status, const char *body, size_t len)
{
	front_send(c, status, "application/json", body, len, NULL);
}

static void front_error_extra(struct conn *c, int status, const char *code, const char *message,
			      size_t mlen, const char *extra)
{
	struct jbuf b;

	c->outcome = scoreboard_outcome(code, strlen(code));
	jbuf_init(&b, jsonbuf, FRONT_ERROR_BODY);
	jbuf_lit(&b, "{\"error\":");
	jbuf_str(&b, code, strlen(code));
	jbuf_lit(&b, ",\"message\":");
	jbuf_str(&b, message, mlen);
	jbuf_lit(&b, "}");
	if (b.overflow) {
		log_errorx("%s: error body for %s does not fit", __func__, code);
		return;
	}
	front_send(c, status, "application/json", b.p, b.len, extra);
}

static void front_error(struct conn *c, int status, const char *code, const char *message)
{
	front_error_extra(c, status, code, message, strlen(message), NULL);
}

/* The JSON error that goes with an HTTP-level status from the parser. */
static void front_http_error(struct conn *c, int status)
{
	const char *code, *message;

	status = http_error_text(status, &code, &message);
	front_error(c, status, code, message);
}

/* ---- the request, as the reader handed it over ---- */

/*
 * The reader hands over only complete requests: the head as sent, then
 * the body (de-chunked).  Nothing more is read from the client here, so
 * a slot is never held by a client that is still sending.
 */
static int front_read_head(struct conn *c)
{
	int r, status = 400;

	r = http_parse_request(c->buf, c->len, &c->req, &status);
	if (r > 0 && (size_t)r == c->len - c->body_len) {
		c->head_len = (size_t)r;
		return 0;
	}
	if (r == HTTP_ERROR)
		return status;
	log_errorx("%s: the reader handed over %s head from %s", __func__,
		   r > 0 ? "a mis-sized" : "an incomplete", c->peer);
	return 400;
}

static int front_read_body(struct conn *c)
{
	if (c->framing.kind == HTTP_BODY_LENGTH && c->framing.content_length != c->body_len) {
		log_errorx("%s: the reader handed over %zu body bytes of %" PRIu64 " from %s", __func__,
			   c->body_len, c->framing.content_length, c->peer);
		return 400;
	}
	c->body = c->buf + c->head_len;
	return 0;
}

/* ---- routes ---- */

struct route {
	const char *path;
	const char *method; /* a GET route answers HEAD too */
	bool token;         /* the agent checks the client's token */
	bool body;          /* a request body is required */
	bool stream;        /* ?stream=1 streams the answer */
	void (*handle)(struct conn *c);
};

/* What the head must say before anything is routed (http_request_fields); answers 400 itself and returns false. */
static bool front_check_head(struct conn *c)
{
	const char *why = http_request_fields(&c->req, &c->token, &c->token_len);

	if (why == NULL)
		return true;
	front_error(c, 400, "request.malformed", why);
	return false;
}

static void front_copy_token(const struct conn *c, struct msg_ask *ask)
{
	/* A token that cannot be ours is sent as absent: the agent answers 401. */
	if (c->token_len == 0 || c->token_len >= sizeof(ask->token))
		return;
	memcpy(ask->token, c->token, c->token_len);
	ask->token_len = (uint32_t)c->token_len;
}

/* The agent is gone or broken: the slot cannot serve; answer and let the master respawn it. */
static void front_agent_lost(struct conn *c, const char *what)
{
	log_errorx("%s: agent %u %s", __func__, front_slot, what);
	front_error(c, 503, "agent.unavailable", "The worker slot is restarting; retry");
	front_stop = true;
}

static int front_agent_wait_ms(void)
{
	int64_t per_call = ((int64_t)cfg->docker_read_timeout + cfg->docker_write_timeout) * 1000;

	/* An agent may still be preparing the warm containers of the last run. */
	int64_t calls = AGENT_MAX_CALLS + 3 * (int64_t)cfg->warm_images.n;
	/* A prepare command is three calls more per container; a pull may wait for another first. */
	int64_t extra = (cfg->prepare.n > 0 ? 3 * (1 + (int64_t)cfg->warm_images.n) * per_call : 0) +
			(cfg->image_pull ? 2 * pull_budget_ms(cfg) : 0);
	int64_t ms = per_call * calls + extra + FRONT_AGENT_SLACK_MS;

	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* The MSG_REPLY of n bytes in msgbuf, checked; false (client answered) if malformed. */
static bool front_reply(struct conn *c, ssize_t n, struct msg_reply *r)
{
	if (n >= (ssize_t)sizeof(*r)) {
		memcpy(r, msgbuf, sizeof(*r));
		if (r->body_len == (size_t)n - sizeof(*r) && r->status >= 100 && r->status <= 599)
			return true;
	}
	front_agent_lost(c, "sent a malformed reply");
	return false;
}

/* Relay the agent's MSG_REPLY of n bytes in msgbuf to the client. */
static void front_relay(struct conn *c, ssize_t n)
{
	struct msg_reply r;

	if (front_reply(c, n, &r))
		front_json(c, r.status, msgbuf + sizeof(r), r.body_len);
}

static void front_route_root(struct conn *c)
{
	/* The reader answers GET / itself (reader_root); a front, one with a body the reader hands over. */
	static const char body[] = RUNBOXD_ROOT_BODY;

	front_json(c, 200, body, sizeof(body) - 1);
}

/*
 * Ask the agent and wait for its answer: MSG_REPLY, or for a run
 * MSG_ATTACHED with the stream in *fd.  Returns the answer's length in
 * msgbuf, or -1 after answering the client itself.
 */
static ssize_t front_ask_more(struct conn *c, uint32_t what, struct msg_ask *ask, const void *more,
			      size_t more_len, uint32_t *type, int *fd)
{
	const char *why = "sent an unexpected message";
	ssize_t n = -1;

	*fd = -1;
	if (msg_send(agent_fd, what, ask, sizeof(*ask), more, more_len, -1) < 0)
		why = "cannot be reached";
	else if ((n = msg_recv(agent_fd, type, msgbuf, sizeof(msgbuf), fd, front_agent_wait_ms())) < 0)
		why = strerror(errno);
	explicit_bzero(ask->token, sizeof(ask->token));
	/* Docker may have taken most of the request's time: the answer gets its own. */
	c->deadline = io_now_ms() + (int64_t)cfg->request_timeout * 1000;
	if (n >= 0 && *type == MSG_REPLY && *fd < 0)
		return n;
	if (n >= 0 && *type == MSG_ATTACHED && *fd >= 0 && (what == MSG_RUN || what == MSG_EXEC))
		return n;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	front_agent_lost(c, why);
	return -1;
}

static ssize_t front_ask(struct conn *c, uint32_t what, struct msg_ask *ask, uint32_t *type, int *fd)
{
	return front_ask_more(c, what, ask, NULL, 0, type, fd);
}

/*
 * The token, before a body is asked for (100 Continue) or read: a client
 * without the right one learns nothing about its body and cannot make the
 * front read it.  Answers the client itself and returns false unless the
 * agent says the token is good.
 */
static bool front_authorized(struct conn *c)
{
	int64_t deadline = c->deadline;
	struct msg_ask ask;
	struct msg_reply r;
	uint32_t type;
	ssize_t n;
	int fd;

	memset(&ask, 0, sizeof(ask));
	front_copy_token(c, &ask);
	if (ask.token_len == 0) {
		front_error(c, 401, "access_token", "Missing or wrong access token");
		return false;
	}
	n = front_ask(c, MSG_AUTH, &ask, &type, &fd);
	if (n < 0 || !front_reply(c, n, &r))
		return false;
	if (r.status != 204) {
		front_json(c, r.status, msgbuf + sizeof(r), r.body_len);
		return false;
	}
	/* The request is still being read: its own deadline holds, not an answer's. */
	c->deadline = deadline;
	return true;
}

static void front_route_version(struct conn *c)
{
	struct msg_ask ask;
	uint32_t type;
	ssize_t n;
	int fd;

	memset(&ask, 0, sizeof(ask));
	front_copy_token(c, &ask);
	n = front_ask(c, MSG_VERSION, &ask, &type, &fd);
	if (n >= 0)
		front_relay(c, n);
}

/* ---- POST /run ---- */

enum run_end {
	RUN_EOF,
	RUN_TIMEOUT,
	RUN_TOO_BIG,
	RUN_BAD_FRAME,
	RUN_READ_ERROR,
	RUN_CLIENT_GONE,
	RUN_ATTACH_ERROR,
	RUN_REPLY, /* stdout holds the runner's whole reply: answer now, drain after */
	RUN_BAD_RECORD, /* the runner's records of its output (frame.h) are malformed */
};

/*
 * A streamed run (?stream=1): the output goes to the client as events
 * while the answer proper is kept as in the buffered mode.
 */
struct run_sink {
	struct conn *client;       /* where events go; NULL: nowhere (buffered, or after the final event) */
	struct frame_parser inner; /* the runner's records on stdout; its limit: the output limit */
	bool in_reply;             /* past the records: stdout is the runner's reply */
	uint64_t direct;           /* bytes of all frames but the records: the output limit's */
};

/* Docker's multiplexed stream, parsed as it arrives. */
struct run_stream {
	struct frame_parser fp; /* its limit: the output limit, over all frames */
	size_t out_len;
	size_t err_len;
	bool saw_stdin;
	bool saw_stderr;
	struct json_end reply; /* where the runner's reply object ends on stdout */
	size_t scanned;        /* stdout bytes fed to reply */
	bool early;            /* may answer at the reply (RUN_WAIT_FOR_EXIT=false) */
	bool streamed;         /* ?stream=1: run_keep_stream, not run_keep */
	int64_t deadline;      /* of the run: from the payload's first write */
	uint64_t max_output;   /* the run's output limit, as the agent gave it */
	const char *in[2];     /* what the runner reads: the payload, in up to two pieces */
	size_t in_len[2];
	size_t written;        /* bytes of in written */
	bool wdone;            /* payload written or no longer wanted */
	struct run_sink k;
};

/* ---- streamed answers ---- */

/*
 * The answer's head: 200, NDJSON, no length.  Proxies are asked not to
 * buffer it (X-Accel-Buffering is nginx's).  False if the client is gone.
 */
static bool front_stream_begin(struct conn *c)
{
	static const char fields[] = "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n";
	char head[FRONT_RESPONSE_HEAD], extra[sizeof(fields) + 32];
	int n;

	c->chunked = c->req.minor_version == 1;
	snprintf(extra, sizeof(extra), "%s%s", c->chunked ? "Transfer-Encoding: chunked\r\n" : "", fields);
	n = http_format_head(head, sizeof(head), 200, "application/x-ndjson", HTTP_NO_LENGTH, extra);
	c->status = 200;
	if (n < 0 || io_write_all(c->fd, head, (size_t)n, c->deadline) < 0)
		return false;
	c->sent += (size_t)n;
	c->streaming = true;
	pend_len[FRAME_STDOUT] = pend_len[FRAME_STDERR] = 0;
	return true;
}

/*
 * One piece of the body, v[1..cnt-2], in one system call: its own chunk
 * (v[0] its size line, v[cnt-1] its CRLF and, if last, the last chunk) or,
 * for HTTP/1.0, bare bytes up to the close.
 */
static int front_stream_out(struct conn *c, struct iovec *v, int cnt, bool last, int64_t deadline)
{
	static const char tail[] = "\r\n0\r\n\r\n";
	char size[24];
	size_t len = 0, total;
	int i;

	for (i = 1; i < cnt - 1; i++)
		len += v[i].iov_len;
	v[0] = v[cnt - 1] = (struct iovec){NULL, 0};
	if (c->chunked && len > 0) {
		v[0] = (struct iovec){size, (size_t)snprintf(size, sizeof(size), "%zx\r\n", len)};
		v[cnt - 1] = (struct iovec){(void *)(uintptr_t)tail, last ? sizeof(tail) - 1 : 2};
	} else if (c->chunked && last) {
		v[cnt - 1] = (struct iovec){(void *)(uintptr_t)(tail + 2), sizeof(tail) - 3};
	}
	total = len + v[0].iov_len + v[cnt - 1].iov_len;
	if (io_writev_all(c->fd, v, cnt, deadline) < 0) {
		log_debug("%s: write to %s: %s", __func__, c->peer, strerror(errno));
		return -1;
	}
	c->sent += total;
	return 0;
}

/*
 * What is pending on stream st as one event: all of it when final, else
 * all but an incomplete UTF-8 sequence at its end, which waits for the
 * bytes that complete it.  So the events' data escape exactly as the
 * whole output does in the reply.
 */
static enum run_end run_emit(struct conn *c, enum frame_stream st, bool final, int64_t deadline)
{
	static const char *const name[] = {"stdin", "stdout", "stderr"};
	struct iovec v[3];
	struct jbuf b;
	size_t used;

	if (pend_len[st] == 0)
		return RUN_EOF;
	jbuf_init(&b, evbuf, FRONT_EVENT_MAX);
	jbuf_lit(&b, "{\"stream\":\"");
	jbuf_lit(&b, name[st]);
	jbuf_lit(&b, "\",\"data\":\"");
	used = jbuf_str_some(&b, pendbuf[st], pend_len[st], final);
	jbuf_lit(&b, "\"}\n");
	memmove(pendbuf[st], pendbuf[st] + used, pend_len[st] - used);
	pend_len[st] -= used;
	if (used == 0)
		return RUN_EOF;
	v[1] = (struct iovec){b.p, b.len};
	if (front_stream_out(c, v, 3, false, deadline) < 0)
		return errno == ETIMEDOUT ? RUN_TIMEOUT : RUN_CLIENT_GONE;
	return RUN_EOF;
}

/*
 * Output of stream st for client c (NULL: nobody, it is dropped):
 * coalesced with what is pending, sent when FRONT_EVENT_RAW bytes are
 * pending or by run_flush.
 */
static enum run_end run_out(struct conn *c, int64_t deadline, enum frame_stream st, const char *p,
			    size_t n)
{
	enum frame_stream other = st == FRAME_STDOUT ? FRAME_STDERR : FRAME_STDOUT;
	enum run_end e;

	if (c == NULL)
		return RUN_EOF;
	/* What the other stream said came first and goes first. */
	e = run_emit(c, other, false, deadline);
	while (e == RUN_EOF && n > 0) {
		size_t k = FRONT_EVENT_RAW - pend_len[st];

		k = k < n ? k : n;
		memcpy(pendbuf[st] + pend_len[st], p, k);
		pend_len[st] += k;
		p += k;
		n -= k;
		if (pend_len[st] == FRONT_EVENT_RAW)
			e = run_emit(c, st, false, deadline);
	}
	return e;
}

/* After each read from the container: what it said goes out now. */
static enum run_end run_flush(struct run_stream *s)
{
	enum run_end e;

	if (s->k.client == NULL)
		return RUN_EOF;
	e = run_emit(s->k.client, FRAME_STDOUT, false, s->deadline);
	if (e == RUN_EOF)
		e = run_emit(s->k.client, FRAME_STDERR, false, s->deadline);
	return e;
}

/*
 * The final event, for what the buffered mode would have answered: the
 * runner's reply as {"result": <reply>}, an error as its body with
 * "status" (the buffered answer's) added; then the end of the body.
 */
static void front_stream_final(struct conn *c, int status, const char *body, size_t len)
{
	char post[32];
	struct iovec v[5] = {{0}};

	/* Stray bytes of an incomplete UTF-8 sequence at the very end. */
	/* The run's outcome is the final event's, for the log and runboxd_runs_total. */
	c->final_status = status;
	if (status >= 400 && c->outcome < 0)
		front_note_outcome(c, body, len);
	if (run_emit(c, FRAME_STDOUT, true, c->deadline) != RUN_EOF ||
	    run_emit(c, FRAME_STDERR, true, c->deadline) != RUN_EOF)
		return;
	if (status == 200) {
		v[1] = (struct iovec){(void *)(uintptr_t) "{\"result\":", 10};
		v[2] = (struct iovec){(void *)(uintptr_t)body, len};
		v[3] = (struct iovec){(void *)(uintptr_t) "}\n", 2};
	} else if (len >= 2 && body[len - 1] == '}') {
		v[2] = (struct iovec){(void *)(uintptr_t)body, len - 1};
		v[3] = (struct iovec){post, (size_t)snprintf(post, sizeof(post), ",\"status\":%d}\n", status)};
	} else {
		log_errorx("%s: a %d answer that is not a JSON object; ending the stream without it",
			   __func__, status);
	}
	if (front_stream_out(c, v, 5, true, c->deadline) == 0)
		c->answered = io_now_ms();
}

/* Keep one span of a frame's payload: stdout whole, stderr up to FRONT_STDERR_KEEP. */
static void run_keep(struct run_stream *s, const struct frame_event *ev)
{
	size_t keep;

	if (ev->stream == FRAME_STDIN && ev->start)
		s->saw_stdin = true;
	if (ev->stream == FRAME_STDERR && ev->frame_len > 0)
		s->saw_stderr = true;
	if (ev->stream == FRAME_STDOUT) {
		memcpy(outbuf + s->out_len, ev->data, ev->len);
		s->out_len += ev->len;
	} else if (ev->stream == FRAME_STDERR && s->err_len < FRONT_STDERR_KEEP) {
		keep = FRONT_STDERR_KEEP - s->err_len;
		keep = keep < ev->len ? keep : ev->len;
		memcpy(errbuf + s->err_len, ev->data, keep);
		s->err_len += keep;
	}
}

/*
 * stdout of a streamed run: the runner's records (frame.h) become events;
 * at a byte where no record can start, the reply begins, kept as in the
 * buffered mode.  A runner that writes no records has its reply kept
 * whole.
 */
static enum run_end run_records(struct run_stream *s, const char *p, size_t n)
{
	struct frame_event ev;
	enum run_end e;
	ssize_t r;

	while (n > 0) {
		if (!s->k.in_reply && !frame_midway(&s->k.inner) && p[0] != FRAME_STDOUT &&
		    p[0] != FRAME_STDERR)
			s->k.in_reply = true;
		if (s->k.in_reply) {
			if (n > s->max_output - s->k.direct)
				return RUN_TOO_BIG;
			s->k.direct += n;
			memcpy(outbuf + s->out_len, p, n);
			s->out_len += n;
			return RUN_EOF;
		}
		r = frame_parse(&s->k.inner, p, n, &ev);
		if (r == FRAME_INCOMPLETE)
			return RUN_EOF;
		if (r == FRAME_TOO_BIG)
			return RUN_TOO_BIG;
		/* Empty records are refused: their count stays bounded by the output limit. */
		if (r < 0 || (ev.start && ev.frame_len == 0))
			return RUN_BAD_RECORD;
		e = run_out(s->k.client, s->deadline, ev.stream, ev.data, ev.len);
		if (e != RUN_EOF)
			return e;
		p += r;
		n -= (size_t)r;
	}
	return RUN_EOF;
}

/*
 * One span of a frame of a streamed run.  The output limit counts what
 * the buffered answer is made of (every frame but the runner's records)
 * and, apart, the records: either past it ends the run, as the reply that
 * repeats the records' bytes would have in the buffered mode.
 */
static enum run_end run_keep_stream(struct run_stream *s, const struct frame_event *ev)
{
	size_t keep;

	if (ev->stream == FRAME_STDOUT)
		return run_records(s, ev->data, ev->len);
	if (ev->start && ev->frame_len > s->max_output - s->k.direct)
		return RUN_TOO_BIG;
	if (ev->start)
		s->k.direct += ev->frame_len;
	if (ev->stream == FRAME_STDIN) {
		s->saw_stdin = true;
		return RUN_EOF;
	}
	if (ev->frame_len > 0)
		s->saw_stderr = true;
	if (s->err_len < FRONT_STDERR_KEEP) {
		keep = FRONT_STDERR_KEEP - s->err_len;
		keep = keep < ev->len ? keep : ev->len;
		memcpy(errbuf + s->err_len, ev->data, keep);
		s->err_len += keep;
	}
	return run_out(s->k.client, s->deadline, FRAME_STDERR, ev->data, ev->len);
}

/* Feed stream bytes; returns RUN_EOF to go on, or why to stop. */
static enum run_end run_feed(struct run_stream *s, const char *p, size_t n)
{
	struct frame_event ev;
	ssize_t r;

	while (n > 0) {
		r = frame_parse(&s->fp, p, n, &ev);
		if (r == FRAME_INCOMPLETE)
			break;
		if (r == FRAME_TOO_BIG)
			return RUN_TOO_BIG;
		if (r < 0)
			return RUN_BAD_FRAME;
		if (!s->streamed) {
			run_keep(s, &ev);
		} else {
			enum run_end e = run_keep_stream(s, &ev);

			if (e != RUN_EOF)
				return e;
		}
		p += r;
		n -= (size_t)r;
	}
	return RUN_EOF;
}

/* Write what the stream takes now; -1 when the container stopped reading. */
static int run_write(int fd, struct run_stream *s)
{
	size_t total = s->in_len[0] + s->in_len[1];

	while (s->written < total) {
		size_t at = s->written, i = at < s->in_len[0] ? 0 : 1;
		size_t off = i == 0 ? at : at - s->in_len[0];
		ssize_t n = send(fd, s->in[i] + off, s->in_len[i] - off, MSG_NOSIGNAL);

		if (n > 0) {
			s->written += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	return 0;
}

/*
 * Has stdout become the runner's complete reply, with nothing on stderr or
 * stdin?  Then the answer cannot change but by what the runner says after
 * it, which docker-run would have turned into an error; runboxd answers.
 */
static bool run_reply_ready(struct run_stream *s)
{
	if (!s->early || s->saw_stdin || s->saw_stderr)
		return false;
	if (!json_end_feed(&s->reply, outbuf + s->scanned, s->out_len - s->scanned)) {
		s->scanned = s->out_len;
		return false;
	}
	s->scanned = s->out_len;
	/* Judged once: a delimited prefix that is not JSON stays for EOF to decide. */
	s->early = false;
	return json_check(outbuf, s->reply.end) == JSON_OBJECT;
}

/*
 * Write the payload and read frames until EOF, the deadline, the output
 * limit, the client leaving, or (s->early) the runner's complete reply --
 * all in one poll loop, so a program that talks before it has read all its
 * input cannot deadlock us.  With c NULL the client is no longer watched
 * (it has its answer).
 */
static enum run_end run_pump(struct conn *c, int sfd, const char *early, size_t early_len,
			     struct run_stream *s)
{
	char chunk[FRONT_STREAM_CHUNK];
	enum run_end e;

	e = run_feed(s, early, early_len);
	if (e == RUN_EOF)
		e = run_flush(s);
	if (e != RUN_EOF)
		return e;
	if (run_reply_ready(s))
		return RUN_REPLY;
	for (;;) {
		struct pollfd p[2] = {
			{.fd = sfd, .events = POLLIN | (s->wdone ? 0 : POLLOUT)},
			{.fd = c ? c->fd : -1, .events = POLLRDHUP},
		};
		int left = io_left_ms(s->deadline);
		int r;

		if (left == 0)
			return RUN_TIMEOUT;
		r = io_poll(p, 2, left);
		if (r < 0 && errno != EINTR)
			return RUN_READ_ERROR;
		if (r <= 0)
			continue;
		if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
			return RUN_CLIENT_GONE;
		if (!s->wdone && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			/* A runner that exits without reading all of its input is not our failure: its output decides. */
			if (run_write(sfd, s) < 0 || s->written == s->in_len[0] + s->in_len[1]) {
				shutdown(sfd, SHUT_WR);
				s->wdone = true;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(sfd, chunk, sizeof(chunk));

			if (n == 0)
				return frame_midway(&s->fp) ? RUN_READ_ERROR : RUN_EOF;
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				return RUN_READ_ERROR;
			}
			e = run_feed(s, chunk, (size_t)n);
			if (e == RUN_EOF)
				e = run_flush(s);
			if (e != RUN_EOF)
				return e;
			if (run_reply_ready(s))
				return RUN_REPLY;
		}
	}
}

/*
 * The client has its answer: read the stream to its end (the container's
 * exit) under the run's own deadline and output limit, so that the
 * container is removed after it is done, and log what the runner said
 * after its reply.
 */
static void run_drain(int sfd, struct run_stream *s)
{
	size_t tail = 0;
	enum run_end e;

	s->k.client = NULL; /* it has its final event */
	e = run_pump(NULL, sfd, NULL, 0, s);
	for (size_t i = s->reply.end; i < s->out_len; i++)
		if (outbuf[i] != ' ' && outbuf[i] != '\t' && outbuf[i] != '\r' && outbuf[i] != '\n')
			tail++;
	if (tail > 0 || s->saw_stderr || s->saw_stdin) {
		scoreboard_late_output(front_slot, tail + s->err_len);
		log_warnx("run: the runner wrote after its reply (%zu more bytes on stdout%s%s); "
			  "the answer stands", tail, s->saw_stderr ? ", some on stderr" : "",
			  s->saw_stdin ? ", some on stdin" : "");
	}
	if (e != RUN_EOF)
		log_info("run: the stream did not end after the reply (%s); the container is removed",
			  e == RUN_TIMEOUT ? "execution time" : e == RUN_TOO_BIG ? "output size" : "read error");
}

/*
 * The runner's reply, outbuf[0..len), checked to be one JSON object.  In
 * an event it must be one line: every CR or LF of valid JSON is
 * whitespace between tokens (a string holds them escaped), so a space
 * does as well.
 */
static void run_result(struct conn *c, size_t len)
{
	for (size_t i = 0; c->streaming && i < len; i++)
		if (outbuf[i] == '\n' || outbuf[i] == '\r')
			outbuf[i] = ' ';
	front_json(c, 200, outbuf, len);
}

static void run_answer(struct conn *c, enum run_end e, const struct run_stream *s)
{
	char msg[128];

	switch (e) {
	case RUN_TIMEOUT:
		front_error(c, 400, "limits.execution_time", "Max execution time exceeded");
		return;
	case RUN_TOO_BIG:
		snprintf(msg, sizeof(msg), "Max output size exceeded (%" PRIu64 " bytes)", s->max_output);
		front_error(c, 400, "limits.read.size", msg);
		return;
	case RUN_BAD_FRAME:
		front_error(c, 500, "docker.container.stream.read", "Malformed frame on the container stream");
		return;
	case RUN_READ_ERROR:
		front_error(c, 500, "docker.container.stream.read", "Failed to read the container stream");
		return;
	case RUN_CLIENT_GONE:
		c->status = 499;
		return;
	case RUN_ATTACH_ERROR:
		front_error(c, 500, "docker.container.attach", "Cannot use the container stream");
		return;
	case RUN_BAD_RECORD:
		front_error(c, 500, "coderunner.stdout.decode", "Code runner sent a malformed output record");
		return;
	case RUN_EOF:
	case RUN_REPLY:
		break;
	}
	if (s->saw_stdin) {
		front_error(c, 500, "coderunner.stdin", "Code runner wrote to stdin");
	} else if (s->saw_stderr) {
		size_t n = sizeof(FRONT_STDERR_PREFIX) - 1;

		memcpy(stderrmsg, FRONT_STDERR_PREFIX, n);
		memcpy(stderrmsg + n, errbuf, s->err_len);
		front_error_extra(c, 500, "coderunner.stderr", stderrmsg, n + s->err_len, NULL);
	} else if (json_check(outbuf, s->out_len) != JSON_OBJECT) {
		front_error(c, 500, "coderunner.stdout.decode", "Code runner did not print a JSON object");
	} else {
		run_result(c, s->out_len);
	}
}

/*
 * A streamed run's payload gains FRAME_STREAM_MEMBER as its last member
 * (the last of a repeated one is what runbox-runner reads): the payload
 * less its closing brace, then the member and the brace.
 */
static void run_input(struct run_stream *s, const char *payload, size_t plen)
{
	size_t i = 1;

	s->in[0] = payload;
	s->in_len[0] = plen;
	if (!s->streamed)
		return;
	while (payload[i] == ' ' || payload[i] == '\t' || payload[i] == '\r' || payload[i] == '\n')
		i++;
	s->in_len[0] = plen - 1;
	s->in[1] = payload[i] == '}' ? "\"" FRAME_STREAM_MEMBER "\":1}" : ",\"" FRAME_STREAM_MEMBER "\":1}";
	s->in_len[1] = strlen(s->in[1]);
}

static enum run_end run_stream(struct conn *c, int sfd, const struct msg_attached *att,
			       const char *early, size_t early_len, const char *payload, size_t plen,
			       struct run_stream *s)
{
	enum run_end e;

	memset(s, 0, sizeof(*s));
	s->max_output = att->output;
	s->streamed = c->streaming;
	run_input(s, payload, plen);
	/* A streamed run counts its output in run_keep_stream. */
	frame_init(&s->fp, s->streamed ? UINT64_MAX : att->output);
	frame_init(&s->k.inner, att->output);
	s->k.client = s->streamed ? c : NULL;
	json_end_init(&s->reply);
	s->early = !cfg->wait_for_exit;
	s->deadline = io_now_ms() + (int64_t)att->time_ms;
	if (io_set_nonblock(sfd) < 0) {
		log_error("%s: fcntl(O_NONBLOCK)", __func__);
		return RUN_ATTACH_ERROR;
	}
	e = run_pump(c, sfd, early, early_len, s);
	/* The run took its own time: the answer gets the request's allowance anew. */
	c->deadline = io_now_ms() + (int64_t)cfg->request_timeout * 1000;
	return e;
}

/*
 * Validate the body, {"image": "<reference>", "payload": {...}, "limits":
 * {...} (optional)}, in one pass.  Returns NULL, or the error code with
 * its message in msg.
 */
static const char *front_run_check(const struct conn *c, struct msg_ask *ask, const char **payload,
				   size_t *plen, char *msg, size_t msgsz)
{
	static const char *const keys[] = {"image", "payload", "limits"};
	struct json_span v[3];
	size_t dup = 0;

	switch (json_object_pick(c->body, c->body_len, keys, 3, v, &dup)) {
	case JSON_PICK_OK:
		break;
	case JSON_PICK_DEPTH:
		snprintf(msg, msgsz, "Request body nests deeper than %d levels", JSON_MAX_DEPTH);
		return "request.json";
	case JSON_PICK_DUPLICATE:
		snprintf(msg, msgsz, "Request body has \"%s\" more than once", keys[dup]);
		return "request.json";
	default:
		snprintf(msg, msgsz, "Request body must be a JSON object");
		return "request.json";
	}
	if (v[0].type != JSON_STRING ||
	    json_string_decode(v[0].p, v[0].len, ask->image, sizeof(ask->image)) < 1 ||
	    !imageref_valid(ask->image)) {
		snprintf(msg, msgsz, "\"image\" must be a valid Docker image reference");
		return "request.image";
	}
	ask->image_len = (uint32_t)strlen(ask->image);
	if (v[1].type != JSON_OBJECT) {
		snprintf(msg, msgsz, "\"payload\" must be a JSON object");
		return "request.payload";
	}
	*payload = v[1].p;
	*plen = v[1].len;
	if (v[2].type != JSON_INVALID &&
	    reqlimits_parse(v[2].p, v[2].len, cfg, &ask->limits, msg, msgsz) < 0)
		return "request.limits";
	return NULL;
}

/*
 * The limits the agent gave the run, with its stream: none may be over
 * the configuration's (the output buffer has just that size).
 */
static bool front_attached_ok(ssize_t n, struct msg_attached *att)
{
	if (n < (ssize_t)sizeof(*att))
		return false;
	memcpy(att, msgbuf, sizeof(*att));
	return att->time_ms >= 1 && att->time_ms <= (uint64_t)cfg->run_max_time * 1000 &&
	       att->output >= 1 && att->output <= cfg->run_max_output;
}

/*
 * The body fields of a request that must have a body: its framing and
 * how it is typed and coded.  Answers the client itself and returns false.
 */
static bool front_body_acceptable(struct conn *c)
{
	static const char coding[] = "Content-Encoding other than identity is not supported";
	const struct http_header *h = NULL;
	size_t i;

	if (c->framing.kind == HTTP_BODY_NONE) {
		front_http_error(c, 411);
		return false;
	}
	/* Repeats were refused with the head; docker-run's clients do not all send one. */
	http_header_unique(c->req.headers, c->req.num_headers, "Content-Type", &h);
	if (h != NULL && !http_media_type_is(h->value, h->value_len, "application/json")) {
		front_error(c, 415, "request.content_type", "Content-Type must be application/json");
		return false;
	}
	for (i = 0; i < c->req.num_headers; i++) {
		h = &c->req.headers[i];
		if (http_token_eq(h->name, h->name_len, "Content-Encoding") &&
		    !http_list_only(h->value, h->value_len, "identity")) {
			front_error_extra(c, 415, "request.content_encoding", coding, sizeof(coding) - 1,
					  "Accept-Encoding: identity\r\n");
			return false;
		}
	}
	return true;
}

/* Tell the agent the run is over: it removes the container. */
static void front_done(void)
{
	if (msg_send(agent_fd, MSG_DONE, NULL, 0, NULL, 0, -1) < 0) {
		log_errorx("%s: agent %u gone before the run was over; its successor removes the container",
			   __func__, front_slot);
		front_stop = true;
	}
}

/*
 * Wait until the agent has removed the run's container and made the next
 * warm one: the client has its answer, and meanwhile this slot takes no
 * other connection, which goes to a slot that is ready.
 */
static void front_ready(void)
{
	struct msg_reply r;
	uint32_t type = 0;
	ssize_t n;
	int fd = -1;

	if (front_stop)
		return;
	n = msg_recv(agent_fd, &type, msgbuf, sizeof(msgbuf), &fd, front_agent_wait_ms());
	if (fd >= 0)
		close(fd);
	if (n == (ssize_t)sizeof(r) && type == MSG_REPLY && fd < 0) {
		memcpy(&r, msgbuf, sizeof(r));
		if (r.status == 204 && r.body_len == 0)
			return;
	}
	log_errorx("%s: agent %u did not confirm the end of the run (%s); leaving", __func__, front_slot,
		   n < 0 ? strerror(errno) : "unexpected message");
	front_stop = true;
}

/*
 * The stream ended with no reply: ask the agent whether the memory limit
 * killed the container.  True when the client was answered.
 */
static bool front_run_killed(struct conn *c)
{
	struct msg_reply r;
	uint32_t type = 0;
	ssize_t n = -1;
	int fd = -1;

	if (msg_send(agent_fd, MSG_EXIT, NULL, 0, NULL, 0, -1) == 0)
		n = msg_recv(agent_fd, &type, msgbuf, sizeof(msgbuf), &fd, front_agent_wait_ms());
	if (fd >= 0) {
		close(fd);
		n = -1;
	}
	if (n < 0 || type != MSG_REPLY) {
		front_agent_lost(c, "did not say how the container ended");
		return true;
	}
	if (!front_reply(c, n, &r))
		return true;
	if (r.status == 204)
		return false;
	front_json(c, r.status, msgbuf + sizeof(r), r.body_len);
	return true;
}

/*
 * The agent has checked the token: wipe it from the request head now, not
 * at the end of the connection, which waits for the run's drain.
 */
static void front_forget_token(struct conn *c)
{
	for (size_t i = 0; i < c->req.num_headers; i++) {
		const struct http_header *h = &c->req.headers[i];

		if (http_token_eq(h->name, h->name_len, "X-Access-Token") ||
		    http_token_eq(h->name, h->name_len, "X-API-Key") ||
		    http_token_eq(h->name, h->name_len, "Authorization"))
			explicit_bzero(c->buf + (h->value - c->buf), h->value_len);
	}
}

/*
 * Start a container for the request (MSG_RUN, or MSG_EXEC with its script
 * in more): the client's token goes with the ask and is wiped after.  The
 * agent's word on the run's limits is in *att, its attach stream in *sfd,
 * and the stream's first bytes follow the limits in msgbuf, *early_len of
 * them; false when the client has been answered instead (the
 * agent's refusal relayed, or the agent failed us).
 */
static bool front_start(struct conn *c, uint32_t what, struct msg_ask *ask, const void *more, size_t more_len,
			struct msg_attached *att, int *sfd, size_t *early_len)
{
	uint32_t type;
	ssize_t n;

	front_copy_token(c, ask);
	n = front_ask_more(c, what, ask, more, more_len, &type, sfd);
	front_forget_token(c);
	if (n < 0)
		return false;
	if (type == MSG_REPLY) {
		front_relay(c, n);
		return false;
	}
	if (!front_attached_ok(n, att)) {
		close(*sfd);
		*sfd = -1;
		front_agent_lost(c, "gave a run limits over the configuration's");
		return false;
	}
	*early_len = (size_t)n - sizeof(*att);
	return true;
}

/* The token was found good before the body was read (front_authorized). */
static void front_route_run(struct conn *c)
{
	struct msg_attached att;
	struct msg_ask ask;
	struct run_stream s;
	const char *payload = NULL, *bad;
	char why[REQLIMITS_MAX_MESSAGE];
	size_t plen = 0, early_len;
	enum run_end e;
	int64_t asked;
	int sfd;

	memset(&ask, 0, sizeof(ask));
	bad = front_run_check(c, &ask, &payload, &plen, why, sizeof(why));
	if (bad) {
		front_error(c, 400, bad, why);
		return;
	}
	/* The agent decides (it checks again); this only spares it a refused image's round trip. */
	if (!imageref_list_allows(cfg->image_allow.item, cfg->image_allow.n, ask.image)) {
		front_error(c, 403, "image.not_allowed", "This image is not in RUN_IMAGE_ALLOWLIST");
		return;
	}
	asked = io_now_ms();
	if (!front_start(c, MSG_RUN, &ask, NULL, 0, &att, &sfd, &early_len))
		return;
	c->asked = asked;
	/* The container runs: from here on the answer of a streamed run is 200, its events. */
	if (c->stream && !front_stream_begin(c)) {
		close(sfd);
		front_done();
		front_ready();
		c->status = 499;
		return;
	}
	e = run_stream(c, sfd, &att, msgbuf + sizeof(att), early_len, payload, plen, &s);
	if (e == RUN_REPLY) {
		run_result(c, s.reply.end);
		run_drain(sfd, &s);
		close(sfd);
		front_done();
		front_ready();
		return;
	}
	close(sfd);
	/* A run stopped early is killed at once; a finished one after the client has its answer. */
	if (e != RUN_EOF)
		front_done();
	if (e != RUN_EOF || s.saw_stdin || json_check(outbuf, s.out_len) == JSON_OBJECT ||
	    !front_run_killed(c))
		run_answer(c, e, &s);
	if (e == RUN_EOF)
		front_done();
	front_ready();
}

/* The API's own description (src/openapi.json), public as GET / is. */
static void front_route_openapi(struct conn *c)
{
	front_json(c, 200, openapi_doc, openapi_doc_len);
}

/* ---- POST /execute and /compile (execute.c) ---- */

/*
 * The stream is over: ask the agent how the container ended, stopping it
 * first when a limit ended the run.  False when the agent failed us (the
 * client has been answered).
 */
static bool front_exec_status(struct conn *c, bool kill, struct msg_status *st)
{
	struct msg_wait w = {.kill = kill ? 1 : 0};
	uint32_t type = 0;
	ssize_t n = -1;
	int fd = -1;

	if (msg_send(agent_fd, MSG_WAIT, &w, sizeof(w), NULL, 0, -1) == 0)
		n = msg_recv(agent_fd, &type, msgbuf, sizeof(msgbuf), &fd, front_agent_wait_ms());
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(*st) || type != MSG_STATUS || fd >= 0) {
		front_agent_lost(c, "did not say how the container ended");
		return false;
	}
	memcpy(st, msgbuf, sizeof(*st));
	return true;
}

static void front_exec_answer(struct conn *c, enum exec_end e, const struct msg_status *st,
			      struct exec_result *r, enum exec_answer kind)
{
	ssize_t n;

	switch (e) {
	case EXEC_BAD_FRAME:
		front_error(c, 500, "docker.container.stream.read", "Malformed frame on the container stream");
		return;
	case EXEC_READ_ERROR:
		front_error(c, 500, "docker.container.stream.read", "Failed to read the container stream");
		return;
	case EXEC_ATTACH_ERROR:
		front_error(c, 500, "docker.container.attach", "Cannot use the container stream");
		return;
	default:
		break;
	}
	r->end = e;
	r->exit_known = (st->flags & MSG_STATUS_KNOWN) != 0;
	r->exit_code = st->exit_code;
	r->oom = (st->flags & MSG_STATUS_OOM) != 0;
	c->status = 200;
	if (!c->streaming) {
		n = exec_answer_send(c->fd, c->deadline, kind, r, emitbuf);
	} else if (run_emit(c, FRAME_STDOUT, true, c->deadline) != RUN_EOF ||
		   run_emit(c, FRAME_STDERR, true, c->deadline) != RUN_EOF) {
		return; /* the client is gone */
	} else {
		n = exec_answer_event(c->fd, c->deadline, kind, r, emitbuf, c->chunked);
	}
	if (n < 0) {
		log_debug("%s: write to %s: %s", __func__, c->peer, strerror(errno));
		return;
	}
	c->sent += (size_t)n;
	c->answered = io_now_ms();
}

/* A streamed /execute: what is kept of the output also goes out as events. */
struct exec_events {
	struct exec_out *out;
	struct conn *client;
	int64_t deadline;
	enum run_end failed; /* why the sink refused: the client, not the output limit */
};

/* An exec_sink: exec_out_keep, then what it kept as an event of its own (each frame's span). */
static bool front_exec_events(void *arg, enum frame_stream stream, const char *p, size_t n)
{
	struct exec_events *k = arg;
	size_t before = k->out->len;
	bool ok = exec_out_keep(k->out, stream, p, n);
	enum run_end e = RUN_EOF;

	if (stream != FRAME_STDIN && k->out->len > before) {
		e = run_out(k->client, k->deadline, stream, k->out->buf + before, k->out->len - before);
		if (e == RUN_EOF)
			e = run_emit(k->client, stream, false, k->deadline);
	}
	if (e != RUN_EOF) {
		k->failed = e;
		return false;
	}
	return ok;
}

/*
 * A command in a stock image: the agent creates it from the kind, the
 * image asked for and the script; its stdin gets the request's input, its
 * two streams are kept apart under the output limit, and the answer says
 * how it ended (Docker's exit code, after a kill when a limit ended it).
 */
static void front_exec(struct conn *c, enum msg_exec_kind kind)
{
	static struct {
		struct msg_exec h;
		char script[EXEC_MAX_SCRIPT];
	} x;
	enum exec_answer answer = kind == MSG_EXEC_SHELL ? EXEC_ANSWER_EXECUTE : EXEC_ANSWER_COMPILE;
	struct exec_request rq;
	struct msg_attached lim;
	struct exec_result res;
	struct exec_out out;
	struct exec_io io;
	struct exec_events ev;
	struct msg_status st;
	struct msg_ask ask;
	char why[REQLIMITS_MAX_MESSAGE];
	const char *bad;
	enum exec_end e;
	size_t early_len;
	int64_t t0;
	int sfd;

	bad = answer == EXEC_ANSWER_EXECUTE
		      ? exec_parse_execute(c->body, c->body_len, &rq, why, sizeof(why))
		      : exec_parse_compile(c->body, c->body_len, &rq, why, sizeof(why));
	memset(&ask, 0, sizeof(ask));
	if (!bad && rq.limits != NULL &&
	    reqlimits_parse(rq.limits, rq.limits_len, cfg, &ask.limits, why, sizeof(why)) < 0)
		bad = "request.limits";
	if (bad) {
		front_error(c, 400, bad, why);
		return;
	}
	memcpy(ask.image, rq.image, sizeof(ask.image));
	ask.image_len = (uint32_t)strlen(ask.image);
	x.h.kind = kind;
	x.h.script_len = (uint32_t)rq.script_len;
	memcpy(x.script, rq.script, rq.script_len);
	/* The agent's word on the run's limits: the request's, checked, or the server's. */
	if (!front_start(c, MSG_EXEC, &ask, &x, sizeof(x.h) + rq.script_len, &lim, &sfd, &early_len))
		return;
	exec_out_init(&out, outbuf, outmap, lim.output);
	memset(&io, 0, sizeof(io));
	io.sfd = sfd;
	io.client_fd = c->fd;
	io.input = rq.input;
	io.input_len = rq.input_len;
	t0 = io_now_ms();
	io.deadline = t0 + (int64_t)lim.time_ms;
	io.sink = exec_out_keep;
	io.arg = &out;
	ev = (struct exec_events){.out = &out, .client = c, .deadline = io.deadline, .failed = RUN_EOF};
	if (c->stream) {
		io.sink = front_exec_events;
		io.arg = &ev;
	}
	/* The container runs: from here on the answer of a streamed run is 200, its events. */
	if (c->stream && !front_stream_begin(c))
		e = EXEC_CLIENT_GONE;
	else
		e = exec_pump(&io, msgbuf + sizeof(lim), early_len);
	if (ev.failed == RUN_CLIENT_GONE)
		e = EXEC_CLIENT_GONE;
	else if (ev.failed == RUN_TIMEOUT)
		e = EXEC_TIMEOUT;
	close(sfd);
	memset(&res, 0, sizeof(res));
	res.ms = io_now_ms() - t0;
	res.output_limit = lim.output;
	res.out = &out;
	/* The run took its own time: the answer gets the request's allowance anew. */
	c->deadline = io_now_ms() + (int64_t)cfg->request_timeout * 1000;
	if (e == EXEC_CLIENT_GONE) {
		c->status = 499;
	} else if (front_exec_status(c, e != EXEC_EOF, &st)) {
		front_exec_answer(c, e, &st, &res, answer);
	} else {
		return; /* the agent is gone: the slot ends */
	}
	front_done();
	front_ready();
}

static void front_route_execute(struct conn *c)
{
	front_exec(c, MSG_EXEC_SHELL);
}

static void front_route_compile(struct conn *c)
{
	front_exec(c, MSG_EXEC_PYTHON);
}

/* GET /health: no token, no container; each slot's state and Docker's _ping. */
static void front_route_health(struct conn *c)
{
	char body[FRONT_RESPONSE_HEAD + (DOCKER_MAX_MESSAGE + 64) * 6]; /* the agent's message, each byte escaped */
	const struct scoreboard *sb = scoreboard_get();
	unsigned busy = 0, idle = 0, down = 0;
	const char *why = NULL;
	char slots[FRONT_MAX_TEXT];
	struct msg_reply r;
	const char *v = NULL;
	size_t vlen = 0;
	struct jbuf b;
	uint32_t type;
	ssize_t n;
	int fd = -1;

	if (msg_send(agent_fd, MSG_PING, NULL, 0, NULL, 0, -1) < 0 ||
	    (n = msg_recv(agent_fd, &type, msgbuf, sizeof(msgbuf), &fd, front_agent_wait_ms())) < 0 ||
	    type != MSG_REPLY || fd >= 0) {
		if (fd >= 0)
			close(fd);
		front_agent_lost(c, "did not answer the health check");
		return;
	}
	if (!front_reply(c, n, &r))
		return;
	if (r.status != 204 && json_member(msgbuf + sizeof(r), r.body_len, "message", &v, &vlen) != JSON_STRING)
		v = NULL;
	if (sb != NULL)
		scoreboard_slots(sb, &busy, &idle, &down);
	snprintf(slots, sizeof(slots), "{\"busy\":%u,\"idle\":%u,\"down\":%u}", busy, idle, down);
	if (r.status != 204)
		why = "Docker does not answer";
	else if (down > 0 || sb == NULL)
		why = "A slot is down (respawning)";
	jbuf_init(&b, body, sizeof(body));
	jbuf_lit(&b, why ? "{\"status\":\"unavailable\",\"reason\":" : "{\"status\":\"ok\"");
	if (why != NULL)
		jbuf_str(&b, why, strlen(why));
	jbuf_lit(&b, ",\"slots\":");
	jbuf_lit(&b, slots);
	jbuf_lit(&b, ",\"docker\":");
	if (r.status == 204)
		jbuf_lit(&b, "\"ok\"");
	else if (v != NULL)
		jbuf_raw(&b, v, vlen); /* a valid JSON string already */
	else
		jbuf_lit(&b, "\"unavailable\"");
	jbuf_lit(&b, "}");
	if (b.overflow) {
		static const char short_body[] = "{\"status\":\"unavailable\",\"reason\":\"Docker does not answer\"}";

		/* Only a message from the agent longer than it can send gets here. */
		front_json(c, 503, short_body, sizeof(short_body) - 1);
	} else {
		front_json(c, why ? 503 : 200, b.p, b.len);
	}
}

/* GET /metrics: the scoreboard as Prometheus text; the token unless METRICS_PUBLIC=true. */
static void front_route_metrics(struct conn *c)
{
	const struct scoreboard *sb = scoreboard_get();
	int n;

	if (!cfg->metrics_public && !front_authorized(c))
		return;
	front_forget_token(c);
	n = sb != NULL ? scoreboard_render(sb, metricsbuf, sizeof(metricsbuf)) : -1;
	if (n < 0) {
		log_errorx("%s: the metrics do not fit in %u bytes", __func__, SCOREBOARD_TEXT_MAX);
		front_error(c, 500, "metrics", "The metrics could not be rendered");
		return;
	}
	front_send(c, 200, "text/plain; version=0.0.4; charset=utf-8", metricsbuf, (size_t)n, NULL);
}

static const struct route front_routes[] = {
	{"/", "GET", false, false, false, front_route_root},
	{"/openapi.json", "GET", false, false, false, front_route_openapi},
	{"/version", "GET", true, false, false, front_route_version},
	{"/run", "POST", true, true, true, front_route_run},
	{"/execute", "POST", true, true, true, front_route_execute},
	{"/compile", "POST", true, true, false, front_route_compile},
	{"/health", "GET", false, false, false, front_route_health},
	{"/metrics", "GET", false, false, false, front_route_metrics}, /* the handler asks for the token */
};

/* Find the route; answers 404/405 itself and returns NULL. */
static const struct route *front_route(struct conn *c)
{
	const char *path;
	size_t plen;

	http_route_path(&c->req, &path, &plen);
	for (size_t i = 0; i < sizeof(front_routes) / sizeof(front_routes[0]); i++) {
		const struct route *r = &front_routes[i];
		bool get = strcmp(r->method, "GET") == 0;
		char allow[FRONT_MAX_TEXT];

		if (strlen(r->path) != plen || memcmp(r->path, path, plen) != 0)
			continue;
		c->route = r->path;
		/* Method names are case-sensitive (RFC 9110 9.1). */
		if (strlen(r->method) == c->req.method_len &&
		    memcmp(r->method, c->req.method, c->req.method_len) == 0) {
			c->run = scoreboard_is_run(c->req.method, c->req.method_len, path, plen);
			return r;
		}
		/* HEAD is GET without the content (RFC 9110 9.3.2). */
		if (get && c->no_content)
			return r;
		snprintf(allow, sizeof(allow), "Allow: %s%s\r\n", r->method, get ? ", HEAD" : "");
		front_error_extra(c, 405, "method", "Method not allowed", 18, allow);
		return NULL;
	}
	front_error(c, 404, "route", "No such route");
	return NULL;
}

/* ---- one connection ---- */

static void front_note_request(struct conn *c)
{
	const char *path;
	size_t plen;

	log_clean(c->method, sizeof(c->method), c->req.method, c->req.method_len);
	http_route_path(&c->req, &path, &plen);
	log_clean(c->path, sizeof(c->path), path, plen);
}

/*
 * RATE_LIMIT_PER_MINUTE, for every request but RATELIMIT_EXEMPT_PATH's (a
 * head that could not be parsed has no path: it counts too), before the
 * token is looked at, so that guessing tokens is limited as well; once
 * per request: not again for one whose token the reader took (it reads
 * the token of a request with a body).  Answers 429 itself and returns false.
 */
static bool front_rate_ok(struct conn *c, bool parsed)
{
	struct ratelimit *t = ratelimit_shared();
	struct ratelimit_addr a;
	char extra[FRONT_MAX_TEXT], msg[FRONT_MAX_TEXT];
	const char *path;
	size_t plen;
	unsigned retry;

	if (cfg->rate_per_minute == 0 || t == NULL || c->rated)
		return true;
	if (parsed) {
		http_route_path(&c->req, &path, &plen);
		if (plen == strlen(RATELIMIT_EXEMPT_PATH) && memcmp(path, RATELIMIT_EXEMPT_PATH, plen) == 0)
			return true;
	}
	if (!ratelimit_addr_of((const struct sockaddr *)c->ss, sizeof(*c->ss), &a) ||
	    ratelimit_take(t, &a, cfg->rate_per_minute, cfg->rate_burst, io_now_ms(), &retry))
		return true;
	snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", retry);
	snprintf(msg, sizeof(msg), "Too many requests from this address; retry in %u s", retry);
	front_error_extra(c, 429, "rate.limited", msg, strlen(msg), extra);
	return false;
}

/*
 * ?stream: absent, 0, 1 or true, once; other parameters are ignored, as
 * they always were.  Answers 400 itself and returns false.
 */
static bool front_stream_param(struct conn *c)
{
	const char *v;
	size_t n;
	int k = http_query_param(&c->req, "stream", &v, &n);

	if (k == 0 || (k == 1 && n == 1 && v[0] == '0'))
		return true;
	if (k == 1 && ((n == 1 && v[0] == '1') || (n == 4 && memcmp(v, "true", 4) == 0))) {
		c->stream = true;
		return true;
	}
	front_error(c, 400, "request.query", "The query parameter stream must be 1, true or 0, given once");
	return false;
}

/*
 * The order of the answers: a client not in SERVER_ALLOWED_IPS (403, at
 * accept, before a byte is read); a malformed or ambiguous head (400, 414,
 * 431, 501, 505, 417), or too many requests (429, ahead of those); the
 * route (404, 405); the token where the route needs
 * one, before any body is asked for or read (401); the query (400); then
 * the body (411, 415, 413, 400).
 */
static void front_serve(struct conn *c)
{
	const struct route *r;
	int status;

	status = front_read_head(c);
	if (status < 0)
		return;
	if (status == 0) {
		front_note_request(c);
		/* No answer to HEAD carries content, an error's neither. */
		c->no_content = c->req.method_len == 4 && memcmp(c->req.method, "HEAD", 4) == 0;
	}
	if (!front_rate_ok(c, status == 0))
		return;
	if (status != 0) {
		front_http_error(c, status);
		return;
	}
	if (http_request_framing(&c->req, &c->framing, &status) < 0) {
		front_http_error(c, status);
		return;
	}
	if (!front_check_head(c))
		return;
	r = front_route(c);
	if (r == NULL)
		return;
	/* A route whose handler asks the agent anyway needs no extra round trip when there is no body. */
	if (r->token && (r->body || c->framing.kind != HTTP_BODY_NONE) && !front_authorized(c))
		return;
	if (r->stream && !front_stream_param(c))
		return;
	if (r->body && !front_body_acceptable(c))
		return;
	status = front_read_body(c);
	if (status != 0) {
		if (status > 0)
			front_http_error(c, status);
		return;
	}
	r->handle(c);
}

static void front_peer(struct conn *c, const struct sockaddr_storage *ss)
{
	io_peer_text(ss, c->peer, sizeof(c->peer));
}

static void front_connection(int fd, const struct reader_handoff *h)
{
	struct conn c;

	memset(&c, 0, sizeof(c));
	c.fd = fd;
	c.outcome = -1;
	c.buf = reqbuf;
	c.len = c.seen = (size_t)h->head_len + h->body_len;
	c.body_len = h->body_len;
	c.rated = (h->flags & READER_RATED) != 0;
	/* The log's time is the client's: from the reader's accept. */
	c.started = io_now_ms() - h->waited_ms;
	c.deadline = io_now_ms() + (int64_t)cfg->request_timeout * 1000;
	snprintf(c.method, sizeof(c.method), "-");
	snprintf(c.path, sizeof(c.path), "-");
	/* SERVER_ALLOWED_IPS was the reader's, at accept: this address passed. */
	c.ss = &h->addr;
	front_peer(&c, &h->addr);
	if (front_orphan) {
		/* Its agent is leaving too: nothing could be run or asked for it. */
		char extra[FRONT_MAX_TEXT];

		snprintf(extra, sizeof(extra), "Retry-After: %d\r\n", READER_RETRY_AFTER_SEC);
		front_error_extra(&c, 503, "server.busy", "The server is stopping; retry",
				  strlen("The server is stopping; retry"), extra);
	} else {
		front_serve(&c);
	}
	/* The request held the client's token: it does not stay in memory. */
	explicit_bzero(reqbuf, c.seen);
	io_linger_close(fd, c.deadline);
	if (c.status == 0)
		c.status = 499; /* the client left before it could be answered */
	front_count(&c);
	/* A streamed run: the head's 200, then what its final event said. */
	if (c.final_status)
		log_info("%s %s %s %d %" PRId64 "ms %zuB final %d", c.peer, c.method, c.path, c.status,
			 (c.answered ? c.answered : io_now_ms()) - c.started, c.sent, c.final_status);
	else
		log_info("%s %s %s %d %" PRId64 "ms %zuB", c.peer, c.method, c.path, c.status,
			 (c.answered ? c.answered : io_now_ms()) - c.started, c.sent);
}

static void front_setup(void)
{
	stop_fd = proc_worker_signals(true);

	reqbuf_cap = HTTP_MAX_HEADER_BYTES + cfg->max_request_bytes;
	reqbuf = malloc(reqbuf_cap);
	outbuf = malloc(cfg->run_max_output ? cfg->run_max_output : 1);
	errbuf = malloc(FRONT_STDERR_KEEP);
	jsonbuf = malloc(FRONT_ERROR_BODY);
	stderrmsg = malloc(sizeof(FRONT_STDERR_PREFIX) + FRONT_STDERR_KEEP);
	outmap = malloc(cfg->run_max_output / 8 + 1);
	emitbuf = malloc(EXEC_EMIT_BUF);
	evbuf = malloc(FRONT_EVENT_MAX);
	pendbuf[FRAME_STDOUT] = malloc(FRONT_EVENT_RAW);
	pendbuf[FRAME_STDERR] = malloc(FRONT_EVENT_RAW);
	/* Status 2: the configuration asks for more than there is; respawning will not help. */
	if (!reqbuf || !outbuf || !errbuf || !jsonbuf || !stderrmsg || !outmap || !emitbuf || !evbuf ||
	    !pendbuf[FRAME_STDOUT] || !pendbuf[FRAME_STDERR])
		fatal(2, "%s: cannot allocate buffers for SERVER_MAX_REQUEST_BYTES and RUN_MAX_OUTPUT_SIZE",
		      __func__);
	int keep[] = {handoff_fd, agent_fd, stop_fd, ready_fd, life_fd};

	/* The agents' pull table is none of a front's business: it must not be able to forge it. */
	pull_table_forget();
	sandbox_drop_front(cfg, keep, sizeof(keep) / sizeof(keep[0]));
}

/*
 * The master is gone (its life pipe hung up), seen in whatever wait we
 * were in.  Nobody can respawn or reload us: finish only the connection
 * we have.
 */
static void front_orphaned(void)
{
	log_warnx("front %u: master gone; finishing what was handed over", front_slot);
	front_stop = true;
	front_orphan = true;
}

/*
 * SIGTERM stops a front: the master sends it for a reload's roll, and in
 * a drain only once the reader is gone, so that nothing the reader still
 * hands over is left without a front.  SIGINT is a terminal's Ctrl-C to
 * the whole group: it is the master's to order the drain, not ours.
 */
static void front_take_stop(void)
{
	struct signalfd_siginfo si;

	if (read(stop_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGINT) {
		log_debug("front %u: SIGINT; the master drains in order", front_slot);
		return;
	}
	log_debug("front %u: signal %u; stopping", front_slot, si.ssi_signo);
	front_stop = true;
}


/* Is the hand-off packet of n bytes, with nfd descriptors, what the reader sends? */
static bool front_handoff_ok(const struct reader_handoff *h, ssize_t n, int nfd)
{
	size_t total = (size_t)h->head_len + h->body_len;

	if (n < (ssize_t)sizeof(*h) || h->head_len == 0 || h->head_len > HTTP_MAX_HEADER_BYTES ||
	    h->body_len > cfg->max_request_bytes || total > reqbuf_cap ||
	    h->addr_len > sizeof(h->addr) || (h->flags & ~READER_RATED) != 0 ||
	    (h->addr.ss_family != AF_INET && h->addr.ss_family != AF_INET6))
		return false;
	if (h->inline_len != 0)
		return nfd == 1 && h->inline_len == total && (size_t)n == sizeof(*h) + total;
	return nfd == 2 && (size_t)n == sizeof(*h);
}

/* A large request came in a memfd: read it whole from offset 0. */
static bool front_read_memfd(int fd, size_t total)
{
	size_t got = 0;

	while (got < total) {
		ssize_t r = read(fd, reqbuf + got, total - got);

		if (r <= 0) {
			log_error("%s: read(%zu) of the reader's request file", __func__, total - got);
			return false;
		}
		got += (size_t)r;
	}
	return true;
}

/*
 * Take one hand-off if one is queued: true if a client was served.  The
 * request lands in reqbuf; one byte back wakes the reader, whose queue
 * is free again.
 */
static bool front_take(void)
{
	struct reader_handoff h;
	union {
		char buf[CMSG_SPACE(MSG_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov[2] = {{&h, sizeof(h)},
			       {reqbuf, reqbuf_cap < READER_INLINE_MAX ? reqbuf_cap : READER_INLINE_MAX}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	int fds[MSG_MAX_FDS], nfd = 0;
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(handoff_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		log_error("%s: recvmsg", __func__);
	/* 0: a drain closed the reader's end and the queue is empty. */
	if (n <= 0)
		return false;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k && nfd < MSG_MAX_FDS; i++)
			memcpy(&fds[nfd++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	(void)!send(handoff_fd, "t", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !front_handoff_ok(&h, n, nfd) ||
	    (nfd == 2 && !front_read_memfd(fds[1], (size_t)h.head_len + h.body_len))) {
		log_errorx("front %u: a malformed hand-off (%zd bytes, %d fds); dropped", front_slot, n,
			   nfd);
		for (int i = 0; i < nfd; i++)
			close(fds[i]);
		return false;
	}
	if (nfd == 2)
		close(fds[1]);
	proc_served(&ready_fd);
	scoreboard_busy(front_slot, true);
	front_connection(fds[0], &h);
	scoreboard_busy(front_slot, false);
	return true;
}

void front_main(struct config *c, unsigned slot, int hfd, int afd, int life, int rfd)
{
	cfg = c;
	front_slot = slot;
	agent_fd = afd;
	handoff_fd = hfd;
	ready_fd = rfd;
	life_fd = life;
	config_forget_token(cfg);
	log_set_role("front");
	proctitle_set("runboxd: front %u", slot);
	front_setup();
	io_watch(life_fd, front_orphaned);
	log_debug("front %u ready", slot);
	while (!front_stop) {
		/* The stop signal is looked at first, whatever else is ready. */
		struct pollfd p[3] = {{.fd = stop_fd, .events = POLLIN},
				      {.fd = agent_fd, .events = 0},
				      {.fd = handoff_fd, .events = POLLIN}};

		if (io_poll(p, 3, -1) <= 0 || front_stop)
			continue; /* EINTR, or the master's death was seen: look at the flag */
		if (p[0].revents & POLLIN) {
			front_take_stop();
			if (!front_stop)
				continue;
			/* What the reader handed over before it stopped is still served. */
			while (front_take())
				;
			break;
		}
		if (p[1].revents & (POLLHUP | POLLERR)) {
			log_warnx("front %u: agent gone, leaving", slot);
			break;
		}
		if (p[2].revents & POLLIN)
			front_take();
	}
	/*
	 * Orphaned: a request the reader queued before it knew is answered 503
	 * (each front takes its share) rather than lost with the channel.
	 */
	while (front_orphan && front_take())
		;
	_exit(0);
}
