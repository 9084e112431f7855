/* config.c - read config.yml (libyaml) into struct nl_config, with defaults and checks. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "buf.h"
#include "schedule.h"
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
};

/* Every key the file may hold; anything else is a typo worth reporting. */
static const char *const known[] = {
	"publication", "publication.name", "publication.address", "from", "images",
	"allow_html", "smtp", "smtp.tls", "smtp.rate", "smtp.insecure_skip_verify", "max_age",
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
		if (!strcmp(key, "smtp") || !strcmp(key, "publication")) {
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

static enum nl_err load_enums(struct nl_config *c)
{
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
	c->allow_html = nl_ynode_is_true(nl_ynode_get(c->root, "allow_html"));
	c->smtp.insecure_skip_verify =
		nl_ynode_is_true(nl_ynode_path(c->root, "smtp.insecure_skip_verify"));
	n = nl_ynode_path(c->root, "smtp.rate");
	c->smtp.rate = 0;
	if (n && !nl_ynode_is_null(n)) {
		char *end;
		s = nl_ynode_str(n);
		c->smtp.rate = s ? strtod(s, &end) : -1;
		if (!s || !*s || *end || !(c->smtp.rate >= 0 && c->smtp.rate <= 1e6))
			return bad(c, n, "smtp.rate", "must be messages per second (0 = no limit)");
	}
	return NL_OK;
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
	if (n && !nl_ynode_is_null(n) && !(s && nl_parse_duration(s, &c->max_age)))
		return bad(c, n, "max_age", "must be a duration such as 7d, 36h or 90m");
	return NL_OK;
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
	    (e = check_addr(c, "unsubscribe_email", c->unsubscribe_email)))
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

static enum nl_err read_config(struct nl_config *c)
{
	struct nl_buf b = NL_BUF_INIT;
	char chunk[8192];
	size_t n, bad_at;
	enum nl_err e = NL_OK;
	FILE *f = fopen(c->path, "rb");
	if (!f)
		return nl_errf(NL_ECONFIG, "%s: cannot open: %s", c->path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
		nl_buf_add(&b, chunk, n);
	fclose(f);
	if ((e = nl_buf_err(&b)))
		goto out;
	if (!nl_utf8_valid(b.data, b.len, &bad_at)) {
		int line, col;
		nl_text_pos(b.data, bad_at, &line, &col);
		e = nl_errf(NL_ECONFIG, "%s:%d:%d: invalid UTF-8", c->path, line, col);
		goto out;
	}
	if ((e = nl_ynode_parse(c->path, b.data, b.len, 1, &c->root))) {
		e = NL_ECONFIG;
		goto out;
	}
	if (c->root->kind != NL_Y_MAP)
		e = nl_errf(NL_ECONFIG, "%s:1:1: the configuration must be a map of settings", c->path);
out:
	nl_buf_free(&b);
	return e;
}

enum nl_err nl_config_load(const char *path, struct nl_config **out)
{
	struct nl_config *c = calloc(1, sizeof *c);
	enum nl_err e;
	struct stat st;
	*out = NULL;
	if (!c)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (!path && stat("config.yml", &st) == 0)
		path = "config.yml";
	c->loaded = path != NULL;
	if (!(c->path = strdup(path ? path : ""))) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto fail;
	}
	if (c->loaded) {
		if ((e = read_config(c)) || (e = check_keys(c, c->root, "")))
			goto fail;
	} else if ((e = nl_ynode_parse("defaults", "", 0, 1, &c->root))) {
		goto fail;
	}
	if ((e = load_strings(c)) || (e = load_ints(c)) || (e = load_enums(c)) ||
	    (e = load_schedule(c)) || (e = load_from(c)) || (e = derive(c)))
		goto fail;
	*out = c;
	return NL_OK;
fail:
	if (e == NL_ENOMEM && !*nl_errmsg())
		nl_errf(NL_ENOMEM, "out of memory");
	nl_config_free(c);
	return e;
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
