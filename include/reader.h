/*
 * The reader: the process that accepts clients and holds them, many at a
 * time, until their whole request has arrived; then it hands the
 * connection and the request's bytes to an idle front.  See README.md
 * (Processes) and reader.c.
 */
#ifndef RUNBOXD_READER_H
#define RUNBOXD_READER_H

#include <sys/socket.h>

#include <stdint.h>

#include "bounds.h"
#include "config.h"

/*
 * One hand-off, reader -> front, one SOCK_SEQPACKET packet: this header,
 * then inline_len bytes (the request, when it is small), with the client's
 * connection as SCM_RIGHTS and, when inline_len is 0 and the request is
 * not empty, a memfd holding it at offset 0 as a second descriptor.  The
 * request is the head as the client sent it (head_len bytes) followed by
 * the body, already de-chunked (body_len bytes).
 */
struct reader_handoff {
	uint32_t head_len;
	uint32_t body_len;
	uint32_t inline_len;   /* 0, or head_len + body_len */
	uint32_t waited_ms;    /* from accept to hand-off, for the log */
	uint32_t addr_len;     /* of addr, as accept gave it */
	uint32_t flags;        /* READER_RATED */
	struct sockaddr_storage addr; /* the client's: the log, the rate limit */
};

/* The reader took this request's RATE_LIMIT_PER_MINUTE token: the front takes none. */
#define READER_RATED 1u

#define READER_TOOK 't' /* front -> reader, one byte: a hand-off was taken (a wake-up only) */

/*
 * Serve listen_fd and hand complete requests over handoff_fd.  life_fd
 * hangs up when the master dies; one byte goes to ready_fd at the first
 * connection accepted.  Never returns.
 */
_Noreturn void reader_main(struct config *cfg, int listen_fd, int handoff_fd, int life_fd,
			   int ready_fd);

#endif
