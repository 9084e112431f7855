/* smtp.h - the libcurl sender: N connections, a shared rate limit, retries, per-recipient results. */
#ifndef NL_SMTP_H
#define NL_SMTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "nl.h"

enum nl_outcome {
	NL_OUT_SENT,	  /* the server took it (250) */
	NL_OUT_FAILED,	  /* permanent (5xx): not retried in this run */
	NL_OUT_DEFERRED,  /* transient failures until retries ran out */
};

/* One message to one recipient. Owned by the sender; the source fills it. */
struct nl_smtp_job {
	char rcpt[320];
	char msgid[320];
	char envelope_from[320];	/* MAIL FROM for this message; "": the run's envelope_from */
	struct nl_buf msg;	/* the whole message, CRLF */
	int attempts;
	double due;		/* monotonic time before which it must not be retried */
	size_t sent_bytes;	/* read callback position */
	struct nl_smtp_job *next;
};

/*
 * Where messages come from and where results go. next() is called with the
 * sender's lock held (the source need not be thread-safe); it fills job
 * (rcpt, msgid, msg) or sets *eof. attempt() runs just before each SMTP
 * transaction and result() after the final outcome; both may run on several
 * threads at once. An error from any of them stops the run.
 */
struct nl_smtp_source {
	enum nl_err (*next)(void *ctx, struct nl_smtp_job *job, bool *eof);
	enum nl_err (*attempt)(void *ctx, const struct nl_smtp_job *job);
	enum nl_err (*result)(void *ctx, const struct nl_smtp_job *job, enum nl_outcome out,
			      int code, const char *reply);
	void *ctx;
};

struct nl_smtp_opts {
	const struct nl_smtp_config *cfg;
	const char *envelope_from;	/* bounce address */
	const char *password;		/* NULL: no AUTH */
	int connections;
	double rate;			/* per second, whole run; 0 = none */
	int max_per_hour;		/* 0 = none */
	volatile sig_atomic_t *interrupted; /* set by a signal handler: take no new recipients */
};

/*
 * Send everything the source gives. Returns NL_OK when the source ran dry
 * and every job has an outcome; NL_EINTERRUPTED after a signal; or the error
 * that stopped the run early (authentication refused, TLS failure, too many
 * consecutive failures, a source error) with its message. Either way every
 * attempted job was reported to the source.
 */
enum nl_err nl_smtp_send(const struct nl_smtp_opts *o, const struct nl_smtp_source *src);

/*
 * Check the relay settings before anything is sent: URL scheme, the TLS
 * policy (never none off loopback), credentials, and read the password
 * (from password_env or an owner-only password_file) into *password
 * (malloc'd, NULL when no username). Errors name the config key.
 */
enum nl_err nl_smtp_prepare(struct nl_config *cfg, char **password);

#endif
