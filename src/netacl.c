/*
 * Client address allow-list.  Rules are kept in one form per family (an
 * IPv4-mapped rule becomes an IPv4 one), and a peer is put in the same
 * form before it is compared, so each match is a prefix compare.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netacl.h"

#define NETACL_V4MAPPED_BITS 96
#define NETACL_ITEM_MAX (INET6_ADDRSTRLEN + 4) /* an address, '/', three digits */
#define NETACL_SHOWN_MAX 64                    /* bytes of a bad item quoted back */

static const uint8_t netacl_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void netacl_errf(char *err, size_t errsz, const char *name, const char *item, size_t n,
			const char *why)
{
	char q[NETACL_SHOWN_MAX + 4];
	size_t i, k = n < NETACL_SHOWN_MAX ? n : NETACL_SHOWN_MAX;

	for (i = 0; i < k; i++)
		q[i] = (unsigned char)item[i] < 0x20 || item[i] == 0x7f ? '?' : item[i];
	memcpy(q + k, n > k ? "..." : "", n > k ? 4 : 1);
	if (err && errsz)
		snprintf(err, errsz, "%s: \"%s\" %s", name, q, why);
}

/* Bits of a past the first prefix bits: any set? */
static bool netacl_host_bits(const uint8_t *a, unsigned bytes, unsigned prefix)
{
	for (unsigned i = prefix / 8; i < bytes; i++) {
		uint8_t keep = i == prefix / 8 ? (uint8_t)(0xff00 >> (prefix % 8)) : 0;

		if (a[i] & (uint8_t)~keep)
			return true;
	}
	return false;
}

static bool netacl_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (uint8_t)(0xff00 >> rest)) == 0;
}

/* "0", or digits without a leading zero, at most max: the prefix length; -1 if not. */
static int netacl_prefix(const char *s, size_t n, unsigned max)
{
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

/* One item of n bytes into r; NULL, or why it is refused. */
static const char *netacl_item(const char *s, size_t n, struct netacl_rule *r)
{
	char text[NETACL_ITEM_MAX + 1];
	const char *slash = memchr(s, '/', n);
	size_t an = slash != NULL ? (size_t)(slash - s) : n;
	unsigned max;
	int prefix;

	if (an == 0 || an > NETACL_ITEM_MAX)
		return "is not an IPv4 or IPv6 address";
	memcpy(text, s, an);
	text[an] = '\0';
	memset(r, 0, sizeof(*r));
	if (inet_pton(AF_INET, text, r->addr) == 1) {
		r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, text, r->addr) == 1) {
		r->family = AF_INET6;
		max = 128;
	} else {
		return "is not an IPv4 or IPv6 address (CIDR: ADDR or ADDR/PREFIX)";
	}
	prefix = slash != NULL ? netacl_prefix(slash + 1, n - an - 1, max) : (int)max;
	if (prefix < 0)
		return max == 32 ? "has a bad prefix length (0-32, no leading zeros)"
				 : "has a bad prefix length (0-128, no leading zeros)";
	r->prefix = (uint8_t)prefix;
	if (netacl_host_bits(r->addr, max / 8, r->prefix))
		return "has bits set past its prefix length (write the network address)";
	if (r->family == AF_INET6 && r->prefix >= NETACL_V4MAPPED_BITS &&
	    memcmp(r->addr, netacl_v4mapped, sizeof(netacl_v4mapped)) == 0) {
		memmove(r->addr, r->addr + 12, 4);
		memset(r->addr + 4, 0, 12);
		r->family = AF_INET;
		r->prefix -= NETACL_V4MAPPED_BITS;
	}
	return NULL;
}

int netacl_parse(struct netacl *acl, const char *s, const char *name, char *err, size_t errsz)
{
	static const char sep[] = " ,";
	struct netacl out;
	const char *why;
	size_t n;

	memset(&out, 0, sizeof(out));
	for (;; s += n) {
		s += strspn(s, sep);
		if (*s == '\0')
			break;
		n = strcspn(s, sep);
		if (out.n == NETACL_MAX_RULES) {
			if (err && errsz)
				snprintf(err, errsz, "%s: more than %d addresses or networks", name,
					 NETACL_MAX_RULES);
			return -1;
		}
		why = netacl_item(s, n, &out.rule[out.n]);
		if (why != NULL) {
			netacl_errf(err, errsz, name, s, n, why);
			return -1;
		}
		out.n++;
	}
	*acl = out;
	return 0;
}

bool netacl_allows(const struct netacl *acl, const struct sockaddr *sa, socklen_t len)
{
	uint8_t a[16];
	int family;

	if (acl->n == 0)
		return true;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		family = AF_INET;
		memcpy(a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		family = AF_INET6;
		memcpy(a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		if (memcmp(a, netacl_v4mapped, sizeof(netacl_v4mapped)) == 0) {
			family = AF_INET;
			memmove(a, a + 12, 4);
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < acl->n; i++)
		if (acl->rule[i].family == family && netacl_prefix_eq(acl->rule[i].addr, a, acl->rule[i].prefix))
			return true;
	return false;
}

int netacl_format(const struct netacl *acl, char *out, size_t outsz)
{
	char text[INET6_ADDRSTRLEN];
	size_t len = 0;
	int n;

	if (outsz == 0)
		return -1;
	out[0] = '\0';
	for (unsigned i = 0; i < acl->n; i++) {
		const struct netacl_rule *r = &acl->rule[i];

		if (inet_ntop(r->family, r->addr, text, sizeof(text)) == NULL)
			return -1;
		n = snprintf(out + len, outsz - len, "%s%s/%u", i ? " " : "", text, r->prefix);
		if (n < 0 || (size_t)n >= outsz - len)
			return -1;
		len += (size_t)n;
	}
	return (int)len;
}
