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
	NL_OUT_DEFERRED,  /* transient failures until retries ran out, or the run stopped */
	NL_OUT_IN_DOUBT,  /* the whole message went out but its final reply never came */
};

/* Where in the SMTP dialogue a reply (or its absence) came. */
enum nl_smtp_stage {
	NL_STAGE_CONNECT,	/* connection, greeting, EHLO, STARTTLS */
	NL_STAGE_AUTH,
	NL_STAGE_MAIL,		/* MAIL FROM */
	NL_STAGE_RCPT,		/* RCPT TO */
	NL_STAGE_DATA,		/* the DATA command and the upload, before the final dot went out */
	NL_STAGE_DOT,		/* the reply to the final dot */
};

enum nl_smtp_verdict {
	NL_V_OK,	/* go on (at the final dot: sent) */
	NL_V_FAIL,	/* this mailbox refused: the recipient fails, the run goes on */
	NL_V_DEFER,	/* try this recipient again later */
	NL_V_STOP,	/* the relay refuses us or this message: stop the run */
	NL_V_DOUBT,	/* the message went out, the verdict never came: do not resend */
};

/*
 * What a reply means at a stage: code is the basic reply code (0 when none
 * came: timeout or lost connection), esc the enhanced status code
 * (RFC 3463, "5.1.1"; NULL or "" when absent), text the reply's words (only
 * read to tell a relay denial at RCPT). Pure; see smtp.c for the table.
 */
enum nl_smtp_verdict nl_smtp_classify(enum nl_smtp_stage stage, int code, const char *esc,
				      const char *text);

/* One message to one recipient. Owned by the sender; the source fills it. */
struct nl_smtp_job {
	char rcpt[320];
	char envelope_from[320];	/* MAIL FROM for this message; "" = opts' envelope_from */
	char msgid[320];
	struct nl_buf msg;	/* the whole message, CRLF */
	int attempts;
	double due;		/* monotonic time before which it must not be retried */
	bool fresh;		/* retry on a new connection: the last one failed or was closed */
	bool prepared;		/* the source's prepare() ran on it */
	struct nl_smtp_job *next;
};

/*
 * Where messages come from and where results go. next() is called with the
 * sender's lock held (the source need not be thread-safe); it fills job
 * (rcpt, msgid, msg, optionally envelope_from) or sets *eof. attempt() runs just before each SMTP
 * transaction and result() after the final outcome; both may run on several
 * threads at once. An error from any of them stops the run.
 */
struct nl_smtp_source {
	enum nl_err (*next)(void *ctx, struct nl_smtp_job *job, bool *eof);
	enum nl_err (*attempt)(void *ctx, const struct nl_smtp_job *job);
	enum nl_err (*result)(void *ctx, const struct nl_smtp_job *job, enum nl_outcome out,
			      int code, const char *reply);
	void *ctx;
	/*
	 * Optional (NULL: none): finish a job's message on a worker's thread,
	 * without the lock, once, before its first attempt (DKIM signing, the
	 * costly part, so it runs on every connection at once). An error
	 * stops the run.
	 */
	enum nl_err (*prepare)(void *ctx, struct nl_smtp_job *job);
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
 * that stopped the run early (NL_EUNAVAILABLE: the relay refused the login,
 * TLS, our sender, the message or the session, or too many consecutive
 * failures; or a source error) with its message. Either way every attempted
 * job was reported to the source. One session logs in before the others
 * open; every session ends with QUIT.
 */
enum nl_err nl_smtp_send(const struct nl_smtp_opts *o, const struct nl_smtp_source *src);

/*
 * Check the relay settings before anything is sent: URL scheme, the TLS
 * policy (never none off loopback), credentials, and read the password
 * (from password_env or an owner-only password_file) into *password
 * (malloc'd, NULL when no username). Errors name the config key. Sets the
 * EHLO name: smtp.helo, else this host's canonical name if dotted, else the
 * From address's domain (-v says which).
 */
enum nl_err nl_smtp_prepare(struct nl_config *cfg, char **password);

/* Where opening a session failed, for doctor's probe. */
enum nl_probe_fail {
	NL_PROBE_OK, NL_PROBE_CONNECT, NL_PROBE_EHLO, NL_PROBE_TLS, NL_PROBE_CERT, NL_PROBE_AUTH,
};

/* What one session showed, step by step; codes are 0 where no reply came or the step was not tried. */
struct nl_smtp_probe {
	enum nl_probe_fail failed;	/* where opening the session failed, or NL_PROBE_OK */
	char error[512];		/* why (the server's reply or libcurl's words) */
	int error_code;			/* the server's code when it refused, else 0 */
	bool greeted, ehlo;		/* a 220 greeting; a 250 to EHLO */
	bool starttls_offered, auth_offered; /* EHLO listed STARTTLS, AUTH */
	bool tls;			/* the session was encrypted (STARTTLS or smtps) */
	bool authed;			/* the server said 235 to our login */
	char peer_ip[64];		/* the address libcurl connected to */
	int mail_code, rcpt_code, rset_code, quit_code;
	char mail_reply[512], rcpt_reply[512], rset_reply[512], quit_reply[512];
};

/*
 * Open one session as a send would (libcurl: connect, EHLO, STARTTLS,
 * certificate check, AUTH with o's password), then MAIL FROM
 * o->envelope_from, RCPT TO rcpt, RSET and QUIT: no DATA, nothing is
 * sent. Fills *p; returns an error only when the probe itself could not
 * run (out of memory), never for what the server did.
 */
enum nl_err nl_smtp_probe(const struct nl_smtp_opts *o, const char *rcpt, struct nl_smtp_probe *p);

/* url for messages and logs: scheme://host:port, never user info (nor the EHLO path). */
void nl_smtp_url_redacted(const char *url, char *out, size_t n);

#endif
