/* maildir.c - a Maildir as an inbox source: new/ to cur/ once handled (rename is atomic, so runs never double up). */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"

/* Names in a Maildir are short; a huge folder is read in batches of this many. */
#define MAX_BATCH 10000

enum nl_err nl_read_message(int fd, const char *name, char **data, size_t *len)
{
	struct nl_buf b = NL_BUF_INIT;
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nl_buf_free(&b);
			return nl_errf(NL_EIO, "%s: cannot read: %s", name, strerror(errno));
		}
		nl_buf_add(&b, chunk, (size_t)n);
		if (b.len > NL_BOUNCE_MAX_BYTES)
			break; /* enough to know it is too big */
	}
	enum nl_err e = nl_buf_err(&b);
	if (e) {
		nl_buf_free(&b);
		return e;
	}
	*data = nl_buf_detach(&b, len);
	return *data ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum nl_err list_new(const char *dir, char ***names, size_t *n)
{
	struct nl_buf p = NL_BUF_INIT;
	nl_buf_addf(&p, "%s/new", dir);
	DIR *d = nl_buf_err(&p) ? NULL : opendir(p.data);
	struct dirent *de;
	enum nl_err e = NL_OK;
	*names = NULL;
	*n = 0;
	if (!d) {
		e = nl_errf(NL_ENOINPUT, "%s: not a Maildir (cannot open %s: %s)", dir, p.data, strerror(errno));
		nl_buf_free(&p);
		return e;
	}
	nl_buf_free(&p);
	size_t cap = 0;
	while (!e && *n < MAX_BATCH && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			char **v = realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof *v);
			if (!v) {
				e = nl_errf(NL_ENOMEM, "out of memory");
				break;
			}
			*names = v;
		}
		if (!((*names)[*n] = strdup(de->d_name)))
			e = nl_errf(NL_ENOMEM, "out of memory");
		else
			(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_names);
	return e;
}

/* new/NAME to cur/NAME:2,S (or :2, for a person to read). */
static enum nl_err move_to_cur(const char *dir, const char *name, bool seen)
{
	struct nl_buf from = NL_BUF_INIT, to = NL_BUF_INIT;
	enum nl_err e;
	nl_buf_addf(&from, "%s/new/%s", dir, name);
	nl_buf_addf(&to, "%s/cur/%s%s", dir, name, strstr(name, ":2,") ? "" : seen ? ":2,S" : ":2,");
	if (!(e = nl_buf_err(&from)) && !(e = nl_buf_err(&to)) && rename(from.data, to.data))
		e = nl_errf(NL_EIO, "%s: cannot move to cur/: %s", from.data, strerror(errno));
	nl_buf_free(&from);
	nl_buf_free(&to);
	return e;
}

static enum nl_err one(const char *dir, const char *name, bool dry_run, nl_src_fn fn, void *ctx)
{
	struct nl_buf p = NL_BUF_INIT;
	char *data = NULL;
	size_t len = 0;
	enum nl_src_verdict v = NL_SRC_RETRY;
	enum nl_err e;
	nl_buf_addf(&p, "%s/new/%s", dir, name);
	if ((e = nl_buf_err(&p)))
		return e;
	int fd = open(p.data, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		/* Another run took it meanwhile: it is theirs. */
		e = errno == ENOENT ? NL_OK : nl_errf(NL_EIO, "%s: cannot open: %s", p.data, strerror(errno));
		nl_buf_free(&p);
		return e;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		e = nl_errf(NL_EDATA, "%s: not a regular file", p.data);
	else if (!(e = nl_read_message(fd, p.data, &data, &len)))
		e = fn(ctx, name, data, len, &v);
	close(fd);
	free(data);
	nl_buf_free(&p);
	if (e || dry_run || v == NL_SRC_RETRY)
		return e;
	return move_to_cur(dir, name, v == NL_SRC_DONE);
}

enum nl_err nl_maildir_each(const char *dir, bool dry_run, volatile sig_atomic_t *interrupted,
			    nl_src_fn fn, void *ctx)
{
	char **names;
	size_t n, i;
	enum nl_err e = list_new(dir, &names, &n);
	for (i = 0; !e && i < n; i++) {
		if (interrupted && *interrupted) {
			e = nl_errf(NL_EINTERRUPTED, "interrupted");
			break;
		}
		e = one(dir, names[i], dry_run, fn, ctx);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return e;
}
