/*
 * libFuzzer target for execute.c.  Properties, on any input bytes:
 *  - exec_parse_execute and exec_parse_compile never read or write out of
 *    bounds (they decode in place), and what they accept is in its limits:
 *    a script of 1..EXEC_MAX_SCRIPT bytes with no NUL, an image that is
 *    "" or a valid reference;
 *  - the same bytes, kept as output on streams chosen by the input, under
 *    a limit chosen by the input, always give answers that are one valid
 *    JSON object, of both kinds, and the kept bytes never pass the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "execute.h"
#include "imageref.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)          \
	do {                    \
		if (!(c))       \
			abort(); \
	} while (0)

static void fuzz_parse(const uint8_t *data, size_t size)
{
	struct exec_request r;
	char msg[256];
	char *body = malloc(size ? size : 1);

	memcpy(body, data, size);
	if (exec_parse_execute(body, size, &r, msg, sizeof(msg)) == NULL) {
		FUZZ_ASSERT(r.script_len >= 1 && r.script_len <= EXEC_MAX_SCRIPT);
		FUZZ_ASSERT(memchr(r.script, '\0', r.script_len) == NULL);
		FUZZ_ASSERT(r.image[0] == '\0' || imageref_valid(r.image));
		FUZZ_ASSERT(r.input_len <= size);
	}
	memcpy(body, data, size);
	if (exec_parse_compile(body, size, &r, msg, sizeof(msg)) == NULL)
		FUZZ_ASSERT(r.input_len <= size && r.script_len == 0);
	free(body);
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	static char buf[4096], ans[4096 * 3 * 6 + 1024];
	static unsigned char map[4096 / 8 + 1];
	struct exec_result r = {.end = EXEC_EOF, .exit_known = true, .output_limit = 0};
	struct exec_out o;
	size_t cap, i = 1, k;
	ssize_t n;

	if (size < 1)
		return;
	cap = (size_t)data[0] * 16 % sizeof(buf);
	exec_out_init(&o, buf, map, cap);
	r.out = &o;
	r.output_limit = cap;
	/* Each piece: a length byte whose low bit picks the stream, then that many bytes. */
	while (i < size) {
		k = data[i] >> 1;
		enum frame_stream st = data[i] & 1 ? FRAME_STDERR : FRAME_STDOUT;

		i++;
		k = k < size - i ? k : size - i;
		if (!exec_out_keep(&o, st, (const char *)data + i, k))
			break;
		i += k;
	}
	FUZZ_ASSERT(o.len <= cap);
	n = exec_answer_body(EXEC_ANSWER_EXECUTE, &r, ans, sizeof(ans));
	FUZZ_ASSERT(n > 0 && json_check(ans, (size_t)n) == JSON_OBJECT);
	r.end = EXEC_TIMEOUT;
	n = exec_answer_body(EXEC_ANSWER_COMPILE, &r, ans, sizeof(ans));
	FUZZ_ASSERT(n > 0 && json_check(ans, (size_t)n) == JSON_OBJECT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size);
	fuzz_answer(data, size);
	return 0;
}
