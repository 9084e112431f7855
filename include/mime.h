/* mime.h - RFC 2045-2047 encoders: quoted-printable, base64, header fields. */
#ifndef NL_MIME_H
#define NL_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "nl.h"

/*
 * Everything here appends to an nl_buf and writes CRLF line endings and
 * 7-bit bytes only. Failures (allocation, NL_BUF_MAX) are the buffer's
 * sticky error: check nl_buf_err() once when the message is complete.
 */

/* Longest encoded line, not counting CRLF (RFC 2045 6.7 and 6.8). */
#define NL_MIME_BODY_LINE 76
/* Header lines we aim for, and the hard limit (RFC 5322 2.1.1). */
#define NL_MIME_HDR_FOLD 78
#define NL_MIME_HDR_MAX 998

/*
 * Quoted-printable (RFC 2045 6.7). "\n" and "\r\n" in p become CRLF hard
 * breaks; a lone "\r" is data (=0D). No output line starts with "." or
 * "From ". Encoding starts at column 0. If soft_end and p does not end with
 * a line break, the output ends in a soft break "=\r\n", so the next
 * independently encoded segment can be appended as is; otherwise the output
 * ends where the input does (without CRLF if the input had no final break).
 * Empty input gives empty output either way.
 */
void nl_qp_encode(struct nl_buf *out, const char *p, size_t n, bool soft_end);
/*
 * Decodes quoted-printable. Line breaks are copied as they are; white space
 * at the end of a line (transport padding) is dropped. NL_EDATA on a
 * malformed escape. For tests and self-checks; it is not on the hot path.
 */
enum nl_err nl_qp_decode(struct nl_buf *out, const char *p, size_t n);

/* Base64 in lines of 76 characters, each line (the last too) ending in CRLF. */
void nl_base64_encode(struct nl_buf *out, const void *p, size_t n);

/*
 * Appends "Name: value\r\n" for an unstructured field (Subject, ...); value
 * is UTF-8. Control characters (CR and LF too) become spaces, white space
 * runs collapse to one space and the ends are trimmed, so no value can start
 * another header. Runs of words that need it (non-ASCII, containing "=?",
 * or too long for a 998-octet line) become RFC 2047 encoded words of at most
 * 75 characters, each holding whole UTF-8 characters; the rest stays
 * readable. Lines are folded at spaces to at most 78 octets, except that
 * a plain word too long for that keeps a line to itself, and the first
 * word always stays on the "Name:" line (some parsers keep a leading
 * space otherwise).
 */
void nl_hdr_text(struct nl_buf *out, const char *name, const char *value);
/*
 * Appends "Name: value\r\n" for a structured value we built ourselves
 * (Message-ID, List-Unsubscribe, Date, Content-Type). Controls become
 * spaces and white space collapses as in nl_hdr_text; bytes >= 0x80 become
 * '?' (percent-encode URLs first). Folds at spaces (so after ", ") to keep
 * lines within 78 octets where possible, and, unlike nl_hdr_text, also
 * right after "Name:" when the first token does not fit the first line (a
 * long List-Unsubscribe URL); nothing is ever encoded. A single space-free run longer than 997 octets is never
 * cut, so that line exceeds 998: keeping values (URLs) within that is the
 * caller's job.
 */
void nl_hdr_raw(struct nl_buf *out, const char *name, const char *value);
/*
 * Appends "Name: Display <addr>\r\n", or "Name: addr\r\n" when display is
 * empty or NULL. The display name is cleaned as in nl_hdr_text; if it is
 * ASCII with RFC 5322 specials it becomes a quoted-string; if it has
 * non-ASCII (or "=?") it becomes encoded words, never inside quotes. (A
 * name too long for one encoded word takes several; RFC 2047 readers join
 * them, but Python's email policy.default parser puts a space between.)
 * addr is written unchanged except that control characters become spaces,
 * so even an unvalidated address cannot add a header line. Like
 * nl_hdr_raw, it may fold right after "Name:" to keep lines within 78.
 */
void nl_hdr_addr(struct nl_buf *out, const char *name, const char *display,
		 const char *addr);

/*
 * Appends a Content-Type or Content-Disposition parameter, "; name=value",
 * to a value for nl_hdr_raw: a quoted-string for short printable ASCII,
 * else RFC 2231's UTF-8 percent-encoded form (name*=UTF-8''...), split into
 * numbered sections (name*0*=, name*1*=, ...) of at most 60 characters
 * when it is long, so that folding at the "; " keeps lines within 78.
 */
void nl_mime_param(struct nl_buf *out, const char *name, const char *value);

/*
 * A multipart boundary, "=_nl_" and 32 hex digits, derived from the seed
 * (same seed, same boundary). "=_" never occurs in quoted-printable or
 * base64 text, so the boundary cannot collide with an encoded body. The '='
 * means the Content-Type parameter must be quoted: boundary="...".
 */
void nl_mime_boundary(char out[48], const void *seed, size_t n);

/*
 * True if every line of msg[0..n) ends in CRLF (the last one too), there
 * is no bare CR or LF, no NUL and no byte >= 0x80, and no line is longer
 * than max octets without its CRLF. Otherwise false, and *bad_line (if not
 * NULL) is the 1-based number of the first bad line.
 */
bool nl_mime_lines_ok(const char *msg, size_t n, size_t max, size_t *bad_line);

#endif
