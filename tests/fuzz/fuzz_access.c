/*
 * libFuzzer target for the access-control parsers: SERVER_ALLOWED_IPS
 * (netacl) and RUN_IMAGE_ALLOWLIST entries (imageref).  The first byte
 * picks which.  Oracles: a parsed list prints and parses back to the same
 * rules, and its verdict on an address taken from the input agrees with a
 * bit-by-bit reading of the rules; an allowlist entry allows nothing
 * invalid, and a valid name always allows itself.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imageref.h"
#include "netacl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* The rules read one bit at a time, IPv4-mapped peers as IPv4. */
static bool oracle(const struct netacl *acl, int family, const uint8_t *addr)
{
	uint8_t a[16];

	memcpy(a, addr, 16);
	if (acl->n == 0)
		return true;
	if (family == AF_INET6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		family = AF_INET;
		memmove(a, a + 12, 4);
	}
	for (unsigned r = 0; r < acl->n; r++) {
		bool same = acl->rule[r].family == family;

		for (unsigned i = 0; same && i < acl->rule[r].prefix; i++)
			same = bit(acl->rule[r].addr, i) == bit(a, i);
		if (same)
			return true;
	}
	return false;
}

static void fuzz_netacl(const uint8_t *data, size_t size)
{
	struct netacl acl, again;
	char text[512], printed[NETACL_MAX_TEXT];
	uint8_t addr[16] = {0};
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	memcpy(text, data, n);
	text[n] = '\0';
	if (netacl_parse(&acl, text, "X", printed, sizeof(printed)) < 0)
		return;
	if (netacl_format(&acl, printed, sizeof(printed)) < 0)
		abort();
	if (netacl_parse(&again, printed, "X", NULL, 0) < 0 || again.n != acl.n ||
	    memcmp(again.rule, acl.rule, sizeof(acl.rule[0]) * acl.n) != 0)
		abort();
	/* The input's last 16 bytes as a peer, of each family. */
	memcpy(addr, data + (size > 16 ? size - 16 : 0), size < 16 ? size : 16);
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

	memcpy(&in.sin_addr, addr, 4);
	memcpy(&in6.sin6_addr, addr, 16);
	if (netacl_allows(&acl, (struct sockaddr *)&in, sizeof(in)) != oracle(&acl, AF_INET, addr))
		abort();
	if (netacl_allows(&acl, (struct sockaddr *)&in6, sizeof(in6)) != oracle(&acl, AF_INET6, addr))
		abort();
}

static void fuzz_allowlist(const uint8_t *data, size_t size)
{
	char pattern[DOCKER_MAX_IMAGE_REF + 8], image[DOCKER_MAX_IMAGE_REF + 8];
	const uint8_t *nul = memchr(data, '\0', size);
	size_t pn = nul ? (size_t)(nul - data) : size, in = nul ? size - pn - 1 : 0;

	if (pn >= sizeof(pattern) || in >= sizeof(image))
		return;
	memcpy(pattern, data, pn);
	pattern[pn] = '\0';
	memcpy(image, nul ? nul + 1 : data, in);
	image[in] = '\0';
	if (imageref_allowed(pattern, image) && (!imageref_valid(image) || !imageref_pattern_valid(pattern)))
		abort();
	if (imageref_valid(image) && !imageref_allowed(image, image))
		abort();
	if (imageref_valid(pattern) && !imageref_pattern_valid(pattern))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_netacl(data + 1, size - 1);
	else
		fuzz_allowlist(data + 1, size - 1);
	return 0;
}
