/* config.h - the YAML configuration file, with defaults and validation. */
#ifndef NL_CONFIG_H
#define NL_CONFIG_H

#include <stdbool.h>

#include "nl.h"
#include "ynode.h"

enum nl_images { NL_IMAGES_AUTO, NL_IMAGES_LINK, NL_IMAGES_EMBED };
enum nl_tls { NL_TLS_AUTO, NL_TLS_STARTTLS, NL_TLS_NONE };

struct nl_smtp_config {
	char *url;		/* smtp://host:port or smtps://host:port; no user info (checked) */
	enum nl_tls tls;
	char *username;
	char *password_env;	/* name of an environment variable */
	char *password_file;	/* a file only its owner can read */
	char *ca_file;
	char *helo;
	bool insecure_skip_verify;
	int connections;	/* parallel sessions, default 4 */
	double rate;		/* messages per second for the whole run; 0 = no limit, else 1/3600..1e6 */
	int max_per_hour;	/* 0 = no limit */
	int timeout;		/* seconds for connect and each reply, default 60 */
	int data_timeout;	/* seconds for the reply to the final dot, default 600 */
	int retries;		/* transient failures retried, default 3 */
	int max_consecutive_failures; /* stop the run after this many, default 20 */
};

/*
 * dkim: sign every message (RFC 6376) with one key, or two at once (say RSA
 * and Ed25519, RFC 8463). All "" when not configured. The key files are
 * only named here; dkim.c reads and checks them.
 */
struct nl_dkim_config {
	char *domain;		/* d= */
	char *selector;		/* s= of key_file */
	char *key_file;		/* PEM private key, mode 0600 or stricter */
	char *selector2;	/* optional second signature */
	char *key_file2;
};

/* doctor: where `newsletter doctor` looks. All "" when not set. */
struct nl_doctor_config {
	char *resolver;		/* DNS server "ADDR[:PORT]"; "" = the system's (NEWSLETTER_RESOLVER overrides) */
	char *probe_rcpt;	/* RCPT TO of the SMTP probe; "" = the From address */
	char *ca_file;		/* CA bundle for the unsubscribe endpoint; "" = the system's */
};

/* site: the web archive that `newsletter site` writes. */
struct nl_site_config {
	char *dir;		/* output folder; default "site" beside the config */
	int per_page;		/* posts per index page, default 10 */
	bool include_unsent;	/* due posts the log has not sent (yet) are published too */
	bool after_cron;	/* `cron` rebuilds the site after it sends */
};

/*
 * inbox: where bounces, complaints and emailed unsubscribes arrive, and
 * what to do about soft bounces. All strings "" when not configured.
 */
struct nl_inbox_config {
	char *url;		/* imap://host[:port]/MAILBOX or imaps://...; no user info (checked) */
	enum nl_tls tls;	/* as smtp.tls: imap:// upgrades with STARTTLS unless none (loopback only) */
	char *username;
	char *password_env;	/* name of an environment variable */
	char *password_file;	/* a file only its owner can read */
	char *ca_file;
	bool insecure_skip_verify;
	char *move_to;		/* IMAP folder for handled messages; "" = flag them \Seen */
	char *maildir;		/* a Maildir folder, when there is no IMAP */
	int timeout;		/* seconds, default 60 */
	int soft_bounce_limit;	/* soft bounces that make a reader bounced, default 3 */
	int soft_bounce_days;	/* ... within this many days, default 30 */
};

/* serve: the web endpoint (one-click unsubscribe, signup). */
struct nl_serve_config {
	char *listen;		/* ADDR:PORT, default 127.0.0.1:8080 */
	int per_ip;		/* POSTs a minute from one address before 429; 0 = no limit */
	int connections;	/* open connections at most */
};

/* All strings are owned by the config ("" when unset); nl_config_free() frees them. */
struct nl_config {
	char *path;		/* the file read, or "" for built-in defaults */
	bool loaded;		/* a file was read */
	struct nl_ynode *root;	/* the whole file (an empty map without one) */
	char *name;		/* publication.name */
	char *address;		/* publication.address: postal address */
	char *base_url;		/* no trailing slash */
	char *from_name, *from_addr;
	char *reply_to;		/* an address; "" = none */
	char *bounce_address;	/* envelope sender; default from_addr */
	char *list_id;		/* List-Id: <list_id> */
	char *unsubscribe_url;	/* prefix the token is appended to */
	char *unsubscribe_email;/* mailto: target of List-Unsubscribe */
	char *subscribe_url;
	char *secret;		/* keys tokens when a list has none */
	char *subscribers, *log, *posts, *templates;
	char *images_dir;	/* images may also come from here; "" = only the post's folder */
	char *tz;		/* `timezone`: IANA name for dates without an offset; default "UTC" */
	long max_age;		/* seconds: cron skips never-started posts older than this; default 7 days */
	enum nl_images images;
	bool allow_html;
	struct nl_smtp_config smtp;
	struct nl_dkim_config dkim;
	struct nl_doctor_config doctor;
	struct nl_site_config site;
	struct nl_inbox_config inbox;
	struct nl_serve_config serve;
};

/*
 * Load path (NULL: ./config.yml if it exists, else built-in defaults).
 * path must be a regular file of at most NL_YNODE_MAX_BYTES. Errors name
 * the file, line and column, and the key. The caller frees with nl_config_free().
 */
enum nl_err nl_config_load(const char *path, struct nl_config **out);
/* The same for a file's text already in memory (any bytes); path names it. */
enum nl_err nl_config_parse(const char *path, const char *text, size_t len,
			    struct nl_config **out);
void nl_config_free(struct nl_config *c);
/*
 * Why url cannot be smtp.url (smtp:// or smtps://, a host, an optional port
 * and path, no user info), or NULL if it can. The reason never repeats the
 * URL, which may hold a password. For command-line overrides too.
 */
const char *nl_config_smtp_url_problem(const char *url);
/* Replace *field with a copy of value (for command-line overrides). */
enum nl_err nl_config_set(char **field, const char *value);

#endif
