/* campaign.c - prepare a post once, then splice each reader's fields into pre-encoded parts. */
#include "campaign.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "addr.h"
#include "csv.h"
#include "datetime.h"
#include "dkim.h"
#include "htmlfix.h"
#include "images.h"
#include "lang.h"
#include "log.h"
#include "mime.h"
#include "render.h"
#include "template.h"
#include "utf8.h"

/* Fields that change per reader; subscriber columns follow as F_COL + i. */
enum { F_EMAIL, F_NAME, F_UNSUB, F_COL };
#define NFIELDS (F_COL + NL_CSV_MAX_FIELDS)

/* The name space for name-based (SHA-1) Message-IDs, so they are stable across runs. */
static const uuid_t ns_msgid = {0x6e, 0x6c, 0x2d, 0x6d, 0x73, 0x67, 0x49, 0x64,
				0x8a, 0x1e, 0x3c, 0x51, 0x7b, 0x02, 0x9d, 0x44};

struct image {
	char *url;	/* as written in the post */
	char *path;	/* resolved file */
	char *cid;	/* Content-ID when embedded */
};

/* A bound template with its literals already quoted-printable encoded. */
struct part {
	struct nl_residual *res;
	struct nl_str *qp; /* per segment: the encoded literal */
	struct nl_buf enc;
};

struct nl_campaign {
	struct nl_campaign_opts o;
	enum nl_image_mode mode;
	struct image *images;
	size_t nimages;
	char *domain;
	struct part html, text;
	struct nl_message *head;	/* header fields before the reader's own */
	struct nl_message *mime;	/* and after them */
	struct nl_buf pre_text, mid, tail; /* the body around the text and HTML parts */
	size_t ncols;
	char colnames[NL_CSV_MAX_FIELDS][64];
	struct nl_dkim *dkim;		/* NULL: messages go unsigned */
	struct nl_buf notes;		/* warnings for the writer, one a line */
};

/* ---- images ---- */

static bool is_absolute_url(const char *u)
{
	const char *p = u;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '+' || *p == '-' || *p == '.')
		p++;
	return (p > u && *p == ':') || !strncmp(u, "//", 2);
}

/* Only image files inside the post's folder or images_dir: a post must not
 * be able to mail out ../secret-file. */
static enum nl_err image_found(struct nl_campaign *c, const char *url, int line, struct image **out)
{
	struct nl_image_place pl = {c->o.post->path, c->o.post->dir, c->o.cfg->images_dir};
	const char *type = NULL;
	char *path = NULL;
	for (size_t i = 0; i < c->nimages; i++) {
		if (!strcmp(c->images[i].url, url)) {
			*out = &c->images[i];
			return NL_OK;
		}
	}
	enum nl_err e = nl_image_locate(&pl, url, line, &path);
	/* "a.png", "./a.png" and "x/../a.png" are one image: read and attached once. */
	for (size_t i = 0; !e && i < c->nimages; i++) {
		if (!strcmp(c->images[i].path, path)) {
			free(path);
			*out = &c->images[i];
			return NL_OK;
		}
	}
	if (!e)
		e = nl_image_check(&pl, url, line, path, &type);
	if (e) {
		free(path);
		return e;
	}
	struct image *im = realloc(c->images, (c->nimages + 1) * sizeof *im);
	if (!im) {
		free(path);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	c->images = im;
	im = &c->images[c->nimages++];
	im->path = path;
	im->url = strdup(url);
	im->cid = NULL;
	*out = im;
	return im->url ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

void nl_campaign_image_file(const char *url, struct nl_buf *out)
{
	size_t base = out->len;
	while (*url) {
		size_t n = strcspn(url, "/");
		if (n == 2 && !memcmp(url, "..", 2)) {
			/* Up from the top stays at the top: the site has nothing above SLUG/. */
			const char *up = memrchr(out->data + base, '/', out->len - base);
			nl_buf_truncate(out, up ? (size_t)(up - out->data) : base);
		} else if (n && !(n == 1 && *url == '.')) {
			if (out->len > base)
				nl_buf_addc(out, '/');
			nl_buf_add(out, url, n);
		}
		url += n + (url[n] == '/');
	}
}

void nl_url_path_escape(struct nl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~/", ch))
			nl_buf_addc(b, (char)ch);
		else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			nl_buf_add(b, esc, 3);
		}
	}
}

static enum nl_err image_cb(void *ctx, const char *url, int line, char **out)
{
	struct nl_campaign *c = ctx;
	struct image *im = NULL;
	struct nl_buf b = NL_BUF_INIT;
	enum nl_err e;
	if (is_absolute_url(url) || !*url)
		return NL_OK;
	if ((e = image_found(c, url, line, &im)))
		return e;
	if (c->mode == NL_IMG_LOCAL) {
		/* An absolute path: cmark blanks file: URLs, and a page opened from
		 * disk resolves "/..." against file:// anyway. */
		nl_buf_adds(&b, im->path); /* already resolved */
	} else if (c->mode == NL_IMG_LINK) {
		/* Under the post's own path, so that one issue's cover.png never
		 * replaces another's in readers' inboxes; the site copies it there. */
		struct nl_buf file = NL_BUF_INIT;
		nl_campaign_image_file(url, &file);
		nl_buf_addf(&b, "%s/", c->o.cfg->base_url);
		nl_url_path_escape(&b, c->o.post->slug);
		nl_buf_addc(&b, '/');
		nl_url_path_escape(&b, file.data);
		nl_buf_free(&file);
	} else {
		if (!im->cid) {
			nl_buf_addf(&b, "img%zu.%s@%s", (size_t)(im - c->images) + 1, c->o.post->slug,
				    c->domain);
			im->cid = nl_buf_detach(&b, NULL);
			if (!im->cid)
				return nl_errf(NL_ENOMEM, "out of memory");
		}
		nl_buf_addf(&b, "cid:%s", im->cid);
	}
	*out = nl_buf_detach(&b, NULL);
	return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

/* The file name a reader sees when saving the image: the last segment of
 * the URL the writer used (query and fragment cut off). */
static void image_name(const struct image *im, struct nl_buf *out)
{
	const char *u = im->url, *end = u + strcspn(u, "?#"), *base = u;
	for (const char *p = u; p < end; p++)
		if (*p == '/')
			base = p + 1;
	if (base == end) { /* "dir/": fall back on the file's own name */
		base = strrchr(im->path, '/') ? strrchr(im->path, '/') + 1 : im->path;
		end = base + strlen(base);
	}
	nl_buf_add(out, base, (size_t)(end - base));
}

/* Named both ways (Content-Type name for old readers, Content-Disposition
 * filename per RFC 2183), RFC 2231-encoded when not plain ASCII; folded. */
static void image_part_headers(struct nl_campaign *c, const struct image *im, const char *type)
{
	struct nl_buf name = NL_BUF_INIT, v = NL_BUF_INIT;
	image_name(im, &name);
	nl_buf_adds(&v, type);
	nl_mime_param(&v, "name", name.data);
	nl_hdr_raw(&c->tail, "Content-Type", v.data);
	nl_buf_adds(&c->tail, "Content-Transfer-Encoding: base64\r\n");
	nl_buf_reset(&v);
	nl_buf_addf(&v, "<%s>", im->cid);
	nl_hdr_raw(&c->tail, "Content-ID", v.data);
	nl_buf_reset(&v);
	nl_buf_adds(&v, "inline");
	nl_mime_param(&v, "filename", name.data);
	nl_hdr_raw(&c->tail, "Content-Disposition", v.data);
	nl_buf_adds(&c->tail, "\r\n");
	if (name.failed || v.failed)
		c->tail.failed = true;
	nl_buf_free(&name);
	nl_buf_free(&v);
}

static enum nl_err attach_images(struct nl_campaign *c, const char *outer)
{
	size_t total = 0;
	for (size_t i = 0; i < c->nimages; i++) {
		struct image *im = &c->images[i];
		struct nl_buf data = NL_BUF_INIT, what = NL_BUF_INIT;
		const char *type = NULL;
		/* Read again and typed by what is read, not by what was checked. */
		nl_buf_addf(&what, "%s: image '%s'", c->o.post->path, im->url);
		enum nl_err e = nl_buf_err(&what);
		if (!e)
			e = nl_image_read(what.data, im->path, &data, &type);
		nl_buf_free(&what);
		if (!e && (total += data.len) > NL_IMAGES_TOTAL)
			e = nl_errf(NL_EDATA, "%s: images add up to more than %zu bytes: at most %zu",
				    c->o.post->path, NL_IMAGES_TOTAL, NL_IMAGES_TOTAL);
		if (e) {
			nl_buf_free(&data);
			return e;
		}
		nl_buf_addf(&c->tail, "--%s\r\n", outer);
		image_part_headers(c, im, type);
		nl_base64_encode(&c->tail, data.data, data.len);
		nl_buf_free(&data);
	}
	nl_buf_addf(&c->tail, "--%s--\r\n", outer);
	return nl_buf_err(&c->tail);
}

/* Outlook for Windows shows neither (a red cross or nothing); the writer should know. */
static void note_format(struct nl_campaign *c, const char *url, int line, const char *type)
{
	const char *what = !strcmp(type, "image/webp") ? "WebP" : !strcmp(type, "image/svg+xml") ? "SVG" : NULL;
	if (what)
		nl_buf_addf(&c->notes, "%s:%d: image '%s' is %s, which Outlook for Windows does not show; "
			    "PNG, JPEG or GIF show everywhere\n", c->o.post->path, line, url, what);
}

/* An absolute URL's type by its ending, as far as a path can tell. */
static const char *url_type(const char *url)
{
	size_t n = strcspn(url, "?#");
	if (n >= 5 && !strncasecmp(url + n - 5, ".webp", 5))
		return "image/webp";
	if (n >= 4 && !strncasecmp(url + n - 4, ".svg", 4))
		return "image/svg+xml";
	return "";
}

/* width and height for the HTML: the file's own size, no wider than the column. */
static void image_size_cb(void *ctx, const char *url, int line, unsigned *w, unsigned *h)
{
	struct nl_campaign *c = ctx;
	struct nl_buf data = NL_BUF_INIT;
	const char *type = NULL;
	struct image *im = NULL;

	if (is_absolute_url(url) || !*url) { /* not a file of ours */
		note_format(c, url, line, url_type(url));
		return;
	}
	/* found already by image_cb ("./a.png" and "a.png" are one image) */
	if (image_found(c, url, line, &im))
		return;
	/* a file that cannot be read now fails the send later, with its message */
	if (!nl_image_read(url, im->path, &data, &type)) {
		note_format(c, url, line, type);
		if (nl_image_size((const unsigned char *)data.data, data.len, w, h) &&
		    *w > NL_HTML_COLUMN) {
			*h = (unsigned)(((unsigned long long)*h * NL_HTML_COLUMN + *w / 2) / *w);
			*h += !*h;
			*w = NL_HTML_COLUMN;
		}
	}
	nl_buf_free(&data);
}

/* ---- template context ---- */

static int dyn_field(void *ctx, const char *name)
{
	struct nl_campaign *c = ctx;
	if (!strcmp(name, "unsubscribe_url"))
		return F_UNSUB;
	if (strncmp(name, "subscriber.", 11))
		return -1;
	name += 11;
	if (!strcmp(name, "email"))
		return F_EMAIL;
	if (!strcmp(name, "name"))
		return F_NAME;
	for (size_t i = 0; i < c->ncols; i++)
		if (!strcasecmp(c->colnames[i], name))
			return (int)(F_COL + i);
	return -1;
}

static enum nl_err put_str(struct nl_ynode *map, const char *key, const char *v)
{
	return nl_ynode_put(map, key, nl_ynode_scalar(v));
}

/* The post's language (front matter lang), else the publication's, else "en". */
static const char *post_lang(const struct nl_config *cfg, const struct nl_post *p)
{
	const struct nl_ynode *pub = nl_ynode_get(cfg->root, "publication");
	const struct nl_ynode *pl = pub ? nl_ynode_get(pub, "language") : NULL;
	return p->lang && *p->lang ? p->lang : pl && pl->kind == NL_Y_SCALAR && *pl->text ? pl->text : "en";
}

static enum nl_err build_context(struct nl_campaign *c, struct nl_ynode **out)
{
	return nl_campaign_context(c->o.cfg, c->o.post, out);
}

enum nl_err nl_campaign_context(const struct nl_config *cfg, const struct nl_post *p,
				struct nl_ynode **out)
{
	struct nl_ynode *ctx = nl_ynode_clone(p->meta);
	const struct nl_ynode *pubsrc = nl_ynode_get(cfg->root, "publication");
	struct nl_ynode *pub = pubsrc ? nl_ynode_clone(pubsrc) : nl_ynode_map();
	char web[1024] = "", when[64] = "";
	enum nl_err e;
	if (!ctx || !pub) {
		nl_ynode_free(ctx);
		nl_ynode_free(pub);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	if (*cfg->base_url)
		snprintf(web, sizeof web, "%s/%s/", cfg->base_url, p->slug);
	if (!nl_ynode_get(pub, "language") && (e = put_str(pub, "language", "en"))) {
		nl_ynode_free(ctx);
		nl_ynode_free(pub);
		return e;
	}
	/* The post's language and direction, else the publication's: {{lang}}, {{dir}}. */
	const char *lang = post_lang(cfg, p);
	const char *dir = p->direction && *p->direction ? p->direction : nl_lang_dir(lang);
	if (p->date != (time_t)-1)
		nl_lang_long_date(p->date, lang, when, sizeof when);
	if ((e = put_str(ctx, "lang", lang)) || (e = put_str(ctx, "dir", dir))) {
		nl_ynode_free(ctx);
		nl_ynode_free(pub);
		return e;
	}
	if ((e = put_str(pub, "name", cfg->name)) || (e = put_str(pub, "address", cfg->address)) ||
	    (e = nl_ynode_put(ctx, "publication", pub)) || (e = put_str(ctx, "slug", p->slug)) ||
	    (e = put_str(ctx, "title", p->title)) || (e = put_str(ctx, "description", p->description)) ||
	    (e = put_str(ctx, "date", p->date_text)) || (e = put_str(ctx, "date_long", when)) ||
	    (e = put_str(ctx, "web_url", web)) || (e = put_str(ctx, "subscribe_url", cfg->subscribe_url)) ||
	    (e = put_str(ctx, "content", ""))) {
		nl_ynode_free(ctx);
		return e;
	}
	*out = ctx;
	return NL_OK;
}

/* ---- parts ---- */

/*
 * For the text template: title and description wrapped as the body is
 * (72 display columns), and {{title_underline}}, a row of '=' as wide as
 * the title's longest line looks in a monospaced font.
 */
static enum nl_err text_fields(struct nl_campaign *c, struct nl_ynode *ctx)
{
	const struct nl_post *p = c->o.post;
	struct nl_buf d = NL_BUF_INIT, t = NL_BUF_INIT, u = NL_BUF_INIT;
	size_t w = 0;
	enum nl_err e;
	nl_text_wrap(p->description, strlen(p->description), 72, &d);
	nl_text_wrap(p->title, strlen(p->title), 72, &t);
	for (const char *l = t.data, *nl; l; l = nl ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		size_t lw = nl_utf8_width(l, nl ? (size_t)(nl - l) : strlen(l));
		w = lw > w ? lw : w;
	}
	for (size_t i = 0; i < w; i++)
		nl_buf_addc(&u, '=');
	if ((e = nl_buf_err(&d)) || (e = nl_buf_err(&t)) || (e = nl_buf_err(&u)) ||
	    (e = put_str(ctx, "description", d.data)) || (e = put_str(ctx, "title", t.data)))
		goto out;
	e = put_str(ctx, "title_underline", u.data);
out:
	nl_buf_free(&d);
	nl_buf_free(&t);
	nl_buf_free(&u);
	return e;
}

/* dir/file into path if it exists and fits. */
static bool try_template(const char *dir, const char *file, char *path, size_t cap)
{
	struct stat st;
	size_t d = strlen(dir), f = strlen(file);
	if (d + 1 + f >= cap)
		return false;
	char try[PATH_MAX];
	memcpy(try, dir, d);
	try[d] = '/';
	memcpy(try + d + 1, file, f + 1);
	if (stat(try, &st))
		return false;
	memcpy(path, try, d + f + 2);
	return true;
}

/*
 * Without a templates folder of their own, writers get the installed ones:
 * PREFIX/share/newsletter/templates, found next to the binary (so that
 * `make install PREFIX=...` works whatever PREFIX the build had), else the
 * compiled-in data folder. path is left as it was if neither has the file.
 */
static void installed_template(const char *file, char *path, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 40);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			memcpy(slash, "/../share/newsletter/templates", 31);
			if (try_template(exe, file, path, cap < PATH_MAX ? cap : PATH_MAX))
				return;
		}
	}
	try_template(NL_DATADIR "/templates", file, path, cap < PATH_MAX ? cap : PATH_MAX);
}

void nl_campaign_template_path(const struct nl_config *cfg, const char *file, char *path,
			       size_t cap)
{
	struct stat st;
	snprintf(path, cap, "%s/%s", cfg->templates, file);
	if (stat(path, &st))
		installed_template(file, path, cap);
}

static void find_partial(const void *ctx, const char *file, char *path, size_t cap)
{
	nl_campaign_template_path(ctx, file, path, cap);
}

enum nl_err nl_campaign_load_template(const struct nl_config *cfg, const char *file, bool html,
				      char *path, size_t cap, struct nl_tmpl **out)
{
	nl_campaign_template_path(cfg, file, path, cap);
	return nl_tmpl_load_with(path, html, find_partial, cfg, out);
}

static enum nl_err bind_part(struct nl_campaign *c, struct part *pt, const char *file, bool html,
			     struct nl_ynode *ctx, const char *content)
{
	struct nl_tmpl *t = NULL;
	enum nl_err e;
	char path[PATH_MAX];
	if (!html && (e = text_fields(c, ctx)))
		return e;
	if ((e = put_str(ctx, "content", content)) ||
	    (e = nl_campaign_load_template(c->o.cfg, file, html, path, sizeof path, &t)))
		return e;
	e = nl_tmpl_bind(t, ctx, dyn_field, c, &pt->res);
	nl_tmpl_free(t);
	if (e)
		return e;
	if (!(pt->qp = calloc(pt->res->n ? pt->res->n : 1, sizeof *pt->qp)))
		return nl_errf(NL_ENOMEM, "out of memory");
	nl_buf_init(&pt->enc);
	size_t *offs = calloc(pt->res->n ? pt->res->n : 1, sizeof *offs);
	if (!offs)
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < pt->res->n; i++) {
		const struct nl_rseg *s = &pt->res->segs[i];
		offs[i] = pt->enc.len;
		if (s->kind == NL_RSEG_LIT)
			nl_qp_encode(&pt->enc, pt->res->lits.data + s->off, s->len, true);
		pt->qp[i].len = pt->enc.len - offs[i];
	}
	for (size_t i = 0; i < pt->res->n; i++) /* enc may have moved while growing */
		pt->qp[i].p = pt->enc.data + offs[i];
	free(offs);
	return nl_buf_err(&pt->enc);
}

static void free_part(struct part *pt)
{
	nl_residual_free(pt->res);
	free(pt->qp);
	if (pt->qp)
		nl_buf_free(&pt->enc);
}

static enum nl_err build_parts(struct nl_campaign *c)
{
	const char *lang = post_lang(c->o.cfg, c->o.post);
	struct nl_buf html = NL_BUF_INIT, text = NL_BUF_INIT, styled = NL_BUF_INIT;
	struct nl_ynode *ctx = NULL;
	struct nl_render_opts ro = {.unsafe_html = c->o.cfg->allow_html, .wrap = 72,
				    .image = image_cb, .image_ctx = c, .name = c->o.post->path,
				    .first_line = c->o.post->body_line, .image_size = image_size_cb,
				    .notes_label = nl_lang_word(lang, NL_WORD_NOTES),
				    .links_label = nl_lang_word(lang, NL_WORD_LINKS)};
	enum nl_err e = nl_render(c->o.post->body, c->o.post->body_len, &ro, &html, &text);
	if (!e) /* inline styles, scrolling tables, email-safe task lists and notes */
		nl_html_email(html.data, html.len, ro.notes_label, &styled);
	if (!e && !(e = nl_buf_err(&styled)) && !(e = nl_buf_err(&text)) && !(e = build_context(c, &ctx)))
		if (!(e = bind_part(c, &c->html, "email.html", true, ctx, styled.data)))
			e = bind_part(c, &c->text, "email.txt", false, ctx, text.data);
	nl_ynode_free(ctx);
	nl_buf_free(&styled);
	nl_buf_free(&html);
	nl_buf_free(&text);
	return e;
}

/* ---- headers and the skeleton ---- */

static enum nl_err static_headers(struct nl_campaign *c, const char *alt)
{
	const struct nl_config *cfg = c->o.cfg;
	struct nl_message *h = c->head;
	char date[NL_TIME_RFC5322_LEN + 1];
	struct nl_buf v;
	enum nl_err e;
	nl_buf_init(&v);
	nl_time_rfc5322(c->o.now, date);
	nl_buf_addf(&v, "%s%s", c->o.test ? "[TEST] " : "", c->o.post->title);
	if ((e = nl_message_hdr_addr(h, NL_HDR_APPEND, "From", cfg->from_name, cfg->from_addr)) ||
	    (*cfg->reply_to && (e = nl_message_hdr_addr(h, NL_HDR_APPEND, "Reply-To", "", cfg->reply_to))) ||
	    (e = nl_buf_err(&v)) || (e = nl_message_hdr_text(h, NL_HDR_APPEND, "Subject", v.data)) ||
	    (e = nl_message_hdr_raw(h, NL_HDR_APPEND, "Date", date)) ||
	    (e = nl_message_hdr_raw(h, NL_HDR_APPEND, "MIME-Version", "1.0")))
		goto out;
	nl_buf_reset(&v);
	nl_buf_addf(&v, "%s <%s>", cfg->name, cfg->list_id);
	if ((e = nl_buf_err(&v)) || (e = nl_message_hdr_text(h, NL_HDR_APPEND, "List-Id", v.data)))
		goto out;
	if (*cfg->unsubscribe_url &&
	    (e = nl_message_hdr_raw(h, NL_HDR_APPEND, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")))
		goto out;
	/* multipart/alternative on top, embedded images or not: see skeleton(). */
	nl_buf_reset(&v);
	nl_buf_addf(&v, "multipart/alternative; boundary=\"%s\"", alt);
	if (!(e = nl_buf_err(&v)))
		e = nl_message_hdr_raw(c->mime, NL_HDR_APPEND, "Content-Type", v.data);
out:
	nl_buf_free(&v);
	return e;
}

/*
 * The body around the two parts; it starts after the header's blank line.
 * With embedded images the HTML and its images are a multipart/related
 * inside the multipart/alternative, after the text part (RFC 2387):
 * text readers then show the text alone, with no image "attachments"
 * after it, and HTML readers resolve every cid: inside the related part.
 * The images themselves (tail) follow the HTML; attach_images() closes the
 * related part, finish_skeleton() the alternative.
 */
static void skeleton(struct nl_campaign *c, const char *outer, const char *alt, bool related)
{
	const char *qp = "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
	nl_buf_adds(&c->pre_text, "This is a multi-part message in MIME format.\r\n");
	nl_buf_addf(&c->pre_text, "\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n%s", alt, qp);
	nl_buf_addf(&c->mid, "\r\n--%s\r\n", alt);
	if (related)
		nl_buf_addf(&c->mid, "Content-Type: multipart/related; type=\"text/html\";\r\n"
				     " boundary=\"%s\"\r\n\r\n--%s\r\n", outer, outer);
	nl_buf_addf(&c->mid, "Content-Type: text/html; charset=utf-8\r\n%s", qp);
	if (related)
		nl_buf_adds(&c->tail, "\r\n");
}

static void finish_skeleton(struct nl_campaign *c, const char *alt)
{
	nl_buf_addf(&c->tail, "\r\n--%s--\r\n", alt);
}

static enum nl_err prepare(struct nl_campaign *c)
{
	enum nl_err e;
	char outer[48], alt[48];
	const char *dom = *c->o.cfg->from_addr ? nl_addr_domain(c->o.cfg->from_addr) : "localhost";
	if (!(c->domain = strdup(dom)))
		return nl_errf(NL_ENOMEM, "out of memory");
	if ((e = build_parts(c)))
		return e;
	bool related = c->mode == NL_IMG_EMBED && c->nimages > 0;
	nl_mime_boundary(outer, c->o.post->slug, strlen(c->o.post->slug));
	nl_mime_boundary(alt, outer, strlen(outer));
	if ((e = static_headers(c, alt)))
		return e;
	skeleton(c, outer, alt, related);
	if (related && (e = attach_images(c, outer)))
		return e;
	finish_skeleton(c, alt);
	if ((e = nl_buf_err(&c->pre_text)) ||
	    (e = nl_buf_err(&c->mid)) || (e = nl_buf_err(&c->tail)))
		return e;
	return NL_OK;
}

enum nl_err nl_campaign_new(const struct nl_campaign_opts *o, struct nl_campaign **out)
{
	struct nl_campaign *c = calloc(1, sizeof *c);
	enum nl_err e;
	*out = NULL;
	if (!c)
		return nl_errf(NL_ENOMEM, "out of memory");
	c->o = *o;
	nl_buf_init(&c->pre_text);
	nl_buf_init(&c->mid);
	nl_buf_init(&c->tail);
	nl_buf_init(&c->notes);
	if (!(c->head = nl_message_new()) || !(c->mime = nl_message_new())) {
		nl_campaign_free(c);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	if (o->local_images)
		c->mode = NL_IMG_LOCAL;
	else if (o->cfg->images == NL_IMAGES_EMBED || (o->cfg->images == NL_IMAGES_AUTO && !*o->cfg->base_url))
		c->mode = NL_IMG_EMBED;
	else
		c->mode = NL_IMG_LINK;
	if (c->mode == NL_IMG_LINK && !*o->cfg->base_url) {
		nl_campaign_free(c);
		return nl_errf(NL_ECONFIG, "%s: 'images: link' needs 'base_url'", o->cfg->path);
	}
	for (size_t i = 0; o->list && i < nl_list_ncols(o->list) && i < NL_CSV_MAX_FIELDS; i++) {
		snprintf(c->colnames[i], sizeof c->colnames[i], "%s", nl_list_colname(o->list, i));
		c->ncols++;
	}
	/* Keys are read once per campaign; local previews are never mail, so never signed. */
	if ((e = prepare(c)) || (!o->local_images && (e = nl_dkim_load(o->cfg, &c->dkim)))) {
		nl_campaign_free(c);
		return e;
	}
	*out = c;
	return NL_OK;
}

void nl_campaign_free(struct nl_campaign *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nimages; i++) {
		free(c->images[i].url);
		free(c->images[i].path);
		free(c->images[i].cid);
	}
	free(c->images);
	free(c->domain);
	nl_dkim_free(c->dkim);
	free_part(&c->html);
	free_part(&c->text);
	nl_message_free(c->head);
	nl_message_free(c->mime);
	nl_buf_free(&c->pre_text);
	nl_buf_free(&c->mid);
	nl_buf_free(&c->tail);
	nl_buf_free(&c->notes);
	free(c);
}

const char *nl_campaign_notes(const struct nl_campaign *c)
{
	return c->notes.failed || !c->notes.data ? "" : c->notes.data;
}

void nl_campaign_html_size(const struct nl_campaign *c, size_t *html, size_t *encoded)
{
	const char *fields[NFIELDS] = {0};
	struct nl_buf b = NL_BUF_INIT, qp = NL_BUF_INIT;

	nl_residual_eval(c->html.res, fields, &b);
	nl_qp_encode(&qp, b.data, b.len, true);
	*html = b.len;
	*encoded = qp.len;
	nl_buf_free(&b);
	nl_buf_free(&qp);
}

enum nl_image_mode nl_campaign_image_mode(const struct nl_campaign *c, int *attached)
{
	if (attached)
		*attached = c->mode == NL_IMG_EMBED ? (int)c->nimages : 0;
	return c->mode;
}

/* ---- per reader ---- */

static void lower_email(const char *e, char *out, size_t cap)
{
	size_t i = 0;
	for (; e[i] && i + 1 < cap; i++)
		out[i] = (e[i] >= 'A' && e[i] <= 'Z') ? (char)(e[i] + 32) : e[i];
	out[i] = 0;
}

static void uuid_for(const uuid_t ns, const char *a, const char *b, const char *email, char out[37])
{
	char name[1024], low[320];
	uuid_t u;
	lower_email(email, low, sizeof low);
	int n = snprintf(name, sizeof name, "%s%c%s%c%s", a, 0, b, 0, low);
	uuid_generate_sha1(u, ns, name, n > 0 && (size_t)n < sizeof name ? (size_t)n : sizeof name - 1);
	uuid_unparse_lower(u, out);
}

static void url_escape(struct nl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch))
			nl_buf_addc(b, (char)ch);
		else {
			char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			nl_buf_add(b, esc, 3);
		}
	}
}

/* The reader's unsubscribe token: from the list, else derived from the address. */
static void token_for(const struct nl_campaign *c, const struct nl_sub *sub,
		      char out[NL_TOKEN_LEN + 1], const char **tok)
{
	if (*sub->token) {
		*tok = sub->token;
		return;
	}
	nl_token_derived(c->o.cfg->secret, c->o.cfg->list_id, sub->email, out);
	*tok = out;
}

static void fill_fields(const struct nl_campaign *c, const struct nl_sub *sub, struct nl_buf *unsub,
			const char **fields)
{
	char derived[NL_TOKEN_LEN + 1];
	const char *tok;
	token_for(c, sub, derived, &tok);
	if (*c->o.cfg->unsubscribe_url) {
		nl_buf_adds(unsub, c->o.cfg->unsubscribe_url);
		url_escape(unsub, tok);
	}
	nl_buf_addc(unsub, 0);
	nl_buf_addf(unsub, "mailto:%s?subject=unsubscribe%%20", c->o.cfg->unsubscribe_email);
	url_escape(unsub, tok);
	fields[F_EMAIL] = sub->email;
	fields[F_NAME] = sub->name;
	/* Without an https unsubscribe page, the mailto: is the link. */
	fields[F_UNSUB] = *unsub->data ? unsub->data : unsub->data + 1;
	for (size_t i = 0; i < c->ncols; i++)
		fields[F_COL + i] = sub->cols ? sub->cols[i] : "";
}

/* A bound part for one reader: literals are borrowed, fields encoded into m's own bytes. */
static void eval_qp(const struct part *pt, size_t i, size_t end, const char *const *fields,
		    struct nl_message *m, struct nl_buf *tmp)
{
	while (i < end) {
		const struct nl_rseg *s = &pt->res->segs[i];
		const char *v = fields[s->field] ? fields[s->field] : "";
		switch (s->kind) {
		case NL_RSEG_LIT:
			nl_message_body_ref(m, pt->qp[i].p, pt->qp[i].len);
			break;
		case NL_RSEG_FIELD:
			if (!*v)
				break;
			nl_buf_reset(tmp);
			if (s->escape)
				nl_html_escape(tmp, v, strlen(v));
			else
				nl_buf_adds(tmp, v);
			nl_qp_encode(nl_message_body_buf(m), tmp->data, tmp->len, true);
			break;
		case NL_RSEG_SECTION:
			if (nl_field_truthy(v) != s->inverted)
				eval_qp(pt, i + 1, s->end, fields, m, tmp);
			i = s->end;
			continue;
		}
		i++;
	}
}

static enum nl_err reader_headers(const struct nl_campaign *c, const struct nl_sub *sub,
				  const char *unsub_https, const char *unsub_mailto,
				  struct nl_message *m, struct nl_buf *lu)
{
	char uuid[37], msgid[NL_MSGID_MAX];
	enum nl_err e;
	if (c->o.test) {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, uuid);
	} else {
		uuid_for(ns_msgid, c->o.cfg->list_id, c->o.post->slug, sub->email, uuid);
	}
	snprintf(msgid, sizeof msgid, "%s@%s", uuid, c->domain);
	nl_buf_reset(lu);
	if (*unsub_https)
		nl_buf_addf(lu, "<%s>, ", unsub_https);
	nl_buf_addf(lu, "<%s>", unsub_mailto);
	if ((e = nl_message_hdr_copy(m, c->head)) ||
	    (e = nl_message_hdr_addr(m, NL_HDR_APPEND, "To", sub->name, sub->email)) ||
	    (e = nl_message_set_id(m, msgid)) || (e = nl_buf_err(lu)) ||
	    (e = nl_message_hdr_raw(m, NL_HDR_APPEND, "List-Unsubscribe", lu->data)) ||
	    (e = nl_message_hdr_copy(m, c->mime)))
		return e;
	if ((e = nl_message_set_envelope_from(m, c->o.cfg->bounce_address)))
		return e;
	char derived[NL_TOKEN_LEN + 1];
	const char *tok;
	token_for(c, sub, derived, &tok);
	return nl_message_set_verp(m, tok);
}

enum nl_err nl_campaign_message(const struct nl_campaign *c, const struct nl_sub *sub,
				struct nl_message *m)
{
	const char *fields[NFIELDS];
	/* Scratch that lives with m: no allocation per reader once warm. */
	struct nl_buf *unsub = nl_message_scratch(m, 0), *tmp = nl_message_scratch(m, 1);
	enum nl_err e;
	nl_message_reset(m);
	nl_buf_reset(unsub);
	fill_fields(c, sub, unsub, fields);
	if ((e = nl_buf_err(unsub)))
		return e;
	const char *mailto = unsub->data + strlen(unsub->data) + 1;
	if ((e = reader_headers(c, sub, unsub->data, mailto, m, tmp)))
		return e;
	nl_message_body_ref(m, c->pre_text.data, c->pre_text.len);
	eval_qp(&c->text, 0, c->text.res->n, fields, m, tmp);
	nl_message_body_ref(m, c->mid.data, c->mid.len);
	eval_qp(&c->html, 0, c->html.res->n, fields, m, tmp);
	nl_message_body_ref(m, c->tail.data, c->tail.len);
	if (c->dkim)
		nl_message_set_signer(m, nl_dkim_sign, c->dkim);
	return nl_buf_err(tmp);
}

void nl_campaign_bodies(const struct nl_campaign *c, const struct nl_sub *sub, struct nl_buf *html,
			struct nl_buf *text)
{
	const char *fields[NFIELDS];
	struct nl_buf unsub = NL_BUF_INIT;
	fill_fields(c, sub, &unsub, fields);
	nl_residual_eval(c->html.res, fields, html);
	nl_residual_eval(c->text.res, fields, text);
	nl_buf_free(&unsub);
}
