/* fuzz_dnsrec.c - libFuzzer harness: the SPF, DMARC and DKIM key record parsers on any bytes from DNS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dnsrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct nl_str s, const char *p, size_t n)
{
	return !s.len || (s.p >= p && s.p + s.len <= p + n);
}

/* Every term in bounds, the counts within their walls, the all qualifier one of four. */
static void spf(const char *p, size_t n)
{
	struct nl_spf s;
	const char *why = NULL;
	unsigned char a4[4] = {127, 0, 0, 1}, a6[16] = {0};
	if (!nl_spf_parse(p, n, &s, &why)) {
		if (!why || !*why)
			abort(); /* a refusal always says why */
		return;
	}
	if (s.n > NL_SPF_MAX_TERMS || s.lookups > NL_SPF_MAX_LOOKUPS || (s.all && !strchr("+-~?", s.all)))
		abort();
	for (size_t i = 0; i < s.n; i++) {
		if (!inside(s.t[i].value, p, n) || s.t[i].cidr4 > 32 || s.t[i].cidr6 > 128)
			abort();
		nl_spf_ip4_match(&s.t[i], a4);
		nl_spf_ip6_match(&s.t[i], a6);
	}
}

static void tags(const char *p, size_t n)
{
	struct nl_str rest = {p, n};
	struct nl_tag t;
	const char *why = NULL;
	size_t k = 0;
	while (nl_tag_next(&rest, &t, &why)) {
		if (!t.name.len || !inside(t.name, p, n) || !inside(t.value, p, n) || ++k > n)
			abort();
	}
	if (!inside(rest, p, n) || (rest.len && (!why || !*why)))
		abort();
}

static void records(const char *p, size_t n)
{
	struct nl_dmarc d;
	struct nl_dkimkey k;
	struct nl_buf b = NL_BUF_INIT;
	const char *why = NULL;
	if (nl_dmarc_parse(p, n, &d, &why) && (d.pct < 0 || d.pct > 100))
		abort();
	if (nl_dkimkey_parse(p, n, &k, &b, &why)) {
		if (b.len > n || strspn(b.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
						   "0123456789+/=") != b.len)
			abort(); /* p= comes out as base64 only */
		if (!k.revoked && !b.len)
			abort(); /* a key that is not revoked has key bytes */
	}
	nl_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	spf(s, size);
	tags(s, size);
	records(s, size);
	const char *org = nl_org_domain(s);
	if (org < s || org > s + strlen(s))
		abort();
	free(s);
	return 0;
}
