/*
 * Messages between a slot's front and its agent over a SOCK_SEQPACKET
 * socketpair: one message per packet, fixed layouts, every size checked on
 * receipt.  The front asks, the agent answers; the agent treats anything
 * off the menu as fatal for the slot.
 */
#ifndef RUNBOXD_MSG_H
#define RUNBOXD_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bounds.h"
#include "reqlimits.h"

enum msg_type {
	MSG_VERSION = 1, /* front -> agent: struct msg_ask; answered by MSG_REPLY */
	MSG_RUN,         /* front -> agent: struct msg_ask; answered by MSG_ATTACHED or MSG_REPLY */
	MSG_DONE,        /* front -> agent: the run is answered; remove the container. MSG_REPLY 204 once
			    the agent is ready for the next run (its warm containers made) */
	MSG_REPLY,       /* agent -> front: struct msg_reply + body: what to tell the client */
	MSG_ATTACHED,    /* agent -> front: the attach stream as SCM_RIGHTS, struct msg_attached + early
			    stream bytes */
	MSG_AUTH,        /* front -> agent: struct msg_ask (token only); MSG_REPLY 204 or 401 */
	MSG_EXIT,        /* front -> agent: the stream ended with no reply; MSG_REPLY 400 limits.memory
			    when Docker says the memory limit killed the container, 400 limits.pids
			    when its exit status says the pids limit ended it, else 204 */
	MSG_EXEC,        /* front -> agent: struct msg_ask + struct msg_exec + script; answered as MSG_RUN */
	MSG_WAIT,        /* front -> agent: struct msg_wait, an exec's stream is over; MSG_STATUS */
	MSG_STATUS,      /* agent -> front: struct msg_status, how the container ended */
	MSG_PING,        /* front -> agent, no body: GET /health; MSG_REPLY 204 when Docker answers
			    _ping within HEALTH_PING_MS, else 503 docker.unavailable */
};

struct msg_hdr {
	uint32_t type;
	uint32_t len; /* bytes after the header */
};

/*
 * What a front may ask for: the presented token and, for a run, the image
 * and the limits the request asked for (0: not asked), which the agent
 * checks again.
 */
struct msg_ask {
	uint32_t token_len;
	uint32_t image_len;
	char token[CONFIG_MAX_TOKEN];
	char image[DOCKER_MAX_IMAGE_REF + 1];
	struct reqlimits limits;
};

/* The stream-side limits the agent gives a run, sent with its stream. */
struct msg_attached {
	uint64_t time_ms; /* execution time from the payload's first write */
	uint64_t output;  /* bytes of all frames */
};

/* What an exec runs; the agent picks the image and the command from the configuration. */
enum msg_exec_kind {
	MSG_EXEC_SHELL = 1, /* /bin/sh -c script in ask.image, or EXECUTE_DEFAULT_IMAGE when "" */
	MSG_EXEC_PYTHON,    /* python3 reading its program on stdin, in COMPILE_IMAGE; no script */
};

/* After struct msg_ask in MSG_EXEC; script_len bytes of script follow (no NUL). */
struct msg_exec {
	uint32_t kind;
	uint32_t script_len; /* <= EXEC_MAX_SCRIPT */
};

#define MSG_EXEC_MIN (sizeof(struct msg_ask) + sizeof(struct msg_exec))
#define MSG_EXEC_MAX (MSG_EXEC_MIN + EXEC_MAX_SCRIPT)
_Static_assert(MSG_EXEC_MAX + sizeof(struct msg_hdr) <= MSG_MAX, "a script fits one message");

struct msg_wait {
	uint32_t kill; /* 1: stop the container first (a limit ended the run) */
};

#define MSG_STATUS_KNOWN 1u /* Docker said how it ended: exit_code is valid */
#define MSG_STATUS_OOM 2u   /* the memory limit killed it */

struct msg_status {
	int32_t exit_code;
	uint32_t flags;
};

struct msg_reply {
	int32_t status;    /* HTTP status for the client */
	uint32_t body_len; /* JSON body follows */
};

#define MSG_REPLY_MAX_BODY (MSG_MAX - sizeof(struct msg_hdr) - sizeof(struct msg_reply))

/*
 * Send one message: header, then up to two body parts, and fd (>= 0) as
 * SCM_RIGHTS.  Returns 0 or -1 with errno (EPIPE when the peer is gone).
 */
int msg_send(int sock, uint32_t type, const void *a, size_t alen, const void *b, size_t blen,
	     int fd);

/*
 * Receive one message into buf (bufsz >= MSG_MAX) waiting at most
 * timeout_ms (-1: forever).  Returns the body length (>= 0) with *type
 * and, when one came with it, *fd set (else -1); 0-length EOF is reported
 * as -1 with errno ECONNRESET; timeout as -1 with ETIMEDOUT; a truncated
 * or malformed packet, an unknown type, a body of the wrong size for its
 * type, or a descriptor missing (MSG_ATTACHED) or not expected (any other)
 * as -1 with EBADMSG, any descriptor that came with it closed.
 */
ssize_t msg_recv(int sock, uint32_t *type, void *buf, size_t bufsz, int *fd, int timeout_ms);

#endif
