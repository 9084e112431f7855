/* post.h - a post: YAML front matter split from its Markdown body, with typed fields. */
#ifndef NL_POST_H
#define NL_POST_H

#include <stdbool.h>
#include <time.h>

#include "nl.h"
#include "ynode.h"

/* Everything here is owned by the post; free it with nl_post_free(). */
struct nl_post {
	char *path;		/* as given */
	char *dir;		/* folder of the post, for relative images */
	char *slug;		/* front matter `slug`, else the file name */
	char *title;		/* required; becomes the Subject */
	char *description;	/* preheader; "" if absent */
	char *date_text;	/* as written; "" if absent */
	time_t date;		/* (time_t)-1 if absent */
	bool date_has_offset;	/* the date said Z or +hh:mm */
	char *send_at_text;	/* `send_at` as written: when cron sends it, if not at `date`; "" if absent */
	time_t send_at;		/* (time_t)-1 if absent; like date, UTC unless read in a zone (schedule.h) */
	bool send_at_has_offset;
	bool draft;
	char *lang;		/* front matter `lang`, a BCP 47 tag; "" if absent (the config's applies) */
	char *direction;	/* front matter `dir`: "rtl", "ltr" or "auto"; "" if absent (from lang) */
	struct nl_ynode *meta;	/* the whole front matter (a map) */
	char *body;		/* Markdown, LF line endings */
	size_t body_len;
	int body_line;		/* file line the body starts on */
};

/*
 * Read and check the post at path: UTF-8 throughout (a BOM is skipped),
 * CRLF accepted, front matter between `---` lines, a title. On error returns
 * NL_ENOINPUT or NL_EDATA with "path:LINE:COL: what" and *out is NULL.
 */
enum nl_err nl_post_load(const char *path, struct nl_post **out);
/* The same for a post already in memory (data[0..len), any bytes); path names it. */
enum nl_err nl_post_parse(const char *path, const char *data, size_t len, struct nl_post **out);
void nl_post_free(struct nl_post *p);

/* True if s is a usable slug: [A-Za-z0-9._-]+, not starting with '.'. */
bool nl_slug_valid(const char *s);

#endif
