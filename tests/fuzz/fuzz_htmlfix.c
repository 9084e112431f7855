/* fuzz_htmlfix.c - libFuzzer harness: Markdown rendered (raw HTML kept, images sized), then made fit for mail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "htmlfix.h"
#include "render.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every image gets a size from its URL's length: the sized tag is always written. */
static void size_of(void *ctx, const char *url, int line, unsigned *w, unsigned *h)
{
	(void)ctx;
	if (line < 1)
		abort();
	*w = (unsigned)strlen(url) + 1;
	*h = 7;
}

static size_t count(const char *p, size_t n, const char *s)
{
	const char *end = p + n;
	size_t k = 0, m = strlen(s);
	while ((p = memmem(p, (size_t)(end - p), s, m)))
		k++, p++;
	return k;
}

/* The fragment must stay UTF-8, and the fixer must close no more boxes than
 * it opened: a stray </div> would close the message's own column. */
static void check(const char *in, size_t n, const struct nl_buf *out)
{
	static const char box[] = "<div style=\"overflow-x:auto", end[] = "</table></div>";
	size_t bad;

	if (out->failed || !nl_utf8_valid(out->data, out->len, &bad))
		abort();
	/* an input that spells our box itself can hide it inside an attribute */
	if (count(in, n, "overflow-x"))
		return;
	if (count(out->data, out->len, end) + count(in, n, box) >
	    count(out->data, out->len, box) + count(in, n, end))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *md = (const char *)data;
	size_t bad;

	if (!nl_utf8_valid(md, size, &bad))
		return 0;
	struct nl_render_opts o = {true, 0, NULL, NULL, "fuzz.md", 1, size_of, NULL, NULL};
	struct nl_buf html = NL_BUF_INIT, text = NL_BUF_INIT, out = NL_BUF_INIT;
	/* the raw input too: an author's HTML reaches the fixer as written */
	nl_html_email(md, size, NULL, &out);
	check(md, size, &out);
	nl_buf_reset(&out);
	if (!nl_render(md, size, &o, &html, &text)) {
		nl_html_email(html.data, html.len, "Notes & <more>", &out);
		check(html.data, html.len, &out);
	}
	nl_buf_free(&html);
	nl_buf_free(&text);
	nl_buf_free(&out);
	return 0;
}
