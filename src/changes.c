/* changes.c - the append-only change file of a list: its reader (latest line per key), folding, group-committed appends. */
#include "changes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrmap.h"
#include "hashmap.h"

struct nl_changes {
	struct nl_hashmap map;	/* hash of the key -> index into lines (uint32) */
	struct nl_buf arena;	/* "TIME\0KEY\0STATUS\0" per kept line */
	size_t *lines;		/* arena offsets */
	size_t n, cap, skipped;
	int fd;			/* the file read so far, kept to read on */
	dev_t dev;
	ino_t ino;
	off_t off;		/* bytes of it taken: up to the last newline */
};

enum nl_err nl_changes_path(const char *list_path, struct nl_buf *out)
{
	nl_buf_reset(out);
	nl_buf_addf(out, "%s.changes", list_path);
	return nl_buf_err(out);
}

struct nl_changes *nl_changes_new(void)
{
	struct nl_changes *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->map.vsize = sizeof(uint32_t);
	nl_buf_init(&c->arena);
	c->fd = -1;
	return c;
}

void nl_changes_free(struct nl_changes *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	nl_hashmap_free(&c->map);
	nl_buf_free(&c->arena);
	free(c->lines);
	free(c);
}

size_t nl_changes_count(const struct nl_changes *c)
{
	return c->n;
}

size_t nl_changes_skipped(const struct nl_changes *c)
{
	return c->skipped;
}

/* ---- parsing ---- */

static bool time_ok(const char *p, size_t n)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (n != NL_TIME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != shape[i])
			return false;
	return true;
}

static bool word_ok(const char *p, size_t n)
{
	if (!n || n > 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 'a' || p[i] > 'z')
			return false;
	return true;
}

/* A key is printable ASCII without spaces (a token, or an address as lists hold them). */
static bool key_ok(const char *p, size_t n)
{
	if (!n || n > 320)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
			return false;
	return true;
}

static enum nl_err keep(struct nl_changes *c, const char *t, const char *k, size_t kn, const char *s,
			size_t sn)
{
	size_t at = c->arena.len;
	void *slot;
	bool added;
	nl_buf_add(&c->arena, t, NL_TIME_LEN);
	nl_buf_addc(&c->arena, 0);
	nl_buf_add(&c->arena, k, kn);
	nl_buf_addc(&c->arena, 0);
	nl_buf_add(&c->arena, s, sn);
	nl_buf_addc(&c->arena, 0);
	if (nl_buf_err(&c->arena) || c->n >= UINT32_MAX)
		return NL_ENOMEM;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		size_t *l = realloc(c->lines, cap * sizeof *l);
		if (!l)
			return NL_ENOMEM;
		c->lines = l;
		c->cap = cap;
	}
	c->lines[c->n] = at;
	/* The hash needs the key alone: it is the arena's second field. */
	if (nl_hashmap_put(&c->map, nl_addr_hash(c->arena.data + at + NL_TIME_LEN + 1), &slot, &added))
		return NL_ENOMEM;
	uint32_t idx = (uint32_t)c->n++;
	memcpy(slot, &idx, sizeof idx); /* a later line for the key replaces the earlier */
	return NL_OK;
}

static void parse_line(struct nl_changes *c, const char *p, size_t n)
{
	const char *t1 = memchr(p, '\t', n);
	const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(p + n - t1 - 1)) : NULL;
	if (n && p[n - 1] == '\r')
		n--;
	if (!t2 || t2 >= p + n || !time_ok(p, (size_t)(t1 - p)) || !key_ok(t1 + 1, (size_t)(t2 - t1 - 1)) ||
	    !word_ok(t2 + 1, (size_t)(p + n - t2 - 1)) ||
	    keep(c, p, t1 + 1, (size_t)(t2 - t1 - 1), t2 + 1, (size_t)(p + n - t2 - 1)))
		c->skipped++;
}

void nl_changes_feed(struct nl_changes *c, const char *data, size_t len, size_t *used)
{
	const char *p = data, *end = data + len, *nl;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		if (nl - p <= NL_CHANGES_MAX_LINE)
			parse_line(c, p, (size_t)(nl - p));
		else
			c->skipped++;
		p = nl + 1;
	}
	*used = (size_t)(p - data);
}

/* ---- reading the file ---- */

/* From c->off to the end of c->fd, whole lines only. */
static enum nl_err read_on(struct nl_changes *c, const char *path)
{
	char buf[65536];
	size_t have = 0, used;
	for (;;) {
		ssize_t got = pread(c->fd, buf + have, sizeof buf - have, c->off + (off_t)have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return nl_errf(NL_EIO, "%s: cannot read: %s", path, strerror(errno));
		if (c->off + (off_t)have + got > NL_CHANGES_MAX_BYTES)
			return nl_errf(NL_EDATA, "%s: larger than a change file can be: run 'newsletter "
				       "subscribers add' or an import to fold it into the list", path);
		have += (size_t)got;
		nl_changes_feed(c, buf, have, &used);
		if (!used && have == sizeof buf) {
			/* A line longer than any change: skip it to its end. */
			const char *nl = NULL;
			c->skipped++;
			while (!nl && (got = pread(c->fd, buf, sizeof buf, c->off)) > 0) {
				nl = memchr(buf, '\n', (size_t)got);
				c->off += nl ? (off_t)(nl - buf + 1) : got;
			}
			have = 0;
			if (got <= 0)
				return NL_OK;
			continue;
		}
		c->off += (off_t)used;
		memmove(buf, buf + used, have - used);
		have -= used;
		if (got == 0)
			return NL_OK; /* what is left is a torn last line: not a change */
	}
}

enum nl_err nl_changes_read(struct nl_changes *c, const char *path)
{
	struct stat st;
	enum nl_err e;
	if (c->fd >= 0 && (e = read_on(c, path)))
		return e;
	if (stat(path, &st)) {
		if (errno == ENOENT)
			return NL_OK;
		return nl_errf(NL_EIO, "%s: %s", path, strerror(errno));
	}
	if (c->fd >= 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		return NL_OK;
	/* New, or replaced by a fold: what it holds now was not folded, so all of it counts. */
	if (c->fd >= 0)
		close(c->fd);
	c->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (c->fd < 0)
		return errno == ENOENT ? NL_OK : nl_errf(NL_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(c->fd, &st) || !S_ISREG(st.st_mode))
		return nl_errf(NL_EDATA, "%s: not a regular file", path);
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->off = 0;
	return read_on(c, path);
}

void nl_changes_line(const struct nl_changes *c, size_t i, const char **when, const char **key,
		     const char **status)
{
	*when = c->arena.data + c->lines[i];
	*key = *when + NL_TIME_LEN + 1;
	*status = *key + strlen(*key) + 1;
}

bool nl_changes_lookup(const struct nl_changes *c, const char *email, const char *token,
		       const char *updated_at, const char **status, const char **when)
{
	const char *keys[2] = {token, email};
	long best = -1;
	if (!c || !c->n)
		return false;
	for (size_t i = 0; i < 2; i++) {
		if (!keys[i] || !*keys[i])
			continue;
		const uint32_t *v = nl_hashmap_get(&c->map, nl_addr_hash(keys[i]));
		if (v && (long)*v > best && !strcasecmp(c->arena.data + c->lines[*v] + NL_TIME_LEN + 1, keys[i]))
			best = (long)*v;
	}
	if (best < 0)
		return false;
	const char *line = c->arena.data + c->lines[best];
	/* A row rewritten after the change (both in our own format) keeps what the rewrite said. */
	if (updated_at && time_ok(updated_at, strlen(updated_at)) && strcmp(line, updated_at) < 0)
		return false;
	*when = line;
	*status = line + NL_TIME_LEN + 1 + strlen(line + NL_TIME_LEN + 1) + 1;
	return true;
}

/* ---- folding ---- */

static enum nl_err sync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + (slash == path), path)
		      : snprintf(dir, sizeof dir, ".");
	int fd = n > 0 && (size_t)n < sizeof dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd < 0 || fsync(fd)) {
		if (fd >= 0)
			close(fd);
		return nl_errf(NL_EIO, "%s: cannot sync its folder: %s", path, strerror(errno));
	}
	close(fd);
	return NL_OK;
}

/* The bytes of fd from off on (what appenders added after the rewrite read the file). */
static enum nl_err tail_of(int fd, off_t off, const char *path, struct nl_buf *tail)
{
	char buf[65536];
	ssize_t got;
	while ((got = pread(fd, buf, sizeof buf, off)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return nl_errf(NL_EIO, "%s: cannot read: %s", path, strerror(errno));
		nl_buf_add(tail, buf, (size_t)got);
		off += got;
	}
	return nl_buf_err(tail);
}

static enum nl_err replace_with(const char *path, const struct nl_buf *tail)
{
	struct nl_buf tmp = NL_BUF_INIT;
	enum nl_err e = NL_OK;
	nl_buf_addf(&tmp, "%s.tmp", path);
	if (nl_buf_err(&tmp))
		return NL_ENOMEM;
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		e = nl_errf(NL_ECANTCREAT, "%s: cannot create: %s", tmp.data, strerror(errno));
	else if ((tail->len && write(fd, tail->data, tail->len) != (ssize_t)tail->len) || fsync(fd))
		e = nl_errf(NL_EIO, "%s: cannot write: %s", tmp.data, strerror(errno));
	if (fd >= 0 && close(fd) && !e)
		e = nl_errf(NL_EIO, "%s: cannot close: %s", tmp.data, strerror(errno));
	if (!e && rename(tmp.data, path))
		e = nl_errf(NL_EIO, "%s: cannot replace: %s", path, strerror(errno));
	if (e && fd >= 0)
		unlink(tmp.data);
	nl_buf_free(&tmp);
	return e ? e : sync_parent(path);
}

enum nl_err nl_changes_fold(const struct nl_changes *c, const char *path)
{
	struct nl_buf tail = NL_BUF_INIT;
	struct stat st;
	enum nl_err e;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? NL_OK : nl_errf(NL_EIO, "%s: cannot open: %s", path, strerror(errno));
	/* Appenders wait while the file is swapped, then find the new one. */
	if (flock(fd, LOCK_EX) || fstat(fd, &st)) {
		e = nl_errf(NL_EIO, "%s: cannot lock: %s", path, strerror(errno));
		goto out;
	}
	bool same = c && c->fd >= 0 && st.st_dev == c->dev && st.st_ino == c->ino;
	if ((e = tail_of(fd, same ? c->off : 0, path, &tail)))
		goto out;
	/* Under the lock no append is half done: a line without its newline is a crash's, and goes. */
	while (tail.len && tail.data[tail.len - 1] != '\n')
		nl_buf_truncate(&tail, tail.len - 1);
	if (same && !tail.len)
		e = unlink(path) ? nl_errf(NL_EIO, "%s: cannot remove: %s", path, strerror(errno)) : sync_parent(path);
	else if (same)
		e = replace_with(path, &tail);
out:
	close(fd);
	nl_buf_free(&tail);
	return e;
}

/* ---- appending ---- */

struct nl_changelog {
	char *path;
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t done_cv;
	struct nl_buf batch;	/* lines waiting for the next write */
	struct nl_buf writing;	/* the batch being written, off the lock */
	uint64_t filling;	/* number of the batch lines now join */
	uint64_t synced;	/* every batch up to this one is on disk */
	bool busy;		/* a thread is writing a batch */
	enum nl_err broken;	/* a failed write: every later append fails too */
	char why[256];
};

/* Open (or create) the file at path, reopening when a fold replaced or removed it. */
static enum nl_err reopen(struct nl_changelog *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot open: %s", w->path, strerror(errno));
	return NL_OK;
}

/* Lock the file that is at path now (a fold may have swapped it while we waited). */
static enum nl_err lock_current(struct nl_changelog *w)
{
	for (int tries = 0; tries < 100; tries++) {
		struct stat a, b;
		if (w->fd < 0 && reopen(w))
			return NL_ECANTCREAT;
		if (flock(w->fd, LOCK_EX))
			return nl_errf(NL_EIO, "%s: cannot lock: %s", w->path, strerror(errno));
		if (!fstat(w->fd, &a) && !stat(w->path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return NL_OK;
		flock(w->fd, LOCK_UN);
		if (reopen(w))
			return NL_ECANTCREAT;
	}
	return nl_errf(NL_EIO, "%s: keeps being replaced", w->path);
}

/* One write and one fdatasync for the whole batch; a torn last line is ended first. */
static enum nl_err write_batch(struct nl_changelog *w, const struct nl_buf *b)
{
	struct stat st;
	char last = '\n';
	enum nl_err e = lock_current(w);
	if (e)
		return e;
	if (!fstat(w->fd, &st) && st.st_size > 0) {
		int rfd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (rfd >= 0 && pread(rfd, &last, 1, st.st_size - 1) != 1)
			last = '\n';
		if (rfd >= 0)
			close(rfd);
	}
	if (last != '\n' && write(w->fd, "\n", 1) != 1)
		e = nl_errf(NL_EIO, "%s: cannot write: %s", w->path, strerror(errno));
	if (!e && b->len && write(w->fd, b->data, b->len) != (ssize_t)b->len)
		e = nl_errf(NL_EIO, "%s: cannot write: %s", w->path, strerror(errno));
	if (!e && fdatasync(w->fd))
		e = nl_errf(NL_EIO, "%s: cannot sync: %s", w->path, strerror(errno));
	flock(w->fd, LOCK_UN);
	return e;
}

enum nl_err nl_changelog_open(const char *path, struct nl_changelog **out)
{
	struct nl_changelog *w = calloc(1, sizeof *w);
	*out = NULL;
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	w->fd = -1;
	nl_buf_init(&w->batch);
	nl_buf_init(&w->writing);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	w->filling = 1;
	enum nl_err e = reopen(w);
	if (e) {
		nl_changelog_close(w);
		return e;
	}
	*out = w;
	return NL_OK;
}

void nl_changelog_close(struct nl_changelog *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->done_cv);
	nl_buf_free(&w->batch);
	nl_buf_free(&w->writing);
	free(w->path);
	free(w);
}

static void add_line(struct nl_buf *b, const char *key, const char *status, time_t now)
{
	char t[NL_TIME_LEN + 1];
	nl_time_rfc3339(now, t);
	nl_buf_addf(b, "%s\t%s\t%s\n", t, key, status);
}

static bool line_ok(const char *key, const char *status)
{
	return key_ok(key, strlen(key)) && word_ok(status, strlen(status));
}

/* The leader writes the batch that is filling; everyone in it waits for that one sync. */
static void lead(struct nl_changelog *w)
{
	uint64_t n = w->filling++;
	struct nl_buf t = w->writing;
	w->writing = w->batch;
	w->batch = t;
	nl_buf_reset(&w->batch);
	w->busy = true;
	pthread_mutex_unlock(&w->mu);
	enum nl_err e = write_batch(w, &w->writing);
	pthread_mutex_lock(&w->mu);
	if (e && !w->broken) {
		w->broken = e;
		snprintf(w->why, sizeof w->why, "%s", nl_errmsg());
	}
	w->synced = n;
	w->busy = false;
	pthread_cond_broadcast(&w->done_cv);
}

enum nl_err nl_changelog_append(struct nl_changelog *w, const char *key, const char *status, time_t now)
{
	enum nl_err e;
	if (key && !line_ok(key, status))
		return nl_errf(NL_EINTERNAL, "not a change: '%s' '%s'", key, status);
	pthread_mutex_lock(&w->mu);
	if (key)
		add_line(&w->batch, key, status, now);
	uint64_t mine = w->filling;
	while (w->synced < mine && !w->broken) {
		if (!w->busy)
			lead(w);
		else
			pthread_cond_wait(&w->done_cv, &w->mu);
	}
	e = w->broken;
	if (e)
		nl_errf(e, "%s", w->why);
	pthread_mutex_unlock(&w->mu);
	return e;
}

enum nl_err nl_changes_append1(const char *path, const char *key, const char *status, time_t now)
{
	struct nl_changelog *w;
	enum nl_err e = nl_changelog_open(path, &w);
	if (!e)
		e = nl_changelog_append(w, key, status, now);
	nl_changelog_close(w);
	return e;
}
