/* subsdb.c - lock, read-modify-write and atomic durable rewrite of a subscriber list. */
#include "subsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "changes.h"
#include "csv.h"
#include "fsutil.h"
#include "utf8.h"

#define OUT_CHUNK ((size_t)1 << 17)

struct nl_subsdb {
	struct nl_subsdb_opts o;
	char *path, *dir, *tmp, *lockpath;
	int lockfd, outfd;
	struct nl_list *list;		/* the old list, read through the one list reader */
	mode_t mode;			/* of the old list, kept for the new one */
	char *cols[NL_CSV_MAX_FIELDS];	/* output column names */
	size_t ncols;
	const char *fields[NL_CSV_MAX_FIELDS];	/* a new row's */
	struct nl_sub row;
	struct nl_buf out;
	bool begun, committed;
	char now[NL_TIME_LEN + 1];
};


/* ---- the lock ---- */

static void write_holder(struct nl_subsdb *db)
{
	char line[256];
	int n = snprintf(line, sizeof line, "pid %ld since %s: %s\n", (long)getpid(), db->now,
			 db->o.what ? db->o.what : "newsletter");
	if (n > 0 && !ftruncate(db->lockfd, 0) && pwrite(db->lockfd, line, (size_t)n, 0) < 0)
		return; /* the holder line is a courtesy; the flock is what counts */
}

static enum nl_err locked_error(struct nl_subsdb *db)
{
	char holder[256];
	ssize_t n = pread(db->lockfd, holder, sizeof holder - 1, 0);
	holder[n > 0 ? n : 0] = 0;
	holder[strcspn(holder, "\r\n")] = 0;
	return nl_errf(NL_ELOCKED, "%s: still locked by another writer after %d s (%s); try again later",
		       db->path, NL_SUBSDB_LOCK_WAIT, holder[0] ? holder : "holder unknown");
}

/* Writers take turns; readers never lock, since the list is only ever replaced whole. */
static enum nl_err take_lock(struct nl_subsdb *db)
{
	struct timespec nap = {0, 1000000};
	time_t deadline = time(NULL) + NL_SUBSDB_LOCK_WAIT;
	int err;
	db->lockfd = open(db->lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	err = errno;
	/* flock works on a read-only descriptor: a lock file we cannot write still serves. */
	if (db->lockfd < 0 && (err == EACCES || err == EROFS))
		db->lockfd = open(db->lockpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (db->lockfd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot create the lock file: %s; the list is unchanged",
			       db->lockpath, strerror(err));
	while (flock(db->lockfd, LOCK_EX | LOCK_NB)) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return nl_errf(NL_EIO, "%s: cannot lock: %s", db->lockpath, strerror(errno));
		if (time(NULL) >= deadline)
			return locked_error(db);
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 32000000)
			nap.tv_nsec *= 2;
	}
	write_holder(db);
	return NL_OK;
}

/* ---- opening ---- */

static enum nl_err add_col(struct nl_subsdb *db, const char *name, size_t *idx)
{
	if (db->ncols == NL_CSV_MAX_FIELDS)
		return nl_errf(NL_EDATA, "%s: more than %d columns", db->path, NL_CSV_MAX_FIELDS);
	if (!(db->cols[db->ncols] = strdup(name)))
		return nl_errf(NL_ENOMEM, "out of memory");
	*idx = db->ncols++;
	return NL_OK;
}

static int find_col(const struct nl_subsdb *db, const char *name)
{
	for (size_t i = 0; i < db->ncols; i++)
		if (!strcasecmp(db->cols[i], name))
			return (int)i;
	return -1;
}

/* The old list through the one reader; the output starts with its columns. */
static enum nl_err open_old(struct nl_subsdb *db)
{
	struct nl_list_opts lo = {.secret = db->o.secret, .list_id = db->o.list_id, .fill_tokens = true,
				  .missing_ok = db->o.write || db->o.missing_ok};
	size_t idx;
	enum nl_err e = nl_list_open(db->path, &lo, &db->list);
	if (e)
		return e;
	db->mode = nl_list_mode(db->list);
	for (size_t i = 0; i < nl_list_ncols(db->list); i++)
		if ((e = add_col(db, nl_list_colname(db->list, i), &idx)))
			return e;
	return NL_OK;
}

/* Before any lock file is made beside it: a device or a pipe is not a list (no /dev/null.lock). */
static enum nl_err regular_or_missing(struct nl_subsdb *db)
{
	struct stat st;
	if (stat(db->path, &st))
		return errno == ENOENT ? NL_OK : nl_errf(NL_ENOINPUT, "%s: %s", db->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return nl_errf(NL_ENOINPUT, "%s: not a regular file: a subscriber list is a CSV file", db->path);
	return NL_OK;
}

static enum nl_err set_paths(struct nl_subsdb *db, const char *path)
{
	const char *slash = strrchr(path, '/');
	struct nl_buf b = NL_BUF_INIT;
	db->path = strdup(path);
	db->dir = slash ? nl_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	nl_buf_addf(&b, "%s.tmp", path);
	db->tmp = nl_buf_detach(&b, NULL);
	nl_buf_addf(&b, "%s.lock", path);
	db->lockpath = nl_buf_detach(&b, NULL);
	nl_buf_free(&b);
	if (!db->path || !db->dir || !db->tmp || !db->lockpath)
		return nl_errf(NL_ENOMEM, "out of memory");
	return NL_OK;
}

enum nl_err nl_subsdb_open(const char *path, const struct nl_subsdb_opts *o, struct nl_subsdb **out)
{
	struct nl_subsdb *db = calloc(1, sizeof *db);
	enum nl_err e;
	*out = NULL;
	if (!db)
		return nl_errf(NL_ENOMEM, "out of memory");
	db->o = *o;
	db->lockfd = db->outfd = -1;
	db->mode = 0600; /* a new list holds personal data: owner only */
	db->row.f = db->fields;
	db->row.cols = db->fields;
	nl_buf_init(&db->out);
	nl_time_rfc3339(o->now ? o->now : time(NULL), db->now);
	if ((e = set_paths(db, path)))
		goto out;
	if (o->write && ((e = regular_or_missing(db)) || (e = nl_mkdirs(db->dir)) || (e = take_lock(db))))
		goto out;
	e = open_old(db);
out:
	if (e)
		nl_subsdb_close(db);
	else
		*out = db;
	return e;
}

void nl_subsdb_close(struct nl_subsdb *db)
{
	if (!db)
		return;
	if (db->outfd >= 0)
		close(db->outfd);
	if (db->begun && !db->committed)
		unlink(db->tmp);
	nl_list_close(db->list);
	if (db->lockfd >= 0)
		close(db->lockfd); /* releases the flock */
	for (size_t i = 0; i < db->ncols; i++)
		free(db->cols[i]);
	nl_buf_free(&db->out);
	free(db->path);
	free(db->dir);
	free(db->tmp);
	free(db->lockpath);
	free(db);
}

const char *nl_subsdb_path(const struct nl_subsdb *db)
{
	return db->path;
}

const char *nl_subsdb_dir(const struct nl_subsdb *db)
{
	return db->dir;
}

bool nl_subsdb_existed(const struct nl_subsdb *db)
{
	return db->list && nl_list_existed(db->list);
}

size_t nl_subsdb_ncols(const struct nl_subsdb *db)
{
	return db->ncols;
}

const char *nl_subsdb_colname(const struct nl_subsdb *db, size_t i)
{
	return i < db->ncols ? db->cols[i] : NULL;
}

const char *nl_subsdb_now(const struct nl_subsdb *db)
{
	return db->now;
}

enum nl_err nl_subsdb_column(struct nl_subsdb *db, const char *name, size_t *idx)
{
	int i = find_col(db, name);
	if (i >= 0) {
		*idx = (size_t)i;
		return NL_OK;
	}
	if (db->begun)
		return nl_errf(NL_EINTERNAL, "%s: column '%s' added after the header was written",
			       db->path, name);
	return add_col(db, name, idx);
}

/* ---- reading ---- */

enum nl_err nl_subsdb_next(struct nl_subsdb *db, struct nl_sub **row, bool *eof)
{
	enum nl_err e = nl_list_next(db->list, row, eof);
	if (e || *eof)
		return e;
	if ((*row)->skip == NL_SKIP_COLUMNS)
		return nl_errf(NL_EDATA, "%s:%zu: more fields than the header has (a missing quote?): "
			       "fix this row first; nothing was changed", db->path, (*row)->line);
	for (size_t i = nl_list_ncols(db->list); i < db->ncols; i++)
		(*row)->f[i] = ""; /* columns this run added */
	return NL_OK;
}

struct nl_sub *nl_subsdb_new_row(struct nl_subsdb *db)
{
	nl_sub_init(&db->row, db->fields, db->ncols, "", "");
	db->row.f[NL_COL_STATUS] = "";
	db->row.status = NL_STATUS_UNKNOWN;
	return &db->row;
}

/* ---- writing ---- */

static enum nl_err write_err(struct nl_subsdb *db, const char *what, int err)
{
	return nl_errf(err == ENOSPC || err == EDQUOT || err == EFBIG || err == EIO ? NL_EIO : NL_ECANTCREAT,
		       "%s: cannot %s the new list: %s; the list is unchanged", db->path, what, strerror(err));
}

static enum nl_err flush_out(struct nl_subsdb *db)
{
	const char *p = db->out.data;
	size_t n = db->out.len;
	enum nl_err e = nl_buf_err(&db->out);
	if (e)
		return e;
	while (n) {
		ssize_t w = write(db->outfd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return write_err(db, "write", errno);
		p += w;
		n -= (size_t)w;
	}
	nl_buf_reset(&db->out);
	return NL_OK;
}

enum nl_err nl_subsdb_begin(struct nl_subsdb *db)
{
	if (db->begun || !db->o.write)
		return NL_OK;
	/* Only the lock holder writes PATH.tmp, so a fixed name is safe and a crash's leftover is reused. */
	db->outfd = open(db->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, db->mode);
	if (db->outfd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot create a temporary file in %s: %s; the list is unchanged",
			       db->tmp, db->dir, strerror(errno));
	db->begun = true;
	if (fchmod(db->outfd, db->mode))
		return write_err(db, "set the mode of", errno);
	nl_csv_put_record(&db->out, (const char *const *)db->cols, db->ncols);
	return NL_OK;
}

enum nl_err nl_subsdb_put(struct nl_subsdb *db, const struct nl_sub *row)
{
	enum nl_err e;
	if (!db->o.write)
		return NL_OK;
	if (!db->begun && (e = nl_subsdb_begin(db)))
		return e;
	nl_csv_put_record(&db->out, row->cols, db->ncols);
	return db->out.len >= OUT_CHUNK ? flush_out(db) : NL_OK;
}

static enum nl_err sync_dir(struct nl_subsdb *db)
{
	int fd = open(db->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return nl_errf(NL_EIO, "%s: the new list is in place but its folder could not be synced: %s",
			       db->path, strerror(err));
	}
	close(fd);
	return NL_OK;
}

enum nl_err nl_subsdb_commit(struct nl_subsdb *db)
{
	enum nl_err e;
	if (!db->o.write)
		return NL_OK;
	if ((e = nl_subsdb_begin(db)) || (e = flush_out(db)))
		return e;
	if (fsync(db->outfd))
		return write_err(db, "sync", errno);
	int fd = db->outfd;
	db->outfd = -1;
	if (close(fd))
		return write_err(db, "close", errno);
	if (rename(db->tmp, db->path))
		return write_err(db, "rename into place", errno);
	db->committed = true;
	if ((e = sync_dir(db)))
		return e;
	/* The new list holds the changes it read; a crash before this only applies them twice. */
	return nl_changes_fold(nl_list_changes(db->list), nl_list_changes_path(db->list));
}

/* ---- changes to one address ---- */

static void result_from(struct nl_subsdb_result *res, const struct nl_sub *r)
{
	snprintf(res->email, sizeof res->email, "%s", r->f[NL_COL_EMAIL]);
	snprintf(res->since, sizeof res->since, "%s", r->f[NL_COL_UPDATED]);
	res->was = r->status;
}

static enum nl_err check_address(const char *email)
{
	const char *why;
	if (!nl_addr_valid(email, strlen(email), &why))
		return nl_errf(NL_EDATA, "'%s': not a usable address: %s", email, why);
	return NL_OK;
}

/* The new status for a row, by the suppression rules; false if refused. */
static bool next_status(enum nl_status was, enum nl_status want, bool force, enum nl_status *now)
{
	*now = was;
	if (nl_status_suppressed(want)) {
		if (!nl_status_suppressed(was))
			*now = want;
		return true;
	}
	if (nl_status_suppressed(was) && !force)
		return false;
	if (!(was == NL_STATUS_ACTIVE && want == NL_STATUS_PENDING))
		*now = want; /* adding someone as pending does not unconfirm them */
	return true;
}

static void apply(struct nl_subsdb *db, struct nl_sub *r, enum nl_status st, const char *name,
		  bool force, struct nl_subsdb_result *res)
{
	enum nl_status now;
	bool changed = false;
	result_from(res, r);
	if (!next_status(r->status, st, force, &now)) {
		res->change = NL_CHANGE_REFUSED;
		return;
	}
	if (now != r->status) {
		r->f[NL_COL_STATUS] = nl_status_name(now);
		changed = true;
	}
	if (name && *name && strcmp(name, r->f[NL_COL_NAME])) {
		r->f[NL_COL_NAME] = name;
		changed = true;
	}
	res->now = now;
	if (changed) {
		r->f[NL_COL_UPDATED] = db->now;
		res->rows++;
		res->change = NL_CHANGE_UPDATED;
	}
}

static enum nl_err append_new(struct nl_subsdb *db, const char *email, const char *name,
			      enum nl_status st, struct nl_subsdb_result *res)
{
	struct nl_sub *r = nl_subsdb_new_row(db);
	char token[NL_TOKEN_LEN + 1];
	nl_token_new(token);
	r->f[NL_COL_EMAIL] = email;
	r->f[NL_COL_NAME] = name ? name : "";
	r->f[NL_COL_STATUS] = nl_status_name(st);
	r->f[NL_COL_TOKEN] = token;
	r->f[NL_COL_CREATED] = r->f[NL_COL_UPDATED] = db->now;
	snprintf(res->email, sizeof res->email, "%s", email);
	res->change = NL_CHANGE_ADDED;
	res->now = st;
	res->rows = 1;
	return nl_subsdb_put(db, r);
}

static bool matches(const struct nl_sub *r, const char *key, bool by_token)
{
	return by_token ? !strcasecmp(r->f[NL_COL_TOKEN], key) : !strcasecmp(r->f[NL_COL_EMAIL], key);
}

struct change {
	const char *key;	/* address or token */
	bool by_token;
	const char *name;
	enum nl_status st;
	bool force, remove, add_missing;
};

/* One pass over the list: change the matching rows, keep the rest, add the address if missing. */
static enum nl_err change_list(const char *path, const struct nl_subsdb_opts *o,
			       const struct change *ch, struct nl_subsdb_result *res)
{
	struct nl_subsdb_opts wo = *o;
	struct nl_subsdb *db = NULL;
	struct nl_sub *r;
	bool eof, found = false;
	enum nl_err e;
	memset(res, 0, sizeof *res);
	wo.write = true;
	if ((e = nl_subsdb_open(path, &wo, &db)) || (e = nl_subsdb_begin(db)))
		goto out;
	while (!(e = nl_subsdb_next(db, &r, &eof)) && !eof) {
		bool hit = matches(r, ch->key, ch->by_token) && res->change != NL_CHANGE_REFUSED;
		if (hit && ch->remove) {
			result_from(res, r);
			res->change = NL_CHANGE_REMOVED;
			res->rows++;
			continue;
		}
		if (hit)
			apply(db, r, ch->st, ch->name, ch->force, res);
		found |= hit;
		if ((e = nl_subsdb_put(db, r)))
			goto out;
	}
	if (e)
		goto out;
	if (!found && !res->rows && ch->add_missing && !ch->by_token)
		e = append_new(db, ch->key, ch->name, ch->st, res);
	else if (!found && !res->rows)
		res->change = NL_CHANGE_NOT_FOUND;
	if (!e && res->rows && res->change != NL_CHANGE_REFUSED)
		e = nl_subsdb_commit(db);
out:
	nl_subsdb_close(db);
	return e;
}

enum nl_err nl_subsdb_add(const char *path, const struct nl_subsdb_opts *o, const char *email,
			  const char *name, enum nl_status st, bool force, struct nl_subsdb_result *res)
{
	char *n = strdup(name ? name : "");
	enum nl_err e = check_address(email);
	struct change ch = {.key = email, .name = n, .st = st, .force = force, .add_missing = true};
	size_t bad;
	if (!n)
		return nl_errf(NL_ENOMEM, "out of memory");
	nl_clean_display_name(n);
	if (!e && !nl_utf8_valid(n, strlen(n), &bad))
		e = nl_errf(NL_EDATA, "the name is not valid UTF-8 (byte %zu)", bad + 1);
	if (!e)
		e = change_list(path, o, &ch, res);
	free(n);
	return e;
}

enum nl_err nl_subsdb_set_status(const char *path, const struct nl_subsdb_opts *o, const char *key,
				 enum nl_status st, bool force, struct nl_subsdb_result *res)
{
	struct change ch = {.key = key, .by_token = !strchr(key, '@'), .st = st, .force = force,
			    .add_missing = st == NL_STATUS_UNSUBSCRIBED};
	enum nl_err e;
	if (ch.by_token && !nl_token_valid(key))
		return nl_errf(NL_EUSAGE, "'%s' is neither an address nor a token (a UUID)", key);
	if (!ch.by_token && (e = check_address(key)))
		return e;
	return change_list(path, o, &ch, res);
}

enum nl_err nl_subsdb_remove(const char *path, const struct nl_subsdb_opts *o, const char *email,
			     struct nl_subsdb_result *res)
{
	struct change ch = {.key = email, .remove = true};
	return change_list(path, o, &ch, res);
}
