/*
 * The agent: the only process that talks to Docker.  It answers a short
 * menu of messages from its front (monitor.c's shape): check the token
 * and ask Docker's version; check the token, the image and the allowlist
 * and start a run; remove the run's container when the front is done or
 * gone.  Anything else from the front ends the slot.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"
#include "docker.h"
#include "exitcodes.h"
#include "imageref.h"
#include "io.h"
#include "json.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "pull.h"
#include "reqlimits.h"
#include "sandbox.h"
#include "scoreboard.h"

static struct config *cfg;
static unsigned agent_slot;
static int front_fd = -1;
static struct docker_ctx dctx;
static char token[CONFIG_MAX_TOKEN]; /* zero-padded copy for the constant-time compare */
static size_t token_len;
static char active[DOCKER_MAX_ID];   /* the container of the run in progress, "" if none */
/*
 * Where the slot is: which messages the front may send depends on it.
 * EXPIRED: the run outlived its deadline and we removed its container; the
 * front still owes us its DONE.
 */
enum agent_state { AGENT_IDLE = 1 << 0, AGENT_RUNNING = 1 << 1, AGENT_EXPIRED = 1 << 2 };
static enum agent_state state = AGENT_IDLE;
static int64_t run_deadline;         /* AGENT_RUNNING: remove the container at this time */
static uint64_t run_time_ms;         /* AGENT_RUNNING: the run's execution time */
static uint64_t run_pids;            /* AGENT_RUNNING: the run's pids limit (0: none) */
static unsigned long warm_passed;    /* runs of a warm image that went cold for their lower limits */
static bool orphan;                  /* the master is gone: end with the run in progress */
static int sig_fd = -1;              /* signalfd: SIGUSR1, the master asking for a sweep */
static int life_fd = -1;             /* hangs up when the master dies */
static bool sweep_due;               /* a removal or a listing failed: sweep again when idle */
static bool warm_due;                /* a warm container could not be prepared: retry when idle */
static bool janitor;                 /* this process is the master's janitor, not a slot's agent */

/* A created, attached and started container nobody used yet, per RUN_WARM_IMAGES entry. */
static struct warm {
	char id[DOCKER_MAX_ID]; /* "" when there is none */
	int fd;                 /* its attach stream */
} warm[CONFIG_MAX_LIST];
static char msgbuf[MSG_MAX];
static char replybuf[MSG_REPLY_MAX_BODY];

/* Compares every byte of both padded buffers whatever they hold. */
static bool agent_token_ok(const struct msg_ask *ask)
{
	const unsigned char *a = (const unsigned char *)ask->token;
	const unsigned char *b = (const unsigned char *)token;
	size_t diff = (size_t)ask->token_len ^ token_len;

	for (size_t i = 0; i < sizeof(token); i++)
		diff |= (size_t)(a[i] ^ b[i]);
	return diff == 0 && token_len > 0;
}

static void agent_send_reply(int status, const char *body, size_t len)
{
	struct msg_reply r = {.status = status, .body_len = (uint32_t)len};

	if (msg_send(front_fd, MSG_REPLY, &r, sizeof(r), body, len, -1) < 0)
		log_warn("%s: msg_send to front %u", __func__, agent_slot);
}

static void agent_error(int status, const char *code, const char *message)
{
	struct jbuf b;

	jbuf_init(&b, replybuf, sizeof(replybuf));
	jbuf_lit(&b, "{\"error\":");
	jbuf_str(&b, code, strlen(code));
	jbuf_lit(&b, ",\"message\":");
	jbuf_str(&b, message, strlen(message));
	jbuf_lit(&b, "}");
	if (b.overflow) {
		log_errorx("%s: %s reply does not fit", __func__, code);
		return;
	}
	agent_send_reply(status, b.p, b.len);
}

/* Errors of talking to Docker at all are docker.unixsocket, as in docker-run. */
static void agent_docker_error(int rc, const struct docker_error *err, int status, const char *code)
{
	char msg[DOCKER_MAX_MESSAGE + 64];

	if (rc == DOCKER_ECONNECT || rc == DOCKER_EIO || rc == DOCKER_EVERSION) {
		snprintf(msg, sizeof(msg), "Docker unix socket: %s", err->message);
		agent_error(500, "docker.unixsocket", msg);
		return;
	}
	agent_error(status, code, err->message);
}

static void agent_remove(const char *id, enum scoreboard_removal why)
{
	struct docker_error err;
	int rc;

	if (cfg->debug_keep_container) {
		log_info("keeping container %.12s (DEBUG_KEEP_CONTAINER)", id);
		return;
	}
	rc = docker_container_remove(&dctx, id, &err);
	if (rc != DOCKER_OK) {
		/* Docker may be restarting: the container is still labelled, so a later sweep finds it. */
		log_errorx("%s: cannot remove container %.12s: %s", __func__, id, err.message);
		sweep_due = true;
	} else {
		log_debug("removed container %.12s", id);
		scoreboard_removed(janitor ? -1 : (int)agent_slot, why);
	}
}

static void agent_finish_run(void)
{
	if (active[0] != '\0')
		agent_remove(active, SB_RM_AFTER_RUN);
	active[0] = '\0';
	state = AGENT_IDLE;
}

/*
 * The front did not end its run in time: it is broken or compromised, and
 * either way it cannot keep a container alive past what a client could.
 */
static void agent_expire(void)
{
	log_warnx("front %u did not end its run in %" PRIu64 " ms; removing container %.12s", agent_slot,
		  run_time_ms, active);
	agent_remove(active, SB_RM_EXPIRED);
	active[0] = '\0';
	state = AGENT_EXPIRED;
}

struct sweep {
	char ids[AGENT_SWEEP_MAX][DOCKER_MAX_ID];
	unsigned n;
	bool full; /* more were listed than one sweep takes */
	/* the janitor's choice; NULL: every container listed goes */
	const struct agent_owners *owners;
	int64_t now;  /* CLOCK_REALTIME seconds, as Docker's Created */
};

/* Does no live process of the slot own a container created then? */
static bool agent_unowned(const struct sweep *s, unsigned slot, int64_t created)
{
	const struct agent_owners *o = s->owners;

	if (o == NULL || slot >= o->n)
		return true;
	if (created < 0)
		return false; /* Docker did not say: not ours to judge */
	if (s->now - created > o->max_age)
		return true; /* older than any run can be */
	return created < o->since[slot];
}

static void agent_sweep_collect(const char *id, unsigned slot, int64_t created, void *arg)
{
	struct sweep *s = arg;

	if (!agent_unowned(s, slot, created))
		return;
	for (unsigned i = 0; i < cfg->warm_images.n; i++)
		if (strcmp(warm[i].id, id) == 0)
			return; /* ours, waiting for a run */
	if (s->n >= AGENT_SWEEP_MAX) {
		s->full = true;
		return;
	}
	snprintf(s->ids[s->n++], DOCKER_MAX_ID, "%s", id);
}

/*
 * Remove up to max containers labelled with our instance and slot (or, for
 * slot < 0, the whole instance, less what owners says is live).  Whatever
 * cannot be done now -- Docker unreachable, more left than max -- is
 * retried by setting sweep_due.
 */
static void agent_sweep_owned(int slot, unsigned max, const struct agent_owners *owners)
{
	static struct sweep s;
	struct docker_error err;
	struct timespec ts;
	int rc;

	sweep_due = false;
	s.n = 0;
	s.full = false;
	s.owners = owners;
	clock_gettime(CLOCK_REALTIME, &ts);
	s.now = ts.tv_sec;
	rc = docker_containers_labelled(&dctx, cfg->instance, slot, agent_sweep_collect, &s, &err);
	if (rc < 0) {
		log_warnx("%s: cannot list leftover containers: %s", __func__, err.message);
		sweep_due = true;
		return;
	}
	if (s.full || s.n > max)
		sweep_due = true;
	for (unsigned i = 0; i < s.n && i < max; i++) {
		log_info("removing leftover container %.12s", s.ids[i]);
		agent_remove(s.ids[i], janitor ? SB_RM_JANITOR : SB_RM_SWEEP);
	}
}

static void agent_sweep_some(int slot, unsigned max)
{
	agent_sweep_owned(slot, max, NULL);
}

/*
 * Containers this slot left behind (its predecessor crashed).  Only our own
 * slot's: another slot's containers may belong to a live run, even of a
 * slot being retired by a reload.
 */
static void agent_sweep(void)
{
	agent_sweep_some((int)agent_slot, AGENT_SWEEP_MAX);
}

/* The authority on RUN_IMAGE_ALLOWLIST: whatever the front checked, Docker is asked only after this. */
static bool agent_image_allowed(const char *image)
{
	return imageref_list_allows(cfg->image_allow.item, cfg->image_allow.n, image);
}

/* Only the token: 204 or 401, so a client with a wrong one learns nothing else. */
static void agent_auth(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	(void)rest;
	(void)rest_len;
	if (agent_token_ok(ask))
		agent_send_reply(204, "", 0);
	else
		agent_error(401, "access_token", "Missing or wrong access token");
}

static void agent_version(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	struct docker_error err;
	struct jbuf b;
	int rc;

	(void)rest;
	(void)rest_len;
	if (!agent_token_ok(ask)) {
		agent_error(401, "access_token", "Missing or wrong access token");
		return;
	}
	jbuf_init(&b, replybuf, sizeof(replybuf));
	rc = docker_version(&dctx, &b, &err);
	if (rc != DOCKER_OK || b.overflow) {
		agent_docker_error(rc, &err, 500, "docker.version");
		return;
	}
	agent_send_reply(200, b.p, b.len);
}

/* Docker's answer to a create of an image it does not have. */
static bool agent_image_missing(int rc, const struct docker_error *err)
{
	return rc == DOCKER_ESTATUS && err->status == 404 &&
	       strstr(err->message, "No such image") != NULL;
}

/*
 * A refusal (4xx: no such repository or tag, no access) stays one; a
 * broken stream, a timeout or a registry's 5xx may pass.
 */
static bool agent_pull_retryable(int rc, const struct docker_error *err)
{
	return rc != DOCKER_ECONNECT && rc != DOCKER_EVERSION &&
	       !(rc == DOCKER_ESTATUS && err->status >= 400 && err->status < 500);
}

/* Pull image: up to 1 + RUN_IMAGE_PULL_RETRIES attempts, backing off between them. */
static int agent_pull_tries(const char *image, struct docker_error *err)
{
	static struct docker_pull prog;
	int backoff = PULL_BACKOFF_FIRST_MS, rc;
	int64_t started = io_now_ms();

	for (unsigned attempt = 0;; attempt++) {
		log_info("pulling %s (attempt %u of %u)", image, attempt + 1, cfg->pull_retries + 1);
		rc = docker_image_pull(&dctx, image, cfg->platform, (int)cfg->pull_timeout * 1000, &prog,
				       err);
		if (rc == DOCKER_OK) {
			log_info("pulled %s in %lld ms", image, (long long)(io_now_ms() - started));
			return rc;
		}
		log_warnx("%s: pull of %s failed: %s", __func__, image, err->message);
		if (attempt >= cfg->pull_retries || !agent_pull_retryable(rc, err))
			return rc;
		(void)poll(NULL, 0, backoff);
		backoff = backoff * 2 > PULL_BACKOFF_MAX_MS ? PULL_BACKOFF_MAX_MS : backoff * 2;
	}
}

/*
 * One pull per image across all agents: the first to find it missing
 * pulls, the others wait for that pull's end and share its outcome.  A
 * puller that died (or exceeded its budget) is taken over.
 */
static int agent_pull(const char *image, struct docker_error *err)
{
	int64_t budget = pull_budget_ms(cfg);
	struct pull_ticket t;
	int rc;

	for (int round = 0; round < 2; round++) {
		switch (pull_claim(image, budget, &t)) {
		case PULL_MINE:
			rc = agent_pull_tries(image, err);
			pull_release(&t, image, rc, err);
			return rc;
		case PULL_ALONE:
			return agent_pull_tries(image, err);
		case PULL_WAIT:
			log_info("waiting for another agent's pull of %s", image);
			if (pull_wait(&t, image, budget, &rc, err) == 0)
				return rc;
			log_warnx("%s: the pull of %s by another agent did not end in time", __func__,
				  image);
			break;
		}
	}
	return agent_pull_tries(image, err);
}

/* Create, pulling the image first when Docker lacks it and RUN_IMAGE_PULL allows. */
static int agent_create(const struct config *conf, const char *image, const char *const *argv, char *id,
			bool answer, struct docker_error *err, bool *pull_failed)
{
	int rc = docker_container_create_cmd(&dctx, conf, image, argv, cfg->instance, agent_slot, id, err);

	*pull_failed = false;
	/* Only for a request: its image passed validation and the allowlist. */
	if (!answer || !cfg->image_pull || !agent_image_missing(rc, err))
		return rc;
	rc = agent_pull(image, err);
	if (rc != DOCKER_OK) {
		*pull_failed = rc != DOCKER_ECONNECT && rc != DOCKER_EVERSION;
		return rc;
	}
	return docker_container_create_cmd(&dctx, conf, image, argv, cfg->instance, agent_slot, id, err);
}

/*
 * The image's prepare command (RUN_PREPARE_<NAME>), in the started
 * container before its payload: a failure is the run's error.
 */
static int agent_prepare(const char *image, const char *id, struct docker_error *err)
{
	const char *cmd = config_prepare_find(cfg, image);
	char output[DOCKER_MAX_MESSAGE / 2];
	int code, rc;

	if (cmd == NULL)
		return DOCKER_OK;
	rc = docker_container_exec(&dctx, id, cfg->user, cmd, &code, output, sizeof(output), err);
	if (rc == DOCKER_EIO) {
		/* Most likely a command that outlived the read timeout: its failure, not Docker's. */
		log_warnx("%s: prepare command of %s: %s", __func__, image, err->message);
		(void)snprintf(err->message, sizeof(err->message),
			       "The prepare command of %s did not end within %us "
			       "(DOCKER_UNIX_SOCKET_READ_TIMEOUT)", image, cfg->docker_read_timeout);
		return DOCKER_ESTATUS;
	}
	if (rc != DOCKER_OK || code == 0)
		return rc;
	err->status = 0;
	(void)snprintf(err->message, sizeof(err->message),
		       "The prepare command of %s exited with status %d%s%s", image, code,
		       output[0] ? ": " : "", output);
	return DOCKER_ESTATUS;
}

/*
 * Create, attach and start a container of image under configuration conf as
 * id, its attach stream in *fd.  On failure the container is removed (or
 * left to a sweep), *fd is -1, and the error is answered to the front when
 * answer is set.
 */
static bool agent_start(const struct config *conf, const char *image, const char *const *argv, char *id,
			int *fd, char *early, size_t early_sz, size_t *early_len, bool answer)
{
	char msg[DOCKER_MAX_MESSAGE + DOCKER_MAX_IMAGE_REF + 32];
	struct docker_error err;
	const char *what;
	bool pull_failed;
	int rc;

	*fd = -1;
	rc = agent_create(conf, image, argv, id, answer, &err, &pull_failed);
	if (rc != DOCKER_OK) {
		/* Without Docker's answer the container may exist: look for it later. */
		if (rc != DOCKER_ESTATUS && !pull_failed)
			sweep_due = true;
		id[0] = '\0';
		if (answer && pull_failed) {
			snprintf(msg, sizeof(msg), "Cannot pull %s: %s", image, err.message);
			agent_error(502, "docker.pull", msg);
		} else if (answer)
			agent_docker_error(rc, &err, rc == DOCKER_ESTATUS ? 400 : 500, "docker.container.create");
		else
			log_warnx("%s: warm container of %s: create: %s", __func__, image, err.message);
		return false;
	}
	/* Attach before start: nothing the program says can be missed. */
	what = "docker.container.attach";
	rc = docker_container_attach(&dctx, id, fd, early, early_sz, early_len, &err);
	if (rc == DOCKER_OK) {
		what = "docker.container.start";
		rc = docker_container_start(&dctx, id, &err);
		/* Before a runner's payload; a command of its own (/execute) starts at once: none. */
		if (rc == DOCKER_OK && argv == NULL) {
			what = "docker.container.prepare";
			rc = agent_prepare(image, id, &err);
		}
		if (rc != DOCKER_OK)
			close(*fd);
	}
	if (rc != DOCKER_OK) {
		*fd = -1;
		if (answer)
			agent_docker_error(rc, &err, 500, what);
		else
			log_warnx("%s: warm container of %s: %s: %s", __func__, image, what, err.message);
		agent_remove(id, SB_RM_FAILED);
		id[0] = '\0';
		return false;
	}
	return true;
}

static void agent_warm_drop(struct warm *w)
{
	close(w->fd);
	w->fd = -1;
	agent_remove(w->id, SB_RM_WARM);
	w->id[0] = '\0';
}

/* Prepare the warm containers that are missing; what fails is retried when idle. */
static void agent_warm_fill(void)
{
	char early[AGENT_EARLY_MAX];
	size_t early_len;

	warm_due = false;
	if (orphan)
		return; /* no run will come: we end after this one */
	for (unsigned i = 0; i < cfg->warm_images.n; i++) {
		if (warm[i].id[0] != '\0')
			continue;
		if (!agent_start(cfg, cfg->warm_images.item[i], NULL, warm[i].id, &warm[i].fd, early,
				 sizeof(early), &early_len, false)) {
			warm_due = true;
			continue;
		}
		if (early_len > 0) {
			/* It spoke before its payload: not the idle container a run expects. */
			log_warnx("%s: warm container %.12s of %s wrote before its payload", __func__,
				  warm[i].id, cfg->warm_images.item[i]);
			agent_warm_drop(&warm[i]);
			warm_due = true;
			continue;
		}
		log_debug("warm container %.12s of %s ready", warm[i].id, cfg->warm_images.item[i]);
	}
}

/*
 * Take image's warm container as the active run's, its stream in *fd, or
 * return false.  A never-used container says nothing before its payload:
 * a stream that is readable (output, EOF, error) belongs to one that died
 * or was removed, which is dropped (and replaced after this run).
 */
static bool agent_warm_take(const char *image, int *fd)
{
	for (unsigned i = 0; i < cfg->warm_images.n; i++) {
		struct warm *w = &warm[i];
		struct pollfd p = {.fd = w->fd, .events = POLLIN | POLLRDHUP};

		if (w->id[0] == '\0' || strcmp(cfg->warm_images.item[i], image) != 0)
			continue;
		if (poll(&p, 1, 0) != 0) {
			log_warnx("warm container %.12s of %s is gone or not idle; this run is cold",
				  w->id, image);
			agent_warm_drop(w);
			warm_due = true;
			return false;
		}
		memcpy(active, w->id, sizeof(active));
		*fd = w->fd;
		w->fd = -1;
		w->id[0] = '\0';
		return true;
	}
	return false;
}

/*
 * The token, the image against the configuration, and the limits the run
 * asked for, checked again: a front must not raise any, whatever it sends.
 * Answers the front itself and returns false if not; else the run's
 * limits are in *eff.
 */
static bool agent_may_run(const struct msg_ask *ask, const char *image, struct reqlimits *eff)
{
	char msg[REQLIMITS_MAX_MESSAGE];

	if (!agent_token_ok(ask)) {
		agent_error(401, "access_token", "Missing or wrong access token");
		return false;
	}
	if (!imageref_valid(image)) {
		agent_error(400, "request.image", "\"image\" must be a valid Docker image reference");
		return false;
	}
	if (!agent_image_allowed(image)) {
		agent_error(403, "image.not_allowed", "This image is not in RUN_IMAGE_ALLOWLIST");
		return false;
	}
	if (reqlimits_check(cfg, &ask->limits, msg, sizeof(msg)) < 0) {
		log_errorx("front %u asked for limits the configuration does not allow: %s", agent_slot, msg);
		agent_error(400, "request.limits", msg);
		return false;
	}
	reqlimits_effective(cfg, &ask->limits, eff);
	/* A busy agent is never idle long enough for the timer: take a few now. */
	if (sweep_due)
		agent_sweep_some((int)agent_slot, AGENT_SWEEP_INLINE);
	return true;
}

/* The configuration a new container of the run is made under: with its lower limits in it. */
static const struct config *agent_run_config(const struct reqlimits *eff)
{
	static struct config runcfg;

	if (!reqlimits_container_differs(cfg, eff))
		return cfg;
	runcfg = *cfg;
	explicit_bzero(runcfg.access_token, sizeof(runcfg.access_token));
	reqlimits_apply(&runcfg, eff);
	return &runcfg;
}

/*
 * The front has the stream, and the run's stream-side limits with it: the
 * run is on, under the agent's own deadline too.
 */
static void agent_pass_stream(int fd, const struct reqlimits *eff, const char *early, size_t early_len)
{
	struct msg_attached att = {.time_ms = eff->time_ms, .output = eff->output};

	if (msg_send(front_fd, MSG_ATTACHED, &att, sizeof(att), early, early_len, fd) < 0) {
		log_warn("%s: passing the stream to front %u", __func__, agent_slot);
		agent_finish_run();
	} else {
		/* The front's own deadline starts a little later than ours, so it ends first. */
		state = AGENT_RUNNING;
		run_time_ms = eff->time_ms;
		run_pids = eff->pids;
		run_deadline = io_now_ms() + (int64_t)eff->time_ms + AGENT_RUN_SLACK_MS;
	}
	close(fd);
}

/*
 * A warm container, or create, attach, start; the attach stream goes to
 * the front.  A warm container has the configuration's memory, pids and
 * cpus: a run that lowers any of them is cold, and leaves it for the next.
 */
static void agent_run(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	char early[AGENT_EARLY_MAX];
	struct reqlimits eff;
	size_t early_len = 0;
	bool lowered;
	int fd = -1;
	bool hit;

	(void)rest;
	(void)rest_len;
	if (!agent_may_run(ask, ask->image, &eff))
		return;
	lowered = reqlimits_container_differs(cfg, &eff);
	if (lowered)
		for (unsigned i = 0; i < cfg->warm_images.n; i++)
			if (warm[i].id[0] != '\0' && strcmp(cfg->warm_images.item[i], ask->image) == 0)
				log_info("run of %s is cold: its memory, pids or cpus limit is not the warm "
					 "container's (%lu so far)", ask->image, ++warm_passed);
	hit = !lowered && agent_warm_take(ask->image, &fd);
	/* Before the stream is sent: the front reads the path once it has it. */
	scoreboard_warm(agent_slot, hit);
	if (!hit &&
	    !agent_start(agent_run_config(&eff), ask->image, NULL, active, &fd, early, sizeof(early),
			 &early_len, true))
		return;
	agent_pass_stream(fd, &eff, early, early_len);
}

/*
 * A command in a stock image: the front sends the script, the image it
 * asked for (only among what the allowlist allows) and the kind; the
 * command line and, when none is named, the image come from the
 * configuration.  Never a warm container: those run the image's own command.
 */
static void agent_exec(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	static char script[EXEC_MAX_SCRIPT + 1];
	const char *argv[5] = {NULL};
	char early[AGENT_EARLY_MAX];
	struct reqlimits eff;
	struct msg_exec x;
	const char *image;
	size_t early_len = 0;
	int fd = -1;

	memcpy(&x, rest, sizeof(x));
	if (x.script_len != rest_len - sizeof(x) || memchr(rest + sizeof(x), '\0', x.script_len)) {
		agent_error(400, "request.script", "Malformed script");
		return;
	}
	memcpy(script, rest + sizeof(x), x.script_len);
	script[x.script_len] = '\0';
	if (x.kind == MSG_EXEC_SHELL) {
		image = ask->image_len > 0 ? ask->image : cfg->execute_default_image;
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = script;
	} else if (x.kind == MSG_EXEC_PYTHON && ask->image_len == 0 && x.script_len == 0) {
		image = cfg->compile_image;
		/* The program comes on stdin, so its size is the request's, not argv's; unbuffered, so a
		   program stopped by a limit still shows what it printed. */
		argv[0] = "python3";
		argv[1] = "-u";
		argv[2] = "-";
	} else {
		agent_error(400, "request.malformed", "Unknown kind of run");
		return;
	}
	if (image[0] == '\0' && agent_token_ok(ask)) {
		agent_error(400, "request.image",
			    x.kind == MSG_EXEC_SHELL ? "No \"image\" given and EXECUTE_DEFAULT_IMAGE is not set"
						     : "POST /compile is off: COMPILE_IMAGE is not set");
		return;
	}
	if (!agent_may_run(ask, image, &eff) ||
	    !agent_start(agent_run_config(&eff), image, argv, active, &fd, early, sizeof(early), &early_len,
			 true))
		return;
	agent_pass_stream(fd, &eff, early, early_len);
}

/*
 * An exec's stream is over: stop the container if a limit ended it, and
 * say how it ended (Docker's record of the exit, after the kill).
 */
static void agent_wait(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	struct msg_status st = {.exit_code = -1, .flags = 0};
	struct docker_error err;
	struct msg_wait w;
	bool oom = false;
	int code = -1;

	(void)ask;
	(void)rest_len;
	memcpy(&w, rest, sizeof(w));
	if (state == AGENT_RUNNING && active[0] != '\0') {
		if (w.kill && docker_container_kill(&dctx, active, &err) != DOCKER_OK)
			log_warnx("%s: kill %.12s: %s", __func__, active, err.message);
		if (docker_container_exit(&dctx, active, &code, &oom, &err) == DOCKER_OK) {
			st.exit_code = code;
			st.flags = MSG_STATUS_KNOWN | (oom ? MSG_STATUS_OOM : 0);
		} else
			log_warnx("%s: container %.12s: %s", __func__, active, err.message);
	}
	if (msg_send(front_fd, MSG_STATUS, &st, sizeof(st), NULL, 0, -1) < 0)
		log_warn("%s: msg_send to front %u", __func__, agent_slot);
}

/*
 * Did the pids limit end the run?  Only what Docker recorded tells: the
 * container's pids are gone with it (a one-shot stats of an exited
 * container is empty), so its exit status decides -- our runner's status
 * for a fork the limit refused, or, under a runtime of its own choosing
 * (gVisor), that kernel's fatal exit: with ptrace its own threads and stub
 * processes count against the same limit, and it dies when the host
 * refuses it one.
 */
static bool agent_pids_ended(int code)
{
	if (run_pids == 0)
		return false;
	return code == RUNNER_EXIT_NOPROC || (cfg->runtime[0] != '\0' && code == RUNTIME_EXIT_GO_FATAL);
}

/* The stream ended with no reply: say whether the memory or the pids limit ended the run. */
static void agent_exit(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	struct docker_error err;
	bool killed = false;
	int code = -1;

	(void)ask;
	(void)rest;
	(void)rest_len;
	if (state == AGENT_RUNNING && active[0] != '\0' &&
	    docker_container_exit(&dctx, active, &code, &killed, &err) != DOCKER_OK)
		log_warnx("%s: container %.12s: %s", __func__, active, err.message);
	if (killed) {
		log_info("container %.12s was killed by its memory limit", active);
		agent_error(400, "limits.memory", "Memory limit exceeded: the container was killed");
		return;
	}
	if (agent_pids_ended(code)) {
		log_info("container %.12s ended by its pids limit (exit status %d)", active, code);
		agent_error(400, "limits.pids", "Pids limit exceeded: no process could be created");
		return;
	}
	agent_send_reply(204, "", 0);
}

static void agent_done(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	(void)ask;
	(void)rest;
	(void)rest_len;
	agent_finish_run();
	/* The client has its answer: a good time for what the master asked for, and the next warm container. */
	if (sweep_due)
		agent_sweep();
	agent_warm_fill();
	agent_send_reply(204, "", 0);
}

/*
 * GET /health: does Docker answer /_ping within HEALTH_PING_MS?  No token:
 * the answer says only whether Docker is up, and a ping costs no container.
 */
static void agent_ping(const struct msg_ask *ask, const char *rest, size_t rest_len)
{
	struct docker_error err;
	char msg[DOCKER_MAX_MESSAGE + 64];

	(void)ask;
	(void)rest;
	(void)rest_len;
	if (docker_ping(&dctx, HEALTH_PING_MS, &err) == DOCKER_OK) {
		agent_send_reply(204, "", 0);
		return;
	}
	snprintf(msg, sizeof(msg), "Docker did not answer _ping: %s", err.message);
	agent_error(503, "docker.unavailable", msg);
}

/*
 * The master asks for a sweep when the last process of an earlier pair of
 * this slot is gone: what it left is nobody's now.
 */
static void agent_take_signal(void)
{
	struct signalfd_siginfo si;

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		sweep_due = true;
}

static bool agent_ask_ok(const void *body, size_t n, struct msg_ask *ask)
{
	if (n < sizeof(*ask))
		return false;
	memcpy(ask, body, sizeof(*ask));
	return ask->token_len < sizeof(ask->token) && ask->token[ask->token_len] == '\0' &&
	       ask->image_len < sizeof(ask->image) && ask->image[ask->image_len] == '\0';
}

/*
 * The menu: what the front may send, in which state, at what size.  No
 * message from the front carries a descriptor.  Anything else ends the slot.
 */
struct agent_handler {
	uint32_t type;
	unsigned states; /* enum agent_state bits in which it may come */
	size_t min, max; /* body size */
	bool ask;        /* the body starts with a struct msg_ask, checked before the handler */
	/* rest: the body after the msg_ask (or all of it), min/max checked */
	void (*handle)(const struct msg_ask *ask, const char *rest, size_t rest_len);
};

static const struct agent_handler agent_menu[] = {
	{MSG_AUTH, AGENT_IDLE, sizeof(struct msg_ask), sizeof(struct msg_ask), true, agent_auth},
	{MSG_VERSION, AGENT_IDLE, sizeof(struct msg_ask), sizeof(struct msg_ask), true, agent_version},
	{MSG_RUN, AGENT_IDLE, sizeof(struct msg_ask), sizeof(struct msg_ask), true, agent_run},
	{MSG_DONE, AGENT_RUNNING | AGENT_EXPIRED, 0, 0, false, agent_done},
	{MSG_EXIT, AGENT_RUNNING | AGENT_EXPIRED, 0, 0, false, agent_exit},
	{MSG_EXEC, AGENT_IDLE, MSG_EXEC_MIN, MSG_EXEC_MAX, true, agent_exec},
	{MSG_WAIT, AGENT_RUNNING | AGENT_EXPIRED, sizeof(struct msg_wait), sizeof(struct msg_wait), false,
	 agent_wait},
	{MSG_PING, AGENT_IDLE, 0, 0, false, agent_ping},
};

/* One message from the front; false when the slot must end. */
static bool agent_dispatch(uint32_t type, ssize_t n, int fd)
{
	const struct agent_handler *h = NULL;
	struct msg_ask ask;
	bool ok = false;

	for (size_t i = 0; i < sizeof(agent_menu) / sizeof(agent_menu[0]); i++)
		if (agent_menu[i].type == type)
			h = &agent_menu[i];
	if (fd >= 0)
		close(fd);
	else if (h != NULL && (h->states & state) && n >= 0 && (size_t)n >= h->min &&
		 (size_t)n <= h->max && (!h->ask || agent_ask_ok(msgbuf, (size_t)n, &ask)))
		ok = true;
	if (ok) {
		size_t skip = h->ask ? sizeof(ask) : 0;

		h->handle(h->ask ? &ask : NULL, msgbuf + skip, (size_t)n - skip);
	}
	else
		log_errorx("front %u sent message type %u (%zd bytes%s) off the menu in state %u; "
			   "ending the slot", agent_slot, type, n, fd >= 0 ? ", with a descriptor" : "",
			   (unsigned)state);
	explicit_bzero(&ask, sizeof(ask));
	return ok;
}

/*
 * Settle the API version before the slot takes requests, and say so when
 * there is none: every request then asks Docker again, so an upgraded
 * daemon is taken up without a restart.
 */
static void agent_negotiate(void)
{
	struct docker_error err;
	int rc = docker_negotiate(&dctx, &err);

	if (rc == DOCKER_OK)
		log_debug("Docker API %s", dctx.api);
	else if (rc == DOCKER_EVERSION)
		log_errorx("%s; no runs until Docker changes", err.message);
	else
		log_warnx("%s: cannot ask Docker for its API version: %s", __func__, err.message);
}

static void agent_setup(void)
{
	/*
	 * An agent ends when its front does (EOF on the socketpair), so that a
	 * signal to the whole process group (Ctrl-C) cannot cut a run short;
	 * the master SIGKILLs one that lingers.
	 */
	sig_fd = proc_worker_signals(false);

	token_len = strlen(cfg->access_token);
	memcpy(token, cfg->access_token, token_len);
	dctx.socket_path = cfg->docker_socket;
	dctx.read_timeout_ms = (int)cfg->docker_read_timeout * 1000;
	dctx.write_timeout_ms = (int)cfg->docker_write_timeout * 1000;
	/* The janitor has no front and no life pipe (-1): only 0-2 and sig_fd stay. */
	int keep[] = {front_fd, sig_fd, life_fd};

	sandbox_drop_agent(cfg, keep, sizeof(keep) / sizeof(keep[0]));
}

void agent_janitor(struct config *c, const struct agent_owners *owners)
{
	unsigned rounds = owners ? 1 : AGENT_JANITOR_ROUNDS;

	cfg = c;
	janitor = true;
	log_set_role("janitor");
	proctitle_set("runboxd: janitor");
	agent_setup();
	for (unsigned round = 0; round < rounds; round++) {
		agent_sweep_owned(-1, AGENT_SWEEP_MAX, owners);
		if (!sweep_due)
			break;
	}
	_exit(sweep_due ? 1 : 0);
}

/*
 * The master is gone: nobody would remove what we leave.  An idle agent
 * ends now; one with a run ends it when the front says done, goes, or
 * runs out of time.
 */
static void agent_orphaned(void)
{
	log_warnx("agent %u: master gone; ending after the run in progress", agent_slot);
	orphan = true;
}

/* How long to wait for the front: until the run's deadline or the next sweep. */
static int agent_wait_ms(void)
{
	if (state == AGENT_RUNNING)
		return io_left_ms(run_deadline);
	if ((sweep_due || warm_due) && state == AGENT_IDLE)
		return AGENT_RETRY_MS;
	return -1;
}

void agent_main(struct config *c, unsigned slot, int ffd, int life, bool sweep_first)
{
	int status = 0;

	cfg = c;
	agent_slot = slot;
	front_fd = ffd;
	life_fd = life;
	log_set_role("agent");
	proctitle_set("runboxd: agent %u", slot);
	agent_setup();
	agent_negotiate();
	io_watch(life_fd, agent_orphaned);
	/*
	 * What the slot's earlier pair left, unless a process of it still
	 * lives: a front finishing its run, or an agent removing its container.
	 */
	if (sweep_first)
		agent_sweep();
	for (unsigned i = 0; i < CONFIG_MAX_LIST; i++)
		warm[i].fd = -1;
	agent_warm_fill();
	for (;;) {
		struct pollfd p[2] = {{.fd = front_fd, .events = POLLIN}, {.fd = sig_fd, .events = POLLIN}};
		uint32_t type = 0;
		ssize_t n;
		int fd, r;

		if (orphan && state != AGENT_RUNNING)
			break;
		r = io_poll(p, 2, agent_wait_ms());
		if (r < 0)
			continue;
		if (p[1].revents & POLLIN)
			agent_take_signal();
		if (r == 0 && state == AGENT_RUNNING && io_left_ms(run_deadline) == 0)
			agent_expire();
		/* The slot's own containers are leftovers only while no run is active. */
		if (state == AGENT_IDLE && sweep_due && p[0].revents == 0 && (r == 0 || p[1].revents))
			agent_sweep();
		if (state == AGENT_IDLE && warm_due && !orphan && r == 0)
			agent_warm_fill();
		if (p[0].revents == 0)
			continue;
		n = msg_recv(front_fd, &type, msgbuf, sizeof(msgbuf), &fd, 0);
		if (n < 0) {
			if (errno == ETIMEDOUT || errno == EINTR || errno == EAGAIN)
				continue;
			if (errno != ECONNRESET) {
				log_error("%s: message from front %u", __func__, slot);
				status = 1;
			}
			break;
		}
		if (!agent_dispatch(type, n, fd)) {
			status = 1;
			break;
		}
	}
	/* The front is gone (or broken), or the master is: the run, if any, is over now. */
	agent_finish_run();
	/* No run will come: the warm containers go with us. */
	for (unsigned i = 0; i < cfg->warm_images.n; i++)
		if (warm[i].id[0] != '\0')
			agent_warm_drop(&warm[i]);
	_exit(status);
}
