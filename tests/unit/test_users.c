/*
 * users.c against account files written here: the first entry wins, no
 * prefix matches, comments and broken lines are skipped, groups come in
 * getgrouplist's order without repeats, entries longer than the first
 * buffer are read whole, and too many groups or a missing file are errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "users.h"

static char dir[] = "/tmp/test_users.XXXXXX";

/* Write text to dir/name and return the path (static buffer per call site is enough). */
static const char *put(const char *name, const char *text, char *path, size_t sz)
{
	FILE *f;

	snprintf(path, sz, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		return path;
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_passwd(void)
{
	char p[256];
	uid_t uid = 0;
	gid_t gid = 0;
	const char *pw = put("passwd",
			     "root:x:0:0:root:/root:/bin/bash\n"
			     "# a comment line\n"
			     "broken line without fields\n"
			     "runboxd:x:999:995::/nonexistent:/usr/sbin/nologin\n"
			     "runboxd-front:x:995:994::/nonexistent:/usr/sbin/nologin\n"
			     "runboxd:x:1234:1234::/x:/bin/sh\n"
			     "\n"
			     "last:x:42:43::/:/bin/false",
			     p, sizeof(p));

	CHECK(users_passwd(pw, "runboxd", &uid, &gid) == 0 && uid == 999 && gid == 995);
	CHECK(users_passwd(pw, "runboxd-front", &uid, &gid) == 0 && uid == 995 && gid == 994);
	CHECK(users_passwd(pw, "root", &uid, &gid) == 0 && uid == 0 && gid == 0);
	/* No final newline: still an entry. */
	CHECK(users_passwd(pw, "last", &uid, &gid) == 0 && uid == 42 && gid == 43);
	/* Prefixes, suffixes and the comment are not users. */
	CHECK(users_passwd(pw, "runbox", &uid, &gid) == 1);
	CHECK(users_passwd(pw, "runboxd-fron", &uid, &gid) == 1);
	CHECK(users_passwd(pw, "runboxd-front2", &uid, &gid) == 1);
	CHECK(users_passwd(pw, "# a comment line", &uid, &gid) == 1);
	CHECK(users_passwd(pw, "", &uid, &gid) == 1);
	errno = 0;
	CHECK(users_passwd("/nonexistent/passwd", "root", &uid, &gid) == -1 && errno == ENOENT);
}

static void test_groups(void)
{
	char p[256];
	gid_t g[8];
	int n;
	const char *gr = put("group",
			     "root:x:0:\n"
			     "docker:x:105:runboxd,alice\n"
			     "# docker2:x:106:runboxd\n"
			     "runboxd:x:995:runboxd\n"
			     "runboxd-front:x:994:\n"
			     "adm:x:4:alice,runboxd-front,bob\n"
			     "dup:x:105:runboxd\n"
			     "other:x:700:runboxdx,xrunboxd,runbox\n"
			     "many:x:701:runboxd",
			     p, sizeof(p));
	char name[64];

	/* Primary first, then file order, each gid once (995 and 105 repeat). */
	n = 8;
	CHECK(users_groups(gr, "runboxd", 995, g, &n) == 0);
	CHECKF(n == 3 && g[0] == 995 && g[1] == 105 && g[2] == 701, "n=%d", n);
	n = 8;
	CHECK(users_groups(gr, "runboxd-front", 994, g, &n) == 0 && n == 2 && g[0] == 994 && g[1] == 4);
	n = 8;
	CHECK(users_groups(gr, "nobody-here", 65534, g, &n) == 0 && n == 1 && g[0] == 65534);
	/* Not enough room: 1, and *n is at least the count needed. */
	n = 2;
	CHECK(users_groups(gr, "runboxd", 995, g, &n) == 1 && n == 3);
	n = 0;
	CHECK(users_groups(gr, "runboxd", 995, g, &n) == 1 && n >= 3);
	errno = 0;
	n = 8;
	CHECK(users_groups("/nonexistent/group", "runboxd", 995, g, &n) == -1 && errno == ENOENT);

	CHECK(users_group_name(gr, 105, name, sizeof(name)) == 0 && strcmp(name, "docker") == 0);
	CHECK(users_group_name(gr, 994, name, sizeof(name)) == 0 && strcmp(name, "runboxd-front") == 0);
	CHECK(users_group_name(gr, 701, name, sizeof(name)) == 0 && strcmp(name, "many") == 0);
	CHECK(users_group_name(gr, 12345, name, sizeof(name)) == 1);
	CHECK(users_group_name(gr, 105, name, 6) == 1); /* "docker" needs 7 */
	CHECK(users_group_name(gr, 105, name, 7) == 0 && strcmp(name, "docker") == 0);
}

/* A group line of 60 kB (thousands of members) is read whole, past the first buffer. */
static void test_long_lines(void)
{
	char p[256];
	size_t cap = 200000, len = 0;
	char *text = malloc(cap);
	gid_t g[4];
	int n = 4;
	uid_t uid;
	gid_t gid;

	CHECK(text != NULL);
	if (text == NULL)
		return;
	len += (size_t)snprintf(text + len, cap - len, "big:x:800:");
	for (int i = 0; i < 6000; i++)
		len += (size_t)snprintf(text + len, cap - len, "%suser%04d", i ? "," : "", i);
	len += (size_t)snprintf(text + len, cap - len, ",target\nsmall:x:801:target\n");
	CHECK(users_groups(put("group-long", text, p, sizeof(p)), "target", 10, g, &n) == 0);
	CHECKF(n == 3 && g[0] == 10 && g[1] == 800 && g[2] == 801, "n=%d", n);
	n = 4;
	CHECK(users_groups(p, "user5999", 10, g, &n) == 0 && n == 2 && g[1] == 800);

	len = (size_t)snprintf(text, cap, "longgecos:x:7:8:");
	memset(text + len, 'g', 100000);
	len += 100000;
	snprintf(text + len, cap - len, ":/:/bin/sh\nafter:x:9:10::/:/bin/sh\n");
	CHECK(users_passwd(put("passwd-long", text, p, sizeof(p)), "longgecos", &uid, &gid) == 0 && uid == 7 &&
	      gid == 8);
	CHECK(users_passwd(p, "after", &uid, &gid) == 0 && uid == 9 && gid == 10);
	free(text);
}

int main(void)
{
	char p[256];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_passwd();
	test_groups();
	test_long_lines();
	const char *files[] = {"passwd", "group", "group-long", "passwd-long"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
	return check_done("test_users");
}
