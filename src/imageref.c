/*
 * Image references, after distribution/reference's grammar (without IPv6
 * hosts): [domain '/'] path ('/' path)* [':' tag] ['@' digest].  Anything
 * else is refused before it can reach a Docker URL or body.
 */
#include <string.h>

#include "imageref.h"

static int imageref_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int imageref_alnum(char c)
{
	return imageref_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]+ (('.' | '_' | '__' | '-'+) [a-z0-9]+)* */
static int imageref_path_component(const char *s, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		for (run = 0; i < n && imageref_lower_alnum(s[i]); run++)
			i++;
		if (run == 0)
			return 0;
		if (i == n)
			return 1;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
	}
	return 0;
}

/* [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? */
static int imageref_domain_component(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !imageref_alnum(s[0]) || !imageref_alnum(s[n - 1]))
		return 0;
	for (i = 1; i + 1 < n; i++)
		if (!imageref_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* host components joined by '.', then an optional :port */
static int imageref_domain(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon != NULL ? (size_t)(colon - s) : n, i, start = 0;

	if (colon != NULL) {
		if (hn + 1 == n)
			return 0;
		for (i = hn + 1; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return 0;
	}
	for (i = 0; i <= hn; i++) {
		if (i == hn || s[i] == '.') {
			if (!imageref_domain_component(s + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

/* Docker's rule for whether the first of several components names a registry. */
static int imageref_is_domain(const char *s, size_t n)
{
	return memchr(s, '.', n) != NULL || memchr(s, ':', n) != NULL ||
	       (n == 9 && memcmp(s, "localhost", 9) == 0);
}

/* [domain '/'] path-component ('/' path-component)* */
static int imageref_name(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	size_t i = 0, j;

	if (slash != NULL && imageref_is_domain(s, (size_t)(slash - s))) {
		if (!imageref_domain(s, (size_t)(slash - s)))
			return 0;
		i = (size_t)(slash - s) + 1;
	}
	for (;;) {
		for (j = i; j < n && s[j] != '/'; j++)
			;
		if (!imageref_path_component(s + i, j - i))
			return 0;
		if (j == n)
			return 1;
		i = j + 1;
	}
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static int imageref_tag(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > IMAGEREF_MAX_TAG || !(imageref_alnum(s[0]) || s[0] == '_'))
		return 0;
	for (i = 1; i < n; i++)
		if (!imageref_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* sha256:[0-9a-f]{64} */
static int imageref_digest(const char *s, size_t n)
{
	size_t pl = strlen(IMAGEREF_DIGEST_PREFIX), i;

	if (n != pl + IMAGEREF_DIGEST_HEX || memcmp(s, IMAGEREF_DIGEST_PREFIX, pl) != 0)
		return 0;
	for (i = pl; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int imageref_valid(const char *s)
{
	size_t n = strnlen(s, DOCKER_MAX_IMAGE_REF + 1), rn;
	const char *at, *slash, *colon;

	if (n == 0 || n > DOCKER_MAX_IMAGE_REF)
		return 0;
	at = memchr(s, '@', n);
	rn = at != NULL ? (size_t)(at - s) : n;
	if (at != NULL && !imageref_digest(at + 1, n - rn - 1))
		return 0;
	/* A ':' after the last '/' starts the tag; before it, it is a port. */
	slash = memrchr(s, '/', rn);
	colon = memrchr(s, ':', rn);
	if (colon != NULL && (slash == NULL || colon > slash)) {
		if (!imageref_tag(colon + 1, rn - (size_t)(colon + 1 - s)))
			return 0;
		rn = (size_t)(colon - s);
	}
	return imageref_name(s, rn);
}
