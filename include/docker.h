/*
 * Docker Engine API calls over dhttp (HTTP/1.1 on the unix socket, one
 * connection per call, every read and write under the configured
 * timeouts).  Never prints, never exits: returns a DOCKER_E* code and,
 * where Docker explained itself, its message.
 */
#ifndef RUNBOXD_DOCKER_H
#define RUNBOXD_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "config.h"
#include "dhttp.h"
#include "json.h"

enum docker_err {
	DOCKER_OK = DHTTP_OK,
	DOCKER_ECONNECT = DHTTP_ECONNECT, /* socket missing / refused / permission */
	DOCKER_EIO = DHTTP_EIO,           /* write or read failed, or timed out */
	DOCKER_EPROTO = DHTTP_EPROTO,     /* reply is not HTTP, bad framing, bad JSON, too big */
	DOCKER_ESTATUS = -4,              /* Docker answered with an error status */
	DOCKER_EVERSION = -5,             /* no API version both Docker and runboxd speak */
};

/*
 * api is the API version in use, "" until negotiated: the first call
 * negotiates, and so does the first after a call that could not reach the
 * daemon (it may have restarted as another version) or that the daemon
 * refused for its version (that call is then retried once).
 */
struct docker_ctx {
	const char *socket_path;
	int read_timeout_ms;
	int write_timeout_ms;
	char api[DOCKER_MAX_API_VERSION];
};

/* Outcome of a call that failed: HTTP status (0 if none) and Docker's "message". */
struct docker_error {
	int status;
	char message[DOCKER_MAX_MESSAGE];
};

/*
 * Ask the daemon (unversioned GET /version) for its ApiVersion and
 * MinAPIVersion and set ctx->api to the newest version both speak, capped
 * at DOCKER_API_NEWEST.  DOCKER_EVERSION, with both ranges in the message,
 * when the daemon's minimum is above DOCKER_API_NEWEST or its maximum
 * below DOCKER_API_OLDEST.
 */
int docker_negotiate(struct docker_ctx *ctx, struct docker_error *err);

/* The choice of docker_negotiate from a /version reply (pure; for tests). */
int docker_api_pick(const char *js, size_t len, char *api, size_t apisz, struct docker_error *err);

/*
 * GET /version, answered as docker-run does, plus the API version in use:
 * {"docker":{"version","apiVersion","gitCommit","goVersion","os","arch",
 * "kernelVersion","buildTime","platform":{"name"},"components":[{"name","version"}]},
 * "runboxd":{"apiVersion"}}
 */
int docker_version(struct docker_ctx *ctx, struct jbuf *out, struct docker_error *err);

/*
 * Unversioned GET /_ping with every read and write bounded by timeout_ms
 * (or the context's timeouts, if shorter): DOCKER_OK when Docker answers 200.
 */
int docker_ping(const struct docker_ctx *ctx, int timeout_ms, struct docker_error *err);

/* Turn Docker's /version reply into the object above (pure; for tests); api NULL leaves "runboxd" out. */
int docker_version_translate(const char *js, size_t len, const char *api, struct jbuf *out);

/* Labels put on every container. */
#define DOCKER_LABEL_INSTANCE "io.runboxd.instance"
#define DOCKER_LABEL_SLOT "io.runboxd.slot"

/*
 * The /containers/create body for image under configuration c (pure; for
 * tests): Hostname, User, Attach*, Tty=false, OpenStdin, StdinOnce, Image,
 * NetworkDisabled, Labels, and HostConfig (Memory, MemorySwap, Privileged,
 * CapAdd, CapDrop, Ulimits, ReadonlyRootfs, Tmpfs, PidsLimit, NanoCpus,
 * SecurityOpt no-new-privileges, LogConfig, NetworkMode (the configured
 * network, or none when the network is disabled), Dns, DnsSearch, Mounts,
 * MemoryReservation, Runtime), and WorkingDir when configured.  Returns its length or -1 if outsz is too small.
 */
int docker_create_body(const struct config *c, const char *image, const char *instance,
		       unsigned slot, char *out, size_t outsz);

/*
 * The same with argv (NULL-terminated) as the container's whole command:
 * "Entrypoint": argv, "Cmd": [].  argv NULL: the image's own command.
 */
int docker_create_body_cmd(const struct config *c, const char *image, const char *const *argv,
			   const char *instance, unsigned slot, char *out, size_t outsz);

/* POST /containers/create; the new id in id[DOCKER_MAX_ID]. */
int docker_container_create(struct docker_ctx *ctx, const struct config *c,
			    const char *image, const char *instance, unsigned slot, char *id,
			    struct docker_error *err);
int docker_container_create_cmd(struct docker_ctx *ctx, const struct config *c, const char *image,
				const char *const *argv, const char *instance, unsigned slot,
				char *id, struct docker_error *err);
int docker_container_start(struct docker_ctx *ctx, const char *id, struct docker_error *err);

/* POST /containers/{id}/kill (SIGKILL); one that is not running counts as success. */
int docker_container_kill(struct docker_ctx *ctx, const char *id, struct docker_error *err);

/*
 * How container id ended: waits until Docker has recorded its exit
 * (wait?condition=not-running), then reads State.ExitCode and OOMKilled.
 */
int docker_container_exit(struct docker_ctx *ctx, const char *id, int *code, bool *killed,
			  struct docker_error *err);

/*
 * POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 with
 * Upgrade: tcp.  On success *fd is the hijacked stream (blocking) and any
 * stream bytes that arrived with the reply head are copied to
 * early[0..*early_len) (early has early_sz bytes).
 */
int docker_container_attach(struct docker_ctx *ctx, const char *id, int *fd, char *early,
			    size_t early_sz, size_t *early_len, struct docker_error *err);

/*
 * Did the memory limit kill container id?  Waits until Docker has recorded
 * its exit (wait?condition=not-running), then reads State.OOMKilled.
 */
int docker_container_oom_killed(struct docker_ctx *ctx, const char *id, bool *killed,
				struct docker_error *err);

/*
 * Split an image reference into /images/create's fromImage (name with its
 * registry) and tag (the tag, the digest, or "latest").  -1 if it does not fit.
 */
int docker_image_split(const char *image, char *name, size_t namesz, char *tag, size_t tagsz);

/*
 * Docker's pull progress: newline-separated JSON objects, one of which
 * may carry "error" (or "errorDetail") even though the status was 200.
 * A parser that does no I/O: feed it the body as it arrives.
 */
struct docker_pull {
	char line[PULL_MAX_LINE];
	size_t len;        /* bytes of an unfinished object in line */
	unsigned objects;  /* objects seen */
	bool failed;       /* an object carried an error ... */
	bool bad;          /* ... or something was not an object, or too long */
	char message[DOCKER_MAX_MESSAGE]; /* the first error's text */
};

void docker_pull_init(struct docker_pull *p);
/* Take n more bytes; -1 once the stream is malformed. */
int docker_pull_feed(struct docker_pull *p, const char *buf, size_t n);
/* The stream ended: judge what is left; -1 if malformed. */
int docker_pull_end(struct docker_pull *p);

/*
 * POST /images/create?fromImage=&tag=[&platform=], the progress read to
 * its end within timeout_ms (prog is the caller's, for its size).
 * DOCKER_ESTATUS with Docker's message for a refusal (err->status: 404
 * for an image the registry does not have) or an error in the stream
 * (err->status 200).
 */
int docker_image_pull(struct docker_ctx *ctx, const char *image, const char *platform,
		      int timeout_ms, struct docker_pull *prog, struct docker_error *err);

/* The exec create body: /bin/sh -c command as user, output attached (pure; for tests). */
int docker_exec_body(const char *user, const char *command, char *out, size_t outsz);

/*
 * Run /bin/sh -c command as user in container id and wait for its end
 * (within the read timeout): its exit code, and the start of its output
 * (stdout and stderr, control bytes scrubbed) in output[outsz].
 */
int docker_container_exec(struct docker_ctx *ctx, const char *id, const char *user,
			  const char *command, int *exit_code, char *output, size_t outsz,
			  struct docker_error *err);

/* DELETE /containers/{id}?v=1&force=1.  404 counts as success. */
int docker_container_remove(struct docker_ctx *ctx, const char *id, struct docker_error *err);

/*
 * Ids of all containers (running or not) carrying label instance=value and,
 * if slot >= 0, slot=<slot>.  Calls fn for each with its slot label and
 * creation time (unix seconds, -1 if Docker gave none); returns the count
 * or < 0.
 */
int docker_containers_labelled(struct docker_ctx *ctx, const char *instance, int slot,
			       void (*fn)(const char *id, unsigned slot, int64_t created, void *arg),
			       void *arg, struct docker_error *err);

#endif
