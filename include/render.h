/* render.h - Markdown to HTML and plain text with cmark-gfm, from one parse. */
#ifndef NL_RENDER_H
#define NL_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "nl.h"

/* Read-only to the renderer; a NULL opts pointer means all defaults. */
struct nl_render_opts {
	bool unsafe_html;   /* keep raw HTML from the post (default: drop it) */
	int wrap;           /* plain-text wrap column, 72 by default when 0 */
	/* Called once per image (document order) with its URL as written in the
	 * post; sets *out to a malloc'd replacement URL (or leaves it NULL to keep
	 * the URL). A non-NL_OK return aborts rendering with that error. May be NULL. */
	enum nl_err (*image)(void *ctx, const char *url, char **out);
	void *image_ctx;
};

/* Render Markdown md[0..len) once into HTML and plain text, appended to html and text.
 * md must be valid UTF-8 (the caller checked). Returns NL_OK or an error (message via nl_errf).
 *
 * Ownership: md and o are only read. The renderer frees every *out the image
 * callback hands back (also when the callback fails), after copying it. The
 * caller keeps owning html and text; on error both are cut back to the
 * length they had on entry. A wrap of 0 or less means 72; nesting never
 * narrows text below 20 columns. The text part uses "\n" line endings, has no
 * trailing spaces and ends with exactly one "\n" (it is empty only when the
 * post renders to nothing). */
enum nl_err nl_render(const char *md, size_t len, const struct nl_render_opts *o,
		      struct nl_buf *html, struct nl_buf *text);

#endif
