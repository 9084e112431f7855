/* changes.h - the change file beside a list: one appended line per status change, folded in by the next rewrite. */
#ifndef NL_CHANGES_H
#define NL_CHANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "buf.h"
#include "datetime.h"
#include "nl.h"

/*
 * A change is one line, "TIME<TAB>KEY<TAB>STATUS\n": TIME as RFC 3339 UTC
 * (NL_TIME_LEN), KEY a reader's token or address (letter case aside), STATUS
 * a status word. Lines are only ever appended, each with one write() and
 * made durable (fdatasync) before the writer returns; a line without its
 * newline (a crash mid-write) or one that does not parse is skipped, and
 * the next writer starts on a fresh line. The list's next full rewrite
 * (nl_subsdb_commit, under the list's lock) folds the lines into the CSV
 * and keeps only the ones appended after it read them.
 */

/* The most a change file may hold before it is refused (a rewrite folds it long before). */
#define NL_CHANGES_MAX_BYTES ((off_t)1 << 30)
/* The longest line read; longer ones are skipped. */
#define NL_CHANGES_MAX_LINE 512

/* PATH.changes for a list PATH (subscribers.csv -> subscribers.csv.changes). */
enum nl_err nl_changes_path(const char *list_path, struct nl_buf *out);

/* ---- reading: the latest status per key ---- */

struct nl_changes; /* owned by the caller, freed by nl_changes_free() */

struct nl_changes *nl_changes_new(void);
void nl_changes_free(struct nl_changes *c);
/*
 * Read what was appended to path since the last call (all of it the first
 * time); a file replaced meanwhile (by a fold) is read from its start. A
 * missing file has no changes.
 */
enum nl_err nl_changes_read(struct nl_changes *c, const char *path);
/* Parse the complete lines of data (for tests and fuzzing); *used: bytes up to the last newline. */
void nl_changes_feed(struct nl_changes *c, const char *data, size_t len, size_t *used);
/* Lines taken, lines skipped as malformed. */
size_t nl_changes_count(const struct nl_changes *c);
size_t nl_changes_skipped(const struct nl_changes *c);
/* Line i (below nl_changes_count) in the order read; a file replaced by a fold is read again after. */
void nl_changes_line(const struct nl_changes *c, size_t i, const char **when, const char **key,
		     const char **status);
/*
 * The latest change for a row with this address or token (either may be
 * ""), if any, made no earlier than the row's updated_at (a later rewrite
 * wins over an older line that a crash left unfolded). *status is the
 * word as written (the list reader parses it), *when the change's time;
 * both valid until the next read or feed.
 */
bool nl_changes_lookup(const struct nl_changes *c, const char *email, const char *token,
		       const char *updated_at, const char **status, const char **when);
/*
 * Keep only what was appended to path after c read it: called under the
 * list's lock, after the rewrite that applied c is in place. Durable.
 */
enum nl_err nl_changes_fold(const struct nl_changes *c, const char *path);

/* ---- writing: appends with one shared sync for concurrent writers ---- */

struct nl_changelog; /* thread-safe; owned by the caller, freed by nl_changelog_close() */

enum nl_err nl_changelog_open(const char *path, struct nl_changelog **out);
void nl_changelog_close(struct nl_changelog *w);
/*
 * Append "now key status" (a lower-case status word) and return once it is on disk. Threads appending at
 * once share one write and one fdatasync (group commit). key NULL appends
 * nothing but waits for a sync all the same (an answer about an unknown
 * token takes as long as one about a known one).
 */
enum nl_err nl_changelog_append(struct nl_changelog *w, const char *key, const char *status, time_t now);
/* One line as appended, for a single writer without a changelog (tests, tools). */
enum nl_err nl_changes_append1(const char *path, const char *key, const char *status, time_t now);

#endif
