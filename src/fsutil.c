/* fsutil.c - atomic file replacement and mkdir -p. */
#include "fsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum nl_err nl_mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n >= sizeof buf)
		return nl_errf(NL_ECANTCREAT, "%s: path too long", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0755) && errno != EEXIST)
				return nl_errf(NL_ECANTCREAT, "%s: cannot create folder: %s", buf,
					       strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return NL_OK;
}

static enum nl_err write_all(int fd, const char *p, size_t len, const char *path)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return nl_errf(NL_EIO, "%s: cannot write: %s", path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return NL_OK;
}

static enum nl_err write_via(const char *path, const char *tmp, const void *data, size_t len,
			     bool sync)
{
	enum nl_err e;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot create: %s", tmp, strerror(errno));
	e = write_all(fd, data, len, path);
	if (!e && sync && fsync(fd))
		e = nl_errf(NL_EIO, "%s: cannot sync: %s", path, strerror(errno));
	if (close(fd) && !e)
		e = nl_errf(NL_EIO, "%s: cannot close: %s", path, strerror(errno));
	if (!e && rename(tmp, path))
		e = nl_errf(NL_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
	if (e)
		unlink(tmp);
	return e;
}

enum nl_err nl_write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp)
		return nl_errf(NL_ECANTCREAT, "%s: path too long", path);
	return write_via(path, tmp, data, len, true);
}

enum nl_err nl_write_replace(const char *path, const char *tmp, const void *data, size_t len)
{
	return write_via(path, tmp, data, len, false);
}

enum nl_err nl_count_lines(const char *path, size_t *n)
{
	char buf[65536];
	ssize_t got;
	char last = '\n';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*n = 0;
	if (fd < 0)
		return nl_errf(NL_ENOINPUT, "%s: cannot open: %s", path, strerror(errno));
	while ((got = read(fd, buf, sizeof buf)) > 0) {
		for (const char *p = buf, *end = buf + got; (p = memchr(p, '\n', (size_t)(end - p))); p++)
			(*n)++;
		last = buf[got - 1];
	}
	close(fd);
	if (got < 0)
		return nl_errf(NL_EIO, "%s: cannot read: %s", path, strerror(errno));
	*n += last != '\n';
	return NL_OK;
}
