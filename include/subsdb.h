/* subsdb.h - the write side of a subscriber list: its lock, read-modify-write, atomic durable rewrites. */
#ifndef NL_SUBSDB_H
#define NL_SUBSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "datetime.h"
#include "nl.h"
#include "subscriber.h"

/* How long a writer waits for another to finish before giving up. */
#define NL_SUBSDB_LOCK_WAIT 60

struct nl_subsdb_opts {
	const char *secret, *list_id;	/* tokens for rows without one: as the message builder derives them */
	bool write;			/* lock the list and write a new one; else read only */
	bool missing_ok;		/* reading a list that does not exist yet gives no rows */
	time_t now;
	const char *what;		/* written into the lock file, e.g. "subscribers add" */
};



struct nl_subsdb; /* an open list; owned by the caller, freed by nl_subsdb_close() */

/*
 * Open the list at path. For writing: make its folder, take PATH.lock
 * (flock; waits up to NL_SUBSDB_LOCK_WAIT seconds for another writer),
 * then read the header. A list that does not exist yet is empty.
 */
enum nl_err nl_subsdb_open(const char *path, const struct nl_subsdb_opts *o, struct nl_subsdb **out);
/* Close; without a commit the old list stays as it was and the temporary file goes. */
void nl_subsdb_close(struct nl_subsdb *db);
const char *nl_subsdb_path(const struct nl_subsdb *db);
/* The folder the list is in ("." for a bare file name). */
const char *nl_subsdb_dir(const struct nl_subsdb *db);
bool nl_subsdb_existed(const struct nl_subsdb *db);
size_t nl_subsdb_ncols(const struct nl_subsdb *db);
const char *nl_subsdb_colname(const struct nl_subsdb *db, size_t i);
/* The index of column name (case-insensitive), adding it at the end if new. Before any put. */
enum nl_err nl_subsdb_column(struct nl_subsdb *db, const char *name, size_t *idx);
/* The current time as written into created_at/updated_at. */
const char *nl_subsdb_now(const struct nl_subsdb *db);

/* Create the temporary file and write the header (done by the first put if not before). */
enum nl_err nl_subsdb_begin(struct nl_subsdb *db);
/* The next row of the old list (see nl_list_next), valid until the next call; *eof at the end. */
enum nl_err nl_subsdb_next(struct nl_subsdb *db, struct nl_sub **row, bool *eof);
/* A row of empty fields to fill in and put, valid until the next call. */
struct nl_sub *nl_subsdb_new_row(struct nl_subsdb *db);
/* Write a row to the new list (nothing, when read only). */
enum nl_err nl_subsdb_put(struct nl_subsdb *db, const struct nl_sub *row);
/* Flush, fsync, rename over the list, fsync the folder. On failure the old list stays. */
enum nl_err nl_subsdb_commit(struct nl_subsdb *db);

/* ---- changes to one address, each a whole locked rewrite ---- */

enum nl_change {
	NL_CHANGE_NONE,		/* already so */
	NL_CHANGE_ADDED,
	NL_CHANGE_UPDATED,
	NL_CHANGE_REFUSED,	/* suppressed, and no --force */
	NL_CHANGE_REMOVED,
	NL_CHANGE_NOT_FOUND,
};

struct nl_subsdb_result {
	enum nl_change change;
	enum nl_status was, now;
	size_t rows;				/* rows changed or removed */
	char email[NL_ADDR_MAX + 1];		/* as spelled in the list */
	char since[NL_TIME_LEN + 1];		/* the row's updated_at before the change */
};

/* Add email (validated; name cleaned) with status st, or update the row that has it. */
enum nl_err nl_subsdb_add(const char *path, const struct nl_subsdb_opts *o, const char *email,
			  const char *name, enum nl_status st, bool force, struct nl_subsdb_result *res);
/*
 * Set the status of the row with this address or token. A suppression is
 * never lifted without force. Unsubscribing an address that is not on the
 * list adds it as unsubscribed, so that no later import can add it.
 */
enum nl_err nl_subsdb_set_status(const char *path, const struct nl_subsdb_opts *o, const char *key,
				 enum nl_status st, bool force, struct nl_subsdb_result *res);
/* Delete every row with this address (erasure): nothing of it is kept. */
enum nl_err nl_subsdb_remove(const char *path, const struct nl_subsdb_opts *o, const char *email,
			     struct nl_subsdb_result *res);

#endif
