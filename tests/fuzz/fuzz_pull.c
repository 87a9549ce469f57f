/*
 * libFuzzer target for the pull progress parser (docker_pull_*).  The
 * first input byte picks how the rest is cut into pieces; the rest is
 * Docker's progress stream.  However the input is cut, the outcome
 * (malformed or not, failed or not, objects seen, the message) must be
 * that of the whole stream fed at once, and a message never carries a
 * control byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct docker_pull whole, cut;

static int feed_all(struct docker_pull *p, const char *s, size_t n, unsigned step)
{
	size_t off = 0, k;

	docker_pull_init(p);
	while (off < n) {
		k = step == 0 ? n - off : (size_t)step;
		if (k > n - off)
			k = n - off;
		if (docker_pull_feed(p, s + off, k) < 0)
			return -1;
		off += k;
	}
	return docker_pull_end(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n;
	int a, b;

	if (size < 1)
		return 0;
	n = size - 1;
	a = feed_all(&whole, s, n, 0);
	b = feed_all(&cut, s, n, data[0] % 17);
	if (a != b || whole.failed != cut.failed || (a == 0 && whole.objects != cut.objects) ||
	    strcmp(whole.message, cut.message) != 0)
		abort();
	for (const char *m = whole.message; *m; m++)
		if ((unsigned char)*m < 0x20 || *m == 0x7f)
			abort();
	return 0;
}
