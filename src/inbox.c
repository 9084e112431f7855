/* inbox.c - what comes back becomes a status change: find the reader, apply the policy, record the event. */
#include "inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrmap.h"
#include "changes.h"
#include "log.h"
#include "subscriber.h"

/* A reader's history kept for the soft-bounce policy: more is a log we need not read further. */
#define MAX_HISTORY 4096

struct nl_inbox {
	struct nl_inbox_opts o;
	struct nl_sendlog *log;	/* NULL in a dry run */
};

const char *nl_inbox_outcome_name(enum nl_inbox_outcome o)
{
	static const char *const names[] = {
		[NL_IN_UNKNOWN] = "left for a person",	[NL_IN_BOUNCED] = "bounced",
		[NL_IN_SOFT] = "soft bounce counted",	[NL_IN_COMPLAINED] = "complained",
		[NL_IN_UNSUBSCRIBED] = "unsubscribed",	[NL_IN_IGNORED] = "ignored",
		[NL_IN_UNMATCHED] = "no such reader: left for a person",
	};
	return (unsigned)o < NL_ARRAY_LEN(names) ? names[o] : "?";
}

bool nl_inbox_needs_person(enum nl_inbox_outcome o)
{
	return o == NL_IN_UNKNOWN || o == NL_IN_UNMATCHED;
}

enum nl_err nl_inbox_open(const struct nl_inbox_opts *o, struct nl_inbox **out)
{
	struct nl_inbox *ib = calloc(1, sizeof *ib);
	enum nl_err e = NL_OK;
	*out = NULL;
	if (!ib)
		return nl_errf(NL_ENOMEM, "out of memory");
	ib->o = *o;
	if (!ib->o.now)
		ib->o.now = time(NULL);
	if (!o->dry_run && (e = nl_sendlog_open(o->cfg->log, "inbox", &ib->log))) {
		free(ib);
		return e;
	}
	*out = ib;
	return NL_OK;
}

enum nl_err nl_inbox_close(struct nl_inbox *ib)
{
	enum nl_err e = NL_OK;
	if (!ib)
		return NL_OK;
	e = nl_sendlog_close(ib->log);
	free(ib);
	return e;
}

/* ---- finding the reader ---- */

/* The list's row for this token or address (letter case ignored), its address into out. */
static enum nl_err find_row(const struct nl_config *cfg, const char *key, bool by_token,
			    char out[NL_ADDR_MAX + 1], enum nl_status *st)
{
	struct nl_list_opts lo = {.secret = cfg->secret, .list_id = cfg->list_id, .fill_tokens = true,
				  .missing_ok = true};
	struct nl_list *l = NULL;
	struct nl_sub *row;
	bool eof = false;
	enum nl_err e = nl_list_open(cfg->subscribers, &lo, &l);
	out[0] = 0;
	while (!e && !(e = nl_list_next(l, &row, &eof)) && !eof) {
		const char *have = by_token ? row->token : row->email;
		if (*have && !strcasecmp(have, key) && strlen(row->email) <= NL_ADDR_MAX) {
			memcpy(out, row->email, strlen(row->email) + 1);
			*st = row->status;
			break;
		}
	}
	nl_list_close(l);
	return e;
}

struct msgid_find {
	const char *msgid;
	char rcpt[NL_ADDR_MAX + 1];
	char slug[256];
};

static enum nl_err msgid_line(void *ctx, const struct nl_sendlog_entry *en)
{
	struct msgid_find *f = ctx;
	if (*f->rcpt || !*en->msgid || strcmp(en->msgid, f->msgid) || nl_event_is_reader(en->ev))
		return NL_OK;
	snprintf(f->rcpt, sizeof f->rcpt, "%s", en->rcpt);
	snprintf(f->slug, sizeof f->slug, "%s", en->slug);
	return NL_OK;
}

/* Each identifier in the order; the first that names a reader on the list wins. */
static enum nl_err find_reader(struct nl_inbox *ib, struct nl_inbox_result *r)
{
	const struct nl_config *cfg = ib->o.cfg;
	const struct nl_bounce *b = &r->b;
	enum nl_err e;
	if (*b->token && (e = find_row(cfg, b->token, true, r->reader, &r->reader_status)))
		return e;
	if (*r->reader) {
		r->how = b->token_from;
		return NL_OK;
	}
	if (*b->msgid) {
		struct msgid_find f = {.msgid = b->msgid};
		if ((e = nl_sendlog_each(cfg->log, msgid_line, &f)))
			return e;
		if (*f.rcpt && (e = find_row(cfg, f.rcpt, false, r->reader, &r->reader_status)))
			return e;
		if (*r->reader) {
			snprintf(r->slug, sizeof r->slug, "%s", f.slug);
			r->how = "Message-ID";
			return NL_OK;
		}
	}
	const char *const keys[] = {b->rcpt, b->text_addr, b->kind == NL_BOUNCE_UNSUBSCRIBE ? b->from : ""};
	const char *const hows[] = {"the recipient the report names", "address in the text", "sender"};
	for (size_t i = 0; i < NL_ARRAY_LEN(keys); i++) {
		if (*keys[i] && (e = find_row(cfg, keys[i], false, r->reader, &r->reader_status)))
			return e;
		if (*r->reader) {
			r->how = hows[i];
			return NL_OK;
		}
	}
	return NL_OK;
}

/* ---- the reader's history: the post it was about, and the soft-bounce count ---- */

struct history {
	const char *rcpt;
	const char *slug;	/* this bounce's post, "" if unknown */
	struct ev { double when; uint64_t slug; enum nl_event ev; } v[MAX_HISTORY];
	size_t n;
	char last_sent[256];	/* the post last sent to the reader */
};

static enum nl_err history_line(void *ctx, const struct nl_sendlog_entry *en)
{
	struct history *h = ctx;
	if (strcasecmp(en->rcpt, h->rcpt))
		return NL_OK;
	if (en->ev == NL_EV_SENT)
		snprintf(h->last_sent, sizeof h->last_sent, "%s", en->slug);
	if (en->ev != NL_EV_SENT && en->ev != NL_EV_SOFT_BOUNCED && en->ev != NL_EV_BOUNCED)
		return NL_OK;
	if (h->n == MAX_HISTORY)
		memmove(h->v, h->v + 1, (MAX_HISTORY - 1) * sizeof *h->v);
	else
		h->n++;
	h->v[h->n - 1] = (struct ev){en->when, nl_addr_hash(en->slug), en->ev};
	return NL_OK;
}

static bool bounced_post(const struct history *h, uint64_t slug)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].slug == slug && h->v[i].ev != NL_EV_SENT)
			return true;
	return false;
}

/*
 * Soft bounces within the window since the last good delivery, this one
 * included. A good delivery is a post sent that nothing came back for: a
 * post that later soft-bounced was no success, so it resets nothing.
 */
static unsigned soft_count(const struct history *h, double now, int days)
{
	uint64_t cur = nl_addr_hash(h->slug);
	double good = 0, since = now - (double)days * 86400;
	unsigned n = 1;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].ev == NL_EV_SENT && !(*h->slug && h->v[i].slug == cur) && !bounced_post(h, h->v[i].slug) &&
		    h->v[i].when > good)
			good = h->v[i].when;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].ev == NL_EV_SOFT_BOUNCED && h->v[i].when >= since && h->v[i].when > good)
			n++;
	return n;
}

/* ---- acting ---- */

static enum nl_err append_change(const struct nl_config *cfg, const char *email, enum nl_status st, time_t now)
{
	struct nl_buf path = NL_BUF_INIT;
	enum nl_err e = nl_changes_path(cfg->subscribers, &path);
	if (!e)
		e = nl_changes_append1(path.data, email, nl_status_name(st), now);
	nl_buf_free(&path);
	return e;
}

static enum nl_err set_status(struct nl_inbox *ib, struct nl_inbox_result *r, enum nl_status st)
{
	const struct nl_config *cfg = ib->o.cfg;
	enum nl_err e;
	/* A suppression is never lifted or changed by what comes back: already so. */
	if (ib->o.dry_run || r->reader_status == st || nl_status_suppressed(r->reader_status))
		return NL_OK;
	/*
	 * One line appended to the list's change file, which every reader of the
	 * list applies (a running send within a second) and the next rewrite
	 * folds in: not a rewrite of the whole list per message.
	 */
	if ((e = append_change(cfg, r->reader, st, ib->o.now)))
		return e;
	r->changed = true;
	r->reader_status = st;
	return NL_OK;
}

static enum nl_err record(struct nl_inbox *ib, const struct nl_inbox_result *r, enum nl_event ev)
{
	char detail[600];
	if (ib->o.dry_run)
		return NL_OK;
	snprintf(detail, sizeof detail, "%s%s%s (found by %s)", r->b.why, r->soft_count ? "; soft bounces: " : "",
		 r->soft_count ? (ev == NL_EV_BOUNCED ? "limit reached" : "counted") : "", r->how);
	return nl_sendlog_write(ib->log, *r->slug ? r->slug : NULL, r->reader, ev, 0,
				*r->b.msgid ? r->b.msgid : NULL, detail);
}

static enum nl_err soft(struct nl_inbox *ib, struct nl_inbox_result *r, struct history *h)
{
	const struct nl_inbox_config *ic = &ib->o.cfg->inbox;
	enum nl_err e;
	r->soft_count = soft_count(h, (double)ib->o.now, ic->soft_bounce_days);
	if (r->soft_count < (unsigned)ic->soft_bounce_limit) {
		r->out = NL_IN_SOFT;
		return record(ib, r, NL_EV_SOFT_BOUNCED);
	}
	r->out = NL_IN_BOUNCED;
	if ((e = set_status(ib, r, NL_STATUS_BOUNCED)))
		return e;
	return record(ib, r, NL_EV_BOUNCED);
}

static enum nl_err act(struct nl_inbox *ib, struct nl_inbox_result *r)
{
	static const struct {
		enum nl_inbox_outcome out;
		enum nl_status st;
		enum nl_event ev;
	} acts[] = {
		[NL_BOUNCE_HARD] = {NL_IN_BOUNCED, NL_STATUS_BOUNCED, NL_EV_BOUNCED},
		[NL_BOUNCE_COMPLAINT] = {NL_IN_COMPLAINED, NL_STATUS_COMPLAINED, NL_EV_COMPLAINED},
		[NL_BOUNCE_UNSUBSCRIBE] = {NL_IN_UNSUBSCRIBED, NL_STATUS_UNSUBSCRIBED, NL_EV_UNSUBSCRIBED},
	};
	struct history *h = calloc(1, sizeof *h);
	enum nl_err e;
	if (!h)
		return nl_errf(NL_ENOMEM, "out of memory");
	h->rcpt = r->reader;
	h->slug = r->slug;
	if ((e = nl_sendlog_each(ib->o.cfg->log, history_line, h)))
		goto out;
	if (!*r->slug)
		snprintf(r->slug, sizeof r->slug, "%s", h->last_sent);
	if (r->b.kind == NL_BOUNCE_SOFT) {
		e = soft(ib, r, h);
		goto out;
	}
	r->out = acts[r->b.kind].out;
	if (!(e = set_status(ib, r, acts[r->b.kind].st)))
		e = record(ib, r, acts[r->b.kind].ev);
out:
	free(h);
	return e;
}

enum nl_err nl_inbox_handle(struct nl_inbox *ib, const char *data, size_t len, const char *envelope_to,
			    struct nl_inbox_result *r)
{
	const struct nl_config *cfg = ib->o.cfg;
	struct nl_bounce_opts bo = {.bounce_address = cfg->bounce_address,
				    .unsubscribe_email = cfg->unsubscribe_email, .envelope_to = envelope_to};
	enum nl_err e;
	memset(r, 0, sizeof *r);
	r->how = "";
	if ((e = nl_bounce_classify(data, len, &bo, &r->b)))
		return e;
	switch (r->b.kind) {
	case NL_BOUNCE_UNKNOWN: r->out = NL_IN_UNKNOWN; return NL_OK;
	case NL_BOUNCE_AUTOREPLY: r->out = NL_IN_IGNORED; return NL_OK;
	default: break;
	}
	if ((e = find_reader(ib, r)))
		return e;
	if (!*r->reader) {
		r->out = NL_IN_UNMATCHED;
		return NL_OK;
	}
	return act(ib, r);
}

/* ---- during send ---- */

enum nl_err nl_inbox_relay_refused(const struct nl_config *cfg, struct nl_sendlog *log, const char *slug,
				   const char *rcpt, int code, const char *reply, bool *marked)
{
	const char *st = reply ? strstr(reply, "5.1.") : NULL;
	enum nl_err e;
	*marked = false;
	/* Only "no such mailbox / bad address" (5.1.x) says the address is dead; 5.7.x may be us. */
	if (code < 500 || code > 599 || !st || (st > reply && st[-1] != ' ' && st[-1] != '#'))
		return NL_OK;
	/* The send goes on without it: the refusal is in the log, the list is the one thing missed. */
	/* The reader was active when the send chose them: one appended line, no rewrite mid-send. */
	if ((e = append_change(cfg, rcpt, NL_STATUS_BOUNCED, time(NULL)))) {
		nl_warn("%s: refused with %d but not marked bounced: %s", rcpt, code, nl_errmsg());
		return NL_OK;
	}
	*marked = true;
	return nl_sendlog_write(log, slug, rcpt, NL_EV_BOUNCED, code, NULL, reply);
}
