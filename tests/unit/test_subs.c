/* test_subs.c - unit tests for the CSV reader and writer, statuses, tokens, the list's write side and import. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "import.h"
#include "subscriber.h"
#include "subsdb.h"
#include "t.h"

static char dir[64];

/* Read all records of text; returns the count, fields joined by | and records by / into out. */
static int parse_all(const char *text, size_t len, char *out, size_t cap, enum nl_err *err)
{
	FILE *f = t_memfile(text, len);
	struct nl_csv c;
	bool eof = false;
	int n = 0;
	size_t o = 0;
	nl_csv_init(&c, f, "t.csv");
	out[0] = 0;
	while (!(*err = nl_csv_next(&c, &eof)) && !eof) {
		n++;
		for (size_t i = 0; i < c.nfields; i++)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "|" : (n > 1 ? "/" : ""), c.fields[i]);
	}
	nl_csv_free(&c);
	fclose(f);
	return n;
}

static void test_reader(void)
{
	char out[512];
	enum nl_err e;
	T_CHECK(parse_all("a,b\r\nc,d", 8, out, sizeof out, &e) == 2 && !e);
	T_STREQ(out, "a|b/c|d");
	T_CHECK(parse_all("a\rb\r\r\nc\n", 8, out, sizeof out, &e) == 3);
	T_STREQ(out, "a/b/c");
	T_CHECK(parse_all("x\n\"\"\n\ny\n", 9, out, sizeof out, &e) == 3); /* "" is a record, not a blank */
	T_STREQ(out, "x//y");
	T_CHECK(parse_all("\"a\"  ,b\n", 8, out, sizeof out, &e) == 1 && !e);
	T_STREQ(out, "a|b");
	parse_all("\"a\"x,b\n", 7, out, sizeof out, &e);
	T_CHECK(e == NL_EDATA && strstr(nl_errmsg(), "t.csv:1: text after a closing quote"));
	parse_all("ok\nx\0y\n", 7, out, sizeof out, &e);
	T_CHECK(e == NL_EDATA && strstr(nl_errmsg(), "t.csv:2: NUL byte"));
	T_CHECK(parse_all("\xEF\xBC\x86,b\n", 6, out, sizeof out, &e) == 1 && !e); /* not a BOM */
	T_STREQ(out, "\xEF\xBC\x86|b");
	T_CHECK(parse_all("\xEF\xBB\xBF\"q\"\n", 7, out, sizeof out, &e) == 1 && !e);
	T_STREQ(out, "q");
	T_CHECK(parse_all("ab\"c,d\n", 7, out, sizeof out, &e) == 1); /* a stray quote inside a field is text */
	T_STREQ(out, "ab\"c|d");
}

static void test_reader_limits(void)
{
	size_t n = NL_CSV_MAX_RECORD + 16;
	char *big = malloc(n), out[64];
	enum nl_err e;
	big[0] = '"';
	memset(big + 1, 'x', n - 1);
	parse_all(big, n, out, sizeof out, &e);
	T_CHECK(e == NL_EDATA && strstr(nl_errmsg(), "record longer than")); /* quoted, too */
	memset(big, ',', 300);
	big[300] = '\n';
	parse_all(big, 301, out, sizeof out, &e);
	T_CHECK(e == NL_EDATA && strstr(nl_errmsg(), "more than 256 fields"));
	parse_all("\"open\nmore", 10, out, sizeof out, &e);
	T_CHECK(e == NL_EDATA && strstr(nl_errmsg(), "t.csv:1: unterminated"));
	free(big);
}

static void test_writer_round_trip(void)
{
	static const char *const fields[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "cr\ronly",
					     " lead", "trail\t", "", "\xEF\xBB\xBF" "bom", "=1+2"};
	struct nl_buf b = NL_BUF_INIT;
	char out[512], want[512];
	size_t o = 0;
	enum nl_err e;
	nl_csv_put_record(&b, fields, NL_ARRAY_LEN(fields));
	T_STREQ(b.data, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\ronly\",\" lead\",\"trail\t\",,"
			"\"\xEF\xBB\xBF" "bom\",=1+2\n");
	for (size_t i = 0; i < NL_ARRAY_LEN(fields); i++)
		o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", i ? "|" : "", fields[i]);
	/* A BOM at the very start of a file is skipped, so start with a header line. */
	struct nl_buf file = NL_BUF_INIT;
	nl_buf_adds(&file, "h\n");
	nl_buf_adds(&file, b.data);
	T_CHECK(parse_all(file.data, file.len, out, sizeof out, &e) == 2 && !e);
	T_STREQ(out + 2, want);
	nl_buf_reset(&b);
	static const char *const one[] = {""};
	nl_csv_put_record(&b, one, 1);
	T_STREQ(b.data, "\"\"\n");
	nl_buf_free(&b);
	nl_buf_free(&file);
}

static void test_status_and_tokens(void)
{
	char a[NL_TOKEN_LEN + 1], b[NL_TOKEN_LEN + 1];
	T_CHECK(nl_status_parse("") == NL_STATUS_ACTIVE);
	T_CHECK(nl_status_parse("Unsubscribed") == NL_STATUS_UNSUBSCRIBED);
	T_CHECK(nl_status_parse("vip") == NL_STATUS_UNKNOWN);
	T_CHECK(nl_status_suppressed(NL_STATUS_COMPLAINED) && !nl_status_suppressed(NL_STATUS_PENDING));
	nl_token_new(a);
	nl_token_new(b);
	T_CHECK(nl_token_valid(a) && strcmp(a, b) && a[14] == '4');
	nl_token_derived("s", "list", "Ada@Example.test", a);
	nl_token_derived("s", "list", "ada@example.test", b);
	T_STREQ(a, b);
	nl_token_derived("other", "list", "ada@example.test", b);
	T_CHECK(strcmp(a, b) != 0 && nl_token_valid(b));
	T_CHECK(!nl_token_valid("not-a-token") && !nl_token_valid(""));
}

static void test_times(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{"2019-01-15 10:21:52", "2019-01-15T10:21:52Z"},
		{"2021-03-04T05:06:07.000Z", "2021-03-04T05:06:07Z"},
		{"2020-07-02 17:20:08.963339+05:30", "2020-07-02T11:50:08Z"},
		{"2021-01-01 00:00:00+00", "2021-01-01T00:00:00Z"},
		{"2022-05-05", "2022-05-05T00:00:00Z"},
		{"2022-12-31T23:30:00-01:00", "2023-01-01T00:30:00Z"},
	};
	char out[NL_TIME_LEN + 1];
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		T_CHECK(nl_time_normalize(cases[i].in, out));
		T_STREQ(out, cases[i].out);
	}
	T_CHECK(!nl_time_normalize("12/10", out) && !nl_time_normalize("2022-13-01", out) &&
		!nl_time_normalize("2022-01-01 10:00 PST", out));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char buf[8192];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	fputs(text, f);
	fclose(f);
}

static void test_subsdb(void)
{
	char path[128], tok[NL_TOKEN_LEN + 1];
	struct nl_subsdb_opts o = {.secret = "s", .list_id = "l", .now = 1700000000};
	struct nl_subsdb_result r;
	snprintf(path, sizeof path, "%s/list.csv", dir);
	/* A hand-written list: its extra column and odd order survive, tokens are filled in as send derives them. */
	write_file(path, "Name,EMAIL,city\nAda,ada@example.test,London\n\"Doe, Jane\",jane@example.test,\n");
	T_CHECK(nl_subsdb_add(path, &o, "bob@example.test", "Bob\r\nBcc: x", NL_STATUS_ACTIVE, false, &r) == NL_OK);
	T_CHECK(r.change == NL_CHANGE_ADDED);
	const char *s = slurp(path);
	nl_token_derived("s", "l", "ada@example.test", tok);
	T_CHECK(!strncmp(s, "email,name,status,token,created_at,updated_at,city\n", 51));
	T_CHECK(strstr(s, "ada@example.test,Ada,active,") && strstr(s, tok) && strstr(s, ",London\n"));
	T_CHECK(strstr(s, "\"Doe, Jane\"") && strstr(s, "bob@example.test,Bob Bcc: x,active,"));
	T_CHECK(strstr(s, "2023-11-14T22:13:20Z,2023-11-14T22:13:20Z,\n"));
	T_CHECK(nl_subsdb_set_status(path, &o, tok, NL_STATUS_UNSUBSCRIBED, false, &r) == NL_OK);
	T_CHECK(r.change == NL_CHANGE_UPDATED && r.now == NL_STATUS_UNSUBSCRIBED);
	T_STREQ(r.email, "ada@example.test");
	T_CHECK(nl_subsdb_add(path, &o, "ADA@example.test", "", NL_STATUS_ACTIVE, false, &r) == NL_OK);
	T_CHECK(r.change == NL_CHANGE_REFUSED && r.was == NL_STATUS_UNSUBSCRIBED);
	T_CHECK(nl_subsdb_add(path, &o, "ADA@example.test", "", NL_STATUS_ACTIVE, true, &r) == NL_OK);
	T_CHECK(r.change == NL_CHANGE_UPDATED && r.now == NL_STATUS_ACTIVE);
	T_CHECK(nl_subsdb_remove(path, &o, "Jane@Example.Test", &r) == NL_OK && r.change == NL_CHANGE_REMOVED);
	T_CHECK(!strstr(slurp(path), "jane"));
	T_CHECK(nl_subsdb_remove(path, &o, "nobody@example.test", &r) == NL_OK &&
		r.change == NL_CHANGE_NOT_FOUND);
	T_CHECK(nl_subsdb_add(path, &o, "no at sign", NULL, NL_STATUS_ACTIVE, false, &r) == NL_EDATA);
	T_CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof path, "%s/list.csv.tmp", dir);
	T_CHECK(access(path, F_OK) != 0); /* no temporary file left behind */
}

static void count_event(void *ctx, const struct nl_import_event *ev)
{
	(void)ctx;
	(void)ev;
}

static void test_import(void)
{
	static const struct { const char *file; enum nl_format fmt; size_t n[NL_ROW_NOUTCOMES]; } cases[] = {
		{"substack.csv", NL_FMT_SUBSTACK, {3, 0, 0, 0, 1, 1}},
		{"mailchimp_subscribed.csv", NL_FMT_MAILCHIMP, {2, 1, 0, 0, 0, 0}},
		{"mailchimp_unsubscribed.csv", NL_FMT_MAILCHIMP, {1, 1, 0, 0, 0, 0}},
		{"mailchimp_cleaned.csv", NL_FMT_MAILCHIMP, {1, 0, 0, 0, 0, 0}},
		{"listmonk.csv", NL_FMT_LISTMONK, {3, 1, 0, 0, 0, 0}},
		{"ghost.csv", NL_FMT_GHOST, {2, 1, 0, 0, 0, 0}},
		{"plain.txt", NL_FMT_PLAIN, {1, 1, 1, 1, 1, 1}},
		{"tricky.csv", NL_FMT_CSV, {6, 0, 0, 0, 6, 1}},
	};
	char path[128], file[256];
	struct nl_import_stats st;
	snprintf(path, sizeof path, "%s/import.csv", dir);
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		snprintf(file, sizeof file, "tests/fixtures/import/%s", cases[i].file);
		struct nl_import_opts o = {.list = path, .file = file, .db = {.now = 1700000000},
					   .report = count_event};
		T_CHECK(nl_import(&o, &st) == NL_OK);
		T_CHECK(st.format == cases[i].fmt);
		for (size_t k = 0; k < NL_ROW_NOUTCOMES; k++) {
			T_CHECK(st.n[k] == cases[i].n[k]);
			if (st.n[k] != cases[i].n[k])
				printf("  %s: outcome %zu: %zu, expected %zu\n", cases[i].file, k, st.n[k],
				       cases[i].n[k]);
		}
	}
}

int main(void)
{
	char cmd[128];
	snprintf(dir, sizeof dir, "/tmp/nl-test-subs-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	test_reader();
	test_reader_limits();
	test_writer_round_trip();
	test_status_and_tokens();
	test_times();
	test_subsdb();
	test_import();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		printf("could not remove %s\n", dir);
	return t_done();
}
