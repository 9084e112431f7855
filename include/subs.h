/* subs.h - subscriber lists: streamed reading with per-row validation, statuses and tokens. */
#ifndef NL_SUBS_H
#define NL_SUBS_H

#include <stdbool.h>
#include <stddef.h>

#include "nl.h"

/* One row, valid until the next nl_subs_next(). */
struct nl_sub {
	size_t line;		/* where the row starts in the file */
	const char *email;
	const char *name;	/* "" if none; control characters cleaned */
	const char *status;	/* "active" if the list has no status column */
	const char *token;	/* "" if the list has no token column */
	const char *const *cols;/* every column, in header order */
	const char *skip;	/* NULL: send to this row; else why not */
};

struct nl_subs; /* opaque reader, owned by the caller */

/* Open path and read its header (which must have an `email` column). */
enum nl_err nl_subs_open(const char *path, struct nl_subs **out);
void nl_subs_close(struct nl_subs *s);
/* The next row in *row, or *eof. Rows with problems come back with skip set. */
enum nl_err nl_subs_next(struct nl_subs *s, struct nl_sub **row, bool *eof);
size_t nl_subs_ncols(const struct nl_subs *s);
const char *nl_subs_colname(const struct nl_subs *s, size_t i);
/* Index of a column by name (case-insensitive), or -1. */
int nl_subs_col(const struct nl_subs *s, const char *name);

/*
 * A row's status. Only active rows are sent to; unsubscribed, bounced and
 * complained are suppressions that no import or add undoes without --force.
 * An empty status means active (lists written by hand often have none).
 */
enum nl_status {
	NL_STATUS_UNKNOWN = 0,	/* not one of the words below */
	NL_STATUS_ACTIVE,
	NL_STATUS_PENDING,	/* double opt-in not yet confirmed */
	NL_STATUS_UNSUBSCRIBED,
	NL_STATUS_BOUNCED,
	NL_STATUS_COMPLAINED,
};

/* Case-insensitive; "" is active; anything else unknown. */
enum nl_status nl_status_parse(const char *s);
/* "active", "pending", ... ("unknown" for NL_STATUS_UNKNOWN). */
const char *nl_status_name(enum nl_status st);
bool nl_status_suppressed(enum nl_status st);

/* A token is a UUID in its 36-character text form. */
#define NL_TOKEN_LEN 36
/* A new random token (libuuid). */
void nl_token_new(char out[NL_TOKEN_LEN + 1]);
/*
 * The token the message builder uses for a row that has none: a name-based
 * UUID of the secret, the List-Id and the lower-cased address. Filling it
 * in when such a row is first rewritten keeps links already mailed working.
 */
void nl_token_derived(const char *secret, const char *list_id, const char *email,
		      char out[NL_TOKEN_LEN + 1]);
/* True if s is a UUID in text form. */
bool nl_token_valid(const char *s);

#endif
