/* test_message.c - unit tests: the message object (fields, body runs, envelope, finalize) and a campaign's messages. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "campaign.h"
#include "config.h"
#include "message.h"
#include "mime.h"
#include "post.h"
#include "t.h"

/* The finalized bytes, as a C string the test owns. */
static char *final(struct nl_message *m)
{
	struct nl_buf out;
	nl_buf_init(&out);
	T_CHECK(nl_message_finalize(m, &out, NULL, 0) == NL_OK);
	return nl_buf_detach(&out, NULL);
}

/* 1 if some header line of msg (before the blank line) starts with prefix. */
static int header_line_starts(const char *msg, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = msg; *p && strncmp(p, "\r\n", 2); p = strstr(p, "\r\n") + 2) {
		if (!strncasecmp(p, prefix, n))
			return 1;
		if (!strstr(p, "\r\n"))
			break;
	}
	return 0;
}

static void test_fields_in_order(void)
{
	struct nl_message *m = nl_message_new();
	T_CHECK(m != NULL);
	T_CHECK(nl_message_hdr_addr(m, NL_HDR_APPEND, "From", "Notes", "news@example.test") == NL_OK);
	T_CHECK(nl_message_hdr_text(m, NL_HDR_APPEND, "Subject", "Caf\xc3\xa9 time") == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_APPEND, "MIME-Version", "1.0") == NL_OK);
	T_CHECK(nl_message_hdr_addr(m, NL_HDR_APPEND, "To", "", "r@example.test") == NL_OK);
	T_CHECK(nl_message_set_id(m, "1@example.test") == NL_OK);
	nl_message_body_add(m, "Hello\r\n", 7);
	char *s = final(m);
	T_STREQ(s, "From: Notes <news@example.test>\r\n"
		   "Subject: =?UTF-8?Q?Caf=C3=A9?= time\r\n"
		   "MIME-Version: 1.0\r\n"
		   "To: r@example.test\r\n"
		   "Message-ID: <1@example.test>\r\n"
		   "\r\n"
		   "Hello\r\n");
	free(s);
	T_CHECK(nl_message_hdr_count(m) == 5);
	struct nl_str n = nl_message_hdr_name(m, 1), v = nl_message_hdr_value(m, 1);
	T_CHECK(nl_str_eq(n, "Subject"));
	T_CHECK(nl_str_eq(v, " =?UTF-8?Q?Caf=C3=A9?= time"));
	T_CHECK(nl_message_hdr_find(m, "message-id") == 4);
	T_CHECK(nl_message_hdr_find(m, "Bcc") == -1);
	T_STREQ(nl_message_id(m), "1@example.test");
	/* Reset keeps nothing but memory. */
	nl_message_reset(m);
	s = final(m);
	T_STREQ(s, "\r\n");
	free(s);
	T_STREQ(nl_message_id(m), "");
	nl_message_free(m);
}

static void test_replace_prepend_remove_copy(void)
{
	struct nl_message *m = nl_message_new(), *proto = nl_message_new();
	T_CHECK(nl_message_hdr_raw(proto, NL_HDR_APPEND, "A", "1") == NL_OK);
	T_CHECK(nl_message_hdr_raw(proto, NL_HDR_APPEND, "B", "2") == NL_OK);
	/* A field replaced in the prototype is copied as it is now, once. */
	T_CHECK(nl_message_hdr_raw(proto, NL_HDR_REPLACE, "a", "one") == NL_OK);
	T_CHECK(nl_message_hdr_copy(m, proto) == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_APPEND, "C", "3") == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_APPEND, "B", "second B") == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_REPLACE, "b", "new B") == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_PREPEND, "DKIM-Signature", "v=1; d=example.test") == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_REPLACE, "D", "appended") == NL_OK);
	char *s = final(m);
	/* A replacing field keeps the place, and takes the name as given. */
	T_STREQ(s, "DKIM-Signature: v=1; d=example.test\r\na: one\r\nb: new B\r\nC: 3\r\n"
		   "D: appended\r\n\r\n");
	free(s);
	T_CHECK(nl_message_hdr_remove(m, "c") == 1);
	T_CHECK(nl_message_hdr_remove(m, "c") == 0);
	/* A second Message-ID replaces the first. */
	T_CHECK(nl_message_set_id(m, "x@example.test") == NL_OK);
	T_CHECK(nl_message_set_id(m, "y@example.test") == NL_OK);
	s = final(m);
	T_STREQ(s, "DKIM-Signature: v=1; d=example.test\r\na: one\r\nb: new B\r\nD: appended\r\n"
		   "Message-ID: <y@example.test>\r\n\r\n");
	free(s);
	/* The prototype is untouched. */
	s = final(proto);
	T_STREQ(s, "a: one\r\nB: 2\r\n\r\n");
	free(s);
	nl_message_free(m);
	nl_message_free(proto);
}

static void test_injection_neutralized(void)
{
	static const char *const bad_names[] = {"", "Bcc\r\nX", "To:", "Two words", "Ta\tb",
						"\xc3\xa9", "X\n"};
	struct nl_message *m = nl_message_new();
	char env[NL_ENVELOPE_MAX], longname[100];
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
		T_CHECK(nl_message_hdr_raw(m, NL_HDR_APPEND, bad_names[i], "v") == NL_EDATA);
		T_CHECK(nl_message_hdr_text(m, NL_HDR_APPEND, bad_names[i], "v") == NL_EDATA);
		T_CHECK(nl_message_hdr_addr(m, NL_HDR_REPLACE, bad_names[i], "", "a@b.test") == NL_EDATA);
	}
	memset(longname, 'X', 77);
	longname[77] = 0;
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_APPEND, longname, "v") == NL_EDATA);
	T_CHECK(nl_message_hdr_count(m) == 0);
	/* CR and LF in values never start a line of their own. */
	T_CHECK(nl_message_hdr_text(m, NL_HDR_APPEND, "Subject", "Hi\r\nBcc: evil@example.test") == NL_OK);
	T_CHECK(nl_message_hdr_raw(m, NL_HDR_APPEND, "List-Id", "x\nBcc: evil@example.test") == NL_OK);
	T_CHECK(nl_message_hdr_addr(m, NL_HDR_APPEND, "To", "Eve\r\nBcc: evil@example.test",
				    "eve@example.test\r\nBcc: evil@example.test") == NL_OK);
	char *s = final(m);
	T_CHECK(!header_line_starts(s, "Bcc"));
	T_CHECK(nl_mime_lines_ok(s, strlen(s), 998, NULL));
	T_CHECK(nl_message_hdr_count(m) == 3);
	free(s);
	/* An 8-bit address would make an 8-bit header. */
	T_CHECK(nl_message_hdr_addr(m, NL_HDR_APPEND, "To", "", "\xc3\xa9@example.test") == NL_EDATA);
	T_CHECK(nl_message_hdr_count(m) == 3);
	/* Message-IDs and envelope senders that could break out of <...>. */
	T_CHECK(nl_message_set_id(m, "a>\r\nBcc: x") == NL_EDATA);
	T_CHECK(nl_message_set_id(m, "<a@b>") == NL_EDATA);
	T_CHECK(nl_message_set_id(m, "") == NL_EDATA);
	T_CHECK(nl_message_hdr_find(m, "Message-ID") == -1);
	T_CHECK(nl_message_set_envelope_from(m, "bounce@example.test") == NL_OK);
	T_CHECK(nl_message_set_envelope_from(m, "a@b.test> SIZE=1") == NL_EDATA);
	T_CHECK(nl_message_set_envelope_from(m, "a@b.test>\r\nRCPT TO:<c@d.test") == NL_EDATA);
	T_STREQ(nl_message_envelope_from(m), "bounce@example.test");
	nl_message_free(m);
	(void)env;
}

static void test_body_runs_and_envelope(void)
{
	struct nl_message *m = nl_message_new();
	struct nl_buf out;
	char env[NL_ENVELOPE_MAX], tiny[4];
	nl_buf_init(&out);
	nl_message_body_ref(m, "A", 1);
	nl_buf_adds(nl_message_body_buf(m), "B");
	nl_message_body_ref(m, "C", 1);
	nl_message_body_add(m, "D", 1);
	nl_buf_adds(nl_message_body_buf(m), "E");
	T_CHECK(nl_message_set_envelope_from(m, "bounce@example.test") == NL_OK);
	T_CHECK(nl_message_finalize(m, &out, env, sizeof env) == NL_OK);
	T_STREQ(out.data, "\r\nABCDE");
	T_STREQ(env, "bounce@example.test");
	/* Finalizing again gives the same bytes. */
	T_CHECK(nl_message_finalize(m, &out, env, sizeof env) == NL_OK);
	T_STREQ(out.data, "\r\nABCDE\r\nABCDE");
	T_CHECK(nl_message_finalize(m, &out, tiny, sizeof tiny) == NL_EDATA);
	/* The null sender. */
	nl_message_reset(m);
	T_CHECK(nl_message_finalize(m, &out, env, sizeof env) == NL_OK);
	T_STREQ(env, "");
	nl_buf_free(&out);
	nl_message_free(m);
}

/* ---- a campaign's messages ---- */

static char dir[] = "/tmp/nl-test-message-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	T_CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static struct nl_campaign *campaign(struct nl_config **cfg, struct nl_post **post, bool test)
{
	char path[PATH_MAX], tmpl[PATH_MAX], conf[PATH_MAX + 512];
	static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
	struct nl_campaign *c = NULL;
	T_CHECK(realpath("templates", tmpl) != NULL);
	snprintf(conf, sizeof conf,
		 "publication: {name: Test Notes, address: 1 Road}\n"
		 "from: Test Notes <news@example.test>\n"
		 "reply_to: replies@example.test\n"
		 "bounce_address: bounces@example.test\n"
		 "unsubscribe_url: https://news.example.test/u?t=\n"
		 "images: embed\n"
		 "templates: %s\n",
		 tmpl);
	put("config.yml", conf);
	/* A title with a line break is refused when the post is read; names below still try. */
	put("post.md", "---\ntitle: \"Hi there\"\n---\n"
		       "Hello.\n\n![hills](hills.png)\n");
	snprintf(path, sizeof path, "%s/hills.png", dir);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(png, 1, sizeof png, f);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/config.yml", dir);
	T_CHECK(nl_config_load(path, cfg) == NL_OK);
	snprintf(path, sizeof path, "%s/post.md", dir);
	T_CHECK(nl_post_load(path, post) == NL_OK);
	struct nl_campaign_opts o = {.cfg = *cfg, .post = *post, .test = test, .now = 1700000000};
	T_CHECK(nl_campaign_new(&o, &c) == NL_OK);
	return c;
}

/* The header field names of msg, in order, joined by ",". */
static void field_names(const char *msg, char *out, size_t cap)
{
	size_t k = 0;
	out[0] = 0;
	for (const char *p = msg; strncmp(p, "\r\n", 2); p = strstr(p, "\r\n") + 2) {
		if (*p == ' ' || *p == '\t')
			continue;
		const char *colon = strchr(p, ':');
		if (!colon || k + (size_t)(colon - p) + 2 >= cap)
			return;
		if (k)
			out[k++] = ',';
		memcpy(out + k, p, (size_t)(colon - p));
		k += (size_t)(colon - p);
		out[k] = 0;
	}
}

/* The value of parameter name="..." after from, into out. */
static bool param(const char *from, const char *name, char *out, size_t cap)
{
	const char *p = strstr(from, name);
	if (!p || p[strlen(name)] != '"')
		return false;
	p += strlen(name) + 1;
	const char *q = strchr(p, '"');
	if (!q || (size_t)(q - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = 0;
	return true;
}

/* Count of lines in body equal to "--b" (want_end: "--b--"). */
static int delimiters(const char *body, const char *b, bool want_end)
{
	char line[128];
	int n = 0;
	snprintf(line, sizeof line, "\r\n--%s%s\r\n", b, want_end ? "--" : "");
	for (const char *p = body; (p = strstr(p, line)); p++)
		n++;
	return n;
}

static void check_structure(const char *msg, const char *email, const char *name)
{
	char names[512], outer[64], alt[64];
	const char *body = strstr(msg, "\r\n\r\n");
	T_CHECK(body != NULL);
	if (!body)
		return;
	T_CHECK(nl_mime_lines_ok(msg, strlen(msg), 998, NULL));
	field_names(msg, names, sizeof names);
	T_STREQ(names, "From,Reply-To,Subject,Date,MIME-Version,List-Id,List-Unsubscribe-Post,"
		       "To,Message-ID,List-Unsubscribe,Content-Type");
	T_CHECK(!header_line_starts(msg, "Bcc"));
	/* multipart/alternative: the text, then multipart/related (html, the image). */
	const char *ct = strstr(msg, "\r\nContent-Type: multipart/alternative;");
	T_CHECK(ct != NULL && ct < body);
	T_CHECK(ct && param(ct, "boundary=", alt, sizeof alt));
	const char *inner = strstr(body, "Content-Type: multipart/related; type=\"text/html\";");
	T_CHECK(inner && param(inner, "boundary=", outer, sizeof outer));
	T_CHECK(inner && strstr(body, "Content-Type: text/plain;") < inner &&
		inner < strstr(body, "Content-Type: text/html;"));
	T_CHECK(delimiters(body - 2, outer, false) == 2);
	T_CHECK(delimiters(body - 2, outer, true) == 1);
	T_CHECK(delimiters(body - 2, alt, false) == 2);
	T_CHECK(delimiters(body - 2, alt, true) == 1);
	T_CHECK(strstr(body, "Content-Type: text/plain; charset=utf-8\r\n") != NULL);
	T_CHECK(strstr(body, "Content-Type: text/html; charset=utf-8\r\n") != NULL);
	T_CHECK(strstr(body, "Content-Type: image/png; name=\"hills.png\"\r\n"
			     "Content-Transfer-Encoding: base64\r\n"
			     "Content-ID: <img1.post@example.test>\r\n"
			     "Content-Disposition: inline; filename=\"hills.png\"\r\n") != NULL);
	/* The message ends with the alternative's closing delimiter. */
	char end[80];
	snprintf(end, sizeof end, "--%s--\r\n", alt);
	T_CHECK(strlen(msg) > strlen(end) && !strcmp(msg + strlen(msg) - strlen(end), end));
	/* The reader's own fields, in the header and in the decoded text part. */
	char to[256], hello[256], sep[80];
	snprintf(to, sizeof to, "\r\nTo: %s <%s>\r\n", name, email);
	snprintf(hello, sizeof hello, "%s is subscribed", email);
	snprintf(sep, sizeof sep, "\r\n--%s\r\n", alt);
	T_CHECK(strstr(msg, to) != NULL);
	const char *text = strstr(body, "text/plain; charset=utf-8\r\n"
					"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	const char *text_end = text ? strstr(text, sep) : NULL;
	T_CHECK(text_end != NULL);
	if (text_end) {
		struct nl_buf dec;
		nl_buf_init(&dec);
		text = strstr(text, "\r\n\r\n") + 4;
		T_CHECK(nl_qp_decode(&dec, text, (size_t)(text_end - text)) == NL_OK);
		T_CHECK(strstr(dec.data, hello) != NULL);
		nl_buf_free(&dec);
	}
}

static void test_campaign_messages(void)
{
	struct nl_config *cfg = NULL;
	struct nl_post *post = NULL;
	struct nl_campaign *c = campaign(&cfg, &post, false);
	struct nl_message *m = nl_message_new();
	struct nl_sub ann = {.email = "ann@example.test", .name = "Ann Reader", .token = ""};
	struct nl_sub bob = {.email = "bob@example.test", .name = "Bob Reader", .token = ""};
	struct nl_sub eve = {.email = "eve@example.test", .name = "Eve\r\nBcc: evil@example.test",
			     .token = ""};
	struct nl_buf a, b, again;
	char env[NL_ENVELOPE_MAX], ida[NL_MSGID_MAX];
	nl_buf_init(&a);
	nl_buf_init(&b);
	nl_buf_init(&again);
	if (!c) {
		nl_config_free(cfg);
		nl_post_free(post);
		return;
	}
	T_CHECK(nl_campaign_message(c, &ann, m) == NL_OK);
	T_CHECK(nl_message_finalize(m, &a, env, sizeof env) == NL_OK);
	T_STREQ(env, "bounces@example.test");
	snprintf(ida, sizeof ida, "%s", nl_message_id(m));
	T_CHECK(strstr(a.data, ida) != NULL);
	/* One message object serves the next reader: nothing of Ann's stays. */
	T_CHECK(nl_campaign_message(c, &bob, m) == NL_OK);
	T_CHECK(nl_message_finalize(m, &b, env, sizeof env) == NL_OK);
	T_CHECK(strcmp(ida, nl_message_id(m)) != 0);
	check_structure(a.data, ann.email, ann.name);
	check_structure(b.data, bob.email, bob.name);
	T_CHECK(!strstr(b.data, "Ann") && !strstr(b.data, ida));
	/* The same reader again: the same bytes (stable Message-ID, same Date). */
	T_CHECK(nl_campaign_message(c, &ann, m) == NL_OK);
	T_CHECK(nl_message_finalize(m, &again, NULL, 0) == NL_OK);
	T_CHECK(a.len == again.len && !memcmp(a.data, again.data, a.len));
	/* A VERP-style envelope and a replaced header before finalizing. */
	T_CHECK(nl_message_set_envelope_from(m, "bounces+ann=example.test@example.test") == NL_OK);
	T_CHECK(nl_message_hdr_text(m, NL_HDR_REPLACE, "Subject", "Replaced") == NL_OK);
	nl_buf_reset(&again);
	T_CHECK(nl_message_finalize(m, &again, env, sizeof env) == NL_OK);
	T_STREQ(env, "bounces+ann=example.test@example.test");
	T_CHECK(strstr(again.data, "\r\nSubject: Replaced\r\nDate: ") != NULL);
	T_CHECK(!strstr(again.data, "Subject: Hi"));
	/* A name with CR LF stays in its To field. */
	nl_buf_reset(&again);
	T_CHECK(nl_campaign_message(c, &eve, m) == NL_OK);
	T_CHECK(nl_message_finalize(m, &again, NULL, 0) == NL_OK);
	T_CHECK(!header_line_starts(again.data, "Bcc"));
	T_CHECK(nl_mime_lines_ok(again.data, again.len, 998, NULL));
	nl_buf_free(&a);
	nl_buf_free(&b);
	nl_buf_free(&again);
	nl_message_free(m);
	nl_campaign_free(c);
	nl_post_free(post);
	nl_config_free(cfg);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_fields_in_order();
	test_replace_prepend_remove_copy();
	test_injection_neutralized();
	test_body_runs_and_envelope();
	test_campaign_messages();
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd))
		printf("could not remove %s\n", dir);
	return t_done();
}
