/* imap.c - read a mailbox through libcurl's IMAP: UID SEARCH, UID FETCH, UID STORE / UID MOVE on one connection. */
#include "imap.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce.h"
#include "buf.h"
#include "log.h"

struct imap {
	const struct nl_inbox_config *c;
	CURL *curl;
	char base[1024];		/* imap://host:port/MAILBOX, no trailing slash */
	char err[CURL_ERROR_SIZE];
	struct nl_buf out;		/* what the last command wrote */
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct imap *im = ctx;
	size_t len = size * n;
	if (im->out.len + len > NL_BOUNCE_MAX_BYTES + 1) {
		im->too_big = true;
		return 0;
	}
	nl_buf_add(&im->out, p, len);
	return im->out.failed ? 0 : len;
}

/* ---- configuration ---- */

static bool loopback(const char *host)
{
	struct in_addr a4;
	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]") || !strcmp(host, "::1"))
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static enum nl_err password_file(const char *path, char **out)
{
	struct stat st;
	char buf[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nl_errf(NL_ECONFIG, "inbox.password_file: cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || (st.st_mode & 077)) {
		close(fd);
		return nl_errf(NL_ECONFIG, "inbox.password_file: %s can be read by others: chmod 600 it", path);
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return nl_errf(NL_ECONFIG, "inbox.password_file: cannot read %s", path);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	*out = strdup(buf);
	memset(buf, 0, sizeof buf);
	return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

static enum nl_err tls_policy(struct nl_inbox_config *c)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	enum nl_err e = NL_OK;
	if (!u)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, c->url, 0) || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0))
		e = nl_errf(NL_ECONFIG, "inbox.url: not a URL like imaps://HOST/INBOX");
	else if (c->tls == NL_TLS_AUTO && (c->tls = NL_TLS_STARTTLS) && strcasecmp(scheme, "imaps") &&
		 loopback(host))
		c->tls = NL_TLS_NONE; /* as smtp.tls: in clear only on this machine */
	if (e)
		;
	else if (c->tls == NL_TLS_NONE && !strcasecmp(scheme, "imaps"))
		e = nl_errf(NL_ECONFIG, "inbox.tls: none contradicts imaps:// in inbox.url");
	else if (c->tls == NL_TLS_NONE && !loopback(host))
		e = nl_errf(NL_ECONFIG, "inbox.tls: none is only allowed for a server on this machine (loopback), not %s",
			    host);
	else if (c->insecure_skip_verify)
		nl_warn("inbox.insecure_skip_verify is on: the IMAP server's certificate is NOT checked");
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return e;
}

enum nl_err nl_imap_prepare(struct nl_inbox_config *c, char **out)
{
	enum nl_err e = tls_policy(c);
	*out = NULL;
	if (e || !*c->username)
		return e;
	if (*c->password_env) {
		const char *v = getenv(c->password_env);
		if (!v || !*v)
			return nl_errf(NL_ECONFIG, "inbox.password_env: the variable %s is %s", c->password_env,
				       v ? "empty" : "not set");
		*out = strdup(v);
		return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
	}
	if (*c->password_file)
		return password_file(c->password_file, out);
	return nl_errf(NL_ECONFIG, "inbox.username is set: give the password with inbox.password_env or "
				   "inbox.password_file");
}

/* ---- commands ---- */

static enum nl_err setup(struct imap *im, const char *password)
{
	const struct nl_inbox_config *c = im->c;
	CURL *h = im->curl = curl_easy_init();
	size_t n = strlen(c->url);
	const char *path = strstr(c->url, "://");
	if (!h)
		return nl_errf(NL_ENOMEM, "cannot create a libcurl handle");
	while (n && c->url[n - 1] == '/')
		n--;
	/* No mailbox in the URL means INBOX. */
	bool has_box = path && strchr(path + 3, '/') && strchr(path + 3, '/') < c->url + n;
	if (snprintf(im->base, sizeof im->base, "%.*s%s", (int)n, c->url, has_box ? "" : "/INBOX") >=
	    (int)sizeof im->base)
		return nl_errf(NL_ECONFIG, "inbox.url: too long");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, im->err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, im);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->timeout);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)c->timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->timeout);
	curl_easy_setopt(h, CURLOPT_USE_SSL, c->tls == NL_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure_skip_verify ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure_skip_verify ? 0L : 2L);
	if (*c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	if (password) {
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, password);
	}
	return NL_OK;
}

/* Run one command (custom: a UID command on the selected mailbox; else fetch uid). */
static enum nl_err run(struct imap *im, const char *custom, unsigned long uid)
{
	char url[1100];
	CURLcode rc;
	nl_buf_reset(&im->out);
	im->too_big = false;
	im->err[0] = 0;
	if (custom)
		snprintf(url, sizeof url, "%s", im->base);
	else
		snprintf(url, sizeof url, "%s/;UID=%lu", im->base, uid);
	curl_easy_setopt(im->curl, CURLOPT_URL, url);
	curl_easy_setopt(im->curl, CURLOPT_CUSTOMREQUEST, custom);
	rc = curl_easy_perform(im->curl);
	if (rc == CURLE_WRITE_ERROR && im->too_big)
		return NL_EDATA;
	if (rc == CURLE_LOGIN_DENIED)
		return nl_errf(NL_ECONFIG, "inbox: the IMAP server refused the user name or password");
	if (rc == CURLE_QUOTE_ERROR || rc == CURLE_REMOTE_ACCESS_DENIED)
		return nl_errf(NL_EPROTOCOL, "inbox: the IMAP server refused %s: %s", custom ? custom : "a fetch",
			       *im->err ? im->err : curl_easy_strerror(rc));
	if (rc == CURLE_USE_SSL_FAILED || rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
	    rc == CURLE_SSL_CACERT_BADFILE)
		return nl_errf(NL_EUNAVAILABLE, "inbox: IMAP: %s (see inbox.tls and inbox.ca_file)",
			       *im->err ? im->err : curl_easy_strerror(rc));
	if (rc)
		return nl_errf(NL_ETEMPFAIL, "inbox: IMAP: %s (the next run carries on)",
			       *im->err ? im->err : curl_easy_strerror(rc));
	return nl_buf_err(&im->out);
}

/* "* SEARCH 3 5 8" into uids. */
static size_t parse_search(const char *p, unsigned long *uids, size_t cap)
{
	size_t n = 0;
	const char *s = strstr(p, "* SEARCH");
	if (!s)
		return 0;
	s += 8;
	while (*s && *s != '\r' && *s != '\n' && n < cap) {
		char *end;
		while (*s == ' ')
			s++;
		errno = 0;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || errno)
			break;
		uids[n++] = v;
		s = end;
	}
	return n;
}

static enum nl_err search(struct imap *im, const char *what, unsigned long *uids, size_t *n)
{
	char cmd[128];
	enum nl_err e;
	snprintf(cmd, sizeof cmd, "UID SEARCH UNDELETED UNKEYWORD %s%s", NL_IMAP_KEYWORD, what);
	if ((e = run(im, cmd, 0)))
		return e;
	*n = parse_search(im->out.data, uids, NL_IMAP_MAX_BATCH);
	return NL_OK;
}

static enum nl_err store(struct imap *im, unsigned long uid, const char *flags)
{
	char cmd[160];
	snprintf(cmd, sizeof cmd, "UID STORE %lu %s", uid, flags);
	return run(im, cmd, 0);
}

/* A mailbox name as an IMAP quoted string. */
static enum nl_err move(struct imap *im, unsigned long uid)
{
	struct nl_buf cmd = NL_BUF_INIT;
	enum nl_err e;
	nl_buf_addf(&cmd, "UID MOVE %lu \"", uid);
	for (const char *p = im->c->move_to; *p; p++) {
		if (*p == '"' || *p == '\\')
			nl_buf_addc(&cmd, '\\');
		nl_buf_addc(&cmd, *p);
	}
	nl_buf_addc(&cmd, '"');
	if (!(e = nl_buf_err(&cmd)))
		e = run(im, cmd.data, 0);
	nl_buf_free(&cmd);
	return e;
}

static bool in(const unsigned long *v, size_t n, unsigned long x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Mark one message as the handler said; unseen says whether it was unread before we fetched it. */
static enum nl_err mark(struct imap *im, unsigned long uid, enum nl_src_verdict v, bool unseen, bool dry_run)
{
	enum nl_err e;
	if (dry_run || v == NL_SRC_RETRY)
		return unseen ? store(im, uid, "-FLAGS.SILENT (\\Seen)") : NL_OK;
	if (v == NL_SRC_PERSON) {
		if ((e = store(im, uid, "+FLAGS.SILENT (" NL_IMAP_KEYWORD ")")))
			return e;
		return unseen ? store(im, uid, "-FLAGS.SILENT (\\Seen)") : NL_OK;
	}
	if ((e = store(im, uid, "+FLAGS.SILENT (\\Seen " NL_IMAP_KEYWORD ")")))
		return e;
	return *im->c->move_to ? move(im, uid) : NL_OK;
}

static enum nl_err one(struct imap *im, unsigned long uid, bool unseen, bool dry_run, nl_src_fn fn, void *ctx)
{
	char name[48];
	enum nl_src_verdict v = NL_SRC_RETRY;
	enum nl_err e = run(im, NULL, uid);
	snprintf(name, sizeof name, "UID %lu", uid);
	if (e == NL_EDATA) {
		nl_warn("inbox: %s is larger than %zu bytes: left for a person", name, NL_BOUNCE_MAX_BYTES);
		v = NL_SRC_PERSON;
		e = NL_OK;
	} else if (!e) {
		e = fn(ctx, name, im->out.data, im->out.len, &v);
	}
	if (e == NL_ETEMPFAIL || e == NL_EINTERRUPTED)
		return e; /* the connection is gone or we stop: the keyword is not set, the next run sees it */
	enum nl_err me = mark(im, uid, e ? NL_SRC_RETRY : v, unseen, dry_run);
	return e ? e : me;
}

enum nl_err nl_imap_each(const struct nl_inbox_config *c, const char *password, bool dry_run,
			 volatile sig_atomic_t *interrupted, nl_src_fn fn, void *ctx)
{
	struct imap im = {.c = c, .out = NL_BUF_INIT};
	unsigned long *uids = malloc(NL_IMAP_MAX_BATCH * sizeof *uids);
	unsigned long *unseen = malloc(NL_IMAP_MAX_BATCH * sizeof *unseen);
	size_t n = 0, nu = 0;
	enum nl_err e;
	if (!uids || !unseen) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto out;
	}
	/* A fetch sets \Seen: knowing which were unread lets us take that back. */
	if ((e = setup(&im, password)) || (e = search(&im, " UNSEEN", unseen, &nu)) ||
	    (e = search(&im, "", uids, &n)))
		goto out;
	for (size_t i = 0; i < n && !e; i++) {
		if (interrupted && *interrupted)
			e = nl_errf(NL_EINTERRUPTED, "interrupted");
		else
			e = one(&im, uids[i], in(unseen, nu, uids[i]), dry_run, fn, ctx);
	}
out:
	if (im.curl)
		curl_easy_cleanup(im.curl);
	nl_buf_free(&im.out);
	free(uids);
	free(unseen);
	return e;
}
