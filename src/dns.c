/* dns.c - DNS look-ups with glibc's resolver (libresolv): res_nquery, then ns_parserr. */
#include "dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An answer over TCP may be this long (RFC 1035 4.2.2). */
#define ANSWER_MAX 65535

struct nl_dns {
	struct __res_state st;
	char name[96];		/* for messages */
	unsigned char *answer;	/* ANSWER_MAX bytes */
	bool silent;		/* a query timed out: the server is not there, do not wait again */
};

/* "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT" into a socket address. */
static bool parse_server(const char *s, struct sockaddr_in *v4, struct sockaddr_in6 *v6, bool *is6)
{
	char host[64];
	const char *port = NULL;
	size_t n;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		n = (size_t)(end - s - 1);
		s++;
		port = end[1] ? end + 2 : NULL;
	} else {
		const char *colon = strchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
		port = colon ? colon + 1 : NULL;
	}
	if (n >= sizeof host)
		return false;
	memcpy(host, s, n);
	host[n] = 0;
	unsigned long p = 53;
	if (port) {
		char *end;
		p = strtoul(port, &end, 10);
		if (!*port || *end || p == 0 || p > 65535)
			return false;
	}
	*is6 = inet_pton(AF_INET, host, &v4->sin_addr) != 1;
	if (!*is6) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((unsigned short)p);
		return true;
	}
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons((unsigned short)p);
	return inet_pton(AF_INET6, host, &v6->sin6_addr) == 1;
}

/*
 * Point the state at one server. glibc (2.26 and later) reads an IPv6
 * server from _u._ext.nsaddrs[i] (malloc'd, freed by res_nclose) and an
 * IPv4 one from nsaddr_list[i] when that slot is NULL.
 */
static bool use_server(struct nl_dns *d, const char *server)
{
	struct sockaddr_in v4 = {0};
	struct sockaddr_in6 v6 = {0};
	bool is6 = false;
	if (!parse_server(server, &v4, &v6, &is6))
		return false;
	free(d->st._u._ext.nsaddrs[0]);
	d->st._u._ext.nsaddrs[0] = NULL;
	if (is6) {
		struct sockaddr_in6 *p = malloc(sizeof *p);
		if (!p)
			return false;
		*p = v6;
		d->st._u._ext.nsaddrs[0] = p;
	} else {
		d->st.nsaddr_list[0] = v4;
	}
	d->st.nscount = 1;
	snprintf(d->name, sizeof d->name, "the resolver %s", server);
	return true;
}

enum nl_err nl_dns_open(const char *server, const char *what, struct nl_dns **out)
{
	struct nl_dns *d = calloc(1, sizeof *d);
	*out = NULL;
	if (!d || !(d->answer = malloc(ANSWER_MAX))) {
		free(d);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	if (res_ninit(&d->st)) {
		free(d->answer);
		free(d);
		return nl_errf(NL_ETEMPFAIL, "cannot set up the DNS resolver (/etc/resolv.conf)");
	}
	snprintf(d->name, sizeof d->name, "the system resolver");
	/* Two tries of 2 s: a checklist should not hang on a dead server. */
	d->st.retrans = 2;
	d->st.retry = 2;
	if (*server && !use_server(d, server)) {
		nl_dns_close(d);
		return nl_errf(NL_ECONFIG, "%s: '%s' is not ADDRESS, ADDRESS:PORT or [IPV6]:PORT",
			       what, server);
	}
	*out = d;
	return NL_OK;
}

void nl_dns_close(struct nl_dns *d)
{
	if (!d)
		return;
	res_nclose(&d->st);
	free(d->answer);
	free(d);
}

const char *nl_dns_name(const struct nl_dns *d)
{
	return d->name;
}

void nl_dns_result_free(struct nl_dns_result *r)
{
	nl_buf_free(&r->buf);
	r->n = 0;
}

/* Keep one record's text in r (the buffer may move: slices are offsets until the end). */
static void keep(struct nl_dns_result *r, size_t start)
{
	if (r->n < NL_DNS_MAX_RECORDS) {
		r->rec[r->n].p = (const char *)(uintptr_t)start;
		r->rec[r->n].len = r->buf.len - start;
		r->n++;
	}
	nl_buf_addc(&r->buf, 0);
}

/* A TXT record's character-strings, one length byte each, joined. */
static bool add_txt(struct nl_dns_result *r, const unsigned char *p, size_t n)
{
	size_t start = r->buf.len;
	while (n) {
		size_t k = p[0];
		if (k + 1 > n)
			return false;
		nl_buf_add(&r->buf, p + 1, k);
		p += k + 1;
		n -= k + 1;
	}
	keep(r, start);
	return true;
}

static bool add_rr(struct nl_dns_result *r, ns_msg *msg, const ns_rr *rr, enum nl_dns_type type)
{
	const unsigned char *p = ns_rr_rdata(*rr);
	size_t n = ns_rr_rdlen(*rr), start = r->buf.len;
	char text[NS_MAXDNAME];
	switch (type) {
	case NL_DNS_TXT:
		return add_txt(r, p, n);
	case NL_DNS_A:
	case NL_DNS_AAAA:
		if (n != (type == NL_DNS_A ? 4u : 16u) ||
		    !inet_ntop(type == NL_DNS_A ? AF_INET : AF_INET6, p, text, sizeof text))
			return false;
		break;
	case NL_DNS_MX:
		if (n < 3 || ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), p + 2, text,
						sizeof text) < 0)
			return false;
		break;
	}
	nl_buf_adds(&r->buf, text);
	keep(r, start);
	return true;
}

static const int rr_types[] = {
	[NL_DNS_TXT] = ns_t_txt, [NL_DNS_A] = ns_t_a, [NL_DNS_AAAA] = ns_t_aaaa, [NL_DNS_MX] = ns_t_mx,
};

static enum nl_err parse_answer(struct nl_dns *d, int len, const char *name, enum nl_dns_type type,
				struct nl_dns_result *r)
{
	ns_msg msg;
	ns_rr rr;
	if (ns_initparse(d->answer, len, &msg) < 0)
		return nl_errf(NL_EPROTOCOL, "%s: %s sent an answer that does not parse", name, d->name);
	int count = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return nl_errf(NL_EPROTOCOL, "%s: %s sent a record that does not parse", name,
				       d->name);
		/* CNAMEs on the way come first; only the type asked for counts. */
		if ((int)ns_rr_type(rr) != rr_types[type] || ns_rr_class(rr) != ns_c_in)
			continue;
		if (!add_rr(r, &msg, &rr, type))
			return nl_errf(NL_EPROTOCOL, "%s: %s sent a malformed record", name, d->name);
	}
	for (size_t i = 0; i < r->n; i++) /* offsets become pointers now that buf stays put */
		r->rec[i].p = r->buf.data + (uintptr_t)r->rec[i].p;
	return nl_buf_err(&r->buf);
}

enum nl_err nl_dns_query(struct nl_dns *d, const char *name, enum nl_dns_type type,
			 struct nl_dns_result *r)
{
	struct timespec t0, t1;
	nl_buf_reset(&r->buf);
	r->n = 0;
	if (d->silent)
		return nl_errf(NL_ETEMPFAIL, "%s: not asked: %s did not answer before", name, d->name);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int len = res_nquery(&d->st, name, ns_c_in, rr_types[type], d->answer, ANSWER_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (len < 0) {
		int h = d->st.res_h_errno;
		if (h == HOST_NOT_FOUND || h == NO_DATA)
			return NL_OK;
		/* A SERVFAIL comes at once; only silence takes every try's whole wait. */
		d->silent = h == TRY_AGAIN && t1.tv_sec - t0.tv_sec >= (time_t)d->st.retrans * d->st.retry - 1;
		return nl_errf(NL_ETEMPFAIL, "%s: no answer from %s (%s)", name, d->name,
			       d->silent ? "timeout" : h == TRY_AGAIN ? "SERVFAIL" : "refused or not understood");
	}
	return parse_answer(d, len > ANSWER_MAX ? ANSWER_MAX : len, name, type, r);
}
