/* dkim.c - DKIM signing (RFC 6376, RFC 8463) with libcrypto: keys, canonicalization, signatures. */
#include "dkim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "mime.h"
#include "ynode.h"

/* RFC 8301: RSA keys below 1024 bits are invalid; we ask for 2048 as the sender. */
#define RSA_MIN_BITS 2048
/* A PEM private key is a few KB; a large file is the wrong file. */
#define KEY_FILE_MAX (64 * 1024)
/* Where the base64 of b= gets a space, so that the field folds within 78 columns. */
#define B64_CHUNK 64

struct key {
	EVP_PKEY *pkey;
	bool ed25519;
	char *selector;
};

struct nl_dkim {
	EVP_MD *sha256;		/* fetched once: an implicit fetch per call takes a global lock */
	char *domain;
	struct key k[2];
	size_t nk;
};

/* Signed when present, in this order; From is listed once more (oversigned) after them. */
static const char *const signed_names[] = {
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "List-Id",
	"List-Unsubscribe", "List-Unsubscribe-Post", "Reply-To",
};

/* ---- keys ---- */

static enum nl_err key_bad(const struct nl_config *cfg, const char *key, const char *path,
			   const char *what)
{
	const struct nl_ynode *n = nl_ynode_path(cfg->root, key);
	return nl_errf(NL_ECONFIG, "%s:%d:%d: %s: %s: %s", cfg->path, n ? n->line : 1,
		       n ? n->col : 1, key, path, what);
}

/* The key file as a stream, if only we can read or change it. */
static enum nl_err open_key(const struct nl_config *cfg, const char *key, const char *path,
			    FILE **out)
{
	struct stat st;
	char why[160];
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	*out = NULL;
	if (fd < 0)
		return key_bad(cfg, key, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return key_bad(cfg, key, path, "is not a regular file");
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) || st.st_size > KEY_FILE_MAX) {
		close(fd);
		if (st.st_size > KEY_FILE_MAX)
			return key_bad(cfg, key, path, "larger than 64 KB: is this a PEM private key?");
		if (st.st_uid != geteuid())
			return key_bad(cfg, key, path, "is owned by another user: a private key must be "
							"yours alone");
		snprintf(why, sizeof why,
			 "mode %04o lets others read it: a private key must be mode 0600 (chmod 600)",
			 (unsigned)(st.st_mode & 07777));
		return key_bad(cfg, key, path, why);
	}
	if (!(*out = fdopen(fd, "r"))) {
		close(fd);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	return NL_OK;
}

static enum nl_err load_key(const struct nl_config *cfg, const char *key, const char *path,
			    const char *selector, struct key *k)
{
	FILE *f;
	enum nl_err e = open_key(cfg, key, path, &f);
	if (e)
		return e;
	k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k->pkey)
		return key_bad(cfg, key, path,
			       "not a PEM private key without a passphrase (openssl genpkey ...)");
	int id = EVP_PKEY_get_base_id(k->pkey);
	k->ed25519 = id == EVP_PKEY_ED25519;
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(k->pkey) < RSA_MIN_BITS)
		return key_bad(cfg, key, path, "RSA keys must have 2048 bits or more");
	if (id != EVP_PKEY_RSA && !k->ed25519)
		return key_bad(cfg, key, path, "must be an RSA or an Ed25519 key");
	if (!(k->selector = strdup(selector)))
		return nl_errf(NL_ENOMEM, "out of memory");
	return NL_OK;
}

enum nl_err nl_dkim_load(const struct nl_config *cfg, struct nl_dkim **out)
{
	const struct nl_dkim_config *c = &cfg->dkim;
	struct nl_dkim *d;
	enum nl_err e = NL_OK;
	*out = NULL;
	if (!*c->key_file)
		return NL_OK;
	if (!(d = calloc(1, sizeof *d)) || !(d->domain = strdup(c->domain)) ||
	    !(d->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
		nl_dkim_free(d);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	e = load_key(cfg, "dkim.key_file", c->key_file, c->selector, &d->k[d->nk++]);
	if (!e && *c->key_file2)
		e = load_key(cfg, "dkim.key_file2", c->key_file2, c->selector2, &d->k[d->nk++]);
	if (e) {
		nl_dkim_free(d);
		return e;
	}
	*out = d;
	return NL_OK;
}

void nl_dkim_free(struct nl_dkim *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nk; i++) {
		EVP_PKEY_free(d->k[i].pkey);
		free(d->k[i].selector);
	}
	EVP_MD_free(d->sha256);
	free(d->domain);
	free(d);
}

/* ---- canonicalization ---- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

void nl_dkim_canon_header(struct nl_buf *out, struct nl_str name, struct nl_str value)
{
	size_t start, end = value.len;
	bool wsp = false;
	/* The name lowercased, without the white space before the colon. */
	while (name.len && is_wsp(name.p[name.len - 1]))
		name.len--;
	for (size_t i = 0; i < name.len; i++) {
		char c = name.p[i];
		nl_buf_addc(out, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
	}
	nl_buf_addc(out, ':');
	/* Unfolded (CR and LF dropped), white space runs as one space, none at either end. */
	for (start = 0; start < end && (is_wsp(value.p[start]) || value.p[start] == '\r' ||
					  value.p[start] == '\n'); start++)
		;
	while (end > start && (is_wsp(value.p[end - 1]) || value.p[end - 1] == '\r' ||
			       value.p[end - 1] == '\n'))
		end--;
	for (size_t i = start; i < end; i++) {
		char c = value.p[i];
		if (c == '\r' || c == '\n')
			continue;
		if (is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp)
			nl_buf_addc(out, ' ');
		wsp = false;
		nl_buf_addc(out, c);
	}
	nl_buf_add(out, "\r\n", 2);
}

void nl_dkim_body_init(struct nl_dkim_body *st)
{
	memset(st, 0, sizeof *st);
}

/* What was held back is not at the end after all: line ends, then one space. */
static void body_flush(struct nl_dkim_body *st, struct nl_buf *out)
{
	for (; st->crlfs; st->crlfs--)
		nl_buf_add(out, "\r\n", 2);
	if (st->wsp)
		nl_buf_addc(out, ' ');
	st->wsp = false;
	st->any = true;
}

/* Bytes the body canonicalization may change: white space and line ends. */
static bool touchy(char c)
{
	return c == '\r' || c == ' ' || c == '\t';
}

/*
 * How many bytes from p[i] on pass through unchanged: no tab, a space only
 * alone between two other bytes, a CRLF only between a line's last byte
 * that is not white space and the next line's first. Most of a body is one
 * such run (quoted-printable and base64 lines never end in white space),
 * copied whole instead of byte by byte.
 */
static size_t plain_run(const char *p, size_t i, size_t n)
{
	size_t j = i;
	while (j < n) {
		while (j < n && !touchy(p[j]))
			j++;
		if (j == i || j + 2 >= n)
			break;
		if (p[j] == ' ' && !touchy(p[j + 1]))
			j += 2;
		else if (p[j] == '\r' && p[j + 1] == '\n' && !touchy(p[j + 2]) && p[j + 2] != '\n')
			j += 3;
		else
			break;
	}
	return j - i;
}

void nl_dkim_body_add(struct nl_dkim_body *st, struct nl_buf *out, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		size_t run = st->cr ? 0 : plain_run(p, i, n);
		if (run) {
			body_flush(st, out);
			nl_buf_add(out, p + i, run);
			i += run - 1;
			continue;
		}
		if (st->cr) {
			st->cr = false;
			if (c == '\n') {
				st->wsp = false; /* white space at the end of a line goes */
				st->crlfs++;
				continue;
			}
			body_flush(st, out);
			nl_buf_addc(out, '\r'); /* a bare CR is an ordinary byte */
		}
		if (c == '\r') {
			st->cr = true;
		} else if (is_wsp(c)) {
			st->wsp = true;
		} else {
			body_flush(st, out);
			nl_buf_addc(out, c);
		}
	}
}

/* Empty lines at the end go; a body that is not empty ends with one CRLF. */
void nl_dkim_body_end(struct nl_dkim_body *st, struct nl_buf *out)
{
	if (st->cr) {
		st->cr = false;
		body_flush(st, out);
		nl_buf_addc(out, '\r');
	}
	st->wsp = false;
	st->crlfs = 0;
	if (st->any)
		nl_buf_add(out, "\r\n", 2);
}

/* ---- hashing and signing ---- */

static enum nl_err crypto_fail(const char *what)
{
	return nl_errf(NL_EINTERNAL, "DKIM: %s failed in libcrypto", what);
}

/* base64 of n bytes into out (cap bytes, NUL-terminated). */
static void b64(const unsigned char *p, size_t n, char *out, size_t cap)
{
	if (cap < 4 * ((n + 2) / 3) + 1) {
		out[0] = 0;
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

/* The body is canonicalized in pieces through a small buffer: never copied whole. */
static enum nl_err body_hash(const EVP_MD *md_type, const char *p, size_t n, char *out,
			     size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct nl_dkim_body st;
	struct nl_buf b = NL_BUF_INIT;
	enum nl_err e = NL_OK;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, md_type, NULL)) {
		EVP_MD_CTX_free(ctx);
		return crypto_fail("sha256");
	}
	nl_dkim_body_init(&st);
	for (size_t off = 0; off < n && !e; off += 16384) {
		nl_dkim_body_add(&st, &b, p + off, n - off < 16384 ? n - off : 16384);
		if (b.len && !EVP_DigestUpdate(ctx, b.data, b.len))
			e = crypto_fail("sha256");
		nl_buf_reset(&b);
	}
	nl_dkim_body_end(&st, &b);
	if (!e)
		e = nl_buf_err(&b);
	if (!e && (!EVP_DigestUpdate(ctx, b.data, b.len) || !EVP_DigestFinal_ex(ctx, md, &mdlen)))
		e = crypto_fail("sha256");
	EVP_MD_CTX_free(ctx);
	nl_buf_free(&b);
	if (!e)
		b64(md, mdlen, out, cap);
	return e;
}

enum nl_err nl_dkim_body_hash(const char *p, size_t n, char *out, size_t cap)
{
	return body_hash(EVP_sha256(), p, n, out, cap);
}

/* One header field of the finished message: name, and value after the colon without its CRLF. */
struct field {
	struct nl_str name, value;
};

/* More fields than this is not a message we built. */
#define MAX_FIELDS 256

/*
 * The header fields of msg[0..n) (a field ends at a CRLF not followed by
 * white space; the header ends at an empty line), and where the body starts.
 */
static enum nl_err split(const char *msg, size_t n, struct field *f, size_t *nf, size_t *body)
{
	size_t i = 0;
	*nf = 0;
	while (i + 1 < n && !(msg[i] == '\r' && msg[i + 1] == '\n')) {
		const char *colon = memchr(msg + i, ':', n - i);
		size_t end = i;
		while (end + 2 < n && !(msg[end] == '\r' && msg[end + 1] == '\n' && !is_wsp(msg[end + 2])))
			end++;
		if (!colon || (size_t)(colon - msg) > end || end + 2 >= n || *nf == MAX_FIELDS)
			return nl_errf(NL_EINTERNAL, "DKIM: the message's header cannot be signed");
		f[*nf].name = (struct nl_str){msg + i, (size_t)(colon - msg) - i};
		f[*nf].value = (struct nl_str){colon + 1, end - (size_t)(colon + 1 - msg)};
		(*nf)++;
		i = end + 2;
	}
	if (i + 1 >= n)
		return nl_errf(NL_EINTERNAL, "DKIM: the message has no end of header");
	*body = i + 2;
	return NL_OK;
}

/* The field that the k-th listing of name (0 first) signs: instances count from the bottom. */
static long nth_from_bottom(const struct field *f, size_t nf, const char *name, size_t k)
{
	size_t n = strlen(name);
	for (size_t i = nf; i-- > 0;)
		if (f[i].name.len == n && !strncasecmp(f[i].name.p, name, n) && k-- == 0)
			return (long)i;
	return -1;
}

/*
 * The tags before b=, and into hdrs the canonical fields they sign, in h=
 * order. A space now and then in h= (FWS is allowed around its colons) lets
 * the field fold within 78 columns.
 */
static void sig_tags(const struct nl_dkim *d, const struct key *k, const struct field *f,
		     size_t nf, const char *bh, struct nl_buf *tags, struct nl_buf *hdrs)
{
	size_t seg;
	bool first = true;
	nl_buf_addf(tags, "v=1; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%lld; h=",
		    k->ed25519 ? "ed25519-sha256" : "rsa-sha256", d->domain, k->selector,
		    (long long)time(NULL));
	seg = tags->len;
	for (size_t i = 0; i <= NL_ARRAY_LEN(signed_names); i++) {
		/* The last turn lists From again: a second From would break the signature. */
		bool again = i == NL_ARRAY_LEN(signed_names);
		const char *name = again ? "From" : signed_names[i];
		long at = nth_from_bottom(f, nf, name, again ? 1 : 0);
		if (at < 0 && !again)
			continue;
		if (!first) {
			nl_buf_addc(tags, ':');
			if (tags->len - seg > 40) {
				nl_buf_addc(tags, ' ');
				seg = tags->len;
			}
		}
		first = false;
		nl_buf_adds(tags, name);
		if (at >= 0)
			nl_dkim_canon_header(hdrs, f[at].name, f[at].value);
	}
	nl_buf_addf(tags, "; bh=%s; b=", bh);
}

/* Ed25519 signs the sha256 of the data (RFC 8463); RSA signs it as PKCS#1 v1.5 with sha256. */
static enum nl_err sign_data(const struct nl_dkim *d, const struct key *k,
			     const struct nl_buf *data, unsigned char *sig, size_t *siglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok;
	if (!EVP_Digest(data->data, data->len, md, &mdlen, d->sha256, NULL))
		return crypto_fail("sha256");
	if (k->ed25519) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, k->pkey) == 1 &&
		     EVP_DigestSign(c, sig, siglen, md, mdlen) == 1;
		EVP_MD_CTX_free(c);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pkey, NULL);
		ok = c && EVP_PKEY_sign_init(c) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(c, d->sha256) == 1 &&
		     EVP_PKEY_sign(c, sig, siglen, md, mdlen) == 1;
		EVP_PKEY_CTX_free(c);
	}
	return ok ? NL_OK : crypto_fail(k->ed25519 ? "Ed25519 signing" : "RSA signing");
}

/* One DKIM-Signature field for key k, appended to sigs (encoded and folded as mime.h does). */
static enum nl_err sign_one(const struct nl_dkim *d, const struct key *k, const struct field *f,
			    size_t nf, const char *bh, struct nl_buf *sigs)
{
	unsigned char sig[1024];
	char b[1400];
	size_t siglen = sizeof sig;
	struct nl_buf tags = NL_BUF_INIT, hdrs = NL_BUF_INIT;
	enum nl_err e;
	static const char name[] = "DKIM-Signature";
	sig_tags(d, k, f, nf, bh, &tags, &hdrs);
	/* Last, this field itself with b= empty, and without its CRLF (RFC 6376 3.7). */
	nl_dkim_canon_header(&hdrs, (struct nl_str){name, sizeof name - 1},
			     (struct nl_str){tags.data, tags.len});
	nl_buf_truncate(&hdrs, hdrs.len - 2);
	if (!(e = nl_buf_err(&tags)) && !(e = nl_buf_err(&hdrs)) &&
	    (size_t)EVP_PKEY_get_size(k->pkey) > sizeof sig)
		e = crypto_fail("a key this large");
	if (!e && !(e = sign_data(d, k, &hdrs, sig, &siglen))) {
		b64(sig, siglen, b, sizeof b);
		/* Spaces inside b= are allowed (FWS) and ignored: they are where it folds. */
		for (size_t off = 0, n = strlen(b); off < n; off += B64_CHUNK) {
			if (off)
				nl_buf_addc(&tags, ' ');
			nl_buf_add(&tags, b + off, n - off < B64_CHUNK ? n - off : B64_CHUNK);
		}
		nl_buf_addc(&tags, 0);
		if (!(e = nl_buf_err(&tags)))
			nl_hdr_raw(sigs, name, tags.data);
	}
	nl_buf_free(&tags);
	nl_buf_free(&hdrs);
	return e;
}

/* Put n bytes at out[start], moving what was there up. */
static enum nl_err insert(struct nl_buf *out, size_t start, const char *p, size_t n)
{
	size_t tail = out->len - start;
	nl_buf_add(out, p, n); /* room; the bytes are moved into place below */
	if (nl_buf_err(out))
		return nl_buf_err(out);
	memmove(out->data + start + n, out->data + start, tail);
	memcpy(out->data + start, p, n);
	return NL_OK;
}

enum nl_err nl_dkim_sign(const void *ctx, struct nl_buf *out, size_t start)
{
	const struct nl_dkim *d = ctx;
	struct field f[MAX_FIELDS];
	size_t nf = 0, body = 0;
	char bh[64];
	struct nl_buf sigs = NL_BUF_INIT;
	const char *msg = out->data + start;
	size_t n = out->len - start;
	enum nl_err e = split(msg, n, f, &nf, &body);
	if (!e)
		e = body_hash(d->sha256, msg + body, n - body, bh, sizeof bh);
	/* Each signature covers the same fields: never the other DKIM-Signature. */
	for (size_t i = 0; !e && i < d->nk; i++)
		e = sign_one(d, &d->k[i], f, nf, bh, &sigs);
	if (!e && !(e = nl_buf_err(&sigs)))
		e = insert(out, start, sigs.data, sigs.len);
	nl_buf_free(&sigs);
	return e;
}

/* ---- the key record to publish (for doctor) ---- */

size_t nl_dkim_keys(const struct nl_dkim *d, const char **selector, size_t i)
{
	if (d && i < d->nk && selector)
		*selector = d->k[i].selector;
	return d ? d->nk : 0;
}

enum nl_err nl_dkim_public_key(const struct nl_dkim *d, size_t i, struct nl_buf *p64,
			       bool *ed25519)
{
	unsigned char raw[32], *der = NULL;
	size_t n = sizeof raw;
	char *text;
	int len;
	if (!d || i >= d->nk)
		return nl_errf(NL_EINTERNAL, "DKIM: no key %zu", i);
	*ed25519 = d->k[i].ed25519;
	/* RFC 8463: Ed25519's p= is the bare key; RSA's is the DER SubjectPublicKeyInfo. */
	if (*ed25519) {
		if (EVP_PKEY_get_raw_public_key(d->k[i].pkey, raw, &n) != 1)
			return crypto_fail("reading the public key");
		len = (int)n;
	} else if ((len = i2d_PUBKEY(d->k[i].pkey, &der)) <= 0) {
		return crypto_fail("encoding the public key");
	}
	size_t cap = 4 * (((size_t)len + 2) / 3) + 1;
	if (!(text = malloc(cap))) {
		OPENSSL_free(der);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	b64(*ed25519 ? raw : der, (size_t)len, text, cap);
	nl_buf_adds(p64, text);
	free(text);
	OPENSSL_free(der);
	return nl_buf_err(p64);
}

/*
 * p= holds the SubjectPublicKeyInfo for RSA (RFC 6376 errata 3017), though
 * some publish the bare RSAPublicKey, which verifiers take too: compare
 * keys, not text.
 */
bool nl_dkim_public_key_matches(const struct nl_dkim *d, size_t i, const char *p64, size_t n)
{
	unsigned char raw[32];
	size_t rn = sizeof raw, pad = 0;
	bool ok = false;
	if (!d || i >= d->nk || !n || n % 4 || n > 8192)
		return false;
	unsigned char *der = malloc(n / 4 * 3 + 1);
	if (!der)
		return false;
	int len = EVP_DecodeBlock(der, (const unsigned char *)p64, (int)n);
	while (pad < 2 && p64[n - 1 - pad] == '=')
		pad++;
	len -= (int)pad;
	if (len > 0 && d->k[i].ed25519) {
		ok = len == 32 && EVP_PKEY_get_raw_public_key(d->k[i].pkey, raw, &rn) == 1 &&
		     !memcmp(raw, der, 32);
	} else if (len > 0) {
		const unsigned char *q = der;
		EVP_PKEY *pk = d2i_PUBKEY(NULL, &q, len);
		if (!pk) {
			q = der;
			pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, len);
		}
		ok = pk && q == der + len && EVP_PKEY_eq(pk, d->k[i].pkey) == 1;
		EVP_PKEY_free(pk);
	}
	free(der);
	return ok;
}
