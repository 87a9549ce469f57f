/*
 * libFuzzer target for json.c.  Properties, on any input bytes:
 *  - json_check, json_object_pick and json_member never read out of bounds;
 *  - json_object_pick picks from exactly the objects json_check accepts,
 *    but those with a repeated key; reports depth only where json_check
 *    fails;
 *  - a member it finds is the one json_member finds, is itself valid JSON
 *    of the type it reports, and is the one jsmn's tokens lead to;
 *  - whatever json_check accepts, strict jsmn parses too;
 *  - jbuf_str of the bytes is always a valid JSON string, and decodes back
 *    to them when they were valid UTF-8 without NUL;
 *  - jbuf_str_some fed in pieces gives what jbuf_str gives whole;
 *  - json_string_decode accepts only what json_check calls a string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)          \
	do {                    \
		if (!(c))       \
			abort(); \
	} while (0)

/* Independent of json.c's range tables: decode, then reject bad values. */
static int ref_utf8_nonul(const unsigned char *s, size_t n)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		len = s[i] < 0x80 ? 1 : s[i] >> 5 == 6 ? 2 : s[i] >> 4 == 14 ? 3 : s[i] >> 3 == 30 ? 4 : 0;
		if (len == 0 || n - i < len || s[i] == 0)
			return 0;
		cp = len == 1 ? s[i] : s[i] & (0x7Fu >> len);
		for (k = 1; k < len; k++) {
			if (s[i + k] >> 6 != 2)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3Fu);
		}
		if (cp < min[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return 0;
		i += len;
	}
	return 1;
}

/* Strict jsmn wants a delimiter after a top-level primitive: give it a space. */
static int fuzz_jsmn(const char *js, size_t n, jsmntok_t **tokp)
{
	jsmn_parser p;
	jsmntok_t *tok = calloc(n + 1, sizeof *tok);
	int r;

	FUZZ_ASSERT(tok != NULL);
	jsmn_init(&p);
	r = jsmn_parse(&p, js, n, tok, (unsigned)(n + 1));
	*tokp = tok;
	return r;
}

/* One key's span from json_object_pick against json_member and jsmn's tokens. */
static void fuzz_span(const char *buf, size_t size, const char *key, const struct json_span *sp,
		      const jsmntok_t *tok, int ntok)
{
	const char *v = NULL;
	size_t vn = 0;
	enum json_type t = json_member(buf, size, key, &v, &vn);
	int ti = json_tok_member(buf, tok, ntok, 0, key);

	FUZZ_ASSERT(t == sp->type);
	if (t == JSON_INVALID) {
		FUZZ_ASSERT(ti == -1);
		return;
	}
	FUZZ_ASSERT(v == sp->p && vn == sp->len);
	FUZZ_ASSERT(v >= buf && vn <= size && (size_t)(v - buf) <= size - vn);
	FUZZ_ASSERT(json_check(v, vn) == t);
	FUZZ_ASSERT(ti > 0);
	if (t == JSON_STRING)
		FUZZ_ASSERT(tok[ti].start - 1 == v - buf && tok[ti].end + 1 == v - buf + (long)vn);
	else
		FUZZ_ASSERT(tok[ti].start == v - buf && tok[ti].end == v - buf + (long)vn);
}

/*
 * json_object_pick agrees with json_check: it picks only from what
 * json_check calls an object, refuses every such object only for a
 * repeated key, and reports depth only where json_check fails.
 */
static void fuzz_pick(const char *buf, size_t size, enum json_type root, const jsmntok_t *tok,
		      int ntok)
{
	static const char *const keys[] = { "a", "image", "", "Id" };
	struct json_span sp[4];
	size_t i, dup = 99;
	enum json_pick rc = json_object_pick(buf, size, keys, 4, sp, &dup);

	FUZZ_ASSERT(rc != JSON_PICK_OK || root == JSON_OBJECT);
	FUZZ_ASSERT(root != JSON_OBJECT || rc == JSON_PICK_OK || rc == JSON_PICK_DUPLICATE);
	FUZZ_ASSERT(rc != JSON_PICK_DEPTH || root == JSON_INVALID);
	if (rc == JSON_PICK_DUPLICATE) {
		FUZZ_ASSERT(dup < 4);
		if (root == JSON_OBJECT)
			FUZZ_ASSERT(json_tok_member(buf, tok, ntok, 0, keys[dup]) > 0);
		return;
	}
	if (rc != JSON_PICK_OK)
		return;
	for (i = 0; i < 4; i++)
		fuzz_span(buf, size, keys[i], &sp[i], tok, ntok);
}

static void fuzz_validators(const char *buf, size_t size)
{
	enum json_type root = json_check(buf, size);
	jsmntok_t *tok = NULL;
	char *copy = malloc(size + 1);
	int ntok = 0;

	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, buf, size);
	copy[size] = ' ';
	if (root != JSON_INVALID) {
		ntok = fuzz_jsmn(copy, size + 1, &tok);
		FUZZ_ASSERT(ntok > 0);
		FUZZ_ASSERT(root != JSON_OBJECT || tok[0].type == JSMN_OBJECT);
		FUZZ_ASSERT(json_tok_skip(tok, ntok, 0) == ntok);
	}
	fuzz_pick(buf, size, root, tok, ntok);
	free(tok);
	free(copy);
}

static void fuzz_escape(const char *buf, size_t size)
{
	struct jbuf b;
	char *out;
	ssize_t r;

	jbuf_init_grow(&b);
	jbuf_str(&b, buf, size);
	FUZZ_ASSERT(!b.overflow && b.len >= 2);
	FUZZ_ASSERT(json_check(b.p, b.len) == JSON_STRING);
	out = malloc(size + 1);
	FUZZ_ASSERT(out != NULL);
	r = json_string_decode(b.p, b.len, out, size + 1);
	if (ref_utf8_nonul((const unsigned char *)buf, size))
		FUZZ_ASSERT(r == (ssize_t)size && memcmp(out, buf, size) == 0 && out[size] == '\0');
	else if (memchr(buf, 0, size) != NULL)
		FUZZ_ASSERT(r == -1);
	free(out);
	free(b.p);
}

/*
 * jbuf_str_some: the bytes fed in pieces of sizes the input picks (as a
 * streamed run feeds them, an unconsumed tail carried over, at most 3
 * bytes), into a small buffer flushed when full, give jbuf_str's inside.
 */
static void fuzz_escape_some(const char *buf, size_t size)
{
	struct jbuf whole, out, b;
	char *carry = malloc(size + 4), small[16];
	size_t off = 0, clen = 0, k, used;

	FUZZ_ASSERT(carry != NULL);
	jbuf_init_grow(&whole);
	jbuf_str(&whole, buf, size);
	jbuf_init_grow(&out);
	while (off < size || clen > 0) {
		k = off < size ? 1 + (unsigned char)buf[off] % 7 : 0;
		k = k < size - off ? k : size - off;
		memcpy(carry + clen, buf + off, k);
		clen += k;
		off += k;
		jbuf_init(&b, small, sizeof(small));
		used = jbuf_str_some(&b, carry, clen, off == size);
		FUZZ_ASSERT(!b.overflow);
		jbuf_raw(&out, b.p, b.len);
		memmove(carry, carry + used, clen - used);
		clen -= used;
		/* Only a full buffer or an incomplete tail stops it early. */
		FUZZ_ASSERT(clen == 0 || b.len + 6 > sizeof(small) || (clen <= 3 && off < size));
	}
	FUZZ_ASSERT(!out.overflow && out.len + 2 == whole.len && memcmp(out.p, whole.p + 1, out.len) == 0);
	free(carry);
	free(out.p);
	free(whole.p);
}

static void fuzz_decode(const char *buf, size_t size)
{
	char *out = malloc(size + 1);
	ssize_t r;

	FUZZ_ASSERT(out != NULL);
	r = json_string_decode(buf, size, out, size + 1);
	if (r >= 0)
		FUZZ_ASSERT(json_check(buf, size) == JSON_STRING && strlen(out) == (size_t)r);
	free(out);
}

/*
 * json_end: fed whole, in two parts at a point the input picks, or byte by
 * byte, it finds the same end; a valid object's end is the object's
 * length, and what it delimits in a valid document with trailing
 * whitespace is the whole object.
 */
static void fuzz_end(const char *buf, size_t n)
{
	struct json_end whole, split, bytes;
	size_t cut = n ? (unsigned char)buf[0] % (n + 1) : 0;

	json_end_init(&whole);
	json_end_feed(&whole, buf, n);
	json_end_init(&split);
	json_end_feed(&split, buf, cut);
	json_end_feed(&split, buf + cut, n - cut);
	json_end_init(&bytes);
	for (size_t i = 0; i < n; i++)
		json_end_feed(&bytes, buf + i, 1);
	FUZZ_ASSERT(whole.done == split.done && whole.done == bytes.done);
	FUZZ_ASSERT(!whole.done || (whole.end == split.end && whole.end == bytes.end && whole.end <= n));
	if (json_check(buf, n) == JSON_OBJECT) {
		FUZZ_ASSERT(whole.done);
		for (size_t i = whole.end; i < n; i++)
			FUZZ_ASSERT(buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the end. */
	char *buf = malloc(size ? size : 1);

	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data, size);
	fuzz_validators(buf, size);
	fuzz_escape(buf, size);
	fuzz_escape_some(buf, size);
	fuzz_decode(buf, size);
	fuzz_end(buf, size);
	free(buf);
	return 0;
}
