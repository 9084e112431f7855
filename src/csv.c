/* csv.c - streaming RFC 4180 reader over its own input buffer, and the quoting writer. */
#include "csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Bytes that end a run of plain field text: bit 1 outside quotes, bit 2 inside. */
static void set_sep(struct nl_csv *c, int sep)
{
	memset(c->stops, 0, sizeof c->stops);
	c->stops['\r'] = 1;
	c->stops['"'] = c->stops['\n'] = c->stops[0] = 3;
	c->stops[(unsigned char)sep] = 1;
	c->sep = sep;
}

void nl_csv_init(struct nl_csv *c, FILE *f, const char *name)
{
	memset(c, 0, sizeof *c);
	c->f = f;
	c->name = name;
	c->next_line = 1;
	set_sep(c, ',');
	nl_buf_init(&c->rec);
}

void nl_csv_free(struct nl_csv *c)
{
	nl_buf_free(&c->rec);
	free(c->in);
	c->in = NULL;
}

/* Top up the input buffer; false at the end of input or on a read error. */
static bool fill(struct nl_csv *c)
{
	if (!c->in && !(c->in = malloc(NL_CSV_INBUF))) {
		c->io_errno = ENOMEM;
		return false;
	}
	if (c->in_pos)
		memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
	c->in_len -= c->in_pos;
	c->in_pos = 0;
	size_t n = fread(c->in + c->in_len, 1, NL_CSV_INBUF - c->in_len, c->f);
	if (!n && ferror(c->f) && !c->io_errno)
		c->io_errno = errno ? errno : EIO;
	c->in_len += n;
	return n > 0;
}

/* nl_buf_addc without the call, for the one-byte appends between runs. */
static inline void addc(struct nl_csv *c, int ch)
{
	struct nl_buf *b = &c->rec;
	c->nonascii |= ch >= 0x80;
	if (b->len + 2 <= b->cap && !b->failed) {
		b->data[b->len++] = (char)ch;
		b->data[b->len] = 0;
	} else {
		nl_buf_addc(b, (char)ch);
	}
}

static int getch(struct nl_csv *c)
{
	if (c->in_pos == c->in_len && !fill(c))
		return EOF;
	unsigned char ch = (unsigned char)c->in[c->in_pos++];
	if (ch == '\n')
		c->next_line++;
	return ch;
}

static int peekch(struct nl_csv *c)
{
	if (c->in_pos == c->in_len && !fill(c))
		return EOF;
	return (unsigned char)c->in[c->in_pos];
}

/* Copy the run of ordinary bytes at the read position in one go. */
static void take_run(struct nl_csv *c, unsigned char mask)
{
	const unsigned char *p = (const unsigned char *)c->in + c->in_pos;
	const unsigned char *e = (const unsigned char *)c->in + c->in_len, *s = p;
	unsigned char high = 0;
	while (p < e && !(c->stops[*p] & mask))
		high |= *p++;
	c->nonascii |= high >= 0x80;
	nl_buf_add(&c->rec, s, (size_t)(p - s));
	c->in_pos += (size_t)(p - s);
}

static enum nl_err too_long(struct nl_csv *c)
{
	return nl_errf(NL_EDATA, "%s:%zu: record longer than %zu bytes", c->name, c->line,
		       NL_CSV_MAX_RECORD);
}

static enum nl_err at_eof(struct nl_csv *c, const char *what)
{
	if (c->io_errno)
		return nl_errf(NL_EIO, "%s: read error: %s", c->name, strerror(c->io_errno));
	return nl_errf(NL_EDATA, "%s:%zu: %s", c->name, c->line, what);
}

/* A quoted field, after its opening quote; *after is the byte after the closing one. */
static enum nl_err quoted(struct nl_csv *c, int *after)
{
	for (;;) {
		int ch = getch(c);
		if (ch == EOF)
			return at_eof(c, "unterminated quoted field (a \" without its closing \")");
		if (ch == '"' && (ch = getch(c)) != '"') {
			while (ch == ' ' || ch == '\t')
				ch = getch(c);
			*after = ch;
			return NL_OK;
		}
		if (ch == 0)
			return nl_errf(NL_EDATA, "%s:%zu: NUL byte", c->name, c->next_line);
		addc(c, ch);
		take_run(c, 2);
		if (c->rec.len > NL_CSV_MAX_RECORD)
			return too_long(c);
	}
}

/* An unquoted field starting with ch; *end is the delimiter that ended it. */
static enum nl_err unquoted(struct nl_csv *c, int ch, int *end)
{
	for (;;) {
		if (ch == c->sep || ch == '\n' || ch == '\r' || ch == EOF) {
			*end = ch;
			return NL_OK;
		}
		if (ch == 0)
			return nl_errf(NL_EDATA, "%s:%zu: NUL byte", c->name, c->next_line);
		addc(c, ch);
		take_run(c, 1);
		if (c->rec.len > NL_CSV_MAX_RECORD)
			return too_long(c);
		ch = getch(c);
	}
}

static enum nl_err end_field(struct nl_csv *c)
{
	if (c->nfields == NL_CSV_MAX_FIELDS)
		return nl_errf(NL_EDATA, "%s:%zu: more than %d fields", c->name, c->line,
			       NL_CSV_MAX_FIELDS);
	addc(c, 0);
	c->nfields++;
	c->starts[c->nfields] = c->rec.len;
	return NL_OK;
}

static enum nl_err read_record(struct nl_csv *c, bool *eof)
{
	enum nl_err e;
	int ch = getch(c);
	if (ch == EOF) {
		*eof = true;
		return c->io_errno ? at_eof(c, "") : NL_OK;
	}
	for (;;) {
		if (ch == '"') {
			c->quoted = true;
			if ((e = quoted(c, &ch)))
				return e;
			if (ch != c->sep && ch != '\n' && ch != '\r' && ch != EOF)
				return nl_errf(NL_EDATA, "%s:%zu: text after a closing quote "
					       "(a quote inside a field is written \"\")", c->name, c->line);
		} else if ((e = unquoted(c, ch, &ch))) {
			return e;
		}
		if (ch == '\r') {
			if (peekch(c) == '\n')
				getch(c);
			else
				c->next_line++; /* a lone CR ends a line too */
		}
		if ((e = end_field(c)))
			return e;
		if (ch != c->sep)
			return ch == EOF && c->io_errno ? at_eof(c, "") : nl_buf_err(&c->rec);
		ch = getch(c);
	}
}

static void skip_bom(struct nl_csv *c)
{
	c->started = true;
	while (c->in_len - c->in_pos < 3 && fill(c))
		;
	if (c->in_len - c->in_pos >= 3 && !memcmp(c->in + c->in_pos, "\xEF\xBB\xBF", 3))
		c->in_pos += 3;
}

/*
 * Spreadsheets in many locales write ';' (some tabs) where others write ','.
 * The first line decides: the separator it holds most of outside quotes.
 */
static void sniff_sep(struct nl_csv *c)
{
	size_t n[3] = {0, 0, 0};
	bool q = false;
	for (size_t i = c->in_pos; i < c->in_len; i++) {
		char ch = c->in[i];
		if (ch == '"')
			q = !q;
		else if (!q && (ch == '\n' || ch == '\r'))
			break;
		else if (!q)
			n[0] += ch == ',', n[1] += ch == ';', n[2] += ch == '\t';
	}
	if (n[1] > n[0] && n[1] >= n[2])
		set_sep(c, ';');
	else if (n[2] > n[0] && n[2] > n[1])
		set_sep(c, '\t');
}

enum nl_err nl_csv_next(struct nl_csv *c, bool *eof)
{
	enum nl_err e;
	*eof = false;
	if (!c->started) {
		skip_bom(c);
		if (c->sniff)
			sniff_sep(c);
	}
	for (;;) {
		nl_buf_reset(&c->rec);
		c->nfields = 0;
		c->starts[0] = 0;
		c->quoted = false;
		c->nonascii = false;
		c->line = c->next_line;
		if ((e = read_record(c, eof)) || *eof)
			return e;
		if (c->nfields == 1 && c->rec.len == 1 && !c->quoted)
			continue; /* blank line */
		for (size_t i = 0; i < c->nfields; i++)
			c->fields[i] = c->rec.data + c->starts[i];
		return NL_OK;
	}
}

static bool needs_quotes(const char *s)
{
	size_t n = strlen(s);
	if (!n)
		return false;
	if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return true;
	if (!strncmp(s, "\xEF\xBB\xBF", 3))
		return true;
	return strpbrk(s, ",\"\r\n") != NULL;
}

void nl_csv_put_field(struct nl_buf *b, const char *s)
{
	if (!needs_quotes(s)) {
		nl_buf_adds(b, s);
		return;
	}
	nl_buf_addc(b, '"');
	for (const char *q; (q = strchr(s, '"')); s = q + 1) {
		nl_buf_add(b, s, (size_t)(q - s) + 1);
		nl_buf_addc(b, '"');
	}
	nl_buf_adds(b, s);
	nl_buf_addc(b, '"');
}

void nl_csv_put_record(struct nl_buf *b, const char *const *fields, size_t n)
{
	if (n == 1 && !*fields[0]) {
		nl_buf_adds(b, "\"\"\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			nl_buf_addc(b, ',');
		nl_csv_put_field(b, fields[i]);
	}
	nl_buf_addc(b, '\n');
}

char *nl_field_trim(char *field)
{
	char *s = field;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}
