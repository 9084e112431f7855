/* nl.h - program-wide error codes and the per-thread error message. */
#ifndef NL_H
#define NL_H

#include <stddef.h>

#define NL_VERSION "0.1.0"

/* One error enum for the whole program; main maps it to sysexits. */
enum nl_err {
	NL_OK = 0,
	NL_EUSAGE,	 /* bad command line */
	NL_EDATA,	 /* bad input data: post, CSV, template */
	NL_ENOINPUT,	 /* an input file is missing or unreadable */
	NL_ECONFIG,	 /* bad configuration */
	NL_EIO,		 /* read/write failure (disk full, ...) */
	NL_ECANTCREAT,	 /* cannot create an output file */
	NL_ENOMEM,	 /* allocation failed or a size cap was hit */
	NL_ETEMPFAIL,	 /* transient: try again later */
	NL_EUNAVAILABLE, /* a service (SMTP relay) refused us */
	NL_EPROTOCOL,	 /* the server said something we cannot use */
	NL_ENOPERM,	 /* refused: permissions, drafts, ... */
	NL_EINTERRUPTED, /* stopped by a signal; resumable */
	NL_ELOCKED,	 /* another run holds the lock */
	NL_EINTERNAL,	 /* a bug */
};

/*
 * Record a formatted message for the current thread and return code, so
 * core code can write `return nl_errf(NL_EDATA, "%s:%d: ...", ...);`.
 * The message stays until the next nl_errf on this thread.
 */
enum nl_err nl_errf(enum nl_err code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread ("" if none). */
const char *nl_errmsg(void);
/* The sysexits.h status for code. */
int nl_exit_status(enum nl_err code);

#define NL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
