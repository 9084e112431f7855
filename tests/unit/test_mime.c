/* test_mime.c - unit tests for quoted-printable, base64 and header encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mime.h"
#include "t.h"

/* One scratch buffer per helper; each result is valid until the next call. */
static struct nl_buf enc_buf = NL_BUF_INIT;
static struct nl_buf dec_buf = NL_BUF_INIT;
static struct nl_buf tmp_buf = NL_BUF_INIT;

static const char *qp(const char *s, bool soft_end)
{
	nl_buf_reset(&enc_buf);
	nl_qp_encode(&enc_buf, s, strlen(s), soft_end);
	return enc_buf.data;
}

static const char *b64(const char *s, size_t n)
{
	nl_buf_reset(&enc_buf);
	nl_base64_encode(&enc_buf, s, n);
	return enc_buf.data;
}

static const char *hdr_text(const char *name, const char *v)
{
	nl_buf_reset(&enc_buf);
	nl_hdr_text(&enc_buf, name, v);
	return enc_buf.data;
}

static const char *hdr_raw(const char *name, const char *v)
{
	nl_buf_reset(&enc_buf);
	nl_hdr_raw(&enc_buf, name, v);
	return enc_buf.data;
}

static const char *hdr_addr(const char *name, const char *d, const char *a)
{
	nl_buf_reset(&enc_buf);
	nl_hdr_addr(&enc_buf, name, d, a);
	return enc_buf.data;
}

static char *rep(char *dst, char c, size_t n)
{
	memset(dst, c, n);
	dst[n] = 0;
	return dst;
}

/* Deterministic pseudo-random numbers (xorshift32). */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* ---------------------------------------------------------------- QP */

static void test_qp_small(void)
{
	T_STREQ(qp("hello", false), "hello");
	T_STREQ(qp("hello", true), "hello=\r\n");
	T_STREQ(qp("", true), "");
	T_STREQ(qp("", false), "");
	T_STREQ(qp("\n", true), "\r\n");
	T_STREQ(qp("a b", false), "a b");
	T_STREQ(qp("x=y", false), "x=3Dy");
	T_STREQ(qp("caf\xc3\xa9", false), "caf=C3=A9");
	T_STREQ(qp("del\x7f nul\x01", false), "del=7F nul=01");
	T_STREQ(qp("tab\there", false), "tab\there");
	/* trailing white space before a break or at the end */
	T_STREQ(qp("a \nb", false), "a=20\r\nb");
	T_STREQ(qp("a  \nb", false), "a =20\r\nb");
	T_STREQ(qp("a\t\r\nb", false), "a=09\r\nb");
	T_STREQ(qp("a ", false), "a=20");
	T_STREQ(qp("a ", true), "a=20=\r\n");
	T_STREQ(qp("a \rb", false), "a =0Db");
	/* line breaks */
	T_STREQ(qp("a\r\nb\nc", false), "a\r\nb\r\nc");
	T_STREQ(qp("a\nb\n", true), "a\r\nb\r\n");
	T_STREQ(qp("a\nb\n", false), "a\r\nb\r\n");
	T_STREQ(qp("a\rb", false), "a=0Db");
	T_STREQ(qp("a\r", false), "a=0D");
	T_STREQ(qp("\n\n", false), "\r\n\r\n");
	/* "." and "From " at the start of a line */
	T_STREQ(qp(".", false), "=2E");
	T_STREQ(qp(".\n.a\na.b", false), "=2E\r\n=2Ea\r\na.b");
	T_STREQ(qp("From me\nFrom\nFromage\nx From y", false),
		"=46rom me\r\nFrom\r\nFromage\r\nx From y");
	T_STREQ(qp("From ", false), "=46rom=20");
	T_STREQ(qp("from me", false), "from me");
}

static void test_qp_lengths(void)
{
	char in[300], want[300], a[100];

	/* 75 and 76 characters fit before a hard break or the end... */
	snprintf(in, sizeof in, "%s\n", rep(a, 'A', 76));
	snprintf(want, sizeof want, "%s\r\n", a);
	T_STREQ(qp(in, false), want);
	T_STREQ(qp(rep(a, 'A', 76), false), a);
	snprintf(in, sizeof in, "%s\n", rep(a, 'A', 75));
	snprintf(want, sizeof want, "%s\r\n", a);
	T_STREQ(qp(in, true), want);
	/* ...but a soft break needs the 76th for its '=' */
	snprintf(want, sizeof want, "%s=\r\n", rep(a, 'A', 75));
	T_STREQ(qp(a, true), want);
	snprintf(in, sizeof in, "%sA", a);
	snprintf(want, sizeof want, "%s=\r\nA=\r\n", a);
	T_STREQ(qp(in, true), want);
	T_STREQ(qp(in, false), in);
	/* 77 characters */
	snprintf(in, sizeof in, "%sAA\n", a);
	snprintf(want, sizeof want, "%s=\r\nAA\r\n", a);
	T_STREQ(qp(in, false), want);
	/* an =XX escape is never split */
	snprintf(in, sizeof in, "%s=\n", rep(a, 'A', 73));
	snprintf(want, sizeof want, "%s=3D\r\n", a);
	T_STREQ(qp(in, false), want);
	snprintf(in, sizeof in, "%s=\n", rep(a, 'A', 74));
	snprintf(want, sizeof want, "%s=\r\n=3D\r\n", a);
	T_STREQ(qp(in, false), want);
	snprintf(in, sizeof in, "%s=B", rep(a, 'A', 73));
	snprintf(want, sizeof want, "%s=\r\n=3DB", a);
	T_STREQ(qp(in, false), want);
	/* a soft break can put "." or "From " at a line start */
	snprintf(in, sizeof in, "%s.x", rep(a, 'A', 75));
	snprintf(want, sizeof want, "%s=\r\n=2Ex", a);
	T_STREQ(qp(in, false), want);
	snprintf(in, sizeof in, "%sFrom x", a);
	snprintf(want, sizeof want, "%s=\r\n=46rom x", a);
	T_STREQ(qp(in, false), want);
	/* a space just before a soft break stays literal (the '=' follows) */
	snprintf(in, sizeof in, "%s BC", rep(a, 'A', 74));
	snprintf(want, sizeof want, "%s =\r\nBC", a);
	T_STREQ(qp(in, false), want);
}

static void test_qp_decode(void)
{
	const char *in = "a=3Db =\r\nc=\nd=3d\r\ne  \r\nf=20\r\n";

	nl_buf_reset(&dec_buf);
	T_CHECK(nl_qp_decode(&dec_buf, in, strlen(in)) == NL_OK);
	T_STREQ(dec_buf.data, "a=b cd=\r\ne\r\nf \r\n");
	nl_buf_reset(&dec_buf);
	T_CHECK(nl_qp_decode(&dec_buf, "x=ZZ", 4) == NL_EDATA);
	nl_buf_reset(&dec_buf);
	T_CHECK(nl_qp_decode(&dec_buf, "x=4", 3) == NL_EDATA);
	nl_buf_reset(&dec_buf);
	T_CHECK(nl_qp_decode(&dec_buf, "x=", 2) == NL_OK);
	T_STREQ(dec_buf.data, "x");
}

/* Bytes that exercise every class: text, breaks, escapes, UTF-8, binary. */
static size_t random_text(char *p, size_t n)
{
	static const char *pieces[] = {"a", "Z", " ", "\t", "\n", "\r\n", "\r", ".",
				       "From ", "=", "\xc3\xa9", "\xe6\x97\xa5",
				       "\xf0\x9f\x98\x80", "  ", "x", "\x00", "\xff"};
	size_t len = 0;

	while (len < n) {
		uint32_t r = rnd();
		const char *s = pieces[r % NL_ARRAY_LEN(pieces)];
		size_t k = *s ? strlen(s) : 1;
		char any = (char)(r >> 8);
		if (r >> 24 < 16) { /* sometimes any byte */
			s = &any;
			k = 1;
		}
		if (len + k > n)
			k = n - len;
		memcpy(p + len, s, k);
		len += k;
	}
	return len;
}

/* What decoding gives back: every "\n" not after "\r" becomes "\r\n". */
static void crlf_norm(struct nl_buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			nl_buf_addc(b, '\r');
		nl_buf_addc(b, p[i]);
	}
}

/* No line starts with "." or "From " or ends in a blank. */
static bool qp_lines_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool bol = i == 0 || s[i - 1] == '\n';
		if (bol && (s[i] == '.' || (n - i >= 5 && !memcmp(s + i, "From ", 5))))
			return false;
		if ((s[i] == ' ' || s[i] == '\t') && (i + 1 == n || s[i + 1] == '\r'))
			return false;
	}
	return true;
}

static bool qp_check_one(const char *in, size_t n, bool soft)
{
	static int shown;
	size_t bad = 0;
	bool ok = true;

	nl_buf_reset(&enc_buf);
	nl_qp_encode(&enc_buf, in, n, soft);
	ok &= qp_lines_clean(enc_buf.data, enc_buf.len);
	nl_buf_reset(&tmp_buf);
	nl_buf_add(&tmp_buf, enc_buf.data, enc_buf.len);
	if (tmp_buf.len && (tmp_buf.len < 2 || memcmp(tmp_buf.data + tmp_buf.len - 2, "\r\n", 2)))
		nl_buf_adds(&tmp_buf, "\r\n");
	ok &= nl_mime_lines_ok(tmp_buf.data, tmp_buf.len, 76, &bad);
	nl_buf_reset(&dec_buf);
	ok &= nl_qp_decode(&dec_buf, enc_buf.data, enc_buf.len) == NL_OK;
	nl_buf_reset(&tmp_buf);
	crlf_norm(&tmp_buf, in, n);
	ok &= dec_buf.len == tmp_buf.len && !memcmp(dec_buf.data, tmp_buf.data, tmp_buf.len);
	if (!ok && shown++ < 2)
		printf("  QP round trip failed: %zu bytes, soft_end %d, line %zu\n  [%s]\n",
		       n, soft, bad, enc_buf.data);
	return ok;
}

static void test_qp_roundtrip(void)
{
	char in[700];
	int failures = 0;

	for (size_t n = 0; n < 700; n += 1 + n / 50) {
		for (int rep_i = 0; rep_i < 6; rep_i++) {
			size_t len = random_text(in, n);
			failures += !qp_check_one(in, len, false);
			failures += !qp_check_one(in, len, true);
		}
	}
	T_CHECK(failures == 0);
}

/* Segments encoded with soft_end splice into one valid body. */
static void test_qp_splice(void)
{
	const char *seg[] = {"Hello ", "Jane \xc3\xa9", ",\nyour link: ", "https://x.test/u?t=abc",
			     "\n.\nFrom here", ""};
	struct nl_buf all = NL_BUF_INIT, want = NL_BUF_INIT;

	for (size_t i = 0; i < NL_ARRAY_LEN(seg); i++) {
		nl_qp_encode(&all, seg[i], strlen(seg[i]), true);
		crlf_norm(&want, seg[i], strlen(seg[i]));
	}
	nl_buf_adds(&all, "\r\n");
	T_CHECK(nl_mime_lines_ok(all.data, all.len, 76, NULL));
	T_CHECK(qp_lines_clean(all.data, all.len));
	nl_buf_reset(&dec_buf);
	T_CHECK(nl_qp_decode(&dec_buf, all.data, all.len) == NL_OK);
	nl_buf_adds(&want, "\r\n");
	T_STREQ(dec_buf.data, want.data);
	nl_buf_free(&all);
	nl_buf_free(&want);
}

/* ------------------------------------------------------------ base64 */

static int b64_val(char c)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(t, c) : NULL;
	return p ? (int)(p - t) : -1;
}

/* Decodes base64 text, skipping CRLF; false on anything malformed. */
static bool b64_decode(struct nl_buf *out, const char *s, size_t n)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		int v = b64_val(s[i]);
		if (v < 0 || pad)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			nl_buf_addc(out, (char)(acc >> bits & 0xff));
		}
	}
	return pad <= 2;
}

static void test_base64(void)
{
	char in[400];

	T_STREQ(b64("", 0), "");
	T_STREQ(b64("f", 1), "Zg==\r\n");
	T_STREQ(b64("fo", 2), "Zm8=\r\n");
	T_STREQ(b64("foo", 3), "Zm9v\r\n");
	T_STREQ(b64("foob", 4), "Zm9vYg==\r\n");
	T_STREQ(b64("fooba", 5), "Zm9vYmE=\r\n");
	T_STREQ(b64("foobar", 6), "Zm9vYmFy\r\n");
	T_STREQ(b64("\x00\xff\xfe", 3), "AP/+\r\n");
	memset(in, 'a', 58);
	T_CHECK(strlen(b64(in, 57)) == 78 && strstr(enc_buf.data, "\r\n") == enc_buf.data + 76);
	b64(in, 58);
	T_CHECK(enc_buf.len == 78 + 6 && !strcmp(enc_buf.data + 78, "YQ==\r\n"));
	int failures = 0;
	for (size_t n = 0; n < 400; n++) {
		for (size_t i = 0; i < n; i++)
			in[i] = (char)rnd();
		b64(in, n);
		failures += !nl_mime_lines_ok(enc_buf.data, enc_buf.len, 76, NULL);
		failures += n && enc_buf.len != (n + 2) / 3 * 4 + (n + 56) / 57 * 2;
		nl_buf_reset(&dec_buf);
		failures += !b64_decode(&dec_buf, enc_buf.data, enc_buf.len);
		failures += dec_buf.len != n || memcmp(dec_buf.data, in, n);
	}
	T_CHECK(failures == 0);
}

/* ----------------------------------------------------------- headers */

/* Decodes one "=?UTF-8?Q|B?...?=" word into out; false if it is not one. */
static bool ew_decode(struct nl_buf *out, const char *s, size_t n)
{
	if (n < 12 || strncmp(s, "=?UTF-8?", 8) || s[9] != '?' || strncmp(s + n - 2, "?=", 2))
		return false;
	const char *p = s + 10, *e = s + n - 2;
	if (s[8] == 'B')
		return b64_decode(out, p, (size_t)(e - p));
	if (s[8] != 'Q')
		return false;
	for (; p < e; p++) {
		if (*p == '_') {
			nl_buf_addc(out, ' ');
		} else if (*p == '=' && e - p >= 3) {
			char h[3] = {p[1], p[2], 0};
			nl_buf_addc(out, (char)strtol(h, NULL, 16));
			p += 2;
		} else if (*p == '=' || *p == '?' || *p == ' ') {
			return false;
		} else {
			nl_buf_addc(out, *p);
		}
	}
	return true;
}

/* Whole, well-formed UTF-8 characters only (an encoded word split none). */
static bool utf8_whole(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80 ? 1 : s[i] >= 0xc2 && s[i] < 0xe0 ? 2
			 : s[i] >= 0xe0 && s[i] < 0xf0 ? 3 : s[i] >= 0xf0 && s[i] < 0xf5 ? 4 : 0;
		if (!k || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k;
	}
	return true;
}

/* Longest line (without CRLF) of a header. */
static size_t max_line(const char *s)
{
	size_t m = 0;
	for (const char *e; (e = strstr(s, "\r\n")); s = e + 2)
		m = (size_t)(e - s) > m ? (size_t)(e - s) : m;
	return m;
}

/*
 * Lines of at most 78, except that one plain (not encoded) word too long
 * for that may have a line to itself (after "Name:" on the first line);
 * and never over 998.
 */
static bool fold_ok(const char *s)
{
	bool first = true;

	for (const char *e; (e = strstr(s, "\r\n")); s = e + 2, first = false) {
		const char *w = s;
		size_t len = (size_t)(e - s);
		if (len > 998)
			return false;
		if (len <= 78)
			continue;
		if (first && (w = memchr(s, ':', len)))
			w++;
		while (w < e && *w == ' ')
			w++;
		if (memchr(w, ' ', (size_t)(e - w)) || (e - w >= 2 && !strncmp(w, "=?", 2)))
			return false;
	}
	return true;
}

/*
 * Decodes a header the way RFC 2047 readers do: unfold, drop the name,
 * join words with one space except between two encoded words. Checks each
 * encoded word's length and that it holds whole UTF-8 characters.
 */
static bool hdr_decode(struct nl_buf *out, const char *h)
{
	struct nl_buf un = NL_BUF_INIT;
	bool ok = true, prev_ew = false, first = true;
	const char *p = strchr(h, ':');
	size_t hl = strlen(h);

	ok &= p && hl >= 2 && !strcmp(h + hl - 2, "\r\n");
	/* Unfold: drop each CRLF that a blank follows; any other break is bad. */
	for (p = p ? p + 1 : h; p < h + hl - 2; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
			p++;
			continue;
		}
		ok &= *p != '\r' && *p != '\n';
		nl_buf_addc(&un, *p);
	}
	for (p = un.data; ok && *p;) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if (w == p)
			break;
		size_t before;
		bool ew = (size_t)(p - w) >= 12 && !strncmp(w, "=?", 2) && !strncmp(p - 2, "?=", 2);
		if (!first && !(ew && prev_ew))
			nl_buf_addc(out, ' ');
		before = out->len;
		if (ew) {
			ok &= (size_t)(p - w) <= 75 && ew_decode(out, w, (size_t)(p - w));
			ok &= utf8_whole((const unsigned char *)out->data + before, out->len - before);
		} else {
			nl_buf_add(out, w, (size_t)(p - w));
		}
		prev_ew = ew;
		first = false;
	}
	nl_buf_free(&un);
	return ok;
}

static void test_hdr_text_ascii(void)
{
	char word[1300], v[1400];

	T_STREQ(hdr_text("Subject", "Hello world"), "Subject: Hello world\r\n");
	T_STREQ(hdr_text("Subject", "  a \t\t b  "), "Subject: a b\r\n");
	T_STREQ(hdr_text("Subject", ""), "Subject:\r\n");
	T_STREQ(hdr_text("Subject", "Hi\r\nBcc: x@y"), "Subject: Hi Bcc: x@y\r\n");
	T_STREQ(hdr_text("Subject", "Hi\nBcc: x@y\r\n\r\nbody"), "Subject: Hi Bcc: x@y body\r\n");
	T_STREQ(hdr_text("Subject", "a\x01\x7f" "b"), "Subject: a b\r\n");
	/* folding at spaces, lines of at most 78 */
	T_STREQ(hdr_text("Subject", "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee "
				    "ffffffffff gggggggggg hhhhhhhhhh"),
		"Subject: aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff\r\n"
		" gggggggggg hhhhhhhhhh\r\n");
	/* a long word stays whole on its own line */
	snprintf(v, sizeof v, "short %s end", rep(word, 'w', 100));
	char want[1400];
	snprintf(want, sizeof want, "Subject: short\r\n %s\r\n end\r\n", word);
	T_STREQ(hdr_text("Subject", v), want);
	/* looks like an encoded word: encoded, so readers show it literally */
	hdr_text("Subject", "price =?utf-8?q?x?= now");
	T_CHECK(strstr(enc_buf.data, "=?utf-8?q?x?=") == NULL);
	nl_buf_reset(&dec_buf);
	T_CHECK(hdr_decode(&dec_buf, enc_buf.data));
	T_STREQ(dec_buf.data, "price =?utf-8?q?x?= now");
	/* longer than a line may ever be: encoded in pieces, never over 998 */
	snprintf(v, sizeof v, "x %s y", rep(word, 'z', 1200));
	hdr_text("Subject", v);
	T_CHECK(max_line(enc_buf.data) <= 78);
	nl_buf_reset(&dec_buf);
	T_CHECK(hdr_decode(&dec_buf, enc_buf.data));
	T_STREQ(dec_buf.data, v);
}

static void test_hdr_text_utf8(void)
{
	T_STREQ(hdr_text("Subject", "Caf\xc3\xa9"), "Subject: =?UTF-8?Q?Caf=C3=A9?=\r\n");
	T_STREQ(hdr_text("Subject", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"),
		"Subject: =?UTF-8?B?5pel5pys6Kqe?=\r\n");
	T_STREQ(hdr_text("Subject", "Hello \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e world"),
		"Subject: Hello =?UTF-8?B?5pel5pys6Kqe?= world\r\n");
	/* adjacent encoded words: the space between them is encoded */
	T_STREQ(hdr_text("Subject", "caf\xc3\xa9 cr\xc3\xa8me"),
		"Subject: =?UTF-8?Q?caf=C3=A9_cr=C3=A8me?=\r\n");
	/* injection through a non-ASCII value */
	hdr_text("Subject", "\xc3\xa9t\xc3\xa9\r\nBcc: x@y");
	T_CHECK(strstr(enc_buf.data, "\r\n") == enc_buf.data + enc_buf.len - 2);
}

/* Checks one value: limits, 7-bit, exact round trip. */
static bool text_roundtrip(const char *name, const char *v)
{
	static int shown;
	bool ok = true;

	hdr_text(name, v);
	ok &= fold_ok(enc_buf.data);
	ok &= nl_mime_lines_ok(enc_buf.data, enc_buf.len, 998, NULL);
	nl_buf_reset(&dec_buf);
	ok &= hdr_decode(&dec_buf, enc_buf.data);
	ok &= !strcmp(dec_buf.data, v);
	if (!ok && shown++ < 3)
		printf("  value [%s]\n  header [%s]\n  decoded [%s]\n", v, enc_buf.data, dec_buf.data);
	return ok;
}

static void test_hdr_text_splits(void)
{
	static const char *chars[] = {"\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "a", "=", "_", "?"};
	static const char *seps[] = {"", " ", "x"};
	int failures = 0;
	char v[2000];

	/* Shift the multibyte characters through every position of a word. */
	for (size_t c = 0; c < NL_ARRAY_LEN(chars); c++) {
		for (size_t s = 0; s < NL_ARRAY_LEN(seps); s++) {
			for (size_t k = 0; k < 90; k++) {
				size_t len = 0;
				memset(v, 'p', k);
				len = k;
				for (int i = 0; i < 60 && len + 10 < sizeof v; i++) {
					len += (size_t)snprintf(v + len, sizeof v - len, "%s%s", chars[c],
								i % 3 == 2 ? seps[s] : "");
				}
				while (len && v[len - 1] == ' ')
					len--;
				v[len] = 0;
				failures += !text_roundtrip("Subject", v);
			}
		}
	}
	T_CHECK(failures == 0);
	/* mixed text, short and long names */
	T_CHECK(text_roundtrip("Subject", "Re: Caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 "
					  "news for the week of the 29th, part two of three"));
	T_CHECK(text_roundtrip("X-A-Rather-Long-Header-Name-For-Testing-Folds",
			       "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80 caf\xc3\xa9"));
}

static void test_hdr_raw(void)
{
	char url[1200], v[1300], want[1400];

	T_STREQ(hdr_raw("Message-ID", "<abc.123@example.test>"),
		"Message-ID: <abc.123@example.test>\r\n");
	T_STREQ(hdr_raw("X-Test", "a\r\nBcc: b@c.d"), "X-Test: a Bcc: b@c.d\r\n");
	T_STREQ(hdr_raw("X-Test", "caf\xc3\xa9"), "X-Test: caf??\r\n");
	T_STREQ(hdr_raw("List-Unsubscribe",
			"<https://news.example.test/unsubscribe?token=0123456789abcdef0123>, "
			"<mailto:unsubscribe@news.example.test?subject=unsubscribe>"),
		"List-Unsubscribe:\r\n"
		" <https://news.example.test/unsubscribe?token=0123456789abcdef0123>,\r\n"
		" <mailto:unsubscribe@news.example.test?subject=unsubscribe>\r\n");
	/* short enough: no fold after the colon */
	T_STREQ(hdr_raw("List-Unsubscribe", "<https://n.example/u/0123>, <mailto:u@n.example>"),
		"List-Unsubscribe: <https://n.example/u/0123>, <mailto:u@n.example>\r\n");
	/* a long Message-ID domain folds after the colon: no line over 78 */
	T_STREQ(hdr_raw("Message-ID", "<0123456789abcdef0123456789abcdef0123@a-rather-long-mail-domain.example>"),
		"Message-ID:\r\n <0123456789abcdef0123456789abcdef0123@a-rather-long-mail-domain.example>\r\n");
	/* a URL longer than 998 is the caller's problem, but never truncated;
	 * it gets a line of its own */
	snprintf(v, sizeof v, "<https://x.test/%s>", rep(url, 'u', 1100));
	snprintf(want, sizeof want, "List-Unsubscribe:\r\n %s\r\n", v);
	T_STREQ(hdr_raw("List-Unsubscribe", v), want);
}

static void test_hdr_addr(void)
{
	T_STREQ(hdr_addr("To", "", "a@b.c"), "To: a@b.c\r\n");
	T_STREQ(hdr_addr("To", NULL, "a@b.c"), "To: a@b.c\r\n");
	T_STREQ(hdr_addr("To", " \t", "a@b.c"), "To: a@b.c\r\n");
	T_STREQ(hdr_addr("From", "Jane Writer", "jane@example.test"),
		"From: Jane Writer <jane@example.test>\r\n");
	T_STREQ(hdr_addr("From", "Doe, Jane", "jane@example.test"),
		"From: \"Doe, Jane\" <jane@example.test>\r\n");
	T_STREQ(hdr_addr("From", "Jane Q. Doe", "j@example.test"),
		"From: \"Jane Q. Doe\" <j@example.test>\r\n");
	T_STREQ(hdr_addr("From", "Say \"hi\" \\ bye", "a@b.c"),
		"From: \"Say \\\"hi\\\" \\\\ bye\" <a@b.c>\r\n");
	T_STREQ(hdr_addr("From", "Jan\xc3\xa9", "a@b.c"), "From: =?UTF-8?Q?Jan=C3=A9?= <a@b.c>\r\n");
	T_STREQ(hdr_addr("From", "Doe, Jan\xc3\xa9", "a@b.c"),
		"From: =?UTF-8?Q?Doe=2C_Jan=C3=A9?= <a@b.c>\r\n");
	T_STREQ(hdr_addr("From", "=?utf-8?q?x?=", "a@b.c"), "From: =?UTF-8?Q?=3D=3Futf-8=3Fq=3Fx=3F=3D?= <a@b.c>\r\n");
	/* injection in the display name and in the address */
	T_STREQ(hdr_addr("To", "Hi\r\nBcc: x@y", "a@b.c"), "To: \"Hi Bcc: x@y\" <a@b.c>\r\n");
	T_STREQ(hdr_addr("To", "J\xc3\xa9\r\nBcc: x@y", "a@b.c"),
		"To: =?UTF-8?Q?J=C3=A9_Bcc=3A_x=40y?= <a@b.c>\r\n");
	T_STREQ(hdr_addr("To", "", "a@b.c\r\nBcc: x@y"), "To: a@b.c  Bcc: x@y\r\n");
	T_STREQ(hdr_addr("To", "Jane", "a@b.c\nBcc: x@y"), "To: Jane <a@b.c Bcc: x@y>\r\n");
}

static void test_hdr_addr_long(void)
{
	char d[400];
	size_t len = 0;

	/* a long ASCII name with specials: a folded quoted-string */
	for (int i = 0; i < 12; i++)
		len += (size_t)snprintf(d + len, sizeof d - len, "%sWriter%d, Esq.", i ? " " : "", i);
	hdr_addr("From", d, "jane@example.test");
	T_CHECK(max_line(enc_buf.data) <= 78);
	T_CHECK(nl_mime_lines_ok(enc_buf.data, enc_buf.len, 78, NULL));
	T_CHECK(strncmp(enc_buf.data, "From: \"Writer0, Esq. Writer1", 28) == 0);
	T_CHECK(strstr(enc_buf.data, "Esq.\" <jane@example.test>\r\n") != NULL);
	/* a long non-ASCII name: encoded words, each whole characters */
	len = 0;
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(d + len, sizeof d - len, "\xe6\x97\xa5%s", i % 7 ? "" : " ");
	hdr_addr("To", d, "a@b.c");
	T_CHECK(max_line(enc_buf.data) <= 78);
	T_CHECK(nl_mime_lines_ok(enc_buf.data, enc_buf.len, 78, NULL));
	nl_buf_reset(&dec_buf);
	T_CHECK(hdr_decode(&dec_buf, enc_buf.data));
	nl_buf_reset(&tmp_buf);
	nl_buf_adds(&tmp_buf, d + 0);
	while (tmp_buf.len && tmp_buf.data[tmp_buf.len - 1] == ' ')
		nl_buf_truncate(&tmp_buf, tmp_buf.len - 1);
	nl_buf_adds(&tmp_buf, " <a@b.c>");
	T_STREQ(dec_buf.data, tmp_buf.data);
	/* a word too long for one line once quoted and escaped: encoded */
	static char big[1300];
	memset(big, '"', 600);
	memcpy(big + 600, " x", 3);
	hdr_addr("From", big, "a@b.c");
	T_CHECK(nl_mime_lines_ok(enc_buf.data, enc_buf.len, 78, NULL));
	nl_buf_reset(&dec_buf);
	T_CHECK(hdr_decode(&dec_buf, enc_buf.data));
	T_CHECK(dec_buf.len == 610 && !strcmp(dec_buf.data + 600, " x <a@b.c>"));
}

/* Every header writer keeps injected lines out. */
static void test_injection(void)
{
	static const char *evil[] = {"Hi\r\nBcc: x@y", "Hi\nBcc: x@y", "Hi\rBcc: x@y",
				     "\r\nBcc: x@y", "Hi\r\n Bcc: x@y", "\xc3\xa9\r\nBcc: x@y"};
	int failures = 0;

	for (size_t i = 0; i < NL_ARRAY_LEN(evil); i++) {
		char *copy[3];
		copy[0] = strdup(hdr_text("Subject", evil[i]));
		copy[1] = strdup(hdr_addr("To", evil[i], "a@b.c"));
		copy[2] = strdup(hdr_raw("X-Raw", evil[i]));
		for (int k = 0; k < 3; k++) {
			const char *crlf = strstr(copy[k], "\r\n");
			failures += !crlf || crlf[2] != 0;
			failures += strstr(copy[k], "\nBcc:") != NULL || strchr(copy[k], '\r') != crlf;
			free(copy[k]);
		}
	}
	T_CHECK(failures == 0);
}

/* ------------------------------------------------------------ others */

static void test_date_boundary(void)
{
	char b1[48], b2[48], b3[48];

	nl_mime_boundary(b1, "post-1", 6);
	nl_mime_boundary(b2, "post-1", 6);
	nl_mime_boundary(b3, "post-2", 6);
	T_STREQ(b1, b2);
	T_CHECK(strcmp(b1, b3) != 0);
	T_CHECK(strncmp(b1, "=_nl_", 5) == 0 && strlen(b1) == 37);
	T_CHECK(strspn(b1 + 5, "0123456789ABCDEF") == 32);
	nl_mime_boundary(b3, "", 0);
	T_CHECK(strlen(b3) == 37 && strcmp(b1, b3) != 0);
}

static void test_lines_ok(void)
{
	size_t bad = 0;

	T_CHECK(nl_mime_lines_ok("", 0, 76, &bad));
	T_CHECK(nl_mime_lines_ok("a\r\nb\r\n", 6, 76, &bad));
	T_CHECK(!nl_mime_lines_ok("a\nb\r\n", 5, 76, &bad) && bad == 1);
	T_CHECK(!nl_mime_lines_ok("a\r\nb", 4, 76, &bad) && bad == 2);
	T_CHECK(!nl_mime_lines_ok("a\r\n\x80\r\n", 5, 76, &bad) && bad == 2);
	T_CHECK(!nl_mime_lines_ok("a\r\nb\rc\r\n", 8, 76, &bad) && bad == 2);
	T_CHECK(!nl_mime_lines_ok("ab\0\r\n", 5, 76, &bad) && bad == 1);
	T_CHECK(nl_mime_lines_ok("abc\r\n", 5, 3, &bad));
	T_CHECK(!nl_mime_lines_ok("x\r\nabc\r\n", 8, 2, &bad) && bad == 2);
	T_CHECK(!nl_mime_lines_ok("a\r\n\r", 4, 76, NULL));
}

int main(void)
{
	test_qp_small();
	test_qp_lengths();
	test_qp_decode();
	test_qp_roundtrip();
	test_qp_splice();
	test_base64();
	test_hdr_text_ascii();
	test_hdr_text_utf8();
	test_hdr_text_splits();
	test_hdr_raw();
	test_hdr_addr();
	test_hdr_addr_long();
	test_injection();
	test_date_boundary();
	test_lines_ok();
	nl_buf_free(&enc_buf);
	nl_buf_free(&dec_buf);
	nl_buf_free(&tmp_buf);
	return t_done();
}
