/* cmd_cron.c - `newsletter cron` (send what is due, once, quietly) and `newsletter schedule` (every post's state). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cmd.h"
#include "config.h"
#include "post.h"
#include "datetime.h"
#include "log.h"
#include "schedule.h"
#include "sendlog.h"
#include "sendrun.h"
#include "site.h"

static const char cron_help[] =
	"usage: newsletter cron [--dry-run] [--include-old] [--now TIME] [-v]\n"
	"\n"
	"Sends each post of the posts folder that is due and not yet sent, oldest\n"
	"first, one at a time, and resumes one that was interrupted. A post is due\n"
	"when it is not a draft and its send_at (else its date) has come; a date\n"
	"without an offset is in the config's timezone. Run it from cron or a\n"
	"systemd timer as often as you like: it prints nothing unless something\n"
	"went wrong, and a run that finds another one working exits at once.\n"
	"With site.after_cron: true it then rebuilds the web archive (as\n"
	"`newsletter site` does), so \"View in browser\" works on arrival.\n"
	"\n"
	"  --dry-run        print what would be sent now, and why the rest are not\n"
	"  --include-old    also send posts due more than max_age ago that were never\n"
	"                   sent (otherwise reported once and skipped)\n"
	"  --now TIME       run as if it were TIME (RFC 3339), to check a schedule\n"
	"  -v, --verbose    say what it does, and when another run holds the log\n"
	"\n"
	"A post whose send the relay refused is tried again after 5, 15, then every\n"
	"60 minutes. Exit status: 0 nothing went wrong (also when another run was\n"
	"working); 65 a post cannot be read; 69 the relay refused; 75 recipients\n"
	"deferred; 78 bad configuration; 130 interrupted (the next run resumes).\n";

static const char schedule_help[] =
	"usage: newsletter schedule [--now TIME] [--include-old]\n"
	"\n"
	"Lists every post of the posts folder, in the order cron sends them, with\n"
	"its state: draft, scheduled (the due time in the configured zone and in\n"
	"UTC), due, sending (n of m sent), waiting after a refusal, too old, given\n"
	"up, or sent (when), with failed and deferred counts. Changes nothing.\n";

struct cron_args {
	bool dry_run, include_old;
	const char *now_text;	/* --now, as given */
	time_t now;
};

/* What one run works with. */
struct cron {
	const struct cron_args *a;
	struct nl_config *cfg;
	struct nl_sendlog *log;	/* held for the whole run: one cron or send at a time */
	int status;		/* exit status of the first thing that went wrong */
};

enum { O_DRY = 256, O_NOW, O_OLD };

static const struct cron_opt {
	struct option opt;
	bool cron_only;
} cron_opts[] = {
	{{"dry-run", no_argument, NULL, O_DRY}, true},
	{{"include-old", no_argument, NULL, O_OLD}, false},
	{{"now", required_argument, NULL, O_NOW}, false},
	{{"verbose", no_argument, NULL, 'v'}, false},
};

static int parse_args(int argc, char **argv, bool is_cron, struct cron_args *a)
{
	struct option opts[NL_ARRAY_LEN(cron_opts) + 1];
	size_t n = 0;
	int c;
	for (size_t i = 0; i < NL_ARRAY_LEN(cron_opts); i++)
		if (is_cron || !cron_opts[i].cron_only)
			opts[n++] = cron_opts[i].opt;
	memset(&opts[n], 0, sizeof opts[n]);
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case O_DRY: a->dry_run = true; break;
		case O_OLD: a->include_old = true; break;
		case O_NOW: a->now_text = optarg; break;
		case 'v': nl_log_set_verbosity(nl_log_verbosity() < NL_VERBOSE ? NL_VERBOSE : NL_DEBUG); break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* --now without an offset is in the configured zone, like the dates of posts. */
static enum nl_err resolve_now(const struct nl_config *cfg, struct cron_args *a)
{
	a->now = time(NULL);
	if (!a->now_text)
		return NL_OK;
	if (!nl_time_parse_in(nl_tz_get(cfg->tz), a->now_text, &a->now))
		return nl_errf(NL_EUSAGE, "--now %s: not RFC 3339 (2026-11-29T09:30:00+01:00) or YYYY-MM-DD",
			       a->now_text);
	return NL_OK;
}

/* ---- words for times and states ---- */

/* "2026-03-29 09:00 CEST (2026-03-29 07:00 UTC)"; only one of them when the zone is UTC. */
static void when_text(const struct nl_config *cfg, time_t t, char *out, size_t size)
{
	char local[80], utc[80];
	nl_tz_format(nl_tz_get(cfg->tz), t, local, sizeof local);
	if (!strcmp(cfg->tz, "UTC")) {
		snprintf(out, size, "%s", local);
		return;
	}
	nl_tz_format(NULL, t, utc, sizeof utc);
	snprintf(out, size, "%s (%s)", local, utc);
}

/* "3 days", "5 hours", "12 minutes", "40 seconds": roughly, for people. */
static void span_text(long secs, char *out, size_t size)
{
	static const struct {
		long secs;
		const char *unit;
	} spans[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
	size_t i = 0;
	if (secs < 0)
		secs = -secs;
	while (i + 1 < NL_ARRAY_LEN(spans) && secs < 2 * spans[i].secs)
		i++;
	long n = secs / spans[i].secs;
	snprintf(out, size, "%ld %s%s", n, spans[i].unit, n == 1 ? "" : "s");
}

static void add_when(struct nl_buf *b, const struct nl_config *cfg, const char *what, time_t t)
{
	char w[200];
	when_text(cfg, t, w, sizeof w);
	nl_buf_addf(b, "%s %s", what, w);
}

/* The states that need more than a few words. */
static void explain_trouble(const struct cron *c, const struct nl_sched_post *p, struct nl_buf *b)
{
	const struct nl_campaign_log *log = p->log;
	char age[32], span[48];
	nl_duration_format(c->cfg->max_age, age, sizeof age);
	span_text((long)(c->a->now - p->due), span, sizeof span);
	if (p->when == NL_WHEN_BACKOFF) {
		add_when(b, c->cfg, "the last try stopped at", (time_t)log->last_stop);
		nl_buf_addf(b, " (%s)", log->stop_detail ? log->stop_detail : "");
		add_when(b, c->cfg, "; next try at", p->retry_at);
	} else if (p->when == NL_WHEN_TOO_OLD) {
		add_when(b, c->cfg, "too old to be news: due", p->due);
		nl_buf_addf(b, ", %s ago, more than max_age (%s), and never sent"
			    " (--include-old sends it)", span, age);
	} else {
		nl_buf_addf(b, "given up: its send kept stopping for more than max_age (%s) since"
			    " the first try; the last: %s; `newsletter cron --include-old` tries again",
			    age, log->stop_detail ? log->stop_detail : "");
	}
}

/* Why cron does what it does with the post, in one line. */
static void explain(const struct cron *c, const struct nl_sched_post *p, struct nl_buf *b)
{
	char span[48];
	span_text((long)(p->due - c->a->now), span, sizeof span);
	switch (p->when) {
	case NL_WHEN_ERROR: nl_buf_adds(b, p->error); break;
	case NL_WHEN_DRAFT: nl_buf_adds(b, "a draft (draft: true): never sent"); break;
	case NL_WHEN_UNDATED:
		nl_buf_adds(b, "no send_at or date in its front matter, so no time to send it");
		break;
	case NL_WHEN_LATER:
		add_when(b, c->cfg, "not due until", p->due);
		nl_buf_addf(b, ", in %s", span);
		break;
	case NL_WHEN_DUE: add_when(b, c->cfg, "due since", p->due); break;
	case NL_WHEN_RESUME:
		add_when(b, c->cfg, "due since", p->due);
		nl_buf_adds(b, "; started before, resumes");
		break;
	case NL_WHEN_BACKOFF:
	case NL_WHEN_TOO_OLD:
	case NL_WHEN_GIVEN_UP: explain_trouble(c, p, b); break;
	case NL_WHEN_DONE: add_when(b, c->cfg, "already sent: finished", (time_t)p->log->done); break;
	}
}

/* ---- cron ---- */


/* Print the error (already worded) and keep the first exit status. */
static void failed(struct cron *c, enum nl_err e)
{
	int st = nl_cmd_fail(e);
	if (!c->status)
		c->status = st;
}

/* Too old or given up: say so once, and a `skipped` line keeps it to once. */
static void skip_once(struct cron *c, const struct nl_sched_post *p, const char *why)
{
	char due[80];
	struct nl_buf detail = NL_BUF_INIT;
	enum nl_err e;
	nl_tz_format(NULL, p->due, due, sizeof due);
	nl_buf_addf(&detail, "%s (due %s)", nl_when_name(p->when), due);
	if ((e = nl_buf_err(&detail)) ||
	    (e = nl_sendlog_write(c->log, p->post->slug, NULL, NL_EV_SKIPPED, 0, NULL, detail.data)))
		failed(c, e);
	else if (p->when == NL_WHEN_TOO_OLD)
		nl_warn("%s: not sent: %s", p->path, why);
	else
		failed(c, nl_errf(NL_EUNAVAILABLE, "%s: %s", p->path, why));
	nl_buf_free(&detail);
}

/* Everything that will not be sent: errors every time, the rest once or with -v. */
static void report(struct cron *c, const struct nl_sched_post *p)
{
	struct nl_buf why = NL_BUF_INIT;
	explain(c, p, &why);
	if (nl_buf_err(&why))
		failed(c, NL_ENOMEM);
	else if (p->when == NL_WHEN_ERROR)
		failed(c, nl_errf(NL_EDATA, "%s", p->error));
	else if (nl_schedule_unreported(p))
		skip_once(c, p, why.data);
	else if (p->when != NL_WHEN_DUE && p->when != NL_WHEN_RESUME)
		nl_info("%s: %s", p->path, why.data);
	nl_buf_free(&why);
}

/* The error of a send, worded for the writer who reads cron's mail; true to stop the run. */
static bool send_failed(struct cron *c, const struct nl_sched_post *p, enum nl_err e,
			const struct nl_send_stats *st)
{
	char msg[1024], span[48];
	/* A run that got some through starts the backoff afresh (nl_sendlog_campaigns). */
	unsigned stops = st->sent || !p->log ? 1 : p->log->stops + 1;
	snprintf(msg, sizeof msg, "%s", nl_errmsg());
	span_text(nl_backoff_delay(stops), span, sizeof span);
	if (e == NL_EUNAVAILABLE)
		failed(c, nl_errf(e, "%s: sending stopped: %s; cron tries again in %s", p->path, msg, span));
	else if (e == NL_ETEMPFAIL)
		failed(c, nl_errf(e, "%s: %zu recipient%s deferred; cron tries again in %s"
				     " (`newsletter status %s` says why)", p->path, st->deferred,
				  st->deferred == 1 ? "" : "s", span, p->path));
	else if (e == NL_EINTERRUPTED)
		failed(c, nl_errf(e, "%s: interrupted; the next run resumes it", p->path));
	else if (!strncmp(msg, p->path, strlen(p->path)) && msg[strlen(p->path)] == ':')
		failed(c, nl_errf(e, "%s", msg));	/* it names the post already */
	else
		failed(c, nl_errf(e, "%s: %s", p->path, msg));
	/* Only a problem of this post's own lets the next one go. */
	return e != NL_ETEMPFAIL && e != NL_EDATA;
}

/* One due post, with everything `send` does; true to stop the run. */
static bool send_post(struct cron *c, const struct nl_sched_post *p)
{
	struct nl_send_opts o = {.cfg = c->cfg, .post = p->post, .log = c->log,
				 .now = c->a->now_text ? c->a->now : 0, .interrupted = &nl_cmd_interrupted};
	struct nl_sendrun *run = NULL;
	struct nl_send_stats st = {0};
	enum nl_err e, e2;
	nl_info("%s: %s \"%s\"", p->path, p->when == NL_WHEN_RESUME ? "resuming" : "sending",
		p->post->title);
	/* as `send` does, but cron has no --force: a clipped post waits for the writer */
	if (!(e = nl_cmd_preflight(c->cfg, p->post, false, NULL)) && !(e = nl_sendrun_open(&o, &run)))
		e = nl_sendrun_go(run, &st);
	e2 = nl_sendrun_close(run);
	if (!e)
		e = e2;
	if (!e && st.deferred)
		e = NL_ETEMPFAIL;
	if (e)
		return send_failed(c, p, e, &st);
	nl_info("%s: %zu sent, %zu failed in %.1f s", p->path, st.sent, st.failed, st.seconds);
	if (st.failed)
		nl_warn("%s: %zu recipient%s refused it for good (`newsletter status %s` lists them)",
			p->path, st.failed, st.failed == 1 ? "" : "s", p->path);
	return false;
}

static void cron_posts(struct cron *c, const struct nl_schedule *s)
{
	for (size_t i = 0; i < s->n; i++)
		report(c, &s->posts[i]);
	/* Oldest first (the schedule's order), one at a time. */
	for (size_t i = 0; i < s->n && !nl_cmd_interrupted; i++) {
		const struct nl_sched_post *p = &s->posts[i];
		if ((p->when == NL_WHEN_DUE || p->when == NL_WHEN_RESUME) && send_post(c, p))
			break;
	}
}

static int cron_run(struct cron *c)
{
	struct nl_schedule_opts so = {.cfg = c->cfg, .now = c->a->now, .include_old = c->a->include_old};
	struct nl_schedule s;
	enum nl_err e;
	nl_cmd_signals();
	if (c->a->now_text)
		nl_sendlog_pretend_now(c->a->now);
	/* The lock first, so that what we decide is still true when we send. */
	e = nl_sendlog_open(c->cfg->log, "cron", &c->log);
	if (e == NL_ELOCKED) {
		nl_info("nothing done: %s", nl_errmsg());
		return 0;
	}
	if (e)
		return nl_cmd_fail(e);
	if ((e = nl_schedule_load(&so, &s)))
		failed(c, e);
	else
		cron_posts(c, &s);
	nl_schedule_free(&s);
	if ((e = nl_sendlog_close(c->log)))
		failed(c, e);
	/* After the sends, so that "View in browser" works when the message arrives. */
	if (c->cfg->site.after_cron && !nl_cmd_interrupted) {
		struct nl_site_opts so2 = {.cfg = c->cfg, .dir = c->cfg->site.dir, .now = c->a->now,
					   .interrupted = &nl_cmd_interrupted};
		struct nl_site_stats st;
		if ((e = nl_site_build(&so2, &st)))
			failed(c, e);
	}
	if (nl_cmd_interrupted && !c->status)
		c->status = nl_cmd_fail(nl_errf(NL_EINTERRUPTED, "interrupted; the next run resumes"));
	return c->status;
}

/* One line per post: what a run now would do with it, and why. */
static void dry_line(struct cron *c, const struct nl_sched_post *p)
{
	struct nl_buf why = NL_BUF_INIT;
	struct nl_progress pr;
	bool send = p->when == NL_WHEN_DUE || p->when == NL_WHEN_RESUME;
	explain(c, p, &why);
	if (send && !nl_schedule_progress(c->cfg, p->post, true, &pr))
		nl_buf_addf(&why, "; %zu recipient%s to send to", pr.left, pr.left == 1 ? "" : "s");
	if (nl_buf_err(&why))
		failed(c, NL_ENOMEM);
	else if (p->when == NL_WHEN_ERROR)
		printf("cannot send: %s\n", why.data);
	else
		printf("%s %s: %s\n", send ? "would send:" : "not sent:  ", p->path, why.data);
	if (p->when == NL_WHEN_ERROR && !c->status)
		c->status = nl_exit_status(NL_EDATA);
	nl_buf_free(&why);
}

static int cron_dry_run(struct cron *c)
{
	struct nl_schedule_opts so = {.cfg = c->cfg, .now = c->a->now, .include_old = c->a->include_old};
	struct nl_schedule s;
	enum nl_err e = nl_schedule_load(&so, &s);
	if (e)
		return nl_cmd_fail(e);
	if (!s.n)
		printf("no posts in %s\n", c->cfg->posts);
	for (size_t i = 0; i < s.n; i++)
		dry_line(c, &s.posts[i]);
	nl_schedule_free(&s);
	return c->status;
}

int cmd_cron(struct nl_cli *cli, int argc, char **argv)
{
	struct cron_args a = {0};
	struct cron c = {.a = &a};
	enum nl_err e;
	int status;
	if (nl_cmd_help(argc, argv, cron_help))
		return 0;
	if (parse_args(argc, argv, true, &a)) {
		fputs(cron_help, stderr);
		return nl_exit_status(NL_EUSAGE);
	}
	if ((e = nl_cmd_config(cli, &c.cfg, !a.dry_run)) || (e = resolve_now(c.cfg, &a)))
		status = nl_cmd_fail(e);
	else
		status = a.dry_run ? cron_dry_run(&c) : cron_run(&c);
	nl_config_free(c.cfg);
	return status;
}

/* ---- schedule ---- */

/* "1 of 3 sent, 1 failed, 1 deferred": how far the campaign got. */
static void add_progress(struct cron *c, const struct nl_sched_post *p, struct nl_buf *b)
{
	struct nl_progress pr;
	bool done = p->when == NL_WHEN_DONE;
	if (nl_schedule_progress(c->cfg, p->post, !done, &pr)) {
		nl_buf_addf(b, "(%s)", nl_errmsg());
		return;
	}
	if (done)
		nl_buf_addf(b, "%zu sent", pr.sent);
	else
		nl_buf_addf(b, "%zu of %zu sent", pr.sent, pr.sent + pr.failed + pr.left);
	if (pr.failed)
		nl_buf_addf(b, ", %zu failed", pr.failed);
	if (pr.deferred)
		nl_buf_addf(b, ", %zu deferred", pr.deferred);
	if (pr.in_doubt)
		nl_buf_addf(b, ", %zu in doubt", pr.in_doubt);
}

/* The last column: the title, and what the log says. */
static void schedule_note(struct cron *c, const struct nl_sched_post *p, struct nl_buf *b)
{
	const struct nl_campaign_log *log = p->log;
	if (p->when == NL_WHEN_ERROR) {
		nl_buf_adds(b, p->error);
		return;
	}
	nl_buf_addf(b, "\"%s\"", p->post->title);
	if (log && log->started) {
		nl_buf_adds(b, ": ");
		add_progress(c, p, b);
	}
	if (p->when == NL_WHEN_DONE)
		add_when(b, c->cfg, "; finished", (time_t)log->done);
	else if (p->when == NL_WHEN_BACKOFF || p->when == NL_WHEN_GIVEN_UP || p->when == NL_WHEN_TOO_OLD) {
		nl_buf_adds(b, "; ");
		explain(c, p, b);
	}
}

/* With timezone UTC the local column would repeat the UTC one: show one. */
static bool zone_is_utc(const char *tz)
{
	return !strcmp(tz, "UTC") || !strcmp(tz, "Etc/UTC") || !strcmp(tz, "Z");
}

static void schedule_line(struct cron *c, const struct nl_sched_post *p)
{
	char local[80] = "-", utc[80] = "-";
	struct nl_buf note = NL_BUF_INIT;
	if (p->due != (time_t)-1) {
		nl_tz_format(nl_tz_get(c->cfg->tz), p->due, local, sizeof local);
		nl_tz_format(NULL, p->due, utc, sizeof utc);
	}
	schedule_note(c, p, &note);
	if (nl_buf_err(&note))
		failed(c, NL_ENOMEM);
	else if (zone_is_utc(c->cfg->tz))
		printf("%-10s %-25s %s  %s\n", nl_when_name(p->when), utc, p->path, note.data);
	else
		printf("%-10s %-25s %-25s %s  %s\n", nl_when_name(p->when), local, utc, p->path, note.data);
	nl_buf_free(&note);
}

int cmd_schedule(struct nl_cli *cli, int argc, char **argv)
{
	struct cron_args a = {0};
	struct cron c = {.a = &a};
	struct nl_schedule s = {0};
	enum nl_err e;
	if (nl_cmd_help(argc, argv, schedule_help))
		return 0;
	if (parse_args(argc, argv, false, &a)) {
		fputs(schedule_help, stderr);
		return nl_exit_status(NL_EUSAGE);
	}
	struct nl_schedule_opts so = {.now = 0, .include_old = a.include_old};
	if (!(e = nl_cmd_config(cli, &c.cfg, false)) && !(e = resolve_now(c.cfg, &a))) {
		so.cfg = c.cfg;
		so.now = a.now;
		e = nl_schedule_load(&so, &s);
	}
	if (!e) {
		char zone[64];
		snprintf(zone, sizeof zone, "DUE (%s)", c.cfg->tz);
		if (zone_is_utc(c.cfg->tz))
			printf("%-10s %-25s %s\n", "STATE", "DUE (UTC)", "POST");
		else
			printf("%-10s %-25s %-25s %s\n", "STATE", zone, "DUE (UTC)", "POST");
		for (size_t i = 0; i < s.n; i++)
			schedule_line(&c, &s.posts[i]);
	}
	nl_schedule_free(&s);
	nl_config_free(c.cfg);
	return e ? nl_cmd_fail(e) : c.status;
}
