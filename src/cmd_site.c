/* cmd_site.c - `newsletter site`: build the web archive, feed and sitemap from the posts folder. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "log.h"
#include "site.h"

static const char help[] =
	"usage: newsletter site [-o DIR]\n"
	"\n"
	"Writes the web archive to DIR (default: site.dir, else site/ beside the\n"
	"config): SLUG/index.html for every published post with its images beside\n"
	"it (where the messages link them), index.html (newest first, site.per_page\n"
	"to a page, then page/2/ ...), feed.xml (Atom), sitemap.xml and\n"
	"subscribe.html, from the templates page.html and index.html. A post is\n"
	"published once the send log has it sent (or being sent), and is not a\n"
	"draft; with site.include_unsent: true also when it is due but unsent.\n"
	"\n"
	"Only files whose bytes change are rewritten, each whole (temporary file,\n"
	"rename); a run that fails leaves the old site as it was. Files an earlier\n"
	"build wrote that the site no longer has are removed from DIR, and only\n"
	"from there. Upload DIR to base_url, without the .newsletter-site* files\n"
	"(the build's own notes), e.g. rsync -a --exclude '.newsletter-site*'.\n"
	"\n"
	"  -o, --output DIR   write the site here instead of site.dir\n";

int cmd_site(struct nl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	struct nl_config *cfg = NULL;
	struct nl_site_stats st;
	const char *dir = NULL;
	enum nl_err e;
	int c;
	if (nl_cmd_help(argc, argv, help))
		return 0;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c != 'o') {
			fputs(help, stderr);
			return nl_exit_status(NL_EUSAGE);
		}
		dir = optarg;
	}
	if (optind != argc) {
		fputs(help, stderr);
		return nl_exit_status(NL_EUSAGE);
	}
	if ((e = nl_cmd_config(cli, &cfg, false)))
		return nl_cmd_fail(e);
	nl_cmd_signals();
	struct nl_site_opts o = {.cfg = cfg, .dir = dir ? dir : cfg->site.dir, .now = time(NULL),
				 .interrupted = &nl_cmd_interrupted};
	e = nl_site_build(&o, &st);
	if (!e)
		printf("site: %zu post%s (%zu page%s kept unrendered); %zu file%s written, "
		       "%zu unchanged, %zu removed: %s\n",
		       st.posts, st.posts == 1 ? "" : "s", st.kept, st.kept == 1 ? "" : "s",
		       st.written, st.written == 1 ? "" : "s", st.unchanged, st.removed, o.dir);
	nl_config_free(cfg);
	return e ? nl_cmd_fail(e) : 0;
}
