/*
 * libFuzzer target for reqlimits.c.  Properties, on any input bytes:
 *  - reqlimits_parse and reqlimits_number never read out of bounds;
 *  - what reqlimits_parse accepts is a valid JSON object, every value it
 *    sets passes the agent's reqlimits_check, and a refusal leaves no value
 *    set and a message that names "limits";
 *  - reqlimits_number accepts only valid JSON numbers, and never returns
 *    more than its maximum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "reqlimits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)          \
	do {                    \
		if (!(c))       \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct reqlimits zero;
	static struct config c;
	char *buf = malloc(size ? size : 1);
	char msg[REQLIMITS_MAX_MESSAGE];
	struct reqlimits l;
	uint64_t v, max;
	unsigned scale;

	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data, size);
	/* The configuration comes from the first byte: with and without maxima. */
	memset(&c, 0, sizeof(c));
	c.run_max_time = 10;
	c.run_max_output = 1000000;
	if (size == 0 || (data[0] & 1)) {
		c.memory = 256 * 1024 * 1024;
		c.pids_limit = 25;
		c.nano_cpus = 1500000000;
	}
	msg[0] = '\0';
	if (reqlimits_parse(buf, size, &c, &l, msg, sizeof(msg)) == 0) {
		FUZZ_ASSERT(json_check(buf, size) == JSON_OBJECT);
		FUZZ_ASSERT(reqlimits_check(&c, &l, msg, sizeof(msg)) == 0);
	} else {
		FUZZ_ASSERT(memcmp(&l, &zero, sizeof(l)) == 0);
		FUZZ_ASSERT(strstr(msg, "limits") != NULL);
	}
	scale = size ? data[0] % 10 : 0;
	max = size > 1 ? UINT64_MAX >> (data[1] % 64) : UINT64_MAX;
	if (reqlimits_number(buf, size, scale, max, &v) == REQLIMITS_NUM_OK) {
		FUZZ_ASSERT(json_check(buf, size) == JSON_NUMBER);
		FUZZ_ASSERT(v <= max);
	}
	free(buf);
	return 0;
}
