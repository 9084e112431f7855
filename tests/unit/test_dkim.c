/* test_dkim.c - unit tests: DKIM canonicalization (RFC 6376 3.4), body hash, keys, signing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "config.h"
#include "dkim.h"
#include "message.h"
#include "t.h"

static char dir[] = "/tmp/nl-test-dkim-XXXXXX";

static struct nl_str S(const char *s)
{
	struct nl_str r = {s, strlen(s)};
	return r;
}

/* Relaxed body canonicalization of s, fed `step` bytes at a time, as a string the test owns. */
static char *body(const char *s, size_t step)
{
	struct nl_buf out = NL_BUF_INIT;
	struct nl_dkim_body st;
	size_t n = strlen(s);
	nl_dkim_body_init(&st);
	for (size_t i = 0; i < n; i += step)
		nl_dkim_body_add(&st, &out, s + i, n - i < step ? n - i : step);
	nl_dkim_body_end(&st, &out);
	nl_buf_addc(&out, 0);
	return nl_buf_detach(&out, NULL);
}

static void check_body(const char *in, const char *want)
{
	/* The same bytes whether the runs are whole, one byte or three at a time. */
	size_t steps[] = {1000000, 1, 3};
	for (size_t i = 0; i < 3; i++) {
		char *got = body(in, steps[i]);
		T_STREQ(got, want);
		free(got);
	}
}

static void test_header_canon(void)
{
	struct nl_buf b = NL_BUF_INIT;
	/* RFC 6376 3.4.5: "A: X" and "B : Y<TAB><CRLF><TAB>Z  " */
	nl_dkim_canon_header(&b, S("A"), S(" X"));
	nl_dkim_canon_header(&b, S("B "), S(" Y\t\r\n\tZ  "));
	nl_buf_addc(&b, 0);
	T_STREQ(b.data, "a:X\r\nb:Y Z\r\n");
	nl_buf_reset(&b);
	nl_dkim_canon_header(&b, S("Subject"), S("  two   spaces\r\n  and\ta fold \t"));
	nl_buf_addc(&b, 0);
	T_STREQ(b.data, "subject:two spaces and a fold\r\n");
	nl_buf_reset(&b);
	nl_dkim_canon_header(&b, S("X-Empty"), S(""));
	nl_buf_addc(&b, 0);
	T_STREQ(b.data, "x-empty:\r\n");
	nl_buf_free(&b);
}

static void test_body_canon(void)
{
	/* RFC 6376 3.4.5 */
	check_body(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	check_body("", "");
	check_body("\r\n\r\n", "");
	check_body("  \r\n\t\r\n", "");
	check_body("x", "x\r\n");
	check_body("x  ", "x\r\n");
	check_body("a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n");
	check_body(".dot\r\n..two\r\n", ".dot\r\n..two\r\n");
	check_body("a\rb\r\n", "a\rb\r\n");
	check_body("a\r", "a\r\r\n");
	check_body("a b  c d\t e \r\n f", "a b c d e\r\n f\r\n");
	check_body(" a b \r\n", " a b\r\n");
	check_body("ab\r\ncd \r\nef\r\n\r\ng h\r\n\r\n", "ab\r\ncd\r\nef\r\n\r\ng h\r\n");
	check_body("a\r\n b\r\n\tc\r\nd\r\n\ne", "a\r\n b\r\n c\r\nd\r\n\ne\r\n");
	check_body("a=\r\nb=\r\nc", "a=\r\nb=\r\nc\r\n");
}

static void test_empty_body_hash(void)
{
	char bh[64];
	T_CHECK(nl_dkim_body_hash("", 0, bh, sizeof bh) == NL_OK);
	/* sha256 of nothing: relaxed leaves an empty body empty (RFC 6376 erratum 3192). */
	T_STREQ(bh, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	T_CHECK(nl_dkim_body_hash("\r\n\r\n", 4, bh, sizeof bh) == NL_OK);
	T_STREQ(bh, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* And one with something to canonicalize: sha256("Hello world\r\n"). */
	T_CHECK(nl_dkim_body_hash("Hello \t world \r\n\r\n", 18, bh, sizeof bh) == NL_OK);
	T_STREQ(bh, "yGIXoM91E1DiKjvCBcC8NlWyw54TdfMQ08sdtwtOO4I=");
}

/* A fresh key (alg, or RSA 1024 when NULL) in dir/name with mode; its path. */
static const char *write_key(const char *name, mode_t mode, const char *alg)
{
	static char path[4][256];
	static int k;
	char *p = path[k++ % 4];
	snprintf(p, 256, "%s/%s", dir, name);
	EVP_PKEY *key = alg ? EVP_PKEY_Q_keygen(NULL, NULL, alg)
			    : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	FILE *f = fopen(p, "w");
	T_CHECK(key && f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	chmod(p, mode);
	EVP_PKEY_free(key);
	return p;
}

static struct nl_config *config(const char *key_file)
{
	char text[1024];
	struct nl_config *c = NULL;
	snprintf(text, sizeof text,
		 "from: A <a@example.test>\ndkim:\n  domain: example.test\n  selector: s1\n"
		 "  key_file: %s\n", key_file);
	T_CHECK(nl_config_parse("c.yml", text, strlen(text), &c) == NL_OK);
	return c;
}

static void test_keys_and_signing(void)
{
	struct nl_dkim *d = NULL;
	struct nl_config *c = config(write_key("open.pem", 0644, "ED25519"));
	T_CHECK(nl_dkim_load(c, &d) == NL_ECONFIG && !d);
	T_CHECK(strstr(nl_errmsg(), "c.yml:5:") && strstr(nl_errmsg(), "dkim.key_file") &&
		strstr(nl_errmsg(), "mode 0644") && !strchr(nl_errmsg(), '\n'));
	nl_config_free(c);
	c = config(write_key("small.pem", 0600, NULL));
	T_CHECK(nl_dkim_load(c, &d) == NL_ECONFIG && strstr(nl_errmsg(), "2048 bits"));
	nl_config_free(c);
	c = config(write_key("ok.pem", 0600, "ED25519"));
	T_CHECK(nl_dkim_load(c, &d) == NL_OK && d);

	/* Finalizing twice signs each time's bytes: one signature, never two. */
	struct nl_message *m = nl_message_new();
	struct nl_buf out = NL_BUF_INIT;
	nl_message_hdr_addr(m, NL_HDR_APPEND, "From", "A", "a@example.test");
	nl_message_hdr_raw(m, NL_HDR_APPEND, "Subject", "Hi");
	nl_message_body_add(m, "Hello\r\n", 7);
	nl_message_set_signer(m, nl_dkim_sign, d);
	T_CHECK(nl_message_finalize(m, &out, NULL, 0) == NL_OK);
	nl_buf_reset(&out);
	T_CHECK(nl_message_finalize(m, &out, NULL, 0) == NL_OK);
	nl_buf_addc(&out, 0);
	T_CHECK(!strncmp(out.data, "DKIM-Signature: v=1; a=ed25519-sha256;", 38));
	T_CHECK(strstr(out.data + 1, "DKIM-Signature") == NULL);
	T_CHECK(strstr(out.data, "h=From:Subject:From;") != NULL);
	for (const char *p = out.data; (p = strstr(p, "\r\n")) && p[2] != '\r'; p += 2)
		T_CHECK(strcspn(p + 2, "\r") <= 78);
	nl_buf_free(&out);
	nl_message_free(m);
	nl_dkim_free(d);
	nl_config_free(c);

	/* Not configured: no keys, no error. */
	T_CHECK(nl_config_parse("c.yml", "x: 1\n", 0, &c) == NL_OK);
	T_CHECK(nl_dkim_load(c, &d) == NL_OK && !d);
	nl_config_free(c);
	static const char half[] = "dkim:\n  domain: example.test\n  selector: s\n  key_file: k\n"
				   "  selector2: t\n";
	T_CHECK(nl_config_parse("c.yml", half, strlen(half), &c) == NL_ECONFIG);
	T_CHECK(strstr(nl_errmsg(), "dkim.key_file2") != NULL);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_header_canon();
	test_body_canon();
	test_empty_body_hash();
	test_keys_and_signing();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd))
		printf("could not remove %s\n", dir);
	return t_done();
}
