/*
 * Runs on stock images: the front's half of POST /execute and /compile.
 * The container runs a plain command (no runner inside), so what it says
 * is raw bytes on two streams: they are kept as they arrive, one bit per
 * byte telling stderr from stdout, and turned into JSON only when the
 * answer is written -- in pieces, so an answer of any size needs no
 * buffer of its size.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "execute.h"
#include "http.h"
#include "imageref.h"
#include "io.h"
#include "json.h"

/* ---- requests ---- */

static const char *exec_pick_error(enum json_pick r, const char *const *keys, size_t dup, char *msg,
				   size_t msgsz)
{
	if (r == JSON_PICK_DEPTH)
		snprintf(msg, msgsz, "Request body nests deeper than %d levels", JSON_MAX_DEPTH);
	else if (r == JSON_PICK_DUPLICATE)
		snprintf(msg, msgsz, "Request body has \"%s\" more than once", keys[dup]);
	else
		snprintf(msg, msgsz, "Request body must be a JSON object");
	return "request.json";
}

/* A string member decoded in place into *p, *n; absent or null: "" when optional. */
static bool exec_text(const struct json_span *v, bool optional, const char **p, size_t *n)
{
	ssize_t len;

	*p = "";
	*n = 0;
	if (optional && (v->type == JSON_INVALID || v->type == JSON_NULL))
		return true;
	if (v->type != JSON_STRING)
		return false;
	/* The body is the front's own buffer: decoding never makes a string longer. */
	len = json_string_bytes((char *)(uintptr_t)v->p, v->len);
	if (len < 0)
		return false;
	*p = v->p;
	*n = (size_t)len;
	return true;
}

const char *exec_parse_execute(char *body, size_t len, struct exec_request *r, char *msg,
			       size_t msgsz)
{
	static const char *const keys[] = {"script", "stdin", "image", "limits"};
	struct json_span v[4];
	enum json_pick pick;
	size_t dup = 0;

	memset(r, 0, sizeof(*r));
	pick = json_object_pick(body, len, keys, 4, v, &dup);
	if (pick != JSON_PICK_OK)
		return exec_pick_error(pick, keys, dup, msg, msgsz);
	if (!exec_text(&v[0], false, &r->script, &r->script_len) || r->script_len == 0 ||
	    memchr(r->script, '\0', r->script_len) != NULL) {
		snprintf(msg, msgsz, "\"script\" must be a non-empty string without U+0000");
		return "request.script";
	}
	if (r->script_len > EXEC_MAX_SCRIPT) {
		snprintf(msg, msgsz, "\"script\" is longer than %u bytes; send data on \"stdin\"",
			 EXEC_MAX_SCRIPT);
		return "request.script";
	}
	if (!exec_text(&v[1], true, &r->input, &r->input_len)) {
		snprintf(msg, msgsz, "\"stdin\" must be a string");
		return "request.stdin";
	}
	if (v[2].type != JSON_INVALID && v[2].type != JSON_NULL &&
	    (v[2].type != JSON_STRING ||
	     json_string_decode(v[2].p, v[2].len, r->image, sizeof(r->image)) < 1 ||
	     !imageref_valid(r->image))) {
		r->image[0] = '\0';
		snprintf(msg, msgsz, "\"image\" must be a valid Docker image reference");
		return "request.image";
	}
	/* Decoding a string in place stays inside its span: this one is intact. */
	if (v[3].type != JSON_INVALID) {
		r->limits = v[3].p;
		r->limits_len = v[3].len;
	}
	return NULL;
}

const char *exec_parse_compile(char *body, size_t len, struct exec_request *r, char *msg,
			       size_t msgsz)
{
	static const char *const keys[] = {"code"};
	struct json_span v[1];
	enum json_pick pick;
	size_t dup = 0;

	memset(r, 0, sizeof(*r));
	pick = json_object_pick(body, len, keys, 1, v, &dup);
	if (pick != JSON_PICK_OK)
		return exec_pick_error(pick, keys, dup, msg, msgsz);
	/* The program is python3's stdin: any bytes, any size the request may have. */
	if (!exec_text(&v[0], false, &r->input, &r->input_len)) {
		snprintf(msg, msgsz, "\"code\" must be a string");
		return "request.code";
	}
	r->script = "";
	return NULL;
}

/* ---- the stream ---- */

static enum exec_end exec_feed(struct exec_io *x, const char *p, size_t n)
{
	struct frame_event ev;
	ssize_t r;

	while (n > 0) {
		r = frame_parse(&x->fp, p, n, &ev);
		if (r == FRAME_INCOMPLETE)
			break;
		if (r < 0)
			return EXEC_BAD_FRAME;
		if (ev.len > 0 && !x->sink(x->arg, ev.stream, ev.data, ev.len))
			return EXEC_TOO_BIG;
		p += r;
		n -= (size_t)r;
	}
	return EXEC_EOF;
}

/* Write what the stream takes now; the input is closed once written or refused. */
static void exec_write(struct exec_io *x)
{
	while (x->written < x->input_len) {
		ssize_t n = send(x->sfd, x->input + x->written, x->input_len - x->written, MSG_NOSIGNAL);

		if (n > 0) {
			x->written += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* A program that exits without reading its input is no failure: its output decides. */
		break;
	}
	shutdown(x->sfd, SHUT_WR);
	x->wdone = true;
}

/* One poll loop for both directions: a program that talks before it reads cannot deadlock us. */
enum exec_end exec_pump(struct exec_io *x, const char *early, size_t early_len)
{
	char chunk[FRONT_STREAM_CHUNK];
	enum exec_end e;

	x->written = 0;
	x->wdone = false;
	/* The sink keeps the limit: it may cut a frame where the limit falls. */
	frame_init(&x->fp, UINT64_MAX);
	if (io_set_nonblock(x->sfd) < 0)
		return EXEC_ATTACH_ERROR;
	e = exec_feed(x, early, early_len);
	while (e == EXEC_EOF) {
		struct pollfd p[2] = {
			{.fd = x->sfd, .events = POLLIN | (x->wdone ? 0 : POLLOUT)},
			{.fd = x->client_fd, .events = POLLRDHUP},
		};
		int left = io_left_ms(x->deadline), r;
		ssize_t n;

		if (left == 0)
			return EXEC_TIMEOUT;
		r = io_poll(p, 2, left);
		if (r < 0 && errno != EINTR)
			return EXEC_READ_ERROR;
		if (r <= 0)
			continue;
		if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
			return EXEC_CLIENT_GONE;
		if (!x->wdone && (p[0].revents & (POLLOUT | POLLERR | POLLHUP)))
			exec_write(x);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(x->sfd, chunk, sizeof(chunk));
		if (n == 0)
			return frame_midway(&x->fp) ? EXEC_READ_ERROR : EXEC_EOF;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return EXEC_READ_ERROR;
		}
		e = exec_feed(x, chunk, (size_t)n);
	}
	return e;
}

/* ---- buffered output ---- */

void exec_out_init(struct exec_out *o, char *buf, unsigned char *map, size_t cap)
{
	o->buf = buf;
	o->map = map;
	o->cap = cap;
	o->len = 0;
	o->truncated = false;
}

static bool exec_out_is_err(const struct exec_out *o, size_t i)
{
	return (o->map[i >> 3] >> (i & 7)) & 1;
}

bool exec_out_keep(void *arg, enum frame_stream stream, const char *p, size_t n)
{
	struct exec_out *o = arg;
	size_t room = o->cap - o->len, k = n < room ? n : room;

	if (stream == FRAME_STDIN)
		return true;
	memcpy(o->buf + o->len, p, k);
	for (size_t i = o->len; i < o->len + k; i++) {
		unsigned char bit = (unsigned char)(1u << (i & 7));

		if (stream == FRAME_STDERR)
			o->map[i >> 3] |= bit;
		else
			o->map[i >> 3] &= (unsigned char)~bit;
	}
	o->len += k;
	if (k < n)
		o->truncated = true;
	return k == n;
}

/* ---- answers ---- */

/*
 * The body goes through here twice: once to count it (Content-Length),
 * once to send it.  Or, for tests, into one buffer.
 */
struct emit {
	int fd;            /* >= 0: send */
	int64_t deadline;
	const char *head;  /* goes with the first piece */
	size_t head_len;
	char *buf;
	size_t len, cap;
	char *mem;         /* != NULL: copy into mem[0..memcap) */
	size_t memcap;
	uint64_t total;    /* body bytes passed on */
	bool failed;
};

static void emit_flush(struct emit *e)
{
	if (e->failed || (e->len == 0 && e->head_len == 0)) {
		e->len = 0;
		return;
	}
	if (e->fd >= 0) {
		if (io_write2_all(e->fd, e->head, e->head_len, e->buf, e->len, e->deadline) < 0)
			e->failed = true;
		e->total += e->head_len;
		e->head_len = 0;
	} else if (e->mem != NULL) {
		if (e->memcap - e->total < e->len)
			e->failed = true;
		else
			memcpy(e->mem + e->total, e->buf, e->len);
	}
	e->total += e->len;
	e->len = 0;
}

static void emit_lit(struct emit *e, const char *s)
{
	size_t n = strlen(s);

	if (e->cap - e->len < n)
		emit_flush(e);
	memcpy(e->buf + e->len, s, n);
	e->len += n;
}

static void emit_bool(struct emit *e, const char *key, bool v)
{
	emit_lit(e, key);
	emit_lit(e, v ? "true" : "false");
}

/* s[0..n) escaped, in pieces cut between characters (a cut never splits a valid one). */
static void emit_text(struct emit *e, const char *s, size_t n)
{
	while (n > 0) {
		size_t k = n < EXEC_EMIT_PIECE ? n : EXEC_EMIT_PIECE, back = 0;
		struct jbuf b;

		/* s[k] starts the next piece: step back to the lead byte of the character it is in. */
		while (k < n && back < 3 && back < k && ((unsigned char)s[k - back] & 0xC0) == 0x80)
			back++;
		if (back < k)
			k -= back;
		if (e->cap - e->len < 6 * k)
			emit_flush(e);
		jbuf_init(&b, e->buf + e->len, e->cap - e->len);
		jbuf_str_part(&b, s, k);
		e->len += b.len;
		s += k;
		n -= k;
	}
}

/* One stream as a JSON string: FRAME_STDOUT, FRAME_STDERR, or FRAME_STDIN for all, in order. */
static void emit_stream(struct emit *e, const char *key, const struct exec_out *o,
			enum frame_stream which)
{
	size_t i = 0, j;

	emit_lit(e, key);
	emit_lit(e, "\"");
	if (which == FRAME_STDIN) {
		emit_text(e, o->buf, o->len);
		i = o->len;
	}
	while (i < o->len) {
		bool err = which == FRAME_STDERR;

		while (i < o->len && exec_out_is_err(o, i) != err)
			i++;
		for (j = i; j < o->len && exec_out_is_err(o, j) == err; j++)
			;
		emit_text(e, o->buf + i, j - i);
		i = j;
	}
	emit_lit(e, "\"");
}

bool exec_success(const struct exec_result *r)
{
	return r->end == EXEC_EOF && r->exit_known && r->exit_code == 0 && !r->oom &&
	       !r->out->truncated;
}

/* Why the run did not succeed, or NULL. */
static const char *exec_error(const struct exec_result *r, char *buf, size_t bufsz)
{
	if (r->end == EXEC_TIMEOUT)
		return "Max execution time exceeded";
	if (r->end == EXEC_TOO_BIG || r->out->truncated) {
		snprintf(buf, bufsz, "Max output size exceeded (%" PRIu64 " bytes)", r->output_limit);
		return buf;
	}
	if (r->oom)
		return "Memory limit exceeded: the container was killed";
	if (!r->exit_known)
		return "Docker did not say how the container ended";
	if (r->exit_code != 0) {
		snprintf(buf, bufsz, "Exit code: %d", r->exit_code);
		return buf;
	}
	return NULL;
}

static void emit_execute(struct emit *e, const struct exec_result *r)
{
	char msg[FRONT_MAX_TEXT], num[32];
	const char *why = exec_error(r, msg, sizeof(msg));
	struct jbuf b;

	emit_bool(e, "{\"success\":", why == NULL);
	emit_stream(e, ",\"stdout\":", r->out, FRAME_STDOUT);
	emit_stream(e, ",\"stderr\":", r->out, FRAME_STDERR);
	emit_lit(e, ",\"exit_code\":");
	if (r->exit_known)
		snprintf(num, sizeof(num), "%d", r->exit_code);
	emit_lit(e, r->exit_known ? num : "null");
	snprintf(num, sizeof(num), "%" PRId64 ".%03d", r->ms / 1000, (int)(r->ms % 1000));
	emit_lit(e, ",\"execution_time\":");
	emit_lit(e, num);
	emit_lit(e, ",\"error\":");
	if (why == NULL) {
		emit_lit(e, "null");
	} else {
		char quoted[2 * FRONT_MAX_TEXT];

		jbuf_init(&b, quoted, sizeof(quoted) - 1);
		jbuf_str(&b, why, strlen(why));
		quoted[b.overflow ? 0 : b.len] = '\0';
		emit_lit(e, quoted);
	}
	emit_bool(e, ",\"timed_out\":", r->end == EXEC_TIMEOUT);
	emit_bool(e, ",\"output_truncated\":", r->end == EXEC_TOO_BIG || r->out->truncated);
	emit_lit(e, "}");
}

/* docker-python-sandbox's shape; killedByContainer: a limit stopped the program. */
static void emit_compile(struct emit *e, const struct exec_result *r)
{
	emit_bool(e, "{\"isError\":", !exec_success(r));
	emit_stream(e, ",\"stderr\":", r->out, FRAME_STDERR);
	emit_stream(e, ",\"stdout\":", r->out, FRAME_STDOUT);
	emit_stream(e, ",\"combined\":", r->out, FRAME_STDIN);
	emit_bool(e, ",\"killedByContainer\":",
		  r->end != EXEC_EOF || r->out->truncated || r->oom);
	emit_lit(e, "}");
}

static void emit_answer(struct emit *e, enum exec_answer kind, const struct exec_result *r)
{
	if (kind == EXEC_ANSWER_COMPILE)
		emit_compile(e, r);
	else
		emit_execute(e, r);
	emit_flush(e);
}

ssize_t exec_answer_send(int fd, int64_t deadline, enum exec_answer kind,
			 const struct exec_result *r, char *buf)
{
	struct emit e = {.fd = -1, .buf = buf, .cap = EXEC_EMIT_BUF};
	char head[FRONT_RESPONSE_HEAD];
	int n;

	emit_answer(&e, kind, r);
	n = http_format_head(head, sizeof(head), 200, "application/json", e.total, NULL);
	if (n < 0) {
		errno = EOVERFLOW;
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.fd = fd;
	e.deadline = deadline;
	e.head = head;
	e.head_len = (size_t)n;
	e.buf = buf;
	e.cap = EXEC_EMIT_BUF;
	emit_answer(&e, kind, r);
	return e.failed ? -1 : (ssize_t)e.total;
}

ssize_t exec_answer_body(enum exec_answer kind, const struct exec_result *r, char *out, size_t outsz)
{
	static char buf[EXEC_EMIT_BUF];
	struct emit e = {.fd = -1, .buf = buf, .cap = EXEC_EMIT_BUF, .mem = out, .memcap = outsz};

	emit_answer(&e, kind, r);
	return e.failed ? -1 : (ssize_t)e.total;
}

/*
 * The answer as a streamed run's final event (front.c): {"result": <the
 * body>} and a newline, one chunk followed by the last chunk when
 * chunked, else bare bytes up to the close.  The body holds no line
 * break: every string in it is escaped.
 */
ssize_t exec_answer_event(int fd, int64_t deadline, enum exec_answer kind,
			  const struct exec_result *r, char *buf, bool chunked)
{
	static const char open[] = "{\"result\":", tail[] = "}\n\r\n0\r\n\r\n";
	struct emit e = {.fd = -1, .buf = buf, .cap = EXEC_EMIT_BUF};
	size_t tail_len = chunked ? sizeof(tail) - 1 : 2;
	char head[32 + sizeof(open)];
	int n;

	emit_answer(&e, kind, r);
	if (chunked)
		n = snprintf(head, sizeof(head), "%" PRIx64 "\r\n%s", e.total + sizeof(open) - 1 + 2, open);
	else
		n = snprintf(head, sizeof(head), "%s", open);
	memset(&e, 0, sizeof(e));
	e.fd = fd;
	e.deadline = deadline;
	e.head = head;
	e.head_len = (size_t)n;
	e.buf = buf;
	e.cap = EXEC_EMIT_BUF;
	emit_answer(&e, kind, r);
	if (e.failed || io_write_all(fd, tail, tail_len, deadline) < 0)
		return -1;
	return (ssize_t)(e.total + tail_len);
}
