/* dns.h - DNS look-ups (TXT, A, AAAA, MX) through the system resolver or one named server. */
#ifndef NL_DNS_H
#define NL_DNS_H

#include <stddef.h>

#include "buf.h"
#include "nl.h"

/* Records kept per answer (a wall: a name with more is not ours to judge). */
#define NL_DNS_MAX_RECORDS 16

struct nl_dns; /* opaque; one per thread */

/*
 * server: "" for the system resolver (/etc/resolv.conf), else one server
 * as "ADDR", "ADDR:PORT" or "[IPV6]:PORT" (port 53 when not given); a
 * config key or an environment variable names it, so errors name `what`.
 * Uses glibc's resolver state (res_ninit), never the process-wide one.
 */
enum nl_err nl_dns_open(const char *server, const char *what, struct nl_dns **out);
void nl_dns_close(struct nl_dns *d);
/* "the system resolver" or "the resolver ADDR:PORT", for messages. */
const char *nl_dns_name(const struct nl_dns *d);

enum nl_dns_type { NL_DNS_TXT, NL_DNS_A, NL_DNS_AAAA, NL_DNS_MX };

/*
 * The records of one type at name. TXT: each record's strings joined into
 * one (as RFC 7208 3.3 says; any bytes, NUL included); A and AAAA: the
 * address as text; MX: the exchange's name. n is 0 when the name or the
 * type does not exist (NXDOMAIN, NODATA), which is an answer, not an error.
 */
struct nl_dns_result {
	size_t n;
	struct nl_str rec[NL_DNS_MAX_RECORDS];	/* into buf, each NUL-terminated too */
	struct nl_buf buf;
};
void nl_dns_result_free(struct nl_dns_result *r);

/*
 * Look name up. NL_ETEMPFAIL when no answer came (timeout, SERVFAIL,
 * REFUSED), with a message naming the name and the resolver; NL_EPROTOCOL
 * for an answer that does not parse. r is emptied first; free it with
 * nl_dns_result_free even after an error.
 */
enum nl_err nl_dns_query(struct nl_dns *d, const char *name, enum nl_dns_type type,
			 struct nl_dns_result *r);

#endif
