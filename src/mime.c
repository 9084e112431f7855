/* mime.c - quoted-printable, base64 and RFC 2047 header encoding for messages. */
#include "mime.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * The encoders run per subscriber, so each one reserves its worst case with
 * a single nl_buf_grow and then writes straight into the buffer.
 */

static const char hex_tab[] = "0123456789ABCDEF";
static const char b64_tab[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Quoted-printable byte classes. */
enum {
	QL, /* literal */
	QE, /* always =XX */
	QW, /* space or tab: =XX only before a line break or the end */
	QC, /* CR: a break if LF follows, else =0D */
	QN, /* LF: a hard break */
	QB, /* '.' and 'F': =XX at the start of a line (".", "From ") */
};

#define QE16 QE, QE, QE, QE, QE, QE, QE, QE, QE, QE, QE, QE, QE, QE, QE, QE
#define QL16 QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL

static const unsigned char qp_class[256] = {
	QE, QE, QE, QE, QE, QE, QE, QE, QE, QW, QN, QE, QE, QC, QE, QE,
	QE16,
	QW, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QB, QL,
	QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QE, QL, QL,
	QL, QL, QL, QL, QL, QL, QB, QL, QL, QL, QL, QL, QL, QL, QL, QL,
	QL16,
	QL16,
	QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QL, QE,
	QE16, QE16, QE16, QE16, QE16, QE16, QE16, QE16,
};

/* A hard line break ("\n" or "\r\n") starts at s. */
static inline bool qp_at_break(const unsigned char *s, const unsigned char *e)
{
	return s < e && (*s == '\n' || (*s == '\r' && s + 1 < e && s[1] == '\n'));
}

/* A '.' or 'F' at s would make a line start with "." or "From ". */
static inline bool qp_bol_special(const unsigned char *s, const unsigned char *e)
{
	return *s == '.' || ((size_t)(e - s) >= 5 && memcmp(s, "From ", 5) == 0);
}

static inline char *qp_put_soft(char *o)
{
	o[0] = '=';
	o[1] = '\r';
	o[2] = '\n';
	return o + 3;
}

/*
 * Writes the byte at s when it is not a plain literal within the line: it
 * may need =XX, and a soft break first. Returns the new end; updates *col.
 */
static char *qp_put_slow(char *o, size_t *col, const unsigned char *s,
			 const unsigned char *e, bool soft_end)
{
	unsigned c = *s, cls = qp_class[c];
	bool enc = cls == QE || cls == QC ||
		   (cls == QW && (s + 1 == e || qp_at_break(s + 1, e))) ||
		   (cls == QB && *col == 0 && qp_bol_special(s, e));
	size_t w = enc ? 3 : 1;

	/* Before a hard break the line may use column 76: no '=' follows. */
	if (*col + w > NL_MIME_BODY_LINE - 1 &&
	    (*col + w > NL_MIME_BODY_LINE ||
	     !(s + 1 == e ? !soft_end : qp_at_break(s + 1, e)))) {
		o = qp_put_soft(o);
		*col = 0;
		if (cls == QB && qp_bol_special(s, e)) {
			enc = true;
			w = 3;
		}
	}
	if (enc) {
		o[0] = '=';
		o[1] = hex_tab[c >> 4];
		o[2] = hex_tab[c & 15];
	} else {
		o[0] = (char)c;
	}
	*col += w;
	return o + w;
}

void nl_qp_encode(struct nl_buf *out, const char *p, size_t n, bool soft_end)
{
	const unsigned char *s = (const unsigned char *)p, *e = s + n;
	size_t col = 0;

	/* 3 per byte, plus a 3-byte soft break per >= 24 input bytes. */
	if (n > NL_BUF_MAX) {
		out->failed = true;
		return;
	}
	if (!nl_buf_grow(out, 3 * n + n / 8 + 8))
		return;
	char *o = out->data + out->len;
	for (; s < e; s++) {
		unsigned cls = qp_class[*s];
		if (cls == QL && col < NL_MIME_BODY_LINE - 1) { /* the common case */
			*o++ = (char)*s;
			col++;
		} else if (cls == QN || (cls == QC && s + 1 < e && s[1] == '\n')) {
			s += cls == QC;
			*o++ = '\r';
			*o++ = '\n';
			col = 0;
		} else {
			o = qp_put_slow(o, &col, s, e, soft_end);
		}
	}
	/* col is 0 only if the input was empty or ended with a break. */
	if (soft_end && col)
		o = qp_put_soft(o);
	out->len = (size_t)(o - out->data);
	*o = 0;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* After '=': optional blanks then CRLF, LF or the end make a soft break. */
static bool qp_soft_break(const unsigned char *s, const unsigned char *e, size_t *len)
{
	const unsigned char *t = s;

	while (t < e && (*t == ' ' || *t == '\t'))
		t++;
	if (t < e && *t == '\r' && t + 1 < e && t[1] == '\n')
		t += 2;
	else if (t < e && *t == '\n')
		t++;
	else if (t != e)
		return false;
	*len = (size_t)(t - s);
	return true;
}

enum nl_err nl_qp_decode(struct nl_buf *out, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p, *e = s + n;
	size_t k;

	if (!nl_buf_grow(out, n))
		return nl_buf_err(out);
	char *o = out->data + out->len, *ws = NULL; /* trailing literal blanks */
	while (s < e) {
		unsigned char c = *s++;
		if (c == ' ' || c == '\t') {
			ws = ws ? ws : o;
			*o++ = (char)c;
			continue;
		}
		if ((c == '\r' || c == '\n') && ws)
			o = ws; /* transport padding, not data */
		ws = NULL;
		if (c != '=') {
			*o++ = (char)c;
		} else if (qp_soft_break(s, e, &k)) {
			s += k;
		} else if (e - s >= 2 && hex_val(s[0]) >= 0 && hex_val(s[1]) >= 0) {
			*o++ = (char)(hex_val(s[0]) << 4 | hex_val(s[1]));
			s += 2;
		} else {
			out->data[out->len] = 0;
			return nl_errf(NL_EDATA, "quoted-printable: bad escape at offset %zu",
				       (size_t)(s - 1 - (const unsigned char *)p));
		}
	}
	if (ws)
		o = ws;
	out->len = (size_t)(o - out->data);
	*o = 0;
	return NL_OK;
}

/* Writes the padded base64 of n bytes at o; returns the new end. */
static char *b64_put(char *o, const unsigned char *s, size_t n)
{
	for (; n >= 3; n -= 3, s += 3, o += 4) {
		uint32_t v = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
		o[0] = b64_tab[v >> 18];
		o[1] = b64_tab[v >> 12 & 63];
		o[2] = b64_tab[v >> 6 & 63];
		o[3] = b64_tab[v & 63];
	}
	if (n) {
		uint32_t v = (uint32_t)s[0] << 16 | (n == 2 ? (uint32_t)s[1] << 8 : 0);
		o[0] = b64_tab[v >> 18];
		o[1] = b64_tab[v >> 12 & 63];
		o[2] = n == 2 ? b64_tab[v >> 6 & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	return o;
}

void nl_base64_encode(struct nl_buf *out, const void *p, size_t n)
{
	const unsigned char *s = p;
	enum { LINE_IN = NL_MIME_BODY_LINE / 4 * 3 }; /* 57 bytes make 76 chars */

	if (n > NL_BUF_MAX) {
		out->failed = true;
		return;
	}
	if (!n || !nl_buf_grow(out, (n + 2) / 3 * 4 + (n + LINE_IN - 1) / LINE_IN * 2))
		return;
	char *o = out->data + out->len;
	while (n) {
		size_t k = n < LINE_IN ? n : LINE_IN;
		o = b64_put(o, s, k);
		*o++ = '\r';
		*o++ = '\n';
		s += k;
		n -= k;
	}
	out->len = (size_t)(o - out->data);
	*o = 0;
}

/* ---- Header fields ---- */

/* Characters of one parameter section (RFC 2231 continuation). */
#define PARAM_CHUNK 60

/* "=?UTF-8?Q?" + "?=" around the encoded text, and the RFC 2047 limit. */
#define EW_OVERHEAD 12
#define EW_MAX 75

/* Writes a header straight into a buffer reserved by hdr_begin. */
struct hdr_w {
	char *o;     /* next byte */
	size_t col;  /* octets on the current line so far */
	size_t ntok; /* tokens written after "Name:" */
	size_t word_max; /* longest unencoded word that fits a 998-octet line */
	bool fold_first; /* may fold right after "Name:" (structured fields) */
};

/* Spaces and controls all separate words; they never reach the output. */
static inline bool hdr_sp(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

static const unsigned char *skip_sp(const unsigned char *s, const unsigned char *e)
{
	while (s < e && hdr_sp(*s))
		s++;
	return s;
}

static const unsigned char *word_end(const unsigned char *s, const unsigned char *e)
{
	while (s < e && !hdr_sp(*s))
		s++;
	return s;
}

static const unsigned char *trim_end(const unsigned char *s, const unsigned char *e)
{
	while (e > s && hdr_sp(e[-1]))
		e--;
	return e;
}

/*
 * Reserves extra octets past "Name:" and writes it. false (the buffer
 * marked failed) if that is too much.
 */
static bool hdr_begin(struct nl_buf *out, struct hdr_w *w, const char *name,
		      size_t vlen, size_t per_byte)
{
	size_t nlen = strlen(name);

	if (vlen > NL_BUF_MAX / per_byte || nlen > NL_BUF_MAX / 2) {
		out->failed = true;
		return false;
	}
	if (!nl_buf_grow(out, nlen + vlen * per_byte + 48))
		return false;
	w->o = out->data + out->len;
	memcpy(w->o, name, nlen);
	w->o += nlen;
	*w->o++ = ':';
	w->col = nlen + 1;
	w->ntok = 0;
	w->fold_first = false;
	/* The first line also holds "Name: " and maybe a quote and "<". */
	w->word_max = nlen + 8 < NL_MIME_HDR_MAX ? NL_MIME_HDR_MAX - nlen - 8 : 1;
	return true;
}

static void hdr_end(struct nl_buf *out, struct hdr_w *w)
{
	*w->o++ = '\r';
	*w->o++ = '\n';
	out->len = (size_t)(w->o - out->data);
	*w->o = 0;
}

/*
 * Before a token of len octets: a space, or a fold if the line would pass
 * 78. Right after "Name:" only in fields that allow it (fold_first): RFC
 * 5322 allows the fold, but some parsers (Python's email) then keep a
 * leading space in the value, which matters in a Subject and not in a list
 * of <URL>s or an address. A token too long for any line then has a line
 * to itself, the shortest it can have.
 */
static void hdr_sep(struct hdr_w *w, size_t len)
{
	bool may = w->ntok || w->fold_first;

	if (may && w->col + 1 + len > NL_MIME_HDR_FOLD) {
		*w->o++ = '\r';
		*w->o++ = '\n';
		w->col = 0;
	}
	*w->o++ = ' ';
	w->col += 1 + len;
	w->ntok++;
}

static void put_word(struct hdr_w *w, const unsigned char *s, size_t n)
{
	hdr_sep(w, n);
	memcpy(w->o, s, n);
	w->o += n;
}

/* Words that must be encoded: non-ASCII, or mistakable for an encoded word, or too long. */
static bool word_needs_ew(const unsigned char *s, const unsigned char *e, size_t max)
{
	if ((size_t)(e - s) > max)
		return true;
	for (; s < e; s++)
		if (*s >= 0x80 || (*s == '=' && s + 1 < e && s[1] == '?'))
			return true;
	return false;
}

/* Q-encoding safe in any header context, phrases included (RFC 2047 5(3)). */
static inline bool q_safe(unsigned char c)
{
	unsigned char l = c | 0x20;
	return (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || c == '!' ||
	       c == '*' || c == '+' || c == '-' || c == '/';
}

static inline size_t q_len(unsigned char c)
{
	return q_safe(c) || c == ' ' ? 1 : 3;
}

/*
 * The next character of an encoded run: a whole UTF-8 sequence (a stray
 * byte counts alone), or a run of spaces and controls read as one space.
 */
static size_t ew_char(const unsigned char *s, const unsigned char *e, bool *space)
{
	size_t n, i;

	*space = hdr_sp(*s);
	if (*space)
		return (size_t)(skip_sp(s, e) - s);
	n = *s < 0xc2 ? 1 : *s < 0xe0 ? 2 : *s < 0xf0 ? 3 : *s < 0xf5 ? 4 : 1;
	if ((size_t)(e - s) < n)
		return 1;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

/*
 * Q unless it is over half again as long as B: mostly-Latin text stays
 * readable in the raw message, CJK and emoji get the compact B.
 */
static bool ew_prefer_q(const unsigned char *s, const unsigned char *e)
{
	size_t raw = 0, q = 0, k, i;
	bool sp;

	for (; s < e; s += k) {
		k = ew_char(s, e, &sp);
		if (sp) {
			raw++;
			q++;
			continue;
		}
		for (i = 0; i < k; i++)
			q += q_len(s[i]);
		raw += k;
	}
	return 2 * q <= 3 * ((raw + 2) / 3 * 4);
}

/*
 * Copies into raw the longest run of whole characters from s whose encoded
 * word fits in room octets; returns the input octets it covers (0: none fit).
 */
static size_t ew_take(const unsigned char *s, const unsigned char *e, bool q,
		      size_t room, unsigned char raw[64], size_t *nraw)
{
	size_t used = 0, n = 0, qn = 0, k, add, addq, i;
	bool sp;

	while (s + used < e) {
		k = ew_char(s + used, e, &sp);
		add = sp ? 1 : k;
		addq = sp ? 1 : 0;
		for (i = 0; !sp && i < k; i++)
			addq += q_len(s[used + i]);
		size_t cost = q ? qn + addq : (n + add + 2) / 3 * 4;
		if (EW_OVERHEAD + cost > room || n + add > 64)
			break;
		if (sp)
			raw[n] = ' ';
		else
			memcpy(raw + n, s + used, k);
		n += add;
		qn += addq;
		used += k;
	}
	*nraw = n;
	return used;
}

static void put_ew(struct hdr_w *w, bool q, const unsigned char *raw, size_t n)
{
	size_t len = EW_OVERHEAD, i;

	for (i = 0; q && i < n; i++)
		len += q_len(raw[i]);
	if (!q)
		len += (n + 2) / 3 * 4;
	hdr_sep(w, len);
	memcpy(w->o, q ? "=?UTF-8?Q?" : "=?UTF-8?B?", 10);
	w->o += 10;
	if (!q) {
		w->o = b64_put(w->o, raw, n);
	} else {
		for (i = 0; i < n; i++) {
			unsigned char c = raw[i];
			if (q_safe(c)) {
				*w->o++ = (char)c;
			} else if (c == ' ') {
				*w->o++ = '_';
			} else {
				*w->o++ = '=';
				*w->o++ = hex_tab[c >> 4];
				*w->o++ = hex_tab[c & 15];
			}
		}
	}
	*w->o++ = '?';
	*w->o++ = '=';
}

/*
 * Encodes s..e (which starts and ends with a word) as encoded words, filling
 * the current line first. Spaces inside the run are encoded too, because
 * decoders drop the white space between adjacent encoded words.
 */
static void put_ew_run(struct hdr_w *w, const unsigned char *s, const unsigned char *e)
{
	bool q = ew_prefer_q(s, e);
	unsigned char raw[64];
	size_t nraw, used;

	while (s < e) {
		size_t room = w->col + 1 < NL_MIME_HDR_FOLD ? NL_MIME_HDR_FOLD - w->col - 1 : 0;
		used = ew_take(s, e, q, room < EW_MAX ? room : EW_MAX, raw, &nraw);
		/* Nothing fits: hdr_sep folds, and a fresh line fits any
		 * character (only a ~50-octet name leaves too little room on
		 * the first line of a Subject, where we never fold) */
		if (!used)
			used = ew_take(s, e, q, EW_MAX, raw, &nraw);
		put_ew(w, q, raw, nraw);
		s += used;
	}
}

/* Unstructured text: plain words as they are, runs of others encoded. */
static void put_text(struct hdr_w *w, const unsigned char *s, const unsigned char *e)
{
	s = skip_sp(s, e);
	while (s < e) {
		const unsigned char *we = word_end(s, e), *re, *t;
		if (!word_needs_ew(s, we, w->word_max)) {
			put_word(w, s, (size_t)(we - s));
			s = skip_sp(we, e);
			continue;
		}
		/* Join the following words that need encoding into one run. */
		re = we;
		t = skip_sp(we, e);
		while (t < e) {
			const unsigned char *te = word_end(t, e);
			if (!word_needs_ew(t, te, w->word_max))
				break;
			re = te;
			t = skip_sp(te, e);
		}
		put_ew_run(w, s, re);
		s = t;
	}
}

void nl_hdr_text(struct nl_buf *out, const char *name, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n = strlen(value);
	struct hdr_w w;

	/* Worst case: a 1-octet encoded word (12 + 4) and a fold (3) per byte. */
	if (!hdr_begin(out, &w, name, n, 20))
		return;
	put_text(&w, s, s + n);
	hdr_end(out, &w);
}

void nl_hdr_raw(struct nl_buf *out, const char *name, const char *value)
{
	const unsigned char *s = (const unsigned char *)value, *e = s + strlen(value);
	struct hdr_w w;

	if (!hdr_begin(out, &w, name, (size_t)(e - s), 4))
		return;
	w.fold_first = true; /* "List-Unsubscribe:" CRLF " <https://...>," */
	for (s = skip_sp(s, e); s < e; s = skip_sp(s, e)) {
		const unsigned char *we = word_end(s, e);
		hdr_sep(&w, (size_t)(we - s));
		for (; s < we; s++)
			*w.o++ = *s < 0x80 ? (char)*s : '?';
	}
	hdr_end(out, &w);
}

/* RFC 5322 specials that a display name can only carry inside quotes. */
static bool has_special(const unsigned char *s, const unsigned char *e)
{
	for (; s < e; s++)
		if (memchr("()<>[]:;@\\,.\"", *s, 14))
			return true;
	return false;
}

/* One word of a quoted-string; open and close add the quotes. */
static void put_quoted_word(struct hdr_w *w, const unsigned char *s,
			    const unsigned char *e, bool open, bool close)
{
	size_t len = (size_t)(e - s) + open + close;
	const unsigned char *t;

	for (t = s; t < e; t++)
		len += *t == '\\' || *t == '"';
	hdr_sep(w, len);
	if (open)
		*w->o++ = '"';
	for (; s < e; s++) {
		if (*s == '\\' || *s == '"')
			*w->o++ = '\\';
		*w->o++ = (char)*s;
	}
	if (close)
		*w->o++ = '"';
}

static void put_display(struct hdr_w *w, const unsigned char *s, const unsigned char *e)
{
	const unsigned char *t, *te;
	bool quote = has_special(s, e);

	/* Quoting may double a word's length. */
	for (t = s; t < e; t = skip_sp(te, e)) {
		te = word_end(t, e);
		if (word_needs_ew(t, te, w->word_max / 2)) {
			put_ew_run(w, s, e);
			return;
		}
	}
	for (t = s; t < e; t = skip_sp(te, e)) {
		te = word_end(t, e);
		if (quote)
			put_quoted_word(w, t, te, t == s, te == e);
		else
			put_word(w, t, (size_t)(te - t));
	}
}

void nl_hdr_addr(struct nl_buf *out, const char *name, const char *display,
		 const char *addr)
{
	const unsigned char *d = (const unsigned char *)(display ? display : "");
	const unsigned char *de = d + strlen((const char *)d);
	size_t alen = strlen(addr), dlen = (size_t)(de - d);
	struct hdr_w w;

	if (alen > NL_BUF_MAX / 2 ||
	    !hdr_begin(out, &w, name, dlen + alen, 20))
		return;
	w.fold_first = true; /* address parsers skip the blank; long names fold */
	d = skip_sp(d, de);
	de = trim_end(d, de);
	if (d < de)
		put_display(&w, d, de);
	hdr_sep(&w, alen + 2 * (d < de));
	if (d < de)
		*w.o++ = '<';
	for (size_t i = 0; i < alen; i++)
		*w.o++ = hdr_sp((unsigned char)addr[i]) ? ' ' : addr[i];
	if (d < de)
		*w.o++ = '>';
	hdr_end(out, &w);
}

/* RFC 2231 attribute-char: what an extended value may hold unescaped. */
static bool attr_char(unsigned char c)
{
	unsigned char l = c | 0x20;
	return (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$&+-.^_`|~", c));
}

/* Printable ASCII a quoted-string holds as is, short enough not to need splitting. */
static bool quotable(const char *v)
{
	size_t n = 0;

	for (; *v; v++, n++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v >= 0x7f || *v == '"' || *v == '\\')
			return false;
	return n <= PARAM_CHUNK;
}

void nl_mime_param(struct nl_buf *out, const char *name, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t enc = 0, col = PARAM_CHUNK; /* the first character opens a section */
	int sec = 0;

	if (quotable(value)) {
		nl_buf_addf(out, "; %s=\"%s\"", name, value);
		return;
	}
	for (size_t i = 0; s[i]; i++)
		enc += attr_char(s[i]) ? 1 : 3;
	/* name*0*=UTF-8''%E6%97%A5...; name*1*=...: sections of at most
	 * PARAM_CHUNK characters, an escape never cut, so that a header
	 * folded at the "; " keeps every line short. */
	for (; *s; s++) {
		size_t k = attr_char(*s) ? 1 : 3;
		if (col + k > PARAM_CHUNK) {
			if (enc > PARAM_CHUNK)
				nl_buf_addf(out, "; %s*%d*=%s", name, sec, sec ? "" : "UTF-8''");
			else
				nl_buf_addf(out, "; %s*=UTF-8''", name);
			sec++;
			col = 0;
		}
		if (k == 1) {
			nl_buf_addc(out, (char)*s);
		} else {
			char esc[3] = {'%', hex_tab[*s >> 4], hex_tab[*s & 15]};
			nl_buf_add(out, esc, 3);
		}
		col += k;
	}
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

void nl_mime_boundary(char out[48], const void *seed, size_t n)
{
	const unsigned char *s = seed;
	uint64_t h[2] = {0xcbf29ce484222325ULL, 0x9e3779b97f4a7c15ULL ^ n};
	size_t i;
	char *o = out;

	/* FNV-1a and a second, differently seeded pass: cheap, repeatable. */
	for (i = 0; i < n; i++) {
		h[0] = (h[0] ^ s[i]) * 0x100000001b3ULL;
		h[1] = (h[1] + s[i]) * 0xff51afd7ed558ccdULL;
	}
	memcpy(o, "=_nl_", 5);
	o += 5;
	for (i = 0; i < 2; i++) {
		uint64_t v = mix64(h[i] + i);
		for (int sh = 60; sh >= 0; sh -= 4)
			*o++ = hex_tab[v >> sh & 15];
	}
	*o = 0;
}

bool nl_mime_lines_ok(const char *msg, size_t n, size_t max, size_t *bad_line)
{
	const unsigned char *s = (const unsigned char *)msg;
	size_t line = 1, start = 0, i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n') {
			if (i - start > max)
				break;
			line++;
			start = ++i + 1;
		} else if (c == '\r' || c == '\n' || c == 0 || c >= 0x80) {
			break;
		}
	}
	if (i >= n && start == n)
		return true;
	if (bad_line)
		*bad_line = line;
	return false;
}
