/* dkim.h - DKIM signatures (RFC 6376; Ed25519 per RFC 8463) over a finished message. */
#ifndef NL_DKIM_H
#define NL_DKIM_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "nl.h"

/*
 * The keys of config's dkim block, read once per run. Read-only after
 * nl_dkim_load(), so one nl_dkim serves every sending thread (each
 * signature uses its own libcrypto contexts).
 */
struct nl_dkim; /* opaque */

/*
 * Read and check cfg->dkim's keys: a regular file owned by us with mode
 * 0600 or stricter, a PEM private key, RSA of 2048 bits or more, or
 * Ed25519. *out is NULL (and NL_OK) when dkim is not configured. Errors
 * name the config file, the line of the key and the setting (NL_ECONFIG).
 */
enum nl_err nl_dkim_load(const struct nl_config *cfg, struct nl_dkim **out);
void nl_dkim_free(struct nl_dkim *d);

/*
 * An nl_message_signer (ctx is a struct nl_dkim): signs the finished
 * message at out[start..] and inserts one DKIM-Signature field per key at
 * start, relaxed/relaxed, sha256, over From (twice,
 * so a second From cannot be added), To, Subject, Date, Message-ID,
 * MIME-Version, Content-Type, List-Id, List-Unsubscribe,
 * List-Unsubscribe-Post and Reply-To, those present.
 */
enum nl_err nl_dkim_sign(const void *ctx, struct nl_buf *out, size_t start);

/* How many keys d has (0 for NULL); with selector, the selector of key i. */
size_t nl_dkim_keys(const struct nl_dkim *d, const char **selector, size_t i);
/*
 * The p= value DNS must publish for key i (base64: the DER public key for
 * RSA, the bare 32 bytes for Ed25519), appended to p64; *ed25519 gives k=.
 */
enum nl_err nl_dkim_public_key(const struct nl_dkim *d, size_t i, struct nl_buf *p64,
			       bool *ed25519);
/*
 * Whether p64[0..n) (a published p=, white space removed) is the public
 * half of key i: the same key, in either RSA encoding. False for anything
 * that does not decode.
 */
bool nl_dkim_public_key_matches(const struct nl_dkim *d, size_t i, const char *p64, size_t n);

/* ---- canonicalization, exposed for tests ---- */

/* Append the relaxed form of one field (RFC 6376 3.4.2): "name:value\r\n". */
void nl_dkim_canon_header(struct nl_buf *out, struct nl_str name, struct nl_str value);

/* Relaxed body canonicalization (3.4.4), fed in pieces of any size. */
struct nl_dkim_body {
	size_t crlfs;	/* line ends held back: they may be trailing empty lines */
	bool wsp;	/* white space held back: it may end a line */
	bool cr;	/* a CR that may start a CRLF */
	bool any;	/* something was written */
};
void nl_dkim_body_init(struct nl_dkim_body *st);
void nl_dkim_body_add(struct nl_dkim_body *st, struct nl_buf *out, const char *p, size_t n);
void nl_dkim_body_end(struct nl_dkim_body *st, struct nl_buf *out);

/* bh=: base64 of sha256 over the relaxed form of body p[0..n), into out (at least 45 bytes). */
enum nl_err nl_dkim_body_hash(const char *p, size_t n, char *out, size_t cap);

#endif
