/* post.c - load a post: UTF-8 check, front matter split and parse, typed fields. */
#include "post.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "datetime.h"
#include "lang.h"
#include "utf8.h"

#define POST_MAX ((size_t)16 << 20)

static enum nl_err read_file(const char *path, struct nl_buf *b)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;
	if (!f)
		return nl_errf(NL_ENOINPUT, "%s: cannot open: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		nl_buf_add(b, chunk, n);
		if (b->len > POST_MAX) {
			fclose(f);
			return nl_errf(NL_EDATA, "%s: larger than %zu MB", path, POST_MAX >> 20);
		}
	}
	int err = ferror(f);
	fclose(f);
	if (err)
		return nl_errf(NL_ENOINPUT, "%s: read error", path);
	return nl_buf_err(b);
}

/* Drop a BOM and turn CRLF into LF, in place. */
static void normalize(struct nl_buf *b)
{
	size_t i = 0, o = 0;
	if (b->len >= 3 && !memcmp(b->data, "\xEF\xBB\xBF", 3))
		i = 3;
	for (; i < b->len; i++) {
		if (b->data[i] == '\r' && i + 1 < b->len && b->data[i + 1] == '\n')
			continue;
		b->data[o++] = b->data[i];
	}
	nl_buf_truncate(b, o);
}

/* Line breaks, escapes and other C0 controls (a tab is text). */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

/* A line that is exactly `---` (trailing spaces allowed). */
static bool is_fence(const char *p, const char *end)
{
	if (end - p < 3 || memcmp(p, "---", 3))
		return false;
	for (p += 3; p < end && *p != '\n'; p++)
		if (*p != ' ' && *p != '\t')
			return false;
	return true;
}

static enum nl_err split(struct nl_post *post, const char *s, size_t n, struct nl_str *fm)
{
	const char *end = s + n, *p;
	int line = 2;
	fm->p = NULL;
	fm->len = 0;
	if (!is_fence(s, end)) {
		post->body_line = 1;
		post->body = nl_strndup(s, n);
		post->body_len = n;
		return NL_OK;
	}
	p = memchr(s, '\n', n);
	p = p ? p + 1 : end;
	fm->p = p;
	while (p < end) {
		if (is_fence(p, end)) {
			fm->len = (size_t)(p - fm->p);
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
			post->body_line = line + 1;
			post->body_len = (size_t)(end - p);
			post->body = nl_strndup(p, post->body_len);
			return NL_OK;
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
		line++;
	}
	return nl_errf(NL_EDATA, "%s:1:1: front matter: no closing '---' line", post->path);
}

bool nl_slug_valid(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static enum nl_err field(struct nl_post *p, const char *key, char **out, bool required)
{
	const struct nl_ynode *n = nl_ynode_get(p->meta, key);
	if (!n || nl_ynode_is_null(n)) {
		if (required)
			return nl_errf(NL_EDATA, "%s:1:1: front matter: no '%s' (it is required)",
				       p->path, key);
		*out = strdup("");
	} else if (n->kind != NL_Y_SCALAR) {
		return nl_errf(NL_EDATA, "%s:%d:%d: front matter: '%s' must be a string", p->path,
			       n->line, n->col, key);
	} else {
		*out = strdup(n->text);
	}
	return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

static enum nl_err default_slug(struct nl_post *p)
{
	const char *base = strrchr(p->path, '/');
	base = base ? base + 1 : p->path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	free(p->slug);
	p->slug = nl_strndup(base, n);
	return p->slug ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

/* A date-valued key (date, send_at): its text as written, and the time if there is one. */
static enum nl_err date_field(struct nl_post *p, const char *key, char **text, time_t *t,
			      bool *has_offset)
{
	enum nl_err e = field(p, key, text, false);
	struct nl_time pt;
	size_t len;
	*t = (time_t)-1;
	*has_offset = false;
	if (e || !(*text)[0])
		return e;
	for (len = strlen(*text); len && (*text)[len - 1] == ' '; len--) /* YAML keeps blanks inside quotes */
		;
	if (nl_time_parse(*text, len, 0, &pt)) {
		*t = pt.t;
		*has_offset = pt.has_offset;
		return NL_OK;
	}
	const struct nl_ynode *n = nl_ynode_get(p->meta, key);
	return nl_errf(NL_EDATA, "%s:%d:%d: front matter: %s '%s' is not RFC 3339 or YYYY-MM-DD",
		       p->path, n->line, n->col, key, *text);
}

/* `lang` and `dir`: checked here, so a typo names its place in the post. */
static enum nl_err lang_fields(struct nl_post *p)
{
	enum nl_err e;
	const struct nl_ynode *n;
	if ((e = field(p, "lang", &p->lang, false)) || (e = field(p, "dir", &p->direction, false)))
		return e;
	if (*p->lang && !nl_lang_valid(p->lang)) {
		n = nl_ynode_get(p->meta, "lang");
		return nl_errf(NL_EDATA,
			       "%s:%d:%d: front matter: lang '%s' is not a language tag like 'en', "
			       "'pt-BR' or 'zh-Hant'",
			       p->path, n->line, n->col, p->lang);
	}
	for (char *c = p->direction; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (*p->direction && strcmp(p->direction, "rtl") && strcmp(p->direction, "ltr") &&
	    strcmp(p->direction, "auto")) {
		n = nl_ynode_get(p->meta, "dir");
		return nl_errf(NL_EDATA, "%s:%d:%d: front matter: dir '%s' must be rtl, ltr or auto",
			       p->path, n->line, n->col, p->direction);
	}
	return NL_OK;
}

static enum nl_err typed_fields(struct nl_post *p)
{
	enum nl_err e;
	const struct nl_ynode *n;
	if ((e = field(p, "title", &p->title, true)) || (e = field(p, "description", &p->description, false)) ||
	    (e = date_field(p, "date", &p->date_text, &p->date, &p->date_has_offset)) ||
	    (e = date_field(p, "send_at", &p->send_at_text, &p->send_at, &p->send_at_has_offset)) ||
	    (e = field(p, "slug", &p->slug, false)) || (e = lang_fields(p)))
		return e;
	if (!p->title[0] || strspn(p->title, " \t") == strlen(p->title))
		return nl_errf(NL_EDATA, "%s:1:1: front matter: 'title' is empty", p->path);
	if (has_control(p->title)) { /* a Subject: folding would silently join the lines */
		n = nl_ynode_get(p->meta, "title");
		return nl_errf(NL_EDATA,
			       "%s:%d:%d: front matter: 'title' must be one line, without control "
			       "characters",
			       p->path, n->line, n->col);
	}
	if (!p->slug[0] && (e = default_slug(p)))
		return e;
	if (!nl_slug_valid(p->slug)) {
		n = nl_ynode_get(p->meta, "slug");
		return nl_errf(NL_EDATA,
			       "%s:%d:%d: slug '%s' may only use letters, digits, '-', '_' and '.'"
			       " (set 'slug' in the front matter)",
			       p->path, n ? n->line : 1, n ? n->col : 1, p->slug);
	}
	n = nl_ynode_get(p->meta, "draft");
	p->draft = nl_ynode_is_true(n);
	return NL_OK;
}

static enum nl_err parse(struct nl_post *p, struct nl_buf *file)
{
	enum nl_err e;
	size_t bad;
	struct nl_str fm;
	if (!nl_utf8_valid(file->data, file->len, &bad)) {
		int line, col;
		size_t bom = file->len >= 3 && !memcmp(file->data, "\xEF\xBB\xBF", 3) ? 3 : 0;
		nl_text_pos(file->data + bom, bad - (bad >= bom ? bom : 0), &line, &col);
		return nl_errf(NL_EDATA, "%s:%d:%d: invalid UTF-8 (byte 0x%02X)", p->path, line,
			       col, (unsigned char)file->data[bad]);
	}
	normalize(file);
	const char *nul = memchr(file->data, 0, file->len);
	if (nul) {
		int line, col;
		nl_text_pos(file->data, (size_t)(nul - file->data), &line, &col);
		return nl_errf(NL_EDATA, "%s:%d:%d: contains a NUL byte", p->path, line, col);
	}
	if ((e = split(p, file->data, file->len, &fm)))
		return e;
	if (!p->body)
		return nl_errf(NL_ENOMEM, "out of memory");
	if ((e = nl_ynode_parse_as(p->path, "front matter", fm.p ? fm.p : "", fm.len, 2, &p->meta)))
		return e;
	if (p->meta->kind != NL_Y_MAP)
		return nl_errf(NL_EDATA, "%s:2:1: front matter must be a map of 'key: value' lines",
			       p->path);
	return typed_fields(p);
}

static enum nl_err post_new(const char *path, struct nl_post **out)
{
	struct nl_post *p = calloc(1, sizeof *p);
	*out = NULL;
	if (!p || !(p->path = strdup(path)) || !(p->dir = strdup(path)))
		goto nomem;
	char *slash = strrchr(p->dir, '/');
	if (slash) {
		slash[slash == p->dir ? 1 : 0] = 0;
	} else {
		free(p->dir);
		if (!(p->dir = strdup(".")))
			goto nomem;
	}
	*out = p;
	return NL_OK;
nomem:
	nl_post_free(p);
	return nl_errf(NL_ENOMEM, "out of memory");
}

/* Parse file (which it may change in place) as the post at path. */
static enum nl_err post_from(const char *path, struct nl_buf *file, struct nl_post **out)
{
	struct nl_post *p;
	enum nl_err e = post_new(path, &p);
	if (!e && !(e = parse(p, file))) {
		*out = p;
		return NL_OK;
	}
	nl_post_free(p);
	*out = NULL;
	return e;
}

enum nl_err nl_post_load(const char *path, struct nl_post **out)
{
	struct nl_buf file = NL_BUF_INIT;
	enum nl_err e;
	*out = NULL;
	if (!(e = read_file(path, &file)))
		e = post_from(path, &file, out);
	nl_buf_free(&file);
	return e;
}

enum nl_err nl_post_parse(const char *path, const char *data, size_t len, struct nl_post **out)
{
	struct nl_buf file = NL_BUF_INIT;
	enum nl_err e;
	*out = NULL;
	if (len > POST_MAX)
		return nl_errf(NL_EDATA, "%s: larger than %zu MB", path, POST_MAX >> 20);
	nl_buf_add(&file, data, len);
	if (!(e = nl_buf_err(&file)))
		e = post_from(path, &file, out);
	nl_buf_free(&file);
	return e;
}

void nl_post_free(struct nl_post *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->dir);
	free(p->slug);
	free(p->title);
	free(p->description);
	free(p->date_text);
	free(p->send_at_text);
	free(p->lang);
	free(p->direction);
	nl_ynode_free(p->meta);
	free(p->body);
	free(p);
}
