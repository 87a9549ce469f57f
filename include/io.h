/* Deadline-bounded I/O on non-blocking descriptors, and the clock they use. */
#ifndef RUNBOXD_IO_H
#define RUNBOXD_IO_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t io_now_ms(void);

/* Milliseconds left until deadline, clamped to [0, INT_MAX]. */
int io_left_ms(int64_t deadline);

int io_set_nonblock(int fd);

/*
 * Every wait of this process (io_poll and all that uses it) also watches
 * fd: the first time it is readable or hangs up, fn runs and the watch is
 * dropped.  A worker watches its master's life pipe this way, so that it
 * learns of the master's death wherever it waits.  fd < 0: no watch.
 */
void io_watch(int fd, void (*fn)(void));

/*
 * poll(2) over p[0..n-1] (n <= IO_POLL_MAX) plus the watched fd, which is
 * handled here and never counted: returns what poll would for p alone, or
 * -1 with EINTR when only the watch fired, as if a signal had come.
 */
int io_poll(struct pollfd *p, unsigned n, int timeout_ms);

/*
 * Write all of buf before deadline (CLOCK_MONOTONIC ms).  Returns 0, or -1
 * with errno (ETIMEDOUT when the deadline passed, EPIPE when the peer left).
 */
int io_write_all(int fd, const void *buf, size_t len, int64_t deadline);

/* The same for cnt pieces (v is consumed), in one system call while they fit the socket. */
int io_writev_all(int fd, struct iovec *v, int cnt, int64_t deadline);

/* The same for a then b. */
int io_write2_all(int fd, const void *a, size_t alen, const void *b, size_t blen,
		  int64_t deadline);

/* Read what is there (at least 1 byte) before deadline: > 0, 0 on EOF, -1 with errno. */
ssize_t io_read_some(int fd, void *buf, size_t len, int64_t deadline);

/*
 * Close a client connection so that an answer sent before unread request
 * bytes still reaches the client: shut down our side, discard what the
 * client still sends for a short while, then close.
 */
void io_linger_close(int fd, int64_t deadline);

struct sockaddr_storage;
/* A peer address as text for logs: "1.2.3.4:80", "[::1]:80", or "?:0". */
void io_peer_text(const struct sockaddr_storage *ss, char *out, size_t outsz);

#endif
