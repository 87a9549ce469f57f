/* SHA-256: FIPS 180-4's examples, NIST's long messages, and every split of the input. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sha256.h"

static void hex(const uint8_t *d, char *out)
{
	for (int i = 0; i < SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int digest_is(const void *p, size_t n, const char *want)
{
	struct sha256 s;
	uint8_t d[SHA256_LEN];
	char h[2 * SHA256_LEN + 1];

	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, d);
	hex(d, h);
	if (strcmp(h, want) != 0)
		fprintf(stderr, "sha256 of %zu bytes: %s, want %s\n", n, h, want);
	return strcmp(h, want) == 0;
}

int main(void)
{
	static const char *abc56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char *abc112 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
				    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	static char million[1000000];
	size_t n = strlen(abc112);

	CHECK(digest_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	CHECK(digest_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(digest_is(abc56, strlen(abc56),
			"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
	CHECK(digest_is(abc112, n, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
	memset(million, 'a', sizeof(million));
	CHECK(digest_is(million, sizeof(million),
			"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
	/* Fed in two pieces at every split point: the same digest. */
	for (size_t cut = 0; cut <= n; cut++) {
		struct sha256 s;
		uint8_t a[SHA256_LEN], b[SHA256_LEN];

		sha256_init(&s);
		sha256_update(&s, abc112, cut);
		sha256_update(&s, abc112 + cut, n - cut);
		sha256_final(&s, a);
		sha256_init(&s);
		sha256_update(&s, abc112, n);
		sha256_final(&s, b);
		CHECKF(memcmp(a, b, sizeof(a)) == 0, "split at %zu", cut);
	}
	return check_done("sha256");
}
