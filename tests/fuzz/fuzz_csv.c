/* fuzz_csv.c - libFuzzer harness: the CSV reader on any bytes, and writer/reader round trips of what it reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write one record, read it back behind a header line (a BOM would be eaten at the start); it must be the same. */
static void round_trip(const char *const *fields, size_t n)
{
	struct nl_buf b = NL_BUF_INIT;
	struct nl_csv c;
	bool eof;
	nl_buf_adds(&b, "h\n");
	nl_csv_put_record(&b, fields, n);
	if (nl_buf_err(&b) || b.len > NL_CSV_MAX_RECORD) {
		nl_buf_free(&b);
		return;
	}
	FILE *f = fmemopen(b.data, b.len, "r");
	nl_csv_init(&c, f, "rt");
	if (nl_csv_next(&c, &eof) || eof || nl_csv_next(&c, &eof) || eof || c.nfields != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (strcmp(c.fields[i], fields[i]))
			abort();
	if (nl_csv_next(&c, &eof) || !eof)
		abort();
	nl_csv_free(&c);
	fclose(f);
	nl_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_csv c;
	bool eof = false;
	char *copy[NL_CSV_MAX_FIELDS];
	if (!size)
		return 0;
	char *bytes = malloc(size); /* fmemopen wants a buffer it may write */
	if (!bytes)
		return 0;
	memcpy(bytes, data, size);
	FILE *f = fmemopen(bytes, size, "r");
	if (!f) {
		free(bytes);
		return 0;
	}
	nl_csv_init(&c, f, "fuzz");
	for (int rec = 0; rec < 64 && !nl_csv_next(&c, &eof) && !eof; rec++) {
		if (!c.nfields || c.nfields > NL_CSV_MAX_FIELDS)
			abort();
		for (size_t i = 0; i < c.nfields; i++)
			copy[i] = strdup(c.fields[i]);
		round_trip((const char *const *)copy, c.nfields);
		for (size_t i = 0; i < c.nfields; i++)
			free(copy[i]);
	}
	nl_csv_free(&c);
	fclose(f);
	free(bytes);
	return 0;
}
