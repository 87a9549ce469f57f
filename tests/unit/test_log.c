/*
 * log_clean: a client's bytes as a log line may hold them (the reader's
 * and the fronts' request lines).
 */
#include <string.h>

#include "check.h"
#include "log.h"

static void clean(const char *in, size_t n, size_t outsz, const char *want)
{
	char out[64];

	memset(out, 'Z', sizeof(out));
	log_clean(out, outsz, in, n);
	CHECKF(strcmp(out, want) == 0, "log_clean(%zu bytes, %zu): \"%s\", want \"%s\"", n, outsz, out, want);
	CHECKF(out[outsz] == 'Z', "log_clean(%zu bytes, %zu) wrote past its buffer", n, outsz);
}

int main(void)
{
	clean("/run", 4, 16, "/run");
	clean("/a b\tc\r\nd", 9, 16, "/a?b?c?" "?d");
	clean("\x7f\x80\xff/\x01", 5, 16, "?" "?" "?/?");
	clean("/0123456789", 11, 6, "/0123");   /* cut to outsz - 1 */
	clean("/x", 2, 3, "/x");
	clean("/xy", 3, 3, "/x");
	clean("", 0, 4, "");
	clean("abc", 3, 1, "");
	clean("a\0b", 3, 8, "a?b");             /* a NUL ends nothing early */
	return check_done("test_log");
}
