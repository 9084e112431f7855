/* datetime.c - the one date parser and formatter, zones read from TZif files, durations. */
#include "datetime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400L
#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"
#define TZ_NAME_MAX 255
#define TZ_FILE_MAX (512 * 1024)	/* real TZif files are under 4 KiB */
#define MAX_DURATION (3650L * DAY)	/* ten years is more than anyone means */

/* ---- the calendar (proleptic Gregorian, any year) ---- */

static bool leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int month_days(int64_t y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return days[m - 1] + (m == 2 && leap(y));
}

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil): no timegm, no TZ. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

struct civil {
	int64_t year;
	int mon, mday, hour, min, sec, wday; /* mon 1-12, wday 0 = Sunday */
};

static void civil_from_time(int64_t t, struct civil *c)
{
	int64_t days = t / DAY, secs = t % DAY;
	if (secs < 0) {
		secs += DAY;
		days--;
	}
	c->wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	c->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = yoe + era * 400 + (c->mon <= 2);
	c->hour = (int)(secs / 3600);
	c->min = (int)(secs / 60 % 60);
	c->sec = (int)(secs % 60);
}

/* ---- parsing ---- */

struct cur {
	const char *p, *end;
};

static bool at_end(const struct cur *c)
{
	return c->p == c->end;
}

static bool peek(const struct cur *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

static bool eat(struct cur *c, const char *set)
{
	if (c->p < c->end && *c->p && strchr(set, *c->p)) {
		c->p++;
		return true;
	}
	return false;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Exactly n digits. */
static bool num(struct cur *c, int n, int *v)
{
	if (c->end - c->p < n)
		return false;
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(c->p[i]))
			return false;
		*v = *v * 10 + (c->p[i] - '0');
	}
	c->p += n;
	return true;
}

static bool word(struct cur *c, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
		return false;
	c->p += n;
	return true;
}

/* Z, or +hh:mm (exports also: UTC, GMT, +hh, +hhmm). */
static bool zone(struct cur *c, unsigned flags, struct nl_time *out)
{
	int h, m = 0;
	bool exp = flags & NL_TIME_EXPORT;
	if (eat(c, "Zz") || (exp && (word(c, "UTC") || word(c, "GMT")))) {
		out->has_offset = true;
		return true;
	}
	if (!peek(c, '+') && !peek(c, '-'))
		return false;
	int sign = *c->p++ == '-' ? -1 : 1;
	if (!num(c, 2, &h))
		return false;
	if (exp) {
		if (eat(c, ":") ? !num(c, 2, &m) : !at_end(c) && !num(c, 2, &m))
			return false;
	} else if (!eat(c, ":") || !num(c, 2, &m)) {
		return false;
	}
	if (h > 23 || m > 59)
		return false;
	out->offset = sign * (h * 3600L + m * 60L);
	out->has_offset = true;
	return true;
}

/* "hh:mm:ss[.fff]" (exports: seconds optional, ',' too) and the zone, if any. */
static bool time_of_day(struct cur *c, unsigned flags, int *h, int *mi, int *s, struct nl_time *out)
{
	bool exp = flags & NL_TIME_EXPORT;
	*s = 0;
	if (!num(c, 2, h) || !eat(c, ":") || !num(c, 2, mi) || *h > 23 || *mi > 59)
		return false;
	if (exp ? eat(c, ":") && !num(c, 2, s) : !eat(c, ":") || !num(c, 2, s))
		return false;
	if (*s > 60)
		return false;
	if (eat(c, exp ? ".," : ".")) {
		long scale = 100000000;
		if (at_end(c) || !is_digit(*c->p))
			return false;
		for (; !at_end(c) && is_digit(*c->p); c->p++, scale /= 10)
			out->nsec += (*c->p - '0') * scale;
	}
	if (exp)
		while (eat(c, " "))
			;
	return at_end(c) || zone(c, flags, out);
}

bool nl_time_parse(const char *s, size_t len, unsigned flags, struct nl_time *out)
{
	struct cur c = {s, s + len};
	int y, mo, d, h = 0, mi = 0, sec = 0;
	memset(out, 0, sizeof *out);
	if (!num(&c, 4, &y) || !eat(&c, "-") || !num(&c, 2, &mo) || !eat(&c, "-") || !num(&c, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo))
		return false;
	if (c.end - c.p >= 2 && strchr("Tt ", c.p[0]) && c.p[0] && is_digit(c.p[1])) {
		c.p++;
		if (!time_of_day(&c, flags, &h, &mi, &sec, out))
			return false;
		out->has_time = true;
	} else if (flags & NL_TIME_EXPORT) { /* "2022-05-05 UTC" */
		while (eat(&c, " "))
			;
		if (!at_end(&c) && !zone(&c, flags, out))
			return false;
	}
	if (!at_end(&c) || ((flags & NL_TIME_NEED_ZONE) && !out->has_offset))
		return false;
	out->t = (time_t)(days_from_civil(y, mo, d) * DAY + h * 3600L + mi * 60L + sec - out->offset);
	return true;
}

/* ---- formatting ---- */

static bool four_digit_year(time_t t, struct civil *c)
{
	civil_from_time((int64_t)t, c);
	return c->year >= 0 && c->year <= 9999;
}

void nl_time_rfc3339(time_t t, char out[NL_TIME_LEN + 1])
{
	struct civil c;
	out[0] = 0;
	if (four_digit_year(t, &c))
		snprintf(out, NL_TIME_LEN + 1, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)c.year, c.mon, c.mday,
			 c.hour, c.min, c.sec);
}

void nl_time_rfc3339_ms(time_t t, long nsec, char out[NL_TIME_MS_LEN + 1])
{
	struct civil c;
	out[0] = 0;
	if (four_digit_year(t, &c))
		/* The unsigned modulos only tell the compiler how wide each field is. */
		snprintf(out, NL_TIME_MS_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02u.%03luZ", (unsigned)c.year % 10000,
			 (unsigned)c.mon % 100, (unsigned)c.mday % 100, (unsigned)c.hour % 100,
			 (unsigned)c.min % 100, (unsigned)c.sec % 100, (unsigned long)nsec / 1000000 % 1000);
}

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[12] = {"January", "February", "March",	"April",
					    "May",     "June",     "July",	"August",
					    "September", "October", "November", "December"};

void nl_time_rfc5322(time_t t, char out[NL_TIME_RFC5322_LEN + 1])
{
	struct civil c;
	if (!four_digit_year(t, &c)) /* only absurd times: RFC 5322 years have four digits */
		civil_from_time(0, &c);
	snprintf(out, NL_TIME_RFC5322_LEN + 1, "%s, %02d %.3s %04d %02d:%02d:%02d +0000", wday_names[c.wday],
		 c.mday, month_names[c.mon - 1], (int)c.year, c.hour, c.min, c.sec);
}

void nl_time_long_date(time_t t, char *out, size_t size)
{
	struct civil c;
	if (!size)
		return;
	out[0] = 0;
	if (four_digit_year(t, &c))
		snprintf(out, size, "%s %d, %d", month_names[c.mon - 1], c.mday, (int)c.year);
}

/* ---- zones: the POSIX TZ rule of a TZif footer ---- */

struct rule_day {
	char kind;		/* 'J': 1-365 without Feb 29; 'N': 0-365; 'M': month.week.weekday */
	int n, m, w, d;
	long time;		/* seconds after local midnight; may be negative or past 24h */
};

struct tz_rule {
	long std_off, dst_off;	/* seconds east */
	char std_abbr[16], dst_abbr[16];
	bool has_dst;
	struct rule_day start, end;
};

/* "CET", or "<+0530>" (its contents kept). */
static bool rule_name(struct cur *c, char out[16])
{
	size_t n = 0;
	if (eat(c, "<")) {
		while (!at_end(c) && *c->p != '>') {
			if (!(is_digit(*c->p) || strchr("+-", *c->p) || ((*c->p | 32) >= 'a' && (*c->p | 32) <= 'z')) ||
			    n == 15)
				return false;
			out[n++] = *c->p++;
		}
		out[n] = 0;
		return eat(c, ">") && n >= 3;
	}
	while (!at_end(c) && (*c->p | 32) >= 'a' && (*c->p | 32) <= 'z') {
		if (n == 15)
			return false;
		out[n++] = *c->p++;
	}
	out[n] = 0;
	return n >= 3;
}

/* [+-]hh[:mm[:ss]], hours up to max. */
static bool rule_secs(struct cur *c, int max_h, long *out)
{
	int h = 0, m = 0, s = 0, sign = 1;
	if (peek(c, '+') || peek(c, '-'))
		sign = *c->p++ == '-' ? -1 : 1;
	if (!num(c, 1, &h))
		return false;
	for (int i = 0; i < 2 && !at_end(c) && is_digit(*c->p); i++)
		h = h * 10 + (*c->p++ - '0');
	if (eat(c, ":") && (!num(c, 2, &m) || (eat(c, ":") && !num(c, 2, &s))))
		return false;
	if (h > max_h || m > 59 || s > 59)
		return false;
	*out = sign * (h * 3600L + m * 60L + s);
	return true;
}

static bool rule_int(struct cur *c, int lo, int hi, int *v)
{
	*v = 0;
	if (at_end(c) || !is_digit(*c->p))
		return false;
	while (!at_end(c) && is_digit(*c->p) && *v <= hi)
		*v = *v * 10 + (*c->p++ - '0');
	return *v >= lo && *v <= hi;
}

static bool rule_day(struct cur *c, struct rule_day *r)
{
	r->time = 7200;
	if (eat(c, "J")) {
		r->kind = 'J';
		if (!rule_int(c, 1, 365, &r->n))
			return false;
	} else if (eat(c, "M")) {
		r->kind = 'M';
		if (!rule_int(c, 1, 12, &r->m) || !eat(c, ".") || !rule_int(c, 1, 5, &r->w) || !eat(c, ".") ||
		    !rule_int(c, 0, 6, &r->d))
			return false;
	} else {
		r->kind = 'N';
		if (!rule_int(c, 0, 365, &r->n))
			return false;
	}
	return !eat(c, "/") || rule_secs(c, 167, &r->time);
}

/* "CET-1CEST,M3.5.0,M10.5.0/3": offsets in POSIX are west of UTC, ours east. */
static bool rule_parse(const char *s, size_t len, struct tz_rule *r)
{
	struct cur c = {s, s + len};
	long off;
	memset(r, 0, sizeof *r);
	if (!rule_name(&c, r->std_abbr) || !rule_secs(&c, 24, &off))
		return false;
	r->std_off = -off;
	if (at_end(&c))
		return true;
	if (!rule_name(&c, r->dst_abbr))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (!at_end(&c) && !peek(&c, ',')) {
		if (!rule_secs(&c, 24, &off))
			return false;
		r->dst_off = -off;
	}
	if (at_end(&c)) { /* no dates: the US rules, as POSIX leaves it to the system */
		struct cur d = {"M3.2.0,M11.1.0", NULL};
		d.end = d.p + 14;
		return rule_day(&d, &r->start) && eat(&d, ",") && rule_day(&d, &r->end);
	}
	return eat(&c, ",") && rule_day(&c, &r->start) && eat(&c, ",") && rule_day(&c, &r->end) && at_end(&c);
}

/* Local midnight of the rule's day in year y, as days since the epoch. */
static int64_t rule_date(const struct rule_day *r, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1);
	if (r->kind == 'J')
		return jan1 + r->n - 1 + (leap(y) && r->n >= 60);
	if (r->kind == 'N')
		return jan1 + r->n;
	int64_t first = days_from_civil(y, r->m, 1);
	int wday = (int)(((first % 7) + 11) % 7);
	int day = 1 + (r->d - wday + 7) % 7 + (r->w - 1) * 7;
	while (day > month_days(y, r->m))
		day -= 7;
	return first + day - 1;
}

static void rule_at(const struct tz_rule *r, int64_t t, struct nl_tz_local *out)
{
	bool dst = false;
	if (r->has_dst) {
		struct civil c;
		civil_from_time(t + r->std_off, &c);
		int64_t start = rule_date(&r->start, c.year) * DAY + r->start.time - r->std_off;
		int64_t end = rule_date(&r->end, c.year) * DAY + r->end.time - r->dst_off;
		dst = start < end ? t >= start && t < end : !(t >= end && t < start);
	}
	out->offset = dst ? r->dst_off : r->std_off;
	out->dst = dst;
	snprintf(out->abbr, sizeof out->abbr, "%s", dst ? r->dst_abbr : r->std_abbr);
}

/* ---- zones: TZif files ---- */

struct tz_type {
	long off;
	bool dst;
	unsigned abbr;		/* index into chars */
};

struct nl_tz {
	char *name;
	size_t ntrans, ntypes, nchars;
	int64_t *trans;		/* ascending */
	unsigned char *idx;	/* the type from each transition on */
	struct tz_type *types;
	char *chars;		/* abbreviations, NUL-terminated */
	bool has_rule;
	struct tz_rule rule;	/* after the last transition */
	struct nl_tz *next;	/* the cache */
};

static const struct nl_tz tz_utc = {.name = (char[]){"UTC"}, .has_rule = true,
				    .rule = {.std_abbr = "UTC"}};

static struct nl_tz *cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
	size_t isut, isstd, leap, time, type, chars;
};

/* The six counts of a header at p, and the size of the data block after it. */
static bool tzif_header(const unsigned char *p, size_t avail, int tsize, struct tzif_counts *n, size_t *block)
{
	if (avail < 44 || memcmp(p, "TZif", 4))
		return false;
	n->isut = be32(p + 20);
	n->isstd = be32(p + 24);
	n->leap = be32(p + 28);
	n->time = be32(p + 32);
	n->type = be32(p + 36);
	n->chars = be32(p + 40);
	if (n->type == 0 || n->type > 256 || n->chars == 0 || n->time > 100000 || n->leap > 10000 ||
	    n->chars > 10000 || (n->isut && n->isut != n->type) || (n->isstd && n->isstd != n->type))
		return false;
	*block = n->time * (size_t)tsize + n->time + n->type * 6 + n->chars + n->leap * (size_t)(tsize + 4) +
		 n->isstd + n->isut;
	return *block <= avail - 44;
}

static void tz_free(struct nl_tz *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->idx);
	free(z->types);
	free(z->chars);
	free(z);
}

/* The data block at p with tsize-byte times into z. */
static bool tzif_data(struct nl_tz *z, const unsigned char *p, int tsize, const struct tzif_counts *n)
{
	z->ntrans = n->time;
	z->ntypes = n->type;
	z->nchars = n->chars;
	z->trans = calloc(n->time + 1, sizeof *z->trans);
	z->idx = calloc(n->time + 1, 1);
	z->types = calloc(n->type, sizeof *z->types);
	z->chars = calloc(n->chars + 1, 1);
	if (!z->trans || !z->idx || !z->types || !z->chars)
		return false;
	for (size_t i = 0; i < n->time; i++, p += tsize) {
		z->trans[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
		if (i && z->trans[i] <= z->trans[i - 1])
			return false;
	}
	for (size_t i = 0; i < n->time; i++)
		if ((z->idx[i] = *p++) >= n->type)
			return false;
	for (size_t i = 0; i < n->type; i++, p += 6) {
		z->types[i].off = (int32_t)be32(p);
		z->types[i].dst = p[4];
		z->types[i].abbr = p[5];
		if (p[5] >= n->chars || labs(z->types[i].off) > 26 * 3600)
			return false;
	}
	memcpy(z->chars, p, n->chars); /* the extra byte keeps the last one terminated */
	return true;
}

/* A whole TZif file: v1 data, or for v2+ the 64-bit data and the footer rule. */
static bool tzif_parse(struct nl_tz *z, const unsigned char *buf, size_t len)
{
	struct tzif_counts n;
	size_t block;
	if (!tzif_header(buf, len, 4, &n, &block))
		return false;
	if (buf[4] == 0)
		return tzif_data(z, buf + 44, 4, &n);
	const unsigned char *p2 = buf + 44 + block;
	size_t avail = len - 44 - block;
	if (!tzif_header(p2, avail, 8, &n, &block) || !tzif_data(z, p2 + 44, 8, &n))
		return false;
	const char *foot = (const char *)p2 + 44 + block, *end = (const char *)buf + len;
	if (foot >= end || *foot != '\n')
		return false;
	const char *nl = memchr(foot + 1, '\n', (size_t)(end - foot - 1));
	if (!nl)
		return false;
	/* Without a rule (an empty footer, or one we cannot read) the last transition's type holds. */
	if (nl > foot + 1)
		z->has_rule = rule_parse(foot + 1, (size_t)(nl - foot - 1), &z->rule);
	return true;
}

static bool tz_name_ok(const char *s)
{
	if (!*s || *s == '/' || strstr(s, "..") || strlen(s) > TZ_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || is_digit(*s) || strchr("/_+-", *s)))
			return false;
	return true;
}

/* Read the file of zone name; NULL if it is not one. */
static struct nl_tz *tz_load(const char *name)
{
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX];
	struct stat st;
	struct nl_tz *z = NULL;
	unsigned char *buf = NULL;
	int fd;
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : TZ_DIR_DEFAULT, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	/* zone.tab, tzdata.zi and folders live there too; only TZif files are zones. */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 44 || st.st_size > TZ_FILE_MAX ||
	    !(buf = malloc((size_t)st.st_size)) || read(fd, buf, (size_t)st.st_size) != st.st_size)
		goto out;
	if (!(z = calloc(1, sizeof *z)) || !(z->name = strdup(name)) || !tzif_parse(z, buf, (size_t)st.st_size)) {
		tz_free(z);
		z = NULL;
	}
out:
	free(buf);
	close(fd);
	return z;
}

const struct nl_tz *nl_tz_get(const char *name)
{
	struct nl_tz *z;
	if (!strcmp(name, "UTC"))
		return &tz_utc;
	if (!tz_name_ok(name))
		return NULL;
	pthread_mutex_lock(&cache_lock);
	for (z = cache; z && strcmp(z->name, name); z = z->next)
		;
	if (!z && (z = tz_load(name))) {
		z->next = cache;
		cache = z;
	}
	pthread_mutex_unlock(&cache_lock);
	return z;
}

bool nl_tz_valid(const char *name)
{
	return nl_tz_get(name) != NULL;
}

static void type_at(const struct nl_tz *z, size_t i, struct nl_tz_local *out)
{
	out->offset = z->types[i].off;
	out->dst = z->types[i].dst;
	snprintf(out->abbr, sizeof out->abbr, "%s", z->chars + z->types[i].abbr);
}

void nl_tz_at(const struct nl_tz *z, time_t t, struct nl_tz_local *out)
{
	size_t lo = 0, hi;
	if (!z)
		z = &tz_utc;
	if (!z->ntrans || t >= z->trans[z->ntrans - 1]) {
		if (z->has_rule)
			rule_at(&z->rule, (int64_t)t, out);
		else
			type_at(z, z->ntrans ? z->idx[z->ntrans - 1] : 0, out);
		return;
	}
	if (t < z->trans[0]) { /* before the first change: type 0 (RFC 8536 3.2) */
		type_at(z, 0, out);
		return;
	}
	hi = z->ntrans - 1; /* trans[lo] <= t < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	type_at(z, z->idx[lo], out);
}

static long offset_at(const struct nl_tz *z, time_t t)
{
	struct nl_tz_local l;
	nl_tz_at(z, t, &l);
	return l.offset;
}

/*
 * Try the offsets in force a day either side: each that maps back to itself
 * is a reading of the wall time. Unlike mktime's tm_isdst guesses this also
 * holds for zones that changed their standard offset.
 */
time_t nl_tz_from_wall(const struct nl_tz *z, time_t wall)
{
	long before = offset_at(z, wall - DAY), after = offset_at(z, wall + DAY);
	time_t t1 = wall - before, t2 = wall - after;
	bool ok1 = offset_at(z, t1) == before, ok2 = offset_at(z, t2) == after;
	if (ok1 && ok2)
		return t1 < t2 ? t1 : t2; /* shown twice: the first time */
	if (ok2)
		return t2;
	return t1; /* valid, or skipped: read with the offset before the jump */
}

void nl_tz_format(const struct nl_tz *z, time_t t, char *out, size_t size)
{
	struct nl_tz_local l;
	struct civil c;
	nl_tz_at(z, t, &l);
	civil_from_time((int64_t)t + l.offset, &c);
	if (c.sec)
		snprintf(out, size, "%04lld-%02d-%02d %02d:%02d:%02d %s", (long long)c.year, c.mon, c.mday, c.hour,
			 c.min, c.sec, l.abbr);
	else
		snprintf(out, size, "%04lld-%02d-%02d %02d:%02d %s", (long long)c.year, c.mon, c.mday, c.hour,
			 c.min, l.abbr);
}

bool nl_time_parse_in(const struct nl_tz *z, const char *s, time_t *out)
{
	struct nl_time pt;
	if (!nl_time_parse(s, strlen(s), 0, &pt))
		return false;
	*out = pt.has_offset ? pt.t : nl_tz_from_wall(z, pt.t);
	return true;
}

/* ---- durations ---- */

static const struct {
	char unit;
	long secs;
} units[] = {{'w', 7 * DAY}, {'d', DAY}, {'h', 3600}, {'m', 60}, {'s', 1}};

static long unit_secs(char c)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(units); i++)
		if (units[i].unit == c)
			return units[i].secs;
	return 0;
}

bool nl_duration_parse(const char *s, long *out)
{
	long total = 0;
	if (!*s)
		return false;
	while (*s) {
		char *end;
		if (!is_digit(*s))
			return false;
		errno = 0;
		long v = strtol(s, &end, 10), secs = unit_secs(*end);
		if (errno || !secs || v > MAX_DURATION / secs)
			return false;
		total += v * secs;
		if (total > MAX_DURATION)
			return false;
		for (s = end + 1; *s == ' '; s++)
			;
	}
	if (total <= 0)
		return false;
	*out = total;
	return true;
}

void nl_duration_format(long secs, char *out, size_t size)
{
	for (size_t i = 1; i < NL_ARRAY_LEN(units); i++) { /* days before weeks: "7d" reads better */
		if (secs % units[i].secs == 0) {
			snprintf(out, size, "%ld%c", secs / units[i].secs, units[i].unit);
			return;
		}
	}
}
