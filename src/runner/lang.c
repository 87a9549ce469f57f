/*
 * From a payload to shell commands.  v2 gives them; v1 gives a language,
 * looked up in the table below (glot's runner's table, docker-run-api.md),
 * or a command of its own, which then replaces both build and run.
 *
 * The first file is MAIN; OTHERS are the other files whose name ends with
 * the language's extension.  Every file name is shell-quoted.
 *
 *   language    build                                  run
 *   bash        -                                      bash MAIN
 *   sh          -                                      sh MAIN
 *   python      -                                      python MAIN (python3 if no python)
 *   c           CC -o a.out MAIN OTHERS.c -lm          ./a.out
 *   cpp         CXX -std=c++11 -o a.out MAIN OTHERS.cpp ./a.out
 *   javascript  -                                      node MAIN
 *   ruby        -                                      ruby MAIN
 *   perl        -                                      perl MAIN
 *   php         -                                      php MAIN
 *   lua         -                                      lua MAIN
 *   go          go build -o a.out MAIN                 ./a.out
 *   rust        rustc -o a.out MAIN                    ./a.out
 *   java        javac MAIN                             java <MAIN's stem, first letter upper-cased>
 *
 * CC is the first of clang, gcc, cc found in $PATH; CXX the first of
 * clang++, g++, c++: images need not ship clang.  -lm comes after the
 * sources (glot puts it first), because a linker that honours --as-needed
 * drops a library named before the objects that need it.  A language whose
 * tool the image lacks fails with an error naming the tool, before any
 * command runs.  Run commands start with `exec`, so that the program is
 * the shell's process itself and a death by a signal is seen as one (a
 * shell would turn it into exit code 128+N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

#define LANG_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define LANG_MAX_TOOLS 4

struct lang {
	const char *name;
	const char *tools[LANG_MAX_TOOLS]; /* the first found in $PATH is TOOL */
	const char *ext;                   /* OTHERS, or NULL */
	const char *build;                 /* before MAIN: "TOOL <build> MAIN OTHERS <tail>" */
	const char *tail;
	const char *run; /* NULL: "TOOL MAIN" */
};

static const struct lang lang_table[] = {
    {"bash", {"bash"}, NULL, NULL, NULL, NULL},
    {"sh", {"sh"}, NULL, NULL, NULL, NULL},
    {"python", {"python", "python3"}, NULL, NULL, NULL, NULL},
    {"c", {"clang", "gcc", "cc"}, ".c", "-o a.out", "-lm", "./a.out"},
    {"cpp", {"clang++", "g++", "c++"}, ".cpp", "-std=c++11 -o a.out", "", "./a.out"},
    {"javascript", {"node"}, NULL, NULL, NULL, NULL},
    {"ruby", {"ruby"}, NULL, NULL, NULL, NULL},
    {"perl", {"perl"}, NULL, NULL, NULL, NULL},
    {"php", {"php"}, NULL, NULL, NULL, NULL},
    {"lua", {"lua"}, NULL, NULL, NULL, NULL},
    {"go", {"go"}, NULL, "build -o a.out", "", "./a.out"},
    {"rust", {"rustc"}, NULL, "-o a.out", "", "./a.out"},
    {"java", {"javac"}, NULL, "", "", NULL},
};

static bool lang_executable(const char *dir, size_t dlen, const char *name)
{
	char path[4096];
	struct stat st;
	int n;

	n = snprintf(path, sizeof(path), "%.*s/%s", (int)dlen, dlen ? dir : ".", name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *runner_path_pick(const char *const *names)
{
	const char *path = getenv("PATH"), *dir, *colon;
	size_t k;

	if (path == NULL || path[0] == '\0')
		path = LANG_DEFAULT_PATH;
	for (k = 0; k < LANG_MAX_TOOLS && names[k] != NULL; k++) {
		for (dir = path;; dir = colon + 1) {
			colon = strchr(dir, ':');
			if (lang_executable(dir, colon ? (size_t)(colon - dir) : strlen(dir),
			                    names[k]))
				return names[k];
			if (colon == NULL)
				break;
		}
	}
	return NULL;
}

/* s as one single-quoted shell word. */
static void lang_quote(struct jbuf *b, const char *s)
{
	const char *q;

	jbuf_lit(b, "'");
	while ((q = strchr(s, '\'')) != NULL) {
		jbuf_raw(b, s, (size_t)(q - s));
		jbuf_lit(b, "'\\''");
		s = q + 1;
	}
	jbuf_lit(b, s);
	jbuf_lit(b, "'");
}

static bool lang_has_ext(const struct runner_bytes *name, const char *ext)
{
	size_t n = strlen(ext);

	return name->len > n && memcmp(name->p + name->len - n, ext, n) == 0;
}

/* Finishes b as a C string; NULL if it could not grow. */
static char *lang_take(struct jbuf *b)
{
	jbuf_raw(b, "", 1);
	if (b->overflow) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

static char *lang_build(const struct lang *l, const char *tool, const struct runner_payload *p)
{
	struct jbuf b;
	size_t i;

	jbuf_init_grow(&b);
	jbuf_lit(&b, tool);
	jbuf_lit(&b, *l->build ? " " : "");
	jbuf_lit(&b, l->build);
	jbuf_lit(&b, " ");
	lang_quote(&b, p->files[0].name.p);
	for (i = 1; l->ext != NULL && i < p->nfiles; i++) {
		if (!lang_has_ext(&p->files[i].name, l->ext))
			continue;
		jbuf_lit(&b, " ");
		lang_quote(&b, p->files[i].name.p);
	}
	jbuf_lit(&b, *l->tail ? " " : "");
	jbuf_lit(&b, l->tail);
	return lang_take(&b);
}

/* java: the class is the main file's stem (no folder, no extension), capitalised. */
static char *lang_java_run(const char *main_name)
{
	const char *base = strrchr(main_name, '/'), *dot;
	struct jbuf b;
	char cls[RUNNER_MAX_NAME];
	size_t n;

	base = base ? base + 1 : main_name;
	dot = strrchr(base, '.');
	n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	memcpy(cls, base, n);
	cls[n] = '\0';
	if (cls[0] >= 'a' && cls[0] <= 'z')
		cls[0] = (char)(cls[0] - 'a' + 'A');
	jbuf_init_grow(&b);
	jbuf_lit(&b, "exec java ");
	lang_quote(&b, cls);
	return lang_take(&b);
}

static char *lang_run(const struct lang *l, const char *tool, const char *main_name)
{
	struct jbuf b;

	if (strcmp(l->name, "java") == 0)
		return lang_java_run(main_name);
	jbuf_init_grow(&b);
	jbuf_lit(&b, "exec ");
	if (l->run != NULL) {
		jbuf_lit(&b, l->run);
	} else {
		jbuf_lit(&b, tool);
		jbuf_lit(&b, " ");
		lang_quote(&b, main_name);
	}
	return lang_take(&b);
}

static const struct lang *lang_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(lang_table) / sizeof(lang_table[0]); i++)
		if (strcmp(lang_table[i].name, name) == 0)
			return &lang_table[i];
	return NULL;
}

static int lang_plan_v1(const struct runner_payload *p, struct runner_plan *plan, char *err,
                        size_t errsz)
{
	const struct lang *l = lang_find(p->language);
	const char *tool;

	if (l == NULL) {
		snprintf(err, errsz,
		         "Unknown language \"%.64s\" (known: bash sh python c cpp javascript ruby "
		         "perl php lua go rust java; or give a command)",
		         p->language);
		return -1;
	}
	if (p->nfiles == 0) {
		snprintf(err, errsz,
		         "Language %s needs at least one file (the first is the main file)",
		         l->name);
		return -1;
	}
	tool = runner_path_pick(l->tools);
	if (tool == NULL) {
		snprintf(err, errsz, "Language %s needs %s%s%s%s%s, which this image does not have",
		         l->name, l->tools[0], l->tools[1] ? " or " : "",
		         l->tools[1] ? l->tools[1] : "", l->tools[2] ? " or " : "",
		         l->tools[2] ? l->tools[2] : "");
		return -1;
	}
	if (l->build != NULL) {
		plan->build = calloc(1, sizeof(*plan->build));
		if (plan->build == NULL || (plan->build[0] = lang_build(l, tool, p)) == NULL)
			goto oom;
		plan->nbuild = 1;
	}
	plan->run = lang_run(l, tool, p->files[0].name.p);
	if (plan->run == NULL)
		goto oom;
	return 0;
oom:
	snprintf(err, errsz, "Out of memory");
	return -1;
}

static int lang_plan_v2(const struct runner_payload *p, struct runner_plan *plan)
{
	size_t i;

	plan->build = calloc(p->nbuild + 1, sizeof(*plan->build));
	if (plan->build == NULL)
		return -1;
	for (i = 0; i < p->nbuild; i++) {
		char *cmd = strdup(p->build[i]);

		if (cmd == NULL)
			return -1;
		plan->build[i] = cmd;
		plan->nbuild = i + 1;
	}
	plan->run = strdup(p->run);
	return plan->run != NULL ? 0 : -1;
}

int runner_plan_make(const struct runner_payload *p, struct runner_plan *plan, char *err,
                     size_t errsz)
{
	int rc;

	memset(plan, 0, sizeof(*plan));
	if (p->v2) {
		rc = lang_plan_v2(p, plan);
	} else if (p->command != NULL && p->command[0] != '\0') {
		plan->run = strdup(p->command);
		rc = plan->run != NULL ? 0 : -1;
	} else {
		rc = lang_plan_v1(p, plan, err, errsz);
		if (rc < 0)
			runner_plan_free(plan);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errsz, "Out of memory");
		runner_plan_free(plan);
	}
	return rc;
}

void runner_plan_free(struct runner_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->nbuild; i++)
		free(plan->build[i]);
	free(plan->build);
	free(plan->run);
	memset(plan, 0, sizeof(*plan));
}
