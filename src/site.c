/* site.c - the web archive: every published post rendered once more for the web, with an index, feed and sitemap. */
#include "site.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "campaign.h"
#include "datetime.h"
#include "fsutil.h"
#include "images.h"
#include "log.h"
#include "nl.h"
#include "render.h"
#include "template.h"

#define MANIFEST ".newsletter-site"
#define LOCKFILE ".newsletter-site.lock"
#define TMP_SUFFIX ".nl-tmp"
/* Posts in feed.xml, each with its full content: readers want the latest, not the archive. */
#define FEED_POSTS 20

struct img {
	char *src;	/* the resolved file */
	char *file;	/* where it goes under SLUG/, unescaped */
	char *what;	/* "post.md:LINE: image 'url'", for errors */
};

/* One published post, rendered. */
struct entry {
	const struct nl_post *p;
	time_t when;		/* its date, else when it was due, else first sent */
	char *html;		/* the body, image URLs relative to its page */
	struct img *imgs;
	size_t nimgs;
	char *og_image;		/* absolute URL or NULL */
	char *page;		/* the whole page */
	size_t len;
	enum nl_err err;	/* rendering it failed: err and errmsg */
	char *errmsg;
	unsigned long long key;	/* what its page depends on (the cache) */
	long long made;		/* when the build that rendered its page started */
	bool hit;		/* the page on disk is this one: not rendered again */
};

/* One file of the site: bytes, or an image copied from src. */
struct out {
	char *rel;
	char *data;
	size_t len;
	const char *src;
	const char *what;	/* with src: names it in errors */
	bool changed;	/* differs from the folder's file */
	bool keep;	/* the cache says the folder's file is current */
};

struct site {
	const struct nl_site_opts *o;
	const struct nl_config *cfg;
	char root[PATH_MAX];	/* the output folder, resolved */
	int rootfd;		/* and open */
	struct nl_tmpl *page_t, *index_t;
	struct entry *ents;
	size_t nents;
	struct out *outs;
	size_t nouts, capouts;
	struct nl_site_stats *st;
	char page_path[PATH_MAX];	/* the page template's file */
	long long started;		/* this build, in seconds */
	struct nl_buf cache;		/* the cache file's text, cut into records */
	struct crec *recs;		/* sorted by slug */
	size_t nrecs;
};

static const char *const no_fields[1] = {""};

static int no_dyn(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return -1; /* pages are for everyone: no reader's fields exist here */
}

static bool interrupted(const struct site *s)
{
	return s->o->interrupted && *s->o->interrupted;
}

/* ---- which posts ---- */

bool nl_site_published(const struct nl_sched_post *sp, const struct nl_config *cfg, time_t now)
{
	if (!sp->post || sp->error || sp->post->draft)
		return false;
	if (sp->log && (sp->log->started > 0 || sp->log->done > 0))
		return true;
	return cfg->site.include_unsent && sp->due != (time_t)-1 && sp->due <= now;
}

static time_t entry_time(const struct nl_sched_post *sp)
{
	if (sp->post->date != (time_t)-1)
		return sp->post->date;
	if (sp->due != (time_t)-1)
		return sp->due;
	return sp->log ? (time_t)sp->log->started : 0;
}

/* Newest first; one date's posts by slug, so the order never flips between builds. */
static int by_time_desc(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->when != y->when)
		return x->when < y->when ? 1 : -1;
	return strcmp(x->p->slug, y->p->slug);
}

/* ---- language and direction ---- */

static bool is_rtl(const char *lang)
{
	static const char *const rtl[] = {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks",
					  "ps", "sd", "ug", "ur", "yi"};
	size_t n = strcspn(lang, "-_");
	for (size_t i = 0; i < NL_ARRAY_LEN(rtl); i++)
		if (strlen(rtl[i]) == n && !strncasecmp(lang, rtl[i], n))
			return true;
	return false;
}

/* A BCP 47 tag's characters only, else the fallback. */
static const char *clean_lang(const char *s, const char *fallback)
{
	static const char tag[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
	if (!s || !*s || strlen(s) > 35 || strspn(s, tag) != strlen(s))
		return fallback;
	return s;
}

static const char *pub_lang(const struct nl_config *cfg)
{
	return clean_lang(nl_ynode_str(nl_ynode_path(cfg->root, "publication.language")), "en");
}

/* Front matter `lang` (else the publication's), and `dir` (else from the language). */
static void post_lang(const struct nl_config *cfg, const struct nl_post *p, const char **lang,
		      const char **dir)
{
	const char *d = nl_ynode_str(nl_ynode_get(p->meta, "dir"));
	*lang = clean_lang(nl_ynode_str(nl_ynode_get(p->meta, "lang")), pub_lang(cfg));
	if (d && (!strcmp(d, "rtl") || !strcmp(d, "ltr")))
		*dir = d;
	else
		*dir = is_rtl(*lang) ? "rtl" : "ltr";
}

/* ---- rendering a post ---- */

struct img_ctx {
	struct site *s;
	struct entry *e;
};

static bool absolute_url(const char *u)
{
	const char *p = u;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	return (p > u && *p == ':') || !strncmp(u, "//", 2);
}

/* The image url of entry e: found, checked, and its place under SLUG/ (*file, borrowed). */
static enum nl_err add_image(struct site *s, struct entry *e, const char *url, int line,
			     const char **file)
{
	struct nl_image_place pl = {e->p->path, e->p->dir, s->cfg->images_dir};
	struct nl_buf f = NL_BUF_INIT;
	char *path = NULL;
	/* Its content is checked when it is read to be compared (out_bytes). */
	enum nl_err err = nl_image_locate(&pl, url, line, &path);
	nl_campaign_image_file(url, &f);
	if (!err && (err = nl_buf_err(&f)))
		err = nl_errf(NL_ENOMEM, "out of memory");
	if (!err && (!f.len || !strcmp(f.data, "index.html")))
		err = nl_errf(NL_EDATA, "%s:%d: image '%s' cannot be published as %s/%s", e->p->path,
			      line, url, e->p->slug, f.data);
	for (size_t i = 0; !err && i < e->nimgs; i++) {
		if (strcmp(e->imgs[i].file, f.data))
			continue;
		if (strcmp(e->imgs[i].src, path))
			err = nl_errf(NL_EDATA, "%s:%d: image '%s' and another image of the post would "
				      "both be %s/%s: rename one", e->p->path, line, url, e->p->slug, f.data);
		free(path);
		nl_buf_free(&f);
		*file = e->imgs[i].file;
		return err;
	}
	struct img *im = err ? NULL : realloc(e->imgs, (e->nimgs + 1) * sizeof *im);
	if (!err && !im)
		err = nl_errf(NL_ENOMEM, "out of memory");
	if (err) {
		free(path);
		nl_buf_free(&f);
		return err;
	}
	e->imgs = im;
	im[e->nimgs].src = path;
	im[e->nimgs].file = nl_buf_detach(&f, NULL);
	nl_buf_addf(&f, "%s:%d: image '%s'", e->p->path, line, url);
	im[e->nimgs].what = nl_buf_detach(&f, NULL);
	*file = im[e->nimgs++].file;
	return im[e->nimgs - 1].what ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

static enum nl_err image_cb(void *ctx, const char *url, int line, char **out)
{
	struct img_ctx *ic = ctx;
	struct nl_buf b = NL_BUF_INIT;
	const char *file;
	enum nl_err e;
	if (!*url || absolute_url(url))
		return NL_OK;
	if ((e = add_image(ic->s, ic->e, url, line, &file)))
		return e;
	/* Relative to SLUG/index.html: the folder moves with the site. */
	nl_url_path_escape(&b, file);
	if (!ic->e->og_image) {
		struct nl_buf og = NL_BUF_INIT;
		nl_buf_addf(&og, "%s/%s/%s", ic->s->cfg->base_url, ic->e->p->slug, b.data);
		ic->e->og_image = nl_buf_detach(&og, NULL);
	}
	*out = nl_buf_detach(&b, NULL);
	return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

/* Front matter `image` (else the post's first image) as an absolute URL, for Open Graph. */
static enum nl_err front_image(struct site *s, struct entry *e)
{
	const struct nl_ynode *n = nl_ynode_get(e->p->meta, "image");
	const char *url = nl_ynode_str(n), *file;
	struct nl_buf b = NL_BUF_INIT;
	enum nl_err err;
	if (!url || !*url)
		return NL_OK;
	free(e->og_image);
	e->og_image = NULL;
	if (absolute_url(url)) {
		e->og_image = strdup(url);
		return e->og_image ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
	}
	if ((err = add_image(s, e, url, n->line, &file)))
		return err;
	nl_buf_addf(&b, "%s/%s/", s->cfg->base_url, e->p->slug);
	nl_url_path_escape(&b, file);
	e->og_image = nl_buf_detach(&b, NULL);
	return e->og_image ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

static enum nl_err render_body(struct site *s, struct entry *e)
{
	struct nl_buf html = NL_BUF_INIT;
	struct img_ctx ic = {s, e};
	struct nl_render_opts ro = {.unsafe_html = s->cfg->allow_html, .wrap = 72,
				    .image = image_cb, .image_ctx = &ic, .name = e->p->path,
				    .first_line = e->p->body_line};
	enum nl_err err = nl_render(e->p->body, e->p->body_len, &ro, &html, NULL);
	if (!err && !(err = nl_buf_err(&html)))
		err = front_image(s, e);
	if (!err)
		e->html = nl_buf_detach(&html, NULL);
	nl_buf_free(&html);
	return err;
}

/* ---- template contexts ---- */

static enum nl_err put(struct nl_ynode *map, const char *key, const char *v)
{
	return nl_ynode_put(map, key, nl_ynode_scalar(v ? v : ""));
}

/* What every page has: where the rest of the site is, from a page `root` deep. */
static enum nl_err put_site(const struct site *s, struct nl_ynode *ctx, const char *root,
			    const char *canonical)
{
	char feed[1100], home[1100];
	snprintf(feed, sizeof feed, "%s/feed.xml", s->cfg->base_url);
	snprintf(home, sizeof home, "%s/", s->cfg->base_url);
	enum nl_err e;
	if ((e = put(ctx, "publication_dir", is_rtl(pub_lang(s->cfg)) ? "rtl" : "ltr")) ||
	    (e = put(ctx, "root", root)) || (e = put(ctx, "home_url", home)) ||
	    (e = put(ctx, "feed_url", feed)) || (e = put(ctx, "canonical_url", canonical)))
		return e;
	struct nl_buf b = NL_BUF_INIT;
	nl_buf_addf(&b, "%sindex.html", root);
	e = nl_buf_err(&b) ? NL_ENOMEM : put(ctx, "index_page", b.data);
	nl_buf_reset(&b);
	nl_buf_addf(&b, "%ssubscribe.html", root);
	if (!e)
		e = nl_buf_err(&b) ? NL_ENOMEM : put(ctx, "subscribe_page", b.data);
	nl_buf_free(&b);
	return e;
}

static enum nl_err eval(const struct nl_tmpl *t, const struct nl_ynode *ctx, char **out,
			size_t *len)
{
	struct nl_residual *r = NULL;
	struct nl_buf b = NL_BUF_INIT;
	enum nl_err e = nl_tmpl_bind(t, ctx, no_dyn, NULL, &r);
	if (e)
		return e;
	nl_residual_eval(r, no_fields, &b);
	nl_residual_free(r);
	if (nl_buf_err(&b))
		return nl_errf(NL_ENOMEM, "out of memory");
	*out = nl_buf_detach(&b, len);
	return NL_OK;
}

static enum nl_err post_page(struct site *s, struct entry *e, size_t *len)
{
	struct nl_ynode *ctx = NULL;
	const char *lang, *dir;
	char iso[NL_TIME_LEN + 1] = "";
	enum nl_err err = nl_campaign_context(s->cfg, e->p, &ctx);
	if (err)
		return err;
	post_lang(s->cfg, e->p, &lang, &dir);
	if (e->when)
		nl_time_rfc3339(e->when, iso);
	char web[1100];
	snprintf(web, sizeof web, "%s/%s/", s->cfg->base_url, e->p->slug);
	if (!(err = put(ctx, "content", e->html)) && !(err = put(ctx, "lang", lang)) &&
	    !(err = put(ctx, "dir", dir)) && !(err = put(ctx, "og_image", e->og_image)) &&
	    !(err = put(ctx, "date_iso", iso)) && !(err = put(ctx, "is_post", "true")) &&
	    !(err = put_site(s, ctx, "../", web)))
		err = eval(s->page_t, ctx, &e->page, len);
	nl_ynode_free(ctx);
	return err;
}

/* publication.* as the mail has it, for pages that are not a post. */
static struct nl_ynode *publication(const struct nl_config *cfg)
{
	const struct nl_ynode *src = nl_ynode_get(cfg->root, "publication");
	struct nl_ynode *pub = src ? nl_ynode_clone(src) : nl_ynode_map();
	if (pub && (put(pub, "name", cfg->name) || put(pub, "address", cfg->address) ||
		    put(pub, "language", pub_lang(cfg)))) {
		nl_ynode_free(pub);
		return NULL;
	}
	return pub;
}

/* A context for a page that is not a post. */
static enum nl_err plain_ctx(const struct site *s, const char *title, const char *root,
			     const char *canonical, struct nl_ynode **out)
{
	struct nl_ynode *ctx = nl_ynode_map();
	const char *lang = pub_lang(s->cfg);
	enum nl_err e = ctx ? nl_ynode_put(ctx, "publication", publication(s->cfg)) : NL_ENOMEM;
	if (!e && !((e = put(ctx, "title", title)) || (e = put(ctx, "description", "")) ||
		    (e = put(ctx, "date", "")) || (e = put(ctx, "date_long", "")) ||
		    (e = put(ctx, "date_iso", "")) || (e = put(ctx, "slug", "")) ||
		    (e = put(ctx, "web_url", canonical)) || (e = put(ctx, "og_image", "")) ||
		    (e = put(ctx, "subscribe_url", s->cfg->subscribe_url)) ||
		    (e = put(ctx, "lang", lang)) || (e = put(ctx, "dir", is_rtl(lang) ? "rtl" : "ltr")) ||
		    (e = put(ctx, "is_post", "")) || (e = put(ctx, "content", ""))))
		e = put_site(s, ctx, root, canonical);
	if (e) {
		nl_ynode_free(ctx);
		return e == NL_ENOMEM ? nl_errf(NL_ENOMEM, "out of memory") : e;
	}
	*out = ctx;
	return NL_OK;
}

/* ---- the list of files ---- */

static enum nl_err add_out(struct site *s, char *rel, char *data, size_t len, const char *src)
{
	if (!rel) {
		free(rel);
		free(data);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	if (s->nouts == s->capouts) {
		size_t cap = s->capouts ? s->capouts * 2 : 64;
		struct out *o = realloc(s->outs, cap * sizeof *o);
		if (!o) {
			free(rel);
			free(data);
			return nl_errf(NL_ENOMEM, "out of memory");
		}
		s->outs = o;
		s->capouts = cap;
	}
	/* Neither bytes nor a source: the page the cache vouches for, kept as it is. */
	s->outs[s->nouts++] = (struct out){rel, data, len, src, NULL, true, !data && !src};
	return NL_OK;
}

static char *path_of(const char *fmt, const char *a, const char *b)
{
	struct nl_buf p = NL_BUF_INIT;
	nl_buf_addf(&p, fmt, a, b);
	return nl_buf_detach(&p, NULL);
}

static enum nl_err post_outputs(struct site *s, struct entry *e)
{
	enum nl_err err = add_out(s, path_of("%s/%s", e->p->slug, "index.html"), e->page, e->len,
				  NULL);
	e->page = NULL;
	for (size_t i = 0; !err && i < e->nimgs; i++)
		if (!(err = add_out(s, path_of("%s/%s", e->p->slug, e->imgs[i].file), NULL, 0,
				    e->imgs[i].src)))
			s->outs[s->nouts - 1].what = e->imgs[i].what;
	return err;
}

static enum nl_err index_item(const struct site *s, const struct entry *e, const char *root,
			      struct nl_ynode *list)
{
	struct nl_ynode *it = nl_ynode_map();
	char when[64] = "", iso[NL_TIME_LEN + 1] = "", url[PATH_MAX];
	const char *lang, *dir;
	if (!it)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (e->when) {
		nl_time_long_date(e->when, when, sizeof when);
		nl_time_rfc3339(e->when, iso);
	}
	snprintf(url, sizeof url, "%s%s/", root, e->p->slug);
	post_lang(s->cfg, e->p, &lang, &dir);
	enum nl_err err;
	if ((err = put(it, "title", e->p->title)) || (err = put(it, "description", e->p->description)) ||
	    (err = put(it, "url", url)) || (err = put(it, "slug", e->p->slug)) ||
	    (err = put(it, "date", e->p->date_text)) || (err = put(it, "date_long", when)) ||
	    (err = put(it, "date_iso", iso)) || (err = put(it, "lang", lang)) ||
	    (err = put(it, "dir", dir))) {
		nl_ynode_free(it);
		return err;
	}
	return nl_ynode_push(list, it);
}

/* Page k (1-based) of the index: index.html, then page/K/index.html. */
static enum nl_err index_page(struct site *s, size_t k, size_t pages)
{
	size_t per = (size_t)s->cfg->site.per_page, from = (k - 1) * per;
	const char *root = k == 1 ? "" : "../../";
	char canon[1200], num[32], link[64];
	struct nl_ynode *ctx = NULL, *list = nl_ynode_seq();
	enum nl_err e;
	char *data = NULL;
	size_t len;
	if (k == 1)
		snprintf(canon, sizeof canon, "%s/", s->cfg->base_url);
	else
		snprintf(canon, sizeof canon, "%s/page/%zu/", s->cfg->base_url, k);
	for (size_t i = from; list && i < s->nents && i < from + per; i++)
		if (index_item(s, &s->ents[i], root, list)) {
			nl_ynode_free(list);
			return NL_ENOMEM;
		}
	if (!list || (e = plain_ctx(s, s->cfg->name, root, canon, &ctx))) {
		nl_ynode_free(list);
		return list ? e : nl_errf(NL_ENOMEM, "out of memory");
	}
	snprintf(num, sizeof num, "%zu", k);
	e = nl_ynode_put(ctx, "posts", list);
	if (!e && !(e = put(ctx, "page", num))) {
		snprintf(num, sizeof num, "%zu", pages);
		e = put(ctx, "pages", num);
	}
	if (k == 2)
		snprintf(link, sizeof link, "../../");
	else
		snprintf(link, sizeof link, "%spage/%zu/", root, k - 1);
	if (!e)
		e = put(ctx, "prev_url", k > 1 ? link : "");
	snprintf(link, sizeof link, "%spage/%zu/", root, k + 1);
	if (!e)
		e = put(ctx, "next_url", k < pages ? link : "");
	if (!e)
		e = eval(s->index_t, ctx, &data, &len);
	nl_ynode_free(ctx);
	if (!e && k == 1)
		return add_out(s, strdup("index.html"), data, len, NULL);
	snprintf(link, sizeof link, "page/%zu/index.html", k);
	return e ? e : add_out(s, strdup(link), data, len, NULL);
}

static enum nl_err subscribe_page(struct site *s)
{
	struct nl_buf c = NL_BUF_INIT, title = NL_BUF_INIT;
	struct nl_ynode *ctx = NULL;
	char canon[1200], *data = NULL;
	size_t len;
	snprintf(canon, sizeof canon, "%s/subscribe.html", s->cfg->base_url);
	nl_buf_addf(&title, "Subscribe to %s", s->cfg->name);
	if (*s->cfg->subscribe_url) {
		/* Posts to `serve`'s signup endpoint, which answers with its own page. */
		nl_buf_adds(&c, "<form class=\"subscribe\" method=\"post\" action=\"");
		nl_html_escape(&c, s->cfg->subscribe_url, strlen(s->cfg->subscribe_url));
		nl_buf_adds(&c, "\">\n<label for=\"email\">Email address</label>\n"
			    "<input type=\"email\" id=\"email\" name=\"email\" required "
			    "autocomplete=\"email\" placeholder=\"you@example.org\">\n"
			    "<label for=\"name\">Name <small>(optional)</small></label>\n"
			    "<input type=\"text\" id=\"name\" name=\"name\" autocomplete=\"name\">\n"
			    "<button type=\"submit\">Subscribe</button>\n</form>\n");
	} else {
		nl_buf_adds(&c, "<p>This publication takes no sign-ups on the web.</p>\n");
	}
	enum nl_err e = nl_buf_err(&c) || nl_buf_err(&title) ? nl_errf(NL_ENOMEM, "out of memory")
							      : plain_ctx(s, title.data, "", canon, &ctx);
	if (!e && !(e = put(ctx, "content", c.data)))
		e = eval(s->page_t, ctx, &data, &len);
	nl_ynode_free(ctx);
	nl_buf_free(&c);
	nl_buf_free(&title);
	return e ? e : add_out(s, strdup("subscribe.html"), data, len, NULL);
}

/* ---- feed and sitemap ---- */

/* XML-escaped, without the characters XML 1.0 cannot carry at all. */
static void xml_escape(struct nl_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
			continue;
		switch (ch) {
		case '&': nl_buf_adds(b, "&amp;"); break;
		case '<': nl_buf_adds(b, "&lt;"); break;
		case '>': nl_buf_adds(b, "&gt;"); break;
		case '"': nl_buf_adds(b, "&quot;"); break;
		default: nl_buf_addc(b, (char)ch);
		}
	}
}

static void feed_entry(const struct site *s, const struct entry *e, struct nl_buf *b)
{
	char iso[NL_TIME_LEN + 1] = "1970-01-01T00:00:00Z";
	const char *lang, *dir;
	const char *base = s->cfg->base_url;
	if (e->when)
		nl_time_rfc3339(e->when, iso);
	post_lang(s->cfg, e->p, &lang, &dir);
	nl_buf_addf(b, "<entry xml:lang=\"%s\">\n<title>", lang);
	xml_escape(b, e->p->title);
	nl_buf_adds(b, "</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"");
	xml_escape(b, base);
	nl_buf_addf(b, "/%s/\"/>\n<id>", e->p->slug);
	xml_escape(b, base);
	nl_buf_addf(b, "/%s/</id>\n<published>%s</published>\n<updated>%s</updated>\n", e->p->slug,
		    iso, iso);
	if (*e->p->description) {
		nl_buf_adds(b, "<summary>");
		xml_escape(b, e->p->description);
		nl_buf_adds(b, "</summary>\n");
	}
	/* Relative image URLs resolve against the post's page, as on the web. */
	nl_buf_adds(b, "<content type=\"html\" xml:base=\"");
	xml_escape(b, base);
	nl_buf_addf(b, "/%s/\">", e->p->slug);
	xml_escape(b, e->html);
	nl_buf_adds(b, "</content>\n</entry>\n");
}

static enum nl_err feed(struct site *s)
{
	struct nl_buf b = NL_BUF_INIT;
	char iso[NL_TIME_LEN + 1] = "1970-01-01T00:00:00Z";
	const char *base = s->cfg->base_url;
	/* The newest post's time, not the clock's: an unchanged site is an unchanged feed. */
	if (s->nents && s->ents[0].when)
		nl_time_rfc3339(s->ents[0].when, iso);
	nl_buf_addf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		    "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"%s\">\n<title>",
		    pub_lang(s->cfg));
	xml_escape(&b, s->cfg->name);
	nl_buf_adds(&b, "</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"");
	xml_escape(&b, base);
	nl_buf_adds(&b, "/\"/>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"");
	xml_escape(&b, base);
	nl_buf_adds(&b, "/feed.xml\"/>\n<id>");
	xml_escape(&b, base);
	nl_buf_addf(&b, "/</id>\n<updated>%s</updated>\n<author><name>", iso);
	xml_escape(&b, *s->cfg->from_name ? s->cfg->from_name : s->cfg->name);
	nl_buf_adds(&b, "</name></author>\n<generator>newsletter</generator>\n");
	for (size_t i = 0; i < s->nents && i < FEED_POSTS; i++)
		feed_entry(s, &s->ents[i], &b);
	nl_buf_adds(&b, "</feed>\n");
	if (nl_buf_err(&b))
		return nl_errf(NL_ENOMEM, "out of memory");
	size_t len;
	char *data = nl_buf_detach(&b, &len);
	return add_out(s, strdup("feed.xml"), data, len, NULL);
}

static void sitemap_url(struct nl_buf *b, const char *base, const char *path, time_t t)
{
	char iso[NL_TIME_LEN + 1];
	nl_buf_adds(b, "<url><loc>");
	xml_escape(b, base);
	nl_buf_addf(b, "/%s</loc>", path);
	if (t) {
		nl_time_rfc3339(t, iso);
		nl_buf_addf(b, "<lastmod>%s</lastmod>", iso);
	}
	nl_buf_adds(b, "</url>\n");
}

static enum nl_err sitemap(struct site *s, size_t pages)
{
	struct nl_buf b = NL_BUF_INIT;
	char path[PATH_MAX];
	nl_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
	sitemap_url(&b, s->cfg->base_url, "", s->nents ? s->ents[0].when : 0);
	for (size_t k = 2; k <= pages; k++) {
		snprintf(path, sizeof path, "page/%zu/", k);
		sitemap_url(&b, s->cfg->base_url, path, 0);
	}
	for (size_t i = 0; i < s->nents; i++) {
		snprintf(path, sizeof path, "%s/", s->ents[i].p->slug);
		sitemap_url(&b, s->cfg->base_url, path, s->ents[i].when);
	}
	sitemap_url(&b, s->cfg->base_url, "subscribe.html", 0);
	nl_buf_adds(&b, "</urlset>\n");
	if (nl_buf_err(&b))
		return nl_errf(NL_ENOMEM, "out of memory");
	size_t len;
	char *data = nl_buf_detach(&b, &len);
	return add_out(s, strdup("sitemap.xml"), data, len, NULL);
}

/* ---- rendering everything, in memory ---- */

static enum nl_err load_templates(struct site *s)
{
	char path[PATH_MAX];
	enum nl_err e;
	if ((e = nl_campaign_load_template(s->cfg, "page.html", true, s->page_path, sizeof s->page_path,
					   &s->page_t)))
		return e;
	return nl_campaign_load_template(s->cfg, "index.html", true, path, sizeof path, &s->index_t);
}

/* Names the site uses for itself: a post there would collide with them. */
static bool reserved(const char *slug)
{
	static const char *const names[] = {"index.html", "feed.xml", "sitemap.xml", "subscribe.html",
					    "page"};
	for (size_t i = 0; i < NL_ARRAY_LEN(names); i++)
		if (!strcmp(slug, names[i]))
			return true;
	return false;
}

static enum nl_err collect(struct site *s, const struct nl_schedule *sch)
{
	if (!(s->ents = calloc(sch->n ? sch->n : 1, sizeof *s->ents)))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < sch->n; i++) {
		const struct nl_sched_post *sp = &sch->posts[i];
		/* A post that cannot be read may be one that should be there: stop, keep the old site. */
		if (sp->error)
			return nl_errf(NL_EDATA, "%s", sp->error);
		if (!nl_site_published(sp, s->cfg, s->o->now))
			continue;
		if (reserved(sp->post->slug))
			return nl_errf(NL_EDATA, "%s: slug '%s' is a file of the site itself: choose "
				       "another slug", sp->post->path, sp->post->slug);
		struct entry *e = &s->ents[s->nents++];
		e->p = sp->post;
		e->when = entry_time(sp);
	}
	qsort(s->ents, s->nents, sizeof *s->ents, by_time_desc);
	return NL_OK;
}

/* ---- the cache: pages that need not be rendered again ---- */

static bool same_bytes(int dfd, const char *name, const char *data, size_t len);

/*
 * A build that changes nothing must be fast (1,000 posts in well under a
 * second), and rendering is most of a build. A post's page depends on the
 * post file, the config, the page template, the program, base_url and its
 * date; when none of them changed (by stat: size, times, inode) and its page
 * in the folder is the one the last build left (size and mtime), the page is
 * kept without rendering. Feed entries are always rendered (the feed holds
 * their HTML). One line per post in DIR/.newsletter-site-cache:
 *   SLUG KEY MADE SIZE MTIME OG N SRC1 FILE1 ... (tab-separated)
 */
#define CACHE ".newsletter-site-cache"
#define CACHE_HEAD "# newsletter site cache 1: pages a build may keep; safe to delete\n"
#define CACHE_FIELDS 7

struct crec {
	const char *f[CACHE_FIELDS]; /* slug, key, made, size, mtime, og ("-": none), nimgs */
	const char *imgs;	/* the rest: SRC\tFILE pairs */
};

static void fnv(unsigned long long *h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ULL;
}

/* A file's identity, and the newest of its times into *newest. */
static void fnv_stat(unsigned long long *h, const char *path, long long *newest)
{
	struct stat st;
	fnv(h, path, strlen(path) + 1);
	if (stat(path, &st)) {
		fnv(h, "-", 1);
		return;
	}
	long long v[] = {(long long)st.st_size, (long long)st.st_ino, (long long)st.st_dev,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
	fnv(h, v, sizeof v);
	if (v[3] > *newest)
		*newest = v[3];
	if (v[5] > *newest)
		*newest = v[5];
}

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct crec *)a)->f[0], ((const struct crec *)b)->f[0]);
}

/* Cut the cache's text into records in place; lines that do not parse are left out. */
static void cache_parse(struct site *s)
{
	char *p = s->cache.data;
	if (strncmp(p, CACHE_HEAD, strlen(CACHE_HEAD)))
		return;
	for (char *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		struct crec r = {0};
		size_t k = 0;
		*nl = 0;
		for (char *q = p; k < CACHE_FIELDS && q; k++) {
			r.f[k] = q;
			if ((q = strchr(q, '\t')))
				*q++ = 0;
			r.imgs = q ? q : nl;
		}
		if (k < CACHE_FIELDS || *p == '#')
			continue;
		struct crec *a = realloc(s->recs, (s->nrecs + 1) * sizeof *a);
		if (!a)
			return;
		s->recs = a;
		a[s->nrecs++] = r;
	}
	if (s->nrecs)
		qsort(s->recs, s->nrecs, sizeof *s->recs, cmp_rec);
}

static void cache_read(struct site *s)
{
	char chunk[65536];
	ssize_t n;
	int fd = openat(s->rootfd, CACHE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = read(fd, chunk, sizeof chunk)) > 0)
		nl_buf_add(&s->cache, chunk, (size_t)n);
	close(fd);
	if (n == 0 && !nl_buf_err(&s->cache))
		cache_parse(s);
}

/* The images of a cached page: its SRC\tFILE pairs, each checked again when compared. */
static enum nl_err cache_images(struct entry *e, const struct crec *r)
{
	char *end;
	size_t n = strtoul(r->f[6], &end, 10);
	const char *p = r->imgs;
	if (*end || n > NL_RENDER_MAX_LINKS)
		return NL_EDATA;
	if (n && !(e->imgs = calloc(n, sizeof *e->imgs)))
		return NL_ENOMEM;
	for (; e->nimgs < n; e->nimgs++) {
		struct img *im = &e->imgs[e->nimgs];
		size_t a = strcspn(p, "\t"), b = p[a] ? strcspn(p + a + 1, "\t") : 0;
		if (!p[a] || !a || !b || !(im->src = nl_strndup(p, a)) ||
		    !(im->file = nl_strndup(p + a + 1, b)) || !(im->what = strdup(im->src)))
			return NL_EDATA;
		p += a + 1 + b + (p[a + 1 + b] == '\t');
	}
	if (strcmp(r->f[5], "-") && !(e->og_image = strdup(r->f[5])))
		return NL_ENOMEM;
	return NL_OK;
}

/* Whether entry e's page may be kept: same inputs, and the folder's page is the one written. */
static bool cache_hit(struct site *s, struct entry *e, unsigned long long base, long long newest,
		      bool may)
{
	struct crec key = {.f = {e->p->slug}}, *r;
	char rel[PATH_MAX], hex[32];
	struct stat st;
	unsigned long long h = base;
	fnv_stat(&h, e->p->path, &newest);
	fnv(&h, &e->when, sizeof e->when);
	e->key = h;
	snprintf(hex, sizeof hex, "%016llx", h);
	if (!may || !s->nrecs || !(r = bsearch(&key, s->recs, s->nrecs, sizeof *r, cmp_rec)) ||
	    strcmp(r->f[1], hex))
		return false;
	e->made = strtoll(r->f[2], NULL, 10);
	/* An input changed in the second that build started may have changed unseen (same times). */
	snprintf(rel, sizeof rel, "%s/index.html", e->p->slug);
	if (newest >= e->made - 1 || fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISREG(st.st_mode) || st.st_size != strtoll(r->f[3], NULL, 10) ||
	    (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != strtoll(r->f[4], NULL, 10))
		return false;
	if (cache_images(e, r)) {
		for (size_t i = 0; i < e->nimgs; i++) {
			free(e->imgs[i].src);
			free(e->imgs[i].file);
			free(e->imgs[i].what);
		}
		free(e->imgs);
		free(e->og_image);
		e->imgs = NULL;
		e->og_image = NULL;
		e->nimgs = 0;
		return false;
	}
	return true;
}

static enum nl_err cache_lookup(struct site *s)
{
	unsigned long long base = 0xcbf29ce484222325ULL;
	long long newest = 0;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	fnv(&base, "1", 2);
	fnv(&base, NL_VERSION, sizeof NL_VERSION);
	fnv_stat(&base, exe, &newest);
	fnv_stat(&base, s->cfg->path, &newest);
	/* the page template and every partial it includes */
	for (size_t i = 0; i < nl_tmpl_nsources(s->page_t); i++)
		fnv_stat(&base, nl_tmpl_source(s->page_t, i), &newest);
	fnv(&base, s->cfg->base_url, strlen(s->cfg->base_url) + 1);
	fnv(&base, s->cfg->images_dir, strlen(s->cfg->images_dir) + 1);
	cache_read(s);
	for (size_t i = 0; i < s->nents; i++) {
		struct entry *e = &s->ents[i];
		e->hit = cache_hit(s, e, base, newest, i >= FEED_POSTS);
		s->st->kept += e->hit;
		if (!e->hit)
			e->made = s->started;
	}
	return NL_OK;
}

/* After a build that succeeded: what the next one may keep. Best effort: it is only a cache. */
static void cache_save(struct site *s)
{
	struct nl_buf b = NL_BUF_INIT, path = NL_BUF_INIT, tmp = NL_BUF_INIT;
	nl_buf_adds(&b, CACHE_HEAD);
	for (size_t i = 0; i < s->nents; i++) {
		const struct entry *e = &s->ents[i];
		char rel[PATH_MAX];
		struct stat st;
		bool clean = !strpbrk(e->og_image ? e->og_image : "", "\t\n");
		for (size_t k = 0; k < e->nimgs; k++)
			clean = clean && !strpbrk(e->imgs[k].src, "\t\n") && !strpbrk(e->imgs[k].file, "\t\n");
		snprintf(rel, sizeof rel, "%s/index.html", e->p->slug);
		if (!clean || fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		nl_buf_addf(&b, "%s\t%016llx\t%lld\t%lld\t%lld\t%s\t%zu", e->p->slug, e->key, e->made,
			    (long long)st.st_size,
			    (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
			    e->og_image ? e->og_image : "-", e->nimgs);
		for (size_t k = 0; k < e->nimgs; k++)
			nl_buf_addf(&b, "\t%s\t%s", e->imgs[k].src, e->imgs[k].file);
		nl_buf_addc(&b, '\n');
	}
	nl_buf_addf(&path, "%s/" CACHE, s->root);
	nl_buf_addf(&tmp, "%s/." CACHE TMP_SUFFIX, s->root);
	if (!nl_buf_err(&b) && !nl_buf_err(&path) && !nl_buf_err(&tmp) &&
	    !same_bytes(s->rootfd, CACHE, b.data, b.len))
		nl_write_replace(path.data, tmp.data, b.data, b.len);
	nl_buf_free(&b);
	nl_buf_free(&path);
	nl_buf_free(&tmp);
}

/* Render one post and its page; a worker thread's error is kept with the entry. */
static void render_entry(struct site *s, struct entry *e)
{
	if (e->hit)
		return;
	if (interrupted(s))
		e->err = nl_errf(NL_EINTERRUPTED, "interrupted; the site is as it was");
	else if (!(e->err = render_body(s, e)))
		e->err = post_page(s, e, &e->len);
	if (e->err && !(e->errmsg = strdup(nl_errmsg())))
		e->err = NL_ENOMEM;
}

struct pool {
	struct site *s;
	atomic_size_t next;
};

static void *worker(void *arg)
{
	struct pool *pl = arg;
	for (size_t i; (i = atomic_fetch_add(&pl->next, 1)) < pl->s->nents;)
		render_entry(pl->s, &pl->s->ents[i]);
	return NULL;
}

/*
 * Posts are independent: render them on every core (the first one alone,
 * so that cmark-gfm registers its extensions before threads share them).
 */
static void render_posts(struct site *s)
{
	pthread_t th[8];
	size_t nth = 0;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct pool pl = {.s = s};
	if (!s->nents)
		return;
	render_entry(s, &s->ents[0]);
	if (s->ents[0].err) /* reported first anyway; and cmark may not have registered yet */
		return;
	atomic_init(&pl.next, 1);
	for (long k = 1; k < cores && nth < NL_ARRAY_LEN(th) && s->nents > 16; k++)
		if (!pthread_create(&th[nth], NULL, worker, &pl))
			nth++;
	worker(&pl);
	for (size_t k = 0; k < nth; k++)
		pthread_join(th[k], NULL);
}

static enum nl_err render_all(struct site *s)
{
	enum nl_err e = NL_OK;
	size_t per = (size_t)s->cfg->site.per_page;
	size_t pages = s->nents ? (s->nents + per - 1) / per : 1;
	if ((e = cache_lookup(s)))
		return e;
	render_posts(s);
	for (size_t i = 0; !e && i < s->nents; i++) {
		struct entry *en = &s->ents[i];
		if (en->err) /* the first in the index's order, whichever thread saw it */
			return nl_errf(en->err, "%s", en->errmsg ? en->errmsg : "out of memory");
		e = post_outputs(s, en);
	}
	for (size_t k = 1; !e && k <= pages; k++)
		e = index_page(s, k, pages);
	if (!e && !(e = subscribe_page(s)) && !(e = feed(s)))
		e = sitemap(s, pages);
	return e;
}

/* ---- the folder ---- */

/* True if path is dir or below it (both resolved). */
static bool within(const char *path, const char *dir)
{
	size_t k = strlen(dir);
	return !strncmp(path, dir, k) && (path[k] == '/' || !path[k] || (k == 1 && *dir == '/'));
}

/* Never /, $HOME, or the posts (a build removes what it no longer has). */
static enum nl_err check_dir(struct site *s)
{
	char other[PATH_MAX];
	const char *home = getenv("HOME");
	enum nl_err e = nl_mkdirs(s->o->dir);
	if (e)
		return e;
	if (!realpath(s->o->dir, s->root))
		return nl_errf(NL_ECANTCREAT, "%s: %s", s->o->dir, strerror(errno));
	if (!strcmp(s->root, "/"))
		return nl_errf(NL_EUSAGE, "%s: the site may not be written to /", s->o->dir);
	if (home && *home && realpath(home, other) && !strcmp(other, s->root))
		return nl_errf(NL_EUSAGE, "%s: the site may not be written to your home folder: "
			       "give it a folder of its own (site.dir or -o)", s->o->dir);
	if (realpath(s->cfg->posts, other) && within(other, s->root))
		return nl_errf(NL_EUSAGE, "%s: holds the posts folder %s: give the site a folder "
			       "of its own (site.dir or -o)", s->o->dir, s->cfg->posts);
	return NL_OK;
}

static enum nl_err lock_dir(struct site *s, int *fd)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", s->root, LOCKFILE);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (*fd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: %s", path, strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB)) {
		close(*fd);
		*fd = -1;
		return nl_errf(NL_ELOCKED, "%s: another `newsletter site` is writing this folder; "
			       "try again when it finishes", s->o->dir);
	}
	return NL_OK;
}

/* A path the site may have written: relative, no "." or ".." parts, no empty ones. */
static bool safe_rel(const char *rel)
{
	if (!*rel || *rel == '/')
		return false;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (!n || (n == 1 && *p == '.') || (n == 2 && !strncmp(p, "..", 2)))
			return false;
		p += n + (p[n] == '/');
		if (p[-1] == '/' && !*p)
			return false;
	}
	return true;
}

/*
 * The folder of rel under the site, opened through real folders only (a
 * symlink on the way is refused, never followed); made when mk. *base
 * points at rel's last part. Returns an fd or -1 (errno set).
 */
static int open_parent(const struct site *s, const char *rel, bool mk, const char **base)
{
	int fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char part[NAME_MAX + 1];
	const char *p = rel;
	for (size_t n; fd >= 0 && p[n = strcspn(p, "/")] == '/'; p += n + 1) {
		if (n > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(part, p, n);
		part[n] = 0;
		if (mk && mkdirat(fd, part, 0755) && errno != EEXIST) {
			close(fd);
			return -1;
		}
		int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	*base = p;
	return fd;
}

/* ---- writing ---- */

/* True if the file at fd/name already holds data[0..len). */
static bool same_bytes(int dfd, const char *name, const char *data, size_t len)
{
	struct stat st;
	char buf[65536];
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool same = fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && (size_t)st.st_size == len;
	size_t at = 0;
	while (same && at < len) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > len - at || memcmp(buf, data + at, (size_t)n))
			same = false;
		else
			at += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	return same;
}

/* The bytes o stands for: its own, or its image file's (read again, checked by content). */
static enum nl_err out_bytes(const struct out *o, struct nl_buf *img, const char **data, size_t *len)
{
	const char *type;
	enum nl_err e;
	*data = o->data;
	*len = o->len;
	if (!o->src)
		return NL_OK;
	nl_buf_reset(img);
	if ((e = nl_image_read(o->what, o->src, img, &type)))
		return e;
	*data = img->data;
	*len = img->len;
	return NL_OK;
}

/* Whether o differs from what the folder has (o->changed). */
static enum nl_err compare_one(struct site *s, struct out *o, struct nl_buf *img)
{
	const char *data;
	size_t len;
	enum nl_err e;
	if (o->keep) {
		o->changed = false;
		return NL_OK;
	}
	if ((e = out_bytes(o, img, &data, &len)))
		return e;
	/* Only read here: a symlink on the way is refused when writing. */
	o->changed = !same_bytes(s->rootfd, o->rel, data, len);
	return NL_OK;
}

static enum nl_err write_one(struct site *s, const struct out *o, struct nl_buf *img)
{
	struct nl_buf path = NL_BUF_INIT, tmp = NL_BUF_INIT;
	const char *base, *data;
	size_t len;
	enum nl_err e = out_bytes(o, img, &data, &len);
	if (e)
		return e;
	int dfd = open_parent(s, o->rel, true, &base);
	if (dfd < 0)
		return nl_errf(NL_ECANTCREAT, "%s/%s: cannot make its folder (a symlink there is "
			       "never followed): %s", s->o->dir, o->rel, strerror(errno));
	close(dfd);
	nl_buf_addf(&path, "%s/%s", s->root, o->rel);
	nl_buf_add(&tmp, path.data, path.len - strlen(base));
	nl_buf_addf(&tmp, ".%s" TMP_SUFFIX, base);
	if (!(e = nl_buf_err(&path)) && !(e = nl_buf_err(&tmp)) &&
	    !(e = nl_write_replace(path.data, tmp.data, data, len)))
		s->st->written++;
	nl_buf_free(&path);
	nl_buf_free(&tmp);
	return e;
}

/* ---- what the site wrote: the manifest ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The previous build's list (empty if none), each line one relative path. */
static enum nl_err read_manifest(const struct site *s, struct nl_buf *raw, char ***list, size_t *n,
				 bool *complete)
{
	char path[PATH_MAX + 32];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", s->root, MANIFEST);
	*list = NULL;
	*n = 0;
	*complete = true;
	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? NL_OK : nl_errf(NL_ENOINPUT, "%s: %s", path, strerror(errno));
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
		nl_buf_add(raw, chunk, got);
	fclose(f);
	nl_buf_addc(raw, 0);
	if (nl_buf_err(raw))
		return nl_errf(NL_ENOMEM, "out of memory");
	*complete = !strncmp(raw->data, "# complete", 10);
	for (char *p = raw->data, *nl; *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		*nl = 0;
		if (*p == '#' || !safe_rel(p))
			continue;
		char **l = realloc(*list, (*n + 1) * sizeof *l);
		if (!l)
			return nl_errf(NL_ENOMEM, "out of memory");
		*list = l;
		l[(*n)++] = p;
	}
	return NL_OK;
}

static void manifest_text(struct nl_buf *m, const char *state, char **a, size_t na, char **b,
			  size_t nb)
{
	nl_buf_addf(m, "# %s: the files `newsletter site` wrote here; it removes them when the "
		    "site no longer has them\n", state);
	for (size_t i = 0; i < na; i++)
		nl_buf_addf(m, "%s\n", a[i]);
	for (size_t i = 0; i < nb; i++)
		nl_buf_addf(m, "%s\n", b[i]);
}

/* Written with fsync: the one file whose loss would leave files nobody removes. */
static enum nl_err write_manifest(const struct site *s, const struct nl_buf *m)
{
	struct nl_buf path = NL_BUF_INIT;
	nl_buf_addf(&path, "%s/%s", s->root, MANIFEST);
	enum nl_err e = nl_buf_err(m) || nl_buf_err(&path) ? nl_errf(NL_ENOMEM, "out of memory")
							    : nl_write_atomic(path.data, m->data, m->len);
	nl_buf_free(&path);
	return e;
}

/* Unlink rel (no symlink followed on the way), then its folders while they are empty. */
static bool remove_rel(const struct site *s, const char *rel)
{
	const char *base;
	char dir[PATH_MAX];
	int dfd = open_parent(s, rel, false, &base);
	bool gone = dfd >= 0 && !unlinkat(dfd, base, 0);
	if (dfd >= 0)
		close(dfd);
	snprintf(dir, sizeof dir, "%s", rel);
	for (char *slash; (slash = strrchr(dir, '/'));) {
		*slash = 0;
		dfd = open_parent(s, dir, false, &base);
		if (dfd < 0)
			break;
		int r = unlinkat(dfd, base, AT_REMOVEDIR);
		close(dfd);
		if (r)
			break;
	}
	return gone;
}

/* Temporary files a killed build left beside the files it was writing. */
static void remove_tmps(const struct site *s, char **rels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *base;
		char name[NAME_MAX + 1];
		int dfd = open_parent(s, rels[i], false, &base);
		if (dfd < 0)
			continue;
		if ((size_t)snprintf(name, sizeof name, ".%s" TMP_SUFFIX, base) < sizeof name)
			unlinkat(dfd, name, 0);
		close(dfd);
	}
}

/* Compare everything first: a build that changes nothing writes nothing, not even the manifest. */
static enum nl_err compare_all(struct site *s, struct nl_buf *img, size_t *changed)
{
	enum nl_err e = NL_OK;
	*changed = 0;
	for (size_t i = 0; !e && i < s->nouts; i++) {
		if (!(e = compare_one(s, &s->outs[i], img)))
			*changed += s->outs[i].changed;
		else if (interrupted(s))
			e = nl_errf(NL_EINTERRUPTED, "interrupted; the site is as it was");
	}
	s->st->unchanged = s->nouts - *changed;
	return e;
}

static enum nl_err write_changed(struct site *s, struct nl_buf *img)
{
	enum nl_err e = NL_OK;
	for (size_t i = 0; !e && i < s->nouts; i++) {
		if (interrupted(s))
			e = nl_errf(NL_EINTERRUPTED, "interrupted; every file is whole, old or new");
		else if (s->outs[i].changed)
			e = write_one(s, &s->outs[i], img);
	}
	return e;
}

static enum nl_err write_all(struct site *s)
{
	struct nl_buf raw = NL_BUF_INIT, img = NL_BUF_INIT, m = NL_BUF_INIT;
	char **old = NULL, **now = calloc(s->nouts ? s->nouts : 1, sizeof *now);
	size_t nold = 0, changed = 0;
	bool complete = true;
	enum nl_err e = now ? read_manifest(s, &raw, &old, &nold, &complete)
			    : nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; now && i < s->nouts; i++)
		now[i] = s->outs[i].rel;
	if (!e)
		e = compare_all(s, &img, &changed);
	if (e)
		goto out;
	qsort(now, s->nouts, sizeof *now, cmp_str);
	manifest_text(&m, "complete", now, s->nouts, NULL, 0);
	/* raw ends in the NUL read_manifest added, and its lines were cut in place: compare lengths and lists. */
	if (!changed && complete && nold == s->nouts && !nl_buf_err(&m) && raw.len == m.len + 1) {
		bool same = true;
		for (size_t i = 0; same && i < nold; i++)
			same = !strcmp(old[i], now[i]);
		if (same)
			goto out;
	}
	if (!complete)
		remove_tmps(s, old, nold);
	/* Old and new both listed while writing, so a killed build leaves nothing unowned. */
	struct nl_buf building = NL_BUF_INIT;
	manifest_text(&building, "building", old, nold, now, s->nouts);
	e = write_manifest(s, &building);
	nl_buf_free(&building);
	if (!e && !(e = write_changed(s, &img))) {
		for (size_t i = 0; i < nold; i++)
			if (!bsearch(&old[i], now, s->nouts, sizeof *now, cmp_str) &&
			    remove_rel(s, old[i]))
				s->st->removed++;
		e = write_manifest(s, &m);
	}
out:
	free(old);
	free(now);
	nl_buf_free(&raw);
	nl_buf_free(&img);
	nl_buf_free(&m);
	return e;
}

/* ---- the build ---- */

static void site_free(struct site *s)
{
	for (size_t i = 0; i < s->nents; i++) {
		struct entry *e = &s->ents[i];
		for (size_t k = 0; k < e->nimgs; k++) {
			free(e->imgs[k].src);
			free(e->imgs[k].file);
			free(e->imgs[k].what);
		}
		free(e->imgs);
		free(e->html);
		free(e->og_image);
		free(e->page);
		free(e->errmsg);
	}
	free(s->ents);
	for (size_t i = 0; i < s->nouts; i++) {
		free(s->outs[i].rel);
		free(s->outs[i].data);
	}
	free(s->outs);
	free(s->recs);
	nl_buf_free(&s->cache);
	nl_tmpl_free(s->page_t);
	nl_tmpl_free(s->index_t);
}

enum nl_err nl_site_build(const struct nl_site_opts *o, struct nl_site_stats *st)
{
	struct site s = {.o = o, .cfg = o->cfg, .st = st, .rootfd = -1, .started = (long long)time(NULL)};
	struct nl_schedule sch = {0};
	struct nl_schedule_opts so = {.cfg = o->cfg, .now = o->now};
	int lock = -1;
	enum nl_err e;
	memset(st, 0, sizeof *st);
	if (!*o->cfg->base_url)
		return nl_errf(NL_ECONFIG, "%s: the site needs base_url (where it will be served)",
			       *o->cfg->path ? o->cfg->path : "config");
	if ((e = check_dir(&s)) || (e = lock_dir(&s, &lock)))
		goto out;
	if ((s.rootfd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = nl_errf(NL_ENOINPUT, "%s: %s", s.o->dir, strerror(errno));
		goto out;
	}
	if ((e = load_templates(&s)) || (e = nl_schedule_load(&so, &sch)) || (e = collect(&s, &sch)) ||
	    (e = render_all(&s)))
		goto out;
	st->posts = s.nents;
	if (!(e = write_all(&s)))
		cache_save(&s);
out:
	if (s.rootfd >= 0)
		close(s.rootfd);
	site_free(&s);
	nl_schedule_free(&sch);
	if (lock >= 0)
		close(lock);
	return e;
}
