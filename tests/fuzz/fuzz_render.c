/* fuzz_render.c - libFuzzer harness: Markdown to HTML and plain text, with and without raw HTML, images rewritten. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rewrites every other image, fails on one named "fail": both paths get walked. */
static enum nl_err image(void *ctx, const char *url, int line, char **out)
{
	int *n = ctx;

	if (line < 1)
		abort();
	if (!strcmp(url, "fail"))
		return nl_errf(NL_ENOINPUT, "no %s", url);
	if ((*n)++ % 2)
		*out = nl_strndup("cid:x", 5);
	return NL_OK;
}

/* What the renderer promises of every text part it produces. */
static void check_text(const struct nl_buf *t)
{
	if (t->len == 0)
		return;
	if (t->data[t->len - 1] != '\n' || t->data[0] == '\n' ||
	    (t->len > 1 && t->data[t->len - 2] == '\n'))
		abort();
	for (size_t i = 1; i < t->len; i++)
		if (t->data[i] == '\n' && (t->data[i - 1] == ' ' || t->data[i - 1] == '\t'))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *md = (const char *)data;
	size_t bad;

	/* The first byte picks the options; the rest is the post's body. */
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	md++, size--;
	if (!nl_utf8_valid(md, size, &bad)) /* nl_post_load refuses anything else */
		return 0;
	for (int pass = 0; pass < 2; pass++) {
		int images = 0;
		struct nl_render_opts o = {pass == 1, (flags >> 1) & 63, (flags & 1) ? image : NULL,
					   &images, "fuzz.md", 4, NULL, NULL, NULL};
		struct nl_buf html = NL_BUF_INIT, text = NL_BUF_INIT;
		nl_buf_adds(&html, "keep");
		enum nl_err e = nl_render(md, size, &o, &html, &text);
		if (e && (html.len != 4 || text.len != 0)) /* cut back on error */
			abort();
		if (!e) {
			check_text(&text);
			if (!nl_utf8_valid(text.data, text.len, &bad))
				abort();
		}
		nl_buf_free(&html);
		nl_buf_free(&text);
	}
	return 0;
}
