/* template.c - parse mustache-like templates and bind them to a post once. */
#include "template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/stat.h>

#include "utf8.h"

/* The longest partial file name. */
#define NL_TMPL_NAME_MAX 200

enum tkind { T_TEXT, T_VAR, T_RAW, T_SEC, T_INV };

struct tnode {
	enum tkind kind;
	char *text;	/* T_TEXT: the text; others: the name */
	size_t len;
	int line;
	unsigned src;	/* the file it came from: nl_tmpl.srcs[src] */
	size_t end;	/* T_SEC/T_INV: index after the section's last node */
};

struct nl_tmpl {
	char *name;
	bool html;
	struct tnode *nodes;
	size_t n, cap;
	char *srcs[NL_TMPL_MAX_PARTIALS + 1];	/* [0] the template, then each partial read */
	unsigned nsrcs;
};

/* Parsing state: the open sections, innermost last. */
struct tparse {
	struct nl_tmpl *t;
	size_t open[32];
	size_t nopen;
	size_t floor;		/* sections opened outside the file being parsed */
	unsigned src;		/* the file being parsed */
	const char *dir;	/* where partials are looked up; NULL: parsed from memory */
	nl_tmpl_find_fn find;	/* or this finds them */
	const void *fctx;
	int depth;		/* partials open */
	size_t bytes;		/* read so far, the template and its partials */
};

static const char *src_name(const struct tparse *ps)
{
	return ps->t->srcs[ps->src];
}

static enum nl_err add_node_in(struct tparse *ps, enum tkind k, const char *s, size_t n, int line)
{
	struct nl_tmpl *t = ps->t;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		struct tnode *p = realloc(t->nodes, cap * sizeof *p);
		if (!p)
			return nl_errf(NL_ENOMEM, "out of memory");
		t->nodes = p;
		t->cap = cap;
	}
	struct tnode *nd = &t->nodes[t->n];
	if (!(nd->text = nl_strndup(s, n)))
		return nl_errf(NL_ENOMEM, "out of memory");
	nd->kind = k;
	nd->len = n;
	nd->line = line;
	nd->src = ps->src;
	nd->end = 0;
	t->n++;
	return NL_OK;
}

static int count_lines(const char *p, const char *end)
{
	int n = 0;
	for (; p < end; p++)
		n += *p == '\n';
	return n;
}

/* Trim blanks around a tag's name; refuse empty and odd names. */
static enum nl_err tag_name(struct tparse *ps, const char *p, size_t n, int line, struct nl_str *out)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!(c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') ||
		      ((c | 32) >= 'a' && (c | 32) <= 'z')))
			n = 0;
	}
	if (!n)
		return nl_errf(NL_EDATA, "%s:%d: template: bad or empty tag name", src_name(ps), line);
	out->p = p;
	out->len = n;
	return NL_OK;
}

static enum nl_err close_section(struct tparse *ps, struct nl_str name, int line)
{
	if (ps->nopen <= ps->floor)
		return nl_errf(NL_EDATA, "%s:%d: template: {{/%.*s}} closes nothing", src_name(ps),
			       line, (int)name.len, name.p);
	struct tnode *open = &ps->t->nodes[ps->open[--ps->nopen]];
	if (open->len != name.len || memcmp(open->text, name.p, name.len))
		return nl_errf(NL_EDATA, "%s:%d: template: {{/%.*s}} closes {{#%s}} from line %d",
			       src_name(ps), line, (int)name.len, name.p, open->text, open->line);
	open->end = ps->t->n;
	return NL_OK;
}

static enum nl_err partial(struct tparse *ps, struct nl_str name, int line);

static enum nl_err tag(struct tparse *ps, char sigil, const char *p, size_t n, int line)
{
	struct nl_str name = {NULL, 0};
	enum nl_err e;
	if (sigil == '!')
		return NL_OK;
	if ((e = tag_name(ps, p, n, line, &name)))
		return e;
	switch (sigil) {
	case '#':
	case '^':
		if (ps->nopen == NL_ARRAY_LEN(ps->open))
			return nl_errf(NL_EDATA, "%s:%d: template: sections nested too deeply",
				       src_name(ps), line);
		ps->open[ps->nopen++] = ps->t->n;
		return add_node_in(ps, sigil == '#' ? T_SEC : T_INV, name.p, name.len, line);
	case '/':
		return close_section(ps, name, line);
	case '>':
		return partial(ps, name, line);
	case '{':
	case '&':
		return add_node_in(ps, T_RAW, name.p, name.len, line);
	default:
		return add_node_in(ps, ps->t->html ? T_VAR : T_RAW, name.p, name.len, line);
	}
}

/*
 * A section or comment tag alone on its line (blanks around it) swallows
 * the line: *from and *to widen to the line's start and past its newline.
 */
static void standalone(const char *text, const char *end, const char **from, const char **to)
{
	const char *a = *from, *b = *to;
	while (a > text && (a[-1] == ' ' || a[-1] == '\t'))
		a--;
	if (a > text && a[-1] != '\n')
		return;
	while (b < end && (*b == ' ' || *b == '\t'))
		b++;
	if (b < end && *b == '\r')
		b++;
	if (b < end && *b != '\n')
		return;
	*from = a;
	*to = b < end ? b + 1 : b;
}

static enum nl_err parse(struct tparse *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int line = 1;
	enum nl_err e;
	while (p < end) {
		const char *open = memmem(p, (size_t)(end - p), "{{", 2);
		if (!open)
			return add_node_in(ps, T_TEXT, p, (size_t)(end - p), line);
		bool triple = open + 2 < end && open[2] == '{';
		const char *in = open + (triple ? 3 : 2);
		const char *close = memmem(in, (size_t)(end - in), triple ? "}}}" : "}}", triple ? 3 : 2);
		int tline = line + count_lines(p, open);
		if (!close)
			return nl_errf(NL_EDATA, "%s:%d: template: unclosed '{{'", src_name(ps), tline);
		char sigil = triple ? '{' : *in;
		if (!triple && strchr("#^/!&>", sigil))
			in++;
		const char *from = open, *to = close + (triple ? 3 : 2);
		if (strchr("#^/!>", sigil))
			standalone(text, end, &from, &to);
		if (from > p && (e = add_node_in(ps, T_TEXT, p, (size_t)(from - p), line)))
			return e;
		if ((e = tag(ps, sigil, in, (size_t)(close - in), tline)))
			return e;
		line += count_lines(p, to);
		p = to;
	}
	return NL_OK;
}

/* Parse one file's text (the template's or a partial's) into ps->t. */
static enum nl_err parse_text(struct tparse *ps, const char *text, size_t len)
{
	size_t bad;
	enum nl_err e;
	if (!nl_utf8_valid(text, len, &bad)) {
		int line, col;
		nl_text_pos(text, bad, &line, &col);
		return nl_errf(NL_EDATA, "%s:%d:%d: template: invalid UTF-8", src_name(ps), line, col);
	}
	if ((e = parse(ps, text, len)))
		return e;
	if (ps->nopen > ps->floor) {
		const struct tnode *o = &ps->t->nodes[ps->open[ps->nopen - 1]];
		return nl_errf(NL_EDATA, "%s:%d: template: section {{#%s}} is never closed", src_name(ps),
			       o->line, o->text);
	}
	return NL_OK;
}

static enum nl_err parse_root(const char *name, const char *dir, nl_tmpl_find_fn find, const void *fctx,
			      const char *text, size_t len, bool html, struct nl_tmpl **out)
{
	struct nl_tmpl *t = calloc(1, sizeof *t);
	struct tparse ps = {.t = t, .dir = dir, .find = find, .fctx = fctx, .bytes = len};
	enum nl_err e;
	*out = NULL;
	if (!t || !(t->name = strdup(name))) {
		free(t);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	t->srcs[0] = t->name;
	t->nsrcs = 1;
	t->html = html;
	if ((e = parse_text(&ps, text, len))) {
		nl_tmpl_free(t);
		return e;
	}
	*out = t;
	return NL_OK;
}

enum nl_err nl_tmpl_parse(const char *name, const char *text, size_t len, bool html,
			  struct nl_tmpl **out)
{
	return parse_root(name, NULL, NULL, NULL, text, len, html, out);
}

/* Read a template file whole: a folder or device in its place is an error
 * (a folder reads as empty on Linux, which would send an empty part). */
static enum nl_err read_file(const char *path, FILE *f, struct nl_buf *b)
{
	struct stat st;
	char chunk[8192];
	size_t n;

	if (fstat(fileno(f), &st))
		return nl_errf(NL_ENOINPUT, "%s: cannot read template: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return nl_errf(NL_ENOINPUT, "%s: template is not a regular file", path);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b->len + n > NL_TMPL_MAX_FILE)
			return nl_errf(NL_EDATA, "%s: template larger than %d bytes", path,
				       NL_TMPL_MAX_FILE);
		nl_buf_add(b, chunk, n);
	}
	if (ferror(f))
		return nl_errf(NL_EIO, "%s: cannot read template: %s", path, strerror(errno));
	return nl_buf_err(b);
}

static enum nl_err read_path(const char *path, struct nl_buf *b)
{
	enum nl_err e;
	FILE *f = fopen(path, "rb");
	if (!f)
		return nl_errf(NL_ENOINPUT, "%s: cannot open template: %s", path, strerror(errno));
	e = read_file(path, f, b);
	fclose(f);
	return e;
}

/*
 * {{> NAME}}: the template file NAME from the including template's folder,
 * parsed in place (so a writer restyles a page head shared by several pages
 * once). NAME is a plain file name (no folder, not hidden); its sections
 * open and close inside it; partials nest at most NL_TMPL_MAX_PARTIAL_DEPTH
 * deep (a partial that includes itself stops there), at most
 * NL_TMPL_MAX_PARTIALS are read, and all the text read together stays
 * within NL_TMPL_MAX_FILE.
 */
static enum nl_err partial(struct tparse *ps, struct nl_str name, int line)
{
	struct nl_buf path = NL_BUF_INIT, text = NL_BUF_INIT;
	struct tparse sub = *ps;
	enum nl_err e;
	if (!ps->dir)
		return nl_errf(NL_EDATA, "%s:%d: template: {{> %.*s}}: partials need a template file",
			       src_name(ps), line, (int)name.len, name.p);
	if (name.p[0] == '.' || name.len > NL_TMPL_NAME_MAX)
		return nl_errf(NL_EDATA, "%s:%d: template: {{> %.*s}}: a partial is a plain file name "
			       "beside the template", src_name(ps), line, (int)name.len, name.p);
	if (ps->depth >= NL_TMPL_MAX_PARTIAL_DEPTH || ps->t->nsrcs > NL_TMPL_MAX_PARTIALS)
		return nl_errf(NL_EDATA, "%s:%d: template: {{> %.*s}}: partials nested more than %d deep "
			       "or more than %d in all (does one include itself?)", src_name(ps), line,
			       (int)name.len, name.p, NL_TMPL_MAX_PARTIAL_DEPTH, NL_TMPL_MAX_PARTIALS);
	if (ps->find) {
		char file[NL_TMPL_NAME_MAX + 1], found[PATH_MAX];
		snprintf(file, sizeof file, "%.*s", (int)name.len, name.p);
		ps->find(ps->fctx, file, found, sizeof found);
		nl_buf_adds(&path, found);
	} else {
		nl_buf_addf(&path, "%s/%.*s", ps->dir, (int)name.len, name.p);
	}
	if (!(e = nl_buf_err(&path)) && !(e = read_path(path.data, &text)) &&
	    ps->bytes + text.len > NL_TMPL_MAX_FILE)
		e = nl_errf(NL_EDATA, "%s:%d: template: with its partials larger than %d bytes",
			    src_name(ps), line, NL_TMPL_MAX_FILE);
	if (!e && !(ps->t->srcs[ps->t->nsrcs] = strdup(path.data)))
		e = nl_errf(NL_ENOMEM, "out of memory");
	if (!e) {
		sub.src = ps->t->nsrcs++;
		sub.floor = ps->nopen;
		sub.depth = ps->depth + 1;
		sub.bytes = ps->bytes + text.len;
		e = parse_text(&sub, text.data, text.len);
		ps->bytes = sub.bytes;
	}
	nl_buf_free(&path);
	nl_buf_free(&text);
	return e;
}

enum nl_err nl_tmpl_load(const char *path, bool html, struct nl_tmpl **out)
{
	return nl_tmpl_load_with(path, html, NULL, NULL, out);
}

enum nl_err nl_tmpl_load_with(const char *path, bool html, nl_tmpl_find_fn find, const void *fctx,
			      struct nl_tmpl **out)
{
	struct nl_buf b = NL_BUF_INIT, dir = NL_BUF_INIT;
	const char *slash = strrchr(path, '/');
	enum nl_err e;
	*out = NULL;
	if (slash)
		nl_buf_add(&dir, path, (size_t)(slash - path) + (slash == path));
	else
		nl_buf_adds(&dir, ".");
	if (!(e = nl_buf_err(&dir)) && !(e = read_path(path, &b)))
		e = parse_root(path, dir.data, find, fctx, b.data, b.len, html, out);
	nl_buf_free(&b);
	nl_buf_free(&dir);
	return e;
}

size_t nl_tmpl_nsources(const struct nl_tmpl *t)
{
	return t->nsrcs;
}

const char *nl_tmpl_source(const struct nl_tmpl *t, size_t i)
{
	return i < t->nsrcs ? t->srcs[i] : NULL;
}

void nl_tmpl_free(struct nl_tmpl *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->nodes[i].text);
	free(t->nodes);
	for (unsigned i = 1; i < t->nsrcs; i++)
		free(t->srcs[i]);
	free(t->name);
	free(t);
}

/* ---- binding ---- */

struct bind {
	const struct nl_tmpl *t;
	nl_tmpl_dyn_fn dyn;
	void *dctx;
	const struct nl_ynode *scope[34]; /* innermost last; [0] is the root */
	size_t nscope;
	size_t steps;	/* template nodes visited: lists nested in lists multiply */
	struct nl_residual *r;
};

static bool node_truthy(const struct nl_ynode *n)
{
	if (!n)
		return false;
	if (n->kind == NL_Y_SEQ)
		return n->n > 0;
	if (n->kind == NL_Y_MAP)
		return true;
	if (n->quoted)
		return n->text[0] != 0;
	return !nl_ynode_is_null(n) && strcasecmp(n->text, "false") && strcasecmp(n->text, "no") &&
	       strcasecmp(n->text, "off");
}

bool nl_field_truthy(const char *v)
{
	return v && *v;
}

static const struct nl_ynode *lookup(struct bind *b, const char *name)
{
	if (!strcmp(name, "."))
		return b->scope[b->nscope - 1];
	for (size_t i = b->nscope; i-- > 0;) {
		const struct nl_ynode *n = nl_ynode_path(b->scope[i], name);
		if (n)
			return n;
	}
	return NULL;
}

static enum nl_err add_seg(struct nl_residual *r, struct nl_rseg s)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 32;
		struct nl_rseg *p = realloc(r->segs, cap * sizeof *p);
		if (!p)
			return nl_errf(NL_ENOMEM, "out of memory");
		r->segs = p;
		r->cap = cap;
	}
	r->segs[r->n++] = s;
	return NL_OK;
}

/* Literal text joins the previous literal when there is one. */
static enum nl_err add_lit(struct nl_residual *r, const char *s, size_t n, bool escape)
{
	if (!n)
		return NL_OK;
	if (!r->n || r->segs[r->n - 1].kind != NL_RSEG_LIT) {
		struct nl_rseg s0 = {.kind = NL_RSEG_LIT, .off = r->lits.len};
		enum nl_err e = add_seg(r, s0);
		if (e)
			return e;
	}
	size_t before = r->lits.len;
	if (escape)
		nl_html_escape(&r->lits, s, n);
	else
		nl_buf_add(&r->lits, s, n);
	r->segs[r->n - 1].len += r->lits.len - before;
	return nl_buf_err(&r->lits);
}

static enum nl_err unknown(struct bind *b, const struct tnode *nd)
{
	return nl_errf(NL_EDATA, "%s:%d: template: unknown variable '%s'", b->t->srcs[nd->src], nd->line,
		       nd->text);
}

static enum nl_err bind_range(struct bind *b, size_t i, size_t end);

static enum nl_err bind_value(struct bind *b, const struct tnode *nd, const struct nl_ynode *v)
{
	bool esc = nd->kind == T_VAR;
	if (v->kind == NL_Y_SCALAR)
		return add_lit(b->r, v->text, strlen(v->text), esc);
	/* A list prints as "a, b, c"; a map prints nothing. */
	for (size_t k = 0; v->kind == NL_Y_SEQ && k < v->n; k++) {
		const char *s = nl_ynode_str(v->items[k]);
		enum nl_err e;
		if (!s)
			continue;
		if ((k && (e = add_lit(b->r, ", ", 2, false))) || (e = add_lit(b->r, s, strlen(s), esc)))
			return e;
	}
	return NL_OK;
}

static enum nl_err bind_dyn_section(struct bind *b, const struct tnode *nd, int field, size_t i)
{
	struct nl_rseg s = {.kind = NL_RSEG_SECTION, .field = field, .inverted = nd->kind == T_INV};
	size_t at = b->r->n;
	enum nl_err e = add_seg(b->r, s);
	if (!e)
		e = bind_range(b, i + 1, nd->end);
	if (!e) {
		b->r->segs[at].end = b->r->n;
		/* A literal after the section must not merge into the section's last one. */
		s.kind = NL_RSEG_LIT;
		s.off = b->r->lits.len;
		s.len = 0;
		e = add_seg(b->r, s);
	}
	return e;
}

static enum nl_err bind_section(struct bind *b, const struct tnode *nd, size_t i)
{
	int field = b->dyn(b->dctx, nd->text);
	if (field >= 0)
		return bind_dyn_section(b, nd, field, i);
	const struct nl_ynode *v = lookup(b, nd->text);
	if (!v && !strchr(nd->text, '.') && b->nscope > 1)
		v = NULL; /* inside a list item a missing key is just false */
	else if (!v)
		return unknown(b, nd);
	bool truthy = node_truthy(v);
	if (nd->kind == T_INV || !truthy)
		return nd->kind == T_INV && !truthy ? bind_range(b, i + 1, nd->end) : NL_OK;
	if (b->nscope == NL_ARRAY_LEN(b->scope))
		return nl_errf(NL_EDATA, "%s:%d: template: nested too deeply", b->t->srcs[nd->src], nd->line);
	size_t items = v->kind == NL_Y_SEQ ? v->n : 1;
	for (size_t k = 0; k < items; k++) {
		b->scope[b->nscope++] = v->kind == NL_Y_SEQ ? v->items[k] : v;
		enum nl_err e = bind_range(b, i + 1, nd->end);
		b->nscope--;
		if (e)
			return e;
	}
	return NL_OK;
}

/* Sections over lists nest, so a small template over a small context can
 * ask for billions of steps or gigabytes: stop at the walls instead. */
static enum nl_err too_big(struct bind *b, const struct tnode *nd)
{
	if (++b->steps > NL_TMPL_MAX_STEPS)
		return nl_errf(NL_EDATA, "%s:%d: template: expands to more than %d steps "
			       "(sections over lists nested too deep?)", b->t->srcs[nd->src], nd->line,
			       NL_TMPL_MAX_STEPS);
	if (b->r->lits.len > NL_TMPL_MAX_OUTPUT)
		return nl_errf(NL_EDATA, "%s:%d: template: expands to more than %d bytes",
			       b->t->srcs[nd->src], nd->line, NL_TMPL_MAX_OUTPUT);
	return NL_OK;
}

static enum nl_err bind_range(struct bind *b, size_t i, size_t end)
{
	enum nl_err e = NL_OK;
	while (!e && i < end) {
		const struct tnode *nd = &b->t->nodes[i];
		int field;
		if ((e = too_big(b, nd)))
			break;
		if (nd->kind == T_TEXT) {
			e = add_lit(b->r, nd->text, nd->len, false);
		} else if (nd->kind == T_SEC || nd->kind == T_INV) {
			e = bind_section(b, nd, i);
			i = nd->end;
			continue;
		} else if ((field = b->dyn(b->dctx, nd->text)) >= 0) {
			struct nl_rseg s = {.kind = NL_RSEG_FIELD, .field = field,
					    .escape = nd->kind == T_VAR};
			e = add_seg(b->r, s);
		} else {
			const struct nl_ynode *v = lookup(b, nd->text);
			if (v)
				e = bind_value(b, nd, v);
			else if (strchr(nd->text, '.') || b->nscope == 1)
				e = unknown(b, nd);
		}
		i++;
	}
	return e;
}

/* Names inside sections that were false are checked too, so a typo never
 * hides. One pass with a stack of the sections around each node (the parser
 * nests them at most 32 deep), so a long template is not checked in n^2. */
static enum nl_err check_names(struct bind *b)
{
	size_t open[32], nopen = 0, listy = 0;
	bool is_listy[32];
	for (size_t i = 0; i < b->t->n; i++) {
		const struct tnode *nd = &b->t->nodes[i];
		while (nopen && b->t->nodes[open[nopen - 1]].end <= i)
			listy -= is_listy[--nopen];
		if (nd->kind == T_TEXT)
			continue;
		const struct nl_ynode *v = nl_ynode_path(b->scope[0], nd->text);
		/* names relative to a list item cannot be checked */
		if (!v && strcmp(nd->text, ".") && b->dyn(b->dctx, nd->text) < 0 &&
		    (!listy || strchr(nd->text, '.')))
			return unknown(b, nd);
		if ((nd->kind == T_SEC || nd->kind == T_INV) && nopen < NL_ARRAY_LEN(open)) {
			is_listy[nopen] = nd->kind == T_SEC && (!v || v->kind != NL_Y_SCALAR);
			listy += is_listy[nopen];
			open[nopen++] = i;
		}
	}
	return NL_OK;
}

enum nl_err nl_tmpl_bind(const struct nl_tmpl *t, const struct nl_ynode *ctx, nl_tmpl_dyn_fn dyn,
			 void *dctx, struct nl_residual **out)
{
	struct bind b = {.t = t, .dyn = dyn, .dctx = dctx, .nscope = 1};
	enum nl_err e;
	*out = NULL;
	b.scope[0] = ctx;
	if (!(b.r = calloc(1, sizeof *b.r)))
		return nl_errf(NL_ENOMEM, "out of memory");
	nl_buf_init(&b.r->lits);
	if ((e = check_names(&b)) || (e = bind_range(&b, 0, t->n))) {
		nl_residual_free(b.r);
		return e;
	}
	*out = b.r;
	return NL_OK;
}

void nl_residual_free(struct nl_residual *r)
{
	if (!r)
		return;
	free(r->segs);
	nl_buf_free(&r->lits);
	free(r);
}

void nl_html_escape(struct nl_buf *out, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		nl_buf_add(out, s + run, i - run);
		nl_buf_adds(out, rep);
		run = i + 1;
	}
	nl_buf_add(out, s + run, n - run);
}

static void eval_range(const struct nl_residual *r, size_t i, size_t end,
		       const char *const *fields, struct nl_buf *out)
{
	while (i < end) {
		const struct nl_rseg *s = &r->segs[i];
		const char *v;
		switch (s->kind) {
		case NL_RSEG_LIT:
			nl_buf_add(out, r->lits.data + s->off, s->len);
			break;
		case NL_RSEG_FIELD:
			v = fields[s->field] ? fields[s->field] : "";
			if (s->escape)
				nl_html_escape(out, v, strlen(v));
			else
				nl_buf_adds(out, v);
			break;
		case NL_RSEG_SECTION:
			if (nl_field_truthy(fields[s->field]) != s->inverted)
				eval_range(r, i + 1, s->end, fields, out);
			i = s->end;
			continue;
		}
		i++;
	}
}

void nl_residual_eval(const struct nl_residual *r, const char *const *fields, struct nl_buf *out)
{
	eval_range(r, 0, r->n, fields, out);
}
