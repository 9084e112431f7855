/* csv.h - a streaming RFC 4180 CSV reader. */
#ifndef NL_CSV_H
#define NL_CSV_H

#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "nl.h"

#define NL_CSV_MAX_FIELDS 256
#define NL_CSV_MAX_RECORD ((size_t)1 << 20)

/*
 * Reads one record at a time from a FILE: quoted fields with embedded
 * commas, quotes ("") and newlines, CRLF or LF, a leading BOM, blank lines
 * skipped. Field pointers stay valid until the next call.
 */
struct nl_csv {
	FILE *f;
	const char *name;	/* for messages */
	size_t line;		/* line the current record starts on */
	size_t next_line;
	struct nl_buf rec;	/* field bytes, each NUL-terminated */
	size_t starts[NL_CSV_MAX_FIELDS];
	const char *fields[NL_CSV_MAX_FIELDS];
	size_t nfields;
	bool bom_checked;
};

void nl_csv_init(struct nl_csv *c, FILE *f, const char *name);
void nl_csv_free(struct nl_csv *c);
/* Next record into c->fields/c->nfields; *eof at the end. NL_EDATA with file:line on bad input. */
enum nl_err nl_csv_next(struct nl_csv *c, bool *eof);

#endif
