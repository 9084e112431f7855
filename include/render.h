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
	 * post and the file line it is on (see first_line); sets *out to a malloc'd replacement URL (or leaves it NULL to keep
	 * the URL). A non-NL_OK return aborts rendering with that error. May be NULL. */
	enum nl_err (*image)(void *ctx, const char *url, int line, char **out);
	void *image_ctx;
	/* Where md comes from, for error messages ("post.md:12: ..."): the file
	 * (NULL: "body") and the file line of md's first line (0 means 1). */
	const char *name;
	int first_line;
	/* Called once per image, after image, with its URL as written in the post
	 * and its file line:
	 * sets *width and *height to the size the HTML should give it (both 0, or
	 * a NULL callback: no width and height attributes). */
	void (*image_size)(void *ctx, const char *url, int line, unsigned *width, unsigned *height);
	/* The text part's labels over its notes and its links (NULL: "Notes", "Links"). */
	const char *notes_label, *links_label;
};

/*
 * Walls on what a post's author controls, so that no post, however made,
 * keeps the renderer busy for long. Each is checked before the costly work
 * and fails with "name:LINE: what: at most N".
 */
#define NL_RENDER_MAX_BODY (1 << 20) /* bytes of Markdown: cmark-gfm takes up to
					* 1 s and 250 MB for 1 MiB of tiny elements */
#define NL_RENDER_MAX_LINE 100000 /* bytes in one line of Markdown */
#define NL_RENDER_MAX_COLS 128	  /* columns of a table (its delimiter row) */
#define NL_RENDER_MAX_LINKS 10000 /* links and images together */
#define NL_RENDER_MAX_NEST 100	  /* block quotes and list items inside each other */

/* Render Markdown md[0..len) once into HTML and plain text, appended to html and text.
 * md must be valid UTF-8 (the caller checked). Returns NL_OK or an error (message via nl_errf).
 *
 * Ownership: md and o are only read. The renderer frees every *out the image
 * callback hands back (also when the callback fails), after copying it. The
 * caller keeps owning html and text; on error both are cut back to the
 * length they had on entry. text may be NULL: HTML only (the web archive). A wrap of 0 or less means 72; nesting never
 * narrows text below 20 columns. The text part uses "\n" line endings, has no
 * trailing spaces and ends with exactly one "\n" (it is empty only when the
 * post renders to nothing).
 *
 * In the HTML the post's own headings start at <h2> (every level one down,
 * <h6> stays), since the title above them is the page's <h1>; the text part
 * keeps the levels as written. */
enum nl_err nl_render(const char *md, size_t len, const struct nl_render_opts *o,
		      struct nl_buf *html, struct nl_buf *text);

/* Wrap plain text s[0..n) as the text part is wrapped (display width, CJK
 * broken between characters, URLs never), appending it to out without a
 * final "\n"; "\n" in s is a hard break. A width of 0 or less means 72. */
void nl_text_wrap(const char *s, size_t n, int width, struct nl_buf *out);

#endif
