/* test_core.c - unit tests: YAML tree, dates, UTF-8, CSV, templates, address set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addrmap.h"
#include "csv.h"
#include "fsutil.h"
#include "post.h"
#include "t.h"
#include "template.h"
#include "utf8.h"
#include "ynode.h"

static void test_ynode(void)
{
	struct nl_ynode *n = NULL;
	const char *y = "title: \"Hi\"\ndraft: false\ntags: [a, b]\nnest:\n  k: v\n";
	T_CHECK(nl_ynode_parse("x.md", y, strlen(y), 2, &n) == NL_OK);
	T_STREQ(nl_ynode_str(nl_ynode_get(n, "title")), "Hi");
	T_CHECK(!nl_ynode_is_true(nl_ynode_get(n, "draft")));
	T_CHECK(nl_ynode_get(n, "tags")->n == 2);
	T_STREQ(nl_ynode_str(nl_ynode_path(n, "nest.k")), "v");
	nl_ynode_free(n);

	const char *bad = "title: \"unterminated\n";
	T_CHECK(nl_ynode_parse("x.md", bad, strlen(bad), 2, &n) == NL_EDATA);
	T_CHECK(n == NULL);
	T_CHECK(strncmp(nl_errmsg(), "x.md:", 5) == 0);

	/* A billion laughs is refused, not expanded. */
	struct nl_buf b = NL_BUF_INIT;
	nl_buf_adds(&b, "a: &a [x,x,x,x,x,x,x,x,x,x]\n");
	for (char c = 'b'; c <= 'j'; c++)
		nl_buf_addf(&b, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1,
			    c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
	T_CHECK(nl_ynode_parse("bomb.md", b.data, b.len, 1, &n) == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "aliases") != NULL);
	nl_buf_free(&b);

	const char *alias = "base: &b {x: 1}\nother: *b\n";
	T_CHECK(nl_ynode_parse("a.yml", alias, strlen(alias), 1, &n) == NL_OK);
	T_STREQ(nl_ynode_str(nl_ynode_path(n, "other.x")), "1");
	nl_ynode_free(n);
}

static void test_dates(void)
{
	T_CHECK(nl_slug_valid("my-post_2.v1"));
	T_CHECK(!nl_slug_valid("../etc"));
	T_CHECK(!nl_slug_valid("a b"));
}

static void test_utf8(void)
{
	size_t bad = 0;
	T_CHECK(nl_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11, &bad));
	T_CHECK(!nl_utf8_valid("ab\xc3(", 4, &bad) && bad == 2);
	T_CHECK(!nl_utf8_valid("\xed\xa0\x80", 3, &bad) && bad == 0);	/* surrogate */
	T_CHECK(!nl_utf8_valid("\xc0\xaf", 2, &bad));			/* overlong */
	T_CHECK(!nl_utf8_valid("x\xe2\x82", 3, &bad) && bad == 1);	/* truncated */
	int line, col;
	nl_text_pos("ab\nc\xc3\xa9" "d", 7, &line, &col);
	T_CHECK(line == 2 && col == 4);
}

static void test_csv(void)
{
	const char *in = "\xEF\xBB\xBF" "email,name\r\n\r\na@x.test,\"Doe, \"\"J\"\"\nline2\"\r\nb@x.test,B\n\nc@x.test,";
	FILE *f = t_memfile(in, strlen(in));
	struct nl_csv c;
	bool eof;
	nl_csv_init(&c, f, "t.csv");
	T_CHECK(nl_csv_next(&c, &eof) == NL_OK && !eof && c.nfields == 2);
	T_STREQ(c.fields[0], "email");
	T_CHECK(nl_csv_next(&c, &eof) == NL_OK && c.nfields == 2 && c.line == 3);
	T_STREQ(c.fields[1], "Doe, \"J\"\nline2");
	T_CHECK(nl_csv_next(&c, &eof) == NL_OK && c.line == 5);
	T_STREQ(c.fields[0], "b@x.test");
	T_CHECK(nl_csv_next(&c, &eof) == NL_OK && c.nfields == 2 && c.line == 7);
	T_STREQ(c.fields[1], "");
	T_CHECK(nl_csv_next(&c, &eof) == NL_OK && eof);
	nl_csv_free(&c);
	fclose(f);

	const char *bad = "email\n\"open";
	f = t_memfile(bad, strlen(bad));
	nl_csv_init(&c, f, "t.csv");
	T_CHECK(nl_csv_next(&c, &eof) == NL_OK);
	T_CHECK(nl_csv_next(&c, &eof) == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "t.csv:2") != NULL);
	nl_csv_free(&c);
	fclose(f);
}

static int dyn(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "subscriber.name"))
		return 0;
	if (!strcmp(name, "unsubscribe_url"))
		return 1;
	return -1;
}

static char *render(const char *tmpl, bool html, const char *yaml, const char *f0, const char *f1)
{
	struct nl_tmpl *t = NULL;
	struct nl_ynode *ctx = NULL;
	struct nl_residual *r = NULL;
	struct nl_buf out = NL_BUF_INIT;
	const char *fields[2] = {f0, f1};
	char *s = NULL;
	if (nl_tmpl_parse("t.html", tmpl, strlen(tmpl), html, &t) == NL_OK &&
	    nl_ynode_parse("ctx", yaml, strlen(yaml), 1, &ctx) == NL_OK &&
	    nl_tmpl_bind(t, ctx, dyn, NULL, &r) == NL_OK) {
		nl_residual_eval(r, fields, &out);
		s = nl_buf_detach(&out, NULL);
	}
	nl_residual_free(r);
	nl_ynode_free(ctx);
	nl_tmpl_free(t);
	return s;
}

static void check_render(const char *tmpl, bool html, const char *yaml, const char *f0,
			 const char *expect)
{
	char *s = render(tmpl, html, yaml, f0, "U");
	T_STREQ(s, expect);
	free(s);
}

static void test_template(void)
{
	const char *y = "title: 'A & B'\ntags: [x, y]\nempty: ''\nno: false\npub: {name: P}\n";
	check_render("<h1>{{title}}</h1>", true, y, "", "<h1>A &amp; B</h1>");
	check_render("{{{title}}}|{{&title}}", true, y, "", "A & B|A & B");
	check_render("{{title}}", false, y, "", "A & B");
	check_render("{{#tags}}[{{.}}]{{/tags}}", true, y, "", "[x][y]");
	check_render("{{#empty}}no{{/empty}}{{^empty}}yes{{/empty}}", true, y, "", "yes");
	check_render("{{#no}}no{{/no}}{{^no}}yes{{/no}}", true, y, "", "yes");
	check_render("Hi {{#subscriber.name}}{{subscriber.name}}{{/subscriber.name}}"
		     "{{^subscriber.name}}there{{/subscriber.name}}!", true, y, "<Bob>",
		     "Hi &lt;Bob&gt;!");
	check_render("Hi {{#subscriber.name}}{{subscriber.name}}{{/subscriber.name}}"
		     "{{^subscriber.name}}there{{/subscriber.name}}!", true, y, "", "Hi there!");
	check_render("{{pub.name}} {{unsubscribe_url}}", true, y, "", "P U");
	check_render("a\n{{#tags}}\n- {{.}}\n{{/tags}}\nb\n", false, y, "", "a\n- x\n- y\nb\n");
	check_render("{{! a comment }}x", true, y, "", "x");

	struct nl_tmpl *t = NULL;
	T_CHECK(nl_tmpl_parse("e.html", "a\n{{#x}}b", 9, true, &t) == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "e.html:2") && strstr(nl_errmsg(), "never closed"));
	T_CHECK(nl_tmpl_parse("e.html", "{{#x}}{{/y}}", 12, true, &t) == NL_EDATA);
	T_CHECK(nl_tmpl_parse("e.html", "{{x", 3, true, &t) == NL_EDATA);
	T_CHECK(render("\n\n{{nope}}", true, y, "", "") == NULL);
	T_CHECK(strstr(nl_errmsg(), "t.html:3") && strstr(nl_errmsg(), "unknown variable 'nope'"));
	T_CHECK(render("{{#no}}{{typo}}{{/no}}", true, y, "", "") == NULL);
}

static void test_addrmap(void)
{
	struct nl_addrmap m = {0};
	char a[64];
	T_CHECK(nl_addrmap_set(&m, "Bob@Example.test", 2) == NL_OK);
	T_CHECK(nl_addrmap_get(&m, "bob@example.TEST") == 2);
	T_CHECK(nl_addrmap_set(&m, "BOB@example.test", 3) == NL_OK && m.m.n == 1);
	T_CHECK(nl_addrmap_get(&m, "bob@example.test") == 3);
	T_CHECK(nl_addrmap_get(&m, "alice@example.test") == 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(a, sizeof a, "user%d@example.test", i);
		nl_addrmap_set(&m, a, (uint8_t)(1 + i % 7));
	}
	T_CHECK(m.m.n == 5001);
	T_CHECK(nl_addrmap_get(&m, "user4999@example.test") == 1 + 4999 % 7);
	T_CHECK(nl_addrmap_get(&m, "bob@example.test") == 3);
	nl_addrmap_free(&m);

	/* Reserving sizes the table once: no growth while filling up to n. */
	T_CHECK(nl_addrmap_reserve(&m, 3000) == NL_OK && m.m.cap == 4096);
	for (int i = 0; i < 3000; i++) {
		snprintf(a, sizeof a, "r%d@example.test", i);
		nl_addrmap_set(&m, a, 1);
	}
	T_CHECK(m.m.cap == 4096 && m.m.n == 3000);
	T_CHECK(nl_addrmap_reserve(&m, 10) == NL_OK && m.m.cap == 4096);
	T_CHECK(nl_addrmap_get(&m, "r2999@example.test") == 1);
	nl_addrmap_free(&m);
}

static void put_file(const char *dir, const char *name, const char *text)
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

/* Load dir/name and bind it to yaml; the output, or NULL with the error in *err. */
static char *render_file(const char *dir, const char *name, const char *yaml, enum nl_err *err)
{
	char path[256];
	struct nl_tmpl *t = NULL;
	struct nl_ynode *ctx = NULL;
	struct nl_residual *r = NULL;
	struct nl_buf out = NL_BUF_INIT;
	const char *fields[2] = {"N", "U"};
	char *s = NULL;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(*err = nl_tmpl_load(path, true, &t)) &&
	    !(*err = nl_ynode_parse("ctx", yaml, strlen(yaml), 1, &ctx)) &&
	    !(*err = nl_tmpl_bind(t, ctx, dyn, NULL, &r))) {
		nl_residual_eval(r, fields, &out);
		s = nl_buf_detach(&out, NULL);
	}
	nl_residual_free(r);
	nl_ynode_free(ctx);
	nl_tmpl_free(t);
	return s;
}

/* {{> FILE}}: a file beside the template, in place; its own sections; errors name it. */
static void test_partials(void)
{
	char dir[] = "/tmp/nl-partials-XXXXXX";
	enum nl_err e;
	char *s;
	T_CHECK(mkdtemp(dir) != NULL);
	put_file(dir, "head.html", "<h1>{{title}}</h1>\n{{#items}}[{{.}}]{{/items}}\n");
	put_file(dir, "page.html", "<p>\n  {{> head.html}}\n{{subscriber.name}} {{> foot.html}}</p>\n");
	put_file(dir, "foot.html", "<i>{{> sign.html}}</i>");
	put_file(dir, "sign.html", "{{title}}!");
	s = render_file(dir, "page.html", "title: A&B\nitems: [x, y]\n", &e);
	T_STREQ(s, "<p>\n<h1>A&amp;B</h1>\n[x][y]\nN <i>A&amp;B!</i></p>\n");
	free(s);
	/* an unknown variable inside a partial names the partial's file and line */
	put_file(dir, "bad.html", "ok\n{{nope}}\n");
	put_file(dir, "usebad.html", "{{> bad.html}}");
	T_CHECK(render_file(dir, "usebad.html", "title: t\n", &e) == NULL && e == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "/bad.html:2: template: unknown variable 'nope'") != NULL);
	/* a partial that includes itself stops at the depth wall */
	put_file(dir, "loop.html", "x{{> loop.html}}");
	T_CHECK(render_file(dir, "loop.html", "title: t\n", &e) == NULL && e == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "nested more than 8 deep") != NULL);
	/* a section may not open in one file and close in another */
	put_file(dir, "open.html", "{{#items}}");
	put_file(dir, "useopen.html", "{{> open.html}}{{/items}}");
	T_CHECK(render_file(dir, "useopen.html", "items: [a]\n", &e) == NULL && e == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "open.html:1: template: section {{#items}} is never closed") != NULL);
	put_file(dir, "close.html", "{{/items}}");
	put_file(dir, "useclose.html", "{{#items}}{{> close.html}}");
	T_CHECK(render_file(dir, "useclose.html", "items: [a]\n", &e) == NULL && e == NL_EDATA);
	T_CHECK(strstr(nl_errmsg(), "close.html:1: template: {{/items}} closes nothing") != NULL);
	/* plain file names beside the template only; a missing one is named */
	put_file(dir, "hidden.html", "{{> .secret}}");
	T_CHECK(render_file(dir, "hidden.html", "a: 1\n", &e) == NULL && e == NL_EDATA);
	put_file(dir, "up.html", "{{> ../etc}}");
	T_CHECK(render_file(dir, "up.html", "a: 1\n", &e) == NULL && e == NL_EDATA);
	put_file(dir, "slash.html", "{{> sub/x.html}}");
	T_CHECK(render_file(dir, "slash.html", "a: 1\n", &e) == NULL && e == NL_EDATA);
	put_file(dir, "missing.html", "{{> gone.html}}");
	T_CHECK(render_file(dir, "missing.html", "a: 1\n", &e) == NULL && e == NL_ENOINPUT);
	T_CHECK(strstr(nl_errmsg(), "/gone.html: cannot open template") != NULL);
	/* from memory there is no folder to look in */
	struct nl_tmpl *t = NULL;
	T_CHECK(nl_tmpl_parse("m.html", "{{> head.html}}", 15, true, &t) == NL_EDATA && !t);
	const char *names[] = {"head.html", "page.html", "foot.html", "sign.html", "bad.html", "usebad.html",
			       "loop.html", "open.html", "useopen.html", "close.html", "useclose.html",
			       "hidden.html", "up.html", "slash.html", "missing.html"};
	for (size_t i = 0; i < NL_ARRAY_LEN(names); i++) {
		char path[256];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void test_count_lines(void)
{
	char dir[] = "/tmp/nl-lines-XXXXXX", path[64];
	size_t n = 99;
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/f", dir);
	FILE *f = fopen(path, "w");
	fputs("a\nb\nc", f); /* the last line has no newline */
	fclose(f);
	T_CHECK(nl_count_lines(path, &n) == NL_OK && n == 3);
	f = fopen(path, "w");
	fclose(f);
	T_CHECK(nl_count_lines(path, &n) == NL_OK && n == 0);
	unlink(path);
	rmdir(dir);
	T_CHECK(nl_count_lines(path, &n) == NL_ENOINPUT);
}

int main(void)
{
	test_ynode();
	test_dates();
	test_utf8();
	test_csv();
	test_template();
	test_partials();
	test_addrmap();
	test_count_lines();
	return t_done();
}
