/* site.h - the web archive: a page per published post, an index, Atom feed and sitemap, from the mail's render. */
#ifndef NL_SITE_H
#define NL_SITE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "nl.h"
#include "schedule.h"

struct nl_site_opts {
	const struct nl_config *cfg;	/* posts, log, templates, base_url, site.* */
	const char *dir;		/* the output folder (cfg->site.dir unless -o) */
	time_t now;			/* what "due" means for site.include_unsent */
	volatile sig_atomic_t *interrupted; /* stop with NL_EINTERRUPTED once set; NULL: never */
};

struct nl_site_stats {
	size_t posts;		/* published posts */
	size_t kept;		/* of their pages, kept from the last build without rendering */
	size_t written;		/* files (re)written */
	size_t unchanged;	/* files that already had these bytes */
	size_t removed;		/* files of an earlier build the site no longer has */
};

/*
 * A post is published when it is readable, not a draft, and the send log
 * has it started or done; with site.include_unsent also when it is due
 * (send_at, else date, has come) but not sent.
 */
bool nl_site_published(const struct nl_sched_post *sp, const struct nl_config *cfg, time_t now);

/*
 * Build the site in o->dir: SLUG/index.html and the post's images beside it
 * (SLUG/FILE, where the messages link them), index.html and page/N/index.html
 * (newest first, site.per_page to a page), feed.xml (Atom), sitemap.xml and
 * subscribe.html, from templates page.html and index.html. Everything is
 * rendered before anything is written, so a post that fails leaves the old
 * site as it was; a file is rewritten only when its bytes change, each through
 * a temporary name and rename(), so a reader (or a kill -9) sees every file
 * old or new, never torn. Files an earlier build wrote that the site no longer
 * has are removed, only inside the folder and never through a symlink (the
 * list of what the site wrote is DIR/.newsletter-site). Refuses a folder that
 * is /, $HOME, or the posts folder or one holding it. Needs base_url.
 */
enum nl_err nl_site_build(const struct nl_site_opts *o, struct nl_site_stats *st);

#endif
