/* subscriber.h - one subscriber row type, and the one reader of list files beneath every use. */
#ifndef NL_SUBSCRIBER_H
#define NL_SUBSCRIBER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "nl.h"

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
 * The token of a row that has none: a name-based UUID of the secret, the
 * List-Id and the lower-cased address. Filling it in when such a row is
 * first rewritten keeps links already mailed working.
 */
void nl_token_derived(const char *secret, const char *list_id, const char *email,
		      char out[NL_TOKEN_LEN + 1]);
/* True if s is a UUID in text form. */
bool nl_token_valid(const char *s);

/* The store's own columns, first and in this order; extra columns follow in the file's order. */
enum nl_col {
	NL_COL_EMAIL,
	NL_COL_NAME,
	NL_COL_STATUS,
	NL_COL_TOKEN,
	NL_COL_CREATED,	/* created_at: when they subscribed (consent), RFC 3339 UTC */
	NL_COL_UPDATED,	/* updated_at: the row's last change */
	NL_COL_FIXED
};

/* Why a row does not get a post. The row alone decides the first few; the list or the post the rest. */
enum nl_skip {
	NL_SKIP_NONE = 0,
	NL_SKIP_COLUMNS,	/* more fields than the header has columns */
	NL_SKIP_UTF8,		/* a field is not valid UTF-8 */
	NL_SKIP_NO_ADDRESS,
	NL_SKIP_BAD_ADDRESS,	/* nl_sub.why says what is wrong with it */
	NL_SKIP_STATUS,		/* not active (pending, a suppression, or a word we do not know) */
	NL_SKIP_DUPLICATE,	/* an earlier row has the same address, in any letter case */
	NL_SKIP_SUPPRESSED,	/* another row with this address is unsubscribed, bounced or complained */
	NL_SKIP_AUDIENCE,	/* not in the post's audience */
};

/* One row: the one row type of the program. Owned by the reader, valid until its next call. */
struct nl_sub {
	size_t line;		/* where the row starts in the file; 0 for a row not read from one */
	const char **f;		/* the store's columns (enum nl_col), then extras; "" when missing.
				   A writer may point f[i] at its own strings until it puts the row. */
	const char *const *cols;/* the same fields, for readers */
	const char *email;	/* f[NL_COL_EMAIL], trimmed */
	const char *name;	/* f[NL_COL_NAME] with control characters made spaces */
	const char *token;	/* f[NL_COL_TOKEN]; for a row without one, the derived token when the
				   list was opened with fill_tokens, else "" (the message builder derives it) */
	enum nl_status status;	/* of f[NL_COL_STATUS]; "" is active */
	enum nl_skip skip;	/* what the row alone says (NONE through STATUS) */
	const char *why;	/* details for NL_SKIP_BAD_ADDRESS */
};

/* The words for why a row is skipped ("not active: unsubscribed", "invalid address: ..."). */
const char *nl_skip_text(const struct nl_sub *row, enum nl_skip skip);

/* The most columns a list may have (the CSV reader's field limit). */
#define NL_LIST_MAX_COLS 256

/* How much a list may hold before it is refused rather than read. */
#define NL_LIST_MAX_BYTES ((off_t)1 << 36)

struct nl_list_opts {
	const char *secret, *list_id;	/* for tokens of rows without one */
	bool fill_tokens;		/* derive the token of a row without one (a writer keeps it) */
	bool missing_ok;		/* a list that does not exist yet has no rows */
	volatile sig_atomic_t *interrupted; /* reading stops with NL_EINTERRUPTED once set */
};

struct nl_list; /* an open list file; owned by the caller, freed by nl_list_close() */

/*
 * Open a list and read its header. The file must be a regular file (not a
 * FIFO, device or folder). The header needs an address column: `email`,
 * `e-mail`, `email address` or `email_address`, in any case, anywhere. A
 * UTF-8 byte order mark, CRLF or LF, and ';' or tab as the separator (as
 * spreadsheets write in many locales) are all read.
 */
enum nl_err nl_list_open(const char *path, const struct nl_list_opts *o, struct nl_list **out);
void nl_list_close(struct nl_list *l);
/* The next row, or *eof. NL_EDATA only for what makes the rest unreadable (a broken quote). */
enum nl_err nl_list_next(struct nl_list *l, struct nl_sub **row, bool *eof);
/*
 * The next row's address and status only, trimmed, without the checks of
 * nl_list_next: for a quick first pass. Valid until the next call.
 */
enum nl_err nl_list_skim(struct nl_list *l, const char **email, enum nl_status *status, bool *eof);
/* Back to the first row of the same open file (a list replaced meanwhile is not seen). */
enum nl_err nl_list_rewind(struct nl_list *l);
const char *nl_list_path(const struct nl_list *l);
bool nl_list_existed(const struct nl_list *l);
mode_t nl_list_mode(const struct nl_list *l);	/* of the file, for its replacement */
size_t nl_list_ncols(const struct nl_list *l);
/* Column i's name as the store writes it (the address column is "email"). */
const char *nl_list_colname(const struct nl_list *l, size_t i);
/* The index of a column (case-insensitive), or -1. */
int nl_list_col(const struct nl_list *l, const char *name);
/*
 * The change file beside the list (see changes.h) is read when the list is
 * opened and applied to every row nl_list_next and nl_list_skim return.
 * Refreshing reads what was appended since, for rows not yet read (a long
 * send stops mailing a reader who unsubscribed meanwhile).
 */
struct nl_changes;
enum nl_err nl_list_refresh_changes(struct nl_list *l);
/* What the list applied (for the rewrite that folds it in), and the file's path. */
const struct nl_changes *nl_list_changes(const struct nl_list *l);
const char *nl_list_changes_path(const struct nl_list *l);
/*
 * A row not read from a file (a proof copy's address, a preview's sample
 * reader): ncols fields in f, all "" but the address and the name.
 */
void nl_sub_init(struct nl_sub *row, const char **f, size_t ncols, const char *email, const char *name);

#endif
