/* csv.c - streaming RFC 4180 reader: a small state machine over getc_unlocked. */
#include "csv.h"

#include <string.h>

void nl_csv_init(struct nl_csv *c, FILE *f, const char *name)
{
	memset(c, 0, sizeof *c);
	c->f = f;
	c->name = name;
	c->next_line = 1;
	nl_buf_init(&c->rec);
}

void nl_csv_free(struct nl_csv *c)
{
	nl_buf_free(&c->rec);
}

static enum nl_err end_field(struct nl_csv *c)
{
	if (c->nfields == NL_CSV_MAX_FIELDS)
		return nl_errf(NL_EDATA, "%s:%zu: more than %d fields", c->name, c->line,
			       NL_CSV_MAX_FIELDS);
	nl_buf_addc(&c->rec, 0);
	c->nfields++;
	c->starts[c->nfields] = c->rec.len;
	return NL_OK;
}

static int next_char(struct nl_csv *c)
{
	int ch = getc_unlocked(c->f);
	if (ch == '\n')
		c->next_line++;
	return ch;
}

/* A quoted field, after its opening quote. */
static enum nl_err quoted(struct nl_csv *c, int *after)
{
	for (;;) {
		int ch = next_char(c);
		if (ch == EOF)
			return nl_errf(NL_EDATA, "%s:%zu: unterminated quoted field", c->name, c->line);
		if (ch == '"') {
			ch = next_char(c);
			if (ch != '"') {
				*after = ch;
				return NL_OK;
			}
		}
		if (ch == 0)
			return nl_errf(NL_EDATA, "%s:%zu: NUL byte", c->name, c->next_line);
		nl_buf_addc(&c->rec, (char)ch);
	}
}

static enum nl_err read_record(struct nl_csv *c, bool *eof)
{
	enum nl_err e;
	int ch = next_char(c);
	bool field_start = true;
	if (ch == EOF) {
		*eof = true;
		return NL_OK;
	}
	for (;;) {
		if (field_start && ch == '"') {
			if ((e = quoted(c, &ch)))
				return e;
			if (ch != ',' && ch != '\n' && ch != '\r' && ch != EOF)
				return nl_errf(NL_EDATA, "%s:%zu: text after a closing quote",
					       c->name, c->line);
		}
		if (ch == '\r') {
			int n2 = next_char(c);
			if (n2 != '\n' && n2 != EOF)
				ungetc(n2, c->f);
			ch = '\n';
		}
		if (ch == ',' || ch == '\n' || ch == EOF) {
			if ((e = end_field(c)))
				return e;
			if (ch != ',')
				return nl_buf_err(&c->rec);
			field_start = true;
		} else if (ch == 0) {
			return nl_errf(NL_EDATA, "%s:%zu: NUL byte", c->name, c->next_line);
		} else {
			nl_buf_addc(&c->rec, (char)ch);
			field_start = false;
		}
		if (c->rec.len > NL_CSV_MAX_RECORD)
			return nl_errf(NL_EDATA, "%s:%zu: record too long", c->name, c->line);
		ch = next_char(c);
	}
}

enum nl_err nl_csv_next(struct nl_csv *c, bool *eof)
{
	enum nl_err e;
	*eof = false;
	if (!c->bom_checked) {
		int a = getc(c->f);
		c->bom_checked = true;
		if (a == 0xEF) {
			int b = getc(c->f), d = getc(c->f);
			if (b != 0xBB || d != 0xBF)
				return nl_errf(NL_EDATA, "%s:1: starts with a broken byte order mark",
					       c->name);
		} else if (a != EOF) {
			ungetc(a, c->f);
		}
	}
	for (;;) {
		nl_buf_reset(&c->rec);
		c->nfields = 0;
		c->starts[0] = 0;
		c->line = c->next_line;
		if ((e = read_record(c, eof)) || *eof)
			return e;
		if (ferror(c->f))
			return nl_errf(NL_EIO, "%s: read error", c->name);
		if (c->nfields == 1 && c->rec.len == 1)
			continue; /* blank line */
		for (size_t i = 0; i < c->nfields; i++)
			c->fields[i] = c->rec.data + c->starts[i];
		return NL_OK;
	}
}
