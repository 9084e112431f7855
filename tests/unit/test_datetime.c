/* test_datetime.c - unit tests: the date parser, formatters, zones from TZif files, durations. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "datetime.h"
#include "t.h"

/* Seconds for a UTC (or wall-clock) time; timegm is fine in a test. */
static time_t at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = s};
	return timegm(&tm);
}

static const struct nl_tz *zone(const char *name)
{
	const struct nl_tz *z = nl_tz_get(name);
	if (!z)
		printf("  no zone %s\n", name);
	return z;
}

static time_t from_wall(const char *name, time_t wall)
{
	return nl_tz_from_wall(zone(name), wall);
}

static void tz_format(const char *name, time_t t, char *out, size_t size)
{
	nl_tz_format(zone(name), t, out, size);
}

static bool parse_in(const char *name, const char *s, time_t *out)
{
	return nl_time_parse_in(zone(name), s, out);
}

static bool parse(const char *s, unsigned flags, struct nl_time *out)
{
	return nl_time_parse(s, strlen(s), flags, out);
}

static void test_tz_valid(void)
{
	T_CHECK(nl_tz_valid("UTC"));
	T_CHECK(nl_tz_valid("Europe/Berlin"));
	T_CHECK(nl_tz_valid("America/New_York"));
	T_CHECK(nl_tz_valid("Etc/GMT+5"));
	T_CHECK(!nl_tz_valid(""));
	T_CHECK(!nl_tz_valid("Europe"));		/* a folder */
	T_CHECK(!nl_tz_valid("zone.tab"));		/* not a zone file */
	T_CHECK(!nl_tz_valid("Nowhere/City"));
	T_CHECK(!nl_tz_valid("/etc/localtime"));	/* names only */
	T_CHECK(!nl_tz_valid("../zoneinfo/UTC"));
	T_CHECK(!nl_tz_valid("Europe/Berlin "));
	T_CHECK(!nl_tz_valid("CET-1CEST,M3.5.0,M10.5.0/3")); /* POSIX rules are not IANA names */
}

static void test_tz_from_wall(void)
{
	const char *b = "Europe/Berlin";
	T_CHECK(from_wall("UTC", at(2026, 3, 29, 9, 0, 0)) == at(2026, 3, 29, 9, 0, 0));
	T_CHECK(from_wall(b, at(2026, 1, 15, 12, 0, 0)) == at(2026, 1, 15, 11, 0, 0));
	T_CHECK(from_wall(b, at(2026, 7, 15, 12, 0, 0)) == at(2026, 7, 15, 10, 0, 0));
	/* The night of 29 March 2026: 02:00 CET jumps to 03:00 CEST. */
	T_CHECK(from_wall(b, at(2026, 3, 28, 9, 0, 0)) == at(2026, 3, 28, 8, 0, 0));
	T_CHECK(from_wall(b, at(2026, 3, 29, 0, 0, 0)) == at(2026, 3, 28, 23, 0, 0));
	T_CHECK(from_wall(b, at(2026, 3, 29, 1, 59, 59)) == at(2026, 3, 29, 0, 59, 59));
	T_CHECK(from_wall(b, at(2026, 3, 29, 2, 30, 0)) == at(2026, 3, 29, 1, 30, 0)); /* skipped: 03:30 CEST */
	T_CHECK(from_wall(b, at(2026, 3, 29, 3, 0, 0)) == at(2026, 3, 29, 1, 0, 0));
	T_CHECK(from_wall(b, at(2026, 3, 29, 9, 0, 0)) == at(2026, 3, 29, 7, 0, 0));
	/* 25 October 2026: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice. */
	T_CHECK(from_wall(b, at(2026, 10, 25, 1, 59, 0)) == at(2026, 10, 24, 23, 59, 0));
	T_CHECK(from_wall(b, at(2026, 10, 25, 2, 30, 0)) == at(2026, 10, 25, 0, 30, 0)); /* the first */
	T_CHECK(from_wall(b, at(2026, 10, 25, 3, 0, 0)) == at(2026, 10, 25, 2, 0, 0));
	/* Elsewhere: west of UTC, half hours, a 30-minute DST. */
	T_CHECK(from_wall("America/New_York", at(2026, 3, 8, 2, 30, 0)) == at(2026, 3, 8, 7, 30, 0));
	T_CHECK(from_wall("America/New_York", at(2026, 6, 1, 9, 0, 0)) == at(2026, 6, 1, 13, 0, 0));
	T_CHECK(from_wall("Asia/Kolkata", at(2026, 1, 15, 12, 0, 0)) == at(2026, 1, 15, 6, 30, 0));
	T_CHECK(from_wall("Australia/Lord_Howe", at(2026, 1, 15, 12, 0, 0)) == at(2026, 1, 15, 1, 0, 0));
	T_CHECK(from_wall("Australia/Lord_Howe", at(2026, 7, 15, 12, 0, 0)) == at(2026, 7, 15, 1, 30, 0));
}

static void test_tz_format_and_parse(void)
{
	char out[64];
	time_t t;
	tz_format("Europe/Berlin", at(2026, 3, 29, 7, 0, 0), out, sizeof out);
	T_STREQ(out, "2026-03-29 09:00 CEST");
	tz_format("Europe/Berlin", at(2026, 3, 28, 8, 0, 5), out, sizeof out);
	T_STREQ(out, "2026-03-28 09:00:05 CET");
	tz_format("UTC", at(2026, 3, 28, 8, 0, 0), out, sizeof out);
	T_STREQ(out, "2026-03-28 08:00 UTC");
	/* A bare date is midnight in the zone; an offset is exact whatever the zone. */
	T_CHECK(parse_in("Europe/Berlin", "2026-03-29", &t) && t == at(2026, 3, 28, 23, 0, 0));
	T_CHECK(parse_in("Europe/Berlin", "2026-07-01", &t) && t == at(2026, 6, 30, 22, 0, 0));
	T_CHECK(parse_in("Europe/Berlin", "2026-03-29T09:00:00+05:00", &t) &&
		t == at(2026, 3, 29, 4, 0, 0));
	T_CHECK(parse_in("Europe/Berlin", "2026-03-29T09:00:00Z", &t) && t == at(2026, 3, 29, 9, 0, 0));
	T_CHECK(parse_in("UTC", "2026-03-29T09:00:00", &t) && t == at(2026, 3, 29, 9, 0, 0));
	T_CHECK(!parse_in("UTC", "tomorrow", &t));
	T_CHECK(!parse_in("UTC", "2026-02-30", &t));
}

static void test_durations(void)
{
	static const struct {
		const char *s;
		long secs; /* 0: refused */
	} cases[] = {
		{"7d", 604800}, {"36h", 129600}, {"90m", 5400}, {"45s", 45}, {"2w", 1209600},
		{"1d12h", 129600}, {"1d 12h", 129600}, {"", 0}, {"7", 0}, {"d", 0}, {"-1d", 0},
		{"0d", 0}, {"7x", 0}, {"1.5d", 0}, {"7 d", 0}, {"99999999999999999999d", 0},
		{"4000d", 0}, {"7D", 0},
	};
	char out[32];
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		long v = -1;
		bool ok = nl_duration_parse(cases[i].s, &v);
		if (cases[i].secs ? !(ok && v == cases[i].secs) : ok)
			printf("  duration '%s': %s %ld\n", cases[i].s, ok ? "took" : "refused", v);
		T_CHECK(cases[i].secs ? ok && v == cases[i].secs : !ok);
	}
	nl_duration_format(604800, out, sizeof out);
	T_STREQ(out, "7d");
	nl_duration_format(129600, out, sizeof out);
	T_STREQ(out, "36h");
	nl_duration_format(5400, out, sizeof out);
	T_STREQ(out, "90m");
	nl_duration_format(61, out, sizeof out);
	T_STREQ(out, "61s");
}


static void test_parse_valid(void)
{
	struct nl_time t;
	T_CHECK(parse("2026-11-28", 0, &t) && t.t == 1795824000 && !t.has_offset && !t.has_time);
	T_CHECK(parse("2026-11-28T07:30:00+01:00", 0, &t) && t.t == 1795824000 + 6 * 3600 + 1800 && t.has_offset &&
		t.offset == 3600 && t.has_time);
	T_CHECK(parse("2025-02-11T23:01:08.234000+00:00", 0, &t) && t.has_offset && t.nsec == 234000000);
	T_CHECK(parse("2026-11-28T07:30:00Z", 0, &t) && t.has_offset && t.t == at(2026, 11, 28, 7, 30, 0));
	T_CHECK(parse("2026-11-28t07:30:00z", 0, &t) && t.has_offset && t.t == at(2026, 11, 28, 7, 30, 0));
	T_CHECK(parse("2026-11-28 07:30:00", 0, &t) && !t.has_offset && t.t == at(2026, 11, 28, 7, 30, 0));
	T_CHECK(parse("2026-11-28T07:30:00-05:30", 0, &t) && t.t == at(2026, 11, 28, 13, 0, 0) && t.offset == -19800);
	T_CHECK(parse("2026-11-28T07:30:00.123456789123Z", 0, &t) && t.nsec == 123456789);
	T_CHECK(parse("2026-11-28T07:30:00+23:59", 0, &t) && t.t == at(2026, 11, 27, 7, 31, 0));
	T_CHECK(parse("2026-11-28T07:30:00-00:00", 0, &t) && t.has_offset && t.offset == 0);
	T_CHECK(parse("2024-02-29", 0, &t) && t.t == at(2024, 2, 29, 0, 0, 0));	/* a leap year */
	T_CHECK(parse("2000-02-29", 0, &t));						/* by 400 */
	T_CHECK(parse("2016-12-31T23:59:60Z", 0, &t) && t.t == at(2017, 1, 1, 0, 0, 0)); /* a leap second */
	T_CHECK(parse("0000-01-01T00:00:00Z", 0, &t) && t.t == -62167219200LL);
	T_CHECK(parse("9999-12-31T23:59:59Z", 0, &t) && t.t == 253402300799LL);
	T_CHECK(parse("1969-12-31T23:59:59Z", 0, &t) && t.t == -1);
	/* Logs need a zone; exports have their own shapes. */
	T_CHECK(parse("2026-11-29T09:30:00.123Z", NL_TIME_NEED_ZONE, &t) && t.nsec == 123000000);
	T_CHECK(!parse("2026-11-29T09:30:00.123", NL_TIME_NEED_ZONE, &t));
	T_CHECK(!parse("2026-11-29", NL_TIME_NEED_ZONE, &t));
	T_CHECK(parse("2022-01-01 10:00", NL_TIME_EXPORT, &t) && t.t == at(2022, 1, 1, 10, 0, 0));
	T_CHECK(parse("2022-01-01 10:00:00,5 +0130", NL_TIME_EXPORT, &t) && t.t == at(2022, 1, 1, 8, 30, 0));
	T_CHECK(parse("2022-01-01 10:00:00 UTC", NL_TIME_EXPORT, &t) && t.has_offset);
	T_CHECK(parse("2022-01-01 10:00:00+01", NL_TIME_EXPORT, &t) && t.t == at(2022, 1, 1, 9, 0, 0));
	T_CHECK(!parse("2022-01-01 10:00", 0, &t));
	T_CHECK(!parse("2022-01-01 10:00:00+01", 0, &t));
	T_CHECK(!parse("2022-01-01 10:00:00 UTC", 0, &t));
	T_CHECK(!parse("2022-01-01 10:00:00+01:", NL_TIME_EXPORT, &t));
	T_CHECK(!parse("2022-01-01 10:00 PST", NL_TIME_EXPORT, &t));
}

static void test_parse_invalid(void)
{
	static const char *const bad[] = {
		"", "yesterday", "2026-13-01", "2026-00-10", "2026-02-30x", "2026-02-29", "2100-02-29",
		"2026-04-31", "2026-01-00", "2026-1-01", "2026-01-1", "20260101", "+2026-01-01",
		"2026-11-28T24:00:00Z", "2026-11-28T23:60:00Z", "2026-11-28T23:59:61Z",
		"2026-11-28T07:30:00+24:00", "2026-11-28T07:30:00+01:60", "2026-11-28T07:30:00+0100",
		"2026-11-28T07:30:00+01", "2026-11-28T07:30:00.Z", "2026-11-28T07:30:00.", "2026-11-28T07:30",
		"2026-11-28T07:30:00ZZ", "2026-11-28T07:30:00 Z", " 2026-11-28", "2026-11-28 ", "2026-11-28T",
		"2026-11-28X07:30:00Z", "2026-11-28T7:30:00Z", "2026-11-28T07:30:00+", "2026-11-28T07:30:00-1",
		"2026-11-28T07:30:00+01:0", "2026-11-28T07:30:00,5Z", "2026-11-28T07:30:00Z\n",
	};
	struct nl_time t;
	for (size_t i = 0; i < NL_ARRAY_LEN(bad); i++) {
		bool ok = parse(bad[i], 0, &t);
		if (ok)
			printf("  took '%s'\n", bad[i]);
		T_CHECK(!ok);
	}
	/* A NUL inside the given length is a bad byte, not an end. */
	T_CHECK(!nl_time_parse("2026-11-28\0T07:30:00Z", 21, 0, &t));
}

/*
 * Every proper prefix of long valid strings, each in a buffer of exactly its
 * length (so ASan sees any read past the end), is refused unless it is itself
 * a complete form.
 */
static void test_truncations(void)
{
	static const char *const full[] = {"2026-11-28T07:30:00.123456+01:00", "2026-11-28T07:30:00-10:30",
					   "2026-11-28T07:30:00Z"};
	for (size_t f = 0; f < NL_ARRAY_LEN(full); f++) {
		size_t n = strlen(full[f]);
		for (size_t len = 0; len < n; len++) {
			char *copy = malloc(len ? len : 1);
			struct nl_time t;
			memcpy(copy, full[f], len);
			bool ok = nl_time_parse(copy, len, 0, &t);
			/* the date alone, the time without offset, and a shorter fraction are forms of their own */
			bool whole = len == 10 || len == 19 || (f == 0 && len >= 21 && len <= 26);
			if (ok != whole)
				printf("  prefix %zu of %s: %s\n", len, full[f], ok ? "took" : "refused");
			T_CHECK(ok == whole);
			T_CHECK(!nl_time_parse(copy, len, NL_TIME_NEED_ZONE, &t));
			nl_time_parse(copy, len, NL_TIME_EXPORT, &t);
			free(copy);
		}
	}
}

static void test_formats(void)
{
	char s[NL_TIME_MS_LEN + 1], d[NL_TIME_RFC5322_LEN + 1], long_date[40];
	nl_time_rfc3339(at(2026, 11, 29, 9, 30, 0), s);
	T_STREQ(s, "2026-11-29T09:30:00Z");
	nl_time_rfc3339(-1, s);
	T_STREQ(s, "1969-12-31T23:59:59Z");
	nl_time_rfc3339((time_t)400000000000, s);
	T_STREQ(s, "");
	nl_time_rfc3339_ms(at(2026, 11, 29, 9, 30, 0), 123999999, s);
	T_STREQ(s, "2026-11-29T09:30:00.123Z");
	nl_time_rfc5322(0, d);
	T_STREQ(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	nl_time_rfc5322(1795944600, d);
	T_STREQ(d, "Sun, 29 Nov 2026 09:30:00 +0000");
	nl_time_rfc5322(951868799, d);
	T_STREQ(d, "Tue, 29 Feb 2000 23:59:59 +0000");
	nl_time_rfc5322((time_t)-1, d);
	T_STREQ(d, "Wed, 31 Dec 1969 23:59:59 +0000");
	nl_time_rfc5322((time_t)400000000000, d); /* year 14645: not four digits */
	T_STREQ(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	nl_time_long_date(at(2026, 11, 8, 23, 0, 0), long_date, sizeof long_date);
	T_STREQ(long_date, "November 8, 2026");
	/* Every day of four centuries formats and reads back. */
	for (time_t t = at(1900, 1, 1, 0, 0, 0); t < at(2300, 1, 1, 0, 0, 0); t += 86400 + 3661) {
		struct nl_time p;
		struct tm tm;
		char want[32];
		nl_time_rfc3339(t, s);
		gmtime_r(&t, &tm);
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (strcmp(s, want) || !parse(s, 0, &p) || p.t != t) {
			T_STREQ(s, want);
			break;
		}
	}
}

/* The clocks stand as glibc says, for many moments in many zones (TZ is set here only). */
static void test_against_glibc(void)
{
	static const char *const zones[] = {
		"Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Australia/Adelaide",
		"Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Auckland", "Asia/Tehran", "Africa/Casablanca",
		"America/St_Johns", "Europe/London", "Pacific/Chatham", "Asia/Kathmandu", "Europe/Dublin",
	};
	size_t bad = 0, n = 0;
	for (size_t i = 0; i < NL_ARRAY_LEN(zones); i++) {
		const struct nl_tz *z = zone(zones[i]);
		char tz[80];
		if (!z) {
			T_CHECK(z != NULL);
			continue;
		}
		snprintf(tz, sizeof tz, ":%s", zones[i]);
		setenv("TZ", tz, 1);
		tzset();
		uint64_t r = 88172645463325252ULL; /* xorshift: spread over 1900-2150 */
		for (int k = 0; k < 4000; k++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			time_t t = at(1900, 1, 1, 0, 0, 0) + (time_t)(r % (250ULL * 365 * 86400));
			struct nl_tz_local l;
			struct tm tm;
			char abbr[16];
			nl_tz_at(z, t, &l);
			localtime_r(&t, &tm);
			strftime(abbr, sizeof abbr, "%Z", &tm);
			n++;
			if (l.offset != tm.tm_gmtoff || strcmp(l.abbr, abbr) || l.dst != (tm.tm_isdst > 0)) {
				if (bad++ < 10)
					printf("  %s at %lld: %ld %s %d, glibc %ld %s %d\n", zones[i], (long long)t,
					       l.offset, l.abbr, l.dst, tm.tm_gmtoff, abbr, tm.tm_isdst);
			}
		}
	}
	unsetenv("TZ");
	tzset();
	printf("  %zu moments compared with glibc, %zu differ\n", n, bad);
	T_CHECK(bad == 0);
}

static void test_zones(void)
{
	char out[64];
	struct nl_tz_local l;
	/* Southern hemisphere: summer time over the new year. */
	T_CHECK(from_wall("Australia/Sydney", at(2026, 1, 15, 12, 0, 0)) == at(2026, 1, 15, 1, 0, 0));
	T_CHECK(from_wall("Australia/Sydney", at(2026, 7, 15, 12, 0, 0)) == at(2026, 7, 15, 2, 0, 0));
	/* 5 April 2026 03:00 AEDT goes back to 02:00 AEST; 4 October 02:00 AEST jumps to 03:00. */
	T_CHECK(from_wall("Australia/Sydney", at(2026, 4, 5, 2, 30, 0)) == at(2026, 4, 4, 15, 30, 0));
	T_CHECK(from_wall("Australia/Sydney", at(2026, 10, 4, 2, 30, 0)) == at(2026, 10, 3, 16, 30, 0));
	tz_format("Australia/Sydney", at(2026, 1, 15, 1, 0, 0), out, sizeof out);
	T_STREQ(out, "2026-01-15 12:00 AEDT");
	/* Half hours, with and without DST. */
	T_CHECK(from_wall("Australia/Adelaide", at(2026, 1, 15, 12, 0, 0)) == at(2026, 1, 15, 1, 30, 0));
	T_CHECK(from_wall("Australia/Adelaide", at(2026, 7, 15, 12, 0, 0)) == at(2026, 7, 15, 2, 30, 0));
	tz_format("Asia/Kolkata", at(2026, 1, 15, 6, 30, 0), out, sizeof out);
	T_STREQ(out, "2026-01-15 12:00 IST");
	/* Far past the last transition: the footer's rule. */
	T_CHECK(from_wall("Europe/Berlin", at(2100, 3, 28, 2, 30, 0)) == at(2100, 3, 28, 1, 30, 0));
	T_CHECK(from_wall("Europe/Berlin", at(2100, 7, 1, 12, 0, 0)) == at(2100, 7, 1, 10, 0, 0));
	T_CHECK(from_wall("America/New_York", at(2100, 11, 7, 1, 30, 0)) == at(2100, 11, 7, 5, 30, 0));
	T_CHECK(from_wall("Australia/Sydney", at(2100, 1, 1, 12, 0, 0)) == at(2100, 1, 1, 1, 0, 0));
	tz_format("Europe/Berlin", at(2100, 7, 1, 10, 0, 0), out, sizeof out);
	T_STREQ(out, "2100-07-01 12:00 CEST");
	tz_format("America/New_York", at(2100, 1, 1, 17, 0, 0), out, sizeof out);
	T_STREQ(out, "2100-01-01 12:00 EST");
	/* NULL is UTC; the same zone is loaded once. */
	nl_tz_at(NULL, 0, &l);
	T_CHECK(l.offset == 0 && !l.dst && !strcmp(l.abbr, "UTC"));
	T_CHECK(nl_tz_get("Europe/Berlin") == nl_tz_get("Europe/Berlin"));
	/* TZ is never touched. */
	setenv("TZ", "Asia/Tokyo", 1);
	from_wall("Europe/Berlin", at(2026, 1, 1, 0, 0, 0));
	tz_format("America/New_York", 0, out, sizeof out);
	T_STREQ(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	from_wall("Europe/Berlin", at(2026, 1, 1, 0, 0, 0));
	T_CHECK(getenv("TZ") == NULL);
}

/* Every truncation and some corruptions of a real TZif file load cleanly or not at all (under ASan: no over-read). */
static void test_damaged_tzif(void)
{
	char dir[] = "/tmp/nl-tzif-XXXXXX", path[256];
	unsigned char buf[8192];
	FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
	size_t n = f ? fread(buf, 1, sizeof buf, f) : 0, loaded = 0;
	if (f)
		fclose(f);
	T_CHECK(n > 100 && mkdtemp(dir));
	setenv("TZDIR", dir, 1);
	for (size_t len = 0; len <= n; len += len < 200 ? 1 : 7) {
		for (int flip = 0; flip < 2; flip++) {
			char name[32];
			snprintf(name, sizeof name, "Z%zu_%d", len, flip);
			snprintf(path, sizeof path, "%s/%s", dir, name);
			f = fopen(path, "wb");
			fwrite(buf, 1, len, f);
			if (flip && len > 44) /* a count byte of the second header, or a type index */
				fseek(f, (long)(len * 7 / 11), SEEK_SET), fputc(0xff, f);
			fclose(f);
			const struct nl_tz *z = nl_tz_get(name);
			if (z) {
				struct nl_tz_local l;
				char out[64];
				loaded++;
				nl_tz_at(z, at(2026, 7, 1, 0, 0, 0), &l);
				nl_tz_format(z, at(2100, 1, 1, 0, 0, 0), out, sizeof out);
				nl_tz_from_wall(z, at(1900, 1, 1, 0, 0, 0));
			}
			unlink(path);
		}
	}
	/* The whole file loads, a cut-off one does not. */
	snprintf(path, sizeof path, "%s/Whole", dir);
	f = fopen(path, "wb");
	fwrite(buf, 1, n, f);
	fclose(f);
	T_CHECK(nl_tz_get("Whole") != NULL);
	T_CHECK(nl_tz_get("Z44_0") == NULL);
	printf("  %zu damaged TZif files loaded\n", loaded);
	unlink(path);
	rmdir(dir);
	unsetenv("TZDIR");
}

int main(void)
{
	test_parse_valid();
	test_parse_invalid();
	test_truncations();
	test_formats();
	test_tz_valid();
	test_tz_from_wall();
	test_tz_format_and_parse();
	test_zones();
	test_against_glibc();
	test_damaged_tzif();
	test_durations();
	return t_done();
}
