/* dnsrec.c - parse SPF (RFC 7208), DKIM key (RFC 6376, 8463) and DMARC (RFC 7489) records. */
#include "dnsrec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool str_ieq(struct nl_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && !strncasecmp(s.p, lit, n);
}

static bool fail(const char **why, const char *what)
{
	if (why)
		*why = what;
	return false;
}

/* ---- SPF ---- */

bool nl_spf_is(const char *txt, size_t n)
{
	return n >= 6 && !strncasecmp(txt, "v=spf1", 6) && (n == 6 || txt[6] == ' ');
}

static const struct {
	const char *name;
	enum nl_spf_kind kind;
	bool lookup;	/* costs a DNS lookup (RFC 7208 4.6.4) */
	char needs;	/* 'r': ":value" required, 'o': optional, 'n': none */
} mechs[] = {
	{"all", NL_SPF_ALL, false, 'n'},	  {"include", NL_SPF_INCLUDE, true, 'r'},
	{"a", NL_SPF_A, true, 'o'},		  {"mx", NL_SPF_MX, true, 'o'},
	{"ptr", NL_SPF_PTR, true, 'o'},		  {"ip4", NL_SPF_IP4, false, 'r'},
	{"ip6", NL_SPF_IP6, false, 'r'},	  {"exists", NL_SPF_EXISTS, true, 'r'},
};

/* A prefix length of 1-3 digits, no leading zero, at most max; -1 if it is not one. */
static int cidr_len(const char *p, size_t n, int max)
{
	int v = 0;
	if (!n || n > 3 || (n > 1 && p[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v <= max ? v : -1;
}

/*
 * A domain-spec (RFC 7208 7.1): visible characters, macros as %{...},
 * %%, %_ or %-. Without macros it needs a dot (domain-end).
 */
static bool domain_spec_ok(struct nl_str d)
{
	bool macro = false, dot = false;
	for (size_t i = 0; i < d.len; i++) {
		char c = d.p[i];
		if (c < 0x21 || c > 0x7e)
			return false;
		dot |= c == '.';
		if (c != '%')
			continue;
		if (i + 1 >= d.len)
			return false;
		if (d.p[i + 1] == '{') {
			const char *end = memchr(d.p + i, '}', d.len - i);
			if (!end || end - (d.p + i) < 3)
				return false;
			macro = true;
			i = (size_t)(end - d.p);
		} else if (d.p[i + 1] == '%' || d.p[i + 1] == '_' || d.p[i + 1] == '-') {
			i++;
		} else {
			return false;
		}
	}
	return d.len && (dot || macro);
}

static bool ip_ok(int af, struct nl_str v)
{
	char tmp[64];
	unsigned char bin[16];
	if (!v.len || v.len >= sizeof tmp)
		return false;
	memcpy(tmp, v.p, v.len);
	tmp[v.len] = 0;
	return inet_pton(af, tmp, bin) == 1;
}

/* "/24", "//64" or "/24//64" after a mechanism's value. */
static bool parse_cidrs(const char *p, size_t n, struct nl_spf_term *t, const char **why)
{
	const char *dbl = NULL;
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '/' && p[i + 1] == '/') {
			dbl = p + i;
			break;
		}
	size_t n4 = dbl ? (size_t)(dbl - p) : n;
	if (t->kind == NL_SPF_IP6 && !dbl) { /* ip6:addr/64 has one slash */
		t->cidr6 = cidr_len(p + 1, n - 1, 128);
		return t->cidr6 >= 0 ? true : fail(why, "bad IPv6 prefix length after '/'");
	}
	if (n4 && (t->cidr4 = cidr_len(p + 1, n4 - 1, 32)) < 0)
		return fail(why, "bad IPv4 prefix length after '/'");
	if (dbl && (t->cidr6 = cidr_len(dbl + 2, n - n4 - 2, 128)) < 0)
		return fail(why, "bad IPv6 prefix length after '//'");
	bool v4ok = t->kind == NL_SPF_A || t->kind == NL_SPF_MX || t->kind == NL_SPF_IP4;
	bool v6ok = t->kind == NL_SPF_A || t->kind == NL_SPF_MX || t->kind == NL_SPF_IP6;
	if ((n4 && !v4ok) || (dbl && !v6ok))
		return fail(why, "a prefix length where this mechanism takes none");
	return true;
}

static bool mechanism(struct nl_str term, struct nl_spf *s, struct nl_spf_term *t,
		      const char **why)
{
	size_t i = 0;
	t->qual = '+';
	if (term.len && strchr("+-~?", term.p[0]))
		t->qual = term.p[i++];
	size_t name_end = i;
	while (name_end < term.len && term.p[name_end] != ':' && term.p[name_end] != '/')
		name_end++;
	struct nl_str name = {term.p + i, name_end - i};
	size_t m = 0;
	while (m < NL_ARRAY_LEN(mechs) && !str_ieq(name, mechs[m].name))
		m++;
	if (m == NL_ARRAY_LEN(mechs))
		return fail(why, "unknown mechanism (a typo? see RFC 7208 section 5)");
	t->kind = mechs[m].kind;
	s->lookups += mechs[m].lookup;
	size_t slash = name_end;
	if (name_end < term.len && term.p[name_end] == ':') {
		if (mechs[m].needs == 'n')
			return fail(why, "'all' takes no value");
		slash = name_end + 1;
		/* An ip6 value holds ':' but never '/', so the value ends at the first '/'. */
		while (slash < term.len && term.p[slash] != '/')
			slash++;
		t->value = (struct nl_str){term.p + name_end + 1, slash - name_end - 1};
	} else if (mechs[m].needs == 'r') {
		return fail(why, "include, exists, ip4 and ip6 need ':' and a value");
	}
	if (slash < term.len && !parse_cidrs(term.p + slash, term.len - slash, t, why))
		return false;
	if (t->kind == NL_SPF_IP4 && !ip_ok(AF_INET, t->value))
		return fail(why, "ip4: not an IPv4 address");
	if (t->kind == NL_SPF_IP6 && !ip_ok(AF_INET6, t->value))
		return fail(why, "ip6: not an IPv6 address");
	if (t->kind != NL_SPF_IP4 && t->kind != NL_SPF_IP6 && t->value.p && !domain_spec_ok(t->value))
		return fail(why, "not a domain name after ':'");
	if (t->kind == NL_SPF_ALL && !s->all)
		s->all = t->qual;
	return true;
}

/* name=value (RFC 7208 6); true if term is a modifier, *bad when it is a broken one. */
static bool modifier(struct nl_str term, struct nl_spf *s, struct nl_spf_term *t, bool *bad,
		     const char **why)
{
	const char *eq = memchr(term.p, '=', term.len);
	size_t n = eq ? (size_t)(eq - term.p) : 0;
	if (!n || !isalpha((unsigned char)term.p[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)term.p[i]) && !strchr("-_.", term.p[i]))
			return false;
	struct nl_str name = {term.p, n};
	t->value = (struct nl_str){eq + 1, term.len - n - 1};
	t->qual = '+';
	t->kind = str_ieq(name, "redirect") ? NL_SPF_REDIRECT
		  : str_ieq(name, "exp")    ? NL_SPF_EXP
					    : NL_SPF_OTHER_MOD;
	*bad = false;
	if (t->kind == NL_SPF_REDIRECT) {
		if (s->redirect)
			*bad = !fail(why, "redirect= given twice");
		s->redirect = true;
		s->lookups++;
	}
	if (!*bad && t->kind != NL_SPF_OTHER_MOD && !domain_spec_ok(t->value))
		*bad = !fail(why, "redirect= and exp= need a domain name");
	return true;
}

bool nl_spf_parse(const char *txt, size_t n, struct nl_spf *s, const char **why)
{
	memset(s, 0, sizeof *s);
	if (n > NL_DNSREC_MAX)
		return fail(why, "longer than any real SPF record");
	if (!nl_spf_is(txt, n))
		return fail(why, "does not start with v=spf1");
	size_t i = 6;
	while (i < n) {
		if (txt[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && txt[j] != ' ')
			j++;
		struct nl_str term = {txt + i, j - i};
		struct nl_spf_term t = {.cidr4 = -1, .cidr6 = -1};
		bool bad = false;
		for (size_t k = 0; k < term.len; k++)
			if ((unsigned char)term.p[k] < 0x21 || (unsigned char)term.p[k] > 0x7e)
				return fail(why, "a control or non-ASCII character (only spaces separate terms)");
		if (!modifier(term, s, &t, &bad, why) && !mechanism(term, s, &t, why))
			return false;
		if (bad)
			return false;
		if (s->n < NL_SPF_MAX_TERMS)
			s->t[s->n++] = t;
		i = j;
	}
	if (s->lookups > NL_SPF_MAX_LOOKUPS)
		return fail(why, "more than 10 mechanisms that need DNS lookups (include, a, mx, "
				 "ptr, exists, redirect): receivers give up (permerror)");
	return true;
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)whole))
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

static bool ip_match(const struct nl_spf_term *t, int af, const unsigned char *addr, int bits,
		     int cidr)
{
	char tmp[64];
	unsigned char net[16];
	if (!t->value.len || t->value.len >= sizeof tmp)
		return false;
	memcpy(tmp, t->value.p, t->value.len);
	tmp[t->value.len] = 0;
	if (inet_pton(af, tmp, net) != 1)
		return false;
	return prefix_match(net, addr, cidr < 0 ? bits : cidr);
}

bool nl_spf_ip4_match(const struct nl_spf_term *t, const unsigned char addr[4])
{
	return t->kind == NL_SPF_IP4 && ip_match(t, AF_INET, addr, 32, t->cidr4);
}

bool nl_spf_ip6_match(const struct nl_spf_term *t, const unsigned char addr[16])
{
	return t->kind == NL_SPF_IP6 && ip_match(t, AF_INET6, addr, 128, t->cidr6);
}

/* ---- tag lists (DKIM, DMARC) ---- */

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct nl_str trim(const char *p, size_t n)
{
	while (n && is_fws(*p)) {
		p++;
		n--;
	}
	while (n && is_fws(p[n - 1]))
		n--;
	return (struct nl_str){p, n};
}

bool nl_tag_next(struct nl_str *rest, struct nl_tag *tag, const char **why)
{
	for (;;) {
		if (!rest->len)
			return false;
		const char *semi = memchr(rest->p, ';', rest->len);
		size_t n = semi ? (size_t)(semi - rest->p) : rest->len;
		struct nl_str spec = trim(rest->p, n);
		size_t used = semi ? n + 1 : n;
		if (!spec.len) { /* ";;" or a trailing ';' */
			rest->p += used;
			rest->len -= used;
			continue;
		}
		const char *eq = memchr(spec.p, '=', spec.len);
		if (!eq)
			return fail(why, "a tag without '=' (tags are name=value; name=value)");
		tag->name = trim(spec.p, (size_t)(eq - spec.p));
		tag->value = trim(eq + 1, spec.len - (size_t)(eq - spec.p) - 1);
		if (!tag->name.len || !isalpha((unsigned char)tag->name.p[0]))
			return fail(why, "a tag name must start with a letter");
		for (size_t i = 0; i < tag->name.len; i++)
			if (!isalnum((unsigned char)tag->name.p[i]) && tag->name.p[i] != '_')
				return fail(why, "a tag name has letters, digits and '_' only");
		/* Only a good tag is consumed: what is left after false tells an error from the end. */
		rest->p += used;
		rest->len -= used;
		return true;
	}
}

/* ---- DMARC ---- */

bool nl_dmarc_is(const char *txt, size_t n)
{
	struct nl_str rest = {txt, n};
	struct nl_tag t;
	return nl_tag_next(&rest, &t, NULL) && nl_str_eq(t.name, "v") && nl_str_eq(t.value, "DMARC1");
}

static bool policy(struct nl_str v, enum nl_dmarc_policy *p)
{
	if (str_ieq(v, "none"))
		*p = NL_DMARC_NONE;
	else if (str_ieq(v, "quarantine"))
		*p = NL_DMARC_QUARANTINE;
	else if (str_ieq(v, "reject"))
		*p = NL_DMARC_REJECT;
	else
		return false;
	return true;
}

/* adkim= / aspf=: r (relaxed) or s (strict). */
static bool mode(struct nl_str v, bool *strict)
{
	if (str_ieq(v, "r") || str_ieq(v, "s")) {
		*strict = str_ieq(v, "s");
		return true;
	}
	return false;
}

static bool dmarc_tag(const struct nl_tag *t, struct nl_dmarc *d, bool *has_p, bool *has_sp,
		      const char **why)
{
	if (nl_str_eq(t->name, "p")) {
		*has_p = true;
		return policy(t->value, &d->p) ? true : fail(why, "p= must be none, quarantine or reject");
	}
	if (nl_str_eq(t->name, "sp")) {
		*has_sp = true;
		return policy(t->value, &d->sp) ? true : fail(why, "sp= must be none, quarantine or reject");
	}
	if (nl_str_eq(t->name, "pct")) {
		int v = cidr_len(t->value.p, t->value.len, 100);
		d->pct = v;
		return v >= 0 ? true : fail(why, "pct= must be a number from 0 to 100");
	}
	if (nl_str_eq(t->name, "adkim"))
		return mode(t->value, &d->adkim_strict) ? true : fail(why, "adkim= must be r or s");
	if (nl_str_eq(t->name, "aspf"))
		return mode(t->value, &d->aspf_strict) ? true : fail(why, "aspf= must be r or s");
	if (nl_str_eq(t->name, "rua"))
		d->rua = t->value.len > 0;
	return true; /* other tags (ruf, fo, rf, ri, ...) do not change what we check */
}

bool nl_dmarc_parse(const char *txt, size_t n, struct nl_dmarc *d, const char **why)
{
	struct nl_str rest = {txt, n};
	struct nl_tag t;
	bool has_p = false, has_sp = false;
	memset(d, 0, sizeof *d);
	d->pct = 100;
	if (n > NL_DNSREC_MAX)
		return fail(why, "longer than any real DMARC record");
	if (!nl_dmarc_is(txt, n))
		return fail(why, "does not start with v=DMARC1");
	nl_tag_next(&rest, &t, why);
	while (nl_tag_next(&rest, &t, why))
		if (!dmarc_tag(&t, d, &has_p, &has_sp, why))
			return false;
	if (rest.len) /* nl_tag_next stopped on a malformed tag */
		return false;
	if (!has_p)
		return fail(why, "no p= policy tag (it must follow v=DMARC1)");
	if (!has_sp)
		d->sp = d->p;
	return true;
}

const char *nl_dmarc_policy_name(enum nl_dmarc_policy p)
{
	return p == NL_DMARC_REJECT ? "reject" : p == NL_DMARC_QUARANTINE ? "quarantine" : "none";
}

/* ---- DKIM key records ---- */

static bool b64_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '/' || c == '=';
}

/* p=: base64 with folding white space anywhere. */
static bool key_data(struct nl_str v, struct nl_buf *p64, const char **why)
{
	for (size_t i = 0; i < v.len; i++) {
		if (is_fws(v.p[i]))
			continue;
		if (!b64_char(v.p[i]))
			return fail(why, "p= is not base64");
		nl_buf_addc(p64, v.p[i]);
	}
	return true;
}

/* h=, s=, t=: colon-separated lists; true if word is one of them. */
static bool list_has(struct nl_str v, const char *word)
{
	size_t i = 0;
	while (i <= v.len) {
		size_t j = i;
		while (j < v.len && v.p[j] != ':')
			j++;
		if (nl_str_eq(trim(v.p + i, j - i), word))
			return true;
		i = j + 1;
	}
	return false;
}

static bool key_tag(const struct nl_tag *t, struct nl_dkimkey *k, struct nl_buf *p64, bool *has_p,
		    const char **why)
{
	if (nl_str_eq(t->name, "v"))
		return fail(why, "v= must be the first tag");
	if (nl_str_eq(t->name, "k")) {
		if (!str_ieq(t->value, "rsa") && !str_ieq(t->value, "ed25519"))
			return fail(why, "k= must be rsa or ed25519");
		k->ed25519 = str_ieq(t->value, "ed25519");
	} else if (nl_str_eq(t->name, "p")) {
		if (*has_p)
			return fail(why, "p= given twice");
		*has_p = true;
		k->revoked = !t->value.len;
		return key_data(t->value, p64, why);
	} else if (nl_str_eq(t->name, "h") && !list_has(t->value, "sha256")) {
		return fail(why, "h= does not allow sha256, which every signature of ours uses");
	} else if (nl_str_eq(t->name, "s") && !list_has(t->value, "*") && !list_has(t->value, "email")) {
		return fail(why, "s= does not allow email");
	} else if (nl_str_eq(t->name, "t")) {
		k->testing = list_has(t->value, "y");
	}
	return true;
}

bool nl_dkimkey_parse(const char *txt, size_t n, struct nl_dkimkey *k, struct nl_buf *p64,
		      const char **why)
{
	struct nl_str rest = {txt, n};
	struct nl_tag t;
	bool has_p = false, first = true;
	memset(k, 0, sizeof *k);
	if (n > NL_DNSREC_MAX)
		return fail(why, "longer than any real DKIM key record");
	while (nl_tag_next(&rest, &t, why)) {
		bool version = first && nl_str_eq(t.name, "v");
		first = false;
		if (version && !nl_str_eq(t.value, "DKIM1"))
			return fail(why, "v= must be DKIM1");
		if (!version && !key_tag(&t, k, p64, &has_p, why))
			return false;
	}
	if (rest.len)
		return false;
	if (!has_p)
		return fail(why, "no p= tag (the public key)");
	return true;
}

const char *nl_org_domain(const char *name)
{
	size_t n = strlen(name);
	int dots = 0;
	if (n && name[n - 1] == '.')
		n--;
	while (n--) {
		if (name[n] == '.' && ++dots == 2)
			return name + n + 1;
	}
	return name;
}
