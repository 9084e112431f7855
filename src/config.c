/* config.c - read config.yml (libyaml) into struct nl_config, with defaults and checks. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "datetime.h"
#include "utf8.h"

/* Plain string keys: where each lives in the file and in the struct. */
static const struct {
	const char *key;
	size_t off;
	const char *def;
	bool is_path; /* relative to the config file's folder */
} strings[] = {
	{"publication.name", offsetof(struct nl_config, name), "Newsletter", false},
	{"publication.address", offsetof(struct nl_config, address), "", false},
	{"base_url", offsetof(struct nl_config, base_url), "", false},
	{"reply_to", offsetof(struct nl_config, reply_to), "", false},
	{"bounce_address", offsetof(struct nl_config, bounce_address), "", false},
	{"list_id", offsetof(struct nl_config, list_id), "", false},
	{"unsubscribe_url", offsetof(struct nl_config, unsubscribe_url), "", false},
	{"unsubscribe_email", offsetof(struct nl_config, unsubscribe_email), "", false},
	{"subscribe_url", offsetof(struct nl_config, subscribe_url), "", false},
	{"secret", offsetof(struct nl_config, secret), "", false},
	{"subscribers", offsetof(struct nl_config, subscribers), "subscribers/main.csv", true},
	{"log", offsetof(struct nl_config, log), "sends.log", true},
	{"posts", offsetof(struct nl_config, posts), "posts", true},
	{"templates", offsetof(struct nl_config, templates), "templates", true},
	{"images_dir", offsetof(struct nl_config, images_dir), "", true},
	{"timezone", offsetof(struct nl_config, tz), "UTC", false},
	{"smtp.url", offsetof(struct nl_config, smtp.url), "smtp://127.0.0.1:25", false},
	{"smtp.username", offsetof(struct nl_config, smtp.username), "", false},
	{"smtp.password_env", offsetof(struct nl_config, smtp.password_env), "", false},
	{"smtp.password_file", offsetof(struct nl_config, smtp.password_file), "", true},
	{"smtp.ca_file", offsetof(struct nl_config, smtp.ca_file), "", true},
	{"smtp.helo", offsetof(struct nl_config, smtp.helo), "", false},
	{"dkim.domain", offsetof(struct nl_config, dkim.domain), "", false},
	{"dkim.selector", offsetof(struct nl_config, dkim.selector), "", false},
	{"dkim.key_file", offsetof(struct nl_config, dkim.key_file), "", true},
	{"dkim.selector2", offsetof(struct nl_config, dkim.selector2), "", false},
	{"dkim.key_file2", offsetof(struct nl_config, dkim.key_file2), "", true},
	{"doctor.resolver", offsetof(struct nl_config, doctor.resolver), "", false},
	{"doctor.probe_rcpt", offsetof(struct nl_config, doctor.probe_rcpt), "", false},
	{"doctor.ca_file", offsetof(struct nl_config, doctor.ca_file), "", true},
	{"site.dir", offsetof(struct nl_config, site.dir), "site", true},
	{"inbox.url", offsetof(struct nl_config, inbox.url), "", false},
	{"inbox.username", offsetof(struct nl_config, inbox.username), "", false},
	{"inbox.password_env", offsetof(struct nl_config, inbox.password_env), "", false},
	{"inbox.password_file", offsetof(struct nl_config, inbox.password_file), "", true},
	{"inbox.ca_file", offsetof(struct nl_config, inbox.ca_file), "", true},
	{"inbox.move_to", offsetof(struct nl_config, inbox.move_to), "", false},
	{"inbox.maildir", offsetof(struct nl_config, inbox.maildir), "", true},
	{"serve.listen", offsetof(struct nl_config, serve.listen), "127.0.0.1:8080", false},
};

static const struct {
	const char *key;
	size_t off;
	int def, min, max;
} ints[] = {
	{"smtp.connections", offsetof(struct nl_config, smtp.connections), 4, 1, 64},
	{"smtp.max_per_hour", offsetof(struct nl_config, smtp.max_per_hour), 0, 0, 100000000},
	{"smtp.timeout", offsetof(struct nl_config, smtp.timeout), 60, 1, 3600},
	{"smtp.data_timeout", offsetof(struct nl_config, smtp.data_timeout), 600, 1, 3600},
	{"smtp.retries", offsetof(struct nl_config, smtp.retries), 3, 0, 100},
	{"smtp.max_consecutive_failures", offsetof(struct nl_config, smtp.max_consecutive_failures),
	 20, 1, 1000000},
	{"site.per_page", offsetof(struct nl_config, site.per_page), 10, 1, 1000},
	{"inbox.timeout", offsetof(struct nl_config, inbox.timeout), 60, 1, 3600},
	{"inbox.soft_bounce_limit", offsetof(struct nl_config, inbox.soft_bounce_limit), 3, 1, 1000},
	{"inbox.soft_bounce_days", offsetof(struct nl_config, inbox.soft_bounce_days), 30, 1, 3650},
	{"serve.per_ip_per_minute", offsetof(struct nl_config, serve.per_ip), 120, 0, 1000000},
	{"serve.connections", offsetof(struct nl_config, serve.connections), 256, 4, 10000},
};

/* A configuration is a few KB; more is a mistake (a wrong file), not a bigger config. */
#define CONFIG_MAX NL_YNODE_MAX_BYTES

/* smtp.rate: 0 = no limit, else from one message an hour to a million a second. */
#define RATE_MIN (1.0 / 3600)
#define RATE_MAX 1e6

/* Every key the file may hold; anything else is a typo worth reporting. */
static const char *const known[] = {
	"publication", "publication.name", "publication.address", "from", "images",
	"allow_html", "smtp", "dkim", "smtp.tls", "smtp.rate", "smtp.insecure_skip_verify", "max_age",
	"doctor",
	"site", "site.include_unsent", "site.after_cron",
	"inbox", "inbox.tls", "inbox.insecure_skip_verify",
	"serve",
};

static char **sfield(struct nl_config *c, size_t off)
{
	return (char **)((char *)c + off);
}

static enum nl_err bad(const struct nl_config *c, const struct nl_ynode *n, const char *key,
		       const char *what)
{
	return nl_errf(NL_ECONFIG, "%s:%d:%d: %s: %s", c->path, n ? n->line : 1, n ? n->col : 1,
		       key, what);
}

enum nl_err nl_config_set(char **field, const char *value)
{
	char *s = strdup(value);
	if (!s)
		return nl_errf(NL_ENOMEM, "out of memory");
	free(*field);
	*field = s;
	return NL_OK;
}

/* A relative path in the file means relative to the file's folder. */
static enum nl_err resolve(struct nl_config *c, char **field)
{
	const char *slash = strrchr(c->path, '/');
	if (!c->loaded || !**field || **field == '/' || !slash)
		return NL_OK;
	struct nl_buf b = NL_BUF_INIT;
	nl_buf_add(&b, c->path, (size_t)(slash - c->path + 1));
	nl_buf_adds(&b, *field);
	if (nl_buf_err(&b))
		return NL_ENOMEM;
	free(*field);
	*field = nl_buf_detach(&b, NULL);
	return NL_OK;
}

static enum nl_err load_strings(struct nl_config *c)
{
	enum nl_err e;
	for (size_t i = 0; i < NL_ARRAY_LEN(strings); i++) {
		const struct nl_ynode *n = nl_ynode_path(c->root, strings[i].key);
		const char *v = strings[i].def;
		if (n && !nl_ynode_is_null(n)) {
			if (!(v = nl_ynode_str(n)))
				return bad(c, n, strings[i].key, "must be a string");
			if (strpbrk(v, "\r\n"))
				return bad(c, n, strings[i].key, "must be on one line");
		}
		if ((e = nl_config_set(sfield(c, strings[i].off), v)))
			return e;
		if (strings[i].is_path && (e = resolve(c, sfield(c, strings[i].off))))
			return e;
	}
	return NL_OK;
}

static enum nl_err load_ints(struct nl_config *c)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(ints); i++) {
		const struct nl_ynode *n = nl_ynode_path(c->root, ints[i].key);
		int *field = (int *)((char *)c + ints[i].off);
		*field = ints[i].def;
		if (!n || nl_ynode_is_null(n))
			continue;
		const char *s = nl_ynode_str(n);
		char *end;
		errno = 0;
		long v = s ? strtol(s, &end, 10) : 0;
		if (!s || !*s || *end || errno || v < ints[i].min || v > ints[i].max) {
			char what[96];
			snprintf(what, sizeof what, "must be a whole number from %d to %d",
				 ints[i].min, ints[i].max);
			return bad(c, n, ints[i].key, what);
		}
		*field = (int)v;
	}
	return NL_OK;
}

static bool is_known(const char *key)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(strings); i++)
		if (!strcmp(strings[i].key, key))
			return true;
	for (size_t i = 0; i < NL_ARRAY_LEN(ints); i++)
		if (!strcmp(ints[i].key, key))
			return true;
	for (size_t i = 0; i < NL_ARRAY_LEN(known); i++)
		if (!strcmp(known[i], key))
			return true;
	return false;
}

static enum nl_err check_keys(struct nl_config *c, const struct nl_ynode *map, const char *prefix)
{
	for (size_t i = 0; i < map->n; i++) {
		char key[256];
		snprintf(key, sizeof key, "%s%s", prefix, map->keys[i]);
		/* publication.* may carry any extra field for templates. */
		if (!strcmp(prefix, "publication."))
			continue;
		if (!is_known(key))
			return bad(c, map->items[i], key, "unknown setting (see config.example.yml)");
		if (!strcmp(key, "smtp") || !strcmp(key, "publication") || !strcmp(key, "dkim") ||
		    !strcmp(key, "doctor") || !strcmp(key, "site") || !strcmp(key, "inbox") ||
		    !strcmp(key, "serve")) {
			if (map->items[i]->kind != NL_Y_MAP)
				return bad(c, map->items[i], key, "must be a block of settings");
			snprintf(key, sizeof key, "%s.", map->keys[i]);
			enum nl_err e = check_keys(c, map->items[i], key);
			if (e)
				return e;
		}
	}
	return NL_OK;
}

/* A YAML 1.1 boolean, or absent (false): anything else is probably a typo worth naming. */
static enum nl_err load_bool(struct nl_config *c, const char *key, bool *out)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off"};
	const struct nl_ynode *n = nl_ynode_path(c->root, key);
	const char *s = nl_ynode_str(n);
	*out = false;
	if (!n || nl_ynode_is_null(n))
		return NL_OK;
	for (size_t i = 0; s && !n->quoted && i < NL_ARRAY_LEN(words); i++) {
		if (!strcasecmp(s, words[i])) {
			*out = i % 2 == 0;
			return NL_OK;
		}
	}
	return bad(c, n, key, "must be true or false");
}

/* A rate like 1e-300 would space messages by ages: the run would hang after the first. */
static enum nl_err load_rate(struct nl_config *c)
{
	const struct nl_ynode *n = nl_ynode_path(c->root, "smtp.rate");
	const char *s = nl_ynode_str(n);
	char *end = NULL;
	c->smtp.rate = 0;
	if (!n || nl_ynode_is_null(n))
		return NL_OK;
	double v = s && *s ? strtod(s, &end) : -1;
	if (!s || !*s || *end || !isfinite(v) || !(v == 0 || (v >= RATE_MIN && v <= RATE_MAX)))
		return bad(c, n, "smtp.rate",
			   "must be messages per second: 0 for no limit, else at least 0.000278 "
			   "(one an hour) and at most 1000000");
	c->smtp.rate = v;
	return NL_OK;
}

/* inbox.tls and the URL's shape; the password is read only by `inbox` (imap.c). */
static enum nl_err load_inbox(struct nl_config *c)
{
	const struct nl_ynode *n = nl_ynode_path(c->root, "inbox.tls");
	const char *s = nl_ynode_str(n), *u = c->inbox.url;
	c->inbox.tls = NL_TLS_AUTO;
	if (s && !strcmp(s, "starttls"))
		c->inbox.tls = NL_TLS_STARTTLS;
	else if (s && !strcmp(s, "none"))
		c->inbox.tls = NL_TLS_NONE;
	else if (n && !nl_ynode_is_null(n) && !(s && !strcmp(s, "auto")))
		return bad(c, n, "inbox.tls", "must be 'starttls', 'none' or 'auto'");
	if (*u && strncasecmp(u, "imap://", 7) && strncasecmp(u, "imaps://", 8))
		return bad(c, nl_ynode_path(c->root, "inbox.url"), "inbox.url",
			   "must start with imap:// or imaps://");
	if (*u && strchr(u + 7, '@'))
		return bad(c, nl_ynode_path(c->root, "inbox.url"), "inbox.url",
			   "a user name or password in the URL is not allowed: set inbox.username, and "
			   "inbox.password_env or inbox.password_file");
	return load_bool(c, "inbox.insecure_skip_verify", &c->inbox.insecure_skip_verify);
}

static enum nl_err load_enums(struct nl_config *c)
{
	enum nl_err e;
	const struct nl_ynode *n = nl_ynode_get(c->root, "images");
	const char *s = nl_ynode_str(n);
	c->images = NL_IMAGES_AUTO;
	if (s && !strcmp(s, "link"))
		c->images = NL_IMAGES_LINK;
	else if (s && !strcmp(s, "embed"))
		c->images = NL_IMAGES_EMBED;
	else if (n && !nl_ynode_is_null(n) && !(s && !strcmp(s, "auto")))
		return bad(c, n, "images", "must be 'link', 'embed' or 'auto'");
	n = nl_ynode_path(c->root, "smtp.tls");
	s = nl_ynode_str(n);
	c->smtp.tls = NL_TLS_AUTO;
	if (s && !strcmp(s, "starttls"))
		c->smtp.tls = NL_TLS_STARTTLS;
	else if (s && !strcmp(s, "none"))
		c->smtp.tls = NL_TLS_NONE;
	else if (n && !nl_ynode_is_null(n) && !(s && !strcmp(s, "auto")))
		return bad(c, n, "smtp.tls", "must be 'starttls', 'none' or 'auto'");
	if ((e = load_bool(c, "allow_html", &c->allow_html)) ||
	    (e = load_bool(c, "smtp.insecure_skip_verify", &c->smtp.insecure_skip_verify)) ||
	    (e = load_bool(c, "site.include_unsent", &c->site.include_unsent)) ||
	    (e = load_bool(c, "site.after_cron", &c->site.after_cron)) ||
	    (e = load_inbox(c)))
		return e;
	return load_rate(c);
}

/* When cron sends: the zone of dates without an offset, and how old is too old to be news. */
static enum nl_err load_schedule(struct nl_config *c)
{
	const struct nl_ynode *n = nl_ynode_get(c->root, "max_age");
	const char *s = nl_ynode_str(n);
	if (!nl_tz_valid(c->tz))
		return bad(c, nl_ynode_get(c->root, "timezone"), "timezone",
			   "unknown time zone: use a name from the tz database such as Europe/Berlin, "
			   "or UTC");
	c->max_age = 7 * 86400;
	if (n && !nl_ynode_is_null(n) && !(s && nl_duration_parse(s, &c->max_age)))
		return bad(c, n, "max_age", "must be a duration such as 7d, 36h or 90m");
	return NL_OK;
}

/* The host of an smtp URL: a name, an IPv4 address or a bracketed IPv6 one. */
static const char *host_problem(const char *h, size_t n)
{
	if (!n)
		return "no host: write smtp://HOST or smtp://HOST:PORT";
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']' || strspn(h + 1, "0123456789abcdefABCDEF:.") != n - 2)
			return "the host is not a bracketed IPv6 address such as [::1]";
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
			return "the host may only use letters, digits, '.', '-' and '_'";
	return NULL;
}

const char *nl_config_smtp_url_problem(const char *url)
{
	const char *p = url, *auth, *end, *colon;
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return "spaces and control characters are not allowed";
	if (!strncasecmp(p, "smtp://", 7))
		p += 7;
	else if (!strncasecmp(p, "smtps://", 8))
		p += 8;
	else
		return "must start with smtp:// or smtps://";
	auth = p;
	end = auth + strcspn(auth, "/?#");
	if (*end == '?' || *end == '#')
		return "a query (?) or fragment (#) is not allowed";
	/* Said without echoing the URL: what precedes the '@' is a password. Anywhere,
	 * not just in the host part: no part of an smtp URL has a use for one. */
	if (strchr(auth, '@'))
		return "a user name or password in the URL is not allowed: set smtp.username, and "
		       "smtp.password_env or smtp.password_file";
	colon = auth[0] == '[' ? memchr(auth, ']', (size_t)(end - auth)) : auth;
	colon = colon ? memchr(colon, ':', (size_t)(end - colon)) : NULL;
	const char *why = host_problem(auth, (size_t)((colon ? colon : end) - auth));
	if (why || !colon)
		return why;
	long port = 0;
	for (p = colon + 1; p < end && isdigit((unsigned char)*p) && port <= 65535; p++)
		port = port * 10 + (*p - '0');
	if (p != end || port < 1 || port > 65535)
		return "the port must be a number from 1 to 65535";
	return NULL;
}

/* Checked at load, so a typo is never mistaken for a relay's refusal (and no password leaks). */
static enum nl_err check_smtp_url(struct nl_config *c)
{
	const char *why = nl_config_smtp_url_problem(c->smtp.url);
	return why ? bad(c, nl_ynode_path(c->root, "smtp.url"), "smtp.url", why) : NL_OK;
}

static enum nl_err load_from(struct nl_config *c)
{
	const struct nl_ynode *n = nl_ynode_get(c->root, "from");
	const char *why = NULL;
	if (!n || nl_ynode_is_null(n)) {
		c->from_name = strdup("");
		c->from_addr = strdup("");
		return c->from_name && c->from_addr ? NL_OK : NL_ENOMEM;
	}
	if (!nl_ynode_str(n) || !nl_addr_parse_mailbox(n->text, &c->from_name, &c->from_addr, &why))
		return bad(c, n, "from", why ? why : "must be 'Name <address>' or an address");
	return NL_OK;
}

static enum nl_err check_addr(struct nl_config *c, const char *key, const char *v)
{
	const char *why = NULL;
	if (*v && !nl_addr_valid(v, strlen(v), &why))
		return bad(c, nl_ynode_path(c->root, key), key, why);
	return NL_OK;
}

static enum nl_err derive(struct nl_config *c)
{
	enum nl_err e = NL_OK;
	const char *dom = *c->from_addr ? nl_addr_domain(c->from_addr) : "localhost";
	char tmp[1024];
	size_t n = strlen(c->base_url);
	while (n && c->base_url[n - 1] == '/')
		c->base_url[--n] = 0;
	if ((e = check_addr(c, "reply_to", c->reply_to)) ||
	    (e = check_addr(c, "bounce_address", c->bounce_address)) ||
	    (e = check_addr(c, "unsubscribe_email", c->unsubscribe_email)) ||
	    (e = check_addr(c, "doctor.probe_rcpt", c->doctor.probe_rcpt)))
		return e;
	if (!*c->bounce_address)
		e = nl_config_set(&c->bounce_address, c->from_addr);
	if (!e && !*c->unsubscribe_email)
		e = nl_config_set(&c->unsubscribe_email, *c->reply_to ? c->reply_to : c->from_addr);
	if (!e && !*c->list_id) {
		snprintf(tmp, sizeof tmp, "newsletter.%s", dom);
		e = nl_config_set(&c->list_id, tmp);
	}
	if (!e && !*c->unsubscribe_url && n) {
		snprintf(tmp, sizeof tmp, "%s/unsubscribe/", c->base_url);
		e = nl_config_set(&c->unsubscribe_url, tmp);
	}
	if (!e && !*c->subscribe_url && n) {
		snprintf(tmp, sizeof tmp, "%s/subscribe", c->base_url);
		e = nl_config_set(&c->subscribe_url, tmp);
	}
	return e;
}

/* A DKIM domain or selector: dot-separated labels of letters, digits, '-' and '_'. */
static bool dkim_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 253 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* Where key is in the file, else the dkim block itself. */
static const struct nl_ynode *dkim_node(const struct nl_config *c, const char *key)
{
	const struct nl_ynode *n = nl_ynode_path(c->root, key);
	return n ? n : nl_ynode_get(c->root, "dkim");
}

/*
 * dkim: all or nothing: a domain, a selector and a key; a second key needs
 * its own selector. The keys themselves are read by dkim.c when a
 * campaign starts (permissions, type, size), not by every command.
 */
static enum nl_err check_dkim(struct nl_config *c)
{
	const struct nl_dkim_config *d = &c->dkim;
	if (!*d->domain && !*d->selector && !*d->key_file && !*d->selector2 && !*d->key_file2)
		return NL_OK;
	if (!dkim_name_ok(d->domain))
		return bad(c, dkim_node(c, "dkim.domain"), "dkim.domain",
			   "must be a domain name such as example.org");
	if (!dkim_name_ok(d->selector))
		return bad(c, dkim_node(c, "dkim.selector"), "dkim.selector",
			   "must be a selector such as mail2026 (letters, digits, '-', '_', '.')");
	if (!*d->key_file)
		return bad(c, dkim_node(c, "dkim"), "dkim.key_file",
			   "missing: the PEM private key to sign with");
	if (!*d->selector2 && !*d->key_file2)
		return NL_OK;
	if (!dkim_name_ok(d->selector2))
		return bad(c, dkim_node(c, "dkim.selector2"), "dkim.selector2",
			   "must be a selector such as ed2026, for key_file2");
	if (!*d->key_file2)
		return bad(c, dkim_node(c, "dkim"), "dkim.key_file2",
			   "missing: selector2 needs its own key");
	if (!strcmp(d->selector, d->selector2))
		return bad(c, nl_ynode_path(c->root, "dkim.selector2"), "dkim.selector2",
			   "must differ from dkim.selector");
	return NL_OK;
}

/* Open path for reading if it is a regular file: a FIFO or /dev/zero would be read forever. */
static enum nl_err open_regular(const char *path, int *fd)
{
	struct stat st;
	*fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return nl_errf(NL_ECONFIG, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(*fd, &st) < 0)
		st.st_mode = 0;
	if (!S_ISREG(st.st_mode)) {
		bool dir = S_ISDIR(st.st_mode);
		close(*fd);
		*fd = -1;
		return nl_errf(NL_ECONFIG, "%s: %s: give the configuration file (-c FILE)", path,
			       dir ? "is a folder" : "is not a regular file");
	}
	return NL_OK;
}

/* The whole file, or an error: never a silently shortened one. */
static enum nl_err read_whole(const char *path, struct nl_buf *b)
{
	char chunk[8192];
	ssize_t n;
	int fd;
	enum nl_err e = open_regular(path, &fd);
	if (e)
		return e;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = nl_errf(NL_ECONFIG, "%s: cannot read: %s", path, strerror(errno));
			break;
		}
		if (b->len + (size_t)n > CONFIG_MAX) {
			e = nl_errf(NL_ECONFIG, "%s: larger than %zu KB: is this the configuration file?",
				    path, CONFIG_MAX >> 10);
			break;
		}
		nl_buf_add(b, chunk, (size_t)n);
	}
	close(fd);
	return e ? e : nl_buf_err(b);
}

/* The file's text: checked, parsed, a map. */
static enum nl_err parse_text(struct nl_config *c, const char *text, size_t len)
{
	size_t bad_at;
	enum nl_err e;
	if (len > CONFIG_MAX)
		return nl_errf(NL_ECONFIG, "%s: larger than %zu KB: is this the configuration file?",
			       c->path, CONFIG_MAX >> 10);
	if (!nl_utf8_valid(text, len, &bad_at)) {
		int line, col;
		nl_text_pos(text, bad_at, &line, &col);
		return nl_errf(NL_ECONFIG, "%s:%d:%d: invalid UTF-8", c->path, line, col);
	}
	if ((e = nl_ynode_parse(c->path, text, len, 1, &c->root)))
		return e == NL_EDATA ? NL_ECONFIG : e;
	if (c->root->kind != NL_Y_MAP)
		return nl_errf(NL_ECONFIG, "%s:1:1: the configuration must be a map of settings",
			       c->path);
	return check_keys(c, c->root, "");
}

static enum nl_err read_config(struct nl_config *c)
{
	struct nl_buf b = NL_BUF_INIT;
	enum nl_err e = read_whole(c->path, &b);
	if (!e)
		e = parse_text(c, b.data, b.len);
	nl_buf_free(&b);
	return e;
}

static struct nl_config *config_new(const char *path)
{
	struct nl_config *c = calloc(1, sizeof *c);
	if (c && !(c->path = strdup(path ? path : ""))) {
		free(c);
		c = NULL;
	}
	if (c)
		c->loaded = path != NULL;
	return c;
}

/* Every key from c->root (an empty map for the defaults) into c; frees c on error. */
static enum nl_err finish(struct nl_config *c, enum nl_err e, struct nl_config **out)
{
	if (e || (e = load_strings(c)) || (e = load_ints(c)) || (e = load_enums(c)) ||
	    (e = load_schedule(c)) || (e = load_from(c)) || (e = check_smtp_url(c)) ||
	    (e = check_dkim(c)) || (e = derive(c)))
		goto fail;
	*out = c;
	return NL_OK;
fail:
	if (e == NL_ENOMEM && !*nl_errmsg())
		nl_errf(NL_ENOMEM, "out of memory");
	nl_config_free(c);
	return e;
}

enum nl_err nl_config_load(const char *path, struct nl_config **out)
{
	struct stat st;
	struct nl_config *c;
	*out = NULL;
	if (!path && stat("config.yml", &st) == 0)
		path = "config.yml";
	if (!(c = config_new(path)))
		return nl_errf(NL_ENOMEM, "out of memory");
	if (c->loaded)
		return finish(c, read_config(c), out);
	return finish(c, nl_ynode_parse("defaults", "", 0, 1, &c->root), out);
}

enum nl_err nl_config_parse(const char *path, const char *text, size_t len,
			    struct nl_config **out)
{
	struct nl_config *c = config_new(path);
	*out = NULL;
	if (!c)
		return nl_errf(NL_ENOMEM, "out of memory");
	return finish(c, parse_text(c, text, len), out);
}

void nl_config_free(struct nl_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NL_ARRAY_LEN(strings); i++)
		free(*sfield(c, strings[i].off));
	free(c->path);
	free(c->from_name);
	free(c->from_addr);
	nl_ynode_free(c->root);
	free(c);
}
