/*
 * Local account files, parsed by glibc's fgetpwent_r/fgetgrent_r (the
 * "files" parser, no NSS module is loaded).  Called by the master at
 * configuration time and by runboxd -t; never by a sandboxed worker.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "users.h"

/* Entries longer than this are refused (a group of thousands of members fits). */
#define USERS_MAX_LINE (1024 * 1024)

/* glibc's reentrant readers of one entry, behind one signature. */
typedef int users_get_fn(FILE *f, void *ent, char *buf, size_t sz, void **res);

static int users_get_pw(FILE *f, void *ent, char *buf, size_t sz, void **res)
{
	return fgetpwent_r(f, ent, buf, sz, (struct passwd **)res);
}

static int users_get_gr(FILE *f, void *ent, char *buf, size_t sz, void **res)
{
	return fgetgrent_r(f, ent, buf, sz, (struct group **)res);
}

/*
 * One entry into *ent, growing *buf on ERANGE (glibc rewinds to the start
 * of the entry then): 0, 1 at the end of the file, -1 error (errno set).
 */
static int users_next(FILE *f, users_get_fn *get, void *ent, char **buf, size_t *sz)
{
	void *res = NULL;
	int rc;

	for (;;) {
		rc = get(f, ent, *buf, *sz, &res);
		if (rc == 0 && res != NULL)
			return 0;
		if (rc == ENOENT || (rc == 0 && res == NULL))
			return 1;
		if (rc != ERANGE || *sz >= USERS_MAX_LINE) {
			errno = rc == ERANGE ? EFBIG : rc;
			return -1;
		}
		char *nb = realloc(*buf, *sz * 2);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*sz *= 2;
	}
}

/* The file and a first buffer; NULL with errno set. */
static FILE *users_open(const char *path, char **buf, size_t *sz)
{
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return NULL;
	*sz = 4096;
	*buf = malloc(*sz);
	if (*buf == NULL) {
		fclose(f);
		return NULL;
	}
	return f;
}

static int users_close(FILE *f, char *buf, int rc)
{
	int e = errno;

	free(buf);
	fclose(f);
	errno = e;
	return rc;
}

int users_passwd(const char *path, const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw;
	size_t sz;
	char *buf;
	FILE *f = users_open(path, &buf, &sz);
	int rc;

	if (f == NULL)
		return -1;
	while ((rc = users_next(f, users_get_pw, &pw, &buf, &sz)) == 0) {
		if (strcmp(pw.pw_name, name) == 0) {
			*uid = pw.pw_uid;
			*gid = pw.pw_gid;
			return users_close(f, buf, 0);
		}
	}
	return users_close(f, buf, rc);
}

/* Add g to groups[] unless there already; counts past room so the caller learns the need. */
static void users_add(gid_t *groups, int room, int *count, gid_t g)
{
	for (int i = 0; i < *count && i < room; i++)
		if (groups[i] == g)
			return;
	if (*count < room)
		groups[*count] = g;
	(*count)++;
}

int users_groups(const char *path, const char *name, gid_t gid, gid_t *groups, int *n)
{
	struct group gr;
	size_t sz;
	char *buf;
	int room = *n, count = 0, rc;
	FILE *f = users_open(path, &buf, &sz);

	if (f == NULL)
		return -1;
	users_add(groups, room, &count, gid);
	while ((rc = users_next(f, users_get_gr, &gr, &buf, &sz)) == 0) {
		for (char **m = gr.gr_mem; m != NULL && *m != NULL; m++) {
			if (strcmp(*m, name) == 0) {
				users_add(groups, room, &count, gr.gr_gid);
				break;
			}
		}
	}
	if (rc < 0)
		return users_close(f, buf, -1);
	*n = count;
	return users_close(f, buf, count > room ? 1 : 0);
}

int users_group_name(const char *path, gid_t gid, char *out, size_t outsz)
{
	struct group gr;
	size_t sz;
	char *buf;
	FILE *f = users_open(path, &buf, &sz);
	int rc;

	if (f == NULL)
		return -1;
	while ((rc = users_next(f, users_get_gr, &gr, &buf, &sz)) == 0) {
		if (gr.gr_gid == gid) {
			size_t len = strlen(gr.gr_name);

			if (len >= outsz)
				return users_close(f, buf, 1);
			memcpy(out, gr.gr_name, len + 1);
			return users_close(f, buf, 0);
		}
	}
	return users_close(f, buf, rc);
}
