/* serve.h - the web endpoint (libmicrohttpd): one-click unsubscribe, signup with double opt-in, confirm. */
#ifndef NL_SERVE_H
#define NL_SERVE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "nl.h"

/* Request bodies larger than this are refused (413): a form holds an address and a name. */
#define NL_SERVE_MAX_BODY 4096
/* Seconds a connection may stay idle (a slow client is dropped, and never holds a thread). */
#define NL_SERVE_TIMEOUT 10
/* Threads answering requests; the sockets themselves are polled (epoll), not one thread each. */
#define NL_SERVE_THREADS 16
/* At most one confirmation message per address in this many seconds. */
#define NL_SERVE_CONFIRM_EVERY 3600
/* POSTs about one address (or token) in an hour before 429. */
#define NL_SERVE_PER_ADDRESS 10

struct nl_serve_opts {
	struct nl_config *cfg;		/* borrowed; secret already set */
	const char *listen;		/* ADDR:PORT or [V6]:PORT */
	const char *password;		/* SMTP AUTH, from nl_smtp_prepare (NULL: none) */
	volatile sig_atomic_t *interrupted; /* the server stops once set */
	void (*ready)(const char *where);   /* called once listening (for the command's message) */
};

/*
 * Read the list into an index of tokens and addresses, load the page
 * templates (templates/serve-*.html, serve-confirm-email.txt), listen and
 * answer until interrupted. Every change is in the list's change file,
 * synced, before its answer is sent. Returns NL_OK after an interruption.
 */
enum nl_err nl_serve_run(const struct nl_serve_opts *o);

/* The path part of a URL ("https://h/x/unsubscribe/" -> "/x/unsubscribe/"); "" for none. */
const char *nl_serve_url_path(const char *url);

#endif
