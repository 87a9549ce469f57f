/* Image references: tables of valid and invalid ones, and the length limits. */
#include <string.h>

#include "check.h"
#include "imageref.h"

static void test_image_ref(void)
{
	static const char *valid[] = {
	    "python:3.11",
	    "runbox/sh",
	    "localhost:5000/a/b:tag",
	    "ghcr.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "glot/python:latest",
	    "a",
	    "a/b/c/d",
	    "docker.io/library/busybox:1.36",
	    "localhost/x",
	    "localhost",
	    "localhost:5000",
	    "my-registry.example.com:443/team/app_name:v1.2.3-rc.1",
	    "Registry.Example.COM/x",
	    "a.b_c__d-e---f",
	    "x:_tag",
	    "x:TAG.with-Dots_",
	    "a:3.11@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "host:1/a",
	    "1a/2b",
	    "a-b.c/d",
	};
	static const char *invalid[] = {
	    "",
	    "UPPER",
	    "Foo/bar",
	    "a//b",
	    "a/",
	    "/a",
	    "a:",
	    ":tag",
	    "-a",
	    "a-",
	    "a..b",
	    "a._b",
	    "a___b",
	    "a b",
	    "a\nb",
	    "../x",
	    "./x",
	    "a:ta g",
	    "a:-tag",
	    "a:.tag",
	    "a:t:t",
	    "a@sha256:0123",
	    "a@sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    "a@",
	    "-host.com/a",
	    "host-.com/a",
	    "host..com/a",
	    "host.com:/a",
	    "host.com:80a/a",
	    "host.com:1:2/a",
	    "[::1]/a",
	    "a/B",
	    "a/b:c/d",
	    "a\\b",
	    "a%2fb",
	    "\xc3\xa9",
	    "a\tb",
	};
	char name[300], ref[300];
	size_t i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		CHECKF(imageref_valid(valid[i]) == 1, "valid \"%s\"", valid[i]);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		CHECKF(imageref_valid(invalid[i]) == 0, "invalid \"%s\"", invalid[i]);

	memset(name, 'a', sizeof(name));
	name[255] = '\0';
	CHECK(imageref_valid(name) == 1);
	name[255] = 'a';
	name[256] = '\0';
	CHECK(imageref_valid(name) == 0);

	memset(ref, 'T', sizeof(ref));
	ref[0] = 'a';
	ref[1] = ':';
	ref[2 + 128] = '\0';
	CHECK(imageref_valid(ref) == 1);
	ref[2 + 128] = 'T';
	ref[2 + 129] = '\0';
	CHECK(imageref_valid(ref) == 0);
}

/* Against a real daemon that has no images: every refusal must be Docker's own. */

int main(void)
{
	test_image_ref();
	return check_done("test_imageref");
}
