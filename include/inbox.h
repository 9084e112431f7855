/* inbox.h - act on what comes back: find the reader of a bounce, complaint or unsubscribe, apply the policy, record it. */
#ifndef NL_INBOX_H
#define NL_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bounce.h"
#include "config.h"
#include "nl.h"
#include "sendlog.h"

/* What became of one message. */
enum nl_inbox_outcome {
	NL_IN_UNKNOWN = 0,	/* not recognised: left for a person */
	NL_IN_BOUNCED,		/* the reader is now bounced (hard, or soft past the limit) */
	NL_IN_SOFT,		/* a soft bounce counted, under the limit */
	NL_IN_COMPLAINED,
	NL_IN_UNSUBSCRIBED,
	NL_IN_IGNORED,		/* an auto-reply, a success report */
	NL_IN_UNMATCHED,	/* recognised, but no reader on the list: left for a person */
	NL_IN_OUTCOMES
};

/* "left for a person", "bounced", "soft bounce counted", ... */
const char *nl_inbox_outcome_name(enum nl_inbox_outcome o);
/* True for the outcomes a person should look at. */
bool nl_inbox_needs_person(enum nl_inbox_outcome o);

struct nl_inbox_opts {
	const struct nl_config *cfg;	/* borrowed */
	bool dry_run;			/* decide and explain, change nothing */
	time_t now;			/* 0: the clock */
};

struct nl_inbox_result {
	struct nl_bounce b;
	enum nl_inbox_outcome out;
	char reader[NL_ADDR_MAX + 1];	/* as spelled in the list; "" if none found */
	enum nl_status reader_status;	/* the reader's status when found */
	char slug[256];			/* the post it is about, "" if unknown */
	const char *how;		/* how the reader was found: "VERP token", "Message-ID", ... */
	unsigned soft_count;		/* soft bounces counted, this one included */
	bool changed;			/* the list changed (false: already so, or a dry run) */
};

struct nl_inbox; /* owned by the caller; nl_inbox_close() */

/*
 * Open for a run: the send log is opened for appending (its lock taken:
 * NL_ELOCKED while a send runs, a temporary failure) unless dry_run.
 */
enum nl_err nl_inbox_open(const struct nl_inbox_opts *o, struct nl_inbox **out);
enum nl_err nl_inbox_close(struct nl_inbox *ib);

/*
 * Classify one message and act on it: the reader's status through subsdb's
 * locked writes, one reader event in the send log. envelope_to is the
 * envelope recipient if known (NULL if not). An error means the message was
 * not (fully) handled and should be tried again later.
 */
enum nl_err nl_inbox_handle(struct nl_inbox *ib, const char *data, size_t len,
			    const char *envelope_to, struct nl_inbox_result *res);

/*
 * For `send`: a relay's permanent refusal of a recipient with an enhanced
 * status 5.1.x (no such mailbox, bad address) marks the reader bounced at
 * once and records `bounced` for the post. *marked says whether it did.
 */
enum nl_err nl_inbox_relay_refused(const struct nl_config *cfg, struct nl_sendlog *log, const char *slug,
				   const char *rcpt, int code, const char *reply, bool *marked);

/* ---- where messages come from (maildir.c, imap.c) ---- */

/* What a source does with a message once its handler has seen it. */
enum nl_src_verdict {
	NL_SRC_DONE,	/* handled: Maildir cur/ seen; IMAP \Seen or moved */
	NL_SRC_PERSON,	/* left for a person: out of the way of the next run, but unread */
	NL_SRC_RETRY,	/* not handled (a temporary failure): the next run sees it again */
};

/*
 * Called for each message (name: a file name or "UID n"). An error stops
 * the source; the message stays as it was.
 */
typedef enum nl_err (*nl_src_fn)(void *ctx, const char *name, const char *data, size_t len,
				 enum nl_src_verdict *v);

#endif
