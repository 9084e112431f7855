/* secret.c - a random key for derived tokens, made on first use in a 0600 file beside the config. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static enum nl_err secret_path(const char *config_path, char *out, size_t cap)
{
	const char *cp = config_path && *config_path ? config_path : "config.yml";
	const char *slash = strrchr(cp, '/');
	int n = slash ? snprintf(out, cap, "%.*s/%s", (int)(slash - cp), cp, NL_SECRET_FILE)
		      : snprintf(out, cap, "%s", NL_SECRET_FILE);
	if (n < 0 || (size_t)n >= cap)
		return nl_errf(NL_ECONFIG, "%s: path too long", cp);
	return NL_OK;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ENOENT is returned as is (errno set), to make the file. */
static enum nl_err read_secret(const char *path, char out[NL_SECRET_HEX + 1], bool *missing)
{
	char buf[NL_SECRET_HEX + 2];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	*missing = fd < 0 && errno == ENOENT;
	if (*missing)
		return NL_OK;
	if (fd < 0)
		return nl_errf(NL_ENOINPUT, "%s: cannot read the token secret: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		bool reg = S_ISREG(st.st_mode);
		close(fd);
		if (!reg)
			return nl_errf(NL_ENOPERM, "%s: not a regular file", path);
		return nl_errf(NL_ENOPERM, "%s: the token secret may be read by others (mode %04o): anyone "
			       "who knows it can unsubscribe anyone; run 'chmod 600 %s' (and, if it leaked, "
			       "delete it: links already mailed then stop working)",
			       path, (unsigned)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n != NL_SECRET_HEX || !is_hex(buf, NL_SECRET_HEX))
		return nl_errf(NL_EDATA, "%s: not a token secret (64 hex digits expected)", path);
	memcpy(out, buf, NL_SECRET_HEX);
	out[NL_SECRET_HEX] = 0;
	return NL_OK;
}

static enum nl_err random_hex(char out[NL_SECRET_HEX + 1])
{
	unsigned char raw[NL_SECRET_HEX / 2];
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nl_errf(NL_EIO, "cannot get random bytes: %s", strerror(errno));
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return NL_OK;
}

/* The new name survives a crash too; a failure here only risks remaking it, so it is not fatal. */
static void sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1, slash ? path : ".");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Write a private temporary file, then link it into place: whole or not at all, first one wins. */
static enum nl_err make_secret(const char *path, bool *won)
{
	char tmp[4200], hex[NL_SECRET_HEX + 2];
	enum nl_err e = random_hex(hex);
	int fd;
	*won = false;
	if (e)
		return e;
	hex[NL_SECRET_HEX] = '\n';
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	unlink(tmp); /* a leftover of this very pid, from a crash */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot create the token secret: %s (or set 'secret' in "
			       "the config)", path, strerror(errno));
	if (fchmod(fd, 0600) || write(fd, hex, NL_SECRET_HEX + 1) != NL_SECRET_HEX + 1 || fsync(fd))
		e = nl_errf(NL_EIO, "%s: cannot write the token secret: %s", tmp, strerror(errno));
	close(fd);
	if (!e && link(tmp, path) == 0) {
		*won = true;
		sync_dir(path);
	} else if (!e && errno != EEXIST)
		e = nl_errf(NL_ECANTCREAT, "%s: cannot create the token secret: %s", path, strerror(errno));
	unlink(tmp);
	return e;
}

enum nl_err nl_secret_get(const char *config_path, char out[NL_SECRET_HEX + 1], bool *created)
{
	char path[4096];
	bool missing;
	enum nl_err e;
	*created = false;
	if ((e = secret_path(config_path, path, sizeof path)) || (e = read_secret(path, out, &missing)))
		return e;
	if (!missing)
		return NL_OK;
	if ((e = make_secret(path, created)) || (e = read_secret(path, out, &missing)))
		return e;
	return missing ? nl_errf(NL_EIO, "%s: vanished right after it was made", path) : NL_OK;
}
