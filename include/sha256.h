/*
 * SHA-256 (FIPS 180-4), for the reader's salted token verifier: the
 * reader can refuse a wrong token before reading a body without ever
 * holding the token.  Streaming, no allocation.
 */
#ifndef RUNBOXD_SHA256_H
#define RUNBOXD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	uint32_t h[8];
	uint64_t total; /* bytes fed */
	uint8_t block[64];
	size_t used;    /* bytes of block filled */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
/* The digest; the state is wiped (it may have seen a secret). */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);

#endif
