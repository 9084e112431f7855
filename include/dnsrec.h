/* dnsrec.h - parse the TXT records mail authentication publishes: SPF, DKIM keys, DMARC. */
#ifndef NL_DNSREC_H
#define NL_DNSREC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*
 * Every parser takes a record's text as published (a TXT record's strings
 * already joined), any bytes from a stranger's DNS, and keeps slices
 * into it: the text must outlive the result. On a syntax error the parser
 * returns false and *why is a static description of the first problem.
 */

/* A record is a few hundred bytes; past this it is not one of ours. */
#define NL_DNSREC_MAX 4096
/* RFC 7208 4.6.4: at most 10 terms that cost DNS lookups. */
#define NL_SPF_MAX_LOOKUPS 10
/* Terms kept (a wall: a longer record still parses, the rest is counted only). */
#define NL_SPF_MAX_TERMS 48

enum nl_spf_kind {
	NL_SPF_ALL, NL_SPF_INCLUDE, NL_SPF_A, NL_SPF_MX, NL_SPF_PTR, NL_SPF_IP4, NL_SPF_IP6,
	NL_SPF_EXISTS, NL_SPF_REDIRECT, NL_SPF_EXP, NL_SPF_OTHER_MOD,
};

/* One term: "-ip4:192.0.2.0/24" is {'-', NL_SPF_IP4, "192.0.2.0", 24, -1}. */
struct nl_spf_term {
	char qual;		/* '+', '-', '~' or '?' (mechanisms; '+' when none was written) */
	enum nl_spf_kind kind;
	struct nl_str value;	/* after ':' or '=', before any '/'; empty when none */
	int cidr4, cidr6;	/* prefix lengths; -1 when not given */
};

struct nl_spf {
	struct nl_spf_term t[NL_SPF_MAX_TERMS];
	size_t n;		/* terms kept */
	size_t lookups;		/* include, a, mx, ptr, exists, redirect */
	char all;		/* qualifier of "all", 0 when the record has none */
	bool redirect;		/* a redirect= modifier */
};

/* True if txt starts a SPF record ("v=spf1" then a space or the end). */
bool nl_spf_is(const char *txt, size_t n);
/* Parse a SPF record (RFC 7208 4.6, 5, 6). */
bool nl_spf_parse(const char *txt, size_t n, struct nl_spf *out, const char **why);
/*
 * Whether an IPv4 address (network order bytes) is inside ip4:value/cidr of
 * a parsed term. False for a term that is not ip4.
 */
bool nl_spf_ip4_match(const struct nl_spf_term *t, const unsigned char addr[4]);
/* The same for ip6 (16 bytes). */
bool nl_spf_ip6_match(const struct nl_spf_term *t, const unsigned char addr[16]);

/* One tag of a tag=value list (DKIM keys, DMARC), RFC 6376 3.2. */
struct nl_tag {
	struct nl_str name, value; /* value with white space around it trimmed */
};

/*
 * The next tag of *rest into *tag, advancing *rest past it; false at the
 * end (rest->len is 0), or when the list is malformed (a tag without '='):
 * then *rest still holds the bad tag and *why says what is wrong.
 */
bool nl_tag_next(struct nl_str *rest, struct nl_tag *tag, const char **why);

enum nl_dmarc_policy { NL_DMARC_NONE, NL_DMARC_QUARANTINE, NL_DMARC_REJECT };

struct nl_dmarc {
	enum nl_dmarc_policy p;
	enum nl_dmarc_policy sp;	/* subdomains; = p when not given */
	int pct;			/* 0-100, default 100 */
	bool adkim_strict, aspf_strict;
	bool rua;			/* aggregate reports are asked for */
};

/* True if txt starts a DMARC record ("v=DMARC1"). */
bool nl_dmarc_is(const char *txt, size_t n);
/* Parse a DMARC record (RFC 7489 6.3): v first, p required, unknown tags ignored. */
bool nl_dmarc_parse(const char *txt, size_t n, struct nl_dmarc *out, const char **why);
const char *nl_dmarc_policy_name(enum nl_dmarc_policy p);

struct nl_dkimkey {
	bool ed25519;		/* k=ed25519; else rsa */
	bool testing;		/* t=y: verifiers treat failures as unsigned */
	bool revoked;		/* p= is empty */
};

/*
 * Parse a DKIM key record (RFC 6376 3.6.1; k=ed25519 RFC 8463): v=DKIM1 if
 * present must come first, k= rsa or ed25519, p= required. The p= value
 * with white space removed is appended to p64 (the caller's buffer).
 */
bool nl_dkimkey_parse(const char *txt, size_t n, struct nl_dkimkey *out, struct nl_buf *p64,
		      const char **why);

/*
 * The organizational domain of a name, as relaxed alignment compares them:
 * the last two labels ("mail.example.org" -> "example.org"). Without the
 * Public Suffix List this is wrong for names under "co.uk" and the like,
 * which callers say. Points into name.
 */
const char *nl_org_domain(const char *name);

#endif
