/*
 * JSON helpers: a strict validator and member lookup that need no token
 * array (request bodies, runner output), helpers around jsmn (Docker
 * replies, runner payloads), and an escaping writer.  No I/O; never exits.
 *
 * jsmn itself is compiled once, in src/jsmn.c, with JSMN_STRICT and
 * JSMN_PARENT_LINKS; everything else includes <jsmn.h> with JSMN_HEADER
 * defined -- include "json.h", which does that.
 */
#ifndef RUNBOXD_JSON_H
#define RUNBOXD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "bounds.h"

enum json_type {
	JSON_INVALID = -1,
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

/*
 * Is buf[0..len) exactly one JSON value (RFC 8259: strict numbers, escapes
 * and UTF-8, no trailing bytes but whitespace, nesting <= JSON_MAX_DEPTH)?
 * Returns the root's type or JSON_INVALID.  Recursion-free, no allocation.
 */
enum json_type json_check(const char *buf, size_t len);

/*
 * Where the first top-level JSON object of a stream ends, found as bytes
 * arrive (strings and escapes followed, nothing validated: json_check
 * judges what it delimits).  Leading whitespace is skipped; a stream that
 * starts with anything but '{' never ends an object.
 */
struct json_end {
	size_t seen;  /* bytes fed so far */
	size_t end;   /* once done: length of the prefix that closes the object */
	size_t depth;
	bool started;
	bool in_string;
	bool escape;
	bool done;
	bool never;   /* not an object: wait for the whole stream */
};

void json_end_init(struct json_end *e);

/* Feed the next n bytes; true once the object has closed (e->end set). */
bool json_end_feed(struct json_end *e, const char *p, size_t n);

/* The raw bytes of a value (a string with its quotes) inside a caller's buffer. */
struct json_span {
	const char *p;
	size_t len;
	enum json_type type; /* JSON_INVALID: no such member */
};

enum json_pick {
	JSON_PICK_OK,
	JSON_PICK_INVALID,   /* not exactly one JSON object (json_check's rules) */
	JSON_PICK_DEPTH,     /* ... because it nests deeper than JSON_MAX_DEPTH */
	JSON_PICK_DUPLICATE, /* one of the keys names two members */
};

/*
 * One pass over buf[0..len): validate it as json_check does, require an
 * object, and find its top-level members named keys[0..n) (n <=
 * JSON_MAX_PICK; compared after unescaping): spans[j] for keys[j].  A key
 * that occurs twice is refused with its index in *dup, never resolved to
 * one of the two.  The first problem in the text decides the result.
 */
enum json_pick json_object_pick(const char *buf, size_t len, const char *const *keys, size_t n,
				struct json_span *spans, size_t *dup);

/*
 * json_object_pick for one key: its value's type with *val and *vlen set,
 * or JSON_INVALID if buf is no valid object, has no such member or has
 * two.
 */
enum json_type json_member(const char *buf, size_t len, const char *key, const char **val,
			   size_t *vlen);

/*
 * Decode a raw JSON string (with its quotes) into out, NUL-terminated.
 * Returns the decoded length, or -1 if it is not a valid string, does not
 * fit (outsz includes the NUL), or contains U+0000 (never a C string).
 */
ssize_t json_string_decode(const char *raw, size_t rawlen, char *out, size_t outsz);

/*
 * Decode a raw JSON string in place, U+0000 allowed: the bytes it stands
 * for start at raw (NUL-terminated past them, inside the quotes' room).
 * Returns their count, or -1 if it is not a valid string.
 */
ssize_t json_string_bytes(char *raw, size_t rawlen);

/* jsmn helpers.  tok[i] must be inside js. */
bool json_tok_eq(const char *js, const jsmntok_t *tok, const char *lit); /* string token equals lit (raw compare) */
/* Index of the token after tok[i] and all its children (skip a value), given ntok tokens. */
int json_tok_skip(const jsmntok_t *tok, int ntok, int i);
/* In object tok[obj], the value token of member key (the last if several), or -1. */
int json_tok_member(const char *js, const jsmntok_t *tok, int ntok, int obj, const char *key);
/* Decode a string token into out (see json_string_decode). */
ssize_t json_tok_string(const char *js, const jsmntok_t *tok, char *out, size_t outsz);

/*
 * Escaping writer over a caller-owned buffer.  A write that does not fit
 * sets overflow and writes nothing more; check it once at the end.
 * If grow is true the buffer is realloc()ed instead (runner only).
 */
struct jbuf {
	char *p;
	size_t len, cap;
	bool overflow;
	bool grow;
};
void jbuf_init(struct jbuf *b, char *mem, size_t cap);
void jbuf_init_grow(struct jbuf *b); /* heap buffer, grows; free(b->p) */
void jbuf_raw(struct jbuf *b, const char *s, size_t n);
void jbuf_lit(struct jbuf *b, const char *s); /* raw NUL-terminated */
/*
 * s[0..n) as a quoted JSON string: '"', '\\' and every control character
 * escaped (\n \r \t \b \f, else \u00XX), U+007F as \u007f, invalid UTF-8
 * (overlong, surrogates, > U+10FFFF, truncated) replaced byte-wise by
 * U+FFFD, valid multi-byte sequences copied.
 */
void jbuf_str(struct jbuf *b, const char *s, size_t n);
/* The same without the quotes: a piece of a longer string (cut it between characters). */
void jbuf_str_part(struct jbuf *b, const char *s, size_t n);
/*
 * The inside of jbuf_str's string (no quotes) for as much of s[0..n) as
 * fits in b without growing it, whole characters only.  Unless final, a
 * tail that is a valid but incomplete UTF-8 sequence is left for the
 * caller to pass again with the bytes that follow: so a byte stream cut
 * anywhere and escaped piece by piece comes out exactly as jbuf_str of the
 * whole.  Returns the bytes of s consumed.
 */
size_t jbuf_str_some(struct jbuf *b, const char *s, size_t n, bool final);
void jbuf_u64(struct jbuf *b, uint64_t v);
void jbuf_i64(struct jbuf *b, int64_t v);

#endif
