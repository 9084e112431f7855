/* serve.c - the web endpoint on libmicrohttpd: one-click unsubscribe (RFC 8058), signup, confirm. */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "addr.h"
#include "addrmap.h"
#include "buf.h"
#include "campaign.h"
#include "changes.h"
#include "dkim.h"
#include "csv.h"
#include "datetime.h"
#include "hashmap.h"
#include "log.h"
#include "message.h"
#include "mime.h"
#include "sendlog.h"
#include "smtp.h"
#include "subscriber.h"
#include "subsdb.h"
#include "template.h"
#include "utf8.h"
#include "ynode.h"

/* Per-request fields of the page templates. */
enum field { F_ACTION, F_MESSAGE, F_EMAIL, F_NAME, F_RESUB, F_CONFIRM_URL, F_N };
static const char *const field_names[F_N] = {"action", "message", "email", "name",
					     "resubscribe_action", "confirm_url"};

enum page { P_UNSUB, P_UNSUBSCRIBED, P_SUBSCRIBE, P_CHECK, P_CONFIRM, P_CONFIRMED, P_ERROR, P_MAIL, P_N };
static const char *const page_files[P_N] = {
	"serve-unsubscribe.html", "serve-unsubscribed.html", "serve-subscribe.html", "serve-check-inbox.html",
	"serve-confirm.html",	  "serve-confirmed.html",    "serve-error.html",     "serve-confirm-email.txt",
};

/* One reader as the server knows them: enough to answer and to mail a confirmation. */
struct row {
	uint32_t email;		/* offset in index.emails */
	uint8_t status;		/* enum nl_status */
	unsigned char token[16];
	time_t mailed;		/* the last confirmation message, 0: none since start */
};

struct index {
	struct nl_buf emails;
	struct row *rows;
	size_t n, cap;
	struct nl_hashmap by_token, by_email; /* hash -> uint32_t row number */
	dev_t dev;
	ino_t ino;
};

/* Rate limits: token buckets in a fixed table (a flood cannot grow memory). */
#define NBUCKETS 4096
struct bucket {
	uint64_t key;
	double tokens, last;
};

struct mailjob {
	struct mailjob *next;
	char email[NL_ADDR_MAX + 1];
	char token[NL_TOKEN_LEN + 1];
};

struct server {
	const struct nl_serve_opts *o;
	const struct nl_config *cfg;
	char *unsub_path, *confirm_path, *subscribe_path, *changes_path;
	char *confirm_url;			/* absolute, the token is appended */
	struct nl_residual *pages[P_N];
	struct index *ix;
	pthread_rwlock_t ixlock;
	pthread_mutex_t reload_mu;		/* one refresher at a time; others go on */
	double last_check;
	struct nl_changes *seen;		/* the change file as this server has read it */
	size_t applied;
	struct nl_changelog *log;
	pthread_mutex_t add_mu;			/* signups that add a row take turns */
	pthread_mutex_t rate_mu;
	struct bucket ip[NBUCKETS], addr[NBUCKETS];
	pthread_mutex_t mail_mu;
	pthread_cond_t mail_cv;
	struct mailjob *mq;
	size_t mq_len;
	bool mail_stop;
	pthread_t mailer;
	struct nl_dkim *dkim;			/* signs confirmation mail as `send` signs posts; NULL: no dkim block */
};

/* A request's body, gathered before the answer. */
struct req {
	struct nl_buf body;
	bool too_big;
	bool answered;	/* refused before the body came */
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the index: token and address to a row ---- */

static void index_free(struct index *ix)
{
	if (!ix)
		return;
	nl_buf_free(&ix->emails);
	free(ix->rows);
	nl_hashmap_free(&ix->by_token);
	nl_hashmap_free(&ix->by_email);
	free(ix);
}

static enum nl_err index_add(struct index *ix, const char *email, const char *token, enum nl_status st,
			     size_t *at)
{
	uuid_t u;
	void *slot;
	bool added;
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? 2 * ix->cap : 1024;
		struct row *r = realloc(ix->rows, cap * sizeof *r);
		if (!r)
			return nl_errf(NL_ENOMEM, "out of memory");
		ix->rows = r;
		ix->cap = cap;
	}
	struct row *r = &ix->rows[ix->n];
	*r = (struct row){.email = (uint32_t)ix->emails.len, .status = (uint8_t)st};
	nl_buf_add(&ix->emails, email, strlen(email) + 1);
	if (nl_buf_err(&ix->emails) || ix->emails.len > UINT32_MAX)
		return nl_errf(NL_ENOMEM, "out of memory");
	uint32_t idx = (uint32_t)ix->n++;
	*at = idx;
	if (nl_token_valid(token) && !uuid_parse(token, u)) {
		memcpy(r->token, u, 16);
		if (nl_hashmap_put(&ix->by_token, nl_addr_hash(token), &slot, &added))
			return nl_errf(NL_ENOMEM, "out of memory");
		memcpy(slot, &idx, sizeof idx);
	}
	/* The first row of an address speaks for it, as everywhere else. */
	if (nl_hashmap_put(&ix->by_email, nl_addr_hash(email), &slot, &added))
		return nl_errf(NL_ENOMEM, "out of memory");
	if (added)
		memcpy(slot, &idx, sizeof idx);
	return NL_OK;
}

static enum nl_err index_build(const struct server *s, struct index **out)
{
	const struct nl_config *cfg = s->cfg;
	struct nl_list_opts lo = {.secret = cfg->secret, .list_id = cfg->list_id, .fill_tokens = true,
				  .missing_ok = true, .interrupted = s->o->interrupted};
	struct index *ix = calloc(1, sizeof *ix);
	struct nl_list *l = NULL;
	struct nl_sub *row;
	struct stat st;
	bool eof = false;
	size_t at;
	enum nl_err e;
	if (!ix)
		return nl_errf(NL_ENOMEM, "out of memory");
	nl_buf_init(&ix->emails);
	ix->by_token.vsize = ix->by_email.vsize = sizeof(uint32_t);
	e = nl_list_open(cfg->subscribers, &lo, &l);
	if (!e && !stat(cfg->subscribers, &st)) {
		ix->dev = st.st_dev;
		ix->ino = st.st_ino;
	}
	while (!e && !(e = nl_list_next(l, &row, &eof)) && !eof)
		if (*row->email && row->skip != NL_SKIP_BAD_ADDRESS && row->skip != NL_SKIP_UTF8)
			e = index_add(ix, row->email, row->token, row->status, &at);
	nl_list_close(l);
	if (e) {
		index_free(ix);
		return e;
	}
	*out = ix;
	return NL_OK;
}

/* Equal in time that does not depend on where they differ. */
static bool ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* The row of a token, or -1; a malformed token costs the same compare as a wrong one. */
static long find_token(const struct index *ix, const char *tok)
{
	static const unsigned char none[16];
	uuid_t u;
	bool valid = nl_token_valid(tok) && !uuid_parse(tok, u);
	const uint32_t *v = valid ? nl_hashmap_get(&ix->by_token, nl_addr_hash(tok)) : NULL;
	const unsigned char *have = v ? ix->rows[*v].token : none;
	bool same = ct_equal(have, valid ? u : none, 16);
	return v && valid && same ? (long)*v : -1;
}

static long find_email(const struct index *ix, const char *email)
{
	const uint32_t *v = nl_hashmap_get(&ix->by_email, nl_addr_hash(email));
	return v && !strcasecmp(ix->emails.data + ix->rows[*v].email, email) ? (long)*v : -1;
}

/* A change line (ours or another program's) in the index. Under the write lock. */
static void index_apply(struct index *ix, const char *key, const char *status)
{
	enum nl_status st = nl_status_parse(status);
	long r = strchr(key, '@') ? find_email(ix, key) : find_token(ix, key);
	if (r >= 0 && st != NL_STATUS_UNKNOWN)
		ix->rows[r].status = (uint8_t)st;
}

/*
 * At most once a second: take in the change file's new lines, and read the
 * list again if another program replaced it (an import, `subscribers add`).
 * The rebuild runs outside the index lock; requests go on meanwhile.
 */
static void refresh(struct server *s)
{
	struct stat st;
	struct index *fresh = NULL;
	double now = now_mono();
	if (pthread_mutex_trylock(&s->reload_mu))
		return;
	if (now - s->last_check < 1.0)
		goto out;
	s->last_check = now;
	pthread_rwlock_rdlock(&s->ixlock);
	bool same = !stat(s->cfg->subscribers, &st) && st.st_ino == s->ix->ino && st.st_dev == s->ix->dev;
	pthread_rwlock_unlock(&s->ixlock);
	if (!same && !access(s->cfg->subscribers, F_OK)) {
		if (index_build(s, &fresh)) {
			nl_warn("%s: cannot read the list again: %s", s->cfg->subscribers, nl_errmsg());
		} else {
			struct nl_changes *seen = nl_changes_new();
			pthread_rwlock_wrlock(&s->ixlock);
			index_free(s->ix);
			s->ix = fresh;
			/* A rewrite folded the file in: read it afresh (the memory of old lines goes), and
			   apply its lines again on top: a status set twice is the same status. */
			if (seen) {
				nl_changes_free(s->seen);
				s->seen = seen;
			}
			s->applied = 0;
			pthread_rwlock_unlock(&s->ixlock);
		}
	}
	if (nl_changes_read(s->seen, s->changes_path)) {
		nl_warn("%s", nl_errmsg());
		goto out;
	}
	pthread_rwlock_wrlock(&s->ixlock);
	for (; s->applied < nl_changes_count(s->seen); s->applied++) {
		const char *when, *key, *status;
		nl_changes_line(s->seen, s->applied, &when, &key, &status);
		index_apply(s->ix, key, status);
	}
	pthread_rwlock_unlock(&s->ixlock);
out:
	pthread_mutex_unlock(&s->reload_mu);
}

/* ---- rate limits ---- */

static bool bucket_take(struct bucket *tab, uint64_t key, double per_sec, double burst, double now)
{
	struct bucket *b = &tab[key % NBUCKETS];
	if (b->key != key) /* a new key takes the slot over: memory stays fixed */
		*b = (struct bucket){.key = key, .tokens = burst, .last = now};
	b->tokens += (now - b->last) * per_sec;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last = now;
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

/* Behind the writer's web server every request comes from loopback: then its X-Real-IP counts. */
static uint64_t client_key(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const char *real = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Real-IP");
	char text[INET6_ADDRSTRLEN] = "?";
	bool loop = false;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
		loop = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
		loop = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return nl_addr_hash(loop && real && *real ? real : text);
}

static bool allowed(struct server *s, struct MHD_Connection *c, const char *who)
{
	double now = now_mono();
	int per_ip = s->cfg->serve.per_ip;
	bool ok = true;
	pthread_mutex_lock(&s->rate_mu);
	if (per_ip)
		ok = bucket_take(s->ip, client_key(c), per_ip / 60.0, per_ip, now);
	if (ok && who && *who)
		ok = bucket_take(s->addr, nl_addr_hash(who), NL_SERVE_PER_ADDRESS / 3600.0, NL_SERVE_PER_ADDRESS, now);
	pthread_mutex_unlock(&s->rate_mu);
	return ok;
}

/* ---- pages ---- */

static int dyn_field(void *ctx, const char *name)
{
	(void)ctx;
	for (int i = 0; i < F_N; i++)
		if (!strcmp(name, field_names[i]))
			return i;
	return -1;
}

static enum nl_err page_context(const struct nl_config *cfg, struct nl_ynode **out)
{
	const struct nl_ynode *lang = nl_ynode_path(cfg->root, "publication.language");
	struct nl_ynode *ctx = nl_ynode_map(), *pub = nl_ynode_map();
	enum nl_err e;
	if (!ctx || !pub) {
		nl_ynode_free(ctx);
		nl_ynode_free(pub);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	if ((e = nl_ynode_put(pub, "name", nl_ynode_scalar(cfg->name))) ||
	    (e = nl_ynode_put(pub, "address", nl_ynode_scalar(cfg->address))) ||
	    (e = nl_ynode_put(pub, "language", nl_ynode_scalar(nl_ynode_str(lang) ? nl_ynode_str(lang) : "en"))) ||
	    (e = nl_ynode_put(ctx, "base_url", nl_ynode_scalar(cfg->base_url)))) {
		nl_ynode_free(pub);
		nl_ynode_free(ctx);
		return e;
	}
	if ((e = nl_ynode_put(ctx, "publication", pub))) {
		nl_ynode_free(ctx);
		return e;
	}
	*out = ctx;
	return NL_OK;
}

/* Every page bound once: per request only a few fields are spliced in. */
static enum nl_err load_pages(struct server *s)
{
	struct nl_ynode *ctx = NULL;
	char path[PATH_MAX];
	enum nl_err e = page_context(s->cfg, &ctx);
	/* the config's templates folder, else the installed one, as for the mail */
	for (size_t i = 0; !e && i < P_N; i++) {
		struct nl_tmpl *t = NULL;
		if (!(e = nl_campaign_load_template(s->cfg, page_files[i], i != P_MAIL, path, sizeof path, &t)))
			e = nl_tmpl_bind(t, ctx, dyn_field, NULL, &s->pages[i]);
		nl_tmpl_free(t);
	}
	nl_ynode_free(ctx);
	return e;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const struct nl_buf *body,
			      const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* The token is in the address: never hand it to another site. */
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
				"frame-ancestors 'none'; base-uri 'none'");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result page(struct server *s, struct MHD_Connection *c, unsigned code, enum page p,
			    const char *const *fields)
{
	const char *none[F_N] = {"", "", "", "", "", ""};
	struct nl_buf out = NL_BUF_INIT;
	nl_residual_eval(s->pages[p], fields ? fields : none, &out);
	enum MHD_Result r = nl_buf_err(&out) ? MHD_NO : answer(c, code, &out, "text/html; charset=utf-8");
	nl_buf_free(&out);
	return r;
}

static enum MHD_Result error_page(struct server *s, struct MHD_Connection *c, unsigned code, const char *msg)
{
	const char *f[F_N] = {"", msg, "", "", "", ""};
	return page(s, c, code, P_ERROR, f);
}

/* ---- forms (application/x-www-form-urlencoded) ---- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The value of name in body, decoded; false if absent or malformed. */
static bool form_get(const char *body, const char *name, struct nl_buf *out)
{
	size_t nl = strlen(name);
	nl_buf_reset(out);
	for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, name, nl) || p[nl] != '=')
			continue;
		for (p += nl + 1; *p && *p != '&'; p++) {
			if (*p == '+') {
				nl_buf_addc(out, ' ');
			} else if (*p == '%') {
				int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
				if (lo < 0 || (hi == 0 && lo == 0))
					return false;
				nl_buf_addc(out, (char)(hi * 16 + lo));
				p += 2;
			} else {
				nl_buf_addc(out, *p);
			}
		}
		return !nl_buf_err(out);
	}
	return false;
}

/* ---- changes ---- */

/*
 * Set a known row's status, durably, before the answer; for an unknown
 * token wait for a sync all the same, so that the two take equally long.
 */
static enum nl_err set_status(struct server *s, long r, enum nl_status st)
{
	char email[NL_ADDR_MAX + 1] = "";
	pthread_rwlock_rdlock(&s->ixlock);
	if (r >= 0 && (size_t)r < s->ix->n)
		snprintf(email, sizeof email, "%s", s->ix->emails.data + s->ix->rows[r].email);
	pthread_rwlock_unlock(&s->ixlock);
	enum nl_err e = nl_changelog_append(s->log, *email ? email : NULL, nl_status_name(st), time(NULL));
	if (e || !*email)
		return e;
	pthread_rwlock_wrlock(&s->ixlock);
	index_apply(s->ix, email, nl_status_name(st));
	pthread_rwlock_unlock(&s->ixlock);
	return NL_OK;
}

/* Look a token up and return its row and status (under the read lock). */
static long lookup_token(struct server *s, const char *tok, enum nl_status *st)
{
	pthread_rwlock_rdlock(&s->ixlock);
	long r = find_token(s->ix, tok);
	*st = r >= 0 ? (enum nl_status)s->ix->rows[r].status : NL_STATUS_UNKNOWN;
	pthread_rwlock_unlock(&s->ixlock);
	return r;
}

/* ---- confirmation messages, mailed by one thread off the request path ---- */

static void queue_mail(struct server *s, const char *email, const unsigned char token[16])
{
	struct mailjob *j;
	pthread_mutex_lock(&s->mail_mu);
	if (s->mq_len < 1000 && (j = calloc(1, sizeof *j))) {
		snprintf(j->email, sizeof j->email, "%s", email);
		uuid_unparse_lower(token, j->token);
		struct mailjob **p = &s->mq;
		while (*p)
			p = &(*p)->next;
		*p = j;
		s->mq_len++;
		pthread_cond_signal(&s->mail_cv);
	}
	pthread_mutex_unlock(&s->mail_mu);
}

static enum nl_err build_mail(struct server *s, const struct mailjob *jb, struct nl_message *m,
			      struct nl_smtp_job *j)
{
	const struct nl_config *cfg = s->cfg;
	struct nl_buf url = NL_BUF_INIT, text = NL_BUF_INIT;
	char date[NL_TIME_RFC5322_LEN + 1], id[NL_MSGID_MAX];
	const char *f[F_N] = {"", "", jb->email, "", "", ""};
	uuid_t u;
	char uid[37];
	enum nl_err e;
	nl_buf_addf(&url, "%s%s", s->confirm_url, jb->token);
	f[F_CONFIRM_URL] = url.data;
	nl_residual_eval(s->pages[P_MAIL], f, &text);
	/* The template's first line is the subject, then a blank line, then the body. */
	char *nl = strchr(text.data, '\n');
	const char *body = nl ? nl + 1 + (nl[1] == '\n') : "";
	if (nl)
		*nl = 0;
	uuid_generate_random(u);
	uuid_unparse_lower(u, uid);
	snprintf(id, sizeof id, "%s@%s", uid, nl_addr_domain(cfg->from_addr));
	nl_time_rfc5322(time(NULL), date);
	nl_message_reset(m);
	if (!(e = nl_buf_err(&url)) && !(e = nl_buf_err(&text)) &&
	    !(e = nl_message_hdr_raw(m, NL_HDR_APPEND, "Date", date)) &&
	    !(e = nl_message_hdr_addr(m, NL_HDR_APPEND, "From", cfg->from_name, cfg->from_addr)) &&
	    !(e = nl_message_hdr_addr(m, NL_HDR_APPEND, "To", "", jb->email)) &&
	    !(e = nl_message_hdr_text(m, NL_HDR_APPEND, "Subject", text.data)) && !(e = nl_message_set_id(m, id)) &&
	    !(e = nl_message_hdr_raw(m, NL_HDR_APPEND, "Auto-Submitted", "auto-generated")) &&
	    !(e = nl_message_hdr_raw(m, NL_HDR_APPEND, "MIME-Version", "1.0")) &&
	    !(e = nl_message_hdr_raw(m, NL_HDR_APPEND, "Content-Type", "text/plain; charset=utf-8")) &&
	    !(e = nl_message_hdr_raw(m, NL_HDR_APPEND, "Content-Transfer-Encoding", "quoted-printable")) &&
	    !(e = nl_message_set_envelope_from(m, cfg->bounce_address))) {
		/* signed like the posts: a domain that publishes DMARC p=reject needs it */
		nl_message_set_signer(m, s->dkim ? nl_dkim_sign : NULL, s->dkim);
		nl_qp_encode(nl_message_body_buf(m), body, strlen(body), false);
		nl_buf_reset(&j->msg);
		e = nl_message_finalize(m, &j->msg, j->envelope_from, sizeof j->envelope_from);
	}
	snprintf(j->rcpt, sizeof j->rcpt, "%s", jb->email);
	snprintf(j->msgid, sizeof j->msgid, "%s", id);
	nl_buf_free(&url);
	nl_buf_free(&text);
	return e;
}

/* A source of one message for the sender, and what became of it. */
struct one {
	struct server *s;
	const struct mailjob *jb;
	struct nl_message *m;
	bool given;
	enum nl_outcome out;
	int code;
	char reply[512];
};

static enum nl_err one_next(void *ctx, struct nl_smtp_job *j, bool *eof)
{
	struct one *o = ctx;
	*eof = o->given;
	if (o->given)
		return NL_OK;
	o->given = true;
	return build_mail(o->s, o->jb, o->m, j);
}

static enum nl_err one_attempt(void *ctx, const struct nl_smtp_job *j)
{
	(void)ctx;
	(void)j;
	return NL_OK;
}

static enum nl_err one_result(void *ctx, const struct nl_smtp_job *j, enum nl_outcome out, int code,
			      const char *reply)
{
	struct one *o = ctx;
	static const enum nl_event ev[] = {[NL_OUT_SENT] = NL_EV_SENT, [NL_OUT_FAILED] = NL_EV_FAILED,
					   [NL_OUT_DEFERRED] = NL_EV_DEFERRED, [NL_OUT_IN_DOUBT] = NL_EV_DOUBT};
	o->out = out;
	o->code = code;
	snprintf(o->reply, sizeof o->reply, "%s", reply ? reply : "");
	/* In the send log like any send, under its own name (no post is called "-confirm"). */
	return nl_sendlog_append_once(o->s->cfg->log, "-confirm", j->rcpt, ev[out], code, j->msgid, reply);
}

static void mail_one(struct server *s, const struct mailjob *jb, struct nl_message *m)
{
	const struct nl_config *cfg = s->cfg;
	struct one one = {.s = s, .jb = jb, .m = m};
	struct nl_smtp_opts so = {.cfg = &cfg->smtp, .envelope_from = cfg->bounce_address,
				  .password = s->o->password, .connections = 1};
	struct nl_smtp_source src = {one_next, one_attempt, one_result, &one, NULL};
	if (nl_smtp_send(&so, &src))
		nl_warn("confirmation to %s: %s", jb->email, nl_errmsg());
	else if (one.out != NL_OUT_SENT)
		nl_warn("confirmation to %s: not sent: %s", jb->email, one.reply);
	else
		nl_info("confirmation sent to %s", jb->email);
}

static void *mailer_main(void *arg)
{
	struct server *s = arg;
	struct nl_message *m = nl_message_new();
	pthread_mutex_lock(&s->mail_mu);
	while (!s->mail_stop) {
		struct mailjob *j = s->mq;
		if (!j) {
			pthread_cond_wait(&s->mail_cv, &s->mail_mu);
			continue;
		}
		s->mq = j->next;
		s->mq_len--;
		pthread_mutex_unlock(&s->mail_mu);
		if (m)
			mail_one(s, j, m);
		free(j);
		pthread_mutex_lock(&s->mail_mu);
	}
	pthread_mutex_unlock(&s->mail_mu);
	nl_message_free(m);
	return NULL;
}

/* ---- signup ---- */

/*
 * Add a pending row with a new token: one locked rewrite of the list (a
 * signup is rare next to one-click unsubscribes; the rewrite also folds the
 * change file in). If a row with the address appeared meanwhile, it stays
 * as it is and *token is its own.
 */
static enum nl_err add_pending(struct server *s, const char *email, const char *name,
			       char token[NL_TOKEN_LEN + 1], enum nl_status *st)
{
	const struct nl_config *cfg = s->cfg;
	struct nl_subsdb_opts o = {.secret = cfg->secret, .list_id = cfg->list_id, .write = true,
				   .what = "serve (signup)"};
	struct nl_subsdb *db = NULL;
	struct nl_sub *r;
	bool eof, found = false;
	enum nl_err e;
	*st = NL_STATUS_PENDING;
	if ((e = nl_subsdb_open(cfg->subscribers, &o, &db)) || (e = nl_subsdb_begin(db)))
		goto out;
	while (!(e = nl_subsdb_next(db, &r, &eof)) && !eof) {
		if (!found && !strcasecmp(r->email, email) && nl_token_valid(r->token)) {
			found = true;
			snprintf(token, NL_TOKEN_LEN + 1, "%s", r->token);
			*st = r->status;
		}
		if ((e = nl_subsdb_put(db, r)))
			goto out;
	}
	if (e || found)
		goto out;
	r = nl_subsdb_new_row(db);
	r->f[NL_COL_EMAIL] = email;
	r->f[NL_COL_NAME] = name;
	r->f[NL_COL_STATUS] = "pending";
	r->f[NL_COL_TOKEN] = token;
	r->f[NL_COL_CREATED] = r->f[NL_COL_UPDATED] = nl_subsdb_now(db);
	if (!(e = nl_subsdb_put(db, r)))
		e = nl_subsdb_commit(db);
out:
	nl_subsdb_close(db);
	return e;
}

/* Our own rewrite is already in the index: do not read the list again for it. */
static void note_own_rewrite(struct server *s, const char *email, const char *token, enum nl_status st,
			     time_t mailed)
{
	struct stat sb;
	size_t at;
	pthread_rwlock_wrlock(&s->ixlock);
	if (!stat(s->cfg->subscribers, &sb)) {
		s->ix->dev = sb.st_dev;
		s->ix->ino = sb.st_ino;
	}
	if (find_email(s->ix, email) < 0) {
		if (index_add(s->ix, email, token, st, &at))
			nl_warn("%s", nl_errmsg());
		else
			s->ix->rows[at].mailed = mailed;
	}
	pthread_rwlock_unlock(&s->ixlock);
}

/* Whether to mail a confirmation now: pending or unsubscribed, and not within the hour. */
static bool due_for_mail(struct server *s, long r, unsigned char token[16])
{
	bool due = false;
	time_t now = time(NULL);
	pthread_rwlock_wrlock(&s->ixlock);
	if (r >= 0) {
		struct row *row = &s->ix->rows[r];
		due = (row->status == NL_STATUS_PENDING || row->status == NL_STATUS_UNSUBSCRIBED) &&
		      (!row->mailed || now - row->mailed >= NL_SERVE_CONFIRM_EVERY);
		if (due)
			row->mailed = now;
		memcpy(token, row->token, 16);
	}
	pthread_rwlock_unlock(&s->ixlock);
	return due;
}

static enum nl_err signup(struct server *s, const char *email, const char *name)
{
	unsigned char tok[16];
	char token[NL_TOKEN_LEN + 1];
	enum nl_status st;
	enum nl_err e = NL_OK;
	pthread_mutex_lock(&s->add_mu);
	pthread_rwlock_rdlock(&s->ixlock);
	long r = find_email(s->ix, email);
	pthread_rwlock_unlock(&s->ixlock);
	if (r < 0) {
		/*
		 * The message goes out while the list is rewritten (seconds, for a
		 * million rows): a confirm that comes first waits for add_mu. The
		 * answer still waits for the row to be on disk.
		 */
		uuid_t u;
		nl_token_new(token);
		uuid_parse(token, u);
		queue_mail(s, email, u);
		if (!(e = add_pending(s, email, name, token, &st)))
			note_own_rewrite(s, email, token, st, time(NULL));
		r = -1;
	}
	pthread_mutex_unlock(&s->add_mu);
	if (!e && r >= 0 && due_for_mail(s, r, tok))
		queue_mail(s, email, tok);
	return e;
}

/* A token not (yet) known may belong to a signup whose rewrite is still running: wait for it. */
static long lookup_token_after_signups(struct server *s, const char *tok, enum nl_status *st)
{
	long r = lookup_token(s, tok, st);
	if (r >= 0)
		return r;
	pthread_mutex_lock(&s->add_mu);
	pthread_mutex_unlock(&s->add_mu);
	return lookup_token(s, tok, st);
}

/* ---- requests ---- */

static const char *body_of(const struct req *rq)
{
	return rq->body.data;
}

static enum MHD_Result on_unsubscribe(struct server *s, struct MHD_Connection *c, bool post, const char *tok,
				      const struct req *rq)
{
	struct nl_buf action = NL_BUF_INIT, resub = NL_BUF_INIT, v = NL_BUF_INIT;
	enum nl_status st;
	enum MHD_Result ret;
	nl_buf_addf(&action, "%s%s", s->unsub_path, tok);
	nl_buf_addf(&resub, "%s%s", s->confirm_path, tok);
	const char *f[F_N] = {action.data, "", "", "", resub.data, ""};
	if (!post) {
		ret = page(s, c, MHD_HTTP_OK, P_UNSUB, f);
	} else if (!form_get(body_of(rq), "List-Unsubscribe", &v) || strcmp(v.data, "One-Click")) {
		ret = error_page(s, c, MHD_HTTP_BAD_REQUEST, "This form needs List-Unsubscribe=One-Click.");
	} else if (!allowed(s, c, tok)) {
		ret = error_page(s, c, MHD_HTTP_TOO_MANY_REQUESTS, "Too many requests: try again in a minute.");
	} else {
		refresh(s);
		long r = lookup_token(s, tok, &st);
		/* Already suppressed (or unknown): nothing to write, but the same wait and answer. */
		if (set_status(s, r >= 0 && !nl_status_suppressed(st) ? r : -1, NL_STATUS_UNSUBSCRIBED))
			ret = error_page(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Something went wrong on our side: "
					 "please try again later.");
		else
			ret = page(s, c, MHD_HTTP_OK, P_UNSUBSCRIBED, f);
	}
	nl_buf_free(&action);
	nl_buf_free(&resub);
	nl_buf_free(&v);
	return ret;
}

static enum MHD_Result on_confirm(struct server *s, struct MHD_Connection *c, bool post, const char *tok)
{
	struct nl_buf action = NL_BUF_INIT;
	enum nl_status st;
	enum MHD_Result ret;
	nl_buf_addf(&action, "%s%s", s->confirm_path, tok);
	const char *f[F_N] = {action.data, "", "", "", "", ""};
	if (!post) {
		ret = page(s, c, MHD_HTTP_OK, P_CONFIRM, f);
	} else if (!allowed(s, c, tok)) {
		ret = error_page(s, c, MHD_HTTP_TOO_MANY_REQUESTS, "Too many requests: try again in a minute.");
	} else {
		refresh(s);
		long r = lookup_token_after_signups(s, tok, &st);
		/* Only the owner of the mailbox has the token; bounced and complained never come back. */
		bool ok = r >= 0 && (st == NL_STATUS_PENDING || st == NL_STATUS_UNSUBSCRIBED);
		if (set_status(s, ok ? r : -1, NL_STATUS_ACTIVE))
			ret = error_page(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Something went wrong on our side: "
					 "please try again later.");
		else
			ret = page(s, c, MHD_HTTP_OK, P_CONFIRMED, f);
	}
	nl_buf_free(&action);
	return ret;
}

static enum MHD_Result subscribe_form(struct server *s, struct MHD_Connection *c, unsigned code,
				      const char *msg, const char *email, const char *name)
{
	const char *f[F_N] = {s->subscribe_path, msg, email, name, "", ""};
	return page(s, c, code, P_SUBSCRIBE, f);
}

static enum MHD_Result on_subscribe(struct server *s, struct MHD_Connection *c, bool post, const struct req *rq)
{
	struct nl_buf email = NL_BUF_INIT, name = NL_BUF_INIT, trap = NL_BUF_INIT;
	const char *why;
	size_t bad;
	enum MHD_Result ret;
	if (!post) {
		ret = subscribe_form(s, c, MHD_HTTP_OK, "", "", "");
		goto out;
	}
	form_get(body_of(rq), "name", &name);
	bool have = form_get(body_of(rq), "email", &email);
	const char *addr = nl_field_trim(email.data);
	nl_clean_display_name(name.data);
	if (!have || !*addr || !nl_addr_valid(addr, strlen(addr), &why) || strlen(addr) > NL_ADDR_MAX) {
		ret = subscribe_form(s, c, MHD_HTTP_BAD_REQUEST, "Please enter a valid email address.", email.data, "");
	} else if (!nl_utf8_valid(name.data, name.len, &bad) || name.len > 200) {
		ret = subscribe_form(s, c, MHD_HTTP_BAD_REQUEST, "Please enter a shorter name.", addr, "");
	} else if (!allowed(s, c, addr)) {
		ret = error_page(s, c, MHD_HTTP_TOO_MANY_REQUESTS, "Too many requests: try again later.");
	} else if (form_get(body_of(rq), "website", &trap) && *trap.data) {
		ret = page(s, c, MHD_HTTP_OK, P_CHECK, NULL); /* a robot filled the field people never see */
	} else {
		refresh(s);
		if (signup(s, addr, name.data)) {
			nl_warn("signup: %s", nl_errmsg());
			ret = error_page(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Something went wrong on our side: "
					 "please try again later.");
		} else {
			ret = page(s, c, MHD_HTTP_OK, P_CHECK, NULL); /* the same for new, pending, active, suppressed */
		}
	}
out:
	nl_buf_free(&email);
	nl_buf_free(&name);
	nl_buf_free(&trap);
	return ret;
}

static bool has_prefix(const char *url, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	if (!n || strncmp(url, prefix, n))
		return false;
	*rest = url + n;
	return true;
}

static enum MHD_Result dispatch(struct server *s, struct MHD_Connection *c, const char *url,
				const char *method, const struct req *rq)
{
	bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	const char *rest;
	if (!post && !get)
		return error_page(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET and POST are answered here.");
	if (rq->too_big)
		return error_page(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "That request is too large.");
	if (post && strlen(body_of(rq)) != rq->body.len)
		return error_page(s, c, MHD_HTTP_BAD_REQUEST, "That request is malformed.");
	if (has_prefix(url, s->unsub_path, &rest) && *rest && !strchr(rest, '/'))
		return on_unsubscribe(s, c, post, rest, rq);
	if (has_prefix(url, s->confirm_path, &rest) && *rest && !strchr(rest, '/'))
		return on_confirm(s, c, post, rest);
	if (!strcmp(url, s->subscribe_path))
		return on_subscribe(s, c, post, rq);
	return error_page(s, c, MHD_HTTP_NOT_FOUND, "There is no page here.");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct req *rq = *con_cls;
	(void)version;
	if (!rq) {
		if (!(rq = calloc(1, sizeof *rq)))
			return MHD_NO;
		nl_buf_init(&rq->body);
		*con_cls = rq;
		const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		char *end;
		/* Refused before the body is read: the connection closes after the answer. */
		if (len && (strtoull(len, &end, 10) > NL_SERVE_MAX_BODY || *end)) {
			rq->too_big = rq->answered = true;
			return error_page(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "That request is too large.");
		}
		return MHD_YES;
	}
	if (rq->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->body.len + *upload_size > NL_SERVE_MAX_BODY)
			rq->too_big = true;
		else
			nl_buf_add(&rq->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)t;
	if (rq) {
		nl_buf_free(&rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

/* ---- starting and stopping ---- */

const char *nl_serve_url_path(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return url;
	p = strchr(p + 3, '/');
	return p ? p : "";
}

static char *path_or(const char *url, const char *fallback)
{
	const char *p = *url ? nl_serve_url_path(url) : "";
	return strdup(*p ? p : fallback);
}

static enum nl_err set_paths(struct server *s)
{
	const struct nl_config *cfg = s->cfg;
	struct nl_buf b = NL_BUF_INIT;
	const char *base = nl_serve_url_path(cfg->base_url);
	s->unsub_path = path_or(cfg->unsubscribe_url, "/unsubscribe/");
	s->subscribe_path = path_or(cfg->subscribe_url, "/subscribe");
	nl_buf_addf(&b, "%s/confirm/", base);
	s->confirm_path = nl_buf_detach(&b, NULL);
	nl_buf_addf(&b, "%s/confirm/", cfg->base_url);
	s->confirm_url = nl_buf_detach(&b, NULL);
	nl_changes_path(cfg->subscribers, &b);
	s->changes_path = nl_buf_detach(&b, NULL);
	nl_buf_free(&b);
	if (!s->unsub_path || !s->subscribe_path || !s->confirm_path || !s->confirm_url || !s->changes_path)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (!*cfg->base_url)
		nl_warn("no base_url: confirmation messages carry a link without a host; set base_url");
	return NL_OK;
}

/* ADDR:PORT or [V6]:PORT, numeric only. */
static enum nl_err parse_listen(const char *spec, struct addrinfo **out)
{
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hn = colon ? (size_t)(colon - spec) : 0;
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	if (hn >= 2 && spec[0] == '[' && spec[hn - 1] == ']') {
		h++;
		hn -= 2;
	}
	if (!colon || !hn || hn >= sizeof host || !colon[1])
		return nl_errf(NL_EUSAGE, "listen address '%s': expected ADDR:PORT, e.g. 127.0.0.1:8080", spec);
	memcpy(host, h, hn);
	host[hn] = 0;
	int rc = getaddrinfo(host, colon + 1, &hints, out);
	if (rc)
		return nl_errf(NL_EUSAGE, "listen address '%s': %s (a numeric address and port)", spec,
			       gai_strerror(rc));
	return NL_OK;
}

static struct MHD_Daemon *start_daemon(struct server *s, const struct addrinfo *ai)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)NL_SERVE_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg->serve.connections,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)NL_SERVE_TIMEOUT,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
}

static void server_free(struct server *s)
{
	if (s->mailer) {
		pthread_mutex_lock(&s->mail_mu);
		s->mail_stop = true;
		pthread_cond_signal(&s->mail_cv);
		pthread_mutex_unlock(&s->mail_mu);
		pthread_join(s->mailer, NULL);
	}
	while (s->mq) {
		struct mailjob *j = s->mq;
		s->mq = j->next;
		free(j);
	}
	for (size_t i = 0; i < P_N; i++)
		nl_residual_free(s->pages[i]);
	nl_dkim_free(s->dkim);
	index_free(s->ix);
	nl_changes_free(s->seen);
	nl_changelog_close(s->log);
	free(s->unsub_path);
	free(s->subscribe_path);
	free(s->confirm_path);
	free(s->confirm_url);
	free(s->changes_path);
	pthread_rwlock_destroy(&s->ixlock);
	pthread_mutex_destroy(&s->reload_mu);
	pthread_mutex_destroy(&s->add_mu);
	pthread_mutex_destroy(&s->rate_mu);
	pthread_mutex_destroy(&s->mail_mu);
	pthread_cond_destroy(&s->mail_cv);
	free(s);
}

static enum nl_err server_new(const struct nl_serve_opts *o, struct server **out)
{
	struct server *s = calloc(1, sizeof *s);
	enum nl_err e;
	*out = NULL;
	if (!s)
		return nl_errf(NL_ENOMEM, "out of memory");
	s->o = o;
	s->cfg = o->cfg;
	pthread_rwlock_init(&s->ixlock, NULL);
	pthread_mutex_init(&s->reload_mu, NULL);
	pthread_mutex_init(&s->add_mu, NULL);
	pthread_mutex_init(&s->rate_mu, NULL);
	pthread_mutex_init(&s->mail_mu, NULL);
	pthread_cond_init(&s->mail_cv, NULL);
	if ((e = set_paths(s)) || (e = load_pages(s)) || (e = nl_dkim_load(s->cfg, &s->dkim)) ||
	    (e = index_build(s, &s->ix)) ||
	    (e = nl_changelog_open(s->changes_path, &s->log)))
		goto fail;
	if (!(s->seen = nl_changes_new())) {
		e = nl_errf(NL_ENOMEM, "out of memory");
		goto fail;
	}
	s->last_check = now_mono();
	if (nl_changes_read(s->seen, s->changes_path) == NL_OK)
		s->applied = nl_changes_count(s->seen); /* the list reader applied these already */
	if (pthread_create(&s->mailer, NULL, mailer_main, s)) {
		s->mailer = 0;
		e = nl_errf(NL_EIO, "cannot start a thread");
		goto fail;
	}
	*out = s;
	return NL_OK;
fail:
	server_free(s);
	return e;
}

enum nl_err nl_serve_run(const struct nl_serve_opts *o)
{
	struct addrinfo *ai = NULL;
	struct server *s = NULL;
	struct MHD_Daemon *d = NULL;
	char where[300];
	enum nl_err e;
	if ((e = parse_listen(o->listen, &ai)) || (e = server_new(o, &s)))
		goto out;
	if (!(d = start_daemon(s, ai))) {
		e = nl_errf(NL_ECANTCREAT, "cannot listen on %s: %s", o->listen, strerror(errno));
		goto out;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char host[INET6_ADDRSTRLEN] = "";
	getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST);
	snprintf(where, sizeof where, ai->ai_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u", host,
		 di ? (unsigned)di->port : 0);
	if (o->ready)
		o->ready(where);
	while (!*o->interrupted) {
		struct timespec nap = {0, 100000000};
		nanosleep(&nap, NULL);
	}
out:
	if (d)
		MHD_stop_daemon(d);
	if (s)
		server_free(s);
	if (ai)
		freeaddrinfo(ai);
	return e;
}
