/* fuzz_date.c - libFuzzer harness: the date parser on any bytes, and format/re-parse round trips of what it takes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datetime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MIN_T (-62167219200LL)	/* 0000-01-01T00:00:00Z */
#define MAX_T 253402300799LL	/* 9999-12-31T23:59:59Z */

/* What the parser took formats and reads back as the same instant, or is outside the four-digit years. */
static void round_trip(const struct nl_time *t)
{
	char s[NL_TIME_MS_LEN + 1], d[NL_TIME_RFC5322_LEN + 1], z[80];
	struct nl_time back;
	bool in_range = t->t >= MIN_T && t->t <= MAX_T;
	if (t->nsec < 0 || t->nsec > 999999999 || t->offset < -86340 || t->offset > 86340)
		abort();
	nl_time_rfc3339(t->t, s);
	if (in_range != (s[0] != 0))
		abort();
	if (in_range && (!nl_time_parse(s, strlen(s), NL_TIME_NEED_ZONE, &back) || back.t != t->t ||
			 back.nsec || back.offset || !back.has_offset))
		abort();
	nl_time_rfc3339_ms(t->t, t->nsec, s);
	if (in_range && (!nl_time_parse(s, strlen(s), 0, &back) || back.t != t->t ||
			 back.nsec != t->nsec / 1000000 * 1000000))
		abort();
	nl_time_rfc5322(t->t, d);
	if (strlen(d) != NL_TIME_RFC5322_LEN)
		abort();
	nl_time_long_date(t->t, z, sizeof z);
	/* In a zone: a wall time that exists maps back to itself. */
	const struct nl_tz *tz = nl_tz_get("Europe/Berlin");
	if (tz && in_range) {
		struct nl_tz_local l;
		time_t u = nl_tz_from_wall(tz, t->t);
		nl_tz_at(tz, u, &l);
		time_t wall = u + l.offset;
		if (wall != t->t && (wall < t->t || wall - t->t > 7200)) /* skipped times land up to 2h later */
			abort();
		nl_tz_format(tz, u, z, sizeof z);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned flags[] = {0, NL_TIME_EXPORT, NL_TIME_NEED_ZONE, NL_TIME_EXPORT | NL_TIME_NEED_ZONE};
	/* An exact-size copy, so ASan sees a read one byte past the end. */
	char *s = malloc(size ? size : 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		struct nl_time t;
		if (nl_time_parse(s, size, flags[i], &t))
			round_trip(&t);
	}
	free(s);
	return 0;
}
