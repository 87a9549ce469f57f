/*
 * The default work directory: $HOME, else the home field of our uid in
 * /etc/passwd, read by hand -- the runner is static, so getpwuid() and NSS
 * are not an option.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"

#define HOME_PASSWD "/etc/passwd"
#define HOME_PASSWD_MAX (1024 * 1024)
#define HOME_FIELDS 7 /* name:passwd:uid:gid:gecos:home:shell */

/* Splits line[0..len) at ':' into at most HOME_FIELDS fields. */
static int home_fields(const char *line, size_t len, const char *f[HOME_FIELDS],
                       size_t flen[HOME_FIELDS])
{
	const char *end = line + len, *c = line, *colon;
	int n = 0;

	while (n < HOME_FIELDS) {
		colon = memchr(c, ':', (size_t)(end - c));
		f[n] = c;
		flen[n] = (size_t)((colon ? colon : end) - c);
		n++;
		if (colon == NULL)
			break;
		c = colon + 1;
	}
	return n;
}

static bool home_uid_is(const char *s, size_t n, uid_t uid)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v == (unsigned long)uid;
}

int runner_passwd_home(const char *text, size_t len, uid_t uid, char *out, size_t outsz)
{
	const char *line = text, *end = text + len, *nl, *f[HOME_FIELDS];
	size_t flen[HOME_FIELDS], n;

	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		n = (size_t)(nl - line);
		if (n > 0 && line[0] == '#')
			continue;
		if (home_fields(line, n, f, flen) < 6 || !home_uid_is(f[2], flen[2], uid))
			continue;
		if (flen[5] == 0 || flen[5] >= outsz || memchr(f[5], '\0', flen[5]) != NULL)
			return -1;
		memcpy(out, f[5], flen[5]);
		out[flen[5]] = '\0';
		return 0;
	}
	return -1;
}

static ssize_t home_read(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < cap && ((n = read(fd, buf + len, cap - len)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	close(fd);
	return (ssize_t)len;
}

int runner_home(char *out, size_t outsz, char *err, size_t errsz)
{
	const char *env = getenv("HOME");
	char *text;
	ssize_t len;
	int rc = -1;

	if (env != NULL && env[0] != '\0') {
		if (strlen(env) >= outsz) {
			snprintf(err, errsz, "$HOME is too long");
			return -1;
		}
		snprintf(out, outsz, "%s", env);
		return 0;
	}
	text = malloc(HOME_PASSWD_MAX);
	if (text == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	len = home_read(HOME_PASSWD, text, HOME_PASSWD_MAX);
	if (len < 0)
		snprintf(err, errsz, "no $HOME and open %s: %s", HOME_PASSWD, strerror(errno));
	else if (runner_passwd_home(text, (size_t)len, getuid(), out, outsz) < 0)
		snprintf(err, errsz, "no $HOME and no home for uid %u in %s", (unsigned)getuid(),
		         HOME_PASSWD);
	else
		rc = 0;
	free(text);
	return rc;
}
