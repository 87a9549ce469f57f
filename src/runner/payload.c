/*
 * The payload: v1 {language, files, stdin, command} or v2 {runInstructions:
 * {buildCommands, runCommand}, files, stdin}.  json_check validates the
 * whole text first (strict JSON, UTF-8, escapes), so jsmn and the decoder
 * below only ever see valid JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "runner.h"

struct payload_ctx {
	const char *js;
	jsmntok_t *tok;
	int ntok;
	char *err;
	size_t errsz;
};

__attribute__((format(printf, 2, 3))) static int payload_fail(struct payload_ctx *c,
                                                              const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static bool payload_is_null(const struct payload_ctx *c, int i)
{
	return c->tok[i].type == JSMN_PRIMITIVE && c->js[c->tok[i].start] == 'n';
}

static int payload_hex4(const char *s, uint32_t *v)
{
	int k;

	*v = 0;
	for (k = 0; k < 4; k++) {
		char h = s[k];
		uint32_t d;

		if (h >= '0' && h <= '9')
			d = (uint32_t)(h - '0');
		else if (h >= 'a' && h <= 'f')
			d = (uint32_t)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			d = (uint32_t)(h - 'A' + 10);
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static size_t payload_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* One \uXXXX escape at s (after the backslash), a surrogate pair joined. */
static int payload_uescape(const char *s, const char *end, uint32_t *cp, size_t *used)
{
	uint32_t lo;

	if (end - s < 5 || payload_hex4(s + 1, cp) < 0)
		return -1;
	*used = 5;
	if (*cp >= 0xD800 && *cp <= 0xDBFF && end - s >= 11 && s[5] == '\\' && s[6] == 'u' &&
	    payload_hex4(s + 7, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
		*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
		*used = 11;
	} else if (*cp >= 0xD800 && *cp <= 0xDFFF) {
		*cp = 0xFFFD; /* json_check refuses lone surrogates; never trust that here */
	}
	return 0;
}

static int payload_unescape(const char *s, const char *end, char *o, size_t *olen)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	size_t n = 0, used;
	uint32_t cp;

	while (s < end) {
		if (*s != '\\') {
			o[n++] = *s++;
			continue;
		}
		if (end - s < 2 || s[1] == '\0')
			return -1;
		e = strchr(from, s[1]);
		if (e != NULL) {
			o[n++] = to[e - from];
			s += 2;
			continue;
		}
		if (s[1] != 'u' || payload_uescape(s + 1, end, &cp, &used) < 0)
			return -1;
		n += payload_utf8(o + n, cp);
		s += 1 + used;
	}
	*olen = n;
	return 0;
}

/*
 * A string token as bytes.  Unlike json_tok_string this keeps U+0000: file
 * contents and stdin are bytes, and a NUL in a file name must reach the
 * file writer to be refused there with a clear message.  An escape never
 * decodes to more bytes than it takes, so the raw length bounds the output.
 */
static int payload_bytes(struct payload_ctx *c, int i, const char *what, struct runner_bytes *b)
{
	const jsmntok_t *t = &c->tok[i];
	size_t n, raw = (size_t)(t->end - t->start);
	char *s;

	if (t->type != JSMN_STRING) {
		payload_fail(c, "%s must be a string", what);
		return -1;
	}
	s = malloc(raw + 1);
	if (s == NULL) {
		payload_fail(c, "%s: out of memory", what);
		return -1;
	}
	if (payload_unescape(c->js + t->start, c->js + t->end, s, &n) < 0) {
		free(s);
		payload_fail(c, "%s: bad string escape", what);
		return -1;
	}
	s[n] = '\0';
	b->p = s;
	b->len = n;
	return 0;
}

/* A string that must be a C string (commands, language). */
static int payload_cstr(struct payload_ctx *c, int i, const char *what, char **out)
{
	struct runner_bytes b = {0};

	if (payload_bytes(c, i, what, &b) < 0)
		return -1;
	*out = b.p;
	if (memchr(b.p, '\0', b.len) != NULL)
		return payload_fail(c, "%s must not contain U+0000", what);
	return 0;
}

static int payload_files(struct payload_ctx *c, int arr, struct runner_payload *p)
{
	int k = arr + 1, name, content;
	char what[64];
	size_t n;

	if (c->tok[arr].type != JSMN_ARRAY)
		return payload_fail(c, "files must be an array");
	p->files = calloc((size_t)c->tok[arr].size + 1, sizeof(*p->files));
	if (p->files == NULL)
		return payload_fail(c, "files: out of memory");
	for (n = 0; n < (size_t)c->tok[arr].size; n++) {
		if (c->tok[k].type != JSMN_OBJECT)
			return payload_fail(c, "files[%zu] must be an object", n);
		name = json_tok_member(c->js, c->tok, c->ntok, k, "name");
		content = json_tok_member(c->js, c->tok, c->ntok, k, "content");
		if (name < 0 || content < 0)
			return payload_fail(c, "files[%zu] needs a name and a content", n);
		p->nfiles = n + 1;
		snprintf(what, sizeof(what), "files[%zu].name", n);
		if (payload_bytes(c, name, what, &p->files[n].name) < 0)
			return -1;
		snprintf(what, sizeof(what), "files[%zu].content", n);
		if (payload_bytes(c, content, what, &p->files[n].content) < 0)
			return -1;
		k = json_tok_skip(c->tok, c->ntok, k);
		if (k < 0)
			return payload_fail(c, "files: bad token tree");
	}
	return 0;
}

static int payload_build(struct payload_ctx *c, int arr, struct runner_payload *p)
{
	int k = arr + 1;
	char what[64];
	size_t n;

	if (payload_is_null(c, arr))
		return 0;
	if (c->tok[arr].type != JSMN_ARRAY)
		return payload_fail(c, "runInstructions.buildCommands must be an array");
	p->build = calloc((size_t)c->tok[arr].size + 1, sizeof(*p->build));
	if (p->build == NULL)
		return payload_fail(c, "buildCommands: out of memory");
	for (n = 0; n < (size_t)c->tok[arr].size; n++, k++) {
		snprintf(what, sizeof(what), "runInstructions.buildCommands[%zu]", n);
		p->nbuild = n + 1;
		if (payload_cstr(c, k, what, &p->build[n]) < 0)
			return -1;
	}
	return 0;
}

static int payload_v2(struct payload_ctx *c, int ri, struct runner_payload *p)
{
	int bc, rc;

	if (c->tok[ri].type != JSMN_OBJECT)
		return payload_fail(c, "runInstructions must be an object");
	p->v2 = true;
	bc = json_tok_member(c->js, c->tok, c->ntok, ri, "buildCommands");
	if (bc >= 0 && payload_build(c, bc, p) < 0)
		return -1;
	rc = json_tok_member(c->js, c->tok, c->ntok, ri, "runCommand");
	if (rc < 0)
		return payload_fail(c, "runInstructions.runCommand is missing");
	return payload_cstr(c, rc, "runInstructions.runCommand", &p->run);
}

/* An optional string member: absent or null leaves *out alone. */
static int payload_opt(struct payload_ctx *c, const char *key, struct runner_bytes *out)
{
	int i = json_tok_member(c->js, c->tok, c->ntok, 0, key);

	if (i < 0 || payload_is_null(c, i))
		return 0;
	return payload_bytes(c, i, key, out);
}

static int payload_fields(struct payload_ctx *c, struct runner_payload *p)
{
	struct runner_bytes cmd = {0};
	int ri, lang, files;

	files = json_tok_member(c->js, c->tok, c->ntok, 0, "files");
	if (files < 0)
		return payload_fail(c, "payload has no files");
	if (payload_files(c, files, p) < 0 || payload_opt(c, "stdin", &p->stdin_data) < 0)
		return -1;
	ri = json_tok_member(c->js, c->tok, c->ntok, 0, "runInstructions");
	if (ri >= 0 && !payload_is_null(c, ri))
		return payload_v2(c, ri, p);
	lang = json_tok_member(c->js, c->tok, c->ntok, 0, "language");
	if (lang < 0 || payload_is_null(c, lang))
		return payload_fail(c, "payload has neither language nor runInstructions");
	if (payload_cstr(c, lang, "language", &p->language) < 0)
		return -1;
	if (payload_opt(c, "command", &cmd) < 0)
		return -1;
	p->command = cmd.p;
	if (cmd.p != NULL && memchr(cmd.p, '\0', cmd.len) != NULL)
		return payload_fail(c, "command must not contain U+0000");
	return 0;
}

/* The front asks for records of the output (frame.h): "runboxStream": true or 1. */
static bool payload_stream(const struct payload_ctx *c)
{
	int i = json_tok_member(c->js, c->tok, c->ntok, 0, FRAME_STREAM_MEMBER);
	const char *v;
	size_t n;

	if (i < 0 || c->tok[i].type != JSMN_PRIMITIVE)
		return false;
	v = c->js + c->tok[i].start;
	n = (size_t)(c->tok[i].end - c->tok[i].start);
	return (n == 4 && memcmp(v, "true", 4) == 0) || (n == 1 && v[0] == '1');
}

/* Tokens: counted by a first jsmn pass, so no guess and no retry loop. */
static int payload_tokens(struct payload_ctx *c, const char *js, size_t len)
{
	jsmn_parser jp;
	int n;

	jsmn_init(&jp);
	n = jsmn_parse(&jp, js, len, NULL, 0);
	if (n <= 0)
		return payload_fail(c, "payload is not valid JSON (jsmn: %d)", n);
	if ((unsigned)n > RUNNER_MAX_TOKENS)
		return payload_fail(c, "payload has more than %u JSON values", RUNNER_MAX_TOKENS);
	c->tok = calloc((size_t)n, sizeof(*c->tok));
	if (c->tok == NULL)
		return payload_fail(c, "out of memory for %d tokens", n);
	jsmn_init(&jp);
	c->ntok = jsmn_parse(&jp, js, len, c->tok, (unsigned)n);
	if (c->ntok != n)
		return payload_fail(c, "payload is not valid JSON (jsmn: %d)", c->ntok);
	return 0;
}

int runner_payload_parse(const char *js, size_t len, struct runner_payload *p, char *err,
                         size_t errsz)
{
	struct payload_ctx c = {.js = js, .err = err, .errsz = errsz};
	enum json_type t;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	err[0] = '\0';
	t = json_check(js, len);
	if (t == JSON_INVALID) {
		payload_fail(&c, "payload is not valid JSON");
		goto out;
	}
	if (t != JSON_OBJECT) {
		payload_fail(&c, "payload is not a JSON object");
		goto out;
	}
	if (payload_tokens(&c, js, len) < 0 || payload_fields(&c, p) < 0)
		goto out;
	p->stream = payload_stream(&c);
	rc = 0;
out:
	free(c.tok);
	if (rc < 0)
		runner_payload_free(p);
	return rc;
}

void runner_payload_free(struct runner_payload *p)
{
	size_t i;

	for (i = 0; i < p->nfiles; i++) {
		free(p->files[i].name.p);
		free(p->files[i].content.p);
	}
	free(p->files);
	for (i = 0; i < p->nbuild; i++)
		free(p->build[i]);
	free(p->build);
	free(p->language);
	free(p->command);
	free(p->run);
	free(p->stdin_data.p);
	memset(p, 0, sizeof(*p));
}
