/*
 * runbox-runner without running programs: payload parsing, path safety of
 * the file writer, the language table, the reply's JSON, the home lookup.
 * (tests/unit/test_runner_exec.c runs programs.)
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "runner.h"

static char err[RUNNER_ERR_MAX];

static int parse(const char *js, struct runner_payload *p)
{
	return runner_payload_parse(js, strlen(js), p, err, sizeof(err));
}

static void test_payload_v1(void)
{
	struct runner_payload p;
	const char *js =
	    "{\"language\":\"python\",\"files\":[{\"name\":\"main.py\",\"content\":"
	    "\"print(1)\\n\"},{\"name\":\"d/x.py\",\"content\":\"a\\u0000b\\ud83d\\ude00\"}],"
	    "\"stdin\":\"in\\t\\\"\\\\\\/\\b\\f\\r\\n\\u00e9\",\"command\":\"python "
	    "main.py\",\"extra\":[1,{\"a\":2}]}";

	CHECKF(parse(js, &p) == 0, "%s", err);
	CHECK(!p.v2);
	CHECK(p.language && strcmp(p.language, "python") == 0);
	CHECK(p.command && strcmp(p.command, "python main.py") == 0);
	CHECK(p.nfiles == 2);
	CHECK(p.files[0].name.len == 7 && strcmp(p.files[0].name.p, "main.py") == 0);
	CHECK(p.files[0].content.len == 9 && memcmp(p.files[0].content.p, "print(1)\n", 9) == 0);
	CHECK(strcmp(p.files[1].name.p, "d/x.py") == 0);
	CHECK(p.files[1].content.len == 7 &&
	      memcmp(p.files[1].content.p, "a\0b\xF0\x9F\x98\x80", 7) == 0);
	CHECK(p.stdin_data.len == 12 &&
	      memcmp(p.stdin_data.p, "in\t\"\\/\b\f\r\n\xc3\xa9", 12) == 0);
	CHECK(p.run == NULL && p.nbuild == 0);
	runner_payload_free(&p);

	CHECKF(parse("{\"language\":\"c\",\"files\":[],\"stdin\":null,\"command\":null}", &p) == 0,
	       "%s", err);
	CHECK(p.nfiles == 0 && p.stdin_data.p == NULL && p.command == NULL);
	runner_payload_free(&p);
}

/* "runboxStream": true or 1 asks for records (frame.h); anything else does not. */
static void test_payload_stream(void)
{
	static const struct {
		const char *member;
		bool stream;
	} cases[] = {
		{"", false}, {",\"runboxStream\":1", true}, {",\"runboxStream\":true", true},
		{",\"runboxStream\":0", false}, {",\"runboxStream\":false", false},
		{",\"runboxStream\":\"1\"", false}, {",\"runboxStream\":10", false},
		{",\"runboxStream\":null", false}, {",\"runboxStream\":1,\"runboxStream\":0", false},
		{",\"runboxStream\":0,\"runboxStream\":1", true},
	};
	struct runner_payload p;
	char js[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(js, sizeof(js), "{\"language\":\"sh\",\"files\":[]%s}", cases[i].member);
		CHECKF(parse(js, &p) == 0, "%s: %s", js, err);
		CHECKF(p.stream == cases[i].stream, "%s: stream %d", js, p.stream);
		runner_payload_free(&p);
	}
}

static void test_payload_v2(void)
{
	struct runner_payload p;
	const char *js =
	    "{\"runInstructions\":{\"buildCommands\":[\"cc a.c\",\"echo \\\"x\\\"\"],"
	    "\"runCommand\":\"./a.out arg\"},\"files\":[{\"name\":\"a.c\",\"content\":\"\"}],"
	    "\"stdin\":\"\",\"language\":\"ignored\"}";

	CHECKF(parse(js, &p) == 0, "%s", err);
	CHECK(p.v2);
	CHECK(p.nbuild == 2 && strcmp(p.build[0], "cc a.c") == 0 &&
	      strcmp(p.build[1], "echo \"x\"") == 0);
	CHECK(p.run && strcmp(p.run, "./a.out arg") == 0);
	CHECK(p.nfiles == 1 && p.files[0].content.len == 0 && p.files[0].content.p != NULL);
	CHECK(p.stdin_data.len == 0);
	runner_payload_free(&p);

	CHECKF(
	    parse(
	        "{\"runInstructions\":{\"buildCommands\":null,\"runCommand\":\"x\"},\"files\":[]}",
	        &p) == 0,
	    "%s", err);
	CHECK(p.v2 && p.nbuild == 0 && strcmp(p.run, "x") == 0);
	runner_payload_free(&p);
	CHECKF(parse("{\"runInstructions\":{\"runCommand\":\"y\"},\"files\":[]}", &p) == 0, "%s",
	       err);
	CHECK(p.v2 && p.nbuild == 0 && strcmp(p.run, "y") == 0);
	runner_payload_free(&p);
}

static const struct {
	const char *js, *msg;
} payload_bad[] = {
    {"", "payload is not valid JSON"},
    {"{\"language\":\"c\",", "payload is not valid JSON"},
    {"{\"a\":1} x", "payload is not valid JSON"},
    {"[1]", "payload is not a JSON object"},
    {"\"s\"", "payload is not a JSON object"},
    {"{}", "payload has no files"},
    {"{\"language\":\"c\"}", "payload has no files"},
    {"{\"files\":[]}", "payload has neither language nor runInstructions"},
    {"{\"files\":[],\"language\":null}", "payload has neither language nor runInstructions"},
    {"{\"files\":{},\"language\":\"c\"}", "files must be an array"},
    {"{\"files\":[1],\"language\":\"c\"}", "files[0] must be an object"},
    {"{\"files\":[{\"name\":\"a\"}],\"language\":\"c\"}", "files[0] needs a name and a content"},
    {"{\"files\":[{\"name\":\"a\",\"content\":\"\"},{\"name\":1,\"content\":\"\"}],\"language\":"
     "\"c\"}",
     "files[1].name must be a string"},
    {"{\"files\":[{\"name\":\"a\",\"content\":[]}],\"language\":\"c\"}",
     "files[0].content must be a string"},
    {"{\"files\":[],\"language\":\"c\",\"stdin\":5}", "stdin must be a string"},
    {"{\"files\":[],\"language\":\"c\",\"command\":true}", "command must be a string"},
    {"{\"files\":[],\"language\":\"c\",\"command\":\"a\\u0000\"}",
     "command must not contain U+0000"},
    {"{\"files\":[],\"language\":7}", "language must be a string"},
    {"{\"files\":[],\"language\":\"c\\u0000\"}", "language must not contain U+0000"},
    {"{\"files\":[],\"runInstructions\":\"x\"}", "runInstructions must be an object"},
    {"{\"files\":[],\"runInstructions\":{}}", "runInstructions.runCommand is missing"},
    {"{\"files\":[],\"runInstructions\":{\"runCommand\":1}}",
     "runInstructions.runCommand must be a string"},
    {"{\"files\":[],\"runInstructions\":{\"runCommand\":\"x\",\"buildCommands\":\"cc\"}}",
     "runInstructions.buildCommands must be an array"},
    {"{\"files\":[],\"runInstructions\":{\"runCommand\":\"x\",\"buildCommands\":[\"a\",[]]}}",
     "runInstructions.buildCommands[1] must be a string"},
    {"{\"files\":[],\"language\":\"c\",\"stdin\":\"\\ud800\"}", "payload is not valid JSON"},
    {"{\"files\":[],\"language\":\"c\xff\"}", "payload is not valid JSON"},
};

static void test_payload_bad(void)
{
	struct runner_payload p;
	size_t i;

	for (i = 0; i < sizeof(payload_bad) / sizeof(payload_bad[0]); i++) {
		CHECKF(parse(payload_bad[i].js, &p) == -1, "case %zu accepted", i);
		CHECKF(strcmp(err, payload_bad[i].msg) == 0, "case %zu: got \"%s\"", i, err);
		CHECK(p.files == NULL && p.language == NULL && p.nfiles == 0);
	}
}

/* Every truncation of a valid payload is refused, in a buffer of exactly that size. */
static void test_payload_truncated(void)
{
	const char *js =
	    "{\"runInstructions\":{\"buildCommands\":[\"b\"],\"runCommand\":\"r\"},"
	    "\"files\":[{\"name\":\"a/b\",\"content\":\"x\\n\\u00e9\"}],\"stdin\":\"s\"}";
	struct runner_payload p;
	size_t n, len = strlen(js), refused = 0;
	char *copy;

	for (n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, js, n);
		refused += runner_payload_parse(copy, n, &p, err, sizeof(err)) == -1;
		free(copy);
	}
	CHECKF(refused == len, "%zu of %zu truncations refused", refused, len);
	CHECK(parse(js, &p) == 0);
	runner_payload_free(&p);
}

/* --- files --- */

static char workdir[64], outside[64];

static int open_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int write_file(int dfd, const char *name, size_t nlen, const char *content)
{
	struct runner_bytes n = {(char *)(uintptr_t)name, nlen};
	struct runner_bytes c = {(char *)(uintptr_t)content, strlen(content)};

	return runner_file_write(dfd, &n, &c, err, sizeof(err));
}

static int write_name(int dfd, const char *name)
{
	return write_file(dfd, name, strlen(name), "data");
}

static bool file_has(const char *dir, const char *name, const char *want)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

static bool exists(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static void test_files_ok(int dfd)
{
	struct stat st;
	char path[128];

	CHECKF(write_file(dfd, "a.txt", 5, "hello") == 0, "%s", err);
	CHECK(file_has(workdir, "a.txt", "hello"));
	CHECKF(write_file(dfd, "dir/sub/b.txt", 13, "b") == 0, "%s", err);
	CHECK(file_has(workdir, "dir/sub/b.txt", "b"));
	CHECKF(write_file(dfd, "dir/c.txt", 9, "") == 0, "%s", err);
	CHECK(file_has(workdir, "dir/c.txt", ""));
	CHECKF(write_file(dfd, "..a", 3, "dots") == 0, "%s", err); /* a name, not '..' */
	CHECK(file_has(workdir, "..a", "dots"));
	snprintf(path, sizeof(path), "%s/a.txt", workdir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
}

static const struct {
	const char *name;
	size_t len;
	const char *msg;
} files_bad[] = {
    {"", 0, "File name \"\" refused: empty name"},
    {"/etc/passwd", 11, "File name \"/etc/passwd\" refused: absolute names are not allowed"},
    {"..", 2, "File name \"..\" refused: '..' components are not allowed"},
    {"../x", 4, "File name \"../x\" refused: '..' components are not allowed"},
    {"a/../../x", 9, "File name \"a/../../x\" refused: '..' components are not allowed"},
    {"a/..", 4, "File name \"a/..\" refused: '..' components are not allowed"},
    {"a//b", 4, "File name \"a//b\" refused: empty path component"},
    {"a/", 2, "File name \"a/\" refused: empty path component"},
    {".", 1, "File name \".\" refused: '.' components are not allowed"},
    {"./a", 3, "File name \"./a\" refused: '.' components are not allowed"},
    {"a\0b", 3, NULL},
    {"a.txt", 5,
     "File name \"a.txt\" refused: a file, directory or link of that name already exists"},
    {"dir", 3, "File name \"dir\" refused: a file, directory or link of that name already exists"},
    {"a.txt/x", 7, "File name \"a.txt/x\" refused: a.txt is a symlink or not a directory"},
};

static void test_files_refused(int dfd)
{
	char longname[RUNNER_MAX_NAME + 8];
	size_t i;

	for (i = 0; i < sizeof(files_bad) / sizeof(files_bad[0]); i++) {
		CHECKF(write_file(dfd, files_bad[i].name, files_bad[i].len, "x") == -1, "case %zu",
		       i);
		if (files_bad[i].msg != NULL)
			CHECKF(strcmp(err, files_bad[i].msg) == 0, "case %zu: got \"%s\"", i, err);
		else
			CHECKF(strstr(err, "contains U+0000") != NULL, "case %zu: got \"%s\"", i,
			       err);
	}
	CHECK(file_has(workdir, "a.txt", "hello")); /* not overwritten */
	CHECK(!exists(workdir, "a"));
	memset(longname, 'n', sizeof(longname));
	CHECK(write_file(dfd, longname, RUNNER_MAX_NAME, "x") == -1);
	CHECK(strstr(err, "longer than 4095 bytes") != NULL);
}

/* Links planted in the work directory (the runner never makes one itself). */
static void test_files_symlinks(int dfd)
{
	char target[128];

	CHECK(symlink(outside, "link") == 0 || errno == EEXIST);
	CHECK(write_name(dfd, "link/x") == -1);
	CHECKF(strcmp(err, "File name \"link/x\" refused: link is a symlink or not a directory") ==
	           0,
	       "%s", err);
	CHECK(!exists(outside, "x"));
	CHECK(write_name(dfd, "link") == -1); /* a link is never written through */
	snprintf(target, sizeof(target), "%s/dangling", outside);
	CHECK(symlinkat(target, dfd, "dang") == 0);
	CHECK(write_name(dfd, "dang") == -1);
	CHECK(strstr(err, "already exists") != NULL);
	CHECK(!exists(outside, "dangling"));
	/* A link deeper down, below a folder a previous file created. */
	CHECK(symlinkat(outside, dfd, "dir/sub/l") == 0);
	CHECK(write_name(dfd, "dir/sub/l/y") == -1);
	CHECK(strstr(err, "l is a symlink or not a directory") != NULL);
	CHECK(!exists(outside, "y"));
	CHECK(symlinkat("../../..", dfd, "dir/up") == 0);
	CHECK(write_name(dfd, "dir/up/z") == -1);
	CHECK(!exists(outside, "z"));
}

/* Whole payloads: the second file tries to escape through what the first made. */
static void test_files_payload(int dfd)
{
	struct runner_payload p;

	CHECK(parse("{\"language\":\"sh\",\"files\":[{\"name\":\"p/f\",\"content\":\"1\"},"
	            "{\"name\":\"p/../../escape\",\"content\":\"2\"}]}",
	            &p) == 0);
	CHECK(runner_files_write(dfd, &p, err, sizeof(err)) == -1);
	CHECK(strcmp(err,
	             "File name \"p/../../escape\" refused: '..' components are not allowed") == 0);
	CHECK(file_has(workdir, "p/f", "1"));
	runner_payload_free(&p);
	CHECK(parse("{\"language\":\"sh\",\"files\":[{\"name\":\"q\",\"content\":\"1\"},"
	            "{\"name\":\"q/r\",\"content\":\"2\"}]}",
	            &p) == 0);
	CHECK(runner_files_write(dfd, &p, err, sizeof(err)) == -1);
	CHECK(strcmp(err, "File name \"q/r\" refused: q is a symlink or not a directory") == 0);
	runner_payload_free(&p);
	CHECK(parse("{\"language\":\"sh\",\"files\":[{\"name\":\"s\",\"content\":\"1\"},"
	            "{\"name\":\"s\",\"content\":\"2\"}]}",
	            &p) == 0);
	CHECK(runner_files_write(dfd, &p, err, sizeof(err)) == -1);
	CHECK(file_has(workdir, "s", "1"));
	runner_payload_free(&p);
	CHECK(parse("{\"language\":\"sh\",\"files\":[{\"name\":\"t/u/v\",\"content\":\"1\"},"
	            "{\"name\":\"t/w\",\"content\":\"2\"}]}",
	            &p) == 0);
	CHECKF(runner_files_write(dfd, &p, err, sizeof(err)) == 0, "%s", err);
	CHECK(file_has(workdir, "t/u/v", "1") && file_has(workdir, "t/w", "2"));
	runner_payload_free(&p);
}

static void test_files(void)
{
	char cmd[160];
	int dfd;

	snprintf(workdir, sizeof(workdir), "/tmp/test_runner.XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/test_runner_out.XXXXXX");
	if (mkdtemp(workdir) == NULL || mkdtemp(outside) == NULL) {
		CHECK(!"mkdtemp");
		return;
	}
	dfd = open_dir(workdir);
	CHECK(dfd >= 0 && chdir(workdir) == 0);
	test_files_ok(dfd);
	test_files_refused(dfd);
	test_files_symlinks(dfd);
	test_files_payload(dfd);
	close(dfd);
	CHECK(chdir("/") == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", workdir, outside);
	CHECK(system(cmd) == 0);
}

/* --- the language table --- */

static char bindir[64];

static void fake_tool(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", bindir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd >= 0);
	close(fd);
}

/* plan members may be NULL when a CHECK before failed */
static bool eq(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

static int plan_for(const char *js, struct runner_plan *plan)
{
	struct runner_payload p;
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (parse(js, &p) < 0)
		return -2;
	rc = runner_plan_make(&p, plan, err, sizeof(err));
	runner_payload_free(&p);
	return rc;
}

#define FILES_C                                                                                    \
	"\"files\":[{\"name\":\"main.c\",\"content\":\"\"},{\"name\":\"u.c\",\"content\":\"\"},"   \
	"{\"name\":\"n.txt\",\"content\":\"\"},{\"name\":\"it's.c\",\"content\":\"\"}]"

static void test_lang(void)
{
	struct runner_plan plan;
	char path[128];

	snprintf(bindir, sizeof(bindir), "/tmp/test_runner_bin.XXXXXX");
	CHECK(mkdtemp(bindir) != NULL);
	snprintf(path, sizeof(path), "/nonexistent:%s", bindir);
	setenv("PATH", path, 1);
	fake_tool("gcc");
	fake_tool("python3");
	fake_tool("javac");
	fake_tool("go");

	CHECKF(plan_for("{\"language\":\"c\"," FILES_C "}", &plan) == 0, "%s", err);
	CHECK(plan.nbuild == 1 &&
	      eq(plan.build[0], "gcc -o a.out 'main.c' 'u.c' 'it'\\''s.c' -lm"));
	CHECK(eq(plan.run, "exec ./a.out"));
	runner_plan_free(&plan);
	fake_tool("clang");
	CHECK(plan_for("{\"language\":\"c\"," FILES_C "}", &plan) == 0);
	CHECK(plan.nbuild == 1 && strncmp(plan.build[0], "clang -o a.out 'main.c'", 23) == 0);
	runner_plan_free(&plan);

	CHECK(plan_for("{\"language\":\"python\",\"files\":[{\"name\":\"m.py\",\"content\":\"\"}]}",
	               &plan) == 0);
	CHECK(plan.nbuild == 0 && eq(plan.run, "exec python3 'm.py'"));
	runner_plan_free(&plan);
	CHECK(
	    plan_for(
	        "{\"language\":\"java\",\"files\":[{\"name\":\"src/main.java\",\"content\":\"\"}]}",
	        &plan) == 0);
	CHECK(plan.nbuild == 1 && eq(plan.build[0], "javac 'src/main.java'"));
	CHECK(eq(plan.run, "exec java 'Main'"));
	runner_plan_free(&plan);
	CHECK(plan_for("{\"language\":\"go\",\"files\":[{\"name\":\"main.go\",\"content\":\"\"}]}",
	               &plan) == 0);
	CHECK(plan.nbuild == 1 && eq(plan.build[0], "go build -o a.out 'main.go'"));
	runner_plan_free(&plan);

	CHECK(plan_for("{\"language\":\"cpp\",\"files\":[{\"name\":\"a.cpp\",\"content\":\"\"}]}",
	               &plan) == -1);
	CHECKF(strcmp(err,
	              "Language cpp needs clang++ or g++ or c++, which this image does not have") ==
	           0,
	       "%s", err);
	CHECK(plan_for("{\"language\":\"bash\",\"files\":[{\"name\":\"a\",\"content\":\"\"}]}",
	               &plan) == -1);
	CHECK(strcmp(err, "Language bash needs bash, which this image does not have") == 0);
	CHECK(plan_for("{\"language\":\"cobol\",\"files\":[{\"name\":\"a\",\"content\":\"\"}]}",
	               &plan) == -1);
	CHECK(strncmp(err, "Unknown language \"cobol\" (known: bash sh python c cpp", 53) == 0);
	CHECK(plan_for("{\"language\":\"python\",\"files\":[]}", &plan) == -1);
	CHECK(strcmp(err, "Language python needs at least one file (the first is the main file)") ==
	      0);

	/* A v1 command replaces build and run, whatever the language. */
	CHECK(plan_for("{\"language\":\"cobol\",\"command\":\"echo 'x' y\",\"files\":[]}", &plan) ==
	      0);
	CHECK(plan.nbuild == 0 && eq(plan.run, "echo 'x' y"));
	runner_plan_free(&plan);
	CHECK(plan_for("{\"language\":\"python\",\"command\":\"\",\"files\":[{\"name\":\"m.py\","
	               "\"content\":\"\"}]}",
	               &plan) == 0);
	CHECK(eq(plan.run, "exec python3 'm.py'"));
	runner_plan_free(&plan);
	CHECK(plan_for("{\"runInstructions\":{\"buildCommands\":[\"a\",\"b\"],\"runCommand\":\"c\"}"
	               ",\"files\":[]}",
	               &plan) == 0);
	CHECK(plan.nbuild == 2 && eq(plan.build[1], "b") && eq(plan.run, "c"));
	runner_plan_free(&plan);

	{
		const char *const pick[] = {"nope", "python3", "gcc", NULL};
		const char *const none[] = {"nope", NULL};

		CHECK(runner_path_pick(pick) != NULL &&
		      strcmp(runner_path_pick(pick), "python3") == 0);
		CHECK(runner_path_pick(none) == NULL);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", bindir);
	setenv("PATH", "/usr/bin:/bin", 1);
	CHECK(system(path) == 0);
}

/* --- the reply --- */

static char *reply(const struct runner_result *r, const char *error)
{
	struct jbuf b;

	jbuf_init_grow(&b);
	runner_output(&b, r, error, NULL);
	jbuf_raw(&b, "", 1);
	CHECK(!b.overflow);
	CHECK(json_check(b.p, b.len - 1) == JSON_OBJECT);
	return b.p;
}

static void test_output(void)
{
	struct runner_result r = {0};
	char out[] = "a\x01\x1f\x7f\"\\\n\t\xF0\x9F\x98\x80\xff\xc0\x80\xe2\x82";
	char errs[] = "\xed\xa0\x80z\0y";
	char text[64];
	char *s;

	r.out.p = out;
	r.out.len = sizeof(out) - 1;
	r.err.p = errs;
	r.err.len = sizeof(errs) - 1;
	r.exited = true;
	r.code = 3;
	r.ns = 1234567890123ull;
	runner_error_text(&r, text, sizeof(text));
	CHECK(strcmp(text, "Exit code: 3") == 0);
	s = reply(&r, text);
	CHECKF(strcmp(s, "{\"stdout\":\"a\\u0001\\u001f\\u007f\\\"\\\\\\n\\t\xF0\x9F\x98\x80"
	                 "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\","
	                 "\"stderr\":\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\\u0000y\","
	                 "\"error\":\"Exit code: 3\",\"duration\":1234567890123,\"exitCode\":3,"
	                 "\"signal\":null}") == 0,
	       "%s", s);
	free(s);

	r.exited = false;
	r.code = 0;
	r.sig = 9;
	runner_error_text(&r, text, sizeof(text));
	CHECK(strcmp(text, "Signal: SIGKILL") == 0);
	r.out.len = r.err.len = 0;
	s = reply(&r, text);
	CHECKF(strstr(s,
	              "\"error\":\"Signal: SIGKILL\",\"duration\":1234567890123,\"exitCode\":null,"
	              "\"signal\":\"SIGKILL\"}") != NULL,
	       "%s", s);
	free(s);

	r.exited = true;
	r.sig = 0;
	runner_error_text(&r, text, sizeof(text));
	CHECK(strcmp(text, "") == 0);
	s = reply(NULL, "File name \"x\" refused");
	CHECK(strcmp(s,
	             "{\"stdout\":\"\",\"stderr\":\"\",\"error\":\"File name \\\"x\\\" refused\","
	             "\"duration\":0,\"exitCode\":null,\"signal\":null}") == 0);
	free(s);
	runner_signal_name(15, text, sizeof(text));
	CHECK(strcmp(text, "SIGTERM") == 0);
	runner_signal_name(200, text, sizeof(text));
	CHECK(strcmp(text, "SIG200") == 0);
}

/* --- home --- */

/* Collects what the runner flushes, as main writes it to fd 1. */
static struct jbuf flushed;

static void collect(struct jbuf *b)
{
	jbuf_raw(&flushed, b->p, b->len);
	b->len = 0;
}

/*
 * A reply far over one piece, with multi-byte characters and invalid bytes
 * at every piece boundary, streams out byte for byte as the one-piece
 * escaping of the whole, and never holds much more than a piece.
 */
static void test_output_pieces(void)
{
	static const char unit[] = "\xc3\xa9\xf0\x9f\x98\x80\x80\x01\"x\xe2\x82";
	size_t n = 5 * RUNNER_OUTPUT_PIECE + 7, i;
	struct runner_result r;
	struct jbuf whole, b;
	char *out = malloc(n);

	CHECK(out != NULL);
	if (out == NULL)
		return;
	for (i = 0; i < n; i++)
		out[i] = unit[i % (sizeof(unit) - 1)];
	memset(&r, 0, sizeof(r));
	r.out.p = out;
	r.out.len = n;
	r.exited = true;
	jbuf_init_grow(&whole);
	jbuf_lit(&whole, "{\"stdout\":");
	jbuf_str(&whole, out, n);
	jbuf_init_grow(&flushed);
	jbuf_init_grow(&b);
	runner_output(&b, &r, "", collect);
	collect(&b);
	CHECK(!flushed.overflow && !b.overflow);
	CHECK(flushed.len > whole.len && memcmp(flushed.p, whole.p, whole.len) == 0);
	CHECK(json_check(flushed.p, flushed.len) == JSON_OBJECT);
	CHECKF(b.cap <= 8 * RUNNER_OUTPUT_PIECE, "buffer grew to %zu", b.cap);
	free(whole.p);
	free(flushed.p);
	free(b.p);
	free(out);
}

static void test_home(void)
{
	const char *pw =
	    "# comment\nroot:x:0:0:root:/root:/bin/sh\nbad:line\n"
	    "short:x:1000\nrunbox:x:1000:1000:runbox:/home/runbox:/bin/sh\n"
	    "empty:x:1001:1001::\nnoshell:x:1002:1002::/home/ns\nuidx:x:12a:1::/x:/bin/sh";
	struct passwd *me = getpwuid(getuid());
	char out[64], tiny[8];

	CHECK(runner_passwd_home(pw, strlen(pw), 1000, out, sizeof(out)) == 0 &&
	      strcmp(out, "/home/runbox") == 0);
	CHECK(runner_passwd_home(pw, strlen(pw), 0, out, sizeof(out)) == 0 &&
	      strcmp(out, "/root") == 0);
	CHECK(runner_passwd_home(pw, strlen(pw), 1002, out, sizeof(out)) == 0 &&
	      strcmp(out, "/home/ns") == 0);
	CHECK(runner_passwd_home(pw, strlen(pw), 1001, out, sizeof(out)) == -1);
	CHECK(runner_passwd_home(pw, strlen(pw), 12, out, sizeof(out)) == -1);
	CHECK(runner_passwd_home(pw, strlen(pw), 4242, out, sizeof(out)) == -1);
	CHECK(runner_passwd_home(pw, strlen(pw), 1000, tiny, sizeof(tiny)) == -1);
	CHECK(runner_passwd_home(pw, 20, 1000, out, sizeof(out)) == -1); /* cut before it */

	setenv("HOME", "/some/where", 1);
	CHECK(runner_home(out, sizeof(out), err, sizeof(err)) == 0 &&
	      strcmp(out, "/some/where") == 0);
	unsetenv("HOME");
	if (me != NULL)
		CHECKF(runner_home(out, sizeof(out), err, sizeof(err)) == 0 &&
		           strcmp(out, me->pw_dir) == 0,
		       "%s vs %s", out, me->pw_dir);
}

int main(void)
{
	test_payload_v1();
	test_payload_v2();
	test_payload_stream();
	test_payload_bad();
	test_payload_truncated();
	test_files();
	test_lang();
	test_output();
	test_output_pieces();
	test_home();
	return check_done("test_runner");
}
