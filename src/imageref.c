/*
 * Image references, after distribution/reference's grammar (without IPv6
 * hosts): [domain '/'] path ('/' path)* [':' tag] ['@' digest].  Anything
 * else is refused before it can reach a Docker URL or body.
 */
#include <stdio.h>
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

/* ---- RUN_IMAGE_ALLOWLIST ---- */

#define IMAGEREF_HUB "docker.io"
#define IMAGEREF_HUB_LEGACY "index.docker.io"
#define IMAGEREF_HUB_OFFICIAL "library/"
#define IMAGEREF_DEFAULT_TAG "latest"

/* A valid reference cut into its parts; the name's domain is NULL when it has none. */
struct imageref_parts {
	const char *domain, *path, *tag, *digest;
	size_t domain_len, path_len, tag_len, digest_len;
};

/* Split a reference imageref_valid accepted; mirrors its walk. */
static void imageref_split(const char *s, struct imageref_parts *p)
{
	size_t n = strlen(s), rn;
	const char *at, *slash, *colon;

	memset(p, 0, sizeof(*p));
	at = memchr(s, '@', n);
	rn = at != NULL ? (size_t)(at - s) : n;
	if (at != NULL) {
		p->digest = at + 1;
		p->digest_len = n - rn - 1;
	}
	slash = memrchr(s, '/', rn);
	colon = memrchr(s, ':', rn);
	if (colon != NULL && (slash == NULL || colon > slash)) {
		p->tag = colon + 1;
		p->tag_len = rn - (size_t)(colon + 1 - s);
		rn = (size_t)(colon - s);
	}
	slash = memchr(s, '/', rn);
	if (slash != NULL && imageref_is_domain(s, (size_t)(slash - s))) {
		p->domain = s;
		p->domain_len = (size_t)(slash - s);
		s = slash + 1;
		rn -= p->domain_len + 1;
	}
	p->path = s;
	p->path_len = rn;
}

static int imageref_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int imageref_is_hub(const char *s, size_t n)
{
	return imageref_is(s, n, IMAGEREF_HUB) || imageref_is(s, n, IMAGEREF_HUB_LEGACY);
}

/*
 * The repository as Docker resolves it: "python" and "docker.io/python"
 * are "docker.io/library/python", "index.docker.io/x/y" is
 * "docker.io/x/y".  Domains compare byte for byte, as Docker's do.
 * Returns the length written to out, or -1 if it does not fit.
 */
static int imageref_repo(const struct imageref_parts *p, char *out, size_t outsz)
{
	int hub = p->domain == NULL || imageref_is_hub(p->domain, p->domain_len);
	int official = hub && memchr(p->path, '/', p->path_len) == NULL;
	int n;

	n = snprintf(out, outsz, "%.*s/%s%.*s", hub ? (int)strlen(IMAGEREF_HUB) : (int)p->domain_len,
		     hub ? IMAGEREF_HUB : p->domain, official ? IMAGEREF_HUB_OFFICIAL : "",
		     (int)p->path_len, p->path);
	return n < 0 || (size_t)n >= outsz ? -1 : n;
}

/* The namespace a pattern (P, a slash and a star) stands for, as repositories start: "docker.io/glot/". */
static int imageref_namespace(const char *p, size_t n, char *out, size_t outsz)
{
	const char *slash = memchr(p, '/', n);
	size_t first = slash != NULL ? (size_t)(slash - p) : n;
	int r;

	if (imageref_is_hub(p, n))
		r = snprintf(out, outsz, "%s/", IMAGEREF_HUB);
	else if (imageref_is_domain(p, first) && imageref_is_hub(p, first))
		r = snprintf(out, outsz, "%s/%.*s/", IMAGEREF_HUB, (int)(n - first - 1), slash + 1);
	else if (imageref_is_domain(p, first))
		r = snprintf(out, outsz, "%.*s/", (int)n, p);
	else
		r = snprintf(out, outsz, "%s/%.*s/", IMAGEREF_HUB, (int)n, p);
	return r < 0 || (size_t)r >= outsz ? -1 : r;
}

static int imageref_is_pattern(const char *s, size_t n)
{
	return n >= 2 && memcmp(s + n - 2, "/*", 2) == 0;
}

int imageref_pattern_valid(const char *s)
{
	char probe[DOCKER_MAX_IMAGE_REF + 3];
	size_t n = strnlen(s, DOCKER_MAX_IMAGE_REF + 1);
	struct imageref_parts pp;

	if (n > DOCKER_MAX_IMAGE_REF)
		return 0;
	if (!imageref_is_pattern(s, n))
		return imageref_valid(s);
	/* A pattern: P followed by one more component must be a name with no tag or digest. */
	if (n == 2 || memchr(s, '@', n) != NULL)
		return 0;
	snprintf(probe, sizeof(probe), "%.*s/a", (int)(n - 2), s);
	if (!imageref_valid(probe))
		return 0;
	imageref_split(probe, &pp);
	return pp.tag == NULL;
}

int imageref_allowed(const char *pattern, const char *image)
{
	char want[IMAGEREF_MAX_REPO], have[IMAGEREF_MAX_REPO];
	struct imageref_parts pp, ip;
	size_t n = strlen(pattern);
	int wn, hn;

	if (!imageref_valid(image) || !imageref_pattern_valid(pattern))
		return 0;
	imageref_split(image, &ip);
	hn = imageref_repo(&ip, have, sizeof(have));
	if (hn < 0)
		return 0;
	if (imageref_is_pattern(pattern, n)) {
		wn = imageref_namespace(pattern, n - 2, want, sizeof(want));
		return wn > 0 && hn > wn && memcmp(have, want, (size_t)wn) == 0;
	}
	imageref_split(pattern, &pp);
	wn = imageref_repo(&pp, want, sizeof(want));
	if (wn < 0 || wn != hn || memcmp(want, have, (size_t)wn) != 0)
		return 0;
	/* A digest names the content: the image must carry the same one, whatever its tag. */
	if (pp.digest != NULL)
		return ip.digest != NULL && ip.digest_len == pp.digest_len &&
		       memcmp(ip.digest, pp.digest, pp.digest_len) == 0;
	/* A tag matches that tag only; an image with no tag is Docker's "latest". */
	if (pp.tag != NULL) {
		if (ip.digest != NULL)
			return 0;
		if (ip.tag == NULL)
			return imageref_is(pp.tag, pp.tag_len, IMAGEREF_DEFAULT_TAG);
		return pp.tag_len == ip.tag_len && memcmp(pp.tag, ip.tag, ip.tag_len) == 0;
	}
	return 1;
}

int imageref_list_allows(const char (*patterns)[CONFIG_MAX_STR], unsigned n, const char *image)
{
	if (n == 0)
		return 1;
	for (unsigned i = 0; i < n; i++)
		if (imageref_allowed(patterns[i], image))
			return 1;
	return 0;
}
