/* sendrun.c - glue for one send: list + log decide who gets the post, smtp delivers, log records. */
#include "sendrun.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrmap.h"
#include "fsutil.h"
#include "inbox.h"
#include "log.h"
#include "campaign.h"
#include "sendlog.h"
#include "smtp.h"
#include "recipients.h"
#include "subscriber.h"

struct nl_sendrun {
	struct nl_send_opts o;
	struct nl_sendlog *log;
	bool own_log;			/* opened here, not lent by the caller */
	struct nl_sendstate st;
	struct nl_send_plan plan;
	struct nl_recipients *rcpts;	/* open from the plan to the send: what was confirmed is sent */
	struct nl_campaign *camp;
	struct nl_message *msg;		/* built per job, reused: next() runs under the sender's lock */
	nl_message_signer sign;		/* the campaign's signer, run by prepare() on the workers */
	const void *sign_ctx;
	char *password;
	size_t taken;			/* jobs handed out, for --limit */
	bool test_done;
	pthread_mutex_t lock;		/* stats and progress */
	struct nl_send_stats stats;
	double t0, last_progress;
	double last_changes;		/* when the list's change file was last read on */
};

enum decision { D_SEND, D_SENT, D_FAILED, D_IN_DOUBT, D_DOUBT };

static double now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum decision decide(const struct nl_send_opts *o, enum nl_event last)
{
	if (o->resend)
		return D_SEND;
	switch (last) {
	case NL_EV_SENT: return D_SENT;
	case NL_EV_FAILED: return o->retry_failed ? D_SEND : D_FAILED;
	case NL_EV_INTENT: return o->skip_in_doubt ? D_IN_DOUBT : D_SEND;
	case NL_EV_DOUBT: return o->retry_in_doubt ? D_SEND : D_DOUBT;
	default: return D_SEND;
	}
}

/* One row of the plan pass. */
static void plan_row(struct nl_sendrun *r, const struct nl_recipient *rc)
{
	struct nl_send_plan *p = &r->plan;
	p->rows++;
	switch (rc->skip) {
	case NL_SKIP_NONE: break;
	case NL_SKIP_STATUS: case NL_SKIP_SUPPRESSED: p->inactive++; return;
	case NL_SKIP_DUPLICATE: p->duplicates++; return;
	case NL_SKIP_AUDIENCE: p->outside_audience++; return;
	default: p->invalid++; return;
	}
	p->active++;
	switch (decide(&r->o, rc->last)) {
	case D_SENT: p->already_sent++; break;
	case D_FAILED: p->failed_skipped++; break;
	case D_IN_DOUBT: p->in_doubt++; break;
	case D_DOUBT: p->doubt++; break;
	case D_SEND:
		if (rc->last == NL_EV_INTENT)
			p->in_doubt++;
		if (rc->last == NL_EV_DEFERRED)
			p->deferred++;
		if (rc->last == NL_EV_DOUBT)
			p->doubt++;
		if (!r->o.limit || p->pending < r->o.limit)
			p->pending++;
		break;
	}
}

static enum nl_err plan(struct nl_sendrun *r)
{
	const struct nl_config *cfg = r->o.cfg;
	struct nl_recipients_opts ro = {.path = cfg->subscribers, .secret = cfg->secret,
					.list_id = cfg->list_id, .post = r->o.post, .state = &r->st.last,
					.interrupted = r->o.interrupted};
	struct nl_recipient rc;
	bool eof = false;
	enum nl_err e = nl_recipients_open(&ro, &r->rcpts);
	while (!e && !(e = nl_recipients_next(r->rcpts, &rc, &eof)) && !eof)
		plan_row(r, &rc);
	if (!e)
		r->plan.audience = nl_recipients_audience(r->rcpts);
	if (r->o.test_to)
		r->plan.pending = 1;
	return e;
}

enum nl_err nl_sendrun_open(const struct nl_send_opts *o, struct nl_sendrun **out)
{
	struct nl_sendrun *r = calloc(1, sizeof *r);
	char what[512];
	enum nl_err e;
	*out = NULL;
	if (!r)
		return nl_errf(NL_ENOMEM, "out of memory");
	r->o = *o;
	pthread_mutex_init(&r->lock, NULL);
	snprintf(what, sizeof what, "send %s", o->post->slug);
	r->log = o->log;
	r->own_log = !o->log;
	if ((e = nl_smtp_prepare(o->cfg, &r->password)) ||
	    (r->own_log && (e = nl_sendlog_open(o->cfg->log, what, &r->log))) ||
	    (e = nl_sendlog_scan(o->cfg->log, o->post->slug, &r->st)) ||
	    (e = plan(r))) {
		nl_sendrun_close(r);
		return e;
	}
	*out = r;
	return NL_OK;
}

const struct nl_send_plan *nl_sendrun_plan(const struct nl_sendrun *r)
{
	return &r->plan;
}

/* ---- the source the sender pulls from ---- */

/* The reader's message, through the one finalize step, into the job. */
static enum nl_err fill_job(struct nl_sendrun *r, const struct nl_sub *sub, struct nl_smtp_job *j)
{
	enum nl_err e = nl_campaign_message(r->camp, sub, r->msg);
	/* Signing waits for src_prepare, off the lock: next() must stay cheap. */
	r->sign = nl_message_signer_get(r->msg, &r->sign_ctx);
	nl_message_set_signer(r->msg, NULL, NULL);
	if (!e)
		e = nl_message_finalize(r->msg, &j->msg, j->envelope_from, sizeof j->envelope_from);
	if (!e)
		snprintf(j->msgid, sizeof j->msgid, "%s", nl_message_id(r->msg));
	return e;
}

static enum nl_err next_test(struct nl_sendrun *r, struct nl_smtp_job *j, bool *eof)
{
	const char *f[NL_LIST_MAX_COLS];
	struct nl_sub sub;
	if (r->test_done) {
		*eof = true;
		return NL_OK;
	}
	r->test_done = true;
	nl_sub_init(&sub, f, nl_list_ncols(nl_recipients_list(r->rcpts)), r->o.test_to, "");
	snprintf(j->rcpt, sizeof j->rcpt, "%s", r->o.test_to);
	return fill_job(r, &sub, j);
}

static enum nl_err src_next(void *ctx, struct nl_smtp_job *j, bool *eof)
{
	struct nl_sendrun *r = ctx;
	struct nl_recipient rc;
	enum nl_err e;
	if (r->o.test_to)
		return next_test(r, j, eof);
	/* A reader who unsubscribes mid-run (serve, inbox) is not mailed a second later. */
	if (now_real() - r->last_changes >= 1.0) {
		r->last_changes = now_real();
		if ((e = nl_recipients_refresh(r->rcpts)))
			return e;
	}
	while (!(e = nl_recipients_next(r->rcpts, &rc, eof)) && !*eof) {
		if (rc.skip != NL_SKIP_NONE || decide(&r->o, rc.last) != D_SEND)
			continue;
		if (r->o.limit && r->taken >= r->o.limit) {
			*eof = true;
			return NL_OK;
		}
		r->taken++;
		if (strlen(rc.row->email) >= sizeof j->rcpt)
			return nl_errf(NL_EDATA, "%s:%zu: address too long", r->o.cfg->subscribers, rc.row->line);
		memcpy(j->rcpt, rc.row->email, strlen(rc.row->email) + 1);
		return fill_job(r, rc.row, j);
	}
	return e;
}

/* The same signature nl_message_finalize() would add, on the worker's thread. */
static enum nl_err src_prepare(void *ctx, struct nl_smtp_job *j)
{
	const struct nl_sendrun *r = ctx;
	return r->sign ? r->sign(r->sign_ctx, &j->msg, 0) : NL_OK;
}

static enum nl_err src_attempt(void *ctx, const struct nl_smtp_job *j)
{
	struct nl_sendrun *r = ctx;
	pthread_mutex_lock(&r->lock);
	if (!r->stats.first_attempt)
		r->stats.first_attempt = now_real();
	pthread_mutex_unlock(&r->lock);
	if (r->o.test_to)
		return NL_OK; /* proof copies never count as campaign sends */
	return nl_sendlog_write(r->log, r->o.post->slug, j->rcpt, NL_EV_INTENT, 0, j->msgid, NULL);
}

static void progress(struct nl_sendrun *r, bool final)
{
	double now = now_real(), dt = now - r->t0;
	const struct nl_send_stats *s = &r->stats;
	size_t done = s->sent + s->failed + s->deferred, total = r->plan.pending;
	if (!r->o.progress || (!final && now - r->last_progress < 0.25))
		return;
	r->last_progress = now;
	double rate = dt > 0 ? (double)done / dt : 0;
	double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\r  sent %zu of %zu, failed %zu, deferred %zu, %.0f msg/s, ETA %.0f s   %s",
		s->sent, total, s->failed, s->deferred, rate, eta, final ? "\n" : "");
}

static enum nl_err src_result(void *ctx, const struct nl_smtp_job *j, enum nl_outcome out,
			      int code, const char *reply)
{
	struct nl_sendrun *r = ctx;
	static const enum nl_event ev[] = {
		[NL_OUT_SENT] = NL_EV_SENT, [NL_OUT_FAILED] = NL_EV_FAILED, [NL_OUT_DEFERRED] = NL_EV_DEFERRED,
		[NL_OUT_IN_DOUBT] = NL_EV_DOUBT};
	static const char *const said[] = {
		[NL_OUT_SENT] = "sent:", [NL_OUT_FAILED] = "failed:", [NL_OUT_DEFERRED] = "deferred:",
		[NL_OUT_IN_DOUBT] = "in doubt (not resent):"};
	enum nl_err e = nl_sendlog_write(r->log, r->o.post->slug, j->rcpt,
					 r->o.test_to ? NL_EV_TEST : ev[out], code, j->msgid, reply);
	bool bounced = false;
	/* A 5.1.x refusal is a hard bounce now, not one that comes back later. */
	if (!e && out == NL_OUT_FAILED && !r->o.test_to)
		e = nl_inbox_relay_refused(r->o.cfg, r->log, r->o.post->slug, j->rcpt, code, reply, &bounced);
	pthread_mutex_lock(&r->lock);
	r->stats.last_outcome = now_real();
	if (out == NL_OUT_SENT)
		r->stats.sent++;
	else if (out == NL_OUT_FAILED)
		r->stats.failed++;
	else if (out == NL_OUT_IN_DOUBT)
		r->stats.in_doubt++;
	else
		r->stats.deferred++;
	progress(r, false);
	pthread_mutex_unlock(&r->lock);
	if (out != NL_OUT_SENT)
		nl_info("%s: %s %s%s", j->rcpt, said[out], reply, bounced ? " (marked bounced)" : "");
	return e;
}

/* The campaign's end, for cron: `done` leaves the post alone, `stopped` backs off. */
static enum nl_err record_end(struct nl_sendrun *r, enum nl_err e)
{
	const struct nl_send_plan *p = &r->plan;
	const char *slug = r->o.post->slug;
	char detail[1024];
	enum nl_err we;
	if (r->o.test_to || (r->o.limit && r->taken >= r->o.limit))
		return e;
	if (!e && !r->stats.deferred) {
		snprintf(detail, sizeof detail, "%zu sent, %zu failed%s%s", p->already_sent + r->stats.sent,
			 p->failed_skipped + r->stats.failed,
			 r->o.skip_in_doubt && p->in_doubt ? ", some in doubt (skipped)" : "",
			 r->stats.in_doubt || (p->doubt && !r->o.retry_in_doubt)
				 ? ", some in doubt (final reply lost; send --retry-in-doubt)" : "");
		return nl_sendlog_write(r->log, slug, NULL, NL_EV_DONE, 0, NULL, detail);
	}
	if (!e)
		snprintf(detail, sizeof detail, "%zu recipient%s deferred", r->stats.deferred,
			 r->stats.deferred == 1 ? "" : "s");
	else if (e == NL_EUNAVAILABLE)
		snprintf(detail, sizeof detail, "%s", nl_errmsg());
	else
		return e; /* interrupted, or our own trouble: resume at once */
	we = nl_sendlog_write(r->log, slug, NULL, NL_EV_STOPPED, 0, NULL, detail);
	if (we)
		return we; /* a log we cannot write is worse than a refusing relay */
	return e ? nl_errf(e, "%s", detail) : NL_OK;
}

enum nl_err nl_sendrun_go(struct nl_sendrun *r, struct nl_send_stats *stats)
{
	const struct nl_config *cfg = r->o.cfg;
	struct nl_campaign_opts co = {.cfg = cfg, .post = r->o.post, .test = r->o.test_to != NULL,
				      .now = r->o.now ? r->o.now : time(NULL)};
	struct nl_smtp_opts so = {.cfg = &cfg->smtp, .envelope_from = cfg->bounce_address,
				  .password = r->password, .connections = cfg->smtp.connections,
				  .rate = cfg->smtp.rate, .max_per_hour = cfg->smtp.max_per_hour,
				  .interrupted = r->o.interrupted};
	struct nl_smtp_source src = {src_next, src_attempt, src_result, r, src_prepare};
	enum nl_err e;
	r->t0 = now_real();
	co.list = nl_recipients_list(r->rcpts);
	if ((e = nl_recipients_rewind(r->rcpts)) || (e = nl_campaign_new(&co, &r->camp)))
		goto out;
	if (!(r->msg = nl_message_new())) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto out;
	}
	if (so.connections > (int)r->plan.pending && r->plan.pending)
		so.connections = (int)r->plan.pending;
	if (r->plan.pending)
		e = nl_smtp_send(&so, &src);
	e = record_end(r, e);
out:
	r->stats.seconds = now_real() - r->t0;
	if (r->plan.pending)
		progress(r, true);
	*stats = r->stats;
	return e;
}

enum nl_err nl_sendrun_close(struct nl_sendrun *r)
{
	enum nl_err e = NL_OK;
	if (!r)
		return NL_OK;
	if (r->log && r->own_log)
		e = nl_sendlog_close(r->log);
	nl_sendstate_free(&r->st);
	nl_recipients_close(r->rcpts);
	nl_message_free(r->msg);
	nl_campaign_free(r->camp);
	if (r->password) {
		memset(r->password, 0, strlen(r->password));
		free(r->password);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
	return e;
}
