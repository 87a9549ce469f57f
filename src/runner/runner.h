/*
 * runbox-runner: the in-image side of docker-run's contract (see
 * docker-run-api.md, "The runner contract").  One JSON payload on stdin,
 * files written under the work directory, build and run commands through
 * /bin/sh -c, one JSON object on stdout.
 *
 * Every function here returns 0 / -1 and, on -1, a message in err; none
 * prints or exits except main().
 */
#ifndef RUNBOXD_RUNNER_H
#define RUNBOXD_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"

#define RUNNER_ERR_MAX 512 /* size of every err buffer */

/* A byte string from the payload: may hold NUL, always NUL-terminated too. */
struct runner_bytes {
	char *p;
	size_t len;
};

struct runner_file {
	struct runner_bytes name, content;
};

struct runner_payload {
	bool v2;        /* runInstructions given */
	char *language; /* v1 */
	char *command;  /* v1, NULL or "" when absent */
	char **build;   /* v2 buildCommands */
	size_t nbuild;
	char *run; /* v2 runCommand */
	struct runner_file *files;
	size_t nfiles;
	struct runner_bytes stdin_data;
	bool stream; /* FRAME_STREAM_MEMBER is true or 1: records of the run's output first */
};

/* payload.c: parse and check the types of a payload (v1 or v2). */
int runner_payload_parse(const char *js, size_t len, struct runner_payload *p, char *err,
                         size_t errsz);
void runner_payload_free(struct runner_payload *p);

/* files.c: write one file under dirfd, refusing any escape (see files.c). */
int runner_file_write(int dirfd, const struct runner_bytes *name,
                      const struct runner_bytes *content, char *err, size_t errsz);
int runner_files_write(int dirfd, const struct runner_payload *p, char *err, size_t errsz);

/* lang.c: the shell commands to run. */
struct runner_plan {
	char **build;
	size_t nbuild;
	char *run;
};
int runner_plan_make(const struct runner_payload *p, struct runner_plan *plan, char *err,
                     size_t errsz);
void runner_plan_free(struct runner_plan *plan);
/* The first of names[] (NULL-terminated) found as an executable in $PATH, or NULL. */
const char *runner_path_pick(const char *const *names);

/* exec.c: run one command and capture its output. */
struct runner_capture {
	char *p;
	size_t len, cap;
	size_t dropped; /* bytes read past RUNNER_MAX_STREAM and discarded */
};

struct runner_result {
	struct runner_capture out, err;
	bool exited; /* else killed by a signal (or never ran) */
	int code;    /* exit status when exited */
	int sig;     /* signal number when killed */
	uint64_t ns; /* wall time of the command */
};

/*
 * Runs /bin/sh -c cmd in dirfd with in[0..inlen) on its stdin.  When
 * records >= 0, every piece of output kept is also written there at once
 * as a record (frame.h, FRAME_STREAM_MEMBER); a failed write ends that,
 * not the run.  Returns 0, -1 with err set, or RUNNER_NOPROC with err set
 * when the fork was refused for lack of processes (EAGAIN).
 */
#define RUNNER_NOPROC (-2)
int runner_exec(int dirfd, const char *cmd, const char *in, size_t inlen, int records,
                struct runner_result *r, char *err, size_t errsz);
void runner_result_free(struct runner_result *r);

/* output.c: the reply object. */
/* error: "" on success, else the text for the error member. */
void runner_error_text(const struct runner_result *r, char *out, size_t outsz);
/* A signal's name, "SIGKILL"; "SIG<n>" for one without a name. */
void runner_signal_name(int sig, char *out, size_t outsz);
/*
 * r may be NULL (nothing ran: empty streams, null exitCode and signal).
 * When flush is not NULL it is called whenever b holds a piece's worth, to
 * write b out and empty it: the reply never sits whole in memory.
 */
typedef void (*runner_flush_fn)(struct jbuf *b);
void runner_output(struct jbuf *b, const struct runner_result *r, const char *error,
		   runner_flush_fn flush);

/* home.c: the default work directory. */
int runner_home(char *out, size_t outsz, char *err, size_t errsz);
/* The home field of uid in a passwd file's text, for runner_home and tests. */
int runner_passwd_home(const char *text, size_t len, uid_t uid, char *out, size_t outsz);

#endif
