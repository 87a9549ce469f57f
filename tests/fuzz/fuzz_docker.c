/*
 * libFuzzer target for the Docker client's pure parts: image references,
 * the /version translation (whose output must be valid JSON whenever it
 * succeeds) and the create body built from hostile configuration strings
 * (always valid JSON).  Attach frames have their own target, fuzz_frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "docker.h"
#include "imageref.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A valid reference is short and made only of the grammar's characters. */
static void fuzz_image_ref(const uint8_t *data, size_t size)
{
	char ref[DOCKER_MAX_IMAGE_REF + 64];
	size_t n = size < sizeof(ref) - 1 ? size : sizeof(ref) - 1, i;
	int v;

	memcpy(ref, data, n);
	ref[n] = '\0';
	v = imageref_valid(ref);
	if (v != 0 && v != 1)
		abort();
	if (v == 1) {
		if (strlen(ref) == 0 || strlen(ref) > DOCKER_MAX_IMAGE_REF)
			abort();
		for (i = 0; ref[i]; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			            "._-/:@",
			            ref[i]))
				abort();
	}
}

static void fuzz_version(const uint8_t *data, size_t size)
{
	static char mem[64 * 1024];
	struct jbuf b;

	jbuf_init(&b, mem, sizeof(mem));
	if (docker_version_translate((const char *)data, size, size > 0 && (data[0] & 1) ? "1.44" : NULL, &b) == 0) {
		if (json_check(mem, b.len) != JSON_OBJECT)
			abort();
	} else if (b.len != 0) {
		abort();
	}
}

/* Split the input at NULs into configuration strings. */
static void fuzz_create_body(const uint8_t *data, size_t size)
{
	static struct config c;
	static char out[DOCKER_MAX_REQUEST_BODY];
	char *fields[] = {c.hostname,         c.user,       c.tmp_dir_path, c.tmp_dir_options,
	                  c.work_dir_path,    c.log_driver, c.runtime,      c.cap_add.item[0],
	                  c.cap_drop.item[0], c.instance};
	size_t nf = sizeof(fields) / sizeof(fields[0]), f = 0, i = 0, k;
	int len;

	memset(&c, 0, sizeof(c));
	c.cap_add.n = 1;
	c.cap_drop.n = 1;
	c.memory = size > 0 ? (int64_t)data[0] << 40 : 0;
	c.memory_swap = size > 1 ? (int64_t)(int8_t)data[1] : 0;
	c.network_disabled = size > 2 && (data[2] & 1);
	c.pids_limit = size > 3 ? (int64_t)(int8_t)data[3] : 0;
	c.no_new_privileges = size > 4 && (data[4] & 1);
	while (f < nf && i < size) {
		for (k = 0; i < size && data[i] != 0 && k < CONFIG_MAX_STR - 1; i++)
			fields[f][k++] = (char)data[i];
		fields[f][k] = '\0';
		f++;
		i++;
	}
	len = docker_create_body(&c, c.user, c.instance, size, out, sizeof(out));
	if (len < 0 || json_check(out, (size_t)len) != JSON_OBJECT)
		abort();
	if (docker_create_body(&c, c.user, c.instance, size, out, (size_t)len) != -1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_ref(data, size);
	fuzz_version(data, size);
	fuzz_create_body(data, size);
	return 0;
}
