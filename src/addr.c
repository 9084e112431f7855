/* addr.c - address validation as an SMTP server sees it, and mailbox parsing. */
#include "addr.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322 atext: what a dot-atom may hold between its dots. */
static bool is_atext(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-/=?^_`{|}~";
	return is_alnum(c) || (c && memchr(extra, c, sizeof extra - 1));
}

/* Problems that make the string unusable before its parts are looked at. */
static const char *check_chars(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return "control character or line break";
	for (i = 0; i < len; i++) {
		if (s[i] == ' ')
			return "space in address";
		if (s[i] == '<' || s[i] == '>')
			return "angle brackets: give the bare address (user@example.com)";
		if (s[i] == ',')
			return "comma: give exactly one address";
	}
	return NULL;
}

static const char *check_local(const unsigned char *s, size_t len)
{
	size_t i;

	if (!len)
		return "empty local part (nothing before @)";
	if (len > NL_ADDR_LOCAL_MAX)
		return "local part longer than 64 octets";
	for (i = 0; i < len; i++) {
		if (s[i] >= 0x80)
			return "non-ASCII character in the local part";
		if (s[i] != '.' && !is_atext(s[i]))
			return "character not allowed in the local part";
	}
	if (s[0] == '.' || s[len - 1] == '.')
		return "local part starts or ends with a dot";
	if (memmem(s, len, "..", 2))
		return "two dots in a row in the local part";
	return NULL;
}

static const char *check_label(const unsigned char *s, size_t len)
{
	size_t i;

	if (!len)
		return "empty label in domain (a leading, trailing or double dot)";
	if (len > 63)
		return "domain label longer than 63 octets";
	for (i = 0; i < len; i++)
		if (s[i] != '-' && !is_alnum(s[i]))
			return "character not allowed in the domain";
	if (s[0] == '-' || s[len - 1] == '-')
		return "domain label starts or ends with a hyphen";
	return NULL;
}

static const char *check_domain(const unsigned char *s, size_t len)
{
	const unsigned char *e = s + len, *dot, *tld = s;
	const char *why;
	size_t i;

	if (!len)
		return "missing domain after @";
	if (s[0] == '[')
		return "address literal ([192.0.2.1]) not accepted: use a domain name";
	for (i = 0; i < len; i++)
		if (s[i] >= 0x80)
			return "internationalized domain: give it in its IDNA (xn--) form";
	if (len > NL_ADDR_DOMAIN_MAX)
		return "domain longer than 253 octets";
	if (!memchr(s, '.', len))
		return "domain has no dot";
	for (;;) {
		dot = memchr(s, '.', (size_t)(e - s));
		if ((why = check_label(s, (size_t)((dot ? dot : e) - s))))
			return why;
		tld = s;
		if (!dot)
			break;
		s = dot + 1;
	}
	/* An all-digit top label means an IP address without brackets. */
	for (s = tld; s < e && *s >= '0' && *s <= '9'; s++)
		;
	return s == e ? "top-level domain is all digits (an IP address?)" : NULL;
}

bool nl_addr_valid(const char *addr, size_t len, const char **why)
{
	const unsigned char *s = (const unsigned char *)addr, *at;
	const char *w;

	if (!len)
		w = "empty address";
	else if ((w = check_chars(s, len)))
		;
	else if (s[0] == '"')
		w = "quoted local part not supported: use a plain user@domain address";
	else if (!(at = memchr(s, '@', len)))
		w = "missing @";
	else if (memchr(at + 1, '@', len - (size_t)(at + 1 - s)))
		w = "more than one @";
	else if ((w = check_local(s, (size_t)(at - s))))
		;
	else if ((w = check_domain(at + 1, len - (size_t)(at + 1 - s))))
		;
	else if (len > NL_ADDR_MAX) /* after the parts: their reasons say more */
		w = "address longer than 254 octets";
	if (w && why)
		*why = w;
	return !w;
}

const char *nl_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

void nl_clean_display_name(char *s)
{
	char *o = s, *start = s;
	bool gap = false;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == 0x7f) {
			gap = true;
			continue;
		}
		if (gap && o != start)
			*o++ = ' ';
		gap = false;
		*o++ = (char)c;
	}
	*o = 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The content of a quoted-string, its backslash escapes undone. */
static char *unquote(struct nl_str q)
{
	char *r = malloc(q.len + 1), *o = r;
	size_t i;

	if (!r)
		return NULL;
	for (i = 0; i < q.len; i++) {
		if (q.p[i] == '\\' && i + 1 < q.len)
			i++;
		*o++ = q.p[i];
	}
	*o = 0;
	return r;
}

/* After a quoted display name: skip its closing quote, expect "<". */
static const char *split_quoted(const char *s, const char *e, struct nl_str *d,
				const char **lt)
{
	const char *q = s + 1;

	while (q < e && *q != '"')
		q += *q == '\\' && q + 1 < e ? 2 : 1;
	if (q >= e)
		return "unterminated quoted display name";
	d->p = s + 1;
	d->len = (size_t)(q - s - 1);
	for (q++; q < e && is_blank(*q); q++)
		;
	if (q < e && *q == '@')
		return "quoted local part not supported: use a plain user@domain address";
	if (q == e || *q != '<')
		return "expected <address> after the quoted display name";
	*lt = q;
	return NULL;
}

/*
 * Splits "display <addr>", "\"display\" <addr>" or a bare addr into its
 * parts (views into in); *quoted says whether display needs unquoting.
 */
static const char *split_mailbox(const char *in, struct nl_str *d,
				 struct nl_str *a, bool *quoted)
{
	const char *s = in, *e = in + strlen(in), *lt, *gt, *why;

	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	*d = nl_str_c("");
	*quoted = s < e && *s == '"';
	if (*quoted && (why = split_quoted(s, e, d, &lt)))
		return why;
	if (!*quoted && !(lt = memchr(s, '<', (size_t)(e - s)))) {
		a->p = s; /* a bare address */
		a->len = (size_t)(e - s);
		return NULL;
	}
	if (!*quoted) {
		d->p = s;
		d->len = (size_t)(lt - s);
		if (memchr(d->p, '>', d->len) || memchr(d->p, '"', d->len))
			return "stray > or \" in the display name: put the name in quotes";
	}
	if (!(gt = memchr(lt, '>', (size_t)(e - lt))))
		return "missing > after the address";
	if (gt + 1 != e)
		return "text after the closing >";
	for (s = lt + 1; s < gt && is_blank(*s); s++)
		;
	for (e = gt; e > s && is_blank(e[-1]); e--)
		;
	a->p = s;
	a->len = (size_t)(e - s);
	return NULL;
}

bool nl_addr_parse_mailbox(const char *in, char **display, char **addr,
			   const char **why)
{
	struct nl_str d, a;
	const char *w;
	bool quoted;

	*display = *addr = NULL;
	if (strpbrk(in, "\r\n")) {
		w = "line break in the mailbox";
		goto fail;
	}
	if ((w = split_mailbox(in, &d, &a, &quoted)))
		goto fail;
	if (!nl_addr_valid(a.p, a.len, &w))
		goto fail;
	*display = quoted ? unquote(d) : nl_strndup(d.p, d.len);
	*addr = nl_strndup(a.p, a.len);
	if (!*display || !*addr) {
		w = "out of memory";
		goto fail;
	}
	nl_clean_display_name(*display);
	return true;
fail:
	free(*display);
	free(*addr);
	*display = *addr = NULL;
	if (why)
		*why = w;
	return false;
}
