/* addr.h - validating email addresses and parsing "Name <addr>" mailboxes. */
#ifndef NL_ADDR_H
#define NL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 4.5.3.1: the longest local part, domain and whole address. */
#define NL_ADDR_LOCAL_MAX 64
#define NL_ADDR_DOMAIN_MAX 253
#define NL_ADDR_MAX 254

/*
 * True if addr[0..len) is an addr-spec an SMTP server would take in RCPT TO:
 * a dot-atom local part of 1..64 octets, one '@', and a domain name of
 * LDH labels (1..63 octets, no '-' at either end) with at least one dot
 * and a top-level label that is not all digits, 253 octets at most; 254 in
 * all. Refused on purpose: quoted local parts ("a b"@example.com), address
 * literals (user@[192.0.2.1]) and non-ASCII anywhere (an internationalized
 * domain must be given in its xn-- form; we have no IDNA converter).
 * On false, *why (if why is not NULL) is a static description of the first
 * problem, e.g. "missing @".
 */
bool nl_addr_valid(const char *addr, size_t len, const char **why);

/*
 * Parses a configured mailbox: "Jane Writer <jane@example.test>",
 * "\"Doe, Jane\" <jane@example.test>" or a bare "jane@example.test".
 * On success *display (maybe "", cleaned with nl_clean_display_name) and
 * *addr are malloc'd and the caller frees both. On failure both are NULL
 * and *why says what is wrong. CR and LF anywhere are refused.
 */
bool nl_addr_parse_mailbox(const char *in, char **display, char **addr,
			   const char **why);

/* The text after the last '@' of addr ("" if none); points into addr. */
const char *nl_addr_domain(const char *addr);

/* In place: controls (TAB, CR, LF, DEL...) become spaces, runs of spaces
 * collapse to one, and the ends are trimmed. */
void nl_clean_display_name(char *s);

#endif
