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

/* The fragment must stay UTF-8, and every one of our tags must be closed. */
static void check(const struct nl_buf *out)
{
	size_t bad, boxes = 0, ends = 0;
	const char *p = out->data, *end = p + out->len;

	if (out->failed || !nl_utf8_valid(out->data, out->len, &bad))
		abort();
	while ((p = memmem(p, (size_t)(end - p), "<div style=\"overflow-x:auto", 27)))
		boxes++, p++;
	for (p = out->data; (p = memmem(p, (size_t)(end - p), "</table></div>", 14)); p++)
		ends++;
	if (ends > boxes)
		abort(); /* a stray </div> would close the message's own column */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *md = (const char *)data;
	size_t bad;

	if (!nl_utf8_valid(md, size, &bad))
		return 0;
	struct nl_render_opts o = {true, 0, NULL, NULL, "fuzz.md", 1, size_of};
	struct nl_buf html = NL_BUF_INIT, text = NL_BUF_INIT, out = NL_BUF_INIT;
	/* the raw input too: an author's HTML reaches the fixer as written */
	nl_html_email(md, size, &out);
	check(&out);
	nl_buf_reset(&out);
	if (!nl_render(md, size, &o, &html, &text)) {
		nl_html_email(html.data, html.len, &out);
		check(&out);
	}
	nl_buf_free(&html);
	nl_buf_free(&text);
	nl_buf_free(&out);
	return 0;
}
