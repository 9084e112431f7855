/* test_schedule.c - unit tests: the backoff, cron's decision, the posts folder, campaign events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fsutil.h"
#include "post.h"
#include "schedule.h"
#include "sendlog.h"
#include "t.h"

static char dir[] = "/tmp/nl-schedule-XXXXXX";

/* Seconds for a UTC (or wall-clock) time. */
static time_t at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = s};
	return timegm(&tm);
}

static char *path_in(const char *name)
{
	struct nl_buf b = NL_BUF_INIT;
	nl_buf_addf(&b, "%s/%s", dir, name);
	return nl_buf_detach(&b, NULL);
}

static void spit(const char *name, const char *text)
{
	char *p = path_in(name);
	char *slash = strrchr(p, '/');
	*slash = 0;
	nl_mkdirs(p);
	*slash = '/';
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	free(p);
}

static void test_backoff(void)
{
	T_CHECK(nl_backoff_delay(0) == 0);
	T_CHECK(nl_backoff_delay(1) == 300);
	T_CHECK(nl_backoff_delay(2) == 900);
	T_CHECK(nl_backoff_delay(3) == 3600);
	T_CHECK(nl_backoff_delay(50) == 3600);
}

static void test_decide(void)
{
	const time_t now = at(2026, 3, 29, 12, 0, 0), day = 86400, week = 7 * day;
	struct nl_campaign_log started = {.started = (double)(now - 3600)};
	struct nl_campaign_log done = {.started = (double)(now - 3600), .done = (double)(now - 60)};
	struct nl_campaign_log stopped = {.started = (double)(now - 3600), .stops = 2,
					  .last_stop = (double)(now - 600)};
	struct nl_campaign_log stopped_old = {.started = (double)(now - 8 * day), .stops = 3,
					      .last_stop = (double)(now - 7200)};
	struct nl_campaign_log tests_only = {0}; /* the log knows the post from proof copies only */
	static const char *const names[] = {"error", "draft", "undated", "scheduled", "due", "sending",
					    "waiting", "too old", "given up", "sent"};
	const struct {
		bool draft;
		time_t due;
		bool include_old;
		const struct nl_campaign_log *log;
		enum nl_when want;
		time_t retry_at;
	} cases[] = {
		{true, now - day, false, NULL, NL_WHEN_DRAFT, 0},
		{true, now - day, true, &done, NL_WHEN_DRAFT, 0},
		{false, (time_t)-1, false, NULL, NL_WHEN_UNDATED, 0},
		{false, now + 1, false, NULL, NL_WHEN_LATER, 0},
		{false, now, false, NULL, NL_WHEN_DUE, 0},		/* at its time exactly */
		{false, now - day, false, &tests_only, NL_WHEN_DUE, 0},
		{false, now - week, false, NULL, NL_WHEN_DUE, 0},	/* max_age itself is not too old */
		{false, now - week - 1, false, NULL, NL_WHEN_TOO_OLD, 0},
		{false, now - week - 1, true, NULL, NL_WHEN_DUE, 0},
		{false, now - 30 * day, false, &started, NL_WHEN_RESUME, 0}, /* started: resumed, however old */
		{false, now - day, false, &done, NL_WHEN_DONE, 0},
		{false, now + day, false, &done, NL_WHEN_DONE, 0},	/* sent by hand before its date */
		{false, now - day, false, &stopped, NL_WHEN_BACKOFF, now - 600 + 900},
		{false, now - 30 * day, false, &stopped_old, NL_WHEN_GIVEN_UP, 0},
		{false, now - 30 * day, true, &stopped_old, NL_WHEN_RESUME, now - 7200 + 3600},
	};
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		struct nl_due_facts f = {.draft = cases[i].draft, .due = cases[i].due, .now = now,
					 .max_age = week, .include_old = cases[i].include_old,
					 .log = cases[i].log};
		time_t retry = -5;
		enum nl_when w = nl_schedule_decide(&f, &retry);
		if (w != cases[i].want)
			printf("  case %zu: %s, expected %s\n", i, names[w], names[cases[i].want]);
		T_CHECK(w == cases[i].want);
		T_CHECK(retry == cases[i].retry_at);
	}
	/* The backoff ends: 5 minutes after one stop, not a second before. */
	struct nl_campaign_log one = {.started = (double)(now - 300), .stops = 1, .last_stop = (double)(now - 299)};
	struct nl_due_facts f = {.due = now - day, .now = now, .max_age = week, .log = &one};
	time_t retry;
	T_CHECK(nl_schedule_decide(&f, &retry) == NL_WHEN_BACKOFF && retry == now + 1);
	one.last_stop = (double)(now - 300);
	T_CHECK(nl_schedule_decide(&f, &retry) == NL_WHEN_RESUME);
}

static const char campaign_log[] =
	"2026-03-29T07:00:00.000Z\ta\tx@e.org\tintent\t-\tm1@e\t-\n"
	"2026-03-29T07:00:01.000Z\ta\t-\tstopped\t-\t-\tsmtp://h: 535 no\\tway\n"
	"2026-03-29T07:05:01.000Z\ta\t-\tstopped\t-\t-\tagain\n"
	"2026-03-29T07:06:00.000Z\tb\t-\tskipped\t-\t-\ttoo old\n"
	"2026-03-29T07:10:00.000Z\ta\tx@e.org\tsent\t250\tm1@e\t250 ok\n"
	"2026-03-29T07:11:00.000Z\ta\t-\tstopped\t-\t-\tthird\n"
	"2026-03-29T07:12:00.000Z\tc\ty@e.org\ttest\t250\tm2@e\t250 ok\n"
	"2026-03-29T07:13:00.000Z\td\ty@e.org\tintent\t-\tm3@e\t-\n"
	"2026-03-29T07:13:01.000Z\td\ty@e.org\tsent\t250\tm3@e\t250 ok\n"
	"2026-03-29T07:13:02.000Z\td\t-\tdone\t-\t-\t1 sent, 0 failed\n"
	"2026-03-29T07:14:00.000Z\td\t-\tsent\t250\t-\t-\n"; /* a recipient's event needs one */

static const struct nl_campaign_log *find(const struct nl_campaign_log *v, size_t n, const char *slug)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].slug, slug))
			return &v[i];
	return NULL;
}

/* Run f with stderr going to a file; what it wrote there, malloc'd. */
static char *capture_stderr(void (*f)(void *), void *arg)
{
	char *errpath = path_in("stderr.txt");
	int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct nl_buf b = NL_BUF_INIT;
	char chunk[4096];
	size_t k;
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	f(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *in = fopen(errpath, "r");
	while (in && (k = fread(chunk, 1, sizeof chunk, in)) > 0)
		nl_buf_add(&b, chunk, k);
	if (in)
		fclose(in);
	unlink(errpath);
	free(errpath);
	return nl_buf_detach(&b, NULL);
}

struct campaigns_call {
	const char *path;
	struct nl_campaign_log *v;
	size_t n;
	enum nl_err r;
};

static void call_campaigns(void *arg)
{
	struct campaigns_call *c = arg;
	c->r = nl_sendlog_campaigns(c->path, &c->v, &c->n);
}

static void test_campaign_events(void)
{
	char *path = path_in("campaign.log");
	struct campaigns_call call = {.path = path};
	struct nl_campaign_log *v = NULL;
	struct nl_sendstate st;
	size_t n = 0;
	spit("campaign.log", campaign_log);
	/* Understood, not warned about: only the last line, a recipient's event without one, is. */
	char *warned = capture_stderr(call_campaigns, &call);
	v = call.v;
	n = call.n;
	T_CHECK(call.r == NL_OK && n == 4);
	T_CHECK(warned && strstr(warned, "campaign.log:11: malformed line (no recipient)") != NULL);
	T_CHECK(warned && strchr(warned, '\n') == strrchr(warned, '\n')); /* one line */
	free(warned);
	const struct nl_campaign_log *a = find(v, n, "a"), *b = find(v, n, "b"), *c = find(v, n, "c"),
				     *d = find(v, n, "d");
	T_CHECK(a && a->started == (double)at(2026, 3, 29, 7, 0, 0) && !a->done && !a->skipped);
	T_CHECK(a && a->stops == 1 && a->last_stop == (double)at(2026, 3, 29, 7, 11, 0)); /* a sent reset it */
	T_STREQ(a ? a->stop_detail : NULL, "third");
	T_CHECK(b && b->skipped == (double)at(2026, 3, 29, 7, 6, 0) && !b->started && !b->stops);
	T_CHECK(c && !c->started && !c->done); /* proof copies do not start a campaign */
	T_CHECK(d && d->done == (double)at(2026, 3, 29, 7, 13, 2) && d->started && !d->stops);
	nl_campaign_logs_free(v, n);
	/* The recipients' view ignores campaign lines. */
	T_CHECK(nl_sendlog_scan(path, "a", &st) == NL_OK && st.sent == 1 && st.last.m.n == 1);
	nl_sendstate_free(&st);
	char *missing = path_in("missing.log");
	T_CHECK(nl_sendlog_campaigns(missing, &v, &n) == NL_OK && n == 0 && !v);
	free(missing);
	unlink(path);
	free(path);
}

/* Campaign events are written with "-" for the recipient, at the pretended time. */
static void test_write_campaign_event(void)
{
	char *path = path_in("write.log"), line[256] = "";
	struct nl_sendlog *l = NULL;
	nl_sendlog_pretend_now(at(2030, 1, 2, 3, 4, 5));
	T_CHECK(nl_sendlog_open(path, NULL, &l) == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", NULL, NL_EV_DONE, 0, NULL, "3 sent, 0 failed") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", NULL, NL_EV_SOFT_BOUNCED + 1, 0, NULL, NULL) == NL_EINTERNAL);
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	nl_sendlog_pretend_now(0);
	FILE *f = fopen(path, "r");
	T_CHECK(f && fgets(line, sizeof line, f));
	if (f)
		fclose(f);
	T_CHECK(!strncmp(line, "2030-01-02T03:04:05.", 20)); /* to the millisecond, not just the second */
	T_CHECK(strstr(line, "Z\tp\t-\tdone\t-\t-\t3 sent, 0 failed\n") != NULL);
	T_STREQ(nl_event_name(NL_EV_STOPPED), "stopped");
	T_CHECK(nl_event_is_campaign(NL_EV_SKIPPED) && !nl_event_is_campaign(NL_EV_SENT));
	unlink(path);
	free(path);
}

static void test_posts_folder(void)
{
	char *cfgpath = path_in("config.yml");
	struct nl_config *cfg = NULL;
	struct nl_schedule s;
	spit("config.yml", "timezone: Europe/Berlin\nmax_age: 36h\nlog: sends.log\n");
	spit("posts/late.md", "---\ntitle: Late\nsend_at: 2026-03-29T09:00:00\n---\nx\n");
	spit("posts/early.md", "---\ntitle: Early\ndate: 2026-03-28T09:00:00Z\n---\nx\n");
	spit("posts/2026/bundle/index.markdown", "---\ntitle: Bundle\nslug: bundle\ndate: 2026-03-28T12:00:00+01:00\n---\nx\n");
	spit("posts/draft.md", "---\ntitle: D\ndraft: true\ndate: 2026-03-01\n---\nx\n");
	spit("posts/old.md", "---\ntitle: Old\ndate: 2026-03-27T19:00:00Z\n---\nx\n");
	spit("posts/nodate.md", "---\ntitle: N\n---\nx\n");
	spit("posts/broken.md", "---\ntitle: B\nsend_at: soon\n---\nx\n");
	spit("posts/twin1.md", "---\ntitle: T1\nslug: twin\ndate: 2026-03-28\n---\nx\n");
	spit("posts/twin2.md", "---\ntitle: T2\nslug: twin\ndate: 2026-03-28\n---\nx\n");
	spit("posts/README.md", "# not a post\n");
	spit("posts/_index.md", "---\ntitle: Section\ndate: 2026-03-28\n---\n");
	spit("posts/.hidden.md", "---\ntitle: H\ndate: 2026-03-28\n---\n");
	spit("posts/notes.txt", "---\ntitle: txt\ndate: 2026-03-28\n---\n");
	T_CHECK(nl_config_load(cfgpath, &cfg) == NL_OK);
	if (!cfg)
		return;
	T_CHECK(cfg->max_age == 36 * 3600);
	struct nl_schedule_opts o = {.cfg = cfg, .now = at(2026, 3, 29, 7, 30, 0)};
	T_CHECK(nl_schedule_load(&o, &s) == NL_OK);
	static const struct {
		const char *name;
		enum nl_when when;
		time_t due;
	} want[] = {
		/* By due time, then undated, then those that cannot be sent; a draft keeps its place. */
		{"posts/draft.md", NL_WHEN_DRAFT, 1772319600},			/* 2026-03-01 00:00 CET */
		{"posts/old.md", NL_WHEN_TOO_OLD, 1774638000},			/* 36.5 hours before now */
		{"posts/early.md", NL_WHEN_DUE, 1774688400},
		{"posts/2026/bundle/index.markdown", NL_WHEN_DUE, 1774695600},	/* in a subfolder */
		{"posts/late.md", NL_WHEN_DUE, 1774767600},			/* 09:00 CEST = 07:00Z */
		{"posts/nodate.md", NL_WHEN_UNDATED, -1},
		{"posts/broken.md", NL_WHEN_ERROR, -1},
		{"posts/twin1.md", NL_WHEN_ERROR, 1774652400},
		{"posts/twin2.md", NL_WHEN_ERROR, 1774652400},
	};
	T_CHECK(s.n == NL_ARRAY_LEN(want));
	for (size_t i = 0; i < s.n && i < NL_ARRAY_LEN(want); i++) {
		const struct nl_sched_post *p = &s.posts[i];
		const char *name = p->path + strlen(dir) + 1;
		if (strcmp(name, want[i].name) || p->when != want[i].when || p->due != want[i].due)
			printf("  %zu: %s %s %lld\n", i, name, nl_when_name(p->when), (long long)p->due);
		T_STREQ(name, want[i].name);
		T_CHECK(p->when == want[i].when);
		T_CHECK(p->due == want[i].due);
	}
	if (s.n == NL_ARRAY_LEN(want)) {
		T_CHECK(strstr(s.posts[6].error, "broken.md:3:10: front matter: send_at 'soon'") != NULL);
		T_CHECK(strstr(s.posts[7].error, "slug 'twin' is also the slug of ") != NULL);
		T_CHECK(strstr(s.posts[7].error, "twin2.md") != NULL && strstr(s.posts[8].error, "twin1.md") != NULL);
		T_CHECK(!s.posts[0].log);
	}
	nl_schedule_free(&s);
	/* A missing folder is an error naming it and the setting. */
	spit("config.yml", "posts: nowhere\n");
	nl_config_free(cfg);
	T_CHECK(nl_config_load(cfgpath, &cfg) == NL_OK);
	o.cfg = cfg;
	T_CHECK(nl_schedule_load(&o, &s) == NL_ENOINPUT && s.n == 0);
	T_CHECK(strstr(nl_errmsg(), "nowhere: cannot open the posts folder") != NULL);
	T_CHECK(strstr(nl_errmsg(), "config 'posts'") != NULL);
	nl_schedule_free(&s);
	nl_config_free(cfg);
	free(cfgpath);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_backoff();
	test_decide();
	test_campaign_events();
	test_write_campaign_event();
	test_posts_folder();
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		printf("could not remove %s\n", dir);
	return t_done();
}
