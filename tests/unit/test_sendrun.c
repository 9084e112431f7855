/* test_sendrun.c - send planning: what the list, the post's audience and the log say a run will do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "post.h"
#include "sendlog.h"
#include "sendrun.h"
#include "t.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A list of nine rows: two valid active readers, then each way a row is left out. */
static const char *const list =
	"email,name,status,tier\n"
	"ada@example.test,Ada,active,paid\n"		/* sent before */
	"bob@example.test,Bob,,free\n"			/* failed before */
	"cy@example.test,Cy,active,paid\n"		/* intent only (a crash) */
	"dee@example.test,Dee,active,free\n"		/* doubt (final reply lost) */
	"eve@example.test,Eve,active,paid\n"		/* deferred before */
	"fay@example.test,Fay,active,free\n"		/* never tried */
	"ADA@example.test,Ada again,active,paid\n"	/* duplicate */
	"gus@example.test,Gus,active,free\n"		/* suppressed below under another spelling */
	"not-an-address,X,active,paid\n"		/* invalid */
	"hal@example.test,Hal,pending,paid\n"		/* not active */
	"GUS@EXAMPLE.test,Gus,unsubscribed,free\n";

static void write_log(void)
{
	char path[256];
	struct nl_sendlog *l = NULL;
	snprintf(path, sizeof path, "%s/sends.log", dir);
	T_CHECK(nl_sendlog_open(path, "test", &l) == NL_OK);
	if (!l)
		return;
	T_CHECK(nl_sendlog_write(l, "p", "ada@example.test", NL_EV_INTENT, 0, "m1@x", NULL) == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", "ada@example.test", NL_EV_SENT, 250, "m1@x", "ok") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", "bob@example.test", NL_EV_FAILED, 550, "m2@x", "no such user") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", "cy@example.test", NL_EV_INTENT, 0, "m3@x", NULL) == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", "dee@example.test", NL_EV_DOUBT, 0, "m4@x", "no reply") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "p", "eve@example.test", NL_EV_DEFERRED, 451, "m5@x", "later") == NL_OK);
	T_CHECK(nl_sendlog_close(l) == NL_OK);
}

static struct nl_send_plan plan(const char *post_name, struct nl_send_opts o)
{
	char path[256];
	struct nl_config *cfg = NULL;
	struct nl_post *post = NULL;
	struct nl_sendrun *r = NULL;
	struct nl_send_plan p;
	memset(&p, 0xff, sizeof p); /* nonsense unless filled */
	snprintf(path, sizeof path, "%s/config.yml", dir);
	T_CHECK(nl_config_load(path, &cfg) == NL_OK);
	snprintf(path, sizeof path, "%s/%s", dir, post_name);
	T_CHECK(nl_post_load(path, &post) == NL_OK);
	if (cfg && post) {
		o.cfg = cfg;
		o.post = post;
		enum nl_err e = nl_sendrun_open(&o, &r);
		T_CHECK(e == NL_OK);
		if (e)
			fprintf(stderr, "%s\n", nl_errmsg());
		if (r)
			p = *nl_sendrun_plan(r);
		T_CHECK(nl_sendrun_close(r) == NL_OK);
	}
	nl_post_free(post);
	nl_config_free(cfg);
	return p;
}

static void test_default_plan(void)
{
	struct nl_send_plan p = plan("p.md", (struct nl_send_opts){0});
	T_CHECK(p.rows == 11);
	T_CHECK(p.active == 6);		/* ada bob cy dee eve fay */
	T_CHECK(p.duplicates == 1 && p.invalid == 1);
	T_CHECK(p.inactive == 3);	/* hal (pending), gus (suppressed by another spelling), GUS itself */
	T_CHECK(p.already_sent == 1 && p.failed_skipped == 1 && p.doubt == 1);
	T_CHECK(p.in_doubt == 1 && p.deferred == 1);
	T_CHECK(p.pending == 3);	/* cy (resent after a crash), eve (deferred), fay (new) */
	T_CHECK(p.audience == NULL && p.outside_audience == 0);
}

static void test_flags(void)
{
	struct nl_send_plan p = plan("p.md", (struct nl_send_opts){.retry_failed = true});
	T_CHECK(p.pending == 4 && p.failed_skipped == 0);
	p = plan("p.md", (struct nl_send_opts){.skip_in_doubt = true});
	T_CHECK(p.pending == 2 && p.in_doubt == 1);
	p = plan("p.md", (struct nl_send_opts){.retry_in_doubt = true});
	T_CHECK(p.pending == 4);
	p = plan("p.md", (struct nl_send_opts){.resend = true});
	T_CHECK(p.pending == 6 && p.already_sent == 0);
	p = plan("p.md", (struct nl_send_opts){.limit = 2});
	T_CHECK(p.pending == 2);
	p = plan("p.md", (struct nl_send_opts){.test_to = "proof@example.test"});
	T_CHECK(p.pending == 1);
}

static void test_audience(void)
{
	struct nl_send_plan p = plan("paid.md", (struct nl_send_opts){0});
	T_CHECK(p.audience != NULL);
	T_CHECK(p.active == 3);		/* ada cy eve */
	T_CHECK(p.outside_audience == 3);	/* bob dee fay */
	T_CHECK(p.pending == 2);	/* cy eve */
}

int main(void)
{
	char cfg[512];
	snprintf(dir, sizeof dir, "/tmp/nl-sendrun-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(cfg, sizeof cfg,
		 "from: T <t@example.test>\nsubscribers: %s/list.csv\nlog: %s/sends.log\n"
		 "smtp:\n  url: smtp://127.0.0.1:9\n", dir, dir);
	put("config.yml", cfg);
	put("list.csv", list);
	put("p.md", "---\ntitle: P\nslug: p\n---\nHi.\n");
	put("paid.md", "---\ntitle: P\nslug: p\naudience: {tier: paid}\n---\nHi.\n");
	write_log();
	test_default_plan();
	test_flags();
	test_audience();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return t_done();
}
