/* schedule.c - which posts cron sends, and when: the posts folder, backoff, max_age. */
#include "schedule.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrmap.h"
#include "buf.h"
#include "recipients.h"
#include "subscriber.h"

#define DAY 86400
#define MAX_DEPTH 8			/* folders under posts/: Hugo bundles, years, months */

/* ---- the decision ---- */

long nl_backoff_delay(unsigned stops)
{
	static const long steps[] = {5 * 60, 15 * 60, 60 * 60};
	if (!stops)
		return 0;
	return steps[stops > NL_ARRAY_LEN(steps) ? NL_ARRAY_LEN(steps) - 1 : stops - 1];
}

const char *nl_when_name(enum nl_when w)
{
	static const char *const names[] = {
		[NL_WHEN_ERROR] = "error",	[NL_WHEN_DRAFT] = "draft",
		[NL_WHEN_UNDATED] = "undated",	[NL_WHEN_LATER] = "scheduled",
		[NL_WHEN_DUE] = "due",		[NL_WHEN_RESUME] = "sending",
		[NL_WHEN_BACKOFF] = "waiting",	[NL_WHEN_TOO_OLD] = "too old",
		[NL_WHEN_GIVEN_UP] = "given up", [NL_WHEN_DONE] = "sent",
	};
	return (unsigned)w < NL_ARRAY_LEN(names) ? names[w] : "?";
}

enum nl_when nl_schedule_decide(const struct nl_due_facts *f, time_t *retry_at)
{
	const struct nl_campaign_log *log = f->log;
	*retry_at = 0;
	if (f->draft)
		return NL_WHEN_DRAFT;
	if (log && log->done)
		return NL_WHEN_DONE;
	if (f->due == (time_t)-1)
		return NL_WHEN_UNDATED;
	if (f->due > f->now)
		return NL_WHEN_LATER;
	/* Age counts from the due time for a post never tried, from the first try for one that keeps failing. */
	if (!log || !log->started)
		return !f->include_old && f->now - f->due > f->max_age ? NL_WHEN_TOO_OLD : NL_WHEN_DUE;
	if (!log->stops)
		return NL_WHEN_RESUME;
	if (!f->include_old && f->now - (time_t)log->started > f->max_age)
		return NL_WHEN_GIVEN_UP;
	*retry_at = (time_t)log->last_stop + nl_backoff_delay(log->stops);
	return f->now < *retry_at ? NL_WHEN_BACKOFF : NL_WHEN_RESUME;
}

bool nl_schedule_unreported(const struct nl_sched_post *p)
{
	if (p->when == NL_WHEN_TOO_OLD)
		return !p->log || !p->log->skipped;
	if (p->when == NL_WHEN_GIVEN_UP)
		return p->log->skipped < p->log->last_stop;
	return false;
}

/* ---- the posts folder ---- */

struct paths {
	char **v;
	size_t n, cap;
};

static bool is_markdown(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && dot != name && (!strcmp(dot, ".md") || !strcmp(dot, ".markdown"));
}

static enum nl_err add_path(struct paths *ps, char *path)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 32;
		char **v = realloc(ps->v, cap * sizeof *v);
		if (!v) {
			free(path);
			return nl_errf(NL_ENOMEM, "out of memory");
		}
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n++] = path;
	return NL_OK;
}

static enum nl_err walk(const char *dir, int depth, struct paths *ps);

/* One folder entry: a Markdown file to list, a folder to go into, or nothing. */
static enum nl_err walk_entry(const char *dir, const char *name, int depth, struct paths *ps)
{
	struct nl_buf b = NL_BUF_INIT;
	struct stat st;
	enum nl_err e = NL_OK;
	if (name[0] == '.' || name[0] == '_') /* hidden, Jekyll's _drafts, Hugo's _index.md */
		return NL_OK;
	nl_buf_addf(&b, "%s/%s", dir, name);
	if ((e = nl_buf_err(&b)))
		goto out;
	if (stat(b.data, &st)) /* a dangling link is no post */
		goto out;
	if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH)
		e = walk(b.data, depth + 1, ps);
	else if (S_ISREG(st.st_mode) && is_markdown(name))
		return add_path(ps, nl_buf_detach(&b, NULL));
out:
	nl_buf_free(&b);
	return e;
}

static enum nl_err walk(const char *dir, int depth, struct paths *ps)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	enum nl_err e = NL_OK;
	if (!d)
		return nl_errf(NL_ENOINPUT, "%s: cannot open the posts folder: %s (config 'posts')", dir,
			       strerror(errno));
	while (!e && (de = readdir(d)))
		e = walk_entry(dir, de->d_name, depth, ps);
	closedir(d);
	return e;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A README.md or notes next to the posts have no front matter: they are not posts. */
static bool has_front_matter(const char *path)
{
	char head[8] = {0};
	FILE *f = fopen(path, "rb");
	size_t n, i = 0;
	if (!f)
		return true; /* let loading say why it cannot be read */
	n = fread(head, 1, sizeof head, f);
	fclose(f);
	if (n >= 3 && !memcmp(head, "\xEF\xBB\xBF", 3))
		i = 3;
	return n >= i + 4 && !memcmp(head + i, "---", 3) && strchr("\r\n \t", head[i + 3]);
}

static time_t due_of(const struct nl_config *cfg, const struct nl_post *p)
{
	bool at = p->send_at != (time_t)-1;
	time_t t = at ? p->send_at : p->date;
	if (t == (time_t)-1)
		return t;
	return (at ? p->send_at_has_offset : p->date_has_offset) ? t : nl_tz_from_wall(nl_tz_get(cfg->tz), t);
}

static enum nl_err load_one(const struct nl_config *cfg, struct nl_sched_post *sp)
{
	sp->due = (time_t)-1;
	if (nl_post_load(sp->path, &sp->post) == NL_OK) {
		sp->due = due_of(cfg, sp->post);
		return NL_OK;
	}
	if (!(sp->error = strdup(nl_errmsg())))
		return nl_errf(NL_ENOMEM, "out of memory");
	sp->when = NL_WHEN_ERROR;
	return NL_OK;
}

static enum nl_err load_posts(const struct nl_config *cfg, struct paths *ps, struct nl_schedule *s)
{
	enum nl_err e = NL_OK;
	if (ps->n && !(s->posts = calloc(ps->n, sizeof *s->posts)))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < ps->n && !e; i++) {
		char *path = ps->v[i];
		ps->v[i] = NULL; /* ours now, or gone */
		if (!has_front_matter(path)) {
			free(path);
			continue;
		}
		struct nl_sched_post *sp = &s->posts[s->n++];
		sp->path = path;
		e = load_one(cfg, sp);
	}
	return e;
}

static int cmp_slug(const void *a, const void *b)
{
	const struct nl_sched_post *x = *(struct nl_sched_post *const *)a;
	const struct nl_sched_post *y = *(struct nl_sched_post *const *)b;
	int c = strcmp(x->post->slug, y->post->slug);
	return c ? c : strcmp(x->path, y->path);
}

static enum nl_err shared_slug(struct nl_sched_post *p, const struct nl_sched_post *other)
{
	struct nl_buf b = NL_BUF_INIT;
	if (p->error)
		return NL_OK;
	nl_buf_addf(&b, "%s: slug '%s' is also the slug of %s, and the log tells posts apart by slug:"
		    " give one of them its own 'slug' in the front matter", p->path, p->post->slug,
		    other->path);
	p->when = NL_WHEN_ERROR;
	p->error = nl_buf_detach(&b, NULL);
	return p->error ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

/* Two posts with one slug would share one record of who has what: send neither. */
static enum nl_err check_slugs(struct nl_schedule *s)
{
	struct nl_sched_post **v = calloc(s->n + 1, sizeof *v);
	size_t n = 0;
	enum nl_err e = NL_OK;
	if (!v)
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n; i++)
		if (s->posts[i].post)
			v[n++] = &s->posts[i];
	qsort(v, n, sizeof *v, cmp_slug);
	for (size_t i = 1; i < n && !e; i++)
		if (!strcmp(v[i - 1]->post->slug, v[i]->post->slug))
			if (!(e = shared_slug(v[i - 1], v[i])))
				e = shared_slug(v[i], v[i - 1]);
	free(v);
	return e;
}

static const struct nl_campaign_log *log_for(const struct nl_schedule *s, const char *slug)
{
	for (size_t i = 0; i < s->nlogs; i++)
		if (!strcmp(s->logs[i].slug, slug))
			return &s->logs[i];
	return NULL;
}

static void decide_all(const struct nl_schedule_opts *o, struct nl_schedule *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct nl_sched_post *sp = &s->posts[i];
		if (sp->error)
			continue;
		sp->log = log_for(s, sp->post->slug);
		struct nl_due_facts f = {.draft = sp->post->draft, .due = sp->due, .now = o->now,
					 .max_age = o->cfg->max_age, .include_old = o->include_old,
					 .log = sp->log};
		sp->when = nl_schedule_decide(&f, &sp->retry_at);
	}
}

/* Dated posts by due time, then undated ones, then the unreadable; ties by path. */
static int cmp_due(const void *a, const void *b)
{
	const struct nl_sched_post *x = a, *y = b;
	int rx = x->error ? 2 : x->due == (time_t)-1, ry = y->error ? 2 : y->due == (time_t)-1;
	if (rx != ry)
		return rx - ry;
	if (!rx && x->due != y->due)
		return x->due < y->due ? -1 : 1;
	return strcmp(x->path, y->path);
}

enum nl_err nl_schedule_load(const struct nl_schedule_opts *o, struct nl_schedule *out)
{
	struct paths ps = {0};
	enum nl_err e;
	memset(out, 0, sizeof *out);
	if ((e = walk(o->cfg->posts, 0, &ps)))
		goto out;
	qsort(ps.v, ps.n, sizeof *ps.v, cmp_str);
	if ((e = load_posts(o->cfg, &ps, out)) || (e = check_slugs(out)) ||
	    (e = nl_sendlog_campaigns(o->cfg->log, &out->logs, &out->nlogs)))
		goto out;
	decide_all(o, out);
	if (out->n)
		qsort(out->posts, out->n, sizeof *out->posts, cmp_due);
out:
	for (size_t i = 0; i < ps.n; i++)
		free(ps.v[i]);
	free(ps.v);
	if (e)
		nl_schedule_free(out);
	return e;
}

void nl_schedule_free(struct nl_schedule *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->posts[i].path);
		free(s->posts[i].error);
		nl_post_free(s->posts[i].post);
	}
	free(s->posts);
	nl_campaign_logs_free(s->logs, s->nlogs);
	memset(s, 0, sizeof *s);
}

/* ---- progress ---- */

enum nl_err nl_schedule_progress(const struct nl_config *cfg, const struct nl_post *post, bool with_list,
				 struct nl_progress *out)
{
	struct nl_sendstate st;
	enum nl_err e = nl_sendlog_scan(cfg->log, post->slug, &st);
	memset(out, 0, sizeof *out);
	if (e)
		return e;
	out->sent = st.sent;
	out->failed = st.failed;
	out->deferred = st.deferred;
	out->in_doubt = st.in_doubt;
	if (with_list) {
		size_t by[NL_EV_COUNTED] = {0};
		struct nl_recipients_opts ro = {.path = cfg->subscribers, .post = post, .state = &st.last};
		e = nl_recipients_count(&ro, by);
		out->left = by[NL_EV_NONE] + by[NL_EV_INTENT] + by[NL_EV_DEFERRED];
	}
	nl_sendstate_free(&st);
	return e;
}
