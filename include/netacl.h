/*
 * SERVER_ALLOWED_IPS: the client addresses runboxd answers.  A list of
 * IPv4 and IPv6 CIDRs, parsed once at configuration time and matched
 * against each peer address at accept.  Pure: no I/O, no allocation.
 *
 * An IPv4 client seen as an IPv4-mapped IPv6 address (::ffff:a.b.c.d, on
 * a dual-stack socket) is matched as a.b.c.d; a rule written inside
 * ::ffff:0:0/96 is an IPv4 rule.  Other IPv6 rules never match an IPv4
 * client, so "0.0.0.0/0 ::/0" is everything.
 */
#ifndef RUNBOXD_NETACL_H
#define RUNBOXD_NETACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"

struct netacl_rule {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t prefix; /* leading bits that must match: 0-32 or 0-128 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes; host bits zero */
};

struct netacl {
	unsigned n; /* 0: every client is allowed */
	struct netacl_rule rule[NETACL_MAX_RULES];
};

/*
 * Parse a space- or comma-separated list of ADDR or ADDR/PREFIX into acl.
 * A bare address is /32 or /128; host bits set past the prefix, a prefix
 * out of range or with leading zeros, zone ids and more than
 * NETACL_MAX_RULES rules are errors.  name is put at the start of the
 * message in err.  Returns 0, or -1 with acl unchanged.
 */
int netacl_parse(struct netacl *acl, const char *s, const char *name, char *err, size_t errsz);

/* Is the peer at sa allowed?  Families other than IPv4 and IPv6 are not, unless acl is empty. */
bool netacl_allows(const struct netacl *acl, const struct sockaddr *sa, socklen_t len);

/* The rules as netacl_parse reads them back, space-separated; -1 if out is too small. */
int netacl_format(const struct netacl *acl, char *out, size_t outsz);

#endif
