/* subs.h - subscriber lists: streamed reading with per-row validation. */
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

#endif
