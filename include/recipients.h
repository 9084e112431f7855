/* recipients.h - who gets a post: the list, the post's audience and the send log, walked in one place. */
#ifndef NL_RECIPIENTS_H
#define NL_RECIPIENTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "addrmap.h"
#include "nl.h"
#include "post.h"
#include "sendlog.h"
#include "subscriber.h"

/*
 * The one rule for "who gets this post": a row whose address is valid and
 * active, the first row of its address (letter case aside), whose address
 * no row of the list suppresses (unsubscribed, bounced, complained: any
 * spelling), and that is in the post's audience. Whether the log says they
 * have it already is reported beside (last), for the caller's resume rules.
 */
struct nl_recipients_opts {
	const char *path;		/* the list */
	const char *secret, *list_id;	/* tokens for rows without one */
	const struct nl_post *post;	/* its front matter `audience`; NULL: everyone */
	struct nl_addrmap *state;	/* the log's last event per address (nl_sendstate.last),
					   borrowed and marked per pass; NULL: none, the walk keeps its own */
	bool missing_ok;		/* a list that does not exist yet has no rows */
	volatile sig_atomic_t *interrupted; /* stop with NL_EINTERRUPTED once set */
};

struct nl_recipient {
	struct nl_sub *row;		/* valid until the next call */
	enum nl_skip skip;		/* NL_SKIP_NONE: a recipient of the post */
	enum nl_event last;		/* the log's last event for the address (NL_EV_NONE: never tried) */
};

struct nl_recipients; /* owned by the caller, freed by nl_recipients_close() */

/*
 * Open the list, check the audience against its columns (an unknown column
 * is an error naming the post's line), and read the list once for its
 * suppressions and size. The file stays open: every pass, and every rewind,
 * reads the very file that was opened, even if the list is replaced
 * meanwhile, and a file changed in place is refused.
 */
enum nl_err nl_recipients_open(const struct nl_recipients_opts *o, struct nl_recipients **out);
void nl_recipients_close(struct nl_recipients *r);
/* Every row in turn, with its verdict; *eof at the end. */
enum nl_err nl_recipients_next(struct nl_recipients *r, struct nl_recipient *out, bool *eof);
/* Start another pass over the same rows. */
enum nl_err nl_recipients_rewind(struct nl_recipients *r);
/* Take in what was appended to the list's change file meanwhile, for the rows still to come. */
enum nl_err nl_recipients_refresh(struct nl_recipients *r);
/* The list (for its column names) and its number of rows. */
const struct nl_list *nl_recipients_list(const struct nl_recipients *r);
size_t nl_recipients_rows(const struct nl_recipients *r);
/* True when the post has an audience; its description ("tier: paid") for messages. */
const char *nl_recipients_audience(const struct nl_recipients *r);

/* The count of recipients by their last event in the log (by_event[NL_EV_NONE]: never tried). */
#define NL_EV_COUNTED 16
enum nl_err nl_recipients_count(const struct nl_recipients_opts *o, size_t by_event[NL_EV_COUNTED]);

#endif
