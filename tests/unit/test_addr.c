/* test_addr.c - unit tests for address validation and mailbox parsing. */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "nl.h"
#include "t.h"

struct addr_case {
	const char *addr;
	const char *why; /* NULL: valid; else the exact reason expected */
};

static char local64[80], local65[80], label63[80], label64[80], long_domain[300];
static char addr254[300], addr255[300];

/* Addresses at and just past each length limit. */
static void build_long_cases(void)
{
	memset(local64, 'l', 64);
	memcpy(local64 + 64, "@example.test", 14);
	memset(local65, 'l', 65);
	memcpy(local65 + 65, "@example.test", 14);
	memcpy(label63, "a@", 2);
	memset(label63 + 2, 'd', 63);
	memcpy(label63 + 65, ".test", 6);
	memcpy(label64, "a@", 2);
	memset(label64 + 2, 'd', 64);
	memcpy(label64 + 66, ".test", 6);
	/* 254 = 64 + 1 + 189 (three 60-octet labels and dots, "abcdef") */
	memcpy(addr254, local64, 65);
	for (int i = 0; i < 3; i++) {
		memset(addr254 + 65 + i * 61, 'a' + i, 60);
		addr254[65 + i * 61 + 60] = '.';
	}
	memcpy(addr254 + 65 + 183, "abcdef", 7);
	memcpy(addr255, addr254, 254);
	memcpy(addr255 + 253, "sx", 3);
	/* a 254-octet domain with a 1-octet local part */
	memcpy(long_domain, "a@", 2);
	for (int i = 0; i < 4; i++) {
		memset(long_domain + 2 + i * 62, 'a' + i, 61);
		long_domain[2 + i * 62 + 61] = '.';
	}
	memcpy(long_domain + 2 + 248, "abcdef", 7);
}

static const struct addr_case cases[] = {
	{"a@b.c", NULL},
	{"jane@example.test", NULL},
	{"first.last@example.co.uk", NULL},
	{"user+tag@example.com", NULL},
	{"x!#$%&'*+-/=?^_`{|}~@example.com", NULL},
	{"a@xn--bcher-kva.example", NULL},
	{"a@b-c.d", NULL},
	{"A@B.C", NULL},
	{"a@1.example2", NULL},
	{local64, NULL},
	{label63, NULL},
	{addr254, NULL},
	{"", "empty address"},
	{"a@b", "domain has no dot"},
	{"ab.c", "missing @"},
	{"a@@b.c", "more than one @"},
	{"a@b@c.d", "more than one @"},
	{"@b.c", "empty local part (nothing before @)"},
	{"a@", "missing domain after @"},
	{"a..b@c.d", "two dots in a row in the local part"},
	{".a@b.c", "local part starts or ends with a dot"},
	{"a.@b.c", "local part starts or ends with a dot"},
	{"a@-b.c", "domain label starts or ends with a hyphen"},
	{"a@b-.c", "domain label starts or ends with a hyphen"},
	{"a@b..c", "empty label in domain (a leading, trailing or double dot)"},
	{"a@.b.c", "empty label in domain (a leading, trailing or double dot)"},
	{"a@b.c.", "empty label in domain (a leading, trailing or double dot)"},
	{"a@b_c.d", "character not allowed in the domain"},
	{local65, "local part longer than 64 octets"},
	{label64, "domain label longer than 63 octets"},
	{addr255, "address longer than 254 octets"},
	{long_domain, "domain longer than 253 octets"},
	{"a\r@b.c", "control character or line break"},
	{"a@b.c\r\nRCPT TO:<x@y.z>", "control character or line break"},
	{"a@b.c\n", "control character or line break"},
	{"a\t@b.c", "control character or line break"},
	{"a@b.c\x7f", "control character or line break"},
	{"<a@b.c>", "angle brackets: give the bare address (user@example.com)"},
	{"a b@c.d", "space in address"},
	{" a@b.c", "space in address"},
	{"a,b@c.d", "comma: give exactly one address"},
	{"\"a b\"@c.d", "space in address"},
	{"\"ab\"@c.d", "quoted local part not supported: use a plain user@domain address"},
	{"a\"b@c.d", "character not allowed in the local part"},
	{"a(b)@c.d", "character not allowed in the local part"},
	{"a@[127.0.0.1]", "address literal ([192.0.2.1]) not accepted: use a domain name"},
	{"a@192.168.0.1", "top-level domain is all digits (an IP address?)"},
	{"j\xc3\xb6@example.com", "non-ASCII character in the local part"},
	{"a@b\xc3\xbc" "cher.de", "internationalized domain: give it in its IDNA (xn--) form"},
};

static void test_valid_table(void)
{
	build_long_cases();
	T_CHECK(strlen(local64) == 64 + 13 && strlen(addr254) == 254);
	T_CHECK(strlen(addr255) == 255 && strlen(long_domain) == 256);
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		const char *why = "untouched";
		const struct addr_case *c = &cases[i];
		bool ok = nl_addr_valid(c->addr, strlen(c->addr), &why);
		if (c->why) {
			T_CHECK(!ok);
			T_STREQ(why, c->why);
		} else {
			T_CHECK(ok);
			T_STREQ(why, "untouched");
		}
		if (ok != !c->why)
			printf("  case %zu: [%s]\n", i, c->addr);
	}
	/* len is honoured: a NUL inside, or a prefix of a longer string */
	T_CHECK(!nl_addr_valid("a\0b@c.d", 7, NULL));
	T_CHECK(nl_addr_valid("a@b.cd, x@y.z", 6, NULL));
	T_CHECK(!nl_addr_valid("a@b.cd", 3, NULL));
}

struct mbox_case {
	const char *in;
	const char *display; /* NULL: parse fails */
	const char *addr;    /* or, on failure, the reason */
};

static const struct mbox_case mboxes[] = {
	{"Jane Writer <jane@example.test>", "Jane Writer", "jane@example.test"},
	{"\"Doe, Jane\" <jane@example.test>", "Doe, Jane", "jane@example.test"},
	{"jane@example.test", "", "jane@example.test"},
	{"  jane@example.test\t", "", "jane@example.test"},
	{"<jane@example.test>", "", "jane@example.test"},
	{"Jane< jane@example.test >", "Jane", "jane@example.test"},
	{"\"Say \\\"hi\\\" \\\\o/\" <a@b.c>", "Say \"hi\" \\o/", "a@b.c"},
	{"Jane\tWriter   <a@b.c>", "Jane Writer", "a@b.c"},
	{"Jan\xc3\xa9 <a@b.c>", "Jan\xc3\xa9", "a@b.c"},
	{"\"\" <a@b.c>", "", "a@b.c"},
	{"jane@example.test <jane@example.test>", "jane@example.test", "jane@example.test"},
	{"Jane <jane@example.test>\r\nBcc: x@y.z", NULL, "line break in the mailbox"},
	{"Jane\n <jane@example.test>", NULL, "line break in the mailbox"},
	{"Jane <a@b>", NULL, "domain has no dot"},
	{"Jane <a@b.c", NULL, "missing > after the address"},
	{"Jane <a@b.c> x", NULL, "text after the closing >"},
	{"Jane <a@b.c>>", NULL, "text after the closing >"},
	{"\"Jane <a@b.c>", NULL, "unterminated quoted display name"},
	{"\"Jane\" a@b.c", NULL, "expected <address> after the quoted display name"},
	{"\"jane\"@b.c", NULL, "quoted local part not supported: use a plain user@domain address"},
	{"Ja\"ne <a@b.c>", NULL, "stray > or \" in the display name: put the name in quotes"},
	{"Jane > <a@b.c>", NULL, "stray > or \" in the display name: put the name in quotes"},
	{"", NULL, "empty address"},
	{"Jane", NULL, "missing @"},
	{"Jane <>", NULL, "empty address"},
	{"a@b.c, d@e.f", NULL, "comma: give exactly one address"},
	{"Jane <a b@c.d>", NULL, "space in address"},
};

static void test_parse_mailbox(void)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(mboxes); i++) {
		const struct mbox_case *c = &mboxes[i];
		char x1[] = "x", x2[] = "x";
		char *d = x1, *a = x2;
		const char *why = "untouched";
		bool ok = nl_addr_parse_mailbox(c->in, &d, &a, &why);
		if (c->display) {
			T_CHECK(ok);
			T_STREQ(d, c->display);
			T_STREQ(a, c->addr);
		} else {
			T_CHECK(!ok && d == NULL && a == NULL);
			T_STREQ(why, c->addr);
		}
		if (ok != !!c->display)
			printf("  case %zu: [%s] (%s)\n", i, c->in, why);
		if (ok) {
			free(d);
			free(a);
		}
	}
}

static void test_domain_and_clean(void)
{
	char s1[] = "  Jane\r\n\tWriter \x7f ", s2[] = "", s3[] = "\r\n", s4[] = "a  b\x01" "c";

	T_STREQ(nl_addr_domain("a@b.c"), "b.c");
	T_STREQ(nl_addr_domain("x"), "");
	T_STREQ(nl_addr_domain("a@b@c.d"), "c.d");
	T_STREQ(nl_addr_domain("a@"), "");
	nl_clean_display_name(s1);
	T_STREQ(s1, "Jane Writer");
	nl_clean_display_name(s2);
	T_STREQ(s2, "");
	nl_clean_display_name(s3);
	T_STREQ(s3, "");
	nl_clean_display_name(s4);
	T_STREQ(s4, "a b c");
}

int main(void)
{
	test_valid_table();
	test_parse_mailbox();
	test_domain_and_clean();
	return t_done();
}
