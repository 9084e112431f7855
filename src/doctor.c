/* doctor.c - the preflight checklist: each check adds one line with what it saw and how to fix it. */
#include "doctor.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "addr.h"
#include "campaign.h"
#include "config.h"
#include "dkim.h"
#include "dns.h"
#include "dnsrec.h"
#include "post.h"
#include "recipients.h"
#include "schedule.h"
#include "smtp.h"

/* Gmail clips a message whose HTML passes about 102 KB, hiding the footer and its unsubscribe link. */
#define GMAIL_CLIP (102 * 1024)
#define CLIP_MARGIN (90 * 1024)
/* SPF evaluation: includes and redirects nested this deep, and MX hosts per name, at most. */
#define SPF_DEPTH 5
#define SPF_MX_MAX 10

struct ctx {
	const struct nl_doctor_opts *o;
	struct nl_doctor *d;
	enum nl_err err;		/* out of memory while keeping results */
	struct nl_config *cfg;
	struct nl_dkim *dkim;
	struct nl_dns *dns;
	const char *from_domain;	/* "" when there is no usable From address */
	const char *spf_domain;		/* the envelope sender's domain: where receivers look for SPF */
	char spf_label[400];		/* spf_domain, and why when it is not the From domain */
	char relay_ip[64];		/* the relay's address, when the probe got that far */
	struct nl_dmarc dmarc;
	bool have_dmarc;
};

static void add(struct ctx *c, const char *name, enum nl_check_status st, const char *fix,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Lines quote DNS records and replies from strangers: no escape sequence reaches a terminal. */
static void blank_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void add(struct ctx *c, const char *name, enum nl_check_status st, const char *fix,
		const char *fmt, ...)
{
	struct nl_doctor *d = c->d;
	va_list ap;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct nl_check *p = realloc(d->checks, cap * sizeof *p);
		if (!p) {
			c->err = nl_errf(NL_ENOMEM, "out of memory");
			return;
		}
		d->checks = p;
		d->cap = cap;
	}
	struct nl_check *k = &d->checks[d->n++];
	k->name = name;
	k->status = st;
	va_start(ap, fmt);
	vsnprintf(k->what, sizeof k->what, fmt, ap);
	va_end(ap);
	snprintf(k->fix, sizeof k->fix, "%s", st == NL_CHECK_OK || !fix ? "" : fix);
	blank_controls(k->what);
	blank_controls(k->fix);
	d->fails += st == NL_CHECK_FAIL;
	d->warns += st == NL_CHECK_WARN;
	if (c->o->report)
		c->o->report(c->o->ctx, k);
}

const char *nl_check_status_name(enum nl_check_status s)
{
	static const char *const names[] = {"ok", "warn", "FAIL", "skip"};
	return names[s];
}

void nl_doctor_free(struct nl_doctor *d)
{
	if (!d)
		return;
	free(d->checks);
	memset(d, 0, sizeof *d);
}

static bool is_loopback_ip(const char *ip)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1)
		return a[0] == 127;
	return !strcmp(ip, "::1");
}

/* ---- config, templates, list, From, base_url ---- */

static bool check_config(struct ctx *c)
{
	enum nl_err e = nl_config_load(c->o->config_path, &c->cfg);
	if (e) {
		add(c, "config", NL_CHECK_FAIL, "correct the setting at the place named; config.example.yml "
						"shows every key", "%s", nl_errmsg());
		return false;
	}
	if (!c->cfg->loaded)
		add(c, "config", NL_CHECK_FAIL, "write a config.yml (copy config.example.yml) or name one "
						"with -c FILE", "no config.yml here: built-in defaults only");
	else
		add(c, "config", NL_CHECK_OK, NULL, "%s loads", c->cfg->path);
	return true;
}

static const char sample_post[] = "---\ntitle: Doctor's sample\n---\nA paragraph.\n";

static void check_templates(struct ctx *c)
{
	struct nl_post *post = NULL;
	struct nl_campaign *camp = NULL;
	struct nl_campaign_opts co = {.cfg = c->cfg, .now = time(NULL)};
	enum nl_err e = nl_post_parse("doctor-sample.md", sample_post, sizeof sample_post - 1, &post);
	co.post = post;
	if (!e)
		e = nl_campaign_new(&co, &camp);
	if (e)
		add(c, "templates", NL_CHECK_FAIL, "fix the template named, or point `templates` at a "
						   "folder with email.html and email.txt", "%s", nl_errmsg());
	else
		add(c, "templates", NL_CHECK_OK, NULL, "the templates in %s load", c->cfg->templates);
	nl_campaign_free(camp);
	nl_post_free(post);
}

static void check_list(struct ctx *c)
{
	struct nl_recipients_opts ro = {.path = c->cfg->subscribers, .secret = c->cfg->secret,
					.list_id = c->cfg->list_id, .missing_ok = true};
	struct nl_recipients *r = NULL;
	struct nl_recipient rc;
	struct stat st;
	size_t readers = 0;
	bool eof = false;
	enum nl_err e = nl_recipients_open(&ro, &r);
	while (!e && !(e = nl_recipients_next(r, &rc, &eof)) && !eof)
		readers += rc.skip == NL_SKIP_NONE;
	if (e)
		add(c, "list", NL_CHECK_FAIL, "fix the list at the line named (newsletter subscribers "
					      "list shows what it reads)", "%s", nl_errmsg());
	else if (stat(c->cfg->subscribers, &st))
		add(c, "list", NL_CHECK_WARN, "add readers with `newsletter subscribers add` or import a "
					      "list", "%s does not exist yet: nobody would get mail",
		    c->cfg->subscribers);
	else
		add(c, "list", readers ? NL_CHECK_OK : NL_CHECK_WARN,
		    "add readers with `newsletter subscribers add` or import a list",
		    "%s: %zu rows, %zu readers would get the next post", c->cfg->subscribers,
		    nl_recipients_rows(r), readers);
	nl_recipients_close(r);
}

static void check_from(struct ctx *c)
{
	const char *a = c->cfg->from_addr, *why = NULL;
	c->from_domain = "";
	if (!*a) {
		add(c, "from", NL_CHECK_FAIL, "set `from: \"Your Name <you@your-domain.example>\"`",
		    "no From address");
		return;
	}
	if (!nl_addr_valid(a, strlen(a), &why)) {
		add(c, "from", NL_CHECK_FAIL, "set `from` to an address at a domain you control",
		    "From %s: %s", a, why);
		return;
	}
	c->from_domain = nl_addr_domain(a);
	const char *org = nl_org_domain(c->from_domain);
	if (!strcasecmp(org, "gmail.com") || !strcasecmp(org, "yahoo.com") ||
	    !strcasecmp(org, "outlook.com") || !strcasecmp(org, "hotmail.com"))
		add(c, "from", NL_CHECK_FAIL, "send from a domain of your own: freemail providers "
					      "publish DMARC p=reject/quarantine, so their receivers "
					      "refuse bulk mail from other relays",
		    "From %s is at a freemail domain", a);
	else
		add(c, "from", NL_CHECK_OK, NULL, "From %s (domain %s)", a, c->from_domain);
}

static void check_base_url(struct ctx *c)
{
	const char *u = c->cfg->base_url;
	if (!*u)
		add(c, "base_url", NL_CHECK_WARN, "set base_url to where `newsletter serve` answers "
						  "(https://...), so mail carries a one-click unsubscribe",
		    "base_url is not set: no one-click unsubscribe (List-Unsubscribe is mailto: only)");
	else if (strncasecmp(u, "https://", 8))
		add(c, "base_url", NL_CHECK_WARN, "serve it over https:// (RFC 8058 one-click needs "
						  "HTTPS)", "base_url %s is not https://", u);
	else
		add(c, "base_url", NL_CHECK_OK, NULL, "base_url %s", u);
}

/* ---- SMTP ---- */

static void skip_smtp(struct ctx *c, size_t from, const char *why)
{
	static const char *const names[] = {"smtp.connect", "smtp.ehlo", "smtp.starttls",
					    "smtp.certificate", "smtp.auth", "smtp.mail_from",
					    "smtp.rcpt_to", "smtp.rset"};
	for (size_t i = from; i < NL_ARRAY_LEN(names); i++)
		add(c, names[i], NL_CHECK_SKIP, NULL, "not checked: %s", why);
}

static void smtp_tls_lines(struct ctx *c, const struct nl_smtp_probe *p, const char *url)
{
	const struct nl_smtp_config *s = &c->cfg->smtp;
	bool smtps = !strncasecmp(s->url, "smtps:", 6);
	if (s->tls == NL_TLS_NONE)
		add(c, "smtp.starttls", p->starttls_offered ? NL_CHECK_WARN : NL_CHECK_OK,
		    "remove `smtp.tls: none` so the session is encrypted",
		    p->starttls_offered ? "the relay offers STARTTLS but smtp.tls is none: mail goes "
					  "unencrypted"
					: "not used: smtp.tls is none (a relay on this machine)");
	else if (smtps)
		add(c, "smtp.starttls", NL_CHECK_OK, NULL, "TLS from the start (smtps://)");
	else
		add(c, "smtp.starttls", NL_CHECK_OK, NULL, "STARTTLS offered and used");
	if (s->tls == NL_TLS_NONE)
		add(c, "smtp.certificate", NL_CHECK_SKIP, NULL, "not checked: no TLS");
	else if (s->insecure_skip_verify)
		add(c, "smtp.certificate", NL_CHECK_WARN, "remove smtp.insecure_skip_verify; give the "
							  "relay's CA with smtp.ca_file",
		    "NOT verified: smtp.insecure_skip_verify is on");
	else
		add(c, "smtp.certificate", NL_CHECK_OK, NULL, "%s's certificate verified (%s)", url,
		    *s->ca_file ? s->ca_file : "the system's CAs");
}

/* The session did not open: the line where it failed, then skips. */
static void smtp_open_failed(struct ctx *c, const struct nl_smtp_probe *p, const char *url)
{
	char fix[600];
	switch (p->failed) {
	case NL_PROBE_CONNECT:
		add(c, "smtp.connect", NL_CHECK_FAIL, "check smtp.url (host and port) and that the relay "
						      "runs and lets this machine in",
		    "%s: %s", url, p->error);
		skip_smtp(c, 1, "no connection");
		return;
	case NL_PROBE_EHLO:
		add(c, "smtp.connect", NL_CHECK_OK, NULL, "%s answered", url);
		add(c, "smtp.ehlo", NL_CHECK_FAIL, "set smtp.helo to this machine's public name",
		    "the relay refused the session: %s", p->error);
		skip_smtp(c, 2, "the session did not open");
		return;
	case NL_PROBE_TLS:
		add(c, "smtp.connect", NL_CHECK_OK, NULL, "%s answered", url);
		add(c, "smtp.ehlo", NL_CHECK_OK, NULL, "EHLO accepted");
		snprintf(fix, sizeof fix, "%s",
			 p->starttls_offered ? "check the relay's TLS set-up (protocols, ciphers)"
					     : "enable STARTTLS on the relay, or use smtps:// with its TLS "
					       "port; only a relay on this machine may use smtp.tls: none");
		add(c, "smtp.starttls", NL_CHECK_FAIL, fix, "%s%s",
		    p->starttls_offered ? "" : "the relay does not offer STARTTLS: ", p->error);
		skip_smtp(c, 3, "no TLS");
		return;
	case NL_PROBE_CERT:
		add(c, "smtp.connect", NL_CHECK_OK, NULL, "%s answered", url);
		add(c, "smtp.ehlo", NL_CHECK_OK, NULL, "EHLO accepted");
		add(c, "smtp.starttls", NL_CHECK_OK, NULL, "TLS offered");
		add(c, "smtp.certificate", NL_CHECK_FAIL,
		    "set smtp.ca_file to the CA that signed the relay's certificate, or give the relay a "
		    "certificate for its name from a public CA", "%s", p->error);
		skip_smtp(c, 4, "the certificate is not trusted");
		return;
	default:
		break;
	}
	/* NL_PROBE_AUTH: everything before the login went well. */
	add(c, "smtp.connect", NL_CHECK_OK, NULL, "%s answered", url);
	add(c, "smtp.ehlo", NL_CHECK_OK, NULL, "EHLO accepted");
	smtp_tls_lines(c, p, url);
	snprintf(fix, sizeof fix, "check smtp.username (%s) and the password in %s%s",
		 c->cfg->smtp.username, *c->cfg->smtp.password_env ? "$" : "",
		 *c->cfg->smtp.password_env ? c->cfg->smtp.password_env : c->cfg->smtp.password_file);
	add(c, "smtp.auth", NL_CHECK_FAIL, fix, "login as %s refused: %s", c->cfg->smtp.username,
	    p->error);
	skip_smtp(c, 5, "not logged in");
}

static void smtp_transaction(struct ctx *c, const struct nl_smtp_probe *p, const char *rcpt)
{
	char fix[600];
	const char *bounce = c->cfg->bounce_address;
	if (p->mail_code == 530) /* 530 5.7.0: authentication required */
		snprintf(fix, sizeof fix, "the relay wants a login: set smtp.username and "
					  "smtp.password_env (or smtp.password_file)");
	else
		snprintf(fix, sizeof fix, "let the relay accept %s as sender (for your login), or "
					  "set bounce_address to one it accepts", bounce);
	add(c, "smtp.mail_from", p->mail_code == 250 ? NL_CHECK_OK : NL_CHECK_FAIL, fix,
	    "MAIL FROM:<%s>: %s", bounce, p->mail_code ? p->mail_reply : "no reply");
	if (p->mail_code != 250) {
		skip_smtp(c, 6, "MAIL FROM refused");
		return;
	}
	add(c, "smtp.rcpt_to", p->rcpt_code / 100 == 2 ? NL_CHECK_OK : NL_CHECK_FAIL,
	    "let your login relay to any address, or set doctor.probe_rcpt to a mailbox the relay "
	    "takes", "RCPT TO:<%s>: %s", rcpt, p->rcpt_code ? p->rcpt_reply : "no reply");
	bool clean = p->rset_code == 250 && p->quit_code == 221;
	add(c, "smtp.rset", clean ? NL_CHECK_OK : NL_CHECK_WARN,
	    "the relay does not end transactions cleanly; ask its operator",
	    "RSET %d, QUIT %d: nothing was sent", p->rset_code, p->quit_code);
}

static void check_smtp(struct ctx *c)
{
	char *password = NULL, url[512];
	struct nl_smtp_probe *p = calloc(1, sizeof *p);
	const char *rcpt = *c->cfg->doctor.probe_rcpt ? c->cfg->doctor.probe_rcpt : c->cfg->from_addr;
	enum nl_err e = p ? nl_smtp_prepare(c->cfg, &password) : NL_ENOMEM;
	nl_smtp_url_redacted(c->cfg->smtp.url, url, sizeof url);
	if (!p || e) {
		add(c, "smtp.connect", NL_CHECK_FAIL, "fix the smtp setting named", "%s",
		    p ? nl_errmsg() : "out of memory");
		skip_smtp(c, 1, "the smtp settings are not usable");
		goto out;
	}
	if (!*c->from_domain) {
		skip_smtp(c, 0, "no usable From address to probe with");
		goto out;
	}
	struct nl_smtp_opts so = {.cfg = &c->cfg->smtp, .envelope_from = c->cfg->bounce_address,
				  .password = password, .connections = 1};
	if ((c->err = nl_smtp_probe(&so, rcpt, p)))
		goto out;
	snprintf(c->relay_ip, sizeof c->relay_ip, "%s", p->peer_ip);
	if (p->failed) {
		smtp_open_failed(c, p, url);
		goto out;
	}
	add(c, "smtp.connect", NL_CHECK_OK, NULL, "%s answered (%s)", url, p->peer_ip);
	add(c, "smtp.ehlo", NL_CHECK_OK, NULL, "EHLO accepted%s%s",
	    p->starttls_offered ? ", offers STARTTLS" : "", p->auth_offered ? ", offers AUTH" : "");
	smtp_tls_lines(c, p, url);
	if (p->authed)
		add(c, "smtp.auth", NL_CHECK_OK, NULL, "logged in as %s", c->cfg->smtp.username);
	else
		add(c, "smtp.auth", NL_CHECK_OK, NULL, "no smtp.username: not logging in%s",
		    p->auth_offered ? " (the relay offers AUTH)" : "");
	smtp_transaction(c, p, rcpt);
out:
	if (password)
		memset(password, 0, strlen(password));
	free(password);
	free(p);
}

/* ---- DNS: SPF ---- */

enum spf_res { SPF_NOMATCH, SPF_MATCH, SPF_UNKNOWN };

struct spf_walk {
	unsigned char ip[16];
	bool v6;
	struct nl_buf how;	/* what was checked, for the line */
	char qual;		/* of the term that matched */
};

/* The one SPF record at name into *txt (n = how many there were; 0: none). */
static enum nl_err spf_record(struct ctx *c, const char *name, struct nl_dns_result *r,
			      struct nl_str *txt, size_t *n)
{
	enum nl_err e = nl_dns_query(c->dns, name, NL_DNS_TXT, r);
	*n = 0;
	for (size_t i = 0; !e && i < r->n; i++)
		if (nl_spf_is(r->rec[i].p, r->rec[i].len) && (*n)++ == 0)
			*txt = r->rec[i];
	return e;
}

static enum spf_res spf_eval(struct ctx *c, struct spf_walk *w, const char *domain, int depth);

/* Whether name's A (or AAAA) records hold the address, within the prefix length. */
static enum spf_res addr_match(struct ctx *c, struct spf_walk *w, const char *name,
			       const struct nl_spf_term *t)
{
	struct nl_dns_result r = {.buf = NL_BUF_INIT};
	enum spf_res res = SPF_NOMATCH;
	struct nl_spf_term ip = *t;
	ip.kind = w->v6 ? NL_SPF_IP6 : NL_SPF_IP4;
	if (nl_dns_query(c->dns, name, w->v6 ? NL_DNS_AAAA : NL_DNS_A, &r))
		res = SPF_UNKNOWN;
	for (size_t i = 0; res == SPF_NOMATCH && i < r.n; i++) {
		ip.value = r.rec[i];
		if (w->v6 ? nl_spf_ip6_match(&ip, w->ip) : nl_spf_ip4_match(&ip, w->ip))
			res = SPF_MATCH;
	}
	nl_dns_result_free(&r);
	return res;
}

static enum spf_res mx_match(struct ctx *c, struct spf_walk *w, const char *name,
			     const struct nl_spf_term *t)
{
	struct nl_dns_result r = {.buf = NL_BUF_INIT};
	enum spf_res res = SPF_NOMATCH;
	if (nl_dns_query(c->dns, name, NL_DNS_MX, &r))
		res = SPF_UNKNOWN;
	for (size_t i = 0; res == SPF_NOMATCH && i < r.n && i < SPF_MX_MAX; i++)
		res = addr_match(c, w, r.rec[i].p, t);
	nl_dns_result_free(&r);
	return res;
}

/* One mechanism against the address. */
static enum spf_res spf_term(struct ctx *c, struct spf_walk *w, const char *domain,
			     const struct nl_spf_term *t, int depth)
{
	char target[256];
	if (t->value.len >= sizeof target || (t->value.len && memchr(t->value.p, '%', t->value.len)))
		return t->kind == NL_SPF_IP4 || t->kind == NL_SPF_IP6 ? SPF_NOMATCH : SPF_UNKNOWN;
	if (t->value.len)
		snprintf(target, sizeof target, "%.*s", (int)t->value.len, t->value.p);
	else
		snprintf(target, sizeof target, "%s", domain);
	switch (t->kind) {
	case NL_SPF_ALL:
		return SPF_MATCH;
	case NL_SPF_IP4:
		return !w->v6 && nl_spf_ip4_match(t, w->ip) ? SPF_MATCH : SPF_NOMATCH;
	case NL_SPF_IP6:
		return w->v6 && nl_spf_ip6_match(t, w->ip) ? SPF_MATCH : SPF_NOMATCH;
	case NL_SPF_A:
		return addr_match(c, w, target, t);
	case NL_SPF_MX:
		return mx_match(c, w, target, t);
	case NL_SPF_INCLUDE: {
		char keep = w->qual;
		enum spf_res r = spf_eval(c, w, target, depth + 1);
		bool pass = r == SPF_MATCH && w->qual == '+';
		w->qual = keep;
		return r == SPF_UNKNOWN ? SPF_UNKNOWN : pass ? SPF_MATCH : SPF_NOMATCH;
	}
	default:
		return SPF_UNKNOWN; /* ptr, exists: not worth guessing */
	}
}

static const char *const kind_names[] = {
	[NL_SPF_ALL] = "all", [NL_SPF_INCLUDE] = "include", [NL_SPF_A] = "a", [NL_SPF_MX] = "mx",
	[NL_SPF_PTR] = "ptr", [NL_SPF_IP4] = "ip4", [NL_SPF_IP6] = "ip6", [NL_SPF_EXISTS] = "exists",
	[NL_SPF_REDIRECT] = "redirect", [NL_SPF_EXP] = "exp", [NL_SPF_OTHER_MOD] = "modifier",
};

/*
 * Evaluate domain's SPF record for w->ip as a receiver would (RFC 7208 4.6,
 * 5), as far as it can without macros, ptr and exists: those give
 * SPF_UNKNOWN. On a match w->qual is the matching term's qualifier.
 */
static enum spf_res spf_eval(struct ctx *c, struct spf_walk *w, const char *domain, int depth)
{
	struct nl_dns_result r = {.buf = NL_BUF_INIT};
	struct nl_str txt = {0};
	struct nl_spf *spf = malloc(sizeof *spf);
	size_t n;
	enum spf_res res = SPF_UNKNOWN, t;
	char redirect[256] = "";
	if (!spf || depth > SPF_DEPTH || spf_record(c, domain, &r, &txt, &n) || n != 1 ||
	    !nl_spf_parse(txt.p, txt.len, spf, NULL)) {
		nl_buf_addf(&w->how, "%s%s: no single valid SPF record", w->how.len ? "; " : "", domain);
		goto out;
	}
	res = SPF_NOMATCH;
	for (size_t i = 0; i < spf->n && res == SPF_NOMATCH; i++) {
		const struct nl_spf_term *term = &spf->t[i];
		if (term->kind == NL_SPF_REDIRECT)
			snprintf(redirect, sizeof redirect, "%.*s", (int)term->value.len, term->value.p);
		if (term->kind >= NL_SPF_REDIRECT)
			continue;
		if ((t = spf_term(c, w, domain, term, depth)) == SPF_NOMATCH)
			continue;
		res = t;
		w->qual = term->qual;
		nl_buf_addf(&w->how, "%s%s: %s %c%s%s%.*s", w->how.len ? "; " : "", domain,
			    t == SPF_UNKNOWN ? "cannot evaluate" : "matched by", term->qual,
			    kind_names[term->kind], term->value.len ? ":" : "", (int)term->value.len,
			    term->value.p ? term->value.p : "");
	}
	if (res == SPF_NOMATCH && *redirect && !spf->all)
		res = spf_eval(c, w, redirect, depth + 1);
out:
	free(spf);
	nl_dns_result_free(&r);
	return res;
}

static void spf_syntax(struct ctx *c, const struct nl_spf *spf, struct nl_str txt, bool *ok)
{
	char fix[300];
	*ok = false;
	snprintf(fix, sizeof fix, "end the SPF record of %s with -all (or ~all while testing)",
		 c->spf_domain);
	if (spf->all == '+' || spf->all == '?') {
		add(c, "dns.spf", NL_CHECK_WARN, fix, "%s: \"%.*s\": %call lets anyone send as you",
		    c->spf_label, (int)txt.len, txt.p, spf->all);
		*ok = true;
	}
	else if (!spf->all && !spf->redirect)
		add(c, "dns.spf", NL_CHECK_FAIL, fix, "%s: \"%.*s\" has no `all` at its end",
		    c->spf_label, (int)txt.len, txt.p);
	else {
		add(c, "dns.spf", NL_CHECK_OK, NULL, "%s: \"%.*s\"", c->spf_label, (int)txt.len, txt.p);
		*ok = true;
	}
}

/* When the probe did not get as far as the relay's address: what smtp.url's host resolves to. */
static void relay_address(struct ctx *c)
{
	CURLU *u = curl_url();
	char *host = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (u && !curl_url_set(u, CURLUPART_URL, c->cfg->smtp.url, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0) && !getaddrinfo(host, NULL, &hints, &ai))
		getnameinfo(ai->ai_addr, ai->ai_addrlen, c->relay_ip, sizeof c->relay_ip, NULL, 0,
			    NI_NUMERICHOST);
	if (ai)
		freeaddrinfo(ai);
	curl_free(host);
	curl_url_cleanup(u);
}

static void check_spf_relay(struct ctx *c)
{
	struct spf_walk w = {.how = NL_BUF_INIT};
	char fix[400];
	if (!*c->relay_ip)
		relay_address(c);
	if (!*c->relay_ip) {
		add(c, "dns.spf_relay", NL_CHECK_SKIP, NULL, "not checked: the relay's address is not "
							     "known (smtp.url's host does not resolve)");
		return;
	}
	w.v6 = strchr(c->relay_ip, ':') != NULL;
	inet_pton(w.v6 ? AF_INET6 : AF_INET, c->relay_ip, w.ip);
	enum spf_res r = spf_eval(c, &w, c->spf_domain, 0);
	bool local = is_loopback_ip(c->relay_ip);
	snprintf(fix, sizeof fix, "add the relay's sending address to the SPF record of %s (ip4:/ip6:, "
				  "or include: your provider's record)", c->spf_domain);
	if (r == SPF_MATCH && w.qual == '+')
		add(c, "dns.spf_relay", NL_CHECK_OK, NULL, "the relay %s passes SPF for %s (%s)",
		    c->relay_ip, c->spf_domain, w.how.data);
	else if (r == SPF_UNKNOWN)
		add(c, "dns.spf_relay", NL_CHECK_WARN, fix, "could not tell whether %s passes (%s)",
		    c->relay_ip, w.how.data);
	else
		add(c, "dns.spf_relay", local || w.qual == '~' ? NL_CHECK_WARN : NL_CHECK_FAIL, fix,
		    "the relay %s does not pass SPF for %s (result %s)%s", c->relay_ip, c->spf_domain,
		    r == SPF_MATCH ? (w.qual == '-' ? "fail" : w.qual == '~' ? "softfail" : "neutral")
				   : "neutral",
		    local ? "; it is on this machine: its public sending address may differ" : "");
	nl_buf_free(&w.how);
}

static void check_spf(struct ctx *c)
{
	struct nl_dns_result r = {.buf = NL_BUF_INIT};
	struct nl_spf *spf = malloc(sizeof *spf);
	struct nl_str txt = {0};
	const char *why = NULL;
	char fix[300];
	size_t n = 0;
	bool ok = false;
	snprintf(fix, sizeof fix, "publish one TXT record at %s like \"v=spf1 ip4:RELAY-ADDRESS -all\" "
				  "(or include: your mail provider's)", c->spf_domain);
	if (!spf)
		c->err = nl_errf(NL_ENOMEM, "out of memory");
	else if (spf_record(c, c->spf_domain, &r, &txt, &n))
		add(c, "dns.spf", NL_CHECK_WARN, "check the resolver (doctor.resolver)", "%s", nl_errmsg());
	else if (!n)
		add(c, "dns.spf", NL_CHECK_FAIL, fix, "%s has no SPF record (TXT v=spf1)", c->spf_label);
	else if (n > 1)
		add(c, "dns.spf", NL_CHECK_FAIL, "merge them into one record",
		    "%s has %zu SPF records: receivers treat that as an error", c->spf_domain, n);
	else if (!nl_spf_parse(txt.p, txt.len, spf, &why))
		add(c, "dns.spf", NL_CHECK_FAIL, fix, "%s: \"%.*s\": %s", c->spf_label,
		    (int)(txt.len > 300 ? 300 : txt.len), txt.p, why);
	else
		spf_syntax(c, spf, txt, &ok);
	free(spf);
	nl_dns_result_free(&r);
	if (ok)
		check_spf_relay(c);
	else
		add(c, "dns.spf_relay", NL_CHECK_SKIP, NULL, "not checked: no usable SPF record");
}

/* ---- DNS: DKIM ---- */

/* The published key record at name against key i of c->dkim. */
static void dkim_key_line(struct ctx *c, size_t i, const char *name)
{
	struct nl_dns_result r = {.buf = NL_BUF_INIT};
	struct nl_buf want = NL_BUF_INIT, got = NL_BUF_INIT;
	struct nl_dkimkey k;
	const char *why = NULL;
	char fix[1200];
	bool ed = false;
	size_t rec = 0;
	if ((c->err = nl_dkim_public_key(c->dkim, i, &want, &ed)))
		goto out;
	snprintf(fix, sizeof fix, "publish this TXT record at %s: \"v=DKIM1; k=%s; p=%s\"", name,
		 ed ? "ed25519" : "rsa", want.data);
	if (nl_dns_query(c->dns, name, NL_DNS_TXT, &r)) {
		add(c, "dns.dkim", NL_CHECK_WARN, "check the resolver (doctor.resolver)", "%s", nl_errmsg());
		goto out;
	}
	/* A name may hold other TXT records too: the key is the one that parses. */
	while (rec < r.n && (nl_buf_reset(&got), !nl_dkimkey_parse(r.rec[rec].p, r.rec[rec].len, &k, &got, &why)))
		rec++;
	if (!r.n)
		add(c, "dns.dkim", NL_CHECK_FAIL, fix, "no DKIM key record at %s", name);
	else if (rec == r.n)
		add(c, "dns.dkim", NL_CHECK_FAIL, fix, "%s: the record does not parse: %s", name, why);
	else if (k.revoked)
		add(c, "dns.dkim", NL_CHECK_FAIL, fix, "%s: the key is revoked (empty p=)", name);
	else if (k.ed25519 != ed || !nl_dkim_public_key_matches(c->dkim, i, got.data, got.len))
		add(c, "dns.dkim", NL_CHECK_FAIL, fix, "%s: the published %s key is not the public half "
						       "of %s (%s)", name, k.ed25519 ? "ed25519" : "rsa",
		    i ? "dkim.key_file2" : "dkim.key_file", ed ? "ed25519" : "rsa");
	else if (k.testing)
		add(c, "dns.dkim", NL_CHECK_WARN, "remove t=y from the record once signatures verify",
		    "%s matches %s, but t=y (testing) tells receivers to ignore failures", name,
		    i ? "dkim.key_file2" : "dkim.key_file");
	else
		add(c, "dns.dkim", NL_CHECK_OK, NULL, "%s publishes the public half of %s (%s)", name,
		    i ? "dkim.key_file2" : "dkim.key_file", ed ? "ed25519" : "rsa");
out:
	nl_buf_free(&want);
	nl_buf_free(&got);
	nl_dns_result_free(&r);
}

static void check_dkim(struct ctx *c)
{
	char name[600];
	const char *sel = NULL;
	if (!*c->cfg->dkim.key_file) {
		add(c, "dns.dkim", NL_CHECK_WARN, "add a dkim: block (domain, selector, key_file) unless "
						  "your relay signs with d= your domain",
		    "this program signs nothing (no dkim: block); Gmail and Yahoo want DKIM aligned "
		    "with %s", c->from_domain);
		return;
	}
	if (nl_dkim_load(c->cfg, &c->dkim)) {
		add(c, "dns.dkim", NL_CHECK_FAIL, "fix the key file named (mode 0600, RSA 2048+ or "
						  "Ed25519, PEM)", "%s", nl_errmsg());
		return;
	}
	for (size_t i = 0; i < nl_dkim_keys(c->dkim, NULL, 0); i++) {
		nl_dkim_keys(c->dkim, &sel, i);
		snprintf(name, sizeof name, "%s._domainkey.%s", sel, c->cfg->dkim.domain);
		dkim_key_line(c, i, name);
	}
}

/* ---- DNS: DMARC and alignment ---- */

static enum nl_err dmarc_at(struct ctx *c, const char *domain, struct nl_dns_result *r,
			    struct nl_str *txt, size_t *n)
{
	char name[300];
	snprintf(name, sizeof name, "_dmarc.%s", domain);
	enum nl_err e = nl_dns_query(c->dns, name, NL_DNS_TXT, r);
	*n = 0;
	for (size_t i = 0; !e && i < r->n; i++)
		if (nl_dmarc_is(r->rec[i].p, r->rec[i].len) && (*n)++ == 0)
			*txt = r->rec[i];
	return e;
}

static void dmarc_line(struct ctx *c, const char *where, struct nl_str txt, bool sub)
{
	const char *why = NULL;
	char fix[400];
	snprintf(fix, sizeof fix, "publish a TXT record at _dmarc.%s like \"v=DMARC1; p=none; "
				  "rua=mailto:dmarc@%s\", then p=quarantine or p=reject once reports "
				  "are clean", c->from_domain, c->from_domain);
	if (!nl_dmarc_parse(txt.p, txt.len, &c->dmarc, &why)) {
		add(c, "dns.dmarc", NL_CHECK_FAIL, fix, "_dmarc.%s: \"%.*s\": %s", where,
		    (int)(txt.len > 300 ? 300 : txt.len), txt.p, why);
		return;
	}
	c->have_dmarc = true;
	enum nl_dmarc_policy p = sub ? c->dmarc.sp : c->dmarc.p;
	add(c, "dns.dmarc", p == NL_DMARC_NONE ? NL_CHECK_WARN : NL_CHECK_OK,
	    "move to p=quarantine or p=reject once the aggregate reports show your mail passes",
	    "_dmarc.%s: policy %s%s%s (pct=%d)%s", where, nl_dmarc_policy_name(p),
	    sub ? " for subdomains (sp)" : "", p == NL_DMARC_NONE ? ": receivers are told to do nothing "
								  "about failures" : "",
	    c->dmarc.pct, c->dmarc.rua ? "" : "; no rua= for reports");
}

static void check_dmarc(struct ctx *c)
{
	struct nl_dns_result r = {.buf = NL_BUF_INIT};
	struct nl_str txt = {0};
	size_t n = 0;
	const char *org = nl_org_domain(c->from_domain);
	char fix[400];
	snprintf(fix, sizeof fix, "publish a TXT record at _dmarc.%s like \"v=DMARC1; p=none; "
				  "rua=mailto:dmarc@%s\"", c->from_domain, c->from_domain);
	enum nl_err e = dmarc_at(c, c->from_domain, &r, &txt, &n);
	/* RFC 7489 6.6.3: without a record of its own, a subdomain uses its organization's. */
	bool sub = !e && !n && strcasecmp(org, c->from_domain);
	if (sub)
		e = dmarc_at(c, org, &r, &txt, &n);
	if (e)
		add(c, "dns.dmarc", NL_CHECK_WARN, "check the resolver (doctor.resolver)", "%s", nl_errmsg());
	else if (!n)
		add(c, "dns.dmarc", NL_CHECK_FAIL, fix, "no DMARC record at _dmarc.%s%s%s", c->from_domain,
		    sub ? " nor _dmarc." : "", sub ? org : "");
	else if (n > 1)
		add(c, "dns.dmarc", NL_CHECK_FAIL, "keep one v=DMARC1 record",
		    "_dmarc.%s has %zu DMARC records: receivers ignore them all", sub ? org : c->from_domain, n);
	else
		dmarc_line(c, sub ? org : c->from_domain, txt, sub);
	nl_dns_result_free(&r);
}

/* Identifier alignment (RFC 7489 3.1): 2 exact, 1 same organizational domain, 0 neither. */
static int aligned(const char *a, const char *b)
{
	if (!strcasecmp(a, b))
		return 2;
	return !strcasecmp(nl_org_domain(a), nl_org_domain(b)) ? 1 : 0;
}

static const char org_note[] = " (relaxed: the same organizational domain, taken as the last "
			       "two labels)";

static bool check_align_dkim(struct ctx *c)
{
	const char *d = c->cfg->dkim.domain;
	char fix[300];
	if (!*c->cfg->dkim.key_file) {
		add(c, "align.dkim", NL_CHECK_SKIP, NULL, "not checked: no dkim: block");
		return false;
	}
	int a = aligned(d, c->from_domain);
	bool strict = c->have_dmarc && c->dmarc.adkim_strict;
	snprintf(fix, sizeof fix, "set dkim.domain to %s", c->from_domain);
	if (a == 2 || (a == 1 && !strict))
		add(c, "align.dkim", NL_CHECK_OK, NULL, "DKIM d=%s aligns with From %s%s", d,
		    c->from_domain, a == 1 ? org_note : "");
	else
		add(c, "align.dkim", NL_CHECK_FAIL, fix, "DKIM d=%s does not align with From %s%s", d,
		    c->from_domain, a == 1 ? " (DMARC asks for strict alignment, adkim=s)" : "");
	return a == 2 || (a == 1 && !strict);
}

static void check_align_bounce(struct ctx *c, bool dkim_ok)
{
	const char *b = nl_addr_domain(c->cfg->bounce_address);
	char fix[300];
	int a = aligned(b, c->from_domain);
	bool strict = c->have_dmarc && c->dmarc.aspf_strict;
	snprintf(fix, sizeof fix, "set bounce_address to an address at %s", c->from_domain);
	if (a == 2 || (a == 1 && !strict))
		add(c, "align.bounce", NL_CHECK_OK, NULL, "envelope sender domain %s aligns with From %s%s",
		    b, c->from_domain, a == 1 ? org_note : "");
	else
		add(c, "align.bounce", dkim_ok ? NL_CHECK_WARN : NL_CHECK_FAIL, fix,
		    "envelope sender domain %s does not align with From %s: SPF cannot pass DMARC%s", b,
		    c->from_domain, dkim_ok ? " (aligned DKIM still can)" : ", and DKIM does not either");
}

static void check_dns(struct ctx *c)
{
	const char *server = c->o->resolver && *c->o->resolver ? c->o->resolver : c->cfg->doctor.resolver;
	const char *what = c->o->resolver && *c->o->resolver ? "NEWSLETTER_RESOLVER" : "doctor.resolver";
	static const char *const names[] = {"dns.spf", "dns.spf_relay", "dns.dkim", "dns.dmarc",
					    "align.dkim", "align.bounce"};
	const char *skip = !*c->from_domain ? "no usable From address" : NULL;
	bool bad_setting = !skip && nl_dns_open(server, what, &c->dns);
	if (bad_setting)
		skip = nl_errmsg();
	if (skip) {
		for (size_t i = 0; i < NL_ARRAY_LEN(names); i++)
			add(c, names[i], i || !bad_setting ? NL_CHECK_SKIP : NL_CHECK_FAIL,
			    "fix the setting named", "not checked: %s", skip);
		return;
	}
	/* RFC 7208 checks the MAIL FROM domain; DMARC then asks it to align with From. */
	c->spf_domain = nl_addr_domain(c->cfg->bounce_address);
	snprintf(c->spf_label, sizeof c->spf_label, "%s%s", c->spf_domain,
		 strcasecmp(c->spf_domain, c->from_domain) ? " (bounce_address's domain: SPF is "
							    "checked there, not at From's)" : "");
	check_spf(c);
	check_dkim(c);
	check_dmarc(c);
	check_align_bounce(c, check_align_dkim(c));
}

/* ---- the unsubscribe endpoint ---- */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* A token no reader has: 32 random hex digits. */
static void random_token(char *out, size_t cap)
{
	unsigned char r[16] = {0};
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) /* then the time will do: no secret */
		snprintf((char *)r, sizeof r, "%lx", (unsigned long)time(NULL));
	for (size_t i = 0; i < sizeof r && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void unsub_post(struct ctx *c, const char *url, bool https)
{
	char errbuf[CURL_ERROR_SIZE] = "", fix[400];
	long code = 0;
	CURL *h = curl_easy_init();
	if (!h) {
		c->err = nl_errf(NL_ENOMEM, "out of memory");
		return;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "List-Unsubscribe=One-Click");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (*c->cfg->doctor.ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg->doctor.ca_file);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	snprintf(fix, sizeof fix, "run `newsletter serve` behind %s and make it answer a POST of "
				  "List-Unsubscribe=One-Click with 200, for unknown tokens too%s",
		 c->cfg->unsubscribe_url, https ? "" : ", over https://");
	if (rc)
		add(c, "unsubscribe", NL_CHECK_FAIL,
		    rc == CURLE_PEER_FAILED_VERIFICATION ? "give the endpoint a certificate from a public "
							   "CA (doctor.ca_file names another CA)"
							 : fix,
		    "POST %s: %s", url, *errbuf ? errbuf : curl_easy_strerror(rc));
	else if (code < 200 || code > 299)
		add(c, "unsubscribe", NL_CHECK_FAIL, fix, "POST %s answered %ld, not 2xx", url, code);
	else if (!https)
		add(c, "unsubscribe", NL_CHECK_FAIL, fix, "POST %s answered %ld, but over plain http: "
							  "Gmail and Yahoo want https for one-click",
		    url, code);
	else
		add(c, "unsubscribe", NL_CHECK_OK, NULL, "POST %s (a token no reader has) answered %ld",
		    url, code);
}

static void check_unsubscribe(struct ctx *c)
{
	const char *u = c->cfg->unsubscribe_url;
	char token[40] = "", url[2200];
	bool https = !strncasecmp(u, "https://", 8);
	if (!*u) {
		add(c, "unsubscribe", NL_CHECK_WARN, "set base_url (or unsubscribe_url) to where "
						     "`newsletter serve` answers",
		    "no unsubscribe_url: readers can only unsubscribe by mail (%s)",
		    c->cfg->unsubscribe_email);
		return;
	}
	if (!https && strncasecmp(u, "http://", 7)) {
		add(c, "unsubscribe", NL_CHECK_FAIL, "make unsubscribe_url an https:// URL",
		    "unsubscribe_url %s is not an http(s) URL", u);
		return;
	}
	random_token(token, sizeof token);
	snprintf(url, sizeof url, "%s%s", u, token);
	unsub_post(c, url, https);
}

/* ---- the latest post ---- */

/* The newest post that is not a draft: dated ones by date, else the last undated one. */
static enum nl_err latest_post(struct ctx *c, char **path)
{
	struct nl_schedule s = {0};
	struct nl_schedule_opts so = {.cfg = c->cfg, .now = time(NULL)};
	const struct nl_sched_post *best = NULL;
	*path = NULL;
	enum nl_err e = nl_schedule_load(&so, &s);
	for (size_t i = 0; !e && i < s.n; i++) {
		const struct nl_sched_post *p = &s.posts[i];
		if (p->post && !p->post->draft && (!best || best->due == (time_t)-1 || p->due != (time_t)-1))
			best = p;
	}
	if (best && !(*path = strdup(best->path)))
		e = nl_errf(NL_ENOMEM, "out of memory");
	nl_schedule_free(&s);
	return e;
}

static void post_lines(struct ctx *c, const char *path, const struct nl_message *m,
		       const struct nl_buf *html, const struct nl_buf *text)
{
	const char *img = NULL;
	bool lid = nl_message_hdr_find(m, "List-Id") >= 0;
	bool lu = nl_message_hdr_find(m, "List-Unsubscribe") >= 0;
	add(c, "post.html_size", html->len > GMAIL_CLIP ? NL_CHECK_FAIL : html->len > CLIP_MARGIN ? NL_CHECK_WARN : NL_CHECK_OK,
	    "shorten the post or split it: Gmail clips HTML past about 102 KB, hiding the footer "
	    "with the unsubscribe link", "%s: the HTML part is %zu bytes (Gmail clips past %d KB)",
	    path, html->len, GMAIL_CLIP / 1024);
	add(c, "post.text", text->len ? NL_CHECK_OK : NL_CHECK_FAIL,
	    "give the text template (email.txt) the post's {{text}}",
	    text->len ? "the text part has %zu bytes" : "the text part is empty (%zu bytes)", text->len);
	add(c, "post.headers", lid && lu ? NL_CHECK_OK : NL_CHECK_FAIL,
	    "set list_id and base_url or unsubscribe_email in the config",
	    "List-Id %s, List-Unsubscribe %s, List-Unsubscribe-Post %s", lid ? "present" : "MISSING",
	    lu ? "present" : "MISSING", nl_message_hdr_find(m, "List-Unsubscribe-Post") >= 0 ? "present" : "absent");
	static const char *const pats[] = {"src=\"http://", "src='http://", "src=http://",
					   "url(http://", "background=\"http://"};
	for (size_t i = 0; i < NL_ARRAY_LEN(pats) && !img; i++)
		img = strcasestr(html->data, pats[i]);
	const char *at = img ? strcasestr(img, "http://") : NULL;
	add(c, "post.images", img ? NL_CHECK_WARN : NL_CHECK_OK,
	    "link images over https:// (or put them beside the post, to be attached)",
	    img ? "an image over plain http: %.*s (clients block or warn about it)" : "no http:// images%.*s",
	    img ? (int)strcspn(at, "\"') >") : 0, img ? at : "");
}

/* The first reader who would get it, else a sample, like preview. */
static void post_check(struct ctx *c, struct nl_post *post)
{
	struct nl_recipients_opts ro = {.path = c->cfg->subscribers, .secret = c->cfg->secret,
					.list_id = c->cfg->list_id, .post = post, .missing_ok = true};
	struct nl_campaign_opts co = {.cfg = c->cfg, .post = post, .now = time(NULL)};
	struct nl_recipients *rs = NULL;
	struct nl_recipient rc = {0};
	struct nl_campaign *camp = NULL;
	struct nl_message *m = nl_message_new();
	struct nl_buf html = NL_BUF_INIT, text = NL_BUF_INIT, eml = NL_BUF_INIT;
	struct nl_sub sample;
	const char *f[NL_LIST_MAX_COLS];
	const struct nl_sub *row = NULL;
	bool eof = false;
	enum nl_err e = m ? nl_recipients_open(&ro, &rs) : NL_ENOMEM;
	while (!e && !row && !(e = nl_recipients_next(rs, &rc, &eof)) && !eof)
		if (rc.skip == NL_SKIP_NONE)
			row = rc.row;
	co.list = rs ? nl_recipients_list(rs) : NULL;
	if (!row) {
		nl_sub_init(&sample, f, co.list ? nl_list_ncols(co.list) : NL_COL_FIXED,
			    "reader@example.com", "Sample Reader");
		row = &sample;
	}
	if (!e && !(e = nl_campaign_new(&co, &camp)) && !(e = nl_campaign_message(camp, row, m)) &&
	    !(e = nl_message_finalize(m, &eml, NULL, 0))) {
		nl_campaign_bodies(camp, row, &html, &text);
		if (!(e = nl_buf_err(&html)) && !(e = nl_buf_err(&text)))
			post_lines(c, post->path, m, &html, &text);
	}
	if (e)
		add(c, "post", NL_CHECK_FAIL, "fix the post, template or image named", "%s", nl_errmsg());
	nl_buf_free(&html);
	nl_buf_free(&text);
	nl_buf_free(&eml);
	nl_message_free(m);
	nl_campaign_free(camp);
	nl_recipients_close(rs);
}

static void check_post(struct ctx *c)
{
	char *found = NULL;
	struct nl_post *post = NULL;
	const char *path = c->o->post_path;
	enum nl_err e = path ? NL_OK : latest_post(c, &found);
	if (!path)
		path = found;
	if (e || !path) {
		add(c, "post", e ? NL_CHECK_FAIL : NL_CHECK_SKIP, "fix the posts folder named",
		    e ? "%s" : "not checked: no post that is not a draft in %s",
		    e ? nl_errmsg() : c->cfg->posts);
	} else if (nl_post_load(path, &post)) {
		add(c, "post", NL_CHECK_FAIL, "fix the post at the place named", "%s", nl_errmsg());
	} else {
		post_check(c, post);
	}
	nl_post_free(post);
	free(found);
}

enum nl_err nl_doctor_run(const struct nl_doctor_opts *o, struct nl_doctor *out)
{
	struct ctx c = {.o = o, .d = out, .from_domain = ""};
	memset(out, 0, sizeof *out);
	if (check_config(&c)) {
		check_templates(&c);
		check_list(&c);
		check_from(&c);
		check_base_url(&c);
		check_smtp(&c);
		check_dns(&c);
		check_unsubscribe(&c);
		check_post(&c);
	}
	nl_dns_close(c.dns);
	nl_dkim_free(c.dkim);
	nl_config_free(c.cfg);
	return c.err;
}
