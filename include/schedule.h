/* schedule.h - which posts cron sends, and when: the posts folder, due times in a zone, backoff, max_age. */
#ifndef NL_SCHEDULE_H
#define NL_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "datetime.h"
#include "nl.h"
#include "post.h"
#include "sendlog.h"

/* ---- what cron does with one post ---- */

/* Seconds cron waits after the nth `stopped` in a row: 5, 15, then 60 minutes. */
long nl_backoff_delay(unsigned stops);

enum nl_when {
	NL_WHEN_ERROR,		/* unreadable, or its slug is another post's too */
	NL_WHEN_DRAFT,		/* draft: true; never sent */
	NL_WHEN_UNDATED,	/* neither send_at nor date: cron cannot know when */
	NL_WHEN_LATER,		/* due in the future */
	NL_WHEN_DUE,		/* due and never started: send now */
	NL_WHEN_RESUME,		/* started, not finished: resume now */
	NL_WHEN_BACKOFF,	/* the last run stopped: not before retry_at */
	NL_WHEN_TOO_OLD,	/* due more than max_age ago and never started */
	NL_WHEN_GIVEN_UP,	/* kept stopping for more than max_age since it started */
	NL_WHEN_DONE,		/* the log says it finished */
};

/* "error", "draft", "undated", "scheduled", "due", "sending", "waiting", "too old", "given up", "sent". */
const char *nl_when_name(enum nl_when w);

/* What the decision depends on. */
struct nl_due_facts {
	bool draft;
	time_t due;			/* (time_t)-1: no date */
	time_t now;
	long max_age;			/* seconds */
	bool include_old;		/* send what max_age would skip */
	const struct nl_campaign_log *log; /* NULL: the log has nothing on the post */
};

/* The one rule cron follows; *retry_at is set for NL_WHEN_BACKOFF (else 0). */
enum nl_when nl_schedule_decide(const struct nl_due_facts *f, time_t *retry_at);

/* ---- the posts folder ---- */

struct nl_sched_post {
	char *path;			/* under the posts folder */
	struct nl_post *post;		/* NULL if it could not be read */
	char *error;			/* why it cannot be sent (unreadable, a shared slug); NULL if fine */
	time_t due;			/* send_at, else date, as a moment; (time_t)-1 without either */
	enum nl_when when;
	time_t retry_at;		/* NL_WHEN_BACKOFF: the earliest next try */
	const struct nl_campaign_log *log; /* NULL: the log has nothing on the post */
};

/* Everything the caller frees with nl_schedule_free. */
struct nl_schedule {
	struct nl_sched_post *posts;	/* by due time, oldest first; then undated, then unreadable; ties by path */
	size_t n;
	struct nl_campaign_log *logs;	/* what posts[i].log point into */
	size_t nlogs;
};

struct nl_schedule_opts {
	const struct nl_config *cfg;	/* posts, log, tz, max_age */
	time_t now;
	bool include_old;
};

/*
 * Find every post under cfg->posts (*.md and *.markdown files that open with
 * front matter, in subfolders too; names starting with '.' or '_' are left
 * out), read them and the log once, and decide about each. A post that cannot
 * be read is listed with its error rather than failing the rest. Errors only
 * for the folder or the log themselves. On error *out is empty.
 */
enum nl_err nl_schedule_load(const struct nl_schedule_opts *o, struct nl_schedule *out);
void nl_schedule_free(struct nl_schedule *s);
/* Too old or given up, and no `skipped` line says so yet: report it once and log it. */
bool nl_schedule_unreported(const struct nl_sched_post *p);

/* How far a post's campaign got, from the log (and the list, for `left`). */
struct nl_progress {
	size_t sent, failed, deferred, in_doubt;
	size_t left;	/* active subscribers a resume would send to (no outcome yet) */
};

/* Reads the whole log, and the subscriber list when with_list (counting the post's audience only). */
enum nl_err nl_schedule_progress(const struct nl_config *cfg, const struct nl_post *post, bool with_list,
				 struct nl_progress *out);

#endif
