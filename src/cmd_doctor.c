/* cmd_doctor.c - `newsletter doctor`: print the preflight checklist; exit 0 only when nothing blocks sending. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "doctor.h"

static const char help[] =
	"usage: newsletter doctor [POST.md]\n"
	"\n"
	"Checks, before a send, everything that decides whether mail arrives, one\n"
	"line each (ok, warn, FAIL, skip) with how to fix what fails:\n"
	"  config, templates, list, from, base_url;\n"
	"  smtp.connect, smtp.ehlo, smtp.starttls, smtp.certificate, smtp.auth,\n"
	"  smtp.mail_from, smtp.rcpt_to, smtp.rset (a probe: nothing is sent);\n"
	"  dns.spf, dns.spf_relay, dns.dkim, dns.dmarc, align.dkim, align.bounce\n"
	"  (the From domain's records, through the system resolver, or\n"
	"  doctor.resolver / $NEWSLETTER_RESOLVER as ADDRESS[:PORT]);\n"
	"  unsubscribe (a one-click POST to a token no reader has);\n"
	"  post.html_size, post.text, post.headers, post.images for POST.md, or\n"
	"  the newest post that is not a draft.\n"
	"\n"
	"Exit status 0 when no check failed (warnings do not block), 1 when one did.\n";

static void print_check(void *ctx, const struct nl_check *c)
{
	(void)ctx;
	printf("%-4s  %-16s %s\n", nl_check_status_name(c->status), c->name, c->what);
	if (*c->fix)
		printf("      %-16s fix: %s\n", "", c->fix);
	fflush(stdout);
}

int cmd_doctor(struct nl_cli *cli, int argc, char **argv)
{
	struct nl_doctor d;
	struct nl_doctor_opts o = {.config_path = cli->config_path, .report = print_check,
				   .resolver = getenv("NEWSLETTER_RESOLVER")};
	if (nl_cmd_help(argc, argv, help))
		return 0;
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fputs(help, stderr);
		return nl_exit_status(NL_EUSAGE);
	}
	o.post_path = argc == 2 ? argv[1] : NULL;
	enum nl_err e = nl_doctor_run(&o, &d);
	if (!e)
		printf("%zu checks: %zu failed, %zu warnings: %s\n", d.n, d.fails, d.warns,
		       d.fails ? "fix what FAILs before sending" : "nothing blocks sending");
	int rc = e ? nl_cmd_fail(e) : d.fails ? 1 : 0;
	nl_doctor_free(&d);
	return rc;
}
