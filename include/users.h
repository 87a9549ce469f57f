/*
 * The service users, read from the local account files (/etc/passwd and
 * /etc/group) and never through NSS: runboxd is linked statically, and a
 * static glibc cannot load NSS modules (libnss_systemd crashes in it).  The
 * packages create their users with useradd, which writes these files.
 */
#ifndef RUNBOXD_USERS_H
#define RUNBOXD_USERS_H

#include <stddef.h>
#include <sys/types.h>

#define USERS_PASSWD "/etc/passwd"
#define USERS_GROUP  "/etc/group"

/*
 * The uid and primary gid of name in the passwd file at path: 0 found,
 * 1 no such user, -1 the file cannot be read (errno set).  The first entry
 * of that name wins, as getpwnam's "files" source does.
 */
int users_passwd(const char *path, const char *name, uid_t *uid, gid_t *gid);

/*
 * name's groups from the group file at path: gid first, then every group
 * that lists name as a member, each once, in file order (getgrouplist's
 * order).  *n is the room in groups[] on entry and the count on return.
 * 0 on success, 1 when there are more than *n groups (*n is then at least
 * the count needed), -1 the file cannot be read (errno set).
 */
int users_groups(const char *path, const char *name, gid_t gid, gid_t *groups, int *n);

/* The name of group gid into buf: 0 found, 1 not found (or too long), -1 unreadable. */
int users_group_name(const char *path, gid_t gid, char *buf, size_t bufsz);

#endif
