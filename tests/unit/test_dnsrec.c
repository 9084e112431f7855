/* test_dnsrec.c - unit tests for the SPF, DMARC and DKIM key record parsers. */
#include <arpa/inet.h>
#include <string.h>

#include "dnsrec.h"
#include "t.h"

static bool spf(const char *txt, struct nl_spf *s, const char **why)
{
	*why = NULL;
	return nl_spf_parse(txt, strlen(txt), s, why);
}

/* Records that parse, with their `all` qualifier and lookup count. */
static void test_spf_good(void)
{
	static const struct {
		const char *txt;
		char all;
		size_t lookups, n;
	} cases[] = {
		{"v=spf1 -all", '-', 0, 1},
		{"v=spf1", 0, 0, 0},
		{"V=SPF1 ip4:192.0.2.0/24 ~ALL", '~', 0, 2},
		{"v=spf1  mx a:mail.example.org/28//64 include:_spf.example.net ?all", '?', 3, 4},
		{"v=spf1 ip6:2001:db8::/32 ip6:::1 +all", '+', 0, 3},
		{"v=spf1 redirect=_spf.example.org", 0, 1, 1},
		{"v=spf1 exists:%{i}._spf.%{d} -all", '-', 1, 2},
		{"v=spf1 a/24 mx//64 -all exp=explain.%{d}", '-', 2, 4},
		{"v=spf1 unknown-mod=anything -all", '-', 0, 2},
	};
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		struct nl_spf s;
		const char *why;
		bool ok = spf(cases[i].txt, &s, &why);
		T_CHECK(ok);
		if (!ok) {
			printf("  %s: %s\n", cases[i].txt, why);
			continue;
		}
		T_CHECK(s.all == cases[i].all);
		T_CHECK(s.lookups == cases[i].lookups);
		T_CHECK(s.n == cases[i].n);
	}
}

/* Records that do not, each with the reason a writer needs. */
static void test_spf_bad(void)
{
	static const struct {
		const char *txt, *why;
	} cases[] = {
		{"v=spf10 -all", "does not start with v=spf1"},
		{"spf1 -all", "does not start with v=spf1"},
		{"v=spf1 ip4:300.1.2.3 -all", "ip4: not an IPv4 address"},
		{"v=spf1 ip4:192.0.2.1/33 -all", "bad IPv4 prefix length after '/'"},
		{"v=spf1 ip4:192.0.2.1/024 -all", "bad IPv4 prefix length after '/'"},
		{"v=spf1 ip6:2001:db8::/129", "bad IPv6 prefix length after '/'"},
		{"v=spf1 include -all", "include, exists, ip4 and ip6 need ':' and a value"},
		{"v=spf1 all:foo", "'all' takes no value"},
		{"v=spf1 ipv4:192.0.2.1 -all", "unknown mechanism (a typo? see RFC 7208 section 5)"},
		{"v=spf1 include:nodot -all", "not a domain name after ':'"},
		{"v=spf1 redirect=a.example redirect=b.example", "redirect= given twice"},
		{"v=spf1 ip4:192.0.2.1\t-all", "a control or non-ASCII character (only spaces separate terms)"},
		{"v=spf1 include:%{z -all", "not a domain name after ':'"},
		{"v=spf1 include:a.example include:b.example include:c.example include:d.example "
		 "include:e.example include:f.example a mx ptr exists:x.example include:g.example -all",
		 "more than 10 mechanisms that need DNS lookups (include, a, mx, ptr, exists, redirect): "
		 "receivers give up (permerror)"},
	};
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		struct nl_spf s;
		const char *why;
		T_CHECK(!spf(cases[i].txt, &s, &why));
		T_STREQ(why, cases[i].why);
	}
}

static void test_spf_match(void)
{
	struct nl_spf s;
	const char *why;
	unsigned char a[4], b[4], c6[16];
	inet_pton(AF_INET, "192.0.2.77", a);
	inet_pton(AF_INET, "192.0.3.1", b);
	inet_pton(AF_INET6, "2001:db8:0:1::5", c6);
	T_CHECK(spf("v=spf1 ip4:192.0.2.0/24 ip4:192.0.3.1 ip6:2001:db8::/48 -all", &s, &why));
	T_CHECK(nl_spf_ip4_match(&s.t[0], a));
	T_CHECK(!nl_spf_ip4_match(&s.t[0], b));
	T_CHECK(nl_spf_ip4_match(&s.t[1], b));
	T_CHECK(!nl_spf_ip4_match(&s.t[1], a));
	T_CHECK(nl_spf_ip6_match(&s.t[2], c6));
	T_CHECK(!nl_spf_ip4_match(&s.t[2], a)); /* an ip6 term never matches IPv4 */
	T_CHECK(spf("v=spf1 ip4:192.0.2.128/25 ip4:0.0.0.0/0", &s, &why));
	T_CHECK(!nl_spf_ip4_match(&s.t[0], a));
	T_CHECK(nl_spf_ip4_match(&s.t[1], b));
}

static void test_dmarc(void)
{
	struct nl_dmarc d;
	const char *why = NULL;
	const char *t1 = "v=DMARC1; p=reject; rua=mailto:d@example.org; adkim=s; pct=50";
	T_CHECK(nl_dmarc_parse(t1, strlen(t1), &d, &why));
	T_CHECK(d.p == NL_DMARC_REJECT && d.sp == NL_DMARC_REJECT && d.rua && d.adkim_strict &&
		!d.aspf_strict && d.pct == 50);
	const char *t2 = "v=DMARC1;p=none;sp=quarantine;";
	T_CHECK(nl_dmarc_parse(t2, strlen(t2), &d, &why));
	T_CHECK(d.p == NL_DMARC_NONE && d.sp == NL_DMARC_QUARANTINE && !d.rua && d.pct == 100);
	T_STREQ(nl_dmarc_policy_name(d.sp), "quarantine");
	static const struct {
		const char *txt, *why;
	} bad[] = {
		{"v=DMARC2; p=none", "does not start with v=DMARC1"},
		{"p=none; v=DMARC1", "does not start with v=DMARC1"},
		{"v=DMARC1; rua=mailto:x@example.org", "no p= policy tag (it must follow v=DMARC1)"},
		{"v=DMARC1; p=block", "p= must be none, quarantine or reject"},
		{"v=DMARC1; p=none; pct=101", "pct= must be a number from 0 to 100"},
		{"v=DMARC1; p=none; aspf=x", "aspf= must be r or s"},
		{"v=DMARC1; p=none; garbage", "a tag without '=' (tags are name=value; name=value)"},
	};
	for (size_t i = 0; i < NL_ARRAY_LEN(bad); i++) {
		why = NULL;
		T_CHECK(!nl_dmarc_parse(bad[i].txt, strlen(bad[i].txt), &d, &why));
		T_STREQ(why, bad[i].why);
	}
}

static void test_dkimkey(void)
{
	struct nl_dkimkey k;
	struct nl_buf p = NL_BUF_INIT;
	const char *why = NULL;
	const char *t1 = "v=DKIM1; k=rsa; t=y:s; p=MIIB IjAN\r\n Bgkq+/=";
	T_CHECK(nl_dkimkey_parse(t1, strlen(t1), &k, &p, &why));
	T_STREQ(p.data, "MIIBIjANBgkq+/="); /* folding white space inside p= is dropped */
	T_CHECK(!k.ed25519 && k.testing && !k.revoked);
	nl_buf_reset(&p);
	const char *t2 = "k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	T_CHECK(nl_dkimkey_parse(t2, strlen(t2), &k, &p, &why));
	T_CHECK(k.ed25519 && !k.testing);
	nl_buf_reset(&p);
	const char *t3 = "v=DKIM1; p=";
	T_CHECK(nl_dkimkey_parse(t3, strlen(t3), &k, &p, &why) && k.revoked);
	static const struct {
		const char *txt, *why;
	} bad[] = {
		{"v=DKIM2; p=abc", "v= must be DKIM1"},
		{"k=rsa; v=DKIM1; p=abc", "v= must be the first tag"},
		{"v=DKIM1; k=dsa; p=abc", "k= must be rsa or ed25519"},
		{"v=DKIM1; k=rsa", "no p= tag (the public key)"},
		{"v=DKIM1; p=ab*c", "p= is not base64"},
		{"v=DKIM1; h=sha1; p=abc", "h= does not allow sha256, which every signature of ours uses"},
		{"v=DKIM1; p=abc; p=def", "p= given twice"},
		{"v=DKIM1; 9x=1; p=abc", "a tag name must start with a letter"},
	};
	for (size_t i = 0; i < NL_ARRAY_LEN(bad); i++) {
		nl_buf_reset(&p);
		why = NULL;
		T_CHECK(!nl_dkimkey_parse(bad[i].txt, strlen(bad[i].txt), &k, &p, &why));
		T_STREQ(why, bad[i].why);
	}
	nl_buf_free(&p);
}

static void test_org_domain(void)
{
	T_STREQ(nl_org_domain("mail.news.example.org"), "example.org");
	T_STREQ(nl_org_domain("example.org"), "example.org");
	T_STREQ(nl_org_domain("example.org."), "example.org.");
	T_STREQ(nl_org_domain("a.example.org."), "example.org.");
	T_STREQ(nl_org_domain("localhost"), "localhost");
}

int main(void)
{
	test_spf_good();
	test_spf_bad();
	test_spf_match();
	test_dmarc();
	test_dkimkey();
	test_org_domain();
	return t_done();
}
