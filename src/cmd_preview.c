/* cmd_preview.c - `newsletter preview`: the HTML, text and whole message for one sample reader. */
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

static const char help[] =
	"usage: newsletter preview POST.md [-o DIR] [--subscribers FILE]\n"
	"\n"
	"Writes DIR/SLUG.html (the HTML part, images shown from local files),\n"
	"DIR/SLUG.txt (the plain-text part) and DIR/SLUG.eml (the whole message\n"
	"for the first active subscriber, or a sample reader) and prints their\n"
	"paths. Drafts can be previewed. DIR defaults to out/. The HTML part's size\n"
	"goes to stderr, with a warning when Gmail would clip it (above 102 KB).\n";

/* The first recipient of the post on the list, else a sample reader (no list yet, or nobody on it). */
struct sample {
	struct nl_recipients *rcpts;
	struct nl_sub row;
	const char *f[NL_LIST_MAX_COLS];
};

static enum nl_err sample_reader(const struct nl_config *cfg, const struct nl_post *post,
				 struct sample *s, const struct nl_sub **row)
{
	struct nl_recipients_opts ro = {.path = cfg->subscribers, .secret = cfg->secret,
					.list_id = cfg->list_id, .post = post, .missing_ok = true};
	struct nl_recipient rc;
	bool eof = false;
	enum nl_err e = nl_recipients_open(&ro, &s->rcpts);
	while (!e && !(e = nl_recipients_next(s->rcpts, &rc, &eof)) && !eof)
		if (rc.skip == NL_SKIP_NONE) {
			*row = rc.row;
			return NL_OK;
		}
	nl_sub_init(&s->row, s->f, s->rcpts ? nl_list_ncols(nl_recipients_list(s->rcpts)) : NL_COL_FIXED,
		    "reader@example.com", "Sample Reader");
	*row = &s->row;
	return e;
}

static enum nl_err write_file(const char *dir, const char *slug, const char *ext,
			      const struct nl_buf *b)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.%s", dir, slug, ext);
	enum nl_err e = nl_write_atomic(path, b->data, b->len);
	if (!e)
		printf("%s\n", path);
	return e;
}

static enum nl_err preview(struct nl_config *cfg, struct nl_post *post, const char *dir)
{
	struct sample smp = {0};
	const struct nl_sub *row = NULL;
	struct nl_campaign *local = NULL, *mail = NULL;
	struct nl_message *m = NULL;
	struct nl_buf html = NL_BUF_INIT, text = NL_BUF_INIT, eml = NL_BUF_INIT;
	struct nl_campaign_opts o = {.cfg = cfg, .post = post, .now = time(NULL)};
	enum nl_err e = sample_reader(cfg, post, &smp, &row);
	o.list = smp.rcpts ? nl_recipients_list(smp.rcpts) : NULL;
	if (e)
		goto out;
	o.local_images = true;
	if ((e = nl_campaign_new(&o, &local)))
		goto out;
	o.local_images = false;
	if ((e = nl_campaign_new(&o, &mail)))
		goto out;
	/* stderr: stdout lists the files written, for scripts */
	nl_cmd_html_report(mail, post->path, stderr, false);
	if (!(m = nl_message_new())) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto out;
	}
	nl_campaign_bodies(local, row, &html, &text);
	/* The .eml is what a send would give the relay: the same last step. */
	if ((e = nl_campaign_message(mail, row, m)) || (e = nl_message_finalize(m, &eml, NULL, 0)) ||
	    (e = nl_buf_err(&html)) ||
	    (e = nl_buf_err(&text)) || (e = nl_mkdirs(dir)))
		goto out;
	if ((e = write_file(dir, post->slug, "html", &html)) ||
	    (e = write_file(dir, post->slug, "txt", &text)) ||
	    (e = write_file(dir, post->slug, "eml", &eml)))
		goto out;
out:
	nl_message_free(m);
	nl_campaign_free(local);
	nl_campaign_free(mail);
	nl_recipients_close(smp.rcpts);
	nl_buf_free(&html);
	nl_buf_free(&text);
	nl_buf_free(&eml);
	return e;
}

int cmd_preview(struct nl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"subscribers", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = "out", *subscribers = NULL;
	struct nl_config *cfg = NULL;
	struct nl_post *post = NULL;
	enum nl_err e;
	int c;
	if (nl_cmd_help(argc, argv, help))
		return 0;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': dir = optarg; break;
		case 's': subscribers = optarg; break;
		default: fputs(help, stderr); return nl_exit_status(NL_EUSAGE);
		}
	}
	if (optind != argc - 1) {
		fputs(help, stderr);
		return nl_exit_status(NL_EUSAGE);
	}
	if (!(e = nl_cmd_config(cli, &cfg, false)) &&
	    !(e = subscribers ? nl_config_set(&cfg->subscribers, subscribers) : NL_OK) &&
	    !(e = nl_cmd_post(argv[optind], false, &post)))
		e = preview(cfg, post, dir);
	nl_post_free(post);
	nl_config_free(cfg);
	return e ? nl_cmd_fail(e) : 0;
}
