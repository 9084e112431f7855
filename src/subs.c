/* subs.c - stream a subscriber CSV: header mapping, validation, per-row verdicts; statuses, tokens. */
#include "subs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "addr.h"
#include "csv.h"
#include "utf8.h"

struct nl_subs {
	FILE *f;
	char *path;
	struct nl_csv csv;
	char *names[NL_CSV_MAX_FIELDS];
	size_t ncols;
	int c_email, c_name, c_status, c_token;
	char *cols[NL_CSV_MAX_FIELDS];
	char blank[NL_CSV_MAX_FIELDS];	/* a writable "" for each missing field (trimming writes) */
	char noname[1];
	struct nl_sub row;
};

static enum nl_err read_header(struct nl_subs *s)
{
	bool eof;
	enum nl_err e = nl_csv_next(&s->csv, &eof);
	if (e)
		return e;
	if (eof)
		return nl_errf(NL_EDATA, "%s:1: empty file: expected a header such as 'email,name'",
			       s->path);
	s->ncols = s->csv.nfields;
	for (size_t i = 0; i < s->ncols; i++) {
		char *n = strdup(s->csv.fields[i]);
		if (!n)
			return nl_errf(NL_ENOMEM, "out of memory");
		for (char *p = n; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		s->names[i] = n;
	}
	s->c_email = nl_subs_col(s, "email");
	s->c_name = nl_subs_col(s, "name");
	s->c_status = nl_subs_col(s, "status");
	s->c_token = nl_subs_col(s, "token");
	if (s->c_email < 0)
		return nl_errf(NL_EDATA, "%s:1: no 'email' column in the header", s->path);
	return NL_OK;
}

enum nl_err nl_subs_open(const char *path, struct nl_subs **out)
{
	struct nl_subs *s = calloc(1, sizeof *s);
	enum nl_err e;
	*out = NULL;
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	if (!(s->f = fopen(path, "rb"))) {
		e = nl_errf(NL_ENOINPUT, "%s: cannot open subscriber list: %s", path, strerror(errno));
		nl_subs_close(s);
		return e;
	}
	nl_csv_init(&s->csv, s->f, s->path);
	if ((e = read_header(s))) {
		nl_subs_close(s);
		return e;
	}
	*out = s;
	return NL_OK;
}

void nl_subs_close(struct nl_subs *s)
{
	if (!s)
		return;
	if (s->f) {
		nl_csv_free(&s->csv);
		fclose(s->f);
	}
	for (size_t i = 0; i < s->ncols; i++)
		free(s->names[i]);
	free(s->path);
	free(s);
}


static const char *verdict(struct nl_subs *s, struct nl_sub *r)
{
	const char *why;
	size_t bad;
	if (s->csv.nfields != s->ncols)
		return "wrong number of columns";
	for (size_t i = 0; s->csv.nonascii && i < s->ncols; i++)
		if (!nl_utf8_valid(s->cols[i], strlen(s->cols[i]), &bad))
			return "invalid UTF-8";
	if (!*r->email)
		return "no address";
	if (!nl_addr_valid(r->email, strlen(r->email), &why))
		return why;
	if (strcasecmp(r->status, "active"))
		return r->status;
	return NULL;
}

enum nl_err nl_subs_next(struct nl_subs *s, struct nl_sub **row, bool *eof)
{
	enum nl_err e = nl_csv_next(&s->csv, eof);
	struct nl_sub *r = &s->row;
	*row = NULL;
	if (e || *eof)
		return e;
	for (size_t i = 0; i < s->ncols; i++) {
		s->blank[i] = 0;
		s->cols[i] = i < s->csv.nfields ? s->csv.fields[i] : &s->blank[i];
	}
	s->noname[0] = 0;
	r->line = s->csv.line;
	r->cols = (const char *const *)s->cols;
	r->email = nl_field_trim(s->cols[s->c_email]);
	char *name = s->c_name >= 0 ? nl_field_trim(s->cols[s->c_name]) : s->noname;
	nl_clean_display_name(name);
	r->name = name;
	r->status = s->c_status >= 0 && *s->cols[s->c_status] ? nl_field_trim(s->cols[s->c_status]) : "active";
	r->token = s->c_token >= 0 ? nl_field_trim(s->cols[s->c_token]) : "";
	r->skip = verdict(s, r);
	*row = r;
	return NL_OK;
}

size_t nl_subs_ncols(const struct nl_subs *s)
{
	return s->ncols;
}

const char *nl_subs_colname(const struct nl_subs *s, size_t i)
{
	return i < s->ncols ? s->names[i] : NULL;
}

int nl_subs_col(const struct nl_subs *s, const char *name)
{
	for (size_t i = 0; i < s->ncols; i++)
		if (!strcasecmp(s->names[i], name))
			return (int)i;
	return -1;
}

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

/* Must stay the same as the message builder's, or mailed links would break. */
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
