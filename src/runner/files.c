/*
 * Writing the payload's files under the work directory.  A name is a
 * relative path of '/'-separated components; every component is checked by
 * hand, and every step is an *at() call relative to the directory fd just
 * opened with O_NOFOLLOW, so no symlink -- one planted by an earlier file,
 * or already in the work directory -- is ever followed, and nothing is
 * written outside the work directory.  Files are created with O_EXCL: an
 * existing file (or link) is never overwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner.h"

#define FILES_MODE 0644
#define FILES_DIR_MODE 0755
#define FILES_SHOW 200 /* bytes of a refused name quoted in the message */

__attribute__((format(printf, 4, 5))) static int
files_fail(char *err, size_t errsz, const struct runner_bytes *name, const char *fmt, ...)
{
	char why[RUNNER_ERR_MAX];
	va_list ap;
	int show = (int)(name->len < FILES_SHOW ? name->len : FILES_SHOW);

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errsz, "File name \"%.*s\" refused: %s", show, name->p, why);
	return -1;
}

/* The checks that need no file system: every refusal here is by name. */
static int files_check_name(const struct runner_bytes *name, char *err, size_t errsz)
{
	const char *c, *end = name->p + name->len, *slash;

	if (name->len == 0)
		return files_fail(err, errsz, name, "empty name");
	if (memchr(name->p, '\0', name->len) != NULL)
		return files_fail(err, errsz, name, "contains U+0000");
	if (name->len >= RUNNER_MAX_NAME)
		return files_fail(err, errsz, name, "longer than %d bytes", RUNNER_MAX_NAME - 1);
	if (name->p[0] == '/')
		return files_fail(err, errsz, name, "absolute names are not allowed");
	for (c = name->p; c <= end; c = slash + 1) {
		slash = memchr(c, '/', (size_t)(end - c));
		if (slash == NULL)
			slash = end;
		if (slash == c)
			return files_fail(err, errsz, name, "empty path component");
		if (slash - c == 2 && c[0] == '.' && c[1] == '.')
			return files_fail(err, errsz, name, "'..' components are not allowed");
		if (slash - c == 1 && c[0] == '.')
			return files_fail(err, errsz, name, "'.' components are not allowed");
	}
	return 0;
}

/* Opens (making it if needed) the directory comp under dirfd, never via a link. */
static int files_subdir(int dirfd, const char *comp, const struct runner_bytes *name, char *err,
                        size_t errsz)
{
	int fd;

	if (mkdirat(dirfd, comp, FILES_DIR_MODE) < 0 && errno != EEXIST)
		return files_fail(err, errsz, name, "mkdir %s: %s", comp, strerror(errno));
	fd = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return files_fail(err, errsz, name, "%s is a symlink or not a directory", comp);
	if (fd < 0)
		return files_fail(err, errsz, name, "open %s: %s", comp, strerror(errno));
	return fd;
}

static int files_write_all(int fd, const struct runner_bytes *content,
                           const struct runner_bytes *name, char *err, size_t errsz)
{
	size_t off = 0;
	ssize_t n;

	while (off < content->len) {
		n = write(fd, content->p + off, content->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return files_fail(err, errsz, name, "write: %s", strerror(errno));
		off += (size_t)n;
	}
	return 0;
}

int runner_file_write(int dirfd, const struct runner_bytes *name,
                      const struct runner_bytes *content, char *err, size_t errsz)
{
	char path[RUNNER_MAX_NAME];
	char *comp, *slash;
	int cur = dirfd, fd = -1, rc = -1;

	if (files_check_name(name, err, errsz) < 0)
		return -1;
	memcpy(path, name->p, name->len + 1);
	for (comp = path; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
		int next;

		*slash = '\0';
		next = files_subdir(cur, comp, name, err, errsz);
		if (next < 0)
			goto out;
		if (cur != dirfd)
			close(cur);
		cur = next;
	}
	fd = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, FILES_MODE);
	if (fd < 0 && errno == EEXIST) {
		files_fail(err, errsz, name,
		           "a file, directory or link of that name already exists");
		goto out;
	}
	if (fd < 0) {
		files_fail(err, errsz, name, "create: %s", strerror(errno));
		goto out;
	}
	if (files_write_all(fd, content, name, err, errsz) < 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = files_fail(err, errsz, name, "close: %s", strerror(errno));
	if (cur != dirfd)
		close(cur);
	return rc;
}

int runner_files_write(int dirfd, const struct runner_payload *p, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < p->nfiles; i++)
		if (runner_file_write(dirfd, &p->files[i].name, &p->files[i].content, err, errsz) <
		    0)
			return -1;
	return 0;
}
