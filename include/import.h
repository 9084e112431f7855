/* import.h - other services' list exports into a list (detection, mapping, merge), and ours out in theirs. */
#ifndef NL_IMPORT_H
#define NL_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "nl.h"
#include "subscriber.h"
#include "subsdb.h"

enum nl_format {
	NL_FMT_AUTO,		/* detect from the header */
	NL_FMT_CSV,		/* any CSV with an email column, ours included */
	NL_FMT_SUBSTACK,
	NL_FMT_MAILCHIMP,	/* audience, unsubscribed or cleaned export */
	NL_FMT_LISTMONK,
	NL_FMT_GHOST,
	NL_FMT_PLAIN,		/* one address (or "Name <address>") a line */
};

bool nl_format_parse(const char *s, enum nl_format *out);
const char *nl_format_name(enum nl_format f);

/* What happened to one row of the imported file. */
enum nl_row_outcome {
	NL_ROW_ADDED,
	NL_ROW_UPDATED,
	NL_ROW_UNCHANGED,
	NL_ROW_REFUSED,		/* suppressed in the list; --force overrides */
	NL_ROW_REJECTED,	/* not imported: detail says why */
	NL_ROW_MERGED,		/* a duplicate of an earlier row of the file */
	NL_ROW_NOUTCOMES
};

struct nl_import_event {
	enum nl_row_outcome what;
	size_t line;		/* in the imported file */
	const char *email;	/* "" when the row has none */
	const char *detail;	/* the reason, or what changed; "" if nothing to say */
	bool notable;		/* worth saying even when added rows are not listed (a token renewed) */
};

struct nl_import_opts {
	const char *list;	/* the list's path */
	const char *file;	/* the export */
	enum nl_format format;
	bool dry_run;		/* report, write nothing */
	bool force;		/* make suppressed addresses active again */
	struct nl_subsdb_opts db; /* secret, list_id, now */
	void (*report)(void *ctx, const struct nl_import_event *ev);
	void *ctx;
};

struct nl_import_stats {
	size_t n[NL_ROW_NOUTCOMES];
	enum nl_format format;	/* as detected */
	const char *variant;	/* Mailchimp: "audience", "unsubscribed", "cleaned"; else "" */
};

/*
 * Import o->file into o->list under the list's lock: rows already on the
 * list are updated in place (first spelling, token and suppressions kept),
 * new ones appended with fresh tokens, one atomic rewrite at the end.
 * Memory: a 16-byte index entry per imported address; the rows themselves
 * wait in an unnamed temporary file next to the list.
 */
enum nl_err nl_import(const struct nl_import_opts *o, struct nl_import_stats *st);

/* Bytes out; the caller's writer (stdout, a file). */
typedef enum nl_err (*nl_write_fn)(void *ctx, const char *p, size_t n);

/*
 * Write the list in format f (NL_FMT_CSV: ours, tokens included;
 * NL_FMT_LISTMONK or NL_FMT_MAILCHIMP), only rows with status `only`
 * unless it is NL_STATUS_UNKNOWN.
 */
enum nl_err nl_export(const char *list, const struct nl_subsdb_opts *db, enum nl_format f,
		      enum nl_status only, nl_write_fn write, void *ctx);

/* "2021-03-04 05:06:07.89+01:00" and friends to RFC 3339 UTC; false if not a time. */
bool nl_time_normalize(const char *in, char out[NL_TIME_LEN + 1]);

#endif
