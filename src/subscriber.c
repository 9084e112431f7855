/* subscriber.c - read a subscriber list: header mapping, row normalization and verdicts; statuses, tokens. */
#include "subscriber.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "addr.h"
#include "buf.h"
#include "changes.h"
#include "csv.h"
#include "utf8.h"

_Static_assert(NL_LIST_MAX_COLS == NL_CSV_MAX_FIELDS, "one column limit");

static const char *const fixed_cols[NL_COL_FIXED] = {
	"email", "name", "status", "token", "created_at", "updated_at",
};

/* What people call the address column: spreadsheets, exports, hand-written lists. */
static const char *const email_aliases[] = {"email", "e-mail", "email address", "e-mail address",
					    "email_address", "emailaddress"};

struct nl_list {
	struct nl_list_opts o;
	char *path;
	FILE *f;			/* NULL: no file (missing_ok) */
	struct nl_csv csv;
	mode_t mode;
	char *cols[NL_CSV_MAX_FIELDS];	/* store layout: the fixed columns, then the file's extras */
	size_t ncols;
	int map[NL_CSV_MAX_FIELDS];	/* file column -> store column */
	size_t nfile;			/* columns in the file's header */
	const char *fields[NL_CSV_MAX_FIELDS];
	struct nl_sub row;
	struct nl_buf name;		/* the cleaned display name */
	char token[NL_TOKEN_LEN + 1];
	size_t rows;			/* read since open or rewind, for the interruption check */
	struct stat st;			/* as opened: a rewind refuses a file changed in place */
	struct nl_changes *changes;	/* the change file's lines, applied on top of the rows */
	struct nl_buf changes_path;
};

/* ---- statuses and tokens ---- */

static const char *const status_names[] = {
	[NL_STATUS_UNKNOWN] = "unknown",	   [NL_STATUS_ACTIVE] = "active",
	[NL_STATUS_PENDING] = "pending",	   [NL_STATUS_UNSUBSCRIBED] = "unsubscribed",
	[NL_STATUS_BOUNCED] = "bounced",	   [NL_STATUS_COMPLAINED] = "complained",
};

enum nl_status nl_status_parse(const char *s)
{
	if (!*s)
		return NL_STATUS_ACTIVE;
	for (size_t i = NL_STATUS_ACTIVE; i < NL_ARRAY_LEN(status_names); i++)
		if (!strcasecmp(s, status_names[i]))
			return (enum nl_status)i;
	return NL_STATUS_UNKNOWN;
}

const char *nl_status_name(enum nl_status st)
{
	return (size_t)st < NL_ARRAY_LEN(status_names) ? status_names[st] : "unknown";
}

bool nl_status_suppressed(enum nl_status st)
{
	return st == NL_STATUS_UNSUBSCRIBED || st == NL_STATUS_BOUNCED || st == NL_STATUS_COMPLAINED;
}

void nl_token_new(char out[NL_TOKEN_LEN + 1])
{
	uuid_t u;
	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

/* Must stay the same, or links already mailed would break. */
static const uuid_t ns_token = {0x6e, 0x6c, 0x2d, 0x74, 0x6f, 0x6b, 0x65, 0x6e,
				0x9b, 0x2f, 0x4d, 0x62, 0x8c, 0x13, 0xae, 0x55};

void nl_token_derived(const char *secret, const char *list_id, const char *email,
		      char out[NL_TOKEN_LEN + 1])
{
	char name[1024], low[320];
	size_t i = 0;
	uuid_t u;
	for (; email[i] && i + 1 < sizeof low; i++)
		low[i] = (email[i] >= 'A' && email[i] <= 'Z') ? (char)(email[i] + 32) : email[i];
	low[i] = 0;
	int n = snprintf(name, sizeof name, "%s%c%s%c%s", secret, 0, list_id, 0, low);
	uuid_generate_sha1(u, ns_token, name,
			   n > 0 && (size_t)n < sizeof name ? (size_t)n : sizeof name - 1);
	uuid_unparse_lower(u, out);
}

bool nl_token_valid(const char *s)
{
	uuid_t u;
	return strlen(s) == NL_TOKEN_LEN && uuid_parse(s, u) == 0;
}

const char *nl_skip_text(const struct nl_sub *row, enum nl_skip skip)
{
	switch (skip) {
	case NL_SKIP_NONE: return "";
	case NL_SKIP_COLUMNS: return "more fields than the header has columns";
	case NL_SKIP_UTF8: return "invalid UTF-8";
	case NL_SKIP_NO_ADDRESS: return "no address";
	case NL_SKIP_BAD_ADDRESS: return row && row->why ? row->why : "invalid address";
	case NL_SKIP_STATUS:
		if (row && row->status == NL_STATUS_UNKNOWN)
			return "status is not a known word (active, pending, unsubscribed, bounced, complained)";
		return row ? nl_status_name(row->status) : "not active";
	case NL_SKIP_DUPLICATE: return "duplicate address (an earlier row has it)";
	case NL_SKIP_SUPPRESSED: return "another row with this address is suppressed";
	case NL_SKIP_AUDIENCE: return "not in the post's audience";
	}
	return "skipped";
}

/* ---- opening ---- */

static enum nl_err add_col(struct nl_list *l, const char *name, size_t *idx)
{
	if (l->ncols == NL_CSV_MAX_FIELDS)
		return nl_errf(NL_EDATA, "%s: more than %d columns", l->path, NL_CSV_MAX_FIELDS);
	if (!(l->cols[l->ncols] = strdup(name)))
		return nl_errf(NL_ENOMEM, "out of memory");
	*idx = l->ncols++;
	return NL_OK;
}

int nl_list_col(const struct nl_list *l, const char *name)
{
	for (size_t i = 0; i < l->ncols; i++)
		if (!strcasecmp(l->cols[i], name))
			return (int)i;
	return -1;
}

static bool is_email_alias(const char *name)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(email_aliases); i++)
		if (!strcasecmp(name, email_aliases[i]))
			return true;
	return false;
}

/* Map the file's header onto the store's columns: its own first, extras after, in their order. */
static enum nl_err read_header(struct nl_list *l)
{
	bool eof, taken[NL_COL_FIXED] = {false};
	size_t idx = 0;
	enum nl_err e = nl_csv_next(&l->csv, &eof);
	if (e || eof)
		return e; /* an empty file is an empty list */
	l->nfile = l->csv.nfields;
	for (size_t i = 0; i < l->nfile; i++) {
		const char *name = nl_field_trim(l->csv.fields[i]);
		int j = is_email_alias(name) ? NL_COL_EMAIL : nl_list_col(l, name);
		if (j >= 0 && j < NL_COL_FIXED && !taken[j]) {
			taken[j] = true; /* the first column of a fixed name is the one */
			l->map[i] = j;
			continue;
		}
		if ((e = add_col(l, name, &idx)))
			return e;
		l->map[i] = (int)idx;
	}
	if (!taken[NL_COL_EMAIL])
		return nl_errf(NL_EDATA, "%s:1: no address column in the header (one named 'email' is "
			       "enough; 'e-mail' and 'email address' work too)", l->path);
	return NL_OK;
}

/* Only a regular file of sane size: a FIFO or a device would be read forever. */
static enum nl_err open_file(struct nl_list *l, int *fd)
{
	struct stat st;
	*fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0 && errno == ENOENT && l->o.missing_ok)
		return NL_OK;
	if (*fd < 0 && errno == ENOENT)
		return nl_errf(NL_ENOINPUT, "%s: no list yet ('subscribers add' or 'subscribers import' makes one)",
			       l->path);
	if (*fd < 0)
		return nl_errf(NL_ENOINPUT, "%s: cannot open the subscriber list: %s", l->path, strerror(errno));
	if (fstat(*fd, &st))
		return nl_errf(NL_EIO, "%s: %s", l->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return nl_errf(NL_ENOINPUT, "%s: not a regular file (%s): a subscriber list is a CSV file",
			       l->path, S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a pipe" : "a device");
	if (st.st_size > NL_LIST_MAX_BYTES)
		return nl_errf(NL_EDATA, "%s: %lld bytes: larger than a subscriber list can be", l->path,
			       (long long)st.st_size);
	l->mode = st.st_mode & 0777;
	l->st = st;
	if (fcntl(*fd, F_SETFL, 0)) /* blocking again: O_NONBLOCK was only for the open */
		return nl_errf(NL_EIO, "%s: %s", l->path, strerror(errno));
	return NL_OK;
}

/*
 * The list, then its change file, then a check that the list is still the
 * file at path: a rewrite that folded the changes in between would
 * otherwise leave us the old rows without the changes.
 */
static enum nl_err open_with_changes(struct nl_list *l, int *fd)
{
	enum nl_err e;
	struct stat now;
	if (!(l->changes = nl_changes_new()) || (e = nl_changes_path(l->path, &l->changes_path)))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (int tries = 0; tries < 10; tries++) {
		if ((e = open_file(l, fd)) || *fd < 0 || (e = nl_changes_read(l->changes, l->changes_path.data)))
			return e;
		if (!stat(l->path, &now) && now.st_ino == l->st.st_ino && now.st_dev == l->st.st_dev)
			return NL_OK;
		close(*fd);
		*fd = -1;
		nl_changes_free(l->changes);
		if (!(l->changes = nl_changes_new()))
			return nl_errf(NL_ENOMEM, "out of memory");
	}
	return nl_errf(NL_ETEMPFAIL, "%s: the list keeps being replaced while it is opened; try again", l->path);
}

enum nl_err nl_list_refresh_changes(struct nl_list *l)
{
	return l->f ? nl_changes_read(l->changes, l->changes_path.data) : NL_OK;
}

const struct nl_changes *nl_list_changes(const struct nl_list *l)
{
	return l->changes;
}

const char *nl_list_changes_path(const struct nl_list *l)
{
	return l->changes_path.data;
}

static enum nl_err start(struct nl_list *l)
{
	nl_csv_init(&l->csv, l->f, l->path);
	l->csv.sniff = true;
	l->nfile = 0;
	l->rows = 0;
	return read_header(l);
}

enum nl_err nl_list_open(const char *path, const struct nl_list_opts *o, struct nl_list **out)
{
	struct nl_list *l = calloc(1, sizeof *l);
	enum nl_err e;
	size_t idx;
	int fd = -1;
	*out = NULL;
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	l->o = *o;
	l->mode = 0600; /* a new list holds personal data: owner only */
	l->row.f = l->fields;
	l->row.cols = l->fields;
	nl_buf_init(&l->name);
	nl_buf_init(&l->changes_path);
	for (size_t i = 0; i < NL_COL_FIXED; i++)
		if ((e = add_col(l, fixed_cols[i], &idx)))
			goto out;
	if ((e = open_with_changes(l, &fd)) || fd < 0)
		goto out;
	if (!(l->f = fdopen(fd, "rb"))) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto out;
	}
	fd = -1;
	e = start(l);
out:
	if (fd >= 0)
		close(fd);
	if (e)
		nl_list_close(l);
	else
		*out = l;
	return e;
}

void nl_list_close(struct nl_list *l)
{
	if (!l)
		return;
	if (l->f) {
		nl_csv_free(&l->csv);
		fclose(l->f);
	}
	for (size_t i = 0; i < l->ncols; i++)
		free(l->cols[i]);
	nl_buf_free(&l->name);
	nl_changes_free(l->changes);
	nl_buf_free(&l->changes_path);
	free(l->path);
	free(l);
}

enum nl_err nl_list_rewind(struct nl_list *l)
{
	struct stat st;
	if (!l->f)
		return NL_OK;
	if (fstat(fileno(l->f), &st))
		return nl_errf(NL_EIO, "%s: %s", l->path, strerror(errno));
	if (st.st_size != l->st.st_size || st.st_mtim.tv_sec != l->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != l->st.st_mtim.tv_nsec)
		return nl_errf(NL_EDATA, "%s: the list was changed in place while it was being read; "
			       "nothing more was done: run the command again", l->path);
	nl_csv_free(&l->csv);
	if (fseeko(l->f, 0, SEEK_SET))
		return nl_errf(NL_EIO, "%s: cannot read it again: %s", l->path, strerror(errno));
	bool eof;
	nl_csv_init(&l->csv, l->f, l->path);
	l->csv.sniff = true;
	l->rows = 0;
	return nl_csv_next(&l->csv, &eof); /* the header, mapped already */
}

/* ---- rows ---- */

static enum nl_skip verdict(struct nl_list *l, struct nl_sub *r)
{
	size_t bad;
	if (l->csv.nfields > l->nfile)
		return NL_SKIP_COLUMNS;
	for (size_t i = 0; l->csv.nonascii && i < l->csv.nfields; i++)
		if (!nl_utf8_valid(l->csv.fields[i], strlen(l->csv.fields[i]), &bad))
			return NL_SKIP_UTF8;
	if (!*r->email)
		return NL_SKIP_NO_ADDRESS;
	if (!nl_addr_valid(r->email, strlen(r->email), &r->why))
		return NL_SKIP_BAD_ADDRESS;
	return r->status == NL_STATUS_ACTIVE ? NL_SKIP_NONE : NL_SKIP_STATUS;
}

/* The change file's latest word on this row, by token or address, over what the CSV says. */
static void apply_change(const struct nl_list *l, const char **f)
{
	const char *st, *when;
	if (nl_changes_lookup(l->changes, f[NL_COL_EMAIL], f[NL_COL_TOKEN], f[NL_COL_UPDATED], &st, &when) &&
	    nl_status_parse(st) != NL_STATUS_UNKNOWN) {
		f[NL_COL_STATUS] = st;
		f[NL_COL_UPDATED] = when;
	}
}

static void normalize(struct nl_list *l, struct nl_sub *r)
{
	const char **f = r->f;
	r->status = nl_status_parse(f[NL_COL_STATUS]);
	if (r->status != NL_STATUS_UNKNOWN)
		f[NL_COL_STATUS] = nl_status_name(r->status);
	r->email = f[NL_COL_EMAIL];
	r->token = f[NL_COL_TOKEN];
	if (!*r->token && *r->email && l->o.fill_tokens) {
		nl_token_derived(l->o.secret ? l->o.secret : "", l->o.list_id ? l->o.list_id : "",
				 r->email, l->token);
		r->token = f[NL_COL_TOKEN] = l->token; /* a rewrite keeps it */
	}
	nl_buf_reset(&l->name);
	nl_buf_adds(&l->name, f[NL_COL_NAME]);
	if (!nl_buf_err(&l->name))
		nl_clean_display_name(l->name.data);
	r->name = l->name.data;
	r->why = NULL;
	r->skip = verdict(l, r);
}

/* The next record of the file, or *eof; a pending interruption is noticed every 1024 rows. */
static enum nl_err next_record(struct nl_list *l, bool *eof)
{
	*eof = true;
	if (!l->f || !l->nfile)
		return NL_OK;
	if (l->o.interrupted && *l->o.interrupted && !(l->rows & 1023))
		return nl_errf(NL_EINTERRUPTED, "%s: interrupted while reading the list", l->path);
	enum nl_err e = nl_csv_next(&l->csv, eof);
	if (!e && !*eof)
		l->rows++;
	return e;
}

enum nl_err nl_list_next(struct nl_list *l, struct nl_sub **row, bool *eof)
{
	struct nl_csv *c = &l->csv;
	enum nl_err e;
	*row = NULL;
	if ((e = next_record(l, eof)) || *eof)
		return e;
	for (size_t i = 0; i < l->ncols; i++)
		l->fields[i] = "";
	for (size_t i = 0; i < c->nfields && i < l->nfile; i++) {
		int to = l->map[i];
		/* The key columns are read trimmed; the rest stay as written. */
		if (to == NL_COL_EMAIL || to == NL_COL_STATUS || to == NL_COL_TOKEN)
			c->fields[i] = nl_field_trim(c->fields[i]);
		l->fields[to] = c->fields[i];
	}
	l->row.line = c->line;
	apply_change(l, l->fields);
	normalize(l, &l->row);
	*row = &l->row;
	return nl_buf_err(&l->name);
}

enum nl_err nl_list_skim(struct nl_list *l, const char **email, enum nl_status *status, bool *eof)
{
	struct nl_csv *c = &l->csv;
	enum nl_err e;
	*email = "";
	*status = NL_STATUS_ACTIVE;
	if ((e = next_record(l, eof)) || *eof)
		return e;
	const char *f[NL_COL_FIXED] = {"", "", "", "", "", ""};
	for (size_t i = 0; i < c->nfields && i < l->nfile; i++)
		if (l->map[i] < NL_COL_FIXED && l->map[i] != NL_COL_NAME)
			f[l->map[i]] = nl_field_trim(c->fields[i]);
	apply_change(l, f);
	*email = f[NL_COL_EMAIL];
	*status = nl_status_parse(f[NL_COL_STATUS]);
	return NL_OK;
}

const char *nl_list_path(const struct nl_list *l)
{
	return l->path;
}

bool nl_list_existed(const struct nl_list *l)
{
	return l->f != NULL;
}

mode_t nl_list_mode(const struct nl_list *l)
{
	return l->mode;
}

size_t nl_list_ncols(const struct nl_list *l)
{
	return l->ncols;
}

const char *nl_list_colname(const struct nl_list *l, size_t i)
{
	return i < l->ncols ? l->cols[i] : NULL;
}

void nl_sub_init(struct nl_sub *row, const char **f, size_t ncols, const char *email, const char *name)
{
	for (size_t i = 0; i < ncols; i++)
		f[i] = "";
	f[NL_COL_EMAIL] = email;
	f[NL_COL_NAME] = name;
	f[NL_COL_STATUS] = "active";
	*row = (struct nl_sub){.f = f, .cols = f, .email = email, .name = name, .token = "",
			       .status = NL_STATUS_ACTIVE};
}
