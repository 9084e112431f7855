/* imap.h - an IMAP mailbox (libcurl) as an inbox source: unhandled messages handed out, then flagged or moved. */
#ifndef NL_IMAP_H
#define NL_IMAP_H

#include <signal.h>
#include <stdbool.h>

#include "config.h"
#include "inbox.h"
#include "nl.h"

/* The keyword that marks a message as handled, so a run never acts on one twice. */
#define NL_IMAP_KEYWORD "$NewsletterDone"
/* How many messages one run takes; the rest wait for the next run. */
#define NL_IMAP_MAX_BATCH 5000

/*
 * Check inbox.url's TLS policy (imaps://, or imap:// with STARTTLS; no TLS
 * only on loopback, which is what auto means there; c->tls is set to the
 * outcome) and read the password (inbox.password_env, or an
 * owner-only inbox.password_file) into *password (NULL without a user name;
 * the caller frees it).
 */
enum nl_err nl_imap_prepare(struct nl_inbox_config *c, char **password);

/*
 * Hand every message of the mailbox without the NL_IMAP_KEYWORD keyword to
 * fn, one connection for the run. Handled: \Seen and the keyword, or moved
 * to move_to. Left for a person: the keyword, not \Seen. Retry: unchanged.
 * A dry run changes no flag (a fetch's implicit \Seen is taken back). A lost
 * connection is NL_ETEMPFAIL: what was handled before it stays handled.
 */
enum nl_err nl_imap_each(const struct nl_inbox_config *c, const char *password, bool dry_run,
			 volatile sig_atomic_t *interrupted, nl_src_fn fn, void *ctx);

#endif
