/*
 * json.c: validator tables (every rule, depth limit, every truncation),
 * member lookup, string decoding, jsmn helpers and the escaping writer.
 * Every validator/lookup input is placed right before a PROT_NONE page,
 * so a read past its end crashes instead of passing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "json.h"

/* Realloc failure must be observable in the grow test, also under ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

#define GUARD_PAGES 16
#define S(lit) { lit, sizeof(lit) - 1 }

struct doc {
	const char *s;
	size_t n;
};

struct typed_doc {
	const char *s;
	size_t n;
	enum json_type t;
};

static char *guard_mem;
static size_t guard_room;

static void guard_init(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	guard_room = page * GUARD_PAGES;
	guard_mem = mmap(NULL, guard_room + page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard_mem == MAP_FAILED || mprotect(guard_mem + guard_room, page, PROT_NONE) != 0) {
		perror("guard_init");
		exit(2);
	}
}

/* s[0..n) copied so that its last byte is the last readable one. */
static const char *guarded(const char *s, size_t n)
{
	char *p;

	if (n > guard_room) {
		fprintf(stderr, "guarded: %zu bytes do not fit\n", n);
		exit(2);
	}
	p = guard_mem + guard_room - n;
	if (n > 0)
		memcpy(p, s, n);
	return p;
}

static enum json_type check_g(const char *s, size_t n)
{
	return json_check(guarded(s, n), n);
}

static const struct typed_doc valid_docs[] = {
	{ "{}", 2, JSON_OBJECT },
	{ "[]", 2, JSON_ARRAY },
	{ " \t\n\r{ \t\n\r} \t\n\r", 13, JSON_OBJECT },
	{ "[ 1 , 2 ]", 9, JSON_ARRAY },
	{ "{ \"a\" : 1 , \"b\":[ ] }", 21, JSON_OBJECT },
	{ "\"\"", 2, JSON_STRING },
	{ "\"abc\"", 5, JSON_STRING },
	{ "0", 1, JSON_NUMBER },
	{ "-0", 2, JSON_NUMBER },
	{ "123", 3, JSON_NUMBER },
	{ "-123.456e+78", 12, JSON_NUMBER },
	{ "1E5", 3, JSON_NUMBER },
	{ "1e-5", 4, JSON_NUMBER },
	{ "0.0", 3, JSON_NUMBER },
	{ "0e0", 3, JSON_NUMBER },
	{ "10.01E-007", 10, JSON_NUMBER },
	{ " 7 ", 3, JSON_NUMBER },
	{ "true", 4, JSON_TRUE },
	{ "false", 5, JSON_FALSE },
	{ "null", 4, JSON_NULL },
	{ "[1,\"a\",true,false,null,{},[]]", 29, JSON_ARRAY },
	{ "{\"a\":{\"b\":[1,{\"c\":null}]}}", 26, JSON_OBJECT },
	{ "{\"a\":1,\"a\":2}", 13, JSON_OBJECT },
	{ "{\"\":\"\"}", 7, JSON_OBJECT },
	{ "[[[]],[[]]]", 11, JSON_ARRAY },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 18, JSON_STRING },
	{ "\"\\u0000\"", 8, JSON_STRING },
	{ "\"\\u00e9\\u00E9\"", 14, JSON_STRING },
	{ "\"\\uD83D\\uDE00\"", 14, JSON_STRING },
	{ "\"\\ud83d\\ude00\"", 14, JSON_STRING },
	{ "\"\\uDBFF\\uDFFF\"", 14, JSON_STRING },
	{ "\"\\uFFFF\\uE000\\uD7FF\"", 20, JSON_STRING },
	{ "\"\x7f\"", 3, JSON_STRING },                   /* DEL is no control character in JSON */
	{ "\"/\"", 3, JSON_STRING },
	{ "\"\xc2\x80\"", 4, JSON_STRING },               /* U+0080 */
	{ "\"\xc3\xa9\"", 4, JSON_STRING },               /* U+00E9 */
	{ "\"\xdf\xbf\"", 4, JSON_STRING },               /* U+07FF */
	{ "\"\xe0\xa0\x80\"", 5, JSON_STRING },           /* U+0800 */
	{ "\"\xe2\x82\xac\"", 5, JSON_STRING },           /* U+20AC */
	{ "\"\xed\x9f\xbf\"", 5, JSON_STRING },           /* U+D7FF */
	{ "\"\xee\x80\x80\"", 5, JSON_STRING },           /* U+E000 */
	{ "\"\xef\xbf\xbf\"", 5, JSON_STRING },           /* U+FFFF */
	{ "\"\xf0\x90\x80\x80\"", 6, JSON_STRING },       /* U+10000 */
	{ "\"\xf0\x9f\x98\x80\"", 6, JSON_STRING },       /* U+1F600 */
	{ "\"\xf4\x8f\xbf\xbf\"", 6, JSON_STRING },       /* U+10FFFF */
	{ "{\"Id\":\"abc\",\"Warnings\":null}", 28, JSON_OBJECT },
};

static const struct doc invalid_docs[] = {
	S(""), S(" "), S("{"), S("}"), S("["), S("]"), S("[1,]"), S("[,1]"), S("[1 2]"),
	S("[,]"), S("{\"a\"}"), S("{\"a\":}"), S("{\"a\" 1}"), S("{a:1}"), S("{\"a\":1,}"),
	S("{,}"), S("{1:2}"), S("{null:2}"), S("[}"), S("{]"), S("[1]]"), S("[1] [2]"),
	S("1 2"), S("{}{}"), S("[\"a\":1]"), S("{\"a\":1:2}"), S("{\"a\",1}"), S("{\"a\"::1}"),
	S("[1,2"), S("{\"a\":1"), S("[[]"),
	/* numbers */
	S("01"), S("-"), S("-01"), S("00"), S("1."), S(".1"), S("1e"), S("1e+"), S("1E-"),
	S("+1"), S("1.e5"), S("0x10"), S("1.5.5"), S("--1"), S("- 1"), S("1e5.5"),
	S("Infinity"), S("NaN"), S("-Infinity"), S("[01]"), S("[1.]"), S("[-]"),
	/* literals */
	S("tru"), S("True"), S("nul"), S("nulll"), S("falsey"), S("[truex]"), S("NULL"),
	S("[t]"), S("undefined"),
	/* strings */
	S("'a'"), S("\"abc"), S("\"\\x\""), S("\"\\u12\""), S("\"\\u12G4\""), S("\"\\u\""),
	S("\"\\\""), S("\"\\"), S("\"\\U0041\""), S("\"\\a\""), S("\"\\0\""), S("\"\\'\""),
	S("\"\\ud83d\""), S("\"\\ud83d\\u0041\""), S("\"\\ude00\""), S("\"\\ud83dx\""),
	S("\"\\ud83d\\\"\""), S("\"\\ud83d\\ud83d\""), S("\"\\ude00\\ud83d\""), S("\"\\udfff\""),
	S("\"\\ud83d\\ude0\""), S("\"\\ud83d\\n\""),
	S("\"\x01\""), S("\"\x1f\""), S("\"\n\""), S("\"\t\""), S("\"\r\""), S("\"a\0b\""),
	/* raw UTF-8 inside strings */
	S("\"\xc0\x80\""), S("\"\xc1\xbf\""), S("\"\xe0\x80\x80\""), S("\"\xe0\x9f\xbf\""),
	S("\"\xed\xa0\x80\""), S("\"\xed\xbf\xbf\""), S("\"\xf0\x80\x80\x80\""),
	S("\"\xf0\x8f\xbf\xbf\""), S("\"\xf4\x90\x80\x80\""), S("\"\xf5\x80\x80\x80\""),
	S("\"\xf8\x88\x80\x80\x80\""), S("\"\xff\""), S("\"\xfe\""), S("\"\x80\""), S("\"\xbf\""),
	S("\"\xc3\""), S("\"\xe2\x82\""), S("\"\xf0\x9f\x98\""), S("\"\xc3" "A\""),
	S("\"\xe2\x82" "A\""), S("\"\xc3\xa9\xa9\""),
	/* whitespace and framing */
	S("1\0"), S("\0"), S("\f1"), S("\v1"), S("\xc2\xa0" "1"), S("\xef\xbb\xbf{}"),
	S("[1]//"), S("/*c*/1"), S("\xc3\xa9"), S("[1]x"), S("{} ,"), S("\"a\"\"b\""),
};

static void test_check_tables(void)
{
	size_t i;
	enum json_type t;

	for (i = 0; i < sizeof valid_docs / sizeof valid_docs[0]; i++) {
		t = check_g(valid_docs[i].s, valid_docs[i].n);
		CHECKF(t == valid_docs[i].t, "valid #%zu %.*s: got %d", i, (int)valid_docs[i].n,
		       valid_docs[i].s, t);
	}
	for (i = 0; i < sizeof invalid_docs / sizeof invalid_docs[0]; i++) {
		t = check_g(invalid_docs[i].s, invalid_docs[i].n);
		CHECKF(t == JSON_INVALID, "invalid #%zu %.*s: got %d", i, (int)invalid_docs[i].n,
		       invalid_docs[i].s, t);
	}
	CHECK(json_check(NULL, 0) == JSON_INVALID);
}

/*
 * A proper prefix of a document is invalid unless the document is a number
 * (whose prefixes may be numbers) or ends in whitespace.
 */
static void test_check_truncations(void)
{
	size_t i, n, bad = 0;
	const struct typed_doc *d;

	for (i = 0; i < sizeof valid_docs / sizeof valid_docs[0]; i++) {
		d = &valid_docs[i];
		if (d->t == JSON_NUMBER || strchr(" \t\n\r", d->s[d->n - 1]) != NULL)
			continue;
		for (n = 0; n < d->n; n++) {
			if (check_g(d->s, n) != JSON_INVALID) {
				bad++;
				fprintf(stderr, "prefix %zu of #%zu accepted\n", n, i);
			}
		}
	}
	CHECK(bad == 0);
}

/* n open containers then their closers; obj uses {"k": ... } */
static size_t nest(char *buf, size_t n, bool obj)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		if (obj && i % 2 == 0) {
			memcpy(buf + len, "{\"k\":", 5);
			len += 5;
		} else {
			buf[len++] = '[';
		}
	}
	buf[len++] = '0';
	while (n-- > 0)
		buf[len++] = obj && n % 2 == 0 ? '}' : ']';
	return len;
}

static void test_check_depth(void)
{
	static char buf[200000];
	size_t n;

	n = nest(buf, JSON_MAX_DEPTH, false);
	CHECK(check_g(buf, n) == JSON_ARRAY);
	n = nest(buf, JSON_MAX_DEPTH + 1, false);
	CHECK(check_g(buf, n) == JSON_INVALID);
	n = nest(buf, JSON_MAX_DEPTH, true);
	CHECK(check_g(buf, n) == JSON_OBJECT);
	n = nest(buf, JSON_MAX_DEPTH + 1, true);
	CHECK(check_g(buf, n) == JSON_INVALID);
	/* the limit counts open containers, not containers seen */
	buf[0] = '[';
	n = 1;
	for (size_t i = 0; i < 1000; i++) {
		memcpy(buf + n, "[[]],", 5);
		n += 5;
	}
	buf[n - 1] = ']';
	CHECK(check_g(buf, n) == JSON_ARRAY);
	memset(buf, '[', 60000);
	CHECK(check_g(buf, 60000) == JSON_INVALID);
	memset(buf, '{', 60000);
	CHECK(check_g(buf, 60000) == JSON_INVALID);
}

static enum json_type member_g(const char *s, const char *key, const char **v, size_t *vn)
{
	size_t n = strlen(s);

	return json_member(guarded(s, n), n, key, v, vn);
}

/* json_member(s, key) gives type t and the raw value want. */
static void member_is(const char *s, const char *key, enum json_type t, const char *want)
{
	const char *v = NULL;
	size_t vn = 0;
	enum json_type got;

	CHECKF(json_check(s, strlen(s)) == JSON_OBJECT, "%s is no object", s);
	got = member_g(s, key, &v, &vn);
	CHECKF(got == t, "%s [%s]: type %d", s, key, got);
	if (got != JSON_INVALID && want != NULL)
		CHECKF(vn == strlen(want) && memcmp(v, want, vn) == 0, "%s [%s]: %.*s", s, key,
		       (int)vn, v);
}

static void test_member(void)
{
	const char *v = "unchanged";
	size_t vn = 42;

	member_is("{\"image\":\"x\",\"nested\":{\"image\":\"no\"}}", "image", JSON_STRING, "\"x\"");
	member_is("{\"nested\":{\"image\":\"no\"},\"image\":\"x\"}", "image", JSON_STRING, "\"x\"");
	member_is("{\"a\":{\"image\":1}}", "image", JSON_INVALID, NULL);
	member_is("{\"a\":[{\"image\":1}],\"b\":[\"image\",1]}", "image", JSON_INVALID, NULL);
	member_is("{\"x\":\"\\\"image\\\":1\"}", "image", JSON_INVALID, NULL);
	member_is("{\"\\u0069mage\":\"y\"}", "image", JSON_STRING, "\"y\"");
	member_is("{\"\\u0069\\u006D\\u0061ge\":1}", "image", JSON_NUMBER, "1");
	/* a key given twice is never resolved to one of them */
	member_is("{\"a\":1,\"a\":2}", "a", JSON_INVALID, NULL);
	member_is("{\"a\":1,\"\\u0061\":[3],\"b\":4}", "a", JSON_INVALID, NULL);
	member_is("{\"a\":1,\"\\u0061\":[3],\"b\":4}", "b", JSON_NUMBER, "4");
	member_is("{}", "a", JSON_INVALID, NULL);
	member_is("{\"b\":1}", "a", JSON_INVALID, NULL);
	member_is("{\"a\":1}", "ab", JSON_INVALID, NULL);
	member_is("{\"abc\":1}", "ab", JSON_INVALID, NULL);
	member_is("{\"a\\u0000\":1}", "a", JSON_INVALID, NULL);
	member_is("{\"\":5}", "", JSON_NUMBER, "5");
	member_is("{\"a\":5}", "", JSON_INVALID, NULL);
	member_is("{\"a\\\"b\":true}", "a\"b", JSON_TRUE, "true");
	member_is("{\"\\u00e9\":false}", "\xc3\xa9", JSON_FALSE, "false");
	member_is("{\"\\ud83d\\ude00\":null}", "\xf0\x9f\x98\x80", JSON_NULL, "null");
	member_is(" { \"a\" : [1, 2] , \"b\":null } ", "a", JSON_ARRAY, "[1, 2]");
	member_is(" { \"a\" : [1, 2] , \"b\":null } ", "b", JSON_NULL, "null");
	member_is("{\"a\":{\"b\":{}},\"c\":-1.5e3}", "a", JSON_OBJECT, "{\"b\":{}}");
	member_is("{\"a\":{\"b\":{}},\"c\":-1.5e3}", "c", JSON_NUMBER, "-1.5e3");
	member_is("{\"language\":\"python\",\"files\":[{\"name\":\"main.py\",\"content\":\"print(1)\"}]}",
		  "files", JSON_ARRAY, "[{\"name\":\"main.py\",\"content\":\"print(1)\"}]");

	/* not an object, or not valid: no answer, outputs untouched */
	CHECK(member_g("[1]", "a", &v, &vn) == JSON_INVALID);
	CHECK(member_g("\"a\"", "a", &v, &vn) == JSON_INVALID);
	CHECK(member_g("{\"a\":1,}", "a", &v, &vn) == JSON_INVALID);
	CHECK(member_g("{\"a\":1", "a", &v, &vn) == JSON_INVALID);
	CHECK(member_g("{\"a\":1} x", "a", &v, &vn) == JSON_INVALID);
	CHECK(member_g("{\"b\":1}", "a", &v, &vn) == JSON_INVALID);
	CHECK(strcmp(v, "unchanged") == 0 && vn == 42);
	CHECK(json_member(NULL, 0, "a", &v, &vn) == JSON_INVALID);
}

/* Every prefix of an object under the guard page: no over-read, no answer. */
static void test_member_truncations(void)
{
	static const char doc[] = "{\"a\":{\"k\":[1,\"\\u00e9\"]},\"k\":\"v\\\"\",\"z\":true}";
	const char *v;
	size_t n, vn, bad = 0;

	for (n = 0; n < sizeof doc - 1; n++)
		if (json_member(guarded(doc, n), n, "k", &v, &vn) != JSON_INVALID)
			bad++;
	CHECK(bad == 0);
	CHECK(json_member(guarded(doc, sizeof doc - 1), sizeof doc - 1, "k", &v, &vn) ==
	      JSON_STRING);
	CHECK(vn == 5 && memcmp(v, "\"v\\\"\"", 5) == 0);
}

struct pick_case {
	const char *s;
	enum json_pick rc;
	size_t dup;
	const char *image, *payload; /* raw values; NULL: absent */
};

static const struct pick_case pick_cases[] = {
	{"{\"image\":\"x\",\"payload\":{}}", JSON_PICK_OK, 0, "\"x\"", "{}"},
	{" {\n\"payload\" : {\"a\":[1]} ,\t\"image\":\"r/s:1\" } ", JSON_PICK_OK, 0, "\"r/s:1\"",
	 "{\"a\":[1]}"},
	{"{\"\\u0069mage\":1,\"pay\\u006coad\":null}", JSON_PICK_OK, 0, "1", "null"},
	{"{\"payload\":{\"image\":1,\"image\":2},\"image\":\"x\"}", JSON_PICK_OK, 0, "\"x\"",
	 "{\"image\":1,\"image\":2}"},
	{"{\"x\":1,\"x\":2,\"image\":[]}", JSON_PICK_OK, 0, "[]", NULL}, /* other keys: not ours */
	{"{\"images\":1,\"imag\":2,\"\":3}", JSON_PICK_OK, 0, NULL, NULL},
	{"{}", JSON_PICK_OK, 0, NULL, NULL},
	{"{\"image\":\"a\",\"image\":\"a\"}", JSON_PICK_DUPLICATE, 0, NULL, NULL},
	{"{\"payload\":{},\"image\":\"a\",\"p\\u0061yload\":{}}", JSON_PICK_DUPLICATE, 1, NULL, NULL},
	{"{\"image\":1,\"image\":2,", JSON_PICK_DUPLICATE, 0, NULL, NULL}, /* first problem decides */
	{"{\"image\":1,,\"image\":1,\"image\":2}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\":1,\"image\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	 JSON_PICK_DUPLICATE, 0, NULL, NULL},
	{"", JSON_PICK_INVALID, 0, NULL, NULL},
	{"[{\"image\":1}]", JSON_PICK_INVALID, 0, NULL, NULL},
	{"\"image\"", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\":1", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\":1,}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\":1} {}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\" 1}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{image:1}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"im\\age\":1}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\":\"\\ud800\"}", JSON_PICK_INVALID, 0, NULL, NULL},
	{"{\"image\":01}", JSON_PICK_INVALID, 0, NULL, NULL},
};

static enum json_pick pick_g(const char *s, size_t n, struct json_span *v, size_t *dup)
{
	static const char *const keys[] = {"image", "payload"};

	return json_object_pick(guarded(s, n), n, keys, 2, v, dup);
}

static bool span_is(const struct json_span *v, const char *want)
{
	if (want == NULL)
		return v->type == JSON_INVALID;
	return v->type != JSON_INVALID && v->len == strlen(want) && memcmp(v->p, want, v->len) == 0 &&
	       json_check(v->p, v->len) == v->type;
}

/* Every prefix of a valid object is invalid, never a pick from half of it. */
static void check_pick_prefixes(const char *s, size_t n)
{
	struct json_span v[2];
	size_t k, dup, bad = 0;

	while (n > 0 && strchr(" \t\n\r", s[n - 1]) != NULL)
		n--;
	for (k = 0; k < n; k++)
		bad += pick_g(s, k, v, &dup) == JSON_PICK_OK;
	CHECKF(bad == 0, "%zu prefixes of %s picked", bad, s);
}

static void test_pick(void)
{
	static const char *const many[JSON_MAX_PICK + 1] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
	static char buf[4096];
	struct json_span v[JSON_MAX_PICK + 1];
	size_t i, n, dup;
	enum json_pick rc;

	for (i = 0; i < sizeof pick_cases / sizeof pick_cases[0]; i++) {
		const struct pick_case *c = &pick_cases[i];

		n = strlen(c->s);
		dup = 99;
		rc = pick_g(c->s, n, v, &dup);
		CHECKF(rc == c->rc, "pick #%zu %s: %d", i, c->s, rc);
		if (rc == JSON_PICK_DUPLICATE)
			CHECKF(dup == c->dup, "pick #%zu: duplicate %zu", i, dup);
		if (rc != JSON_PICK_OK)
			continue;
		CHECKF(span_is(&v[0], c->image) && span_is(&v[1], c->payload), "pick #%zu: spans", i);
		CHECKF(json_check(c->s, n) == JSON_OBJECT, "pick #%zu: json_check disagrees", i);
		check_pick_prefixes(c->s, n);
	}
	/* Depth: the object is one level, as json_check counts it. */
	n = (size_t)snprintf(buf, sizeof buf, "{\"payload\":");
	n += nest(buf + n, JSON_MAX_DEPTH - 1, true);
	buf[n++] = '}';
	CHECK(pick_g(buf, n, v, &dup) == JSON_PICK_OK && v[1].type == JSON_OBJECT);
	CHECK(json_check(buf, n) == JSON_OBJECT);
	n = (size_t)snprintf(buf, sizeof buf, "{\"payload\":");
	n += nest(buf + n, JSON_MAX_DEPTH, false);
	buf[n++] = '}';
	CHECK(pick_g(buf, n, v, &dup) == JSON_PICK_DEPTH);
	CHECK(json_check(buf, n) == JSON_INVALID);
	n = (size_t)snprintf(buf, sizeof buf, "{\"x\":");
	memset(buf + n, '[', 1000);
	CHECK(pick_g(buf, n + 1000, v, &dup) == JSON_PICK_DEPTH);
	memset(buf, '[', 1000);
	CHECK(pick_g(buf, 1000, v, &dup) == JSON_PICK_INVALID); /* not an object to begin with */
	/* Up to JSON_MAX_PICK keys at once. */
	n = (size_t)snprintf(buf, sizeof buf, "{\"h\":8,\"a\":1,\"c\":3}");
	CHECK(json_object_pick(guarded(buf, n), n, many, JSON_MAX_PICK, v, &dup) == JSON_PICK_OK);
	CHECK(span_is(&v[0], "1") && span_is(&v[1], NULL) && span_is(&v[2], "3") &&
	      span_is(&v[7], "8"));
	CHECK(json_object_pick(guarded(buf, n), n, many, JSON_MAX_PICK + 1, v, &dup) ==
	      JSON_PICK_INVALID);
	CHECK(json_object_pick(NULL, 0, many, 1, v, &dup) == JSON_PICK_INVALID);
}

static ssize_t decode_g(const char *raw, size_t n, char *out, size_t outsz)
{
	return json_string_decode(guarded(raw, n), n, out, outsz);
}

static void decode_is(const char *raw, const char *want, size_t wantn)
{
	char out[64];
	ssize_t r = decode_g(raw, strlen(raw), out, sizeof out);

	CHECKF(r == (ssize_t)wantn && memcmp(out, want, wantn) == 0 && out[wantn] == '\0',
	       "decode %s: %zd", raw, r);
}

static void decode_fails(const char *raw, size_t n)
{
	char out[64];

	memset(out, 'x', sizeof out);
	CHECKF(decode_g(raw, n, out, sizeof out) == -1 && out[0] == '\0', "decode %.*s accepted",
	       (int)n, raw);
}

static void test_decode(void)
{
	char out[8];

	decode_is("\"\"", "", 0);
	decode_is("\"abc\"", "abc", 3);
	decode_is("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
	decode_is("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9", 5);
	decode_is("\"\\u20AC\"", "\xe2\x82\xac", 3);
	decode_is("\"\\uFFFF\"", "\xef\xbf\xbf", 3);
	decode_is("\"\\u0080\\u07ff\\u0800\"", "\xc2\x80\xdf\xbf\xe0\xa0\x80", 7);
	decode_is("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
	decode_is("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80", 4);
	decode_is("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
	decode_is("\"x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80y\"", "x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80y", 11);
	decode_is("\"\x7f/\"", "\x7f/", 2);

	decode_fails("\"\\u0000\"", 8);
	decode_fails("\"a\\u0000b\"", 10);
	decode_fails("\"\\ud83d\"", 8);
	decode_fails("\"\\ud83dx\"", 9);
	decode_fails("\"\\ud83d\\u0041\"", 14);
	decode_fails("\"\\ude00\"", 8);
	decode_fails("\"\\u12\"", 6);
	decode_fails("\"\\x\"", 4);
	decode_fails("\"a", 2);
	decode_fails("\"", 1);
	decode_fails("", 0);
	decode_fails("abc", 3);
	decode_fails("\"a\"b", 4);
	decode_fails("\"a\" ", 4);
	decode_fails("\"a\"\"", 4);
	decode_fails("\"\x01\"", 3);
	decode_fails("\"\0\"", 3);
	decode_fails("\"\xc0\x80\"", 4);
	decode_fails("\"\xed\xa0\x80\"", 5);
	decode_fails("\"\xf4\x90\x80\x80\"", 6);
	decode_fails("\"\xc3\"", 3);

	/* the NUL counts: "abc" needs 4 bytes, U+00E9 needs 3 */
	CHECK(json_string_decode("\"abc\"", 5, out, 4) == 3 && strcmp(out, "abc") == 0);
	CHECK(json_string_decode("\"abc\"", 5, out, 3) == -1 && out[0] == '\0');
	CHECK(json_string_decode("\"abc\"", 5, out, 0) == -1);
	CHECK(json_string_decode("\"\"", 2, out, 1) == 0 && out[0] == '\0');
	CHECK(json_string_decode("\"\\u00e9\"", 8, out, 2) == -1);
	CHECK(json_string_decode("\"\\u00e9\"", 8, out, 3) == 2);
	CHECK(json_string_decode("\"\\ud83d\\ude00\"", 14, out, 4) == -1);
	CHECK(json_string_decode("\"\\ud83d\\ude00\"", 14, out, 5) == 4);
}

static int parse(const char *js, jsmntok_t *tok, int ntok)
{
	jsmn_parser p;

	jsmn_init(&p);
	return jsmn_parse(&p, js, strlen(js), tok, (unsigned)ntok);
}

static void test_tok(void)
{
	static const char reply[] = "{\"Id\":\"abc\",\"Warnings\":null}";
	static const char nested[] =
		"{\"A\":{\"Id\":\"inner\"},\"B\":[1,[2,{\"Id\":3}]],\"Id\":\"o\\u0075ter\",\"C\":[]}";
	static const char esc[] = "{\"\\u0049d\":\"x\",\"Id\":\"y\",\"Id\":\"z\",\"I\\\"d\":1}";
	jsmntok_t tok[32];
	char out[16];
	int n, v;

	n = parse(reply, tok, 32);
	CHECK(n == 5);
	CHECK(tok[0].type == JSMN_OBJECT && tok[0].size == 2);
	CHECK(json_tok_member(reply, tok, n, 0, "Id") == 2);
	CHECK(json_tok_member(reply, tok, n, 0, "Warnings") == 4);
	CHECK(json_tok_member(reply, tok, n, 0, "Missing") == -1);
	CHECK(json_tok_member(reply, tok, n, 0, "I") == -1);
	CHECK(json_tok_member(reply, tok, n, 0, "abc") == -1);
	CHECK(json_tok_member(reply, tok, n, 2, "Id") == -1);   /* not an object */
	CHECK(json_tok_member(reply, tok, n, 5, "Id") == -1);   /* out of range */
	CHECK(json_tok_member(reply, tok, n, -1, "Id") == -1);
	CHECK(json_tok_eq(reply, &tok[2], "abc"));
	CHECK(!json_tok_eq(reply, &tok[2], "ab"));
	CHECK(!json_tok_eq(reply, &tok[2], "abcd"));
	CHECK(json_tok_eq(reply, &tok[1], "Id"));
	CHECK(!json_tok_eq(reply, &tok[4], "null"));             /* a primitive, not a string */
	CHECK(json_tok_string(reply, &tok[2], out, sizeof out) == 3 && strcmp(out, "abc") == 0);
	CHECK(json_tok_string(reply, &tok[2], out, 3) == -1);
	CHECK(json_tok_string(reply, &tok[4], out, sizeof out) == -1);
	CHECK(json_tok_string(reply, &tok[0], out, sizeof out) == -1);
	CHECK(json_tok_skip(tok, n, 0) == 5);
	CHECK(json_tok_skip(tok, n, 1) == 3);
	CHECK(json_tok_skip(tok, n, 2) == 3);
	CHECK(json_tok_skip(tok, n, 4) == 5);
	CHECK(json_tok_skip(tok, n, 5) == -1);
	CHECK(json_tok_skip(tok, 3, 0) == -1);                   /* children run past ntok */

	n = parse(nested, tok, 32);
	CHECK(n == 17);
	v = json_tok_member(nested, tok, n, 0, "Id");
	CHECK(v == 14 && json_tok_eq(nested, &tok[v], "o\\u0075ter"));
	CHECK(json_tok_string(nested, &tok[v], out, sizeof out) == 5 && strcmp(out, "outer") == 0);
	CHECK(json_tok_member(nested, tok, n, 0, "A") == 2);
	CHECK(json_tok_member(nested, tok, n, 2, "Id") == 4);
	CHECK(json_tok_member(nested, tok, n, 0, "B") == 6);
	CHECK(json_tok_member(nested, tok, n, 0, "C") == 16);
	CHECK(json_tok_skip(tok, n, 6) == 13);
	CHECK(json_tok_skip(tok, n, 0) == n);
	CHECK(json_tok_skip(tok, n, 16) == n);
	CHECK(json_tok_member(nested, tok, n, 16, "Id") == -1);      /* an array */

	n = parse(esc, tok, 32);
	CHECK(n == 9);
	CHECK(json_tok_member(esc, tok, n, 0, "Id") == 6);       /* decoded keys, last wins */
	CHECK(json_tok_member(esc, tok, n, 0, "I\"d") == 8);
	CHECK(json_tok_eq(esc, &tok[7], "I\\\"d"));              /* json_tok_eq is raw */
}

/* jbuf_str(in) into a fixed buffer is exactly want. */
static void str_is(const char *in, size_t n, const char *want)
{
	char mem[256];
	struct jbuf b;

	jbuf_init(&b, mem, sizeof mem);
	jbuf_str(&b, in, n);
	CHECKF(!b.overflow && b.len == strlen(want) && memcmp(mem, want, b.len) == 0,
	       "jbuf_str %zu bytes: got %.*s want %s", n, (int)b.len, mem, want);
	CHECKF(json_check(mem, b.len) == JSON_STRING, "jbuf_str output %.*s invalid", (int)b.len,
	       mem);
}

#define FFFD "\xef\xbf\xbd"

static void test_jbuf_escapes(void)
{
	char all[32], want[512];
	size_t i, w = 0;

	str_is("", 0, "\"\"");
	str_is("plain text", 10, "\"plain text\"");
	str_is("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
	str_is("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	str_is("\0\x01\x1f\x0b\x1b", 5, "\"\\u0000\\u0001\\u001f\\u000b\\u001b\"");
	str_is("\x7f~ ", 3, "\"\\u007f~ \"");
	for (i = 0; i < 32; i++)
		all[i] = (char)i;
	want[w++] = '"';
	for (i = 0; i < 32; i++) {
		const char *e = i == '\n' ? "\\n" : i == '\r' ? "\\r" : i == '\t' ? "\\t"
			: i == '\b' ? "\\b" : i == '\f' ? "\\f" : NULL;
		if (e != NULL) {
			memcpy(want + w, e, 2);
			w += 2;
		} else {
			w += (size_t)snprintf(want + w, sizeof want - w, "\\u%04zx", i);
		}
	}
	want[w++] = '"';
	want[w] = '\0';
	str_is(all, 32, want);

	/* valid multi-byte sequences are copied, at every boundary */
	str_is("\xc2\x80\xc3\xa9\xdf\xbf", 6, "\"\xc2\x80\xc3\xa9\xdf\xbf\"");
	str_is("\xe0\xa0\x80\xe2\x82\xac\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf", 15,
	       "\"\xe0\xa0\x80\xe2\x82\xac\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"");
	str_is("\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 12,
	       "\"\xf0\x90\x80\x80\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");

	/* invalid UTF-8: each byte of the bad sequence becomes U+FFFD */
	str_is("\xc0\x80", 2, "\"" FFFD FFFD "\"");                     /* overlong NUL */
	str_is("\xc1\xbf", 2, "\"" FFFD FFFD "\"");                     /* overlong 2-byte */
	str_is("\xe0\x80\x80", 3, "\"" FFFD FFFD FFFD "\"");            /* overlong 3-byte */
	str_is("\xe0\x9f\xbf", 3, "\"" FFFD FFFD FFFD "\"");
	str_is("\xf0\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"");   /* overlong 4-byte */
	str_is("\xf0\x8f\xbf\xbf", 4, "\"" FFFD FFFD FFFD FFFD "\"");
	str_is("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\"");            /* U+D800 */
	str_is("\xed\xbf\xbf", 3, "\"" FFFD FFFD FFFD "\"");            /* U+DFFF */
	str_is("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"");   /* U+110000 */
	str_is("\xf5\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"");
	str_is("\xf8\x88\x80\x80\x80", 5, "\"" FFFD FFFD FFFD FFFD FFFD "\"");
	str_is("\xfe\xff", 2, "\"" FFFD FFFD "\"");
	str_is("\x80", 1, "\"" FFFD "\"");                              /* stray continuation */
	str_is("a\xbf" "b", 3, "\"a" FFFD "b\"");
	str_is("\xc3", 1, "\"" FFFD "\"");                              /* truncated at end */
	str_is("\xe2\x82", 2, "\"" FFFD FFFD "\"");
	str_is("\xf0\x9f\x98", 3, "\"" FFFD FFFD FFFD "\"");
	str_is("\xc3" "A", 2, "\"" FFFD "A\"");                         /* truncated mid-string */
	str_is("\xe2\x82" "A", 3, "\"" FFFD FFFD "A\"");
	str_is("\xf0\x9f\x98\n", 4, "\"" FFFD FFFD FFFD "\\n\"");
	str_is("\xc3\xa9\xa9", 3, "\"\xc3\xa9" FFFD "\"");
	str_is("\xe2\x82\xac\xe2", 4, "\"\xe2\x82\xac" FFFD "\"");
}

/*
 * jbuf_str_some: in is cut at every pair of points and fed piece by piece
 * as a streamed run feeds it (the unconsumed tail carried to the next
 * piece, the last piece final); the output is jbuf_str's without quotes.
 */
static void some_is_whole(const char *in, size_t n)
{
	char whole[512], out[512], carry[600];
	struct jbuf w, b;
	size_t i, j, k, clen, used;

	jbuf_init(&w, whole, sizeof whole);
	jbuf_str(&w, in, n);
	for (i = 0; i <= n; i++) {
		for (j = i; j <= n; j++) {
			const size_t cut[4] = {0, i, j, n};

			jbuf_init(&b, out, sizeof out);
			clen = 0;
			for (k = 0; k < 3; k++) {
				memcpy(carry + clen, in + cut[k], cut[k + 1] - cut[k]);
				clen += cut[k + 1] - cut[k];
				used = jbuf_str_some(&b, carry, clen, k == 2);
				/* Only an incomplete sequence stays, three bytes at most. */
				CHECKF(clen - used <= 3 && (k < 2 || used == clen),
				       "cut %zu/%zu of %zu: %zu of %zu left", i, j, n, clen - used, clen);
				memmove(carry, carry + used, clen - used);
				clen -= used;
			}
			CHECKF(!b.overflow && b.len == w.len - 2 && memcmp(out, whole + 1, b.len) == 0,
			       "cut %zu/%zu of %zu: %.*s vs %.*s", i, j, n, (int)b.len, out, (int)w.len, whole);
		}
	}
}

static void test_jbuf_some(void)
{
	static const struct doc docs[] = {
		S("plain"), S("\xe2\x82\xac"), S("a\xf0\x9f\x98\x80" "b"), S("\xc3\xa9\xc3"),
		S("\xe2\x82" "A"), S("\xf0\x9f\x98\n"), S("\xe0\xa0\x80\xe0\x9f"), S("\xed\xa0\x80"),
		S("\xf4\x8f\xbf\xbf\xf4\x90"), S("\x80\xbf\xc2"), S("\x01\"\\\xe2\x82\xac\x7f"),
		S("\xf0\x90\x80\x80\xf0\x8f"), S("\xc0\xaf\xfe"),
	};
	char mem[16];
	struct jbuf b;

	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
		some_is_whole(docs[i].s, docs[i].n);

	/* an incomplete sequence waits, unless final */
	jbuf_init(&b, mem, sizeof mem);
	CHECK(jbuf_str_some(&b, "ab\xe2\x82", 4, false) == 2 && b.len == 2);
	CHECK(jbuf_str_some(&b, "\xe2\x82", 2, true) == 2 && b.len == 8);
	CHECK(memcmp(mem, "ab" FFFD FFFD, 8) == 0);
	/* one that can never complete is not held */
	jbuf_init(&b, mem, sizeof mem);
	CHECK(jbuf_str_some(&b, "\xe0\x80", 2, false) == 2 && b.len == 6);
	CHECK(jbuf_str_some(&b, "\xf5", 1, false) == 1 && b.len == 9);

	/* whole characters only, and what does not fit is left */
	jbuf_init(&b, mem, 6);
	CHECK(jbuf_str_some(&b, "a\x01b", 3, false) == 1 && b.len == 1 && !b.overflow);
	jbuf_init(&b, mem, 7);
	CHECK(jbuf_str_some(&b, "\x01\xe2\x82\xac", 4, true) == 1 && b.len == 6 && !b.overflow);
	jbuf_init(&b, mem, 9);
	CHECK(jbuf_str_some(&b, "\x01\xe2\x82\xac", 4, true) == 4 && b.len == 9);
}

static void test_jbuf_overflow(void)
{
	char mem[16];
	struct jbuf b;

	/* exact fit, then nothing more, not even what would fit */
	memset(mem, '#', sizeof mem);
	jbuf_init(&b, mem, 5);
	jbuf_str(&b, "abc", 3);
	CHECK(!b.overflow && b.len == 5 && memcmp(mem, "\"abc\"", 5) == 0);
	jbuf_lit(&b, "x");
	CHECK(b.overflow && b.len == 5 && mem[5] == '#');
	jbuf_raw(&b, "", 0);
	CHECK(b.overflow && b.len == 5);

	/* a string that does not fit is not started */
	memset(mem, '#', sizeof mem);
	jbuf_init(&b, mem, 4);
	jbuf_str(&b, "abc", 3);
	CHECK(b.overflow && b.len == 0 && mem[0] == '#');

	/* never half an escape */
	memset(mem, '#', sizeof mem);
	jbuf_init(&b, mem, 8);
	jbuf_lit(&b, "[");
	jbuf_str(&b, "\x01", 1); /* needs 8 */
	CHECK(b.overflow && b.len == 1 && mem[1] == '#');
	jbuf_init(&b, mem, 9);
	jbuf_lit(&b, "[");
	jbuf_str(&b, "\x01", 1);
	CHECK(!b.overflow && b.len == 9 && memcmp(mem, "[\"\\u0001\"", 9) == 0);

	/* after an overflow, later small writes are dropped too */
	jbuf_init(&b, mem, 10);
	jbuf_lit(&b, "0123456789A");
	CHECK(b.overflow && b.len == 0);
	jbuf_lit(&b, "a");
	jbuf_u64(&b, 1);
	jbuf_str(&b, "", 0);
	CHECK(b.overflow && b.len == 0);

	/* numbers are all or nothing */
	jbuf_init(&b, mem, 2);
	jbuf_u64(&b, 123);
	CHECK(b.overflow && b.len == 0);
	jbuf_init(&b, mem, 3);
	jbuf_i64(&b, -12);
	CHECK(!b.overflow && b.len == 3 && memcmp(mem, "-12", 3) == 0);

	jbuf_init(&b, NULL, 0);
	jbuf_lit(&b, "");
	CHECK(!b.overflow && b.len == 0);
	jbuf_lit(&b, "a");
	CHECK(b.overflow);
}

static void num_is(bool sign, uint64_t u, int64_t s, const char *want)
{
	char mem[32];
	struct jbuf b;

	jbuf_init(&b, mem, sizeof mem);
	if (sign)
		jbuf_i64(&b, s);
	else
		jbuf_u64(&b, u);
	CHECKF(!b.overflow && b.len == strlen(want) && memcmp(mem, want, b.len) == 0,
	       "number %s: got %.*s", want, (int)b.len, mem);
	CHECK(json_check(mem, b.len) == JSON_NUMBER);
}

static void test_jbuf_numbers(void)
{
	num_is(false, 0, 0, "0");
	num_is(false, 7, 0, "7");
	num_is(false, 10, 0, "10");
	num_is(false, 1234567890, 0, "1234567890");
	num_is(false, UINT64_MAX, 0, "18446744073709551615");
	num_is(true, 0, 0, "0");
	num_is(true, 0, -1, "-1");
	num_is(true, 0, 42, "42");
	num_is(true, 0, INT64_MAX, "9223372036854775807");
	num_is(true, 0, INT64_MIN, "-9223372036854775808");
	num_is(true, 0, INT64_MIN + 1, "-9223372036854775807");
}

static void test_jbuf_grow(void)
{
	struct jbuf b;
	size_t i, ok = 1;

	jbuf_init_grow(&b);
	CHECK(b.grow && b.len == 0 && !b.overflow);
	jbuf_lit(&b, "[");
	for (i = 0; i < 5000; i++) {
		if (i > 0)
			jbuf_lit(&b, ",");
		jbuf_str(&b, "a\n\xc3\xa9", 4);
	}
	jbuf_lit(&b, "]");
	CHECK(!b.overflow && b.len == 2 + 5000 * 7 + 4999 && b.cap >= b.len);
	for (i = 0; i < 5000 && ok; i++)
		ok = memcmp(b.p + 1 + i * 8, "\"a\\n\xc3\xa9\"", 7) == 0;
	CHECK(ok);
	CHECK(json_check(b.p, b.len) == JSON_ARRAY);

	/* a size no allocator grants: overflow, the old contents stay */
	jbuf_raw(&b, "x", (size_t)1 << 60);
	CHECK(b.overflow && b.len == 2 + 5000 * 7 + 4999);
	jbuf_lit(&b, "x");
	CHECK(b.len == 2 + 5000 * 7 + 4999);
	free(b.p);

	/* a size whose doubling would wrap */
	jbuf_init_grow(&b);
	jbuf_lit(&b, "ab");
	jbuf_raw(&b, "x", SIZE_MAX - 1);
	CHECK(b.overflow && b.len == 2 && memcmp(b.p, "ab", 2) == 0);
	free(b.p);
}

/*
 * Reference UTF-8 check for the round trip, written the other way round
 * from json.c: decode the code point, then reject overlongs, surrogates
 * and values past U+10FFFF.  NUL counts as invalid here.
 */
static bool ref_utf8_nonul(const unsigned char *s, size_t n)
{
	static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		len = s[i] < 0x80 ? 1 : s[i] >> 5 == 6 ? 2 : s[i] >> 4 == 14 ? 3 : s[i] >> 3 == 30 ? 4 : 0;
		if (len == 0 || n - i < len || s[i] == 0)
			return false;
		cp = len == 1 ? s[i] : s[i] & (0x7F >> len);
		for (k = 1; k < len; k++) {
			if (s[i + k] >> 6 != 2)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += len;
	}
	return true;
}

/*
 * jbuf_str output always checks as a string; it decodes back to the input
 * when that was valid UTF-8 without NUL, and otherwise still decodes
 * unless it holds a NUL.
 */
static bool roundtrip(const unsigned char *in, size_t n)
{
	static char mem[4096], out[4096];
	struct jbuf b;
	ssize_t r;

	jbuf_init(&b, mem, sizeof mem);
	jbuf_str(&b, (const char *)in, n);
	if (b.overflow || json_check(mem, b.len) != JSON_STRING)
		return false;
	r = json_string_decode(mem, b.len, out, sizeof out);
	if (ref_utf8_nonul(in, n))
		return r == (ssize_t)n && memcmp(out, in, n) == 0;
	return memchr(in, 0, n) != NULL ? r == -1 : r >= 0;
}

/* Exhaustive over 1 and 2 bytes, then pseudo-random strings biased towards the interesting bytes. */
static void test_jbuf_roundtrip(void)
{
	static const unsigned char pool[] = { 0x00, 0x01, 0x1f, '"', '\\', '/', 'a', 0x7f, 0x80,
					      0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
					      0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, '\n' };
	unsigned char in[16];
	uint32_t seed = 12345;
	size_t i, k, n, bad = 0, valid = 0;

	for (i = 0; i < 256; i++) {
		in[0] = (unsigned char)i;
		bad += !roundtrip(in, 1);
	}
	for (i = 0; i < 65536; i++) {
		in[0] = (unsigned char)(i >> 8);
		in[1] = (unsigned char)i;
		bad += !roundtrip(in, 2);
		valid += ref_utf8_nonul(in, 2);
	}
	/* 127*127 ASCII pairs plus 30*64 two-byte characters */
	CHECKF(valid == 127 * 127 + 30 * 64, "reference validator: %zu", valid);
	for (i = 0; i < 300000; i++) {
		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % sizeof in;
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245 + 12345;
			in[k] = (seed >> 16) % 4 == 0 ? (unsigned char)(seed >> 8)
						      : pool[(seed >> 16) % sizeof pool];
		}
		bad += !roundtrip(in, n);
	}
	CHECKF(bad == 0, "%zu round trips failed", bad);
}

/* The end of a streamed object, fed whole, split at every point, and byte by byte. */
static void test_end(void)
{
	static const struct {
		const char *in;
		long end; /* -1: never ends an object */
	} t[] = {
		{"{}", 2},
		{" \n\t\r{}", 6},
		{"{}\n", 2},
		{"{}{}", 2},
		{"{\"a\":1}trailing", 7},
		{"{\"}\":\"{\"}", 9},
		{"{\"a\\\"}\":1}", 10},
		{"{\"a\\\\\":1}x", 9},
		{"{\"a\":[1,{\"b\":[]}]}", 18},
		{"{\"a\":\"]}\"}", 10},
		{"", -1},
		{"   ", -1},
		{"{", -1},
		{"{\"a\":\"}", -1},
		{"{\"a\":[}", -1},
		{"[1]", -1},
		{"\"{}\"", -1},
		{"x{}", -1},
	};
	struct json_end e;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].in);

		for (size_t cut = 0; cut <= len; cut++) {
			json_end_init(&e);
			json_end_feed(&e, t[i].in, cut);
			json_end_feed(&e, t[i].in + cut, len - cut);
			CHECKF(e.done == (t[i].end >= 0) && (!e.done || e.end == (size_t)t[i].end),
			       "%s cut %zu: done %d end %zu\n", t[i].in, cut, e.done, e.end);
		}
		json_end_init(&e);
		for (size_t k = 0; k < len; k++)
			json_end_feed(&e, t[i].in + k, 1);
		CHECKF(e.done == (t[i].end >= 0) && (!e.done || e.end == (size_t)t[i].end),
		       "%s byte by byte\n", t[i].in);
	}
	/* What it delimits is json_check's to judge: braces balance, content is not read. */
	json_end_init(&e);
	CHECK(json_end_feed(&e, "{x}", 3) && e.end == 3 && json_check("{x}", 3) == JSON_INVALID);
}

int main(void)
{
	guard_init();
	test_check_tables();
	test_check_truncations();
	test_check_depth();
	test_member();
	test_member_truncations();
	test_pick();
	test_decode();
	test_tok();
	test_jbuf_escapes();
	test_jbuf_some();
	test_jbuf_overflow();
	test_jbuf_numbers();
	test_jbuf_grow();
	test_jbuf_roundtrip();
	test_end();
	return check_done("test_json");
}
