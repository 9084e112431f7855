/* csv.h - a streaming RFC 4180 CSV reader, and a writer that quotes only when it must. */
#ifndef NL_CSV_H
#define NL_CSV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "nl.h"

#define NL_CSV_MAX_FIELDS 256
#define NL_CSV_MAX_RECORD ((size_t)1 << 20)
#define NL_CSV_INBUF 65536

/*
 * Reads one record at a time from a FILE: quoted fields with embedded
 * commas, quotes ("") and newlines, CRLF, LF or a lone CR, a leading BOM,
 * blank lines skipped (a line holding only "" is a record, not a blank).
 * Blanks after a closing quote are ignored; other text there is an error.
 * Limits: NL_CSV_MAX_FIELDS fields and NL_CSV_MAX_RECORD bytes a record.
 * Field pointers stay valid until the next call. The reader buffers its
 * input, so the FILE must not be read by anyone else meanwhile.
 */
struct nl_csv {
	FILE *f;
	const char *name;	/* for messages */
	size_t line;		/* line the current record starts on */
	size_t next_line;
	struct nl_buf rec;	/* field bytes, each NUL-terminated */
	size_t starts[NL_CSV_MAX_FIELDS + 1];
	char *fields[NL_CSV_MAX_FIELDS];	/* in rec: the caller may trim them in place */
	size_t nfields;
	bool quoted;		/* the record had a quoted field */
	bool nonascii;		/* the record has a byte >= 0x80 (else it is valid UTF-8) */
	bool started;		/* the BOM check is done */
	int io_errno;		/* a read failed */
	bool sniff;		/* set before the first read: take ';' or tab if the first line uses them */
	int sep;		/* ',' unless sniffed */
	unsigned char stops[256];
	char *in;		/* input buffer, NL_CSV_INBUF bytes */
	size_t in_pos, in_len;
};

void nl_csv_init(struct nl_csv *c, FILE *f, const char *name);
void nl_csv_free(struct nl_csv *c);
/* Next record into c->fields/c->nfields; *eof at the end. NL_EDATA with file:line on bad input. */
enum nl_err nl_csv_next(struct nl_csv *c, bool *eof);

/*
 * Appends a record to b: fields joined by commas, then "\n". A field is
 * quoted when it holds a comma, quote, CR or LF, starts or ends with a
 * blank, or starts with a byte order mark; a record of one empty field is
 * written "" so that it is not read back as a blank line. Reading the
 * result with nl_csv_next gives back exactly the same fields.
 */
void nl_csv_put_record(struct nl_buf *b, const char *const *fields, size_t n);
void nl_csv_put_field(struct nl_buf *b, const char *s);

/* Trim blanks (spaces, tabs) at both ends of a writable field, in place; returns the new start. */
char *nl_field_trim(char *field);

#endif
