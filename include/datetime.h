/* datetime.h - the one date parser and formatter, zones from the tz database, durations. */
#ifndef NL_DATETIME_H
#define NL_DATETIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "nl.h"

#define NL_TIME_LEN 20		/* "2026-11-29T09:30:00Z" */
#define NL_TIME_MS_LEN 24	/* "2026-11-29T09:30:00.123Z" */
#define NL_TIME_RFC5322_LEN 31	/* "Sun, 29 Nov 2026 09:30:00 +0000" */

/* ---- parsing ---- */

/* What nl_time_parse read. */
struct nl_time {
	time_t t;		/* seconds since the epoch; without an offset the wall clock read as if UTC */
	long nsec;		/* the fraction of a second in nanoseconds (digits past nine are dropped) */
	long offset;		/* seconds east of UTC as written; 0 without one */
	bool has_offset;	/* Z or an offset was given: t is exact; else apply a zone (nl_tz_from_wall) */
	bool has_time;		/* a time of day was given, not just YYYY-MM-DD */
};

enum nl_time_flags {
	/*
	 * Also the shapes subscriber exports (Mailchimp, Substack, Ghost,
	 * listmonk) write: no seconds ("2022-01-01 10:00"), a ',' fraction,
	 * blanks before the zone, "UTC"/"GMT", "+hh" and "+hhmm".
	 */
	NL_TIME_EXPORT = 1 << 0,
	NL_TIME_NEED_ZONE = 1 << 1, /* a time of day and Z or an offset are required (logs) */
};

/*
 * The one date parser: RFC 3339 ("2026-11-28T07:30:00Z", "...07:30:00.25+01:00";
 * 't', 'z' and a space for 'T' too) or a bare YYYY-MM-DD (midnight), exactly
 * the len bytes at s (no blanks around; NULs are just bad bytes). Strict: real
 * calendar days (2026-02-29 is refused), hours 0-23, minutes 0-59, seconds
 * 0-60 (60 is the next minute's 00), offsets up to +-23:59, years 0000-9999.
 * Never reads past s + len. On false *out is unspecified.
 */
bool nl_time_parse(const char *s, size_t len, unsigned flags, struct nl_time *out);

/* ---- formatting (always UTC, English, whatever the locale) ---- */

/* "2026-11-29T09:30:00Z"; "" when the year is outside 0000-9999. */
void nl_time_rfc3339(time_t t, char out[NL_TIME_LEN + 1]);
/* "2026-11-29T09:30:00.123Z" (nsec cut to milliseconds); "" outside 0000-9999. */
void nl_time_rfc3339_ms(time_t t, long nsec, char out[NL_TIME_MS_LEN + 1]);
/* An RFC 5322 Date: "Sun, 29 Nov 2026 09:30:00 +0000"; the epoch's if the year is not four digits. */
void nl_time_rfc5322(time_t t, char out[NL_TIME_RFC5322_LEN + 1]);
/* "November 29, 2026": how a post's date reads in a template; "" outside 0000-9999. */
void nl_time_long_date(time_t t, char *out, size_t size);

/* ---- zones ---- */

/*
 * A zone of the system's tz database (TZDIR, else /usr/share/zoneinfo), read
 * from its TZif file (v1, or v2+ with 64-bit times and the POSIX TZ footer
 * rule for times after the last transition). Immutable once loaded and kept
 * until the program ends, so any thread may use one without locking.
 */
struct nl_tz;

/*
 * The zone called name, loaded once and cached (thread-safe); "UTC" needs no
 * tz database. NULL unless nl_tz_valid(name) and the file is a sound TZif.
 */
const struct nl_tz *nl_tz_get(const char *name);
/*
 * True if name is "UTC" or the plain relative name of a TZif file in the
 * tz database, such as "Europe/Berlin" (no "..", no leading '/').
 */
bool nl_tz_valid(const char *name);

/* The clocks of a zone at one moment. */
struct nl_tz_local {
	long offset;		/* seconds east of UTC */
	bool dst;
	char abbr[16];		/* "CEST", "+0530"; may be "" for a zone that has none */
};

/* Zone z (NULL: UTC) at moment t. */
void nl_tz_at(const struct nl_tz *z, time_t t, struct nl_tz_local *out);
/*
 * The moment at which the clocks of zone z (NULL: UTC) show the wall-clock
 * time `wall` (given as if it were UTC, as nl_time_parse returns a time
 * without an offset). A time the clocks skip at a change counts as that far
 * after the change (02:30 on a night that jumps from 02:00 to 03:00 is 03:30);
 * a time they show twice is the first.
 */
time_t nl_tz_from_wall(const struct nl_tz *z, time_t wall);
/* t in zone z (NULL: UTC) as "2026-03-29 09:00 CEST" (seconds only when not zero). */
void nl_tz_format(const struct nl_tz *z, time_t t, char *out, size_t size);
/*
 * A date as a post or the command line gives it (nl_time_parse, no flags),
 * as a moment: with an offset as it says; without one in zone z (NULL: UTC);
 * a bare YYYY-MM-DD at midnight there. False if malformed.
 */
bool nl_time_parse_in(const struct nl_tz *z, const char *s, time_t *out);

/* ---- durations ---- */

/* "7d", "36h", "90m", "45s", "2w" (or "1d12h", "1d 12h") in seconds; false unless well formed, positive, <= 10 years. */
bool nl_duration_parse(const char *s, long *out);
/* Seconds as the largest whole unit: "7d", "36h", "90m", "45s". */
void nl_duration_format(long secs, char *out, size_t size);

#endif
