/* campaign.h - a campaign: a post prepared once, then one RFC 5322 message per reader. */
#ifndef NL_CAMPAIGN_H
#define NL_CAMPAIGN_H

#include <stdbool.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "message.h"
#include "nl.h"
#include "post.h"
#include "subscriber.h"
#include "ynode.h"

enum nl_image_mode { NL_IMG_LINK, NL_IMG_EMBED, NL_IMG_LOCAL /* absolute file paths, for previews */ };

struct nl_campaign_opts {
	const struct nl_config *cfg;	/* borrowed; must outlive the campaign */
	const struct nl_post *post;	/* borrowed; must outlive the campaign */
	const struct nl_list *list;	/* its column names are template fields; may be NULL */
	bool test;			/* proof copies: "[TEST]" subject, fresh Message-IDs */
	bool local_images;		/* images as absolute file paths (preview HTML) */
	time_t now;
};

struct nl_campaign; /* opaque; owned by the caller */

/*
 * Render the post, bind the templates and encode everything that is the same
 * for every reader. Errors name the post, template or image at fault.
 */
enum nl_err nl_campaign_new(const struct nl_campaign_opts *o, struct nl_campaign **out);
void nl_campaign_free(struct nl_campaign *c);

/*
 * Build one reader's message into m (reset first): the campaign's header
 * fields with the reader's To, Message-ID and List-Unsubscribe spliced in,
 * the envelope sender (bounce_address), and a body that borrows the
 * campaign's pre-encoded parts. Hand it to nl_message_finalize() before the
 * campaign is freed. Thread-safe: the campaign is only read (one message
 * per thread).
 */
enum nl_err nl_campaign_message(const struct nl_campaign *c, const struct nl_sub *sub,
				struct nl_message *m);
/* The HTML and text bodies one reader sees, unencoded (for previews). */
void nl_campaign_bodies(const struct nl_campaign *c, const struct nl_sub *sub,
			struct nl_buf *html, struct nl_buf *text);
/* Warnings for the writer, one a line ("post.md:3: image 'a.webp' is WebP, ..."),
 * "" if none: the commands show them. Owned by the campaign. */
const char *nl_campaign_notes(const struct nl_campaign *c);

/* Gmail clips a message whose HTML passes about this many bytes (as sent:
 * special characters count encoded), and the footer with the unsubscribe
 * link is in the clipped part. */
#define NL_HTML_CLIP ((size_t)102 * 1024)
/* The HTML part's bytes for a reader whose fields are all empty: decoded
 * and as sent (quoted-printable). */
void nl_campaign_html_size(const struct nl_campaign *c, size_t *html, size_t *encoded);

/* How the campaign's images are delivered, and how many are attached. */
enum nl_image_mode nl_campaign_image_mode(const struct nl_campaign *c, int *attached);

/*
 * The template variables every output of a post shares (the web archive
 * too): its front matter, publication.*, slug, title, description, date,
 * date_long, web_url, subscribe_url and an empty content. *out is the
 * caller's (nl_ynode_free).
 */
enum nl_err nl_campaign_context(const struct nl_config *cfg, const struct nl_post *p,
				struct nl_ynode **out);
/* The template file to use: the config's templates folder, else the installed one. */
void nl_campaign_template_path(const struct nl_config *cfg, const char *file, char *path,
			       size_t cap);
/* Load the template file as nl_campaign_template_path finds it (its path into
 * path, cap bytes), and each of its partials ({{> FILE}}) the same way. */
struct nl_tmpl;
enum nl_err nl_campaign_load_template(const struct nl_config *cfg, const char *file, bool html,
				      char *path, size_t cap, struct nl_tmpl **out);

/*
 * Where the web archive keeps the image a post names as url, relative to
 * the post's folder there (BASE_URL/SLUG/): url with "." and ".." folded and
 * no leading '/' ("./img/../a b.png" is "a b.png"), appended to out unescaped.
 */
void nl_campaign_image_file(const char *url, struct nl_buf *out);
/* Append s percent-encoded for a URL path: all but A-Z a-z 0-9 - . _ ~ and '/'. */
void nl_url_path_escape(struct nl_buf *b, const char *s);

#endif
