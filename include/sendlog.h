/* sendlog.h - the append-only send log: one line per event, written before and after each send, scanned to resume. */
#ifndef NL_SENDLOG_H
#define NL_SENDLOG_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addrmap.h"
#include "nl.h"

/*
 * One line per event, tab-separated, 7 fields, LF-terminated:
 *   TIME SLUG RECIPIENT EVENT CODE MESSAGE-ID DETAIL
 * TIME is UTC with milliseconds (2026-11-29T09:30:00.123Z); CODE is the SMTP
 * reply code or "-"; MESSAGE-ID has no angle brackets, or is "-"; every field
 * escapes backslash, tab, CR and LF as \\ \t \r \n, and an empty field is "-".
 */
enum nl_event {
	NL_EV_NONE = 0, NL_EV_INTENT, NL_EV_SENT, NL_EV_DEFERRED, NL_EV_FAILED, NL_EV_TEST,
	/*
	 * Campaign events: about a post, not a recipient (RECIPIENT, CODE and
	 * MESSAGE-ID are "-"; DETAIL says why). `done`: every recipient has an
	 * outcome, so cron leaves the post alone (readers added later do not get
	 * it). `stopped`: the run ended early because the relay refused, or with
	 * recipients deferred; cron backs off before trying again. `skipped`: cron
	 * will not send the post (too old); written once, so it is reported once.
	 */
	NL_EV_DONE, NL_EV_STOPPED, NL_EV_SKIPPED,
	/*
	 * `doubt`: the whole message went out but the reply to its final dot
	 * never came (timeout, lost connection): it may have been delivered.
	 * An outcome, so neither this run nor the next resends it; only
	 * `send --retry-in-doubt` does. Counted as in doubt by the scan.
	 */
	NL_EV_DOUBT,
	/*
	 * Reader events, written by `inbox` (and by `send` for a 5.1.x refusal):
	 * what came back about a reader after a post, with its slug when known
	 * ("-" if not). They never change the resume state of a post; `status`
	 * counts them. `soft-bounced` lines count towards the soft-bounce policy.
	 */
	NL_EV_BOUNCED, NL_EV_COMPLAINED, NL_EV_UNSUBSCRIBED, NL_EV_SOFT_BOUNCED,
};

/* "intent", "sent", "deferred", "failed", "test", "done", "stopped", "skipped", "doubt"; "none" for anything else. Static storage. */
const char *nl_event_name(enum nl_event e);
/* True for done, stopped and skipped: lines without a recipient. */
bool nl_event_is_campaign(enum nl_event e);
/* True for bounced, complained, unsubscribed and soft-bounced. */
bool nl_event_is_reader(enum nl_event e);

/*
 * Write every later line's time as if the clock had read `now` at this call
 * (`cron --now`, so that backoff and tests see one consistent clock); 0 goes
 * back to the real clock. Call before any thread writes.
 */
void nl_sendlog_pretend_now(time_t now);

/*
 * Scans of the log stop with NL_EINTERRUPTED once *flag is non-zero (a
 * signal handler sets it), so that reading a long log honours Ctrl-C under a
 * handler that only sets a flag. NULL: never. Call before any thread scans.
 */
void nl_sendlog_interrupt(volatile sig_atomic_t *flag);

/*
 * The sending rate that `send` and `status` both print: messages that got an
 * outcome (sent, failed, deferred) per second, from the first attempt to the
 * last outcome. 0 when that span is unknown or empty.
 */
double nl_send_rate(size_t outcomes, double first, double last);

struct nl_sendlog; /* opaque */

/*
 * Open (create if missing, mode 0600, as it names every subscriber; the lock file too) the log for appending
 * (O_APPEND|O_CLOEXEC) and take an exclusive lock so
 * that two runs never send at once: flock(LOCK_EX|LOCK_NB) on the lock file PATH.lock; after taking it, write
 * into the lock file who holds it ("pid 1234 since 2026-...Z: send SLUG") with a plain truncating write.
 * If the lock is held: return NL_ELOCKED with a message naming the log and quoting the holder's line,
 * e.g. "sends.log is in use by another run (pid 1234 since ...: send first-light); try again when it finishes".
 * `what` is the text for the holder line (e.g. "send first-light"; may be NULL).
 * Starts a flusher thread that fdatasync()s the log at least once a second while there are unsynced writes.
 * A path that is not a regular file (a device, a FIFO, a directory) is refused with NL_ECANTCREAT before any
 * lock file is made. A last line without its LF (a write cut short by a full disk or a size limit, so nothing
 * was sent on its strength) is cut off with a warning, so that the next record starts a line of its own.
 * On success *out owns the log; the caller releases it with nl_sendlog_close. On failure *out is NULL.
 */
enum nl_err nl_sendlog_open(const char *path, const char *what, struct nl_sendlog **out);
/*
 * Append one event: formatted into a stack/heap buffer and written with ONE write() call (O_APPEND makes
 * concurrent appends from several threads/processes safe; loop on short writes/EINTR). Thread-safe.
 * A failed write (disk full: ENOSPC, EIO) returns NL_EIO with "PATH: cannot write: ..." and must be treated as
 * fatal by the caller (we must never send without a record); so does a failed background sync.
 * code: 0 for none. msgid/detail may be NULL (rcpt too, for a campaign event). ev must be one of the events
 * above (else NL_EINTERNAL).
 */
enum nl_err nl_sendlog_write(struct nl_sendlog *l, const char *slug, const char *rcpt, enum nl_event ev,
			     int code, const char *msgid, const char *detail);
/*
 * One event appended to the log at path without its lock (one write() with
 * O_APPEND, then fdatasync): for a line beside a running send, such as the
 * confirmation messages `serve` mails.
 */
enum nl_err nl_sendlog_append_once(const char *path, const char *slug, const char *rcpt, enum nl_event ev,
				   int code, const char *msgid, const char *detail);
/* fdatasync now (also called by the flusher thread and by close). NL_EIO "PATH: cannot sync: ..." on failure. */
enum nl_err nl_sendlog_sync(struct nl_sendlog *l);
/* Stop the flusher, sync, release the lock (unlink nothing), close, free. Returns the sync's result. NULL is a no-op. */
enum nl_err nl_sendlog_close(struct nl_sendlog *l);

/* What the log says about one post. */
struct nl_sendstate {
	struct nl_addrmap last;	/* recipient -> last campaign event (NL_EV_INTENT/SENT/DEFERRED/FAILED; 'test' lines ignored) */
	size_t sent, deferred, failed, in_doubt; /* recipients whose last event is that (in_doubt = intent with no outcome, or doubt) */
	size_t tests;		/* number of test lines */
	size_t bounced, complained, unsubscribed, soft_bounced; /* reader event lines */
	double first, last_sent; /* unix times of the first intent and the last 'sent', 0 if none */
	double last_outcome;	/* unix time of the last sent, deferred or failed line, 0 if none (for nl_send_rate) */
	char *stop_detail;	/* why the last run stopped (its `stopped` line, unescaped) if no run began or finished since; else NULL */
	/* The failed/deferred/doubt recipients with their last reply, for `status` (at most 100 kept, in log order). */
	struct nl_failure { char *rcpt; char *detail; int code; enum nl_event ev; } *failures;
	size_t nfailures;
};

/* How many failures nl_sendlog_scan keeps; failed + deferred says how many there are in all. */
#define NL_SENDSTATE_MAX_FAILURES 100

/*
 * Read the log at path (a missing file is an empty log; anything but a regular file is refused with
 * NL_ENOINPUT) and fill st for SLUG only, streaming line by line
 * (getline; memory must not grow with the log's size beyond the address map). Unknown events and malformed
 * lines are skipped with a warning naming path:line (nl_warn), except a last line without a trailing newline
 * (a crash mid-write can't happen with single write() calls, but be tolerant: treat it as malformed and warn).
 * The failures' rcpt and detail are unescaped ("" when the field was "-"); a recipient's place in the list is
 * that of its first line carrying its final event, and its code/detail are those of its last line. This takes a
 * second pass over the log, made only when something failed, up to where the first pass ended.
 * On error st is left empty (freeing it is still safe).
 * The caller frees st with nl_sendstate_free.
 */
enum nl_err nl_sendlog_scan(const char *path, const char *slug, struct nl_sendstate *st);
/* The same, with the address map sized once for about `expect` recipients. */
enum nl_err nl_sendlog_scan_sized(const char *path, const char *slug, size_t expect,
				  struct nl_sendstate *st);
void nl_sendstate_free(struct nl_sendstate *st);

/* What the log says about one post's campaign as a whole (its campaign events), for cron. */
struct nl_campaign_log {
	char *slug;
	double started;		/* the first intent or stopped line, 0 if none */
	double done;		/* the last `done`, 0 if none */
	double skipped;		/* the last `skipped`, 0 if none */
	double last_stop;	/* the last `stopped`, 0 if none */
	unsigned stops;		/* `stopped` lines since the last `sent` or `done`: how far to back off */
	char *stop_detail;	/* the last `stopped` line's detail, unescaped; NULL if none */
};

/*
 * One pass over the log at path (a missing file is an empty log) for every
 * post at once, so that cron reads the log once however many posts there are.
 * Bad lines are warned about as nl_sendlog_scan does. *out (n entries, in the
 * order the posts first appear) is freed with nl_campaign_logs_free.
 */
enum nl_err nl_sendlog_campaigns(const char *path, struct nl_campaign_log **out, size_t *n);
void nl_campaign_logs_free(struct nl_campaign_log *c, size_t n);

/* One line of the log, as nl_sendlog_each hands it out (fields unescaped, "" for "-"). */
struct nl_sendlog_entry {
	double when;
	enum nl_event ev;
	int code;
	const char *slug, *rcpt, *msgid, *detail;
};

/*
 * Call fn on every good line of the log at path, every post's, in order (a
 * missing file is an empty log); fn's error stops the walk and is returned.
 * The entry is valid during the call only.
 */
typedef enum nl_err (*nl_sendlog_entry_fn)(void *ctx, const struct nl_sendlog_entry *e);
enum nl_err nl_sendlog_each(const char *path, nl_sendlog_entry_fn fn, void *ctx);

#endif
