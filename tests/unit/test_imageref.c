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

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define E64 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

struct allow_case {
	const char *pattern, *image;
	int allowed;
};

/* RUN_IMAGE_ALLOWLIST's matching, as imageref.h defines it. */
static const struct allow_case allow_cases[] = {
    /* A name alone: its repository, any tag or digest. */
    {"runbox/sh", "runbox/sh", 1},
    {"runbox/sh", "runbox/sh:1.0", 1},
    {"runbox/sh", "runbox/sh@sha256:" D64, 1},
    {"runbox/sh", "runbox/sh:1@sha256:" D64, 1},
    {"runbox/sh", "runbox/shell", 0},
    {"runbox/sh", "runbox/s", 0},
    {"runbox/sh", "runbox/sh/x", 0},
    {"runbox/sh", "other/sh", 0},
    {"runbox/sh", "evil.com/runbox/sh", 0},
    {"runbox/sh", "localhost/runbox/sh", 0},
    /* Docker Hub's spellings are one repository. */
    {"python", "docker.io/library/python", 1},
    {"python", "library/python:3.11", 1},
    {"python", "index.docker.io/library/python", 1},
    {"python", "docker.io/python", 1},
    {"docker.io/library/python", "python:3", 1},
    {"library/python", "python", 1},
    {"runbox/sh", "docker.io/runbox/sh", 1},
    {"index.docker.io/runbox/sh", "runbox/sh", 1},
    {"python", "python/python", 0},
    {"python", "docker.io/python/x", 0},
    /* Domains compare byte for byte (Docker's own references do). */
    {"docker.io/runbox/sh", "Docker.io/runbox/sh", 0},
    {"localhost:5000/a", "localhost:5000/a:t", 1},
    {"localhost:5000/a", "localhost:5001/a", 0},
    {"localhost:5000/a", "localhost/a", 0},
    {"localhost", "localhost", 1},
    {"localhost", "docker.io/library/localhost", 1},
    {"localhost", "localhost/x", 0},
    /* A tag: that tag only; no tag is "latest"; a digest is not a tag. */
    {"python:3.11", "python:3.11", 1},
    {"python:3.11", "docker.io/library/python:3.11", 1},
    {"python:3.11", "python:3.12", 0},
    {"python:3.11", "python", 0},
    {"python:3.11", "python:3.11@sha256:" D64, 0},
    {"python:latest", "python", 1},
    {"python:latest", "python:Latest", 0},
    {"python:3", "python:3.1", 0},
    /* A digest: images carrying it, whatever their tag. */
    {"python@sha256:" D64, "python@sha256:" D64, 1},
    {"python@sha256:" D64, "python:9@sha256:" D64, 1},
    {"python:3@sha256:" D64, "python@sha256:" D64, 1},
    {"python@sha256:" D64, "python@sha256:" E64, 0},
    {"python@sha256:" D64, "python", 0},
    {"python@sha256:" D64, "python:3", 0},
    /* A namespace pattern: everything under it, at any depth, any tag or digest. */
    {"glot/*", "glot/python", 1},
    {"glot/*", "glot/python:latest", 1},
    {"glot/*", "glot/a/b", 1},
    {"glot/*", "glot/a/b:t@sha256:" D64, 1},
    {"glot/*", "docker.io/glot/x", 1},
    {"glot/*", "index.docker.io/glot/x", 1},
    {"glot/*", "glot", 0},
    {"glot/*", "glotx/a", 0},
    {"glot/*", "glo/a", 0},
    {"glot/*", "python", 0},
    {"glot/*", "ghcr.io/glot/a", 0},
    {"glot/*", "localhost/glot/a", 0},
    {"runbox/*", "runbox/sh", 1},
    {"runbox/*", "runbox/python:3", 1},
    {"runbox/*", "runboxx/sh", 0},
    {"library/*", "python", 1},
    {"library/*", "busybox:1.36", 1},
    {"library/*", "glot/python", 0},
    {"docker.io/library/*", "python", 1},
    {"docker.io/*", "python", 1},
    {"docker.io/*", "glot/a/b", 1},
    {"docker.io/*", "ghcr.io/a", 0},
    {"index.docker.io/*", "glot/a", 1},
    {"docker.io/glot/*", "glot/a", 1},
    {"ghcr.io/*", "ghcr.io/org/img", 1},
    {"ghcr.io/*", "ghcr.io/img", 1},
    {"ghcr.io/org/*", "ghcr.io/org/img:1", 1},
    {"ghcr.io/org/*", "ghcr.io/org2/img", 0},
    {"ghcr.io/org/*", "ghcr.io/org", 0},
    {"ghcr.io/org/*", "ghcr.io.evil.com/org/img", 0},
    {"ghcr.io/org/*", "org/img", 0},
    {"localhost:5000/*", "localhost:5000/a/b", 1},
    {"localhost:5000/*", "localhost:50000/a", 0},
    {"localhost/*", "localhost/a", 1},
    {"localhost/*", "localhost", 0},
    {"a.b/*", "a.b/c", 1},
    /* Nothing matches what is not valid. */
    {"runbox/sh", "runbox/sh:", 0},
    {"runbox/*", "runbox/*", 0},
    {"runbox/*", "runbox/../x", 0},
    {"*", "python", 0},
    {"runbox*", "runbox", 0},
};

static const char *const bad_patterns[] = {
    "*", "/*", "a*", "a/b*", "*/a", "a/*/b", "a/**", "a@sha256:" D64 "/*", "A/*",
    "a//*", "a/*:1", "a/*@sha256:" D64, "", "a/", "a:b:c", "host:port/*",
};

static const char *const good_patterns[] = {
    "a/*", "a/b/*", "docker.io/*", "ghcr.io/org/*", "localhost:5000/*", "localhost/*",
    "python", "python:3", "python@sha256:" D64, "a.b/*", "a:1/*",
};

static void test_allowlist(void)
{
	size_t i;

	for (i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++)
		CHECKF(imageref_allowed(allow_cases[i].pattern, allow_cases[i].image) == allow_cases[i].allowed,
		       "\"%s\" allows \"%s\": expected %d", allow_cases[i].pattern, allow_cases[i].image,
		       allow_cases[i].allowed);
	for (i = 0; i < sizeof(bad_patterns) / sizeof(bad_patterns[0]); i++)
		CHECKF(imageref_pattern_valid(bad_patterns[i]) == 0, "bad pattern \"%s\"", bad_patterns[i]);
	for (i = 0; i < sizeof(good_patterns) / sizeof(good_patterns[0]); i++)
		CHECKF(imageref_pattern_valid(good_patterns[i]) == 1, "pattern \"%s\"", good_patterns[i]);

	/* A list: no entries allow anything; else any entry. */
	static const char list[3][CONFIG_MAX_STR] = {"runbox/*", "python:3", "glot/go"};

	CHECK(imageref_list_allows(list, 0, "anything/at:all") == 1);
	CHECK(imageref_list_allows(list, 3, "runbox/c") == 1);
	CHECK(imageref_list_allows(list, 3, "python:3") == 1);
	CHECK(imageref_list_allows(list, 3, "glot/go:1") == 1);
	CHECK(imageref_list_allows(list, 3, "python") == 0);
	CHECK(imageref_list_allows(list, 3, "glot/python") == 0);
	CHECK(imageref_list_allows(list, 2, "glot/go") == 0);

	/* The longest names still compare (the repository grows by "docker.io/library/"). */
	char longest[DOCKER_MAX_IMAGE_REF + 1];

	memset(longest, 'a', DOCKER_MAX_IMAGE_REF);
	longest[DOCKER_MAX_IMAGE_REF] = '\0';
	CHECK(imageref_allowed(longest, longest) == 1);
	CHECK(imageref_allowed("library/*", longest) == 1);
	longest[DOCKER_MAX_IMAGE_REF - 2] = '/';
	longest[DOCKER_MAX_IMAGE_REF - 1] = '*';
	CHECK(imageref_pattern_valid(longest) == 1);
}

int main(void)
{
	test_image_ref();
	test_allowlist();
	return check_done("test_imageref");
}
