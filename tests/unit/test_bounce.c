/* test_bounce.c - unit tests: the classifier's walls, its text scanners, VERP tokens both ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "buf.h"
#include "message.h"
#include "t.h"

#define TOK "0b7f0d7e-8c9a-4a8e-b5b3-2c1d0e9f8a7b"

static const struct nl_bounce_opts opts = {.bounce_address = "bounces+{token}@example.test",
					   .unsubscribe_email = "unsubscribe@example.test"};

static struct nl_bounce classify(const char *msg)
{
	struct nl_bounce b;
	T_CHECK(nl_bounce_classify(msg, strlen(msg), &opts, &b) == NL_OK);
	return b;
}

static void test_verp_token(void)
{
	char t[NL_TOKEN_LEN + 1];
	T_CHECK(nl_bounce_verp_token(opts.bounce_address, "bounces+" TOK "@example.test", t));
	T_STREQ(t, TOK);
	T_CHECK(nl_bounce_verp_token(opts.bounce_address, "<BOUNCES+" TOK "@Example.TEST>", t));
	T_STREQ(t, TOK);
	T_CHECK(!nl_bounce_verp_token(opts.bounce_address, "bounces+" TOK "@example.org", t));
	T_CHECK(!nl_bounce_verp_token(opts.bounce_address, "bounces+not-a-token@example.test", t));
	T_CHECK(!nl_bounce_verp_token("bounces@example.test", "bounces@example.test", t));
	T_CHECK(!nl_bounce_verp_token(opts.bounce_address, NULL, t));
}

/* The message's envelope sender carries the reader's token; without {token} nothing changes. */
static void test_verp_finalize(void)
{
	struct nl_message *m = nl_message_new();
	struct nl_buf out = NL_BUF_INIT;
	char env[NL_ENVELOPE_MAX];
	T_CHECK(nl_message_set_envelope_from(m, "bounces+{token}@example.test") == NL_OK);
	T_CHECK(nl_message_set_verp(m, TOK) == NL_OK);
	T_CHECK(nl_message_finalize(m, &out, env, sizeof env) == NL_OK);
	T_STREQ(env, "bounces+" TOK "@example.test");
	T_STREQ(nl_message_envelope_from(m), "bounces+{token}@example.test");
	T_CHECK(nl_message_set_verp(m, "a b") == NL_EDATA);
	nl_message_reset(m);
	T_CHECK(nl_message_set_envelope_from(m, "news@example.test") == NL_OK);
	T_CHECK(nl_message_set_verp(m, TOK) == NL_OK);
	T_CHECK(nl_message_finalize(m, &out, env, sizeof env) == NL_OK);
	T_STREQ(env, "news@example.test");
	/* Too long for the SMTP job once the token is in: an error, not a cut address. */
	nl_message_reset(m);
	char longaddr[NL_ENVELOPE_MAX];
	memset(longaddr, 'a', sizeof longaddr - 30);
	snprintf(longaddr + sizeof longaddr - 30, 30, "{token}@example.test");
	T_CHECK(nl_message_set_envelope_from(m, longaddr) == NL_OK);
	T_CHECK(nl_message_set_verp(m, TOK) == NL_OK);
	T_CHECK(nl_message_finalize(m, &out, env, sizeof env) == NL_EDATA);
	nl_buf_free(&out);
	nl_message_free(m);
}

/* Walls: deeper than NL_BOUNCE_MAX_DEPTH or bigger than NL_BOUNCE_MAX_BYTES is left for a person. */
static void test_walls(void)
{
	struct nl_buf s = NL_BUF_INIT;
	nl_buf_adds(&s, "From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\n"
			"Content-Type: multipart/mixed; boundary=b0\r\n\r\n");
	for (int i = 1; i < 40; i++)
		nl_buf_addf(&s, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i - 1, i);
	nl_buf_adds(&s, "--b39\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
			"Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n");
	struct nl_bounce b = classify(s.data);
	T_CHECK(b.kind == NL_BOUNCE_UNKNOWN);
	T_CHECK(strstr(b.why, "left for a person") != NULL);
	nl_buf_free(&s);

	size_t big = NL_BOUNCE_MAX_BYTES + 1;
	char *p = malloc(big);
	memset(p, 'a', big);
	memcpy(p, "Subject: Undelivered Mail\r\n\r\n550 5.1.1 user unknown\r\n", 51);
	T_CHECK(nl_bounce_classify(p, big, &opts, &b) == NL_OK);
	T_CHECK(b.kind == NL_BOUNCE_UNKNOWN);
	free(p);
}

/* Numbers in text: an enhanced status, never a piece of an IP address or a date. */
static void test_text_status(void)
{
	struct nl_bounce b = classify("From: MAILER-DAEMON@x.example\r\nSubject: failure notice\r\n\r\n"
				      "<a@example.net>: host 192.5.1.1 said 2026.5.1 on 10.4.4.1.2 ... (#5.1.1)\r\n");
	T_CHECK(b.kind == NL_BOUNCE_HARD);
	T_STREQ(b.status, "5.1.1");
	T_STREQ(b.text_addr, "a@example.net");
	b = classify("From: MAILER-DAEMON@x.example\r\nSubject: failure notice\r\n\r\n"
		     "<a@example.net>: 452 mailbox over quota, will retry\r\n");
	T_CHECK(b.kind == NL_BOUNCE_SOFT);
	T_STREQ(b.status, "452");
}

/* A DSN says it; an auto-submitted header alone does not make a bounce an auto-reply. */
static void test_dsn_before_autoreply(void)
{
	struct nl_bounce b = classify(
		"From: MAILER-DAEMON@x.example\r\nTo: bounces+" TOK "@example.test\r\n"
		"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"q\"\r\n\r\n"
		"--q\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
		"Original-Recipient: rfc822;orig@example.net\r\nFinal-Recipient: rfc822; final@example.net\r\n"
		"Action: failed\r\nStatus: 5.2.1 (disabled)\r\n--q--\r\n");
	T_CHECK(b.kind == NL_BOUNCE_HARD);
	T_STREQ(b.status, "5.2.1");
	T_STREQ(b.rcpt, "orig@example.net");
	T_STREQ(b.token, TOK);
	T_STREQ(b.token_from, "VERP address");
}

/* A reader's reply that merely mentions unsubscribing is no request. */
static void test_unsubscribe_words(void)
{
	struct nl_bounce b = classify("From: r@example.net\r\nSubject: Re: First light\r\n\r\n"
				      "Lovely. I will never unsubscribe!\r\n");
	T_CHECK(b.kind == NL_BOUNCE_UNKNOWN);
	b = classify("From: r@example.net\r\nSubject: Re: unsubscribe " TOK "\r\n\r\n");
	T_CHECK(b.kind == NL_BOUNCE_UNSUBSCRIBE);
	T_STREQ(b.token, TOK);
	T_STREQ(b.from, "r@example.net");
}

int main(void)
{
	test_verp_token();
	test_verp_finalize();
	test_walls();
	test_text_status();
	test_dsn_before_autoreply();
	test_unsubscribe_words();
	return t_done();
}
