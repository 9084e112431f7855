/* htmlfix.h - cmark-gfm's HTML made fit for mail clients, in one pass over the fragment. */
#ifndef NL_HTMLFIX_H
#define NL_HTMLFIX_H

#include <stddef.h>

#include "buf.h"

/* The widest the message's column gets (templates/email.html): images are
 * never given a larger width attribute, since Outlook for Windows draws
 * images at that width whatever CSS says. */
#define NL_HTML_COLUMN 600

/*
 * Append to out the rendered post in[0..n) (cmark-gfm's HTML, with the
 * author's raw HTML when allowed) made fit for mail:
 *  - inline styles on the elements mail clients style badly by default; an
 *    element that has a style attribute of its own keeps ONE attribute,
 *    ours first and the author's declarations last, so that theirs win;
 *  - every table in a box that scrolls sideways, so a wide table never
 *    widens the message;
 *  - task-list checkboxes (dropped by Gmail and Outlook) as U+2610/U+2611;
 *  - footnotes under a thin rule with a label (notes_label, HTML-escaped;
 *    NULL: "Notes"), without back-links
 *    and without the #fn links that most clients cannot follow;
 *  - alt="" on an author's <img> without alt, so screen readers skip it.
 * Only reads in; out's failure is sticky (nl_buf_err).
 */
void nl_html_email(const char *in, size_t n, const char *notes_label, struct nl_buf *out);

#endif
