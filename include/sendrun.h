/* sendrun.h - one campaign send: the log, resume decisions, the sender, progress. */
#ifndef NL_SENDRUN_H
#define NL_SENDRUN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "nl.h"
#include "post.h"
#include "sendlog.h"

struct nl_send_opts {
	struct nl_config *cfg;		/* borrowed */
	const struct nl_post *post;	/* borrowed */
	bool resend;			/* send again to everyone */
	bool retry_failed;		/* retry recipients whose last send failed (5xx) */
	bool skip_in_doubt;		/* do not resend when a crash left the outcome unknown */
	bool retry_in_doubt;		/* resend those whose final reply never came (`doubt`) */
	size_t limit;			/* at most this many recipients (0 = all) */
	const char *test_to;		/* send one proof copy here instead */
	bool progress;			/* a live progress line on stderr */
	volatile sig_atomic_t *interrupted;
	struct nl_sendlog *log;		/* borrowed: a log the caller opened and holds the lock of
					   (cron, for its whole run); NULL: open cfg->log */
	time_t now;			/* the messages' Date (cron --now); 0: the clock */
};

/* What the list and the log say will happen, before anything is sent. */
struct nl_send_plan {
	size_t rows;		/* data rows in the list */
	size_t active;		/* distinct active, valid addresses */
	size_t pending;		/* will be sent in this run */
	size_t already_sent;
	size_t failed_skipped;	/* failed before; --retry-failed to retry */
	size_t in_doubt;	/* intent without outcome: resent unless --skip-in-doubt */
	size_t deferred;	/* deferred before: retried */
	size_t doubt;		/* final reply lost before: skipped unless --retry-in-doubt */
	size_t invalid, inactive, duplicates;
	size_t outside_audience;	/* active, but not in the post's audience */
	const char *audience;		/* the post's audience in words; NULL: everyone */
};

struct nl_send_stats {
	size_t sent, failed, deferred;
	size_t in_doubt;	/* the final reply never came: logged `doubt`, not resent */
	double seconds;
	double first_attempt, last_outcome; /* seconds on a monotonic clock, 0 if none: for nl_send_rate */
};

struct nl_sendrun;
struct nl_sendlog;

/*
 * Lock and read the log, read the list once to plan. Holds the log's lock
 * until nl_sendrun_close(). The caller owns *out.
 */
enum nl_err nl_sendrun_open(const struct nl_send_opts *o, struct nl_sendrun **out);
const struct nl_send_plan *nl_sendrun_plan(const struct nl_sendrun *r);
/*
 * Send what the plan says. Stats are filled whatever the result. Unless it
 * was a proof copy or cut short by --limit, the run's end goes in the log:
 * `done` when every recipient has an outcome (sent or failed), `stopped`
 * (with the reason) when the relay refused (NL_EUNAVAILABLE) or recipients
 * were deferred, so that cron backs off; nothing after an interruption,
 * which the next run simply resumes.
 */
enum nl_err nl_sendrun_go(struct nl_sendrun *r, struct nl_send_stats *stats);
enum nl_err nl_sendrun_close(struct nl_sendrun *r);

#endif
