/* bounce.c - classify one incoming message (GMime 3): DSN, ARF, plain-text bounces, auto-replies, unsubscribes. */
#include "bounce.h"

#include <ctype.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* What the walk over the parts gathers; decided on once the walk is done. */
struct walk {
	const struct nl_bounce_opts *o;
	struct nl_bounce *b;
	int parts;
	bool too_deep, is_report, dsn, arf, jmrp, returned;
	char action[32], feedback[32];
	struct nl_buf text;	/* the text parts, decoded, capped at NL_BOUNCE_MAX_TEXT */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_gmime(void)
{
	g_mime_init();
}

const char *nl_bounce_kind_name(enum nl_bounce_kind k)
{
	static const char *const names[] = {
		[NL_BOUNCE_UNKNOWN] = "unrecognised", [NL_BOUNCE_HARD] = "hard bounce",
		[NL_BOUNCE_SOFT] = "soft bounce",     [NL_BOUNCE_COMPLAINT] = "complaint",
		[NL_BOUNCE_UNSUBSCRIBE] = "unsubscribe", [NL_BOUNCE_AUTOREPLY] = "auto-reply",
	};
	return (unsigned)k < NL_ARRAY_LEN(names) ? names[k] : "unrecognised";
}

static void set_why(struct nl_bounce *b, const char *fmt, const char *arg)
{
	snprintf(b->why, sizeof b->why, fmt, arg ? arg : "");
}

/* Copy at most cap-1 bytes of p..p+n, trimmed of spaces and angle brackets. */
static void copy_trim(char *out, size_t cap, const char *p, size_t n)
{
	while (n && (isspace((unsigned char)*p) || *p == '<')) {
		p++;
		n--;
	}
	while (n && (isspace((unsigned char)p[n - 1]) || p[n - 1] == '>'))
		n--;
	if (n >= cap)
		n = 0; /* too long to be what we look for */
	memmove(out, p, n); /* out may be p itself */
	out[n] = 0;
}

/* ---- addresses and tokens in text ---- */

static bool addr_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

/* The first valid address in p..p+n at or after *pos; its end in *pos. */
static bool next_addr(const char *p, size_t n, size_t *pos, char out[NL_ADDR_MAX + 1])
{
	for (size_t i = *pos; i < n; i++) {
		if (p[i] != '@')
			continue;
		size_t s = i, e = i + 1;
		while (s > 0 && addr_char((unsigned char)p[s - 1]) && i - s < 64)
			s--;
		while (e < n && (addr_char((unsigned char)p[e]) || p[e] == '-') && e - i < 255)
			e++;
		while (s < i && (p[s] == '.' || p[s] == '\''))
			s++;
		while (e > i + 1 && (p[e - 1] == '.' || p[e - 1] == '\''))
			e--;
		*pos = e;
		if (s == i || e == i + 1 || e - s > NL_ADDR_MAX || !nl_addr_valid(p + s, e - s, NULL))
			continue;
		memcpy(out, p + s, e - s);
		out[e - s] = 0;
		return true;
	}
	return false;
}

static bool hexdig(char c)
{
	return isxdigit((unsigned char)c);
}

/* The first UUID in p..p+n (the form of our tokens). */
static bool find_token(const char *p, size_t n, char out[NL_TOKEN_LEN + 1])
{
	for (size_t i = 0; p && i + NL_TOKEN_LEN <= n; i++) {
		if (!hexdig(p[i]) || (i && hexdig(p[i - 1])))
			continue;
		memcpy(out, p + i, NL_TOKEN_LEN);
		out[NL_TOKEN_LEN] = 0;
		if (nl_token_valid(out) && (i + NL_TOKEN_LEN == n || !hexdig(p[i + NL_TOKEN_LEN])))
			return true;
	}
	out[0] = 0;
	return false;
}

bool nl_bounce_verp_token(const char *tmpl, const char *addr, char out[NL_TOKEN_LEN + 1])
{
	const char *t = tmpl ? strstr(tmpl, "{token}") : NULL;
	char a[NL_ADDR_MAX + 1];
	size_t pre, suf, pos = 0;
	out[0] = 0;
	if (!t || !addr || !next_addr(addr, strlen(addr), &pos, a))
		return false;
	pre = (size_t)(t - tmpl);
	suf = strlen(t + 7);
	size_t n = strlen(a);
	if (n != pre + NL_TOKEN_LEN + suf || strncasecmp(a, tmpl, pre) ||
	    strcasecmp(a + pre + NL_TOKEN_LEN, t + 7))
		return false;
	memcpy(out, a + pre, NL_TOKEN_LEN);
	out[NL_TOKEN_LEN] = 0;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (nl_token_valid(out))
		return true;
	out[0] = 0;
	return false;
}

/* ---- header fields ---- */

static const char *hdr(GMimeObject *o, const char *name)
{
	const char *v = o ? g_mime_object_get_header(o, name) : NULL;
	return v ? v : "";
}

static bool has_word(const char *hay, const char *word)
{
	return hay && strcasestr(hay, word) != NULL;
}

/* The address in a header value ("Name <a@b>", "rfc822; a@b"). */
static bool hdr_addr(const char *v, char out[NL_ADDR_MAX + 1])
{
	size_t pos = 0;
	out[0] = 0;
	return v && next_addr(v, strlen(v), &pos, out);
}

/*
 * "Name: value" blocks as in message/delivery-status and message/feedback-report:
 * calls fn for each field with its unfolded value (capped), and block for each blank line.
 */
typedef void (*field_fn)(struct walk *w, int block, const char *name, const char *value);

static void scan_fields(struct walk *w, const char *p, size_t n, field_fn fn)
{
	char name[64], value[512];
	size_t i = 0;
	int block = 0;
	while (i < n) {
		size_t e = i;
		while (e < n && p[e] != '\n')
			e++;
		size_t len = e - i;
		if (len && p[i + len - 1] == '\r')
			len--;
		if (!len) {
			block++;
			i = e + 1;
			continue;
		}
		const char *colon = memchr(p + i, ':', len);
		if (colon && !isspace((unsigned char)p[i])) {
			size_t nl = (size_t)(colon - (p + i));
			copy_trim(name, sizeof name, p + i, nl);
			size_t vs = nl + 1, vl = len - vs;
			/* Folded lines join the value (up to its cap). */
			struct nl_buf v = NL_BUF_INIT;
			nl_buf_add(&v, p + i + vs, vl);
			while (e + 1 < n && (p[e + 1] == ' ' || p[e + 1] == '\t') && v.len < sizeof value) {
				size_t f = e + 1;
				e = f;
				while (e < n && p[e] != '\n')
					e++;
				nl_buf_add(&v, p + f, e - f);
			}
			snprintf(value, sizeof value, "%s", v.data);
			nl_buf_free(&v);
			copy_trim(value, sizeof value, value, strlen(value));
			fn(w, block, name, value);
		}
		i = e + 1;
	}
}

/* An address-type field's address ("rfc822; a@b"). */
static void field_addr(const char *value, char *out)
{
	const char *semi = strchr(value, ';');
	if (!*out)
		hdr_addr(semi ? semi + 1 : value, out);
}

static void dsn_field(struct walk *w, int block, const char *name, const char *value)
{
	struct nl_bounce *b = w->b;
	(void)block;
	if (!strcasecmp(name, "Original-Recipient"))
		field_addr(value, b->rcpt);
	else if (!strcasecmp(name, "Final-Recipient") && !*b->rcpt)
		field_addr(value, b->rcpt);
	else if (!strcasecmp(name, "Action") && !*w->action)
		copy_trim(w->action, sizeof w->action, value, strlen(value));
	else if (!strcasecmp(name, "Status") && !*b->status)
		copy_trim(b->status, sizeof b->status, value, strcspn(value, " \t("));
}

static void arf_field(struct walk *w, int block, const char *name, const char *value)
{
	(void)block;
	if (!strcasecmp(name, "Feedback-Type") && !*w->feedback)
		copy_trim(w->feedback, sizeof w->feedback, value, strlen(value));
	else if (!strcasecmp(name, "Original-Rcpt-To") || !strcasecmp(name, "Removal-Recipient"))
		field_addr(value, w->b->rcpt);
}

/* ---- the parts ---- */

static void part_bytes(GMimePart *part, struct nl_buf *out, size_t cap)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	if (!dw)
		return;
	GMimeStream *mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(dw, mem);
	GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	size_t n = ba->len;
	if (out->len + n > cap)
		n = cap > out->len ? cap - out->len : 0;
	nl_buf_add(out, ba->data, n);
	g_object_unref(mem);
}

static GMimeMessage *parse_bytes(const char *p, size_t n)
{
	GMimeStream *s = g_mime_stream_mem_new_with_buffer(p, n);
	GMimeParser *pr = g_mime_parser_new_with_stream(s);
	GMimeMessage *m = g_mime_parser_construct_message(pr, NULL);
	g_object_unref(pr);
	g_object_unref(s);
	return m;
}

/* The message we sent, returned whole or as its header fields: its identifiers. */
static void returned_message(struct walk *w, GMimeMessage *m)
{
	struct nl_bounce *b = w->b;
	GMimeObject *o = GMIME_OBJECT(m);
	const char *id = g_mime_message_get_message_id(m);
	char tok[NL_TOKEN_LEN + 1];
	if (w->returned || !m)
		return;
	w->returned = true;
	if (id && *id)
		copy_trim(b->msgid, sizeof b->msgid, id, strlen(id));
	/* Microsoft's feedback loop (JMRP) names the complaining reader here. */
	if (*hdr(o, "X-HmXmrOriginalRecipient")) {
		w->jmrp = true;
		hdr_addr(hdr(o, "X-HmXmrOriginalRecipient"), b->rcpt);
	}
	if (!*b->token && nl_bounce_verp_token(w->o->bounce_address, hdr(o, "Return-Path"), tok)) {
		memcpy(b->token, tok, sizeof tok);
		b->token_from = "VERP address in the returned message";
	}
	/* Complaints often come with the To: redacted; our List-Unsubscribe still names the reader. */
	const char *lu = hdr(o, "List-Unsubscribe");
	if (!*b->token && find_token(lu, strlen(lu), tok)) {
		memcpy(b->token, tok, sizeof tok);
		b->token_from = "List-Unsubscribe of the returned message";
	}
	if (!*b->text_addr)
		hdr_addr(hdr(o, "To"), b->text_addr);
}

static void walk_part(struct walk *w, GMimeObject *o, int depth);

static void leaf(struct walk *w, GMimeObject *o, GMimeContentType *ct)
{
	struct nl_buf body = NL_BUF_INIT;
	part_bytes(GMIME_PART(o), &body, NL_BOUNCE_MAX_TEXT);
	if (g_mime_content_type_is_type(ct, "message", "delivery-status") ||
	    g_mime_content_type_is_type(ct, "message", "global-delivery-status")) {
		w->dsn = true;
		scan_fields(w, body.data, body.len, dsn_field);
	} else if (g_mime_content_type_is_type(ct, "message", "feedback-report")) {
		w->arf = true;
		scan_fields(w, body.data, body.len, arf_field);
	} else if (g_mime_content_type_is_type(ct, "text", "rfc822-headers") ||
		   g_mime_content_type_is_type(ct, "message", "global-headers")) {
		nl_buf_adds(&body, "\r\n");
		GMimeMessage *m = parse_bytes(body.data, body.len);
		if (m) {
			returned_message(w, m);
			g_object_unref(m);
		}
	} else if (g_mime_content_type_is_type(ct, "text", "*")) {
		nl_buf_add(&w->text, body.data, body.len);
		nl_buf_adds(&w->text, "\n");
	}
	nl_buf_free(&body);
}

static void walk_part(struct walk *w, GMimeObject *o, int depth)
{
	if (!o)
		return;
	if (depth > NL_BOUNCE_MAX_DEPTH || ++w->parts > NL_BOUNCE_MAX_PARTS) {
		w->too_deep = true;
		return;
	}
	GMimeContentType *ct = g_mime_object_get_content_type(o);
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);
		if (g_mime_content_type_is_type(ct, "multipart", "report"))
			w->is_report = true;
		int n = g_mime_multipart_get_count(mp);
		for (int i = 0; i < n && !w->too_deep; i++)
			walk_part(w, g_mime_multipart_get_part(mp, i), depth + 1);
	} else if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		/* Only its header fields matter: its text is ours, not the report. */
		if (m)
			returned_message(w, m);
	} else if (GMIME_IS_PART(o) && ct) {
		leaf(w, o, ct);
	}
}

/* ---- plain-text bounces (qmail, Exim, older Exchange, Yahoo) ---- */

/* "5.1.1" standing alone (not inside an IP address); *cls is '4' or '5'. */
static bool text_status(const char *p, size_t n, char *out, size_t cap)
{
	for (size_t i = 0; i + 5 <= n; i++) {
		if ((p[i] != '4' && p[i] != '5') || p[i + 1] != '.')
			continue;
		if (i && (isdigit((unsigned char)p[i - 1]) || p[i - 1] == '.'))
			continue;
		size_t e = i + 2, dots = 0;
		while (e < n && e - i < 12 && (isdigit((unsigned char)p[e]) || (p[e] == '.' && !dots++)))
			e++;
		if (dots != 1 || p[e - 1] == '.' || !isdigit((unsigned char)p[i + 2]) ||
		    (e < n && (isdigit((unsigned char)p[e]) || (p[e] == '.' && e + 1 < n &&
								   isdigit((unsigned char)p[e + 1])))))
			continue;
		copy_trim(out, cap, p + i, e - i);
		return true;
	}
	return false;
}

/* A basic SMTP reply code (550, 452) at a line's start or after a space or colon. */
static int text_code(const char *p, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++) {
		if ((p[i] != '4' && p[i] != '5') || !isdigit((unsigned char)p[i + 1]) ||
		    !isdigit((unsigned char)p[i + 2]) || (p[i + 3] != ' ' && p[i + 3] != '-' && p[i + 3] != ':'))
			continue;
		if (i && !strchr(" \t\n:(", p[i - 1]))
			continue;
		int c = (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
		if ((c >= 421 && c <= 454) || (c >= 550 && c <= 554))
			return c;
	}
	return 0;
}

/* Where the copy of our message starts in a plain-text bounce: what follows is not the report. */
static size_t report_end(const char *p, size_t n)
{
	static const char *const marks[] = {
		"Below this line is a copy of the message", "This is a copy of the message",
		"Enclosed are the original headers", "Original message headers",
		"----- Original message -----", "------ This is a copy",
		"The original message was received", "--- Original message follows",
	};
	size_t best = n;
	for (size_t i = 0; i < NL_ARRAY_LEN(marks); i++) {
		const char *m = memmem(p, n, marks[i], strlen(marks[i]));
		if (m && (size_t)(m - p) < best)
			best = (size_t)(m - p);
	}
	return best;
}

/* Ours or the bouncer's own addresses are not the reader. */
static bool foreign_addr(const struct walk *w, GMimeObject *top, const char *a)
{
	char x[NL_ADDR_MAX + 1], tok[NL_TOKEN_LEN + 1];
	const char *local_end = strchr(a, '@');
	size_t ln = local_end ? (size_t)(local_end - a) : 0;
	if ((ln == 13 && !strncasecmp(a, "mailer-daemon", 13)) || (ln == 10 && !strncasecmp(a, "postmaster", 10)))
		return false;
	if (hdr_addr(hdr(top, "From"), x) && !strcasecmp(x, a))
		return false;
	if (hdr_addr(hdr(top, "To"), x) && !strcasecmp(x, a))
		return false;
	if (nl_bounce_verp_token(w->o->bounce_address, a, tok))
		return false;
	return strcasecmp(a, w->o->bounce_address ? w->o->bounce_address : "") &&
	       strcasecmp(a, w->o->unsubscribe_email ? w->o->unsubscribe_email : "");
}

/* The text's identifiers: the failed address, and the returned Message-ID line if any. */
static void text_ids(struct walk *w, GMimeObject *top, size_t end)
{
	const char *p = w->text.data;
	size_t n = w->text.len, pos = 0;
	char a[NL_ADDR_MAX + 1];
	while (!*w->b->text_addr && pos < end && next_addr(p, end, &pos, a))
		if (foreign_addr(w, top, a))
			memcpy(w->b->text_addr, a, strlen(a) + 1);
	if (*w->b->msgid)
		return;
	for (size_t i = end; i < n; i++) {
		if ((i && p[i - 1] != '\n') || strncasecmp(p + i, "Message-ID:", 11))
			continue;
		const char *lt = memchr(p + i, '<', n - i), *gt = lt ? memchr(lt, '>', (size_t)(p + n - lt)) : NULL;
		const char *eol = memchr(p + i, '\n', n - i);
		if (lt && gt && (!eol || gt < eol))
			copy_trim(w->b->msgid, sizeof w->b->msgid, lt + 1, (size_t)(gt - lt - 1));
		return;
	}
}

static bool looks_bounced(GMimeObject *top)
{
	static const char *const subjects[] = {
		"undeliver", "returned mail", "delivery status notification", "failure notice",
		"mail delivery fail", "delivery failure", "undelivered mail", "could not be delivered",
		"delivery has failed", "nondeliverable", "non-delivery", "delivery notification",
	};
	char from[NL_ADDR_MAX + 1];
	const char *subj = hdr(top, "Subject");
	if (*hdr(top, "X-Failed-Recipients"))
		return true;
	if (hdr_addr(hdr(top, "From"), from) &&
	    (!strncasecmp(from, "mailer-daemon@", 14) || !strncasecmp(from, "postmaster@", 11)))
		return true;
	for (size_t i = 0; i < NL_ARRAY_LEN(subjects); i++)
		if (has_word(subj, subjects[i]))
			return true;
	return false;
}

static enum nl_bounce_kind text_kind(struct walk *w, size_t end)
{
	struct nl_bounce *b = w->b;
	const char *p = w->text.data;
	int code;
	if (text_status(p, end, b->status, sizeof b->status))
		return b->status[0] == '5' ? NL_BOUNCE_HARD : NL_BOUNCE_SOFT;
	if ((code = text_code(p, end))) {
		snprintf(b->status, sizeof b->status, "%d", code);
		return code >= 500 ? NL_BOUNCE_HARD : NL_BOUNCE_SOFT;
	}
	if (memmem(p, end, "permanent", 9) || memmem(p, end, "given up", 8) ||
	    memmem(p, end, "does not exist", 14) || memmem(p, end, "no such user", 12) ||
	    memmem(p, end, "User unknown", 12))
		return NL_BOUNCE_HARD;
	if (memmem(p, end, "temporar", 8) || memmem(p, end, "delayed", 7) ||
	    memmem(p, end, "will retry", 10) || memmem(p, end, "not yet been delivered", 22))
		return NL_BOUNCE_SOFT;
	return NL_BOUNCE_UNKNOWN;
}

/* ---- the decision ---- */

static bool dsn_decide(struct walk *w)
{
	struct nl_bounce *b = w->b;
	if (!w->dsn)
		return false;
	if (!strcasecmp(w->action, "failed")) {
		b->kind = b->status[0] == '4' ? NL_BOUNCE_SOFT : NL_BOUNCE_HARD;
		set_why(b, "delivery status notification: Action: failed, Status: %s", *b->status ? b->status : "none");
	} else if (!strcasecmp(w->action, "delayed")) {
		b->kind = NL_BOUNCE_SOFT;
		set_why(b, "delivery status notification: Action: delayed, Status: %s", b->status);
	} else {
		b->kind = NL_BOUNCE_AUTOREPLY;
		set_why(b, "delivery status notification with Action: %s: not a failure", w->action);
	}
	return true;
}

static bool complaint_decide(struct walk *w, GMimeObject *top)
{
	struct nl_bounce *b = w->b;
	if (w->arf) {
		if (!strcasecmp(w->feedback, "not-spam"))
			return false;
		b->kind = NL_BOUNCE_COMPLAINT;
		set_why(b, "feedback report (ARF, RFC 5965), Feedback-Type: %s", w->feedback);
		return true;
	}
	if (w->jmrp || has_word(hdr(top, "Subject"), "complaint about message from")) {
		b->kind = NL_BOUNCE_COMPLAINT;
		set_why(b, "feedback loop report in Microsoft's shape (X-HmXmrOriginalRecipient)%s", NULL);
		return true;
	}
	return false;
}

static bool text_bounce_decide(struct walk *w, GMimeObject *top)
{
	struct nl_bounce *b = w->b;
	if (!looks_bounced(top))
		return false;
	size_t end = report_end(w->text.data, w->text.len);
	text_ids(w, top, end);
	hdr_addr(hdr(top, "X-Failed-Recipients"), b->rcpt);
	b->kind = text_kind(w, end);
	if (b->kind == NL_BOUNCE_UNKNOWN)
		set_why(b, "looks like a bounce (%s) but says neither permanent nor temporary", hdr(top, "Subject"));
	else
		set_why(b, "plain-text bounce, status %s", *b->status ? b->status : "from its words");
	return true;
}

static bool autoreply_decide(struct walk *w, GMimeObject *top)
{
	static const char *const subjects[] = {
		"out of office", "out of the office", "automatic reply", "auto-reply", "autoreply",
		"auto reply", "vacation", "away from", "abwesenheit", "absence", "on leave",
	};
	static const char *const challenge[] = {
		"verify your", "please confirm your", "confirm that you", "challenge", "not on my list",
		"approve your", "verification required",
	};
	struct nl_bounce *b = w->b;
	const char *as = hdr(top, "Auto-Submitted"), *prec = hdr(top, "Precedence");
	const char *subj = hdr(top, "Subject");
	const char *why = NULL;
	if (*as && strncasecmp(as, "no", 2))
		why = "Auto-Submitted";
	else if (*hdr(top, "X-Autoreply") || *hdr(top, "X-Autorespond") || *hdr(top, "X-Autogenerated"))
		why = "X-Autoreply";
	else if (!strcasecmp(prec, "auto_reply") || !strcasecmp(prec, "bulk") || !strcasecmp(prec, "junk"))
		why = "Precedence";
	else if (*hdr(top, "X-Boxtrapper") || *hdr(top, "X-Spamarrest") || *hdr(top, "X-Challenge"))
		why = "challenge-response header";
	for (size_t i = 0; !why && i < NL_ARRAY_LEN(subjects); i++)
		if (has_word(subj, subjects[i]))
			why = "vacation subject";
	for (size_t i = 0; !why && i < NL_ARRAY_LEN(challenge); i++)
		if (has_word(subj, challenge[i]))
			why = "challenge-response subject";
	if (!why)
		return false;
	b->kind = NL_BOUNCE_AUTOREPLY;
	set_why(b, "automatic reply (%s): ignored", why);
	return true;
}

/* "unsubscribe" as the subject (after Re:) or the body's first words. */
static bool asks_unsubscribe(const struct walk *w, const char *subj)
{
	while (*subj == ' ')
		subj++;
	while (!strncasecmp(subj, "re:", 3) || !strncasecmp(subj, "fwd:", 4) || !strncasecmp(subj, "aw:", 3)) {
		subj += subj[0] == 'f' || subj[0] == 'F' ? 4 : 3;
		while (*subj == ' ')
			subj++;
	}
	if (!strncasecmp(subj, "unsubscribe", 11))
		return true;
	const char *p = w->text.data;
	while (isspace((unsigned char)*p))
		p++;
	return !strncasecmp(p, "unsubscribe", 11) || !strncasecmp(p, "please unsubscribe", 18);
}

static bool unsubscribe_decide(struct walk *w, GMimeObject *top)
{
	struct nl_bounce *b = w->b;
	const char *subj = hdr(top, "Subject");
	char tok[NL_TOKEN_LEN + 1];
	if (!asks_unsubscribe(w, subj))
		return false;
	b->kind = NL_BOUNCE_UNSUBSCRIBE;
	hdr_addr(hdr(top, "From"), b->from);
	const char *to = hdr(top, "To");
	if (*b->token)
		return true; /* a token in our own address (VERP) names them already */
	if (find_token(subj, strlen(subj), tok) ||
	    find_token(w->text.data, w->text.len < 4096 ? w->text.len : 4096, tok) ||
	    find_token(to, strlen(to), tok)) {
		memcpy(b->token, tok, sizeof tok);
		b->token_from = "token in the request";
		set_why(b, "unsubscribe request with token %s", tok);
	} else {
		set_why(b, "unsubscribe request without a token: from %s", b->from);
	}
	return true;
}

/* The VERP token: from what the MTA told us, else the fields it leaves behind. */
static void verp(struct walk *w, GMimeObject *top)
{
	static const char *const fields[] = {"Delivered-To", "X-Original-To", "Envelope-To", "To"};
	char tok[NL_TOKEN_LEN + 1];
	w->b->token_from = "VERP address";
	if (nl_bounce_verp_token(w->o->bounce_address, w->o->envelope_to, tok)) {
		memcpy(w->b->token, tok, sizeof tok);
		return;
	}
	for (size_t i = 0; i < NL_ARRAY_LEN(fields); i++) {
		if (nl_bounce_verp_token(w->o->bounce_address, hdr(top, fields[i]), tok)) {
			memcpy(w->b->token, tok, sizeof tok);
			return;
		}
	}
	w->b->token_from = "";
}

static void decide(struct walk *w, GMimeMessage *m)
{
	GMimeObject *top = GMIME_OBJECT(m);
	verp(w, top);
	walk_part(w, g_mime_message_get_mime_part(m), 0);
	if (w->too_deep) {
		set_why(w->b, "more than %s levels or parts: left for a person", "a few");
		return;
	}
	if (complaint_decide(w, top) || dsn_decide(w))
		return;
	if (text_bounce_decide(w, top) || autoreply_decide(w, top) || unsubscribe_decide(w, top))
		return;
	set_why(w->b, "not a bounce, complaint, auto-reply or unsubscribe request: %s", hdr(top, "Subject"));
}

enum nl_err nl_bounce_classify(const char *data, size_t len, const struct nl_bounce_opts *o,
			       struct nl_bounce *out)
{
	struct walk w = {.o = o, .b = out, .text = NL_BUF_INIT};
	enum nl_err e;
	memset(out, 0, sizeof *out);
	out->token_from = "";
	if (len > NL_BOUNCE_MAX_BYTES) {
		set_why(out, "larger than %s: left for a person", "16 MB");
		return NL_OK;
	}
	pthread_once(&once, init_gmime);
	GMimeMessage *m = parse_bytes(data, len);
	if (!m) {
		set_why(out, "not a mail message%s", NULL);
		return NL_OK;
	}
	decide(&w, m);
	g_object_unref(m);
	e = nl_buf_err(&w.text);
	nl_buf_free(&w.text);
	return e;
}
