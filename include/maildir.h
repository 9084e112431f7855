/* maildir.h - a Maildir folder as an inbox source: new/ messages handed out, then moved to cur/. */
#ifndef NL_MAILDIR_H
#define NL_MAILDIR_H

#include <signal.h>
#include <stdbool.h>

#include "inbox.h"
#include "nl.h"

/*
 * Hand every message in DIR/new/ to fn, oldest name first; a handled one
 * moves to DIR/cur/ with the S (seen) flag, one left for a person without it,
 * so that the next run does not see either again. A dry run moves nothing.
 * Messages over NL_BOUNCE_MAX_BYTES are left for a person unread.
 */
enum nl_err nl_maildir_each(const char *dir, bool dry_run, volatile sig_atomic_t *interrupted,
			    nl_src_fn fn, void *ctx);

/* Read a whole message from fd (at most NL_BOUNCE_MAX_BYTES + 1 bytes); the caller frees *data. */
enum nl_err nl_read_message(int fd, const char *name, char **data, size_t *len);

#endif
