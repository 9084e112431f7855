/* import.c - detect an export's format, map its rows, merge them into a list in three streamed passes. */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "addrmap.h"
#include "buf.h"
#include "csv.h"
#include "log.h"
#include "utf8.h"

/* ---- formats ---- */

/* What an imported column becomes. Columns without a rule are kept as extra columns. */
enum role {
	R_EXTRA,
	R_EMAIL,
	R_NAME,
	R_FIRST,	/* first name: joined with the last into name */
	R_LAST,
	R_STATUS,	/* a status word (ours, listmonk's, ...) */
	R_TOKEN,
	R_CREATED,
	R_CREATED2,	/* created_at when the first choice is empty */
	R_UPDATED,
	R_DISABLED,	/* true: unsubscribed (Substack email_disabled) */
	R_SUBSCRIBED,	/* false: unsubscribed (Ghost subscribed_to_emails) */
	R_DELETED,	/* set: unsubscribed (Ghost deleted_at) */
};

struct rule {
	const char *col;	/* lower case */
	enum role role;
	bool keep;		/* also kept as an extra column (consent evidence) */
};

static const struct rule csv_rules[] = {
	{"email", R_EMAIL, false},	    {"name", R_NAME, false},
	{"status", R_STATUS, false},	    {"token", R_TOKEN, false},
	{"created_at", R_CREATED, false}, {"updated_at", R_UPDATED, false},
	{NULL, R_EXTRA, false},
};
static const struct rule substack_rules[] = {
	{"email", R_EMAIL, false},	    {"name", R_NAME, false},
	{"email_disabled", R_DISABLED, false}, {"created_at", R_CREATED, false},
	{NULL, R_EXTRA, false},
};
static const struct rule mailchimp_rules[] = {
	{"email address", R_EMAIL, false}, {"first name", R_FIRST, true},
	{"last name", R_LAST, true},	    {"optin_time", R_CREATED, true},
	{"confirm_time", R_CREATED2, true}, {NULL, R_EXTRA, false},
};
static const struct rule listmonk_rules[] = {
	{"email", R_EMAIL, false},	    {"name", R_NAME, false},
	{"status", R_STATUS, false},	    {"created_at", R_CREATED, false},
	{NULL, R_EXTRA, false},
};
static const struct rule ghost_rules[] = {
	{"email", R_EMAIL, false},	    {"name", R_NAME, false},
	{"subscribed_to_emails", R_SUBSCRIBED, false}, {"created_at", R_CREATED, false},
	{"deleted_at", R_DELETED, true},   {NULL, R_EXTRA, false},
};

/* In detection order: the first whose signature columns are all in the header. */
static const struct format {
	enum nl_format id;
	const char *name;
	const struct rule *rules;
	const char *sig[3];
} formats[] = {
	/* Ours first: an export of a list keeps other services' columns, and must not look like them. */
	{NL_FMT_CSV, "csv", csv_rules, {"email", "status", "token"}},
	{NL_FMT_MAILCHIMP, "mailchimp", mailchimp_rules, {"email address", NULL, NULL}},
	{NL_FMT_SUBSTACK, "substack", substack_rules, {"email", "active_subscription", NULL}},
	{NL_FMT_GHOST, "ghost", ghost_rules, {"email", "subscribed_to_emails", NULL}},
	{NL_FMT_LISTMONK, "listmonk", listmonk_rules, {"email", "uuid", "attributes"}},
	{NL_FMT_CSV, "csv", csv_rules, {"email", NULL, NULL}},
	{NL_FMT_PLAIN, "plain", NULL, {NULL, NULL, NULL}},
};

/* Status words of the services we read, to ours. */
static const struct {
	const char *word;
	enum nl_status st;
} status_words[] = {
	{"subscribed", NL_STATUS_ACTIVE},	{"enabled", NL_STATUS_ACTIVE},
	{"confirmed", NL_STATUS_ACTIVE},	{"unconfirmed", NL_STATUS_PENDING},
	{"blocklisted", NL_STATUS_UNSUBSCRIBED}, {"blacklisted", NL_STATUS_UNSUBSCRIBED},
	/* listmonk's disabled: the old service did not mail them, so neither do we */
	{"disabled", NL_STATUS_UNSUBSCRIBED},	{"cleaned", NL_STATUS_BOUNCED},
	{"spam", NL_STATUS_COMPLAINED},
};

bool nl_format_parse(const char *s, enum nl_format *out)
{
	if (!strcmp(s, "auto")) {
		*out = NL_FMT_AUTO;
		return true;
	}
	for (size_t i = 0; i < NL_ARRAY_LEN(formats); i++) {
		if (!strcmp(s, formats[i].name)) {
			*out = formats[i].id;
			return true;
		}
	}
	return false;
}

const char *nl_format_name(enum nl_format f)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(formats); i++)
		if (formats[i].id == f)
			return formats[i].name;
	return "auto";
}

static const struct format *format_of(enum nl_format f)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(formats); i++)
		if (formats[i].id == f)
			return &formats[i];
	return NULL;
}

/* ---- small helpers ---- */


static bool parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = {"true", "yes", "1", "t", "y"};
	static const char *const no[] = {"false", "no", "0", "f", "n", ""};
	for (size_t i = 0; i < NL_ARRAY_LEN(yes); i++)
		if (!strcasecmp(s, yes[i]))
			return *v = true;
	for (size_t i = 0; i < NL_ARRAY_LEN(no); i++)
		if (!strcasecmp(s, no[i]))
			return !(*v = false);
	return false;
}

static enum nl_status status_word(const char *s)
{
	enum nl_status st = nl_status_parse(s);
	for (size_t i = 0; st == NL_STATUS_UNKNOWN && i < NL_ARRAY_LEN(status_words); i++)
		if (!strcasecmp(s, status_words[i].word))
			st = status_words[i].st;
	return st;
}

bool nl_time_normalize(const char *in, char out[NL_TIME_LEN + 1])
{
	char copy[64];
	if (strlen(in) >= sizeof copy)
		return false; /* no date is that long */
	memcpy(copy, in, strlen(in) + 1);
	const char *p = nl_field_trim(copy);
	struct nl_time t;
	if (!nl_time_parse(p, strlen(p), NL_TIME_EXPORT, &t))
		return false;
	nl_time_rfc3339(t.t, out);
	return *out != 0;
}

/* Extra column names become template-friendly: "Phone Number" is phone_number. */
static void column_name(const char *in, const char *prefix, char *out, size_t cap)
{
	size_t n = 0;
	bool gap = false;
	for (const char *p = prefix; *p && n + 1 < cap; p++)
		out[n++] = *p;
	for (const unsigned char *p = (const unsigned char *)in; *p && n + 1 < cap; p++) {
		if (isalnum(*p) || *p >= 0x80) {
			if (gap && n && out[n - 1] != '_')
				out[n++] = '_';
			if (n + 1 < cap)
				out[n++] = (char)tolower(*p);
			gap = false;
		} else {
			gap = true;
		}
	}
	out[n] = 0;
	if (!n)
		snprintf(out, cap, "column");
}

/* ---- the spool: imported rows wait on disk, not in memory ---- */

/*
 * Records: u32 length of what follows, u32 line, then the fields, each
 * NUL-terminated (CSV fields never hold NUL). Appended through a buffer;
 * read back by offset, from the buffer when not yet flushed.
 */
struct spool {
	int fd;
	struct nl_buf w;
	uint64_t flushed;	/* bytes on disk */
	struct nl_buf r;	/* the record last read */
	struct nl_buf ra;	/* read-ahead for the sequential pass */
	uint64_t ra_off;
	const char *f[NL_CSV_MAX_FIELDS];
	size_t nf;
	uint32_t line;
};

#define SPOOL_CHUNK ((size_t)1 << 20)

static enum nl_err spool_open(struct spool *sp, const char *dir, size_t nf)
{
	char tmpl[4096];
	memset(sp, 0, sizeof *sp);
	nl_buf_init(&sp->w);
	nl_buf_init(&sp->r);
	nl_buf_init(&sp->ra);
	sp->nf = nf;
	/* Unnamed, so a crash leaves nothing behind; next to the list, since /tmp may be RAM. */
	sp->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (sp->fd < 0 && snprintf(tmpl, sizeof tmpl, "%s/.import.XXXXXX", dir) < (int)sizeof tmpl &&
	    (sp->fd = mkostemp(tmpl, O_CLOEXEC)) >= 0)
		unlink(tmpl);
	if (sp->fd < 0) {
		FILE *f = tmpfile(); /* a dry run on a folder we cannot write */
		if (f) {
			sp->fd = dup(fileno(f));
			fclose(f);
		}
	}
	if (sp->fd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot create a temporary file: %s", dir, strerror(errno));
	return NL_OK;
}

static void spool_close(struct spool *sp)
{
	if (sp->fd >= 0)
		close(sp->fd);
	nl_buf_free(&sp->w);
	nl_buf_free(&sp->r);
	nl_buf_free(&sp->ra);
}

static enum nl_err spool_flush(struct spool *sp)
{
	const char *p = sp->w.data;
	size_t n = sp->w.len;
	enum nl_err e = nl_buf_err(&sp->w);
	while (!e && n) {
		ssize_t k = pwrite(sp->fd, p, n, (off_t)sp->flushed);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return nl_errf(NL_EIO, "cannot write the import's temporary file: %s; the list is unchanged",
				       strerror(errno));
		p += k;
		n -= (size_t)k;
		sp->flushed += (uint64_t)k;
	}
	nl_buf_reset(&sp->w);
	return e;
}

static enum nl_err spool_put(struct spool *sp, size_t line, const char *const *f, uint64_t *off)
{
	uint32_t len = 4, ln = (uint32_t)line;
	for (size_t i = 0; i < sp->nf; i++)
		len += (uint32_t)strlen(f[i]) + 1;
	*off = sp->flushed + sp->w.len;
	nl_buf_add(&sp->w, &len, 4);
	nl_buf_add(&sp->w, &ln, 4);
	for (size_t i = 0; i < sp->nf; i++)
		nl_buf_add(&sp->w, f[i], strlen(f[i]) + 1);
	return sp->w.len >= SPOOL_CHUNK ? spool_flush(sp) : nl_buf_err(&sp->w);
}

static enum nl_err pread_all(struct spool *sp, void *p, size_t n, uint64_t off, size_t *got)
{
	for (*got = 0; *got < n;) {
		ssize_t k = pread(sp->fd, (char *)p + *got, n - *got, (off_t)(off + *got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return nl_errf(NL_EIO, "cannot read the import's temporary file: %s", strerror(errno));
		if (!k)
			break;
		*got += (size_t)k;
	}
	return NL_OK;
}

/* n bytes at off; seq: through the read-ahead buffer, for reading front to back. */
static enum nl_err spool_pread(struct spool *sp, void *p, size_t n, uint64_t off, bool seq)
{
	size_t got;
	enum nl_err e;
	if (off >= sp->flushed) {
		if (off - sp->flushed + n > sp->w.len)
			return nl_errf(NL_EINTERNAL, "import spool: read past the end");
		memcpy(p, sp->w.data + (off - sp->flushed), n);
		return NL_OK;
	}
	if (seq && !(off >= sp->ra_off && off + n <= sp->ra_off + sp->ra.len)) {
		size_t want = n > SPOOL_CHUNK ? n : SPOOL_CHUNK;
		nl_buf_reset(&sp->ra);
		if (!nl_buf_grow(&sp->ra, want))
			return nl_buf_err(&sp->ra);
		if ((e = pread_all(sp, sp->ra.data, want, off, &got)))
			return e;
		sp->ra.len = got;
		sp->ra_off = off;
	}
	if (seq && off + n <= sp->ra_off + sp->ra.len) {
		memcpy(p, sp->ra.data + (off - sp->ra_off), n);
		return NL_OK;
	}
	if ((e = pread_all(sp, p, n, off, &got)))
		return e;
	return got == n ? NL_OK : nl_errf(NL_EIO, "cannot read the import's temporary file: short read");
}

/* Read the record at off into sp->f, sp->line; *next (sequential reading) is the offset after it. */
static enum nl_err spool_get(struct spool *sp, uint64_t off, uint64_t *next)
{
	uint32_t len;
	bool seq = next != NULL;
	size_t first = 0, got;
	enum nl_err e;
	if (!seq && off < sp->flushed) {
		/* One read for a typical row: its length and the row come together. */
		if (!nl_buf_grow(&sp->r, 512))
			return nl_buf_err(&sp->r);
		if ((e = pread_all(sp, sp->r.data, 512, off, &got)))
			return e;
		first = got;
	}
	if (first >= 4)
		memcpy(&len, sp->r.data, 4);
	else if ((e = spool_pread(sp, &len, 4, off, seq)))
		return e;
	if (!nl_buf_grow(&sp->r, len + 4))
		return nl_buf_err(&sp->r);
	if (first < 4 + (size_t)len && (e = spool_pread(sp, sp->r.data + 4, len, off + 4, seq)))
		return e;
	sp->r.len = len + 4;
	memcpy(&sp->line, sp->r.data + 4, 4);
	const char *p = sp->r.data + 8;
	for (size_t i = 0; i < sp->nf; i++) {
		sp->f[i] = p;
		p += strlen(p) + 1;
	}
	if (next)
		*next = off + 4 + len;
	return NL_OK;
}

/* ---- the index: address hash to spool offset, 16 bytes an address ---- */

#define CONSUMED ((uint64_t)1 << 63) /* matched a row of the list */

/* The index is the hash map with 8-byte values: key 0 never occurs (nl_addr_hash avoids it). */
static bool idx_get(const struct nl_hashmap *ix, uint64_t h, uint64_t *v)
{
	const void *p = nl_hashmap_get(ix, h);
	if (p)
		memcpy(v, p, sizeof *v);
	return p != NULL;
}

static enum nl_err idx_set(struct nl_hashmap *ix, uint64_t h, uint64_t v)
{
	void *p;
	enum nl_err e = nl_hashmap_put(ix, h, &p, NULL);
	if (!e)
		memcpy(p, &v, sizeof v);
	return e;
}

/* ---- reading the export ---- */

#define NROLES (R_DELETED + 1)

struct imp {
	const struct nl_import_opts *o;
	struct nl_import_stats *st;
	const struct format *fmt;
	enum nl_status base;		/* the status of the whole file (Mailchimp's three files) */
	FILE *f;
	struct nl_csv csv;
	size_t nhdr;
	int col[NROLES];		/* the export's column for each role, or -1 */
	size_t xsrc[NL_CSV_MAX_FIELDS];	/* extra k: its column in the export */
	size_t xdst[NL_CSV_MAX_FIELDS];	/* extra k: its column in the list */
	size_t nx;
	struct nl_subsdb *db;
	struct spool sp;
	struct nl_hashmap ix;
	struct nl_hashmap tokens;	/* hashes of the tokens written so far */
	char token[NL_TOKEN_LEN + 1];	/* a renewed one */
	bool notable;			/* the next report is worth saying even when quiet */
	const char *f_[NL_CSV_MAX_FIELDS]; /* the mapped row, in spool layout */
	struct nl_buf name, why;
	char created[NL_TIME_LEN + 1], updated[NL_TIME_LEN + 1];
	char *line;			/* plain format: the current line */
	size_t linecap, lineno;
	char *mb_name, *mb_addr;
	char *plain[2];
	char blank[1];		/* a writable "" for a plain line without a name */
};

static const char blank_row[] = "(blank)"; /* map_row's verdict for a row with nothing in it */

static bool is_fixed_name(const char *s)
{
	static const char *const fixed[] = {"email", "name", "status", "token", "created_at", "updated_at"};
	for (size_t i = 0; i < NL_ARRAY_LEN(fixed); i++)
		if (!strcmp(s, fixed[i]))
			return true;
	return false;
}

/* A header cell as the rules spell it: what spreadsheets call the address column is "email". */
static const char *canon_col(const char *name)
{
	static const char *const email[] = {"e-mail", "email_address", "emailaddress", "e-mail address"};
	for (size_t i = 0; i < NL_ARRAY_LEN(email); i++)
		if (!strcasecmp(name, email[i]))
			return "email";
	return name;
}

static enum role role_of(const struct format *fmt, const char *name, bool *keep)
{
	*keep = false;
	name = canon_col(name);
	for (const struct rule *r = fmt->rules; r && r->col; r++) {
		if (!strcasecmp(r->col, name)) {
			*keep = r->keep;
			return r->role;
		}
	}
	return R_EXTRA;
}

static enum nl_err add_extra(struct imp *im, size_t i, const char *name)
{
	char cname[128], prefix[32];
	column_name(name, "", cname, sizeof cname);
	if (is_fixed_name(cname)) { /* listmonk's own updated_at is not ours */
		snprintf(prefix, sizeof prefix, "%s_", im->fmt->name);
		column_name(name, prefix, cname, sizeof cname);
	}
	im->xsrc[im->nx] = i;
	return nl_subsdb_column(im->db, cname, &im->xdst[im->nx++]);
}

static enum nl_err setup_columns(struct imp *im, char *const *hdr, size_t n)
{
	enum nl_err e;
	bool keep;
	im->nhdr = n;
	for (size_t r = 0; r < NROLES; r++)
		im->col[r] = -1;
	for (size_t i = 0; i < n; i++) {
		const char *name = nl_field_trim(hdr[i]);
		enum role r = role_of(im->fmt, name, &keep);
		if (r != R_EXTRA && im->col[r] < 0)
			im->col[r] = (int)i;
		else
			keep = true;
		if (keep && (e = add_extra(im, i, name)))
			return e;
	}
	if (im->col[R_EMAIL] < 0)
		return nl_errf(NL_EDATA, "%s:1: no '%s' column in the header for format %s", im->o->file,
			       im->fmt->rules[0].col, im->fmt->name);
	return NL_OK;
}

static bool has_col(char *const *hdr, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(canon_col(nl_field_trim(hdr[i])), name))
			return true;
	return false;
}

/* Which format a header is, and for Mailchimp which of its three files. */
static enum nl_err detect(struct imp *im, char *const *hdr, size_t n)
{
	for (size_t i = 0; !im->fmt && i < NL_ARRAY_LEN(formats); i++) {
		const struct format *f = &formats[i];
		bool all = f->sig[0] != NULL;
		for (size_t j = 0; all && j < 3 && f->sig[j]; j++)
			all = has_col(hdr, n, f->sig[j]);
		if (all && (im->o->format == NL_FMT_AUTO || im->o->format == f->id))
			im->fmt = f;
	}
	if (!im->fmt && im->o->format != NL_FMT_AUTO)
		im->fmt = format_of(im->o->format);
	if (!im->fmt)
		return nl_errf(NL_EDATA, "%s:1: cannot tell the format from the header (no 'email' or "
			       "'Email Address' column): name it with --format", im->o->file);
	im->st->format = im->fmt->id;
	im->st->variant = "";
	if (im->fmt->id == NL_FMT_MAILCHIMP) {
		bool unsub = has_col(hdr, n, "unsub_time"), clean = has_col(hdr, n, "clean_time");
		im->base = unsub ? NL_STATUS_UNSUBSCRIBED : clean ? NL_STATUS_BOUNCED : NL_STATUS_ACTIVE;
		im->st->variant = unsub ? "unsubscribed" : clean ? "cleaned" : "audience";
	}
	return NL_OK;
}

/* A plain list: its first line that is not blank or a # comment holds an address; a header never does. */
static bool looks_plain(struct imp *im)
{
	char *l = NULL, *t;
	size_t cap = 0;
	bool plain = false;
	while (getline(&l, &cap, im->f) > 0) {
		t = nl_field_trim(l + (!strncmp(l, "\xEF\xBB\xBF", 3) ? 3 : 0));
		t[strcspn(t, "\r\n")] = 0;
		if (*nl_field_trim(t) && *t != '#') {
			plain = strchr(t, '@') != NULL;
			break;
		}
	}
	free(l);
	rewind(im->f);
	return plain;
}

/* Detect the format (the file is open) and map the header onto the list's columns. */
static enum nl_err open_source(struct imp *im)
{
	bool eof;
	enum nl_err e;
	nl_csv_init(&im->csv, im->f, im->o->file);
	im->csv.sniff = true; /* ';' from spreadsheets in many locales */
	if (im->o->format == NL_FMT_PLAIN || (im->o->format == NL_FMT_AUTO && looks_plain(im))) {
		im->fmt = format_of(NL_FMT_PLAIN);
		im->st->format = NL_FMT_PLAIN;
		im->st->variant = "";
		im->nhdr = 2; /* address, name */
		for (size_t r = 0; r < NROLES; r++)
			im->col[r] = -1;
		im->col[R_EMAIL] = 0;
		im->col[R_NAME] = 1;
		return NL_OK;
	}
	if ((e = nl_csv_next(&im->csv, &eof)))
		return e;
	if (eof)
		return nl_errf(NL_EDATA, "%s: empty file", im->o->file);
	if ((e = detect(im, im->csv.fields, im->csv.nfields)))
		return e;
	return setup_columns(im, im->csv.fields, im->csv.nfields);
}

/* One line of a plain list: "addr", "Name <addr>", or "addr, Name". */
static const char *plain_fields(struct imp *im, char *l)
{
	const char *why = NULL;
	char *sep;
	free(im->mb_name);
	free(im->mb_addr);
	im->mb_name = im->mb_addr = NULL;
	l = nl_field_trim(l);
	im->plain[0] = l;
	im->blank[0] = 0;
	im->plain[1] = im->blank;
	if (strchr(l, '<')) {
		if (!nl_addr_parse_mailbox(l, &im->mb_name, &im->mb_addr, &why))
			return why;
		im->plain[0] = im->mb_addr;
		im->plain[1] = im->mb_name;
	} else if ((sep = strpbrk(l, ",;\t"))) {
		*sep = 0;
		im->plain[0] = nl_field_trim(l);
		im->plain[1] = nl_field_trim(sep + 1);
	}
	return NULL;
}

/* The next row of the export as fields; *bad set when the row cannot even be split. */
static enum nl_err next_source(struct imp *im, char *const **fields, size_t *nf, size_t *line,
			       bool *eof, const char **bad)
{
	enum nl_err e;
	*bad = NULL;
	*eof = false;
	if (im->fmt->id != NL_FMT_PLAIN) {
		if ((e = nl_csv_next(&im->csv, eof)) || *eof)
			return e;
		*fields = im->csv.fields;
		*nf = im->csv.nfields;
		*line = im->csv.line;
		return NL_OK;
	}
	for (;;) {
		ssize_t n = getline(&im->line, &im->linecap, im->f);
		if (n < 0) {
			*eof = true;
			return ferror(im->f) ? nl_errf(NL_EIO, "%s: read error", im->o->file) : NL_OK;
		}
		*line = ++im->lineno;
		bool nul = strlen(im->line) != (size_t)n;
		char *l = im->line + (im->lineno == 1 && !strncmp(im->line, "\xEF\xBB\xBF", 3) ? 3 : 0);
		l[strcspn(l, "\r\n")] = 0;
		if (!nul && (!*nl_field_trim(l) || *nl_field_trim(l) == '#' || (im->lineno == 1 && !strchr(l, '@'))))
			continue; /* blanks, comments, a header line */
		if (nul) { /* rejected, reported with what comes before the NUL */
			im->blank[0] = 0;
			im->plain[0] = l;
			im->plain[1] = im->blank;
			*bad = "NUL byte in the line";
		} else {
			*bad = plain_fields(im, l);
		}
		*fields = im->plain;
		*nf = 2;
		return NL_OK;
	}
}

/* ---- mapping a row ---- */

static const char *field(struct imp *im, char *const *f, size_t nf, enum role r)
{
	int c = im->col[r];
	return c >= 0 && (size_t)c < nf ? nl_field_trim(f[c]) : "";
}

static const char *reject(struct imp *im, const char *fmt, const char *arg)
{
	nl_buf_reset(&im->why);
	nl_buf_addf(&im->why, fmt, arg);
	return nl_buf_err(&im->why) ? "out of memory" : im->why.data;
}

static const char *row_status(struct imp *im, char *const *f, size_t nf, enum nl_status *st)
{
	const char *w = field(im, f, nf, R_STATUS);
	bool v;
	*st = im->base;
	if (*w && (*st = status_word(w)) == NL_STATUS_UNKNOWN)
		return reject(im, "unknown status '%s'", w);
	if (!parse_bool(w = field(im, f, nf, R_DISABLED), &v))
		return reject(im, "email_disabled is '%s', neither true nor false", w);
	if (v)
		*st = NL_STATUS_UNSUBSCRIBED;
	if (im->col[R_SUBSCRIBED] >= 0 && !parse_bool(w = field(im, f, nf, R_SUBSCRIBED), &v))
		return reject(im, "subscribed_to_emails is '%s', neither true nor false", w);
	if (im->col[R_SUBSCRIBED] >= 0 && !v && !nl_status_suppressed(*st))
		*st = NL_STATUS_UNSUBSCRIBED;
	if (*field(im, f, nf, R_DELETED) && !nl_status_suppressed(*st))
		*st = NL_STATUS_UNSUBSCRIBED;
	return NULL;
}

static const char *row_name(struct imp *im, char *const *f, size_t nf)
{
	nl_buf_reset(&im->name);
	if (im->col[R_NAME] >= 0) {
		nl_buf_adds(&im->name, field(im, f, nf, R_NAME));
	} else {
		nl_buf_adds(&im->name, field(im, f, nf, R_FIRST));
		nl_buf_addc(&im->name, ' ');
		nl_buf_adds(&im->name, field(im, f, nf, R_LAST));
	}
	if (nl_buf_err(&im->name))
		return "";
	nl_clean_display_name(im->name.data); /* no CR, LF or controls can reach a header */
	return im->name.data;
}

/* A time as RFC 3339 UTC when we can read it, else as the export has it. */
static const char *row_time(const char *in, char out[NL_TIME_LEN + 1])
{
	return *in && nl_time_normalize(in, out) ? out : in;
}

static bool all_blank(char *const *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++)
		if (*nl_field_trim(f[i]))
			return false;
	return true;
}

static const char *check_row(struct imp *im, char *const *f, size_t nf)
{
	const char *why, *email = field(im, f, nf, R_EMAIL);
	size_t bad;
	if (nf > im->nhdr)
		return "more fields than the header has (a missing quote?)";
	for (size_t i = 0; (im->fmt->id == NL_FMT_PLAIN || im->csv.nonascii) && i < nf; i++)
		if (!nl_utf8_valid(f[i], strlen(f[i]), &bad))
			return "invalid UTF-8 (save the export as UTF-8)";
	if (!*email)
		return "no address";
	if (!nl_addr_valid(email, strlen(email), &why))
		return why;
	return NULL;
}

/* The export's row in spool layout (im->f_), or why it is rejected (blank_row: skip quietly). */
static const char *map_row(struct imp *im, char *const *f, size_t nf)
{
	const char **o = im->f_, *why, *tok = field(im, f, nf, R_TOKEN);
	const char *created = field(im, f, nf, R_CREATED);
	enum nl_status st;
	if (all_blank(f, nf))
		return blank_row;
	if ((why = check_row(im, f, nf)) || (why = row_status(im, f, nf, &st)))
		return why;
	if (*tok && !nl_token_valid(tok))
		return reject(im, "token '%s' is not a UUID", tok);
	o[NL_COL_EMAIL] = field(im, f, nf, R_EMAIL);
	o[NL_COL_NAME] = row_name(im, f, nf);
	o[NL_COL_STATUS] = nl_status_name(st);
	o[NL_COL_TOKEN] = tok;
	o[NL_COL_CREATED] = row_time(*created ? created : field(im, f, nf, R_CREATED2), im->created);
	o[NL_COL_UPDATED] = row_time(field(im, f, nf, R_UPDATED), im->updated);
	for (size_t k = 0; k < im->nx; k++)
		o[NL_COL_FIXED + k] = im->xsrc[k] < nf ? f[im->xsrc[k]] : "";
	return NULL;
}

static void report(struct imp *im, enum nl_row_outcome what, size_t line, const char *email,
		   const char *detail)
{
	struct nl_import_event ev = {what, line, email ? email : "", detail ? detail : "", im->notable};
	im->st->n[what]++;
	if (im->o->report)
		im->o->report(im->o->ctx, &ev);
}

/* ---- pass 1: the export into the spool, its own duplicates merged ---- */

/* A later duplicate folds into the first row: the first's values win, its blanks are filled, a suppression sticks. */
static enum nl_err merge_dup(struct imp *im, uint64_t h, uint64_t off, size_t line)
{
	const char *m[NL_CSV_MAX_FIELDS], **d = im->f_;
	size_t n = NL_COL_FIXED + im->nx;
	bool changed = false;
	enum nl_err e = spool_get(&im->sp, off, NULL);
	if (e)
		return e;
	if (strcasecmp(im->sp.f[NL_COL_EMAIL], d[NL_COL_EMAIL]))
		return nl_errf(NL_EINTERNAL, "%s:%zu: %s and %s have the same 64-bit hash; please report this",
			       im->o->file, line, im->sp.f[NL_COL_EMAIL], d[NL_COL_EMAIL]);
	for (size_t i = 0; i < n; i++) {
		m[i] = im->sp.f[i];
		if (!*m[i] && *d[i]) {
			m[i] = d[i];
			changed = true;
		}
	}
	if (nl_status_suppressed(nl_status_parse(d[NL_COL_STATUS])) &&
	    !nl_status_suppressed(nl_status_parse(m[NL_COL_STATUS]))) {
		m[NL_COL_STATUS] = d[NL_COL_STATUS];
		changed = true;
	}
	nl_buf_reset(&im->why);
	nl_buf_addf(&im->why, "duplicate of line %u (%s): merged into it", im->sp.line, m[NL_COL_EMAIL]);
	report(im, NL_ROW_MERGED, line, d[NL_COL_EMAIL], im->why.data);
	if (changed && !(e = spool_put(&im->sp, im->sp.line, m, &off)))
		e = idx_set(&im->ix, h, off);
	return e;
}

static enum nl_err pass_export(struct imp *im)
{
	char *const *f = NULL;
	const char *bad;
	size_t nf = 0, line = 0;
	bool eof = false;
	uint64_t off, h;
	enum nl_err e;
	for (;;) {
		if ((e = next_source(im, &f, &nf, &line, &eof, &bad)) || eof)
			return e;
		if (!bad)
			bad = map_row(im, f, nf);
		if (bad == blank_row)
			continue;
		if (bad) {
			report(im, NL_ROW_REJECTED, line, field(im, f, nf, R_EMAIL), bad);
			continue;
		}
		h = nl_addr_hash(im->f_[NL_COL_EMAIL]);
		if (idx_get(&im->ix, h, &off))
			e = merge_dup(im, h, off, line);
		else if (!(e = spool_put(&im->sp, line, im->f_, &off)))
			e = idx_set(&im->ix, h, off);
		if (e)
			return e;
	}
}

/* ---- pass 2: the list, each row updated from the export if it is there ---- */

static enum nl_status merged_status(enum nl_status was, enum nl_status want)
{
	if (nl_status_suppressed(want))
		return nl_status_suppressed(was) ? was : want;
	if (was == NL_STATUS_ACTIVE && want == NL_STATUS_PENDING)
		return was; /* an old export does not unconfirm anyone */
	return want;
}

static void note(struct imp *im, const char *what)
{
	nl_buf_adds(&im->why, im->why.len ? ", " : "");
	nl_buf_adds(&im->why, what);
}

static void update_fields(struct imp *im, struct nl_sub *r, const char **s)
{
	if (*s[NL_COL_NAME] && strcmp(s[NL_COL_NAME], r->f[NL_COL_NAME])) {
		r->f[NL_COL_NAME] = s[NL_COL_NAME];
		note(im, "name");
	}
	if (!*r->f[NL_COL_CREATED] && *s[NL_COL_CREATED]) {
		r->f[NL_COL_CREATED] = s[NL_COL_CREATED];
		note(im, "created_at");
	}
	for (size_t k = 0; k < im->nx; k++) {
		const char *v = s[NL_COL_FIXED + k];
		if (*v && strcmp(v, r->f[im->xdst[k]])) {
			r->f[im->xdst[k]] = v;
			note(im, nl_subsdb_colname(im->db, im->xdst[k]));
		}
	}
}

static void update_row(struct imp *im, struct nl_sub *r)
{
	const char **s = im->sp.f;
	enum nl_status want = nl_status_parse(s[NL_COL_STATUS]), now;
	nl_buf_reset(&im->why);
	if (nl_status_suppressed(r->status) && !nl_status_suppressed(want) && !im->o->force) {
		nl_buf_addf(&im->why, "%s since %s: not made %s again (--force overrides; only if they asked)",
			    nl_status_name(r->status), *r->f[NL_COL_UPDATED] ? r->f[NL_COL_UPDATED] : "?",
			    nl_status_name(want));
		report(im, NL_ROW_REFUSED, im->sp.line, r->f[NL_COL_EMAIL], im->why.data);
		return;
	}
	now = merged_status(r->status, want);
	if (now != r->status) {
		nl_buf_addf(&im->why, "status %s -> %s%s", r->f[NL_COL_STATUS], nl_status_name(now),
			    nl_status_suppressed(r->status) ? " (--force)" : "");
		r->f[NL_COL_STATUS] = nl_status_name(now);
	}
	update_fields(im, r, s);
	if (nl_buf_err(&im->why))
		nl_buf_reset(&im->why);
	if (!im->why.len) {
		report(im, NL_ROW_UNCHANGED, im->sp.line, r->f[NL_COL_EMAIL], NULL);
		return;
	}
	r->f[NL_COL_UPDATED] = nl_subsdb_now(im->db);
	report(im, NL_ROW_UPDATED, im->sp.line, r->f[NL_COL_EMAIL], im->why.data);
}

/*
 * Tokens are unique in a list: a reader's unsubscribe link must not
 * unsubscribe another. The first row with a token keeps it; a later row
 * (the list's own rows come first, then the new ones) gets a new one.
 */
static enum nl_err unique_token(struct imp *im, struct nl_sub *r, bool *renewed)
{
	void *v;
	bool added;
	enum nl_err e;
	*renewed = false;
	if (!*r->f[NL_COL_TOKEN])
		return NL_OK;
	if ((e = nl_hashmap_put(&im->tokens, nl_addr_hash(r->f[NL_COL_TOKEN]), &v, &added)) || added)
		return e;
	nl_token_new(im->token);
	r->f[NL_COL_TOKEN] = im->token;
	*renewed = true;
	return nl_hashmap_put(&im->tokens, nl_addr_hash(im->token), &v, &added);
}

static enum nl_err pass_list(struct imp *im)
{
	struct nl_sub *r;
	bool eof;
	uint64_t h, v;
	enum nl_err e;
	while (!(e = nl_subsdb_next(im->db, &r, &eof)) && !eof) {
		h = nl_addr_hash(r->f[NL_COL_EMAIL]);
		if (idx_get(&im->ix, h, &v)) {
			if ((e = spool_get(&im->sp, v & ~CONSUMED, NULL)))
				return e;
			/* A different address with the same hash is simply not a match. */
			if (!strcasecmp(im->sp.f[NL_COL_EMAIL], r->f[NL_COL_EMAIL])) {
				update_row(im, r);
				if (!(v & CONSUMED) && (e = idx_set(&im->ix, h, v | CONSUMED)))
					return e;
			}
		}
		bool renewed;
		if ((e = unique_token(im, r, &renewed)))
			return e;
		if (renewed)
			nl_warn("%s:%zu: %s: its token was an earlier row's too: %s",
				nl_subsdb_path(im->db), r->line, r->f[NL_COL_EMAIL],
				im->o->dry_run ? "a new one would be made" : "a new one was made");
		if ((e = nl_subsdb_put(im->db, r)))
			return e;
	}
	return e;
}

/* ---- pass 3: what the list did not have, appended in the export's order ---- */

static enum nl_err add_row(struct imp *im)
{
	const char **s = im->sp.f, *now = nl_subsdb_now(im->db);
	struct nl_sub *r = nl_subsdb_new_row(im->db);
	char token[NL_TOKEN_LEN + 1];
	for (size_t i = 0; i < NL_COL_FIXED; i++)
		r->f[i] = s[i];
	if (!*s[NL_COL_TOKEN]) {
		nl_token_new(token);
		r->f[NL_COL_TOKEN] = token;
	}
	r->f[NL_COL_CREATED] = *s[NL_COL_CREATED] ? s[NL_COL_CREATED] : now;
	r->f[NL_COL_UPDATED] = *s[NL_COL_UPDATED] ? s[NL_COL_UPDATED] : now;
	for (size_t k = 0; k < im->nx; k++)
		r->f[im->xdst[k]] = s[NL_COL_FIXED + k];
	bool renewed;
	enum nl_err e = unique_token(im, r, &renewed);
	if (e)
		return e;
	nl_buf_reset(&im->why);
	if (strcmp(s[NL_COL_STATUS], "active"))
		nl_buf_addf(&im->why, "%s", s[NL_COL_STATUS]);
	if (renewed)
		nl_buf_addf(&im->why, "%snew token: its token was another row's", im->why.len ? "; " : "");
	im->notable = renewed;
	report(im, NL_ROW_ADDED, im->sp.line, s[NL_COL_EMAIL], nl_buf_err(&im->why) ? NULL : im->why.data);
	im->notable = false;
	return nl_subsdb_put(im->db, r);
}

static enum nl_err pass_new(struct imp *im)
{
	uint64_t off = 0, next, v;
	enum nl_err e = spool_flush(&im->sp);
	while (!e && off < im->sp.flushed) {
		if ((e = spool_get(&im->sp, off, &next)))
			break;
		/* Only the latest version of a row, and only if the list did not have it. */
		if (idx_get(&im->ix, nl_addr_hash(im->sp.f[NL_COL_EMAIL]), &v) && v == off)
			e = add_row(im);
		off = next;
	}
	return e;
}

enum nl_err nl_import(const struct nl_import_opts *o, struct nl_import_stats *st)
{
	struct imp im = {.o = o, .st = st, .sp = {.fd = -1}, .base = NL_STATUS_ACTIVE,
			 .ix = NL_HASHMAP_INIT(sizeof(uint64_t)), .tokens = NL_HASHMAP_INIT(1)};
	struct nl_subsdb_opts dbo = o->db;
	enum nl_err e;
	memset(st, 0, sizeof *st);
	st->variant = "";
	nl_buf_init(&im.name);
	nl_buf_init(&im.why);
	dbo.write = !o->dry_run;
	dbo.missing_ok = true;
	dbo.what = "subscribers import";
	if (!(im.f = fopen(o->file, "rb"))) {
		e = nl_errf(NL_ENOINPUT, "%s: cannot open: %s", o->file, strerror(errno));
		goto out;
	}
	if ((e = nl_subsdb_open(o->list, &dbo, &im.db)) || (e = open_source(&im)) ||
	    (e = nl_subsdb_begin(im.db)) ||
	    (e = spool_open(&im.sp, nl_subsdb_dir(im.db), NL_COL_FIXED + im.nx)))
		goto out;
	if ((e = pass_export(&im)) || (e = pass_list(&im)) || (e = pass_new(&im)))
		goto out;
	e = nl_subsdb_commit(im.db);
out:
	spool_close(&im.sp);
	nl_hashmap_free(&im.ix);
	nl_hashmap_free(&im.tokens);
	nl_subsdb_close(im.db);
	if (im.f) {
		nl_csv_free(&im.csv);
		fclose(im.f);
	}
	nl_buf_free(&im.name);
	nl_buf_free(&im.why);
	free(im.line);
	free(im.mb_name);
	free(im.mb_addr);
	return e;
}

/* ---- export ---- */

struct exp {
	struct nl_subsdb *db;
	enum nl_format f;
	nl_write_fn write;
	void *ctx;
	struct nl_buf out, tmp, first, last;
	const char *cells[NL_CSV_MAX_FIELDS];
	size_t ncells;
	int c_first, c_last, c_attrs;
	const char *stamp;	/* Mailchimp: UNSUB_TIME or CLEAN_TIME, when exporting those */
};

static const char *const mc_own[] = {"first_name", "last_name", "optin_time", "last_changed",
				     "unsub_time", "clean_time"};

static bool mc_skip(const char *col)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(mc_own); i++)
		if (!strcmp(col, mc_own[i]))
			return true;
	return false;
}

static void json_string(struct nl_buf *b, const char *s)
{
	nl_buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			nl_buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			nl_buf_addf(b, "\\u%04x", c);
		else
			nl_buf_addc(b, (char)c);
	}
	nl_buf_addc(b, '"');
}

/* listmonk keeps extra fields as one JSON object. */
static const char *attributes(struct exp *x, const struct nl_sub *r)
{
	size_t n = nl_subsdb_ncols(x->db);
	if (x->c_attrs >= 0 && *r->f[x->c_attrs])
		return r->f[x->c_attrs];
	nl_buf_reset(&x->tmp);
	nl_buf_addc(&x->tmp, '{');
	for (size_t i = NL_COL_FIXED; i < n; i++) {
		if ((int)i == x->c_attrs || !*r->f[i])
			continue;
		if (x->tmp.len > 1)
			nl_buf_addc(&x->tmp, ',');
		json_string(&x->tmp, nl_subsdb_colname(x->db, i));
		nl_buf_addc(&x->tmp, ':');
		json_string(&x->tmp, r->f[i]);
	}
	nl_buf_addc(&x->tmp, '}');
	return x->tmp.data;
}

static const char *listmonk_status(enum nl_status st)
{
	return st == NL_STATUS_ACTIVE ? "enabled" : st == NL_STATUS_PENDING ? "disabled" : "blocklisted";
}

static void cell(struct exp *x, const char *s)
{
	if (x->ncells < NL_CSV_MAX_FIELDS)
		x->cells[x->ncells++] = s;
}

/* First and last name: the columns a Mailchimp import left, else the name split at its first space. */
static void split_name(struct exp *x, const struct nl_sub *r)
{
	const char *name = r->f[NL_COL_NAME], *sp = strchr(name, ' ');
	nl_buf_reset(&x->first);
	nl_buf_reset(&x->last);
	if (x->c_first >= 0 && (*r->f[x->c_first] || *r->f[x->c_last])) {
		nl_buf_adds(&x->first, r->f[x->c_first]);
		nl_buf_adds(&x->last, r->f[x->c_last]);
		return;
	}
	nl_buf_add(&x->first, name, sp ? (size_t)(sp - name) : strlen(name));
	nl_buf_adds(&x->last, sp ? sp + 1 : "");
}

static void mailchimp_cells(struct exp *x, const struct nl_sub *r)
{
	split_name(x, r);
	cell(x, r->f[NL_COL_EMAIL]);
	cell(x, x->first.data);
	cell(x, x->last.data);
	cell(x, r->f[NL_COL_CREATED]);
	cell(x, r->f[NL_COL_UPDATED]);
	if (x->stamp)
		cell(x, r->f[NL_COL_UPDATED]);
	for (size_t i = NL_COL_FIXED; i < nl_subsdb_ncols(x->db); i++)
		if (!mc_skip(nl_subsdb_colname(x->db, i)))
			cell(x, r->f[i]);
}

static void header_cells(struct exp *x)
{
	static const char *const lm[] = {"uuid", "email", "name", "attributes", "status", "created_at",
					 "updated_at"};
	size_t n = nl_subsdb_ncols(x->db);
	x->ncells = 0;
	if (x->f == NL_FMT_LISTMONK) {
		for (size_t i = 0; i < NL_ARRAY_LEN(lm); i++)
			cell(x, lm[i]);
		return;
	}
	if (x->f == NL_FMT_MAILCHIMP) {
		static const char *const mc[] = {"Email Address", "First Name", "Last Name", "OPTIN_TIME",
						 "LAST_CHANGED"};
		for (size_t i = 0; i < NL_ARRAY_LEN(mc); i++)
			cell(x, mc[i]);
		if (x->stamp)
			cell(x, x->stamp);
	}
	for (size_t i = x->f == NL_FMT_CSV ? 0 : NL_COL_FIXED; i < n; i++) {
		const char *c = nl_subsdb_colname(x->db, i);
		if (x->f != NL_FMT_MAILCHIMP || !mc_skip(c))
			cell(x, c);
	}
}

static void row_cells(struct exp *x, const struct nl_sub *r)
{
	x->ncells = 0;
	if (x->f == NL_FMT_CSV) {
		for (size_t i = 0; i < nl_subsdb_ncols(x->db); i++)
			cell(x, r->f[i]);
	} else if (x->f == NL_FMT_LISTMONK) {
		cell(x, r->f[NL_COL_TOKEN]);
		cell(x, r->f[NL_COL_EMAIL]);
		cell(x, r->f[NL_COL_NAME]);
		cell(x, attributes(x, r));
		cell(x, listmonk_status(r->status));
		cell(x, r->f[NL_COL_CREATED]);
		cell(x, r->f[NL_COL_UPDATED]);
	} else {
		mailchimp_cells(x, r);
	}
}

static enum nl_err put_cells(struct exp *x, bool last)
{
	enum nl_err e;
	if (x->ncells)
		nl_csv_put_record(&x->out, x->cells, x->ncells);
	x->ncells = 0;
	if ((e = nl_buf_err(&x->out)) || (e = nl_buf_err(&x->tmp)))
		return e;
	if (x->out.len < SPOOL_CHUNK && !last)
		return NL_OK;
	e = x->out.len ? x->write(x->ctx, x->out.data, x->out.len) : NL_OK;
	nl_buf_reset(&x->out);
	return e;
}

static void find_cols(struct exp *x)
{
	x->c_first = x->c_last = x->c_attrs = -1;
	for (size_t i = NL_COL_FIXED; i < nl_subsdb_ncols(x->db); i++) {
		const char *c = nl_subsdb_colname(x->db, i);
		if (!strcasecmp(c, "first_name"))
			x->c_first = (int)i;
		else if (!strcasecmp(c, "last_name"))
			x->c_last = (int)i;
		else if (!strcasecmp(c, "attributes"))
			x->c_attrs = (int)i;
	}
	if (x->c_first < 0 || x->c_last < 0)
		x->c_first = x->c_last = -1;
}

enum nl_err nl_export(const char *list, const struct nl_subsdb_opts *dbo, enum nl_format f,
		      enum nl_status only, nl_write_fn write, void *ctx)
{
	struct exp x = {.f = f, .write = write, .ctx = ctx};
	struct nl_subsdb_opts ro = *dbo;
	struct nl_sub *r;
	bool eof;
	enum nl_err e;
	nl_buf_init(&x.out);
	nl_buf_init(&x.tmp);
	nl_buf_init(&x.first);
	nl_buf_init(&x.last);
	ro.write = false;
	if (f == NL_FMT_MAILCHIMP && nl_status_suppressed(only))
		x.stamp = only == NL_STATUS_BOUNCED ? "CLEAN_TIME" : "UNSUB_TIME";
	if ((e = nl_subsdb_open(list, &ro, &x.db)))
		goto out;
	find_cols(&x);
	header_cells(&x);
	while (!(e = put_cells(&x, false)) && !(e = nl_subsdb_next(x.db, &r, &eof)) && !eof) {
		if (only == NL_STATUS_UNKNOWN || r->status == only)
			row_cells(&x, r);
	}
	if (!e)
		e = put_cells(&x, true);
out:
	nl_subsdb_close(x.db);
	nl_buf_free(&x.out);
	nl_buf_free(&x.tmp);
	nl_buf_free(&x.first);
	nl_buf_free(&x.last);
	return e;
}
