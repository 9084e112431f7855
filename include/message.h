/* message.h - one message: ordered header fields, a body, an envelope sender; one finalize step. */
#ifndef NL_MESSAGE_H
#define NL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "nl.h"

/*
 * A message is built per reader and reused for the next one (reset keeps
 * the memory, so a warm message allocates nothing). Header fields are kept
 * already encoded and folded ("Name: value\r\n"), in order, in one buffer:
 * a DKIM signer can canonicalize them as they will go on the wire. The body
 * is a list of byte runs, most of them borrowed from whoever built the
 * message (a campaign's pre-encoded parts), so the body is copied once, by
 * nl_message_finalize(). Not thread-safe: one message per thread.
 */
struct nl_message; /* opaque; nl_message_new() / nl_message_free() */

#define NL_MSGID_MAX 320
/* Envelope sender and recipient, as the SMTP job holds them. */
#define NL_ENVELOPE_MAX 320

/* NULL when out of memory. */
struct nl_message *nl_message_new(void);
void nl_message_free(struct nl_message *m);
/* Empty it (fields, body, envelope sender, Message-ID), keeping the memory. */
void nl_message_reset(struct nl_message *m);

/* Where a new header field goes. */
enum nl_hdr_at {
	NL_HDR_APPEND,	/* after the others */
	NL_HDR_PREPEND,	/* before the others (trace and signature fields) */
	NL_HDR_REPLACE,	/* where the first field of that name is (appended if none);
			   any further fields of that name are dropped */
};

/*
 * Add a field. name must be 1-76 printable ASCII characters without ':'
 * (else NL_EDATA: a name is ours, never the reader's, so a bad one is a bug
 * to report, not to clean). Values are cleaned and encoded as mime.h says:
 * _raw for structured values we built (nl_hdr_raw), _text for unstructured
 * UTF-8 text such as a title (nl_hdr_text), _addr for "Display <addr>"
 * (nl_hdr_addr; NL_EDATA for a non-ASCII addr, which would need SMTPUTF8).
 * Control characters (CR, LF) in a value never start a line, and the
 * fields are 7-bit.
 */
enum nl_err nl_message_hdr_raw(struct nl_message *m, enum nl_hdr_at at, const char *name,
			       const char *value);
enum nl_err nl_message_hdr_text(struct nl_message *m, enum nl_hdr_at at, const char *name,
				const char *value);
enum nl_err nl_message_hdr_addr(struct nl_message *m, enum nl_hdr_at at, const char *name,
				const char *display, const char *addr);
/* Append copies of every header field of from, in its order (prepared-once fields). */
enum nl_err nl_message_hdr_copy(struct nl_message *m, const struct nl_message *from);
/* Drop every field of that name (case-insensitive); how many there were. */
size_t nl_message_hdr_remove(struct nl_message *m, const char *name);

/* Header fields in order: name, and the value as encoded (after "Name:", folds kept, no final CRLF). */
size_t nl_message_hdr_count(const struct nl_message *m);
struct nl_str nl_message_hdr_name(const struct nl_message *m, size_t i);
struct nl_str nl_message_hdr_value(const struct nl_message *m, size_t i);
/* Index of the first field of that name (case-insensitive), or -1. */
long nl_message_hdr_find(const struct nl_message *m, const char *name);

/*
 * The Message-ID, without angle brackets: sets the field (in place of an
 * earlier one) and what nl_message_id() returns. NL_EDATA if it is too
 * long or has spaces, controls, '<' or '>'.
 */
enum nl_err nl_message_set_id(struct nl_message *m, const char *id);
/* "" until set. */
const char *nl_message_id(const struct nl_message *m);

/*
 * The envelope sender (SMTP MAIL FROM); "" is the null sender <>. NL_EDATA
 * if it is too long or has spaces, controls, '<' or '>', which could
 * otherwise change the SMTP command.
 */
enum nl_err nl_message_set_envelope_from(struct nl_message *m, const char *addr);
const char *nl_message_envelope_from(const struct nl_message *m);
/*
 * VERP: the reader's token, put in place of "{token}" in the envelope sender
 * by nl_message_finalize (bounce_address "bounces+{token}@example.org"), so
 * that a bounce names its reader whatever the bouncing system writes.
 * Without "{token}" in the envelope sender it changes nothing.
 */
enum nl_err nl_message_set_verp(struct nl_message *m, const char *token);

/*
 * Body bytes, after the header fields and the blank line, CRLF line ends.
 * body_ref borrows p: it must stay unchanged until the message is
 * finalized or reset. body_add copies. body_buf hands out the message's own
 * buffer for an encoder to append to directly: what is appended there joins
 * the body where it stands, before whatever is added next.
 */
void nl_message_body_ref(struct nl_message *m, const char *p, size_t n);
void nl_message_body_add(struct nl_message *m, const char *p, size_t n);
struct nl_buf *nl_message_body_buf(struct nl_message *m);

/*
 * Two buffers that live with the message, for its builder's scratch work
 * (i is 0 or 1), so that building a message allocates nothing once warm.
 * Their content is never part of the message.
 */
struct nl_buf *nl_message_scratch(struct nl_message *m, int i);

/*
 * A signer adds fields computed over the finished bytes (DKIM): called by
 * nl_message_finalize() on what it just wrote to out (from start), it
 * inserts its fields at start. ctx is borrowed and must outlive the
 * message's use; NULL fn signs nothing. Reset clears it. The SMTP sender
 * takes the signer out (nl_message_signer_get, then set to NULL) and signs
 * each finalized job on its connection's thread instead, in parallel.
 */
typedef enum nl_err (*nl_message_signer)(const void *ctx, struct nl_buf *out, size_t start);
void nl_message_set_signer(struct nl_message *m, nl_message_signer fn, const void *ctx);
nl_message_signer nl_message_signer_get(const struct nl_message *m, const void **ctx);

/*
 * The one last step every output goes through: SMTP, a proof copy, a dry
 * run's .eml and the preview's .eml are all these bytes. Appends the header
 * fields in order, the blank line and the body to out, and copies the
 * envelope sender into envelope_from (cap bytes; NULL when the output has no
 * envelope, as for files). The signer (if set) then prepends its
 * DKIM-Signature fields to those bytes. The envelope sender gets the
 * reader's VERP token here (nl_message_set_verp). Errors: NL_ENOMEM (any
 * earlier append failed too), NL_EDATA (the envelope sender does not fit).
 * Finalizing twice gives the same bytes (with a signer: within one second,
 * as the signature carries its time).
 */
enum nl_err nl_message_finalize(struct nl_message *m, struct nl_buf *out,
				char *envelope_from, size_t cap);

#endif
