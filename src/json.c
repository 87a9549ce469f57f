/*
 * JSON helpers (see json.h).  One byte-level scanner serves the validator,
 * the member lookup and the string decoder, so that what json_check
 * accepts is exactly what the others can walk.  Bytes are handled as
 * unsigned char throughout; every read is bounded by len.
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

/* What the container scanner expects next after a value or a comma. */
enum json_next { JSON_NEXT_ERROR = -1, JSON_NEXT_DONE, JSON_NEXT_VALUE, JSON_NEXT_KEY };

static size_t json_ws(const unsigned char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/*
 * Length of the well-formed UTF-8 sequence that starts s[0..n) (n >= 1,
 * s[0] >= 0x80), or 0: the tight second-byte ranges are what exclude
 * overlongs, surrogates and code points past U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need, k;

	if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		lo = c == 0xE0 ? 0xA0 : lo;
		hi = c == 0xED ? 0x9F : hi;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		lo = c == 0xF0 ? 0x90 : lo;
		hi = c == 0xF4 ? 0x8F : hi;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < need; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	return need;
}

/* Encode a scalar value (no surrogates, <= U+10FFFF) as UTF-8. */
static size_t utf8_put(unsigned char u[4], uint32_t cp)
{
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	u[0] = (unsigned char)(0xF0 | cp >> 18);
	u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	u[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

static int json_hex4(const unsigned char *s, size_t len, size_t i, uint32_t *v)
{
	size_t k;
	unsigned char c;

	if (len - i < 4)
		return -1;
	*v = 0;
	for (k = 0; k < 4; k++) {
		c = s[i + k];
		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint32_t)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v = *v << 4 | (uint32_t)((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return 0;
}

/* The \u escape at s[*i] (after "\u"): a BMP value or a full surrogate pair. */
static int json_uescape(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	uint32_t hi, lo;

	if (json_hex4(s, len, *i, &hi) < 0)
		return -1;
	*i += 4;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return -1;
	if (hi < 0xD800 || hi > 0xDBFF) {
		*cp = hi;
		return 0;
	}
	if (len - *i < 6 || s[*i] != '\\' || s[*i + 1] != 'u' ||
	    json_hex4(s, len, *i + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
		return -1;
	*i += 6;
	*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	return 0;
}

/* The escape at s[*i] (just after the backslash). */
static int json_escape(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	if (*i >= len)
		return -1;
	switch (s[(*i)++]) {
	case '"': *cp = '"'; return 0;
	case '\\': *cp = '\\'; return 0;
	case '/': *cp = '/'; return 0;
	case 'b': *cp = '\b'; return 0;
	case 'f': *cp = '\f'; return 0;
	case 'n': *cp = '\n'; return 0;
	case 'r': *cp = '\r'; return 0;
	case 't': *cp = '\t'; return 0;
	case 'u': return json_uescape(s, len, i, cp);
	default: return -1;
	}
}

/*
 * Next character of the JSON string whose opening quote precedes s[*i]:
 * 1 with its UTF-8 bytes in u[0..*n), 0 at the closing quote (*i then
 * past it), -1 if the string is invalid or unterminated.
 */
static int json_str_next(const unsigned char *s, size_t len, size_t *i, unsigned char u[4],
			 size_t *n)
{
	unsigned char c;
	uint32_t cp;

	if (*i >= len)
		return -1;
	c = s[*i];
	if (c == '"') {
		(*i)++;
		return 0;
	}
	if (c < 0x20)
		return -1;
	if (c >= 0x80) {
		*n = utf8_seq(s + *i, len - *i);
		if (*n == 0)
			return -1;
		memcpy(u, s + *i, *n);
		*i += *n;
		return 1;
	}
	(*i)++;
	if (c != '\\') {
		u[0] = c;
		*n = 1;
		return 1;
	}
	if (json_escape(s, len, i, &cp) < 0)
		return -1;
	*n = utf8_put(u, cp);
	return 1;
}

/* The string whose opening quote is s[*i]; *i ends past the closing one. */
static int json_scan_string(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char u[4];
	size_t n;
	int r;

	if (*i >= len || s[*i] != '"')
		return -1;
	(*i)++;
	while ((r = json_str_next(s, len, i, u, &n)) > 0)
		;
	return r;
}

static int json_scan_digits(const unsigned char *s, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9')
		(*i)++;
	return *i > start ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; what follows is the caller's. */
static int json_scan_number(const unsigned char *s, size_t len, size_t *i)
{
	if (*i < len && s[*i] == '-')
		(*i)++;
	if (*i < len && s[*i] == '0')
		(*i)++;
	else if (json_scan_digits(s, len, i) < 0)
		return -1;
	if (*i < len && s[*i] == '.') {
		(*i)++;
		if (json_scan_digits(s, len, i) < 0)
			return -1;
	}
	if (*i < len && (s[*i] == 'e' || s[*i] == 'E')) {
		(*i)++;
		if (*i < len && (s[*i] == '+' || s[*i] == '-'))
			(*i)++;
		if (json_scan_digits(s, len, i) < 0)
			return -1;
	}
	return 0;
}

static enum json_type json_scan_lit(const unsigned char *s, size_t len, size_t *i,
				    const char *lit, enum json_type t)
{
	size_t n = strlen(lit);

	if (len - *i < n || memcmp(s + *i, lit, n) != 0)
		return JSON_INVALID;
	*i += n;
	return t;
}

/* A non-container value at s[*i] (i < len). */
static enum json_type json_scan_scalar(const unsigned char *s, size_t len, size_t *i)
{
	switch (s[*i]) {
	case '"':
		return json_scan_string(s, len, i) == 0 ? JSON_STRING : JSON_INVALID;
	case 't':
		return json_scan_lit(s, len, i, "true", JSON_TRUE);
	case 'f':
		return json_scan_lit(s, len, i, "false", JSON_FALSE);
	case 'n':
		return json_scan_lit(s, len, i, "null", JSON_NULL);
	default:
		return json_scan_number(s, len, i) == 0 ? JSON_NUMBER : JSON_INVALID;
	}
}

/*
 * After a value inside containers (closers on stack[0..*depth)): pop every
 * closer that follows, then say whether a comma leads to a value or a key,
 * or whether the outermost container has closed.
 */
static enum json_next json_scan_after(const unsigned char *s, size_t len, size_t *i,
				      const unsigned char *stack, size_t *depth)
{
	while (*depth > 0) {
		*i = json_ws(s, len, *i);
		if (*i >= len)
			return JSON_NEXT_ERROR;
		if (s[*i] == stack[*depth - 1]) {
			(*i)++;
			(*depth)--;
			continue;
		}
		if (s[*i] != ',')
			return JSON_NEXT_ERROR;
		(*i)++;
		return stack[*depth - 1] == '}' ? JSON_NEXT_KEY : JSON_NEXT_VALUE;
	}
	return JSON_NEXT_DONE;
}

/* An object key and its colon at s[*i] (after whitespace). */
static int json_scan_key(const unsigned char *s, size_t len, size_t *i)
{
	if (json_scan_string(s, len, i) < 0)
		return -1;
	*i = json_ws(s, len, *i);
	if (*i >= len || s[*i] != ':')
		return -1;
	(*i)++;
	return 0;
}

/*
 * One value, leading whitespace allowed, at s[*pos]; *pos ends just past
 * it.  Open containers live on an explicit stack of their closing bytes,
 * so hostile nesting costs JSON_MAX_DEPTH bytes and no recursion.  More
 * than max_depth open containers is invalid, with *deep set.
 */
static enum json_type json_scan_value(const unsigned char *s, size_t len, size_t *pos,
				      size_t max_depth, bool *deep)
{
	unsigned char stack[JSON_MAX_DEPTH];
	size_t depth = 0, i = *pos;
	enum json_type root = JSON_INVALID, t;
	enum json_next next = JSON_NEXT_VALUE;

	for (;;) {
		i = json_ws(s, len, i);
		if (i >= len)
			return JSON_INVALID;
		if (next == JSON_NEXT_KEY) {
			if (json_scan_key(s, len, &i) < 0)
				return JSON_INVALID;
			next = JSON_NEXT_VALUE;
			continue;
		}
		if (s[i] == '{' || s[i] == '[') {
			if (depth == max_depth) {
				*deep = true;
				return JSON_INVALID;
			}
			t = s[i] == '{' ? JSON_OBJECT : JSON_ARRAY;
			stack[depth++] = s[i] == '{' ? '}' : ']';
			i = json_ws(s, len, i + 1);
			if (i >= len || s[i] != stack[depth - 1]) {
				root = root == JSON_INVALID ? t : root;
				next = t == JSON_OBJECT ? JSON_NEXT_KEY : JSON_NEXT_VALUE;
				continue;
			}
			i++;
			depth--;
		} else {
			t = json_scan_scalar(s, len, &i);
			if (t == JSON_INVALID)
				return JSON_INVALID;
		}
		root = root == JSON_INVALID ? t : root;
		next = json_scan_after(s, len, &i, stack, &depth);
		if (next == JSON_NEXT_ERROR)
			return JSON_INVALID;
		if (next == JSON_NEXT_DONE) {
			*pos = i;
			return root;
		}
	}
}

enum json_type json_check(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;
	enum json_type t;
	bool deep = false;

	if (buf == NULL)
		return JSON_INVALID;
	t = json_scan_value(s, len, &i, JSON_MAX_DEPTH, &deep);
	if (t == JSON_INVALID || json_ws(s, len, i) != len)
		return JSON_INVALID;
	return t;
}

/*
 * The string at s[*i] (its opening quote), decoded once and compared with
 * every one of keys[0..n) on the way: the index of the key it equals, n
 * if none, -1 if it is not a valid string.  *i ends past it.
 */
static int json_key_which(const unsigned char *s, size_t len, size_t *i, const char *const *keys,
			  size_t n)
{
	size_t klen[JSON_MAX_PICK], off = 0, m, j;
	unsigned live = 0; /* bit j: keys[j] starts with what was decoded so far */
	unsigned char u[4];
	int r;

	if (n > JSON_MAX_PICK || *i >= len || s[*i] != '"')
		return -1;
	for (j = 0; j < n; j++) {
		klen[j] = strlen(keys[j]);
		live |= 1u << j;
	}
	(*i)++;
	while ((r = json_str_next(s, len, i, u, &m)) > 0) {
		for (j = 0; j < n; j++) {
			if ((live >> j & 1) && (klen[j] - off < m || memcmp(keys[j] + off, u, m) != 0))
				live &= ~(1u << j);
		}
		off += m;
	}
	if (r < 0)
		return -1;
	for (j = 0; j < n; j++) {
		if ((live >> j & 1) && klen[j] == off)
			return (int)j;
	}
	return (int)n;
}

/*
 * One "key": value member at s[*i]; *i ends past the value, which goes to
 * spans[k] if the key is keys[k].  A repeated key is refused as soon as it
 * is read.
 */
static enum json_pick json_pick_member(const unsigned char *s, size_t len, size_t *i,
				       const char *const *keys, size_t n, struct json_span *spans,
				       size_t *dup)
{
	struct json_span v;
	bool deep = false;
	int k;

	k = json_key_which(s, len, i, keys, n);
	*i = json_ws(s, len, *i);
	if (k < 0 || *i >= len || s[*i] != ':')
		return JSON_PICK_INVALID;
	if ((size_t)k < n && spans[k].type != JSON_INVALID) {
		*dup = (size_t)k;
		return JSON_PICK_DUPLICATE;
	}
	*i = json_ws(s, len, *i + 1);
	v.p = (const char *)s + *i;
	/* The object itself is one level: its values get one less. */
	v.type = json_scan_value(s, len, i, JSON_MAX_DEPTH - 1, &deep);
	v.len = (size_t)((const char *)s + *i - v.p);
	if (v.type == JSON_INVALID)
		return deep ? JSON_PICK_DEPTH : JSON_PICK_INVALID;
	if ((size_t)k < n)
		spans[k] = v;
	return JSON_PICK_OK;
}

enum json_pick json_object_pick(const char *buf, size_t len, const char *const *keys, size_t n,
				struct json_span *spans, size_t *dup)
{
	const unsigned char *s = (const unsigned char *)buf;
	enum json_pick rc;
	size_t i, j;

	if (buf == NULL || n > JSON_MAX_PICK)
		return JSON_PICK_INVALID;
	for (j = 0; j < n; j++)
		spans[j] = (struct json_span){NULL, 0, JSON_INVALID};
	i = json_ws(s, len, 0);
	if (i >= len || s[i] != '{')
		return JSON_PICK_INVALID;
	i = json_ws(s, len, i + 1);
	if (i < len && s[i] == '}')
		goto out;
	for (;;) {
		rc = json_pick_member(s, len, &i, keys, n, spans, dup);
		if (rc != JSON_PICK_OK)
			return rc;
		i = json_ws(s, len, i);
		if (i >= len || (s[i] != ',' && s[i] != '}'))
			return JSON_PICK_INVALID;
		if (s[i] == '}')
			break;
		i = json_ws(s, len, i + 1);
	}
out:
	return json_ws(s, len, i + 1) == len ? JSON_PICK_OK : JSON_PICK_INVALID;
}

enum json_type json_member(const char *buf, size_t len, const char *key, const char **val,
			   size_t *vlen)
{
	struct json_span v;
	size_t dup;

	if (key == NULL || json_object_pick(buf, len, &key, 1, &v, &dup) != JSON_PICK_OK ||
	    v.type == JSON_INVALID)
		return JSON_INVALID;
	*val = v.p;
	*vlen = v.len;
	return v.type;
}

/* Both decoders: nul_ok lets U+0000 through (bytes, not a C string). */
static ssize_t json_decode(const char *raw, size_t rawlen, char *out, size_t outsz, bool nul_ok)
{
	const unsigned char *s = (const unsigned char *)raw;
	unsigned char u[4];
	size_t i = 1, n, o = 0;
	int r;

	if (raw == NULL || out == NULL || outsz == 0)
		return -1;
	if (rawlen < 2 || s[0] != '"') {
		out[0] = '\0';
		return -1;
	}
	/* In place (out == raw) too: o < i always, and each unit is taken whole before it is put. */
	while ((r = json_str_next(s, rawlen, &i, u, &n)) > 0) {
		if ((u[0] == 0 && !nul_ok) || outsz - 1 - o < n)
			goto fail;
		memcpy(out + o, u, n);
		o += n;
	}
	if (r < 0 || i != rawlen)
		goto fail;
	out[o] = '\0';
	return (ssize_t)o;
fail:
	out[0] = '\0';
	return -1;
}

ssize_t json_string_decode(const char *raw, size_t rawlen, char *out, size_t outsz)
{
	return json_decode(raw, rawlen, out, outsz, false);
}

ssize_t json_string_bytes(char *raw, size_t rawlen)
{
	return json_decode(raw, rawlen, raw, rawlen, true);
}

/* jsmn helpers */

static bool json_tok_ok(const jsmntok_t *tok, int ntok, int i)
{
	return tok != NULL && i >= 0 && i < ntok;
}

bool json_tok_eq(const char *js, const jsmntok_t *tok, const char *lit)
{
	size_t n = strlen(lit);

	return tok->type == JSMN_STRING && tok->start >= 0 && tok->end >= tok->start &&
	       (size_t)(tok->end - tok->start) == n && memcmp(js + tok->start, lit, n) == 0;
}

/*
 * Every token accounts for itself and announces tok.size children (a key
 * has its value as its one child), so one counter walks the subtree.
 * -1 if i is out of range or the subtree runs past ntok.
 */
int json_tok_skip(const jsmntok_t *tok, int ntok, int i)
{
	long pending = 1;

	if (!json_tok_ok(tok, ntok, i))
		return -1;
	while (pending > 0) {
		if (i >= ntok || tok[i].size < 0)
			return -1;
		pending += (long)tok[i].size - 1;
		i++;
	}
	return i;
}

/*
 * Keys are compared decoded, like json_member.  Unlike json_member the
 * last duplicate wins, as serde has it for glot's runners: this reads
 * payloads that runboxd passes on unchanged.  A key jsmn let through but
 * json_check would not (jsmn does not check escapes or UTF-8) never
 * matches.
 */
int json_tok_member(const char *js, const jsmntok_t *tok, int ntok, int obj, const char *key)
{
	const unsigned char *s = (const unsigned char *)js;
	int k, n, found = -1;
	size_t i;

	if (!json_tok_ok(tok, ntok, obj) || tok[obj].type != JSMN_OBJECT)
		return -1;
	k = obj + 1;
	for (n = 0; n < tok[obj].size; n++) {
		if (!json_tok_ok(tok, ntok, k) || tok[k].type != JSMN_STRING || tok[k].start < 1 ||
		    k + 1 >= ntok)
			return -1;
		i = (size_t)tok[k].start - 1;
		if (json_key_which(s, (size_t)tok[k].end + 1, &i, &key, 1) == 0)
			found = k + 1;
		k = json_tok_skip(tok, ntok, k);
		if (k < 0)
			return -1;
	}
	return found;
}

ssize_t json_tok_string(const char *js, const jsmntok_t *tok, char *out, size_t outsz)
{
	if (tok->type != JSMN_STRING || tok->start < 1 || tok->end < tok->start) {
		if (out != NULL && outsz > 0)
			out[0] = '\0';
		return -1;
	}
	return json_string_decode(js + tok->start - 1, (size_t)(tok->end - tok->start) + 2, out,
				  outsz);
}

/* jbuf */

void jbuf_init(struct jbuf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = mem != NULL ? cap : 0;
	b->overflow = false;
	b->grow = false;
}

void jbuf_init_grow(struct jbuf *b)
{
	jbuf_init(b, NULL, 0);
	b->grow = true;
}

/* Room for n more bytes, all or nothing; a failure sticks. */
static bool jbuf_reserve(struct jbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->overflow)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (!b->grow)
		goto fail;
	cap = b->cap ? b->cap : JBUF_GROW_FIRST;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (p == NULL)
		goto fail;
	b->p = p;
	b->cap = cap;
	return true;
fail:
	b->overflow = true;
	return false;
}

void jbuf_raw(struct jbuf *b, const char *s, size_t n)
{
	if (!jbuf_reserve(b, n) || n == 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void jbuf_lit(struct jbuf *b, const char *s)
{
	jbuf_raw(b, s, strlen(s));
}

static size_t jbuf_esc2(char out[6], char c)
{
	out[0] = '\\';
	out[1] = c;
	return 2;
}

/*
 * The output for the character at s[0..n): its bytes in out, their count
 * returned, the input bytes it stands for in *used.
 */
static size_t jbuf_esc_unit(const unsigned char *s, size_t n, char out[6], size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = s[0];
	size_t k;

	*used = 1;
	switch (c) {
	case '"': return jbuf_esc2(out, '"');
	case '\\': return jbuf_esc2(out, '\\');
	case '\n': return jbuf_esc2(out, 'n');
	case '\r': return jbuf_esc2(out, 'r');
	case '\t': return jbuf_esc2(out, 't');
	case '\b': return jbuf_esc2(out, 'b');
	case '\f': return jbuf_esc2(out, 'f');
	default: break;
	}
	if (c < 0x20 || c == 0x7F) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 0xF];
		return 6;
	}
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	k = utf8_seq(s, n);
	if (k == 0) {
		memcpy(out, "\xEF\xBF\xBD", 3); /* U+FFFD for this one byte */
		return 3;
	}
	memcpy(out, s, k);
	*used = k;
	return k;
}

/* Measured first so that a string is written whole or not at all. */
static void jbuf_escaped(struct jbuf *b, const char *s, size_t n, bool quotes)
{
	const unsigned char *u = (const unsigned char *)s;
	char tmp[6];
	size_t i, used, k, need = quotes ? 2 : 0;

	if (n > (SIZE_MAX - 2) / 6) {
		b->overflow = true;
		return;
	}
	for (i = 0; i < n; i += used)
		need += jbuf_esc_unit(u + i, n - i, tmp, &used);
	if (!jbuf_reserve(b, need))
		return;
	if (quotes)
		b->p[b->len++] = '"';
	for (i = 0; i < n; i += used) {
		k = jbuf_esc_unit(u + i, n - i, tmp, &used);
		memcpy(b->p + b->len, tmp, k);
		b->len += k;
	}
	if (quotes)
		b->p[b->len++] = '"';
}

void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	jbuf_escaped(b, s, n, true);
}

void jbuf_str_part(struct jbuf *b, const char *s, size_t n)
{
	jbuf_escaped(b, s, n, false);
}

/*
 * Is s[0..n) the start of a valid UTF-8 sequence that more bytes could
 * complete?  utf8_seq on it padded with the smallest bytes its lead allows.
 */
static bool utf8_incomplete(const unsigned char *s, size_t n)
{
	unsigned char u[4];
	size_t need;

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 4;
	else
		return false;
	if (n >= need)
		return false;
	memcpy(u, s, n);
	for (size_t k = n; k < need; k++)
		u[k] = k > 1 ? 0x80 : s[0] == 0xE0 ? 0xA0 : s[0] == 0xF0 ? 0x90 : 0x80;
	return utf8_seq(u, need) == need;
}

size_t jbuf_str_some(struct jbuf *b, const char *s, size_t n, bool final)
{
	const unsigned char *u = (const unsigned char *)s;
	char tmp[6];
	size_t i, used, k;

	if (b->overflow)
		return 0;
	for (i = 0; i < n; i += used) {
		if (!final && u[i] >= 0x80 && utf8_incomplete(u + i, n - i))
			break;
		k = jbuf_esc_unit(u + i, n - i, tmp, &used);
		if (k > b->cap - b->len)
			break;
		memcpy(b->p + b->len, tmp, k);
		b->len += k;
	}
	return i;
}

/* Decimal digits of v, written backwards ending at end; returns the first. */
static char *json_u64_digits(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return end;
}

void jbuf_u64(struct jbuf *b, uint64_t v)
{
	char tmp[20], *p = json_u64_digits(tmp + sizeof tmp, v);

	jbuf_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}

void jbuf_i64(struct jbuf *b, int64_t v)
{
	/* The magnitude in unsigned arithmetic, so INT64_MIN needs no special case. */
	uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char tmp[21], *p = json_u64_digits(tmp + sizeof tmp, m);

	if (v < 0)
		*--p = '-';
	jbuf_raw(b, p, (size_t)(tmp + sizeof tmp - p));
}

void json_end_init(struct json_end *e)
{
	memset(e, 0, sizeof(*e));
}

bool json_end_feed(struct json_end *e, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !e->done && !e->never; i++) {
		char ch = p[i];

		e->seen++;
		if (!e->started) {
			if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
				continue;
			e->started = true;
			if (ch != '{') {
				e->never = true;
				break;
			}
			e->depth = 1;
		} else if (e->in_string) {
			if (e->escape)
				e->escape = false;
			else if (ch == '\\')
				e->escape = true;
			else if (ch == '"')
				e->in_string = false;
		} else if (ch == '"') {
			e->in_string = true;
		} else if (ch == '{' || ch == '[') {
			e->depth++;
		} else if (ch == '}' || ch == ']') {
			if (--e->depth == 0) {
				e->done = true;
				e->end = e->seen;
			}
		}
	}
	return e->done;
}
