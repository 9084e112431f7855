/* message.c - the message object: header fields in order, body runs, envelope sender, finalize. */
#include "message.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

/* Longest field name we write: a name and ": x" fit a 78-octet line. */
#define NAME_MAX_LEN 76

/* One header field: "Name: value\r\n" (folded) at hdrs.data + off. */
struct field {
	size_t off, len;
	size_t name_len;
};

/* A run of body bytes: borrowed at p, or (p NULL) the message's own at own.data + off. */
struct run {
	const char *p;
	size_t off, len;
};

struct nl_message {
	struct nl_buf hdrs;	/* field bytes; a replaced field's old bytes stay until reset */
	struct field *f;
	size_t nf, fcap;
	struct nl_buf own;	/* body bytes made for this message */
	size_t mark;		/* own bytes before this are in runs already */
	struct run *r;
	size_t nr, rcap, body_len;
	struct nl_buf scratch[2];
	bool failed;		/* an index could not grow */
	nl_message_signer sign;
	const void *sign_ctx;
	char id[NL_MSGID_MAX];
	char env[NL_ENVELOPE_MAX];
	char verp[NL_ENVELOPE_MAX];	/* the reader's token for {token} in env (VERP); "" = none */
};

struct nl_message *nl_message_new(void)
{
	struct nl_message *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	nl_buf_init(&m->hdrs);
	nl_buf_init(&m->own);
	nl_buf_init(&m->scratch[0]);
	nl_buf_init(&m->scratch[1]);
	return m;
}

void nl_message_free(struct nl_message *m)
{
	if (!m)
		return;
	nl_buf_free(&m->hdrs);
	nl_buf_free(&m->own);
	nl_buf_free(&m->scratch[0]);
	nl_buf_free(&m->scratch[1]);
	free(m->f);
	free(m->r);
	free(m);
}

void nl_message_reset(struct nl_message *m)
{
	nl_buf_reset(&m->hdrs);
	nl_buf_reset(&m->own);
	m->nf = m->nr = m->mark = m->body_len = 0;
	m->failed = false;
	m->sign = NULL;
	m->sign_ctx = NULL;
	m->id[0] = m->env[0] = m->verp[0] = 0;
}

/* Room for one more element in *v (n used of *cap, each size bytes). */
static bool reserve(void **v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return true;
	size_t c = *cap ? *cap * 2 : 16;
	void *p = realloc(*v, c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

/* ---- header fields ---- */

static enum nl_err name_ok(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= ' ' || (unsigned char)name[i] >= 0x7f || name[i] == ':')
			n = 0;
	if (!n || n > NAME_MAX_LEN)
		return nl_errf(NL_EDATA, "header field name '%.*s' is not a valid name", NAME_MAX_LEN,
			       name);
	return NL_OK;
}

static bool name_is(const struct nl_message *m, const struct field *f, const char *name, size_t n)
{
	return f->name_len == n && !strncasecmp(m->hdrs.data + f->off, name, n);
}

long nl_message_hdr_find(const struct nl_message *m, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < m->nf; i++)
		if (name_is(m, &m->f[i], name, n))
			return (long)i;
	return -1;
}

size_t nl_message_hdr_remove(struct nl_message *m, const char *name)
{
	size_t n = strlen(name), kept = 0, had = m->nf;
	for (size_t i = 0; i < had; i++)
		if (!name_is(m, &m->f[i], name, n))
			m->f[kept++] = m->f[i];
	m->nf = kept;
	return had - kept;
}

/* Index the field just written at hdrs[off..] where `at` says. */
static enum nl_err place(struct nl_message *m, enum nl_hdr_at at, const char *name, size_t off)
{
	struct field f = {off, m->hdrs.len - off, strlen(name)};
	enum nl_err e = nl_buf_err(&m->hdrs);
	if (e) {
		m->failed = true;
		return e;
	}
	long i = at == NL_HDR_REPLACE ? nl_message_hdr_find(m, name) : -1;
	if (i >= 0) {
		nl_message_hdr_remove(m, name);
		/* The first one's place: shift the fields after it back up by one. */
		if (!reserve((void **)&m->f, m->nf, &m->fcap, sizeof *m->f))
			goto oom;
		memmove(&m->f[i + 1], &m->f[i], (m->nf - (size_t)i) * sizeof *m->f);
		m->f[i] = f;
		m->nf++;
		return NL_OK;
	}
	if (!reserve((void **)&m->f, m->nf, &m->fcap, sizeof *m->f))
		goto oom;
	if (at == NL_HDR_PREPEND) {
		memmove(&m->f[1], &m->f[0], m->nf * sizeof *m->f);
		m->f[0] = f;
	} else {
		m->f[m->nf] = f;
	}
	m->nf++;
	return NL_OK;
oom:
	m->failed = true;
	return nl_errf(NL_ENOMEM, "out of memory");
}

enum nl_err nl_message_hdr_raw(struct nl_message *m, enum nl_hdr_at at, const char *name,
			       const char *value)
{
	size_t off = m->hdrs.len;
	enum nl_err e = name_ok(name);
	if (e)
		return e;
	nl_hdr_raw(&m->hdrs, name, value);
	return place(m, at, name, off);
}

enum nl_err nl_message_hdr_text(struct nl_message *m, enum nl_hdr_at at, const char *name,
				const char *value)
{
	size_t off = m->hdrs.len;
	enum nl_err e = name_ok(name);
	if (e)
		return e;
	nl_hdr_text(&m->hdrs, name, value);
	return place(m, at, name, off);
}

enum nl_err nl_message_hdr_addr(struct nl_message *m, enum nl_hdr_at at, const char *name,
				const char *display, const char *addr)
{
	size_t off = m->hdrs.len;
	enum nl_err e = name_ok(name);
	if (e)
		return e;
	/* Written as is: 8-bit would need SMTPUTF8, which we never ask for. */
	for (const char *p = addr; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return nl_errf(NL_EDATA, "%s: address '%.64s' is not ASCII", name, addr);
	nl_hdr_addr(&m->hdrs, name, display, addr);
	return place(m, at, name, off);
}

enum nl_err nl_message_hdr_copy(struct nl_message *m, const struct nl_message *from)
{
	for (size_t i = 0; i < from->nf; i++) {
		const struct field *f = &from->f[i];
		if (!reserve((void **)&m->f, m->nf, &m->fcap, sizeof *m->f)) {
			m->failed = true;
			return nl_errf(NL_ENOMEM, "out of memory");
		}
		m->f[m->nf++] = (struct field){m->hdrs.len, f->len, f->name_len};
		nl_buf_add(&m->hdrs, from->hdrs.data + f->off, f->len);
	}
	if (nl_buf_err(&m->hdrs)) {
		m->failed = true;
		return nl_buf_err(&m->hdrs);
	}
	return NL_OK;
}

size_t nl_message_hdr_count(const struct nl_message *m)
{
	return m->nf;
}

struct nl_str nl_message_hdr_name(const struct nl_message *m, size_t i)
{
	struct nl_str s = {m->hdrs.data + m->f[i].off, m->f[i].name_len};
	return s;
}

struct nl_str nl_message_hdr_value(const struct nl_message *m, size_t i)
{
	const struct field *f = &m->f[i];
	struct nl_str s = {m->hdrs.data + f->off + f->name_len + 1, f->len - f->name_len - 3};
	return s;
}

/* ---- identity and envelope ---- */

/* Fits cap with its NUL, and nothing that could end an SMTP path or a msg-id early. */
static bool token_ok(const char *s, size_t cap)
{
	size_t n = strlen(s);
	if (n >= cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '<' || s[i] == '>')
			return false;
	return true;
}

enum nl_err nl_message_set_id(struct nl_message *m, const char *id)
{
	char v[NL_MSGID_MAX + 2];
	size_t n = strlen(id);
	if (!n || !token_ok(id, sizeof m->id))
		return nl_errf(NL_EDATA, "Message-ID '%.64s' is not valid", id);
	memcpy(m->id, id, n + 1);
	v[0] = '<';
	memcpy(v + 1, id, n);
	v[n + 1] = '>';
	v[n + 2] = 0;
	return nl_message_hdr_raw(m, NL_HDR_REPLACE, "Message-ID", v);
}

const char *nl_message_id(const struct nl_message *m)
{
	return m->id;
}

enum nl_err nl_message_set_envelope_from(struct nl_message *m, const char *addr)
{
	if (!token_ok(addr, sizeof m->env))
		return nl_errf(NL_EDATA, "envelope sender '%.64s' is not a valid address", addr);
	memcpy(m->env, addr, strlen(addr) + 1);
	return NL_OK;
}

enum nl_err nl_message_set_verp(struct nl_message *m, const char *token)
{
	if (!token_ok(token, sizeof m->verp))
		return nl_errf(NL_EDATA, "VERP token '%.64s' is not valid", token);
	memcpy(m->verp, token, strlen(token) + 1);
	return NL_OK;
}

/* The envelope sender with {token} made the reader's (VERP), into out (cap bytes). */
static enum nl_err envelope(const struct nl_message *m, char *out, size_t cap)
{
	const char *t = *m->verp ? strstr(m->env, "{token}") : NULL;
	size_t n = strlen(m->env), pre = t ? (size_t)(t - m->env) : n, tn = strlen(m->verp);
	if (t && pre + tn + strlen(t + 7) < cap) {
		memcpy(out, m->env, pre);
		memcpy(out + pre, m->verp, tn);
		memcpy(out + pre + tn, t + 7, strlen(t + 7) + 1);
		return NL_OK;
	}
	if (t || n >= cap)
		return nl_errf(NL_EDATA, "envelope sender '%.64s' is too long", m->env);
	memcpy(out, m->env, n + 1);
	return NL_OK;
}

const char *nl_message_envelope_from(const struct nl_message *m)
{
	return m->env;
}

/* ---- body ---- */

static void add_run(struct nl_message *m, const char *p, size_t off, size_t n)
{
	struct run *last = m->nr ? &m->r[m->nr - 1] : NULL;
	m->body_len += n;
	/* Adjacent bytes make one run: fewer, longer copies in finalize. */
	if (last && !p && !last->p && last->off + last->len == off) {
		last->len += n;
		return;
	}
	if (last && p && last->p && last->p + last->len == p) {
		last->len += n;
		return;
	}
	if (!reserve((void **)&m->r, m->nr, &m->rcap, sizeof *m->r)) {
		m->failed = true;
		return;
	}
	m->r[m->nr++] = (struct run){p, off, n};
}

/* What was appended to own since the last mark joins the body here. */
static void flush_own(struct nl_message *m)
{
	if (m->own.len > m->mark) {
		add_run(m, NULL, m->mark, m->own.len - m->mark);
		m->mark = m->own.len;
	}
}

void nl_message_body_ref(struct nl_message *m, const char *p, size_t n)
{
	flush_own(m);
	if (n)
		add_run(m, p, 0, n);
}

void nl_message_body_add(struct nl_message *m, const char *p, size_t n)
{
	nl_buf_add(&m->own, p, n);
	flush_own(m);
}

struct nl_buf *nl_message_body_buf(struct nl_message *m)
{
	return &m->own;
}

struct nl_buf *nl_message_scratch(struct nl_message *m, int i)
{
	return &m->scratch[i ? 1 : 0];
}

/* ---- the last step ---- */

void nl_message_set_signer(struct nl_message *m, nl_message_signer fn, const void *ctx)
{
	m->sign = fn;
	m->sign_ctx = ctx;
}

nl_message_signer nl_message_signer_get(const struct nl_message *m, const void **ctx)
{
	*ctx = m->sign_ctx;
	return m->sign;
}

enum nl_err nl_message_finalize(struct nl_message *m, struct nl_buf *out, char *envelope_from,
				size_t cap)
{
	size_t total = 2;
	enum nl_err e;
	flush_own(m);
	if ((e = nl_buf_err(&m->hdrs)) || (e = nl_buf_err(&m->own)))
		return e;
	if (m->failed)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (envelope_from && (e = envelope(m, envelope_from, cap)))
		return e;
	size_t start = out->len;
	for (size_t i = 0; i < m->nf; i++)
		total += m->f[i].len;
	if (!nl_buf_grow(out, total + m->body_len))
		return nl_buf_err(out);
	for (size_t i = 0; i < m->nf; i++)
		nl_buf_add(out, m->hdrs.data + m->f[i].off, m->f[i].len);
	nl_buf_add(out, "\r\n", 2);
	for (size_t i = 0; i < m->nr; i++)
		nl_buf_add(out, m->r[i].p ? m->r[i].p : m->own.data + m->r[i].off, m->r[i].len);
	/* Signed over the very bytes every output gets: nothing can differ. */
	if (!(e = nl_buf_err(out)) && m->sign)
		e = m->sign(m->sign_ctx, out, start);
	return e;
}
