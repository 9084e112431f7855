/* htmlfix.c - cmark-gfm's HTML made fit for mail clients: inline styles, scrolling tables, plain task boxes and notes. */
#include "htmlfix.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "nl.h"
#include "template.h"

/*
 * Mail clients drop or rewrite <style> more often than not (Gmail's apps
 * for other accounts, Outlook's Word engine, Yahoo in places), so every
 * element that needs a look gets it inline. These repeat for every
 * paragraph of every message: short declarations, shorthand colours, and
 * nothing the template's container already gives by inheritance (fonts,
 * colour, line breaking).
 */
/* keeps footnote marks from opening up the line spacing */
#define SUP_STYLE "font-size:75%;line-height:0"

static const struct {
	const char *tag, *style;
} styles[] = {
	{"p", "margin:0 0 16px"},
	{"a", "color:#1d4ed8"}, /* 6.7:1 on white; inverted (Gmail apps) 8:1 on black */
	/* The post's own headings start at h2 (render.c shifts them): the title is h1. */
	{"h1", "margin:32px 0 12px;font-size:26px;line-height:1.25"},
	{"h2", "margin:32px 0 12px;font-size:23px;line-height:1.25"},
	{"h3", "margin:28px 0 10px;font-size:20px;line-height:1.3"},
	{"h4", "margin:24px 0 8px;font-size:18px"},
	{"h5", "margin:20px 0 8px;font-size:16px"},
	{"h6", "margin:20px 0 8px;font-size:16px"},
	/* max-width + height:auto shrink the picture on phones; the width and
	 * height attributes (render.c) keep its place while images are blocked. */
	{"img", "max-width:100%;height:auto;border:0"},
	/* No padding of ours: the clients' own padding-inline-start puts the
	 * markers' room on the right in right-to-left posts, and costs no bytes. */
	{"ul", "margin:0 0 16px"},
	{"ol", "margin:0 0 16px"},
	{"blockquote", "margin:0 0 16px;padding:0 0 0 16px;border-left:3px solid #ddd"},
	/* A long code line wraps inside the column (pre-wrap) and a long token
	 * breaks anywhere; where a client drops white-space, the block scrolls
	 * on its own instead of widening the message. */
	{"pre", "margin:0 0 16px;padding:12px;border:1px solid #ddd;white-space:pre-wrap;"
		"word-wrap:break-word;overflow-wrap:anywhere;overflow-x:auto;font-size:14px;"
		"line-height:1.45"},
	{"code", "font-family:Menlo,Consolas,monospace;font-size:90%"},
	/* word-break:normal undoes the column's break-word inside tables: a wide
	 * table scrolls in its box (see TABLE_BOX) rather than splitting words. */
	{"table", "border-collapse:collapse;font-size:16px;word-break:normal"},
	{"th", "border:1px solid #ddd;padding:6px 10px"},
	{"td", "border:1px solid #ddd;padding:6px 10px"},
	{"hr", "border:0;border-top:1px solid #ddd;margin:24px 0"},
	{"sup", SUP_STYLE},
};

/* A table's own box scrolls sideways, so a table wider than a phone stays
 * inside the column: Gmail, Apple Mail, Yahoo and new Outlook honour
 * overflow-x. Outlook for Windows ignores it, but there the column is a
 * fixed 600 px table (the template's MSO table) on a wide screen. */
#define TABLE_BOX "<div style=\"overflow-x:auto;margin:0 0 16px\">"

/* What cmark-gfm writes for task items and footnotes, byte for byte. cmark
 * escapes '<' in text, so these can only be its own output (or an author's
 * raw HTML copying it, which then gets the same treatment). */
static const char task_open[] = "<input type=\"checkbox\" disabled=\"\" /> ";
static const char task_done[] = "<input type=\"checkbox\" checked=\"\" disabled=\"\" /> ";
static const char fn_ref[] = "<sup class=\"footnote-ref\"><a href=\"#fn-";
static const char fn_back[] = "<a href=\"#fnref-";
static const char fn_section[] = "<section class=\"footnotes\" data-footnotes>";

/* Footnotes as most newsletters show them: a short rule, a label, the list.
 * Links between a mark and its note need in-page anchors, which Gmail,
 * Outlook and Yahoo break; the numbers alone say where to look. */
#define NOTES_OPEN                                                                            \
	"<div style=\"margin:32px 0 0;font-size:15px\">"                                      \
	"<hr style=\"border:0;border-top:1px solid #ddd;margin:0 0 8px;width:33%\">"          \
	"<p style=\"margin:0 0 8px;font-weight:bold\">"

struct fix {
	const char *p, *end;
	const char *notes_label;
	const char *notes_end; /* the footnotes' closing </section>, or NULL */
	bool in_ref;	       /* inside a footnote mark's <a>, which is dropped */
	size_t tables;	       /* TABLE_BOXes open: an author's stray </table> closes none */
	struct nl_buf *out;
};

static bool has(const struct fix *f, const char *s, size_t n)
{
	return (size_t)(f->end - f->p) >= n && !memcmp(f->p, s, n);
}

static bool has_ci(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(end - p) >= n && !strncasecmp(p, s, n);
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* One attribute of a start tag: [name, name_end) and [start, end) for all of it. */
struct attr {
	const char *start, *name, *name_end, *val, *val_end, *end;
	char quote; /* '"', '\'' or 0 */
};

/* The next attribute at p, or false at the tag's end ('>' or "/>") or its lack. */
static bool next_attr(const char *p, const char *end, struct attr *a)
{
	a->start = p;
	while (p < end && space(*p))
		p++;
	if (p >= end || *p == '>' || (*p == '/' && p + 1 < end && p[1] == '>'))
		return false;
	a->name = p;
	while (p < end && !space(*p) && *p != '>' && *p != '=' && !(*p == '/' && p + 1 < end && p[1] == '>'))
		p++;
	a->name_end = p;
	a->val = a->val_end = NULL;
	a->quote = 0;
	const char *q = p;
	while (q < end && space(*q))
		q++;
	if (q < end && *q == '=') {
		for (q++; q < end && space(*q); q++)
			;
		if (q < end && (*q == '"' || *q == '\'')) {
			a->quote = *q;
			a->val = ++q;
			q = memchr(q, a->quote, (size_t)(end - q));
			if (!q)
				return false; /* unterminated: leave the tag alone */
			a->val_end = q++;
		} else {
			a->val = q;
			while (q < end && !space(*q) && *q != '>')
				q++;
			a->val_end = q;
		}
		p = q;
	}
	a->end = p;
	return a->name_end > a->name;
}

static bool attr_is(const struct attr *a, const char *name)
{
	size_t n = strlen(name);
	return (size_t)(a->name_end - a->name) == n && !strncasecmp(a->name, name, n);
}

/* The author's style value, made safe inside our double quotes. */
static void add_value(struct nl_buf *out, const struct attr *a)
{
	for (const char *v = a->val; v < a->val_end; v++) {
		if (*v == '"')
			nl_buf_adds(out, "&quot;");
		else
			nl_buf_addc(out, *v);
	}
}

/*
 * A start tag at f->p named [name, name_end) that we style: one style
 * attribute, ours then the author's (later declarations win in CSS). Returns
 * false, writing nothing, when the tag does not end (then it is copied as is).
 */
static bool styled_tag(struct fix *f, const char *name_end, const char *style, bool is_img)
{
	struct attr a, st = {0};
	const char *p = name_end;
	bool alt = false, align = false;

	while (next_attr(p, f->end, &a)) {
		if (!st.start && attr_is(&a, "style"))
			st = a;
		alt = alt || attr_is(&a, "alt");
		align = align || attr_is(&a, "align");
		p = a.end;
	}
	while (p < f->end && space(*p))
		p++;
	const char *close = p < f->end && *p == '/' ? p + 1 : p;
	if (close >= f->end || *close != '>')
		return false;
	if (!st.start) { /* ours right after the name */
		nl_buf_add(f->out, f->p, (size_t)(name_end - f->p));
		nl_buf_addf(f->out, " style=\"%s%s\"", style,
			    !align && name_end - f->p == 3 && !strncasecmp(f->p, "<th", 3)
				    ? ";text-align:inherit" /* not center, yet not against align= */
				    : "");
		st.end = st.start = name_end;
	} else {
		nl_buf_add(f->out, f->p, (size_t)(st.start - f->p));
		nl_buf_addf(f->out, " style=\"%s;", style);
		if (st.val)
			add_value(f->out, &st);
		nl_buf_addc(f->out, '"');
	}
	if (is_img && !alt) /* a picture without alt: screen readers skip it, not spell its URL */
		nl_buf_adds(f->out, " alt=\"\"");
	nl_buf_add(f->out, st.end, (size_t)(close + 1 - st.end));
	f->p = close + 1;
	return true;
}

/* A start tag, or anything else at '<': copied with our changes. */
static void start_tag(struct fix *f)
{
	const char *name = f->p + 1, *e = name;

	while (e < f->end && name_char(*e))
		e++;
	if (e == name || e >= f->end || !(space(*e) || *e == '>' || *e == '/')) {
		nl_buf_addc(f->out, '<');
		f->p++;
		return;
	}
	size_t n = (size_t)(e - name);
	for (size_t i = 0; i < NL_ARRAY_LEN(styles); i++) {
		if (strlen(styles[i].tag) != n || strncasecmp(name, styles[i].tag, n))
			continue;
		bool table = n == 5 && !strncasecmp(name, "table", 5);
		size_t mark = f->out->len;
		if (table)
			nl_buf_adds(f->out, TABLE_BOX);
		if (styled_tag(f, e, styles[i].style, n == 3 && !strncasecmp(name, "img", 3))) {
			f->tables += table;
			return;
		}
		nl_buf_truncate(f->out, mark);
		break;
	}
	nl_buf_addc(f->out, '<');
	f->p++;
}

/* Past the first "</a>" from f->p, or to the end. */
static void skip_link(struct fix *f)
{
	const char *c = memmem(f->p, (size_t)(f->end - f->p), "</a>", 4);
	f->p = c ? c + 4 : f->end;
}

static void trim_spaces(struct nl_buf *b)
{
	size_t n = b->len;
	while (n && b->data[n - 1] == ' ')
		n--;
	nl_buf_truncate(b, n);
}

/* The constructs cmark-gfm writes that mail cannot use; true if one was at f->p. */
static bool special(struct fix *f)
{
	if (has(f, task_open, sizeof task_open - 1)) {
		nl_buf_adds(f->out, "\xE2\x98\x90 "); /* U+2610 ☐ */
		f->p += sizeof task_open - 1;
	} else if (has(f, task_done, sizeof task_done - 1)) {
		nl_buf_adds(f->out, "\xE2\x98\x91 "); /* U+2611 ☑ */
		f->p += sizeof task_done - 1;
	} else if (has(f, fn_ref, sizeof fn_ref - 1)) {
		/* <sup><a href="#fn-x" ...>N</a></sup>: the number stays, the link goes */
		const char *a = f->p + sizeof fn_ref - 1;
		const char *a_end = memchr(a, '>', (size_t)(f->end - a));
		if (!a_end)
			return false;
		nl_buf_adds(f->out, "<sup style=\"" SUP_STYLE "\">");
		f->p = a_end + 1;
		f->in_ref = true;
	} else if (f->in_ref && has(f, "</a>", 4)) {
		f->p += 4;
		f->in_ref = false;
	} else if (has(f, fn_back, sizeof fn_back - 1)) {
		trim_spaces(f->out); /* the space cmark puts before each back-link */
		skip_link(f);
	} else if (has(f, fn_section, sizeof fn_section - 1)) {
		nl_buf_adds(f->out, NOTES_OPEN);
		nl_html_escape(f->out, f->notes_label, strlen(f->notes_label));
		nl_buf_adds(f->out, "</p>");
		f->p += sizeof fn_section - 1;
	} else if (f->p == f->notes_end) {
		nl_buf_adds(f->out, "</div>");
		f->p += sizeof "</section>" - 1;
	} else if (f->tables && has_ci(f->p, f->end, "</table>")) {
		f->tables--;
		nl_buf_add(f->out, f->p, 8);
		nl_buf_adds(f->out, "</div>"); /* TABLE_BOX's end */
		f->p += 8;
	} else {
		return false;
	}
	return true;
}

/* A comment is copied whole: nothing inside it is a tag. */
static bool comment(struct fix *f)
{
	if (!has(f, "<!--", 4))
		return false;
	const char *c = memmem(f->p + 4, (size_t)(f->end - f->p - 4), "-->", 3);
	const char *e = c ? c + 3 : f->end;
	nl_buf_add(f->out, f->p, (size_t)(e - f->p));
	f->p = e;
	return true;
}

/* The last "</section>", if the footnotes section (always last) is there. */
static const char *find_notes_end(const char *in, size_t n)
{
	const char *s = memmem(in, n, fn_section, sizeof fn_section - 1), *last = NULL;
	while (s && (s = memmem(s, n - (size_t)(s - in), "</section>", 10))) {
		last = s;
		s += 10;
	}
	return last;
}

void nl_html_email(const char *in, size_t n, const char *notes_label, struct nl_buf *out)
{
	struct fix f = {in, in + n, notes_label ? notes_label : "Notes", find_notes_end(in, n), false, 0, out};
	const char *lt;

	while (f.p < f.end && (lt = memchr(f.p, '<', (size_t)(f.end - f.p)))) {
		nl_buf_add(out, f.p, (size_t)(lt - f.p));
		f.p = lt;
		if (!comment(&f) && !special(&f))
			start_tag(&f);
	}
	nl_buf_add(out, f.p, (size_t)(f.end - f.p));
}
