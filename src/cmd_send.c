/* cmd_send.c - `newsletter send`: options, the dry run, and handing off to the sender. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "post.h"
#include "fsutil.h"
#include "log.h"
#include "campaign.h"
#include "recipients.h"
#include "sendrun.h"
#include "addr.h"
#include <signal.h>
#include <unistd.h>

static const char help[] =
	"usage: newsletter send POST.md [options]\n"
	"\n"
	"Sends the post to every active subscriber (of its front matter's audience,\n"
	"if it names one), one message each, and records every send in the log.\n"
	"Running it again resumes: nobody gets it twice.\n"
	"\n"
	"  -y, --yes             do not ask for confirmation (required without a terminal)\n"
	"  --dry-run[=DIR]       write each reader's message to DIR/NNNNNN-ADDRESS.eml\n"
	"                        (default out/SLUG/) instead; touches no network\n"
	"  --to ADDR             send one proof copy to ADDR ([TEST] subject, logged as test)\n"
	"  --limit N             send to the first N pending recipients only\n"
	"  --resend              send again to everyone, even those who have it\n"
	"  --retry-failed        also retry recipients whose last send failed (5xx)\n"
	"  --skip-in-doubt       do not resend when a crash left the outcome unknown\n"
	"  --retry-in-doubt      resend those whose final reply never came (logged 'doubt';\n"
	"                        they may have it already)\n"
	"  --smtp URL            relay for this run (smtp://HOST:PORT, smtps://HOST:PORT)\n"
	"  --connections N       parallel SMTP connections\n"
	"  --rate R              at most R messages per second, all connections together\n"
	"                        (0: no limit; else 0.000278, one an hour, to 1000000)\n"
	"  --log FILE            the send log (default: config 'log')\n"
	"  --force               send even when Gmail would clip the HTML part (above 102 KB,\n"
	"                        which hides the footer and its unsubscribe link)\n"
	"  --subscribers FILE    the subscriber list (default: config 'subscribers')\n"
	"\n"
	"Exit status: 0 all sent; 65 bad post or list; 69 the relay refused (see the\n"
	"message; resumable); 75 another run holds the log, or some recipients were\n"
	"deferred; 130 interrupted (resumable).\n";

struct send_args {
	const char *post;
	const char *dry_dir;
	bool dry_run;
	bool yes;
	const char *subscribers, *smtp, *log, *to;
	long connections;
	double rate;
	long limit;
	bool resend, retry_failed, skip_in_doubt, retry_in_doubt;
	bool force;
};

struct tally {
	size_t sent, skipped, bytes;
};

/* Skipped rows quote the list: control characters (a CR in a quoted field) show as '?'. */
static void put_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void report_skip(const struct nl_recipient *rc)
{
	printf("  skipped line %zu ", rc->row->line);
	put_clean(*rc->row->email ? rc->row->email : "(empty)");
	fputs(": ", stdout);
	put_clean(nl_skip_text(rc->row, rc->skip));
	putchar('\n');
}

/* The same bytes a send would give the relay (nl_message_finalize), in a file. */
static enum nl_err dry_one(const struct nl_campaign *c, const struct nl_sub *row, const char *dir,
			   size_t n, struct nl_message *m, struct nl_buf *msg)
{
	char path[4096];
	enum nl_err e;
	int k = snprintf(path, sizeof path, "%s/%06zu-", dir, n);
	for (const char *p = row->email; *p && k > 0 && (size_t)k < sizeof path - 8; p++)
		path[k++] = *p == '/' ? '_' : *p;
	snprintf(path + k, sizeof path - (size_t)k, ".eml");
	nl_buf_reset(msg);
	if ((e = nl_campaign_message(c, row, m)) || (e = nl_message_finalize(m, msg, NULL, 0)))
		return e;
	return nl_write_atomic(path, msg->data, msg->len);
}

/* Every recipient's message as a file: the same walk of the list as a send, without the log. */
static enum nl_err dry_run(const struct nl_config *cfg, const struct nl_post *post,
			   const char *dir, struct tally *t)
{
	struct nl_recipients_opts ro = {.path = cfg->subscribers, .secret = cfg->secret,
					.list_id = cfg->list_id, .post = post,
					.interrupted = &nl_cmd_interrupted};
	struct nl_recipients *rcpts = NULL;
	struct nl_campaign *camp = NULL;
	struct nl_buf msg = NL_BUF_INIT;
	struct nl_recipient rc;
	struct nl_message *m = NULL;
	bool eof = false;
	enum nl_err e;
	struct nl_campaign_opts o = {.cfg = cfg, .post = post, .now = time(NULL)};
	nl_cmd_signals();
	if ((e = nl_recipients_open(&ro, &rcpts)))
		return e;
	o.list = nl_recipients_list(rcpts);
	if ((e = nl_campaign_new(&o, &camp)) || (e = nl_mkdirs(dir)))
		goto out;
	nl_cmd_html_report(camp, post->path, stdout, false);
	if (!(m = nl_message_new())) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto out;
	}
	while (!(e = nl_recipients_next(rcpts, &rc, &eof)) && !eof) {
		if (rc.skip != NL_SKIP_NONE) {
			t->skipped++;
			report_skip(&rc);
			continue;
		}
		if (nl_cmd_interrupted) {
			e = nl_errf(NL_EINTERRUPTED, "interrupted: %zu messages written", t->sent);
			break;
		}
		if ((e = dry_one(camp, rc.row, dir, t->sent + 1, m, &msg)))
			break;
		t->sent++;
		t->bytes += msg.len;
	}
out:
	nl_buf_free(&msg);
	nl_message_free(m);
	nl_campaign_free(camp);
	nl_recipients_close(rcpts);
	return e;
}

enum { O_DRY = 256, O_SUBS, O_SMTP, O_CONNS, O_RATE, O_LOG, O_TO, O_LIMIT, O_RESEND, O_RETRY,
       O_SKIP_DOUBT, O_RETRY_DOUBT, O_FORCE };

static int number(const char *s, double min, double max, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return *s && !*end && *out >= min && *out <= max ? 0 : -1;
}

static int parse_opt(int c, struct send_args *a)
{
	double v;
	switch (c) {
	case O_DRY: a->dry_run = true; a->dry_dir = optarg; return 0;
	case O_SUBS: a->subscribers = optarg; return 0;
	case O_SMTP: a->smtp = optarg; return 0;
	case O_LOG: a->log = optarg; return 0;
	case O_TO: a->to = optarg; return 0;
	case 'y': a->yes = true; return 0;
	case O_RESEND: a->resend = true; return 0;
	case O_RETRY: a->retry_failed = true; return 0;
	case O_SKIP_DOUBT: a->skip_in_doubt = true; return 0;
	case O_RETRY_DOUBT: a->retry_in_doubt = true; return 0;
	case O_FORCE: a->force = true; return 0;
	case O_CONNS: if (number(optarg, 1, 64, &v)) return -1; a->connections = (long)v; return 0;
	case O_RATE: /* as the config's smtp.rate: 0 (no limit), or one an hour to a million a second */
		if (number(optarg, 0, 1e6, &v) || (v > 0 && v < 1.0 / 3600))
			return -1;
		a->rate = v;
		return 0;
	case O_LIMIT: if (number(optarg, 1, 1e12, &v)) return -1; a->limit = (long)v; return 0;
	default: return -1;
	}
}

static int parse_args(int argc, char **argv, struct send_args *a)
{
	static const struct option opts[] = {
		{"dry-run", optional_argument, NULL, O_DRY},
		{"subscribers", required_argument, NULL, O_SUBS},
		{"smtp", required_argument, NULL, O_SMTP},
		{"connections", required_argument, NULL, O_CONNS},
		{"rate", required_argument, NULL, O_RATE},
		{"log", required_argument, NULL, O_LOG},
		{"to", required_argument, NULL, O_TO},
		{"limit", required_argument, NULL, O_LIMIT},
		{"resend", no_argument, NULL, O_RESEND},
		{"retry-failed", no_argument, NULL, O_RETRY},
		{"skip-in-doubt", no_argument, NULL, O_SKIP_DOUBT},
		{"retry-in-doubt", no_argument, NULL, O_RETRY_DOUBT},
		{"force", no_argument, NULL, O_FORCE},
		{"yes", no_argument, NULL, 'y'},
		{NULL, 0, NULL, 0},
	};
	int c;
	a->rate = -1;
	while ((c = getopt_long(argc, argv, "y", opts, NULL)) != -1)
		if (parse_opt(c, a))
			return -1;
	if (optind != argc - 1)
		return -1;
	a->post = argv[optind];
	return 0;
}

static enum nl_err apply_overrides(const struct send_args *a, struct nl_config *cfg)
{
	enum nl_err e = NL_OK;
	if (a->subscribers && (e = nl_config_set(&cfg->subscribers, a->subscribers)))
		return e;
	if (a->smtp && nl_config_smtp_url_problem(a->smtp))
		return nl_errf(NL_EUSAGE, "--smtp: %s", nl_config_smtp_url_problem(a->smtp));
	if (a->smtp && (e = nl_config_set(&cfg->smtp.url, a->smtp)))
		return e;
	if (a->log && (e = nl_config_set(&cfg->log, a->log)))
		return e;
	if (a->connections)
		cfg->smtp.connections = (int)a->connections;
	if (a->rate >= 0)
		cfg->smtp.rate = a->rate;
	return e;
}

static enum nl_err do_dry_run(const struct send_args *a, const struct nl_config *cfg,
			      const struct nl_post *post)
{
	struct tally t = {0};
	char dir[4096];
	enum nl_err e;
	if (post->draft)
		nl_warn("%s is a draft: a dry run is fine, a real send will be refused", a->post);
	if (a->dry_dir)
		snprintf(dir, sizeof dir, "%s", a->dry_dir);
	else
		snprintf(dir, sizeof dir, "out/%s", post->slug);
	if ((e = dry_run(cfg, post, dir, &t)))
		return e;
	printf("dry run: %zu message%s for \"%s\" written to %s/ (%zu skipped", t.sent,
	       t.sent == 1 ? "" : "s", post->title, dir, t.skipped);
	if (t.sent)
		printf("; %.1f KB per message", (double)t.bytes / (double)t.sent / 1024.0);
	printf(")\n");
	return NL_OK;
}


static void describe_plan(const struct nl_send_plan *p, const struct send_args *a)
{
	if (p->audience)
		printf("audience: %s (%zu active readers outside it)\n", p->audience, p->outside_audience);
	printf("recipients: %zu to send now", p->pending);
	if (p->already_sent)
		printf(", %zu already have it", p->already_sent);
	if (p->in_doubt)
		printf(", %zu in doubt after an interrupted run (%s)", p->in_doubt,
		       a->skip_in_doubt ? "skipped" : "sent again");
	if (p->deferred)
		printf(", %zu deferred before (retried)", p->deferred);
	if (p->doubt)
		printf(", %zu whose final reply was lost (%s)", p->doubt,
		       a->retry_in_doubt ? "sent again" : "--retry-in-doubt to resend");
	if (p->failed_skipped)
		printf(", %zu failed before (--retry-failed to retry)", p->failed_skipped);
	if (p->invalid || p->inactive || p->duplicates)
		printf("; skipped rows: %zu invalid, %zu not active, %zu duplicates", p->invalid,
		       p->inactive, p->duplicates);
	printf("\n");
}

static enum nl_err confirm(const struct send_args *a, const struct nl_config *cfg,
			   const struct nl_post *post, const struct nl_send_plan *p)
{
	char answer[16];
	if (a->yes)
		return NL_OK;
	if (!isatty(STDIN_FILENO))
		return nl_errf(NL_EUSAGE, "not on a terminal: add --yes to send without confirmation");
	printf("Subject: %s%s\nFrom:    %s <%s>\nRelay:   %s\nSend to: %zu recipient%s\n",
	       a->to ? "[TEST] " : "", post->title, cfg->from_name, cfg->from_addr, cfg->smtp.url,
	       p->pending, p->pending == 1 ? "" : "s");
	printf("Send now? [y/N] ");
	fflush(stdout);
	if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
		return nl_errf(NL_EUSAGE, "not sent");
	return NL_OK;
}

static enum nl_err do_send(const struct send_args *a, struct nl_config *cfg,
			   const struct nl_post *post)
{
	struct nl_send_opts o = {.cfg = cfg, .post = post, .resend = a->resend,
				 .retry_failed = a->retry_failed, .skip_in_doubt = a->skip_in_doubt,
				 .retry_in_doubt = a->retry_in_doubt,
				 .limit = a->limit > 0 ? (size_t)a->limit : 0, .test_to = a->to,
				 .progress = isatty(STDERR_FILENO), .interrupted = &nl_cmd_interrupted};
	struct nl_sendrun *run = NULL;
	struct nl_send_stats st = {0};
	const char *why = NULL;
	enum nl_err e, e2;
	if (a->to && !nl_addr_valid(a->to, strlen(a->to), &why))
		return nl_errf(NL_EUSAGE, "--to %s: %s", a->to, why);
	if ((e = nl_cmd_preflight(cfg, post, a->force, stdout)))
		return e;
	nl_cmd_signals();
	if ((e = nl_sendrun_open(&o, &run)))
		return e;
	const struct nl_send_plan *p = nl_sendrun_plan(run);
	if (!a->to)
		describe_plan(p, a);
	if (!p->pending) {
		printf("nothing to send for \"%s\"%s\n", post->title,
		       p->already_sent ? " (use --resend to send it again to everyone)" : "");
	} else if (!(e = confirm(a, cfg, post, p))) {
		e = nl_sendrun_go(run, &st);
		/* Deferred recipients end the run with 75 too: it stopped short of done. */
		printf("%s: %zu sent, %zu failed, %zu deferred", e || st.deferred ? "stopped" : "done",
		       st.sent, st.failed, st.deferred);
		if (st.in_doubt)
			printf(", %zu in doubt (final reply lost; --retry-in-doubt to resend)", st.in_doubt);
		printf(" in %.1f s (%.1f msg/s); log: %s\n", st.seconds,
		       nl_send_rate(st.sent + st.failed + st.deferred + st.in_doubt, st.first_attempt,
				    st.last_outcome),
		       cfg->log);
		fflush(stdout);
	}
	e2 = nl_sendrun_close(run);
	if (!e && st.deferred)
		e = nl_errf(NL_ETEMPFAIL, "%zu recipient%s deferred: run the same command later to retry",
			    st.deferred, st.deferred == 1 ? "" : "s");
	return e ? e : e2;
}

int cmd_send(struct nl_cli *cli, int argc, char **argv)
{
	struct send_args a = {0};
	struct nl_config *cfg = NULL;
	struct nl_post *post = NULL;
	enum nl_err e;
	if (nl_cmd_help(argc, argv, help))
		return 0;
	if (parse_args(argc, argv, &a)) {
		fputs(help, stderr);
		return nl_exit_status(NL_EUSAGE);
	}
	if (!(e = nl_cmd_config(cli, &cfg, !a.dry_run)) && !(e = apply_overrides(&a, cfg)) &&
	    !(e = nl_cmd_post(a.post, !a.dry_run, &post)))
		e = a.dry_run ? do_dry_run(&a, cfg, post) : do_send(&a, cfg, post);
	nl_post_free(post);
	nl_config_free(cfg);
	return e ? nl_cmd_fail(e) : 0;
}

