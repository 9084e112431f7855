/* bounce.h - what one incoming message is (bounce, complaint, unsubscribe, auto-reply) and whom it is about. */
#ifndef NL_BOUNCE_H
#define NL_BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "nl.h"
#include "subscriber.h"

/* Walls for mail from strangers: bigger or deeper is not read, it is left for a person. */
#define NL_BOUNCE_MAX_BYTES ((size_t)16 << 20)
#define NL_BOUNCE_MAX_DEPTH 8	/* nested multiparts and attached messages */
#define NL_BOUNCE_MAX_PARTS 256
#define NL_BOUNCE_MAX_TEXT ((size_t)256 << 10) /* text looked at for plain-text bounces */

enum nl_bounce_kind {
	NL_BOUNCE_UNKNOWN = 0,	/* not recognised: left for a person */
	NL_BOUNCE_HARD,		/* permanent failure: the address is dead */
	NL_BOUNCE_SOFT,		/* temporary: counted, bounced after enough of them */
	NL_BOUNCE_COMPLAINT,	/* a feedback loop report (ARF, or Microsoft's older shape) */
	NL_BOUNCE_UNSUBSCRIBE,	/* an emailed unsubscribe request */
	NL_BOUNCE_AUTOREPLY,	/* vacation, out of office, challenge-response: ignored */
};

/* "unrecognised", "hard bounce", "soft bounce", "complaint", "unsubscribe", "auto-reply". */
const char *nl_bounce_kind_name(enum nl_bounce_kind k);

struct nl_bounce_opts {
	const char *bounce_address;	/* config bounce_address, maybe with {token} (VERP) */
	const char *unsubscribe_email;	/* config unsubscribe_email: the List-Unsubscribe mailto: */
	const char *envelope_to;	/* the envelope recipient if the MTA told us; NULL or "" if not */
};

/* The decision and every identifier found, each "" when absent. */
struct nl_bounce {
	enum nl_bounce_kind kind;
	char token[NL_TOKEN_LEN + 1];	/* VERP token, or the token of an unsubscribe request */
	const char *token_from;		/* where the token was found (static text) */
	char msgid[322];		/* the returned message's Message-ID, no angle brackets */
	char rcpt[NL_ADDR_MAX + 1];	/* Original-/Final-Recipient, a complaint's recipient */
	char text_addr[NL_ADDR_MAX + 1];/* an address found in the text (the last resort) */
	char from[NL_ADDR_MAX + 1];	/* the sender, for an unsubscribe request without a token */
	char status[16];		/* the DSN status (5.1.1), when known */
	char why[400];			/* one line saying what decided it, for -v */
};

/*
 * Classify one message (the raw bytes as delivered, CRLF or LF). Never fails
 * on bad mail: what cannot be read is NL_BOUNCE_UNKNOWN with a reason.
 * Errors only for NL_ENOMEM. Thread-safe after the first call returns.
 */
enum nl_err nl_bounce_classify(const char *data, size_t len, const struct nl_bounce_opts *o,
			       struct nl_bounce *out);

/*
 * The token in addr if it has the shape of bounce_address with {token} in
 * it ("bounces+{token}@example.org"; letter case ignored). False otherwise.
 */
bool nl_bounce_verp_token(const char *bounce_address, const char *addr, char out[NL_TOKEN_LEN + 1]);

#endif
