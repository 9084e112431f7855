/* test_smtp.c - unit tests for the classification of SMTP replies and URL redaction. */
#include <stdlib.h>
#include <string.h>

#include "smtp.h"
#include "t.h"

struct reply_case {
	enum nl_smtp_stage stage;
	int code;
	const char *esc;
	const char *text;
	enum nl_smtp_verdict want;
};

/* The table in smtp.c, row by row. */
static const struct reply_case cases[] = {
	/* Success, and 354 only where DATA expects it. */
	{NL_STAGE_MAIL, 250, "2.1.0", "250 2.1.0 OK", NL_V_OK},
	{NL_STAGE_RCPT, 251, NULL, "251 will forward", NL_V_OK},
	{NL_STAGE_DATA, 354, NULL, "354 go ahead", NL_V_OK},
	{NL_STAGE_DOT, 250, "2.0.0", "250 2.0.0 queued", NL_V_OK},
	{NL_STAGE_MAIL, 354, NULL, "354 what?", NL_V_DEFER},
	/* No reply: retried, except after the final dot, where it may have been delivered. */
	{NL_STAGE_CONNECT, 0, NULL, NULL, NL_V_DEFER},
	{NL_STAGE_MAIL, 0, NULL, NULL, NL_V_DEFER},
	{NL_STAGE_RCPT, 0, NULL, NULL, NL_V_DEFER},
	{NL_STAGE_DATA, 0, NULL, NULL, NL_V_DEFER},
	{NL_STAGE_DOT, 0, NULL, NULL, NL_V_DOUBT},
	/* 4xx anywhere, 421 too: later. */
	{NL_STAGE_CONNECT, 421, "4.7.0", "421 4.7.0 too many connections", NL_V_DEFER},
	{NL_STAGE_AUTH, 454, "4.7.0", "454 4.7.0 try later", NL_V_DEFER},
	{NL_STAGE_MAIL, 421, "4.7.0", "421 4.7.0 closing", NL_V_DEFER},
	{NL_STAGE_MAIL, 452, "4.3.1", "452 4.3.1 insufficient storage", NL_V_DEFER},
	{NL_STAGE_RCPT, 450, "4.2.1", "450 4.2.1 mailbox busy", NL_V_DEFER},
	{NL_STAGE_RCPT, 451, "4.3.0", "451 4.3.0 greylisted", NL_V_DEFER},
	{NL_STAGE_DATA, 451, NULL, "451 local error", NL_V_DEFER},
	{NL_STAGE_DOT, 452, "4.3.1", "452 4.3.1 try later", NL_V_DEFER},
	/* 5xx before RCPT or at DATA: the relay refuses the run. */
	{NL_STAGE_CONNECT, 554, "5.7.1", "554 5.7.1 go away", NL_V_STOP},
	{NL_STAGE_CONNECT, 550, NULL, "550 no EHLO", NL_V_STOP},
	{NL_STAGE_AUTH, 535, "5.7.8", "535 5.7.8 bad credentials", NL_V_STOP},
	{NL_STAGE_AUTH, 534, "5.7.9", "534 5.7.9 mechanism too weak", NL_V_STOP},
	{NL_STAGE_MAIL, 530, "5.7.0", "530 5.7.0 authentication required", NL_V_STOP},
	{NL_STAGE_MAIL, 552, "5.3.4", "552 5.3.4 message too big", NL_V_STOP},
	{NL_STAGE_MAIL, 552, NULL, "552 too big", NL_V_STOP},
	{NL_STAGE_MAIL, 550, "5.1.8", "550 5.1.8 bad sender domain", NL_V_STOP},
	{NL_STAGE_MAIL, 553, "5.7.1", "553 5.7.1 sender not owned", NL_V_STOP},
	{NL_STAGE_DATA, 554, "5.5.1", "554 5.5.1 no valid recipients", NL_V_STOP},
	{NL_STAGE_DATA, 550, NULL, "550 no", NL_V_STOP},
	/* RCPT: the mailbox's own problems fail that reader. */
	{NL_STAGE_RCPT, 550, "5.1.1", "550 5.1.1 <x@y>: no such user", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, "5.1.0", "550 5.1.0 address rejected", NL_V_FAIL},
	{NL_STAGE_RCPT, 553, "5.1.3", "553 5.1.3 bad address syntax", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, "5.1.10", "550 5.1.10 null MX", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, "5.2.1", "550 5.2.1 mailbox disabled", NL_V_FAIL},
	{NL_STAGE_RCPT, 552, "5.2.2", "552 5.2.2 mailbox full", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, "5.4.4", "550 5.4.4 unable to route", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, "5.7.1", "550 5.7.1 recipient refuses your mail", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, NULL, "550 no such user", NL_V_FAIL},
	{NL_STAGE_RCPT, 551, NULL, "551 user not local", NL_V_FAIL},
	{NL_STAGE_RCPT, 553, NULL, "553 mailbox name not allowed", NL_V_FAIL},
	{NL_STAGE_RCPT, 550, "5.0.0", "550 5.0.0 user unknown", NL_V_FAIL},
	/* RCPT: but not when it is about us, the session or the message. */
	{NL_STAGE_RCPT, 554, "5.7.1", "554 5.7.1 <x@y>: Relay access denied", NL_V_STOP},
	{NL_STAGE_RCPT, 550, "5.1.7", "550 5.1.7 bad sender mailbox", NL_V_STOP},
	{NL_STAGE_RCPT, 552, "5.2.3", "552 5.2.3 message too long", NL_V_STOP},
	{NL_STAGE_RCPT, 552, "5.3.4", "552 5.3.4 message too big", NL_V_STOP},
	{NL_STAGE_RCPT, 504, "5.5.2", "504 5.5.2 <localhost>: Helo command rejected", NL_V_STOP},
	{NL_STAGE_RCPT, 504, NULL, "504 need fully-qualified hostname", NL_V_STOP},
	{NL_STAGE_RCPT, 501, NULL, "501 syntax error", NL_V_STOP},
	{NL_STAGE_RCPT, 530, "5.7.0", "530 5.7.0 authentication required", NL_V_STOP},
	{NL_STAGE_RCPT, 550, "5.7.26", "550 5.7.26 DMARC policy", NL_V_STOP},
	{NL_STAGE_RCPT, 554, NULL, "554 transaction failed", NL_V_STOP},
	{NL_STAGE_RCPT, 550, "5.6.0", "550 5.6.0 content", NL_V_STOP},
	/* After the final dot: only mailbox codes fail the reader. */
	{NL_STAGE_DOT, 552, "5.2.2", "552 5.2.2 mailbox full", NL_V_FAIL},
	{NL_STAGE_DOT, 550, "5.1.1", "550 5.1.1 no such user", NL_V_FAIL},
	{NL_STAGE_DOT, 550, "5.7.1", "550 5.7.1 message rejected as spam", NL_V_STOP},
	{NL_STAGE_DOT, 552, "5.3.4", "552 5.3.4 message too big", NL_V_STOP},
	{NL_STAGE_DOT, 554, NULL, "554 transaction failed", NL_V_STOP},
	{NL_STAGE_DOT, 550, NULL, "550 rejected", NL_V_STOP},
	/* Nonsense codes: start over later. */
	{NL_STAGE_RCPT, 600, NULL, "600 what", NL_V_DEFER},
	{NL_STAGE_RCPT, 199, NULL, "199 what", NL_V_DEFER},
};

static void test_classify(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct reply_case *c = &cases[i];
		enum nl_smtp_verdict got = nl_smtp_classify(c->stage, c->code, c->esc, c->text);
		if (got != c->want)
			printf("  case %zu: %s -> %d, want %d\n", i, c->text ? c->text : "(no reply)",
			       (int)got, (int)c->want);
		T_CHECK(got == c->want);
	}
}

static void test_redact(void)
{
	char out[128];
	nl_smtp_url_redacted("smtp://user:pa@ss@relay.example:587/helo.example", out, sizeof out);
	T_STREQ(out, "smtp://relay.example:587");
	nl_smtp_url_redacted("smtps://relay.example:465", out, sizeof out);
	T_STREQ(out, "smtps://relay.example:465");
	nl_smtp_url_redacted("smtp://u@127.0.0.1:25?x=@y", out, sizeof out);
	T_STREQ(out, "smtp://127.0.0.1:25");
	nl_smtp_url_redacted("relay.example", out, sizeof out);
	T_STREQ(out, "relay.example");
	nl_smtp_url_redacted("smtp://user:secret@relay.example:587", out, 12);
	T_CHECK(!strstr(out, "secret") && !strstr(out, "user"));
}

int main(void)
{
	test_classify();
	test_redact();
	return t_done();
}
