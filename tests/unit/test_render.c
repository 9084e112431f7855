/* test_render.c - Markdown to HTML and plain text: cases as data, then the callbacks. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "nl.h"
#include "render.h"
#include "t.h"
#include "utf8.h"

/* Markdown in, exact plain text out. */
struct text_case {
	const char *name;
	const char *md;
	int wrap;
	bool unsafe_html;
	const char *text;
};

static const struct text_case text_cases[] = {
	{"empty", "", 0, false, ""},
	{"headings", "# Title\n\nText\n\n## Sub\n\n### Third\n\n#### Four\n", 0, false,
	 "Title\n=====\n\nText\n\nSub\n---\n\nThird\n\nFour\n"},
	{"underline counts code points", "# Größe ✓\n", 0, false, "Größe ✓\n=======\n"},
	{"emphasis", "*a* **b** ~~c~~ `d e`\n", 0, false, "_a_ *b* ~c~ `d e`\n"},
	{"smart quotes", "\"hi\" it's -- 'x'\n", 0, false, "“hi” it’s – ‘x’\n"},
	{"soft and hard breaks", "a\nb\\\nc  \nd\n", 0, false, "a b\nc\nd\n"},
	{"links numbered and reused",
	 "[one](https://a.example/) [two](https://b.example/) [again](https://a.example/).\n",
	 0, false,
	 "one[1] two[2] again[1].\n\nLinks:\n[1] https://a.example/\n[2] https://b.example/\n"},
	{"autolinks print the URL alone",
	 "<https://x.example/p> www.example.com me@example.com <mailto:you@example.com>\n", 0,
	 false, "https://x.example/p www.example.com me@example.com you@example.com\n"},
	{"link with no text", "[](https://e.example/)\n", 0, false, "https://e.example/\n"},
	{"images", "![A *fat* cat](cat.png) ![](dog.png) [![Logo](l.png)](https://l.example/)\n",
	 0, false,
	 "[image: A fat cat] [image] [image: Logo][1]\n\nLinks:\n[1] https://l.example/\n"},
	{"block quotes nest", "> one\n>\n> > two\n\nafter\n", 0, false,
	 "> one\n>\n> > two\n\nafter\n"},
	{"block quote wraps inside the prefix", "> aaaa bbbb cccc dddd eeee\n", 24, false,
	 "> aaaa bbbb cccc dddd\n> eeee\n"},
	{"nested lists", "1. one\n2. two\n   - a\n   - b\n     more\n3. three\n", 0, false,
	 "1. one\n2. two\n   * a\n   * b more\n3. three\n"},
	{"list start and paren delimiter", "7) seven\n8) eight\n", 0, false,
	 "7) seven\n8) eight\n"},
	{"loose list", "- a\n\n- b\n\n  b2\n", 0, false, "* a\n\n* b\n\n  b2\n"},
	{"continuation under the item text", "- alpha beta gamma delta epsilon zeta eta\n", 30,
	 false, "* alpha beta gamma delta\n  epsilon zeta eta\n"},
	{"task list", "- [ ] todo\n- [x] done\n", 0, false, "\u2610 todo\n\u2611 done\n"},
	{"ordered task list", "1. [x] done\n2. [ ] todo, with a long tail\n", 16, false,
	 "1. \u2611 done\n2. \u2610 todo, with a\n     long tail\n"},
	{"code block keeps dots and blank lines", "```\n.dot\n\n..two\n  x\n```\n", 0, false,
	 "    .dot\n\n    ..two\n      x\n"},
	{"code block is never wrapped",
	 "    aaaa bbbb cccc dddd eeee ffff gggg\n", 10, false,
	 "    aaaa bbbb cccc dddd eeee ffff gggg\n"},
	{"thematic break", "a\n\n---\n\nb\n", 10, false, "a\n\n----------\n\nb\n"},
	{"table", "| Name | Qty |\n|:--|--:|\n| apple | 3 |\n| kiwi | 12 |\n", 0, false,
	 "Name  | Qty\n------+----\napple |   3\nkiwi  |  12\n"},
	{"table pads by code points", "| é | x |\n|---|---|\n| ééé | y |\n", 0, false,
	 "é   | x\n----+--\nééé | y\n"},
	{"footnotes", "Text[^n] and[^a].\n\n[^a]: Alpha.\n[^n]: The note.\n", 0, false,
	 "Text[1] and[2].\n\nNotes:\n[1] The note.\n[2] Alpha.\n"},
	{"footnotes and links share one numbering",
	 "See [a](https://a.example/)[^x] and [b](https://b.example/).\n\n"
	 "[^x]: Note with [c](https://c.example/).\n",
	 0, false,
	 "See a[1][2] and b[3].\n\nNotes:\n[2] Note with c[4].\n\n"
	 "Links:\n[1] https://a.example/\n[3] https://b.example/\n[4] https://c.example/\n"},
	{"CJK breaks between characters",
	 "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab\xa0"
	 "\xe3\x81\xaf\xe3\x82\xb9\xe3\x83\x9a\xe3\x83\xbc\xe3\x82\xb9\xe3\x81\xaa"
	 "\xe3\x81\x97\xe3\x81\xa7\xe7\xb6\x9a\xe3\x81\x8d\xe3\x81\xbe\xe3\x81\x99"
	 "\xe3\x80\x82\n", 10, false,
	 "日本語の文\n章はスペー\nスなしで続\nきます。\n"},
	{"CJK keeps closing marks and small kana off a line's start",
	 "「こんにちは」と言った。\n", 6, false, "「こん\nにち\nは」と\n言っ\nた。\n"},
	{"a URL inside CJK text is never broken",
	 "詳しくは https://example.com/a/b/c を見てください。\n", 12, false,
	 "詳しくは\nhttps://example.com/a/b/c\nを見てくださ\nい。\n"},
	{"a URL glued to CJK text is never broken",
	 "詳しくはhttp://x.example/abcdefを見て\n", 12, false,
	 "詳しくは\nhttp://x.example/abcdef\nを見て\n"},
	{"closing marks after a URL stay with it",
	 "詳しくはhttp://x.example/abcdef。次の行\n", 12, false,
	 "詳しくは\nhttp://x.example/abcdef。\n次の行\n"},
	{"mixed Latin and CJK", "Hello 世界 and 日本 text\n", 10, false,
	 "Hello 世界\nand 日本\ntext\n"},
	{"combining marks take no column", "éééé ééé\n", 9, false, "éééé ééé\n"},
	{"underline as wide as CJK text", "# 日本語\n\n## 한국어 ok\n", 0, false,
	 "日本語\n======\n\n한국어 ok\n---------\n"},
	{"table pads CJK by columns", "| 名前 | x |\n|---|---|\n| ab | y |\n", 0, false,
	 "名前 | x\n-----+--\nab   | y\n"},
	{"html dropped by default", "<div>x</div>\n\nkeep <b>b</b>\n", 0, false, "keep b\n"},
	{"html kept when unsafe", "<div>x</div>\n\nkeep <b>b</b>\n", 0, true,
	 "<div>x</div>\n\nkeep <b>b</b>\n"},
	{"wrap counts code points", "ééééé ééééé ééééé\n", 11, false, "ééééé ééééé\nééééé\n"},
	{"long word sits alone",
	 "short https://example.com/a/very/long/path/that/overflows end\n", 20, false,
	 "short\nhttps://example.com/a/very/long/path/that/overflows\nend\n"},
};

static char *render(const char *md, int wrap, bool unsafe_html, char **html, enum nl_err *err)
{
	struct nl_buf h = NL_BUF_INIT, t = NL_BUF_INIT;
	struct nl_render_opts o = {unsafe_html, wrap, NULL, NULL, "post.md", 0, NULL, NULL, NULL};

	*err = nl_render(md, strlen(md), &o, &h, &t);
	if (html)
		*html = nl_buf_detach(&h, NULL);
	nl_buf_free(&h);
	return nl_buf_detach(&t, NULL);
}

/* What every plain text must be: "\n" lines, no trailing blanks, one final "\n". */
static bool text_well_formed(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return true;
	if (s[n - 1] != '\n' || (n > 1 && s[n - 2] == '\n') || s[0] == '\n')
		return false;
	for (size_t i = 1; i < n; i++)
		if (s[i] == '\n' && (s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\r'))
			return false;
	return true;
}

static void test_text_cases(void)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(text_cases); i++) {
		const struct text_case *c = &text_cases[i];
		enum nl_err err;
		int failed = t_fail;
		char *text = render(c->md, c->wrap, c->unsafe_html, NULL, &err);
		T_CHECK(err == NL_OK);
		T_STREQ(text, c->text);
		T_CHECK(text && text_well_formed(text));
		if (t_fail > failed)
			printf("  in text case: %s\n", c->name);
		free(text);
	}
}

/* Markdown in, fragments the HTML must (or must not) contain. */
struct html_case {
	const char *name;
	const char *md;
	bool unsafe_html;
	const char *has[3];
	const char *lacks;
};

static const struct html_case html_cases[] = {
	{"table", "| a | b |\n|---|--:|\n| 1 | 2 |\n", false,
	 {"<table>", "<th>a</th>", "<td align=\"right\">2</td>"}, "|"},
	{"strikethrough", "~~gone~~\n", false, {"<del>gone</del>"}, "~"},
	{"tasklist", "- [ ] a\n- [x] b\n", false,
	 {"<input type=\"checkbox\" disabled=\"\" /> a",
	  "<input type=\"checkbox\" checked=\"\" disabled=\"\" /> b"},
	 "[x]"},
	{"footnote", "Hi[^1].\n\n[^1]: Note.\n", false,
	 {"class=\"footnote-ref\"", "<section class=\"footnotes\"", "Note."}, "[^1]"},
	{"smart quotes", "\"hi\" it's\n", false, {"“hi” it’s"}, "&quot;"},
	{"autolink", "see www.example.com\n", false,
	 {"<a href=\"http://www.example.com\">www.example.com</a>"}, NULL},
	{"raw html dropped", "<div>x</div>\n\nkeep <b>b</b>\n", false,
	 {"<!-- raw HTML omitted -->", "keep <!-- raw HTML omitted -->b"}, "<b>"},
	{"raw html kept when unsafe", "<div>x</div>\n\nkeep <b>b</b>\n", true,
	 {"<div>x</div>", "keep <b>b</b>"}, "omitted"},
	{"tagfilter when unsafe", "<script>alert(1)</script>\n\nx <iframe src=\"a\">\n", true,
	 {"&lt;script>", "&lt;iframe"}, "<script"},
};

static void test_html_cases(void)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(html_cases); i++) {
		const struct html_case *c = &html_cases[i];
		enum nl_err err;
		char *html = NULL;
		int failed = t_fail;
		char *text = render(c->md, 0, c->unsafe_html, &html, &err);
		T_CHECK(err == NL_OK);
		T_CHECK(html != NULL);
		for (size_t k = 0; k < NL_ARRAY_LEN(c->has) && c->has[k] && html; k++)
			if (!strstr(html, c->has[k]))
				T_STREQ(html, c->has[k]); /* fails, showing both */
			else
				T_CHECK(true);
		if (c->lacks && html)
			T_CHECK(strstr(html, c->lacks) == NULL);
		if (t_fail > failed)
			printf("  in html case: %s\n", c->name);
		free(html);
		free(text);
	}
}

/* The image callback: records the URLs it saw, rewrites or fails on cue. */
struct img_ctx {
	struct nl_buf seen; /* the URLs, comma-separated */
	int calls;
	int lines[8];	    /* the file line of each call */
};

static enum nl_err rewrite_cb(void *ctx, const char *url, int line, char **out)
{
	struct img_ctx *c = ctx;
	struct nl_buf b = NL_BUF_INIT;

	if (c->calls < 8)
		c->lines[c->calls] = line;
	if (c->calls++)
		nl_buf_addc(&c->seen, ',');
	nl_buf_adds(&c->seen, url);
	if (strcmp(url, "keep.png") == 0)
		return NL_OK;
	if (strcmp(url, "missing.png") == 0) {
		/* set *out too: the renderer must still free it */
		*out = nl_strndup("x", 1);
		return nl_errf(NL_ENOINPUT, "post.md: image %s not found", url);
	}
	nl_buf_adds(&b, "cid:");
	nl_buf_adds(&b, url);
	*out = nl_buf_detach(&b, NULL);
	return NL_OK;
}

static void test_image_rewrite(void)
{
	const char *md = "![cat](cat.png) ![kept](keep.png)\n\n![dog](img/dog.png \"Dog\")\n";
	struct img_ctx c = {NL_BUF_INIT, 0, {0}};
	/* the body starts on line 10 of its file: lines passed on are file lines */
	struct nl_render_opts o = {false, 0, rewrite_cb, &c, "post.md", 10, NULL, NULL, NULL};
	struct nl_buf h = NL_BUF_INIT, t = NL_BUF_INIT;

	T_CHECK(nl_render(md, strlen(md), &o, &h, &t) == NL_OK);
	T_CHECK(c.calls == 3);
	T_CHECK(c.lines[0] == 10 && c.lines[1] == 10 && c.lines[2] == 12);
	T_STREQ(c.seen.data, "cat.png,keep.png,img/dog.png");
	T_CHECK(strstr(h.data, "src=\"cid:cat.png\"") != NULL);
	T_CHECK(strstr(h.data, "src=\"cid:img/dog.png\" alt=\"dog\" title=\"Dog\"") != NULL);
	T_CHECK(strstr(h.data, "src=\"keep.png\"") != NULL);
	T_CHECK(strstr(h.data, "src=\"cat.png\"") == NULL);
	T_STREQ(t.data, "[image: cat] [image: kept]\n\n[image: dog]\n");
	nl_buf_free(&c.seen);
	nl_buf_free(&h);
	nl_buf_free(&t);
}

/* Sizes by URL as written: "big" 600x75, anything else unknown. */
static void size_cb(void *ctx, const char *url, int line, unsigned *w, unsigned *h)
{
	int *calls = ctx;
	(*calls)++;
	T_CHECK(line == 3 || line == 5);
	if (strstr(url, "big")) {
		*w = 600;
		*h = 75;
	}
}

/* width and height on sized images only, escaped as cmark would; the text
 * part and unsized images as before; headings one level down in HTML only. */
static void test_image_size(void)
{
	const char *md = "# Top\n\n![a *b* \"q\" <x>](big.png?a=1&b='2' \"T&\") "
			 "![](other.png)\n\n![s](javascript:big) ###### six\n\n###### Six\n";
	int calls = 0;
	struct nl_render_opts o = {false, 0, NULL, &calls, "post.md", 0, size_cb, NULL, NULL};
	struct nl_buf h = NL_BUF_INIT, t = NL_BUF_INIT;

	T_CHECK(nl_render(md, strlen(md), &o, &h, &t) == NL_OK);
	T_CHECK(calls == 3);
	const char *want = "<img src=\"big.png?a=1&amp;b=&#x27;2&#x27;\" alt=\"a b “q” "
			   "&lt;x&gt;\" width=\"600\" height=\"75\" title=\"T&amp;\" />";
	if (!strstr(h.data, want))
		T_STREQ(h.data, want);
	T_CHECK(strstr(h.data, "<img src=\"other.png\" alt=\"\" />") != NULL);
	/* cmark blanks a javascript: URL; the sized tag must not bring it back */
	T_CHECK(strstr(h.data, "javascript") == NULL);
	T_CHECK(strstr(h.data, "<h2>Top</h2>") && strstr(h.data, "<h6>Six</h6>"));
	T_CHECK(!strstr(h.data, "<h1"));
	T_CHECK(strncmp(t.data, "Top\n===\n", 8) == 0);
	/* the text part sees the author's levels: a sixth-level heading is a plain line */
	T_CHECK(strstr(t.data, "\n\nSix\n") != NULL && strstr(t.data, "###### Six") == NULL);
	nl_buf_free(&h);
	nl_buf_free(&t);
}

static void test_image_error(void)
{
	const char *md = "# T\n\n![a](a.png) ![m](missing.png) ![b](b.png)\n";
	struct img_ctx c = {NL_BUF_INIT, 0, {0}};
	struct nl_render_opts o = {false, 0, rewrite_cb, &c, NULL, 0, NULL, NULL, NULL};
	struct nl_buf h = NL_BUF_INIT, t = NL_BUF_INIT;

	nl_buf_adds(&h, "before-h");
	nl_buf_adds(&t, "before-t");
	T_CHECK(nl_render(md, strlen(md), &o, &h, &t) == NL_ENOINPUT);
	T_STREQ(nl_errmsg(), "post.md: image missing.png not found");
	T_CHECK(c.calls == 2); /* stopped at the failing image */
	T_STREQ(h.data, "before-h");
	T_STREQ(t.data, "before-t");
	nl_buf_free(&c.seen);
	nl_buf_free(&h);
	nl_buf_free(&t);
}

static void test_appends_and_defaults(void)
{
	struct nl_buf h = NL_BUF_INIT, t = NL_BUF_INIT;
	const char *md = "Hello <b>x</b>\n";

	nl_buf_adds(&h, "<!-- head -->\n");
	nl_buf_adds(&t, "top\n");
	T_CHECK(nl_render(md, strlen(md), NULL, &h, &t) == NL_OK);
	T_STREQ(h.data, "<!-- head -->\n<p>Hello <!-- raw HTML omitted -->x"
			"<!-- raw HTML omitted --></p>\n");
	T_STREQ(t.data, "top\nHello x\n");
	nl_buf_free(&h);
	nl_buf_free(&t);
}

/* Count lines longer than max code points that are not long because they
 * hold url, and tell whether url makes a whole line. */
static int long_lines(const char *s, size_t max, const char *url, bool *url_whole)
{
	int n = 0;

	*url_whole = false;
	while (*s) {
		const char *e = strchr(s, '\n');
		size_t len = e ? (size_t)(e - s) : strlen(s), cps = 0;
		for (size_t i = 0; i < len; i++)
			cps += ((unsigned char)s[i] & 0xC0) != 0x80;
		bool has_url = memmem(s, len, url, strlen(url)) != NULL;
		if (len == strlen(url) && has_url)
			*url_whole = true;
		else if (cps > max && !(has_url && cps <= strlen(url) + 5))
			n++;
		s += len + (e != NULL);
	}
	return n;
}

static void test_long_paragraph(void)
{
	struct nl_buf md = NL_BUF_INIT, url = NL_BUF_INIT;
	bool whole = false;
	enum nl_err err;

	nl_buf_adds(&url, "https://example.com/");
	while (url.len < 120)
		nl_buf_addc(&url, 'a' + (char)(url.len % 26));
	for (int i = 0; i < 30; i++)
		nl_buf_addf(&md, "word%d and ", i);
	nl_buf_addf(&md, "then <%s> and a [named link](%s) and ", url.data, url.data);
	for (int i = 0; i < 30; i++)
		nl_buf_addf(&md, "é%d ", i);
	nl_buf_adds(&md, "end.\n");

	char *text = render(md.data, 0, false, NULL, &err);
	T_CHECK(err == NL_OK);
	T_CHECK(text && long_lines(text, 72, url.data, &whole) == 0);
	T_CHECK(whole); /* the autolink, unbroken on a line of its own */
	T_CHECK(text && strstr(text, "named link[1]") != NULL);
	/* the named link's URL, whole, in the list at the end */
	nl_buf_addc(&url, '\n');
	char *ref = text ? strstr(text, "\nLinks:\n[1] ") : NULL;
	T_CHECK(ref != NULL);
	if (ref)
		T_STREQ(ref + strlen("\nLinks:\n[1] "), url.data);
	T_CHECK(text && text_well_formed(text));
	free(text);
	nl_buf_free(&md);
	nl_buf_free(&url);
}

static void test_too_deep(void)
{
	struct nl_buf md = NL_BUF_INIT;
	enum nl_err err;

	for (int i = 0; i < 300; i++)
		nl_buf_adds(&md, "> ");
	nl_buf_adds(&md, "deep\n");
	char *text = render(md.data, 0, false, NULL, &err);
	T_CHECK(err == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "nests blocks") != NULL);
	free(text);
	nl_buf_free(&md);

	/* emphasis nests without limit: rendered without recursion */
	nl_buf_init(&md);
	for (int i = 0; i < 20000; i++)
		nl_buf_adds(&md, "*");
	nl_buf_addc(&md, 'x');
	for (int i = 0; i < 20000; i++)
		nl_buf_adds(&md, "*");
	text = render(md.data, 0, false, NULL, &err);
	T_CHECK(err == NL_OK);
	T_CHECK(text && strchr(text, 'x') != NULL);
	free(text);
	nl_buf_free(&md);
}

/* 3000 targets, then the same in reverse: numbers stay those of first use
 * while the hash table grows under them. */
static void test_link_numbers_are_stable_as_the_index_grows(void)
{
	struct nl_buf md = NL_BUF_INIT, want = NL_BUF_INIT;
	enum nl_err err;

	for (int i = 0; i < 3000; i++)
		nl_buf_addf(&md, "[a](https://e.example/%d)\n", i);
	for (int i = 2999; i >= 0; i--)
		nl_buf_addf(&md, "[b](https://e.example/%d)\n", i);
	char *text = render(md.data, 0, false, NULL, &err);
	T_CHECK(err == NL_OK);
	for (char *q = text; q && *q; q++) /* the paragraph is wrapped: unwrap it */
		if (*q == '\n' && q[1] != '\n' && q[1] != '[' && q[1] != 'L')
			*q = ' ';
	T_CHECK(text && strstr(text, "a[1] a[2] a[3] ") != NULL);
	T_CHECK(text && strstr(text, "b[3000] b[2999] ") != NULL);
	T_CHECK(text && strstr(text, "b[3] b[2] b[1]\n") != NULL);
	nl_buf_adds(&want, "\n[2999] https://e.example/2998\n[3000] https://e.example/2999");
	T_CHECK(text && strstr(text, want.data) != NULL);
	T_CHECK(text && strstr(text, "[3001]") == NULL);
	free(text);
	nl_buf_free(&md);
	nl_buf_free(&want);
}

/* Markdown in, the error it must give (with name "post.md", body on line 1). */
struct wall_case {
	const char *name;
	const char *md;
	int repeat;	   /* md repeated this many times, then tail */
	const char *tail;
	const char *error; /* NULL: renders */
};

static const struct wall_case wall_cases[] = {
	{"128 columns render", "|a", 128, "|\n|-|\n", NULL},
	{"129 columns do not", "|a", 129, "|\n|-|-|\n", "post.md:1: table with 129 columns: at most 128"},
	{"delimiter row counted", "|-", 200, "|\n", NULL}, /* no header: no table */
	{"wide delimiter row under a header", "a|b\n|", 1, "-|-|-|-\n", NULL},
	{"a row of the table", "a|b\n-|-\n", 1,
	 "x|y\nq|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|"
	 "q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|"
	 "q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q|q\n",
	 "post.md:4: table with 131 columns: at most 128"},
	{"a table in a block quote", "> a|b\n> -|-\n> ", 1,
	 "|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|"
	 "7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|"
	 "3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|0|1|2|3|4|5|6|7|8|9|\n",
	 "post.md:3: table with 139 columns: at most 128"},
	{"pipes after the table are prose", "a|b\n-|-\n\n", 1,
	 "|||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||"
	 "||||||||||||||||||||||||||||||||||||||||||||||||||\n", NULL},
	{"10000 links", "[x](https://e.example/)\n", 10000, "", NULL},
	{"10001 links", "[x](https://e.example/)\n", 10000, "![y](y.png)\n",
	 "post.md:10001: more than 10000 links and images: at most 10000"},
	{"100 deep", "> ", 100, "x\n", NULL},
	{"101 deep", "> ", 101, "x\n", "post.md:1: Markdown nests blocks 101 deep: at most 100"},
	{"lists count as deep", "- ", 101, "x\n", "post.md:1: Markdown nests blocks 101 deep"},
	{"line of 100000 bytes", "ab", 50000, "\n", NULL},
	{"line of 100001 bytes", "ab", 50000, "c\nd\n", "post.md:1: line of 100001 bytes: at most 100000"},
	{"body over 1 MiB", "a\n", 524288, "b", "post.md: the Markdown body is 1048577 bytes: at most 1048576"},
};

static void test_walls(void)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(wall_cases); i++) {
		const struct wall_case *c = &wall_cases[i];
		struct nl_buf md = NL_BUF_INIT;
		enum nl_err err;
		for (int k = 0; k < c->repeat; k++)
			nl_buf_adds(&md, c->md);
		nl_buf_adds(&md, c->tail);
		char *text = render(md.data, 0, false, NULL, &err);
		if (c->error) {
			T_CHECK(err == NL_EDATA);
			if (strncmp(nl_errmsg(), c->error, strlen(c->error)) != 0)
				printf("case '%s': %s\n", c->name, nl_errmsg());
			T_CHECK(strncmp(nl_errmsg(), c->error, strlen(c->error)) == 0);
		} else {
			if (err)
				printf("case '%s': %s\n", c->name, nl_errmsg());
			T_CHECK(err == NL_OK);
		}
		free(text);
		nl_buf_free(&md);
	}
}

/* A footnote is a level too: the text renderer nests its body one deeper. */
static void test_footnote_depth(void)
{
	struct nl_buf md = NL_BUF_INIT;
	enum nl_err err;

	nl_buf_adds(&md, "a[^1]\n\n[^1]: ");
	for (int i = 0; i < 100; i++)
		nl_buf_adds(&md, "> ");
	nl_buf_adds(&md, "x\n");
	char *text = render(md.data, 0, false, NULL, &err);
	T_CHECK(err == NL_EDATA);
	T_STREQ(nl_errmsg(), "post.md:3: Markdown nests blocks 101 deep: at most 100");
	free(text);
	nl_buf_free(&md);
}

/* Found by fuzz_render: cmark-gfm cut the U+FFFD of a NUL in two inside an
 * unmatched footnote label; the parts must still be valid UTF-8. */
static void test_output_is_valid_utf8(void)
{
	static const char md[] = "]\n\n[^\n\t\t\t\t\t\t\te\x01\0 c\0\t]\0\0\t\t\t\t\teca c\0";
	struct nl_buf h = NL_BUF_INIT, t = NL_BUF_INIT;
	size_t bad;

	T_CHECK(nl_render(md, sizeof md - 1, NULL, &h, &t) == NL_OK);
	T_CHECK(nl_utf8_valid(h.data, h.len, &bad));
	T_CHECK(nl_utf8_valid(t.data, t.len, &bad));
	T_CHECK(strstr(t.data, "\xEF\xBF\xBD") != NULL);
	nl_buf_free(&h);
	nl_buf_free(&t);
}

/* Columns as a terminal shows them. */
static void test_display_width(void)
{
	static const struct {
		const char *s;
		size_t w;
	} cases[] = {
		{"abc", 3}, {"日本", 4}, {"e\xcc\x81", 1}, {"\xf0\x9f\x91\x8d", 2} /* thumbs up */,
		{"한국", 4}, {"\xef\xbd\xb1", 1} /* halfwidth katakana */, {"\xef\xbc\xa1", 2},
		{"a\xe2\x80\x8d" "b", 2} /* joiner */, {"\xe2\x98\x90", 1} /* ballot box */,
		{"\xd8\xb3\xd9\x8e", 1} /* Arabic letter with a fatha */, {"\xff", 1} /* bad byte */,
		{"\xe4\xb8", 2} /* cut sequence: two U+FFFD */, {"\xf0\xa0\x80\x80", 2} /* ext. B */,
		{"\xe4\xb7\x80", 1} /* U+4DC0 hexagram: neutral, between two wide blocks */,
		{"\xe3\x82\x99", 0} /* combining voiced sound mark */, {"\xe3\x82\xab", 2},
	};

	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		size_t w = nl_utf8_width(cases[i].s, strlen(cases[i].s));
		if (w != cases[i].w)
			printf("  width of case %zu: %zu, want %zu\n", i, w, cases[i].w);
		T_CHECK(w == cases[i].w);
	}
}

int main(void)
{
	test_display_width();
	test_text_cases();
	test_html_cases();
	test_image_rewrite();
	test_image_size();
	test_image_error();
	test_appends_and_defaults();
	test_long_paragraph();
	test_too_deep();
	test_link_numbers_are_stable_as_the_index_grows();
	test_walls();
	test_footnote_depth();
	test_output_is_valid_utf8();
	return t_done();
}
