/* sendlog.c - append send events to the flat log under an exclusive lock, and scan them back to resume. */
#include "sendlog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "datetime.h"
#include "log.h"

#define NFIELDS 7
#define TIME_SIZE 32	/* "2026-11-29T09:30:00.123Z" and then some */
#define MAX_WARNINGS 10 /* a corrupt log should not bury the terminal */
#define LOG_MODE 0600	/* the log names every subscriber: for the owner only */
#define MAX_TAIL 65536	/* an unterminated tail longer than any record is no torn write */
#define MAX_LINE 16384	/* four times the longest record: a longer line is skipped, not kept */

enum { F_TIME, F_SLUG, F_RCPT, F_EVENT, F_CODE, F_MSGID, F_DETAIL };

struct nl_sendlog {
	char *path;
	int fd;			/* the log, O_APPEND */
	int lockfd;		/* PATH.lock, flock()ed for as long as we are open */
	pthread_mutex_t mu;	/* guards the fields below and serialises our own write()s */
	pthread_cond_t wake;	/* wakes the flusher early: only to stop it */
	pthread_t flusher;
	bool flusher_running;
	bool stop;		/* the flusher should exit */
	bool dirty;		/* written to since the last sync began */
	int sync_errno;		/* a failed sync; sticky, as the lost data will not come back */
};

/* One parsed line: fields point into the line, unescaped. */
struct event_line {
	char *f[NFIELDS];
	double when;
	enum nl_event ev;
	int code;
	uint64_t hash; /* of the recipient */
};

struct scan {
	const char *path, *slug;
	struct nl_sendstate *st;
	size_t lineno;
	size_t nwarn;
	bool quiet;		/* the second pass: the first one has warned already */
	bool have_first;
	uint64_t fhash[NL_SENDSTATE_MAX_FAILURES]; /* recipients in st->failures */
	size_t fcap;		/* room in st->failures */
	void *ctx;		/* nl_sendlog_campaigns' list (slug NULL: every post) */
};

typedef enum nl_err (*line_fn)(struct scan *sc, const struct event_line *e);

static const char *const event_names[] = {
	[NL_EV_NONE] = "none",	   [NL_EV_INTENT] = "intent", [NL_EV_SENT] = "sent",
	[NL_EV_DEFERRED] = "deferred", [NL_EV_FAILED] = "failed", [NL_EV_TEST] = "test",
	[NL_EV_DONE] = "done",	   [NL_EV_STOPPED] = "stopped", [NL_EV_SKIPPED] = "skipped",
	[NL_EV_DOUBT] = "doubt",	   [NL_EV_BOUNCED] = "bounced", [NL_EV_COMPLAINED] = "complained",
	[NL_EV_UNSUBSCRIBED] = "unsubscribed", [NL_EV_SOFT_BOUNCED] = "soft-bounced",
};

/* Nanoseconds added to the clock for `cron --now`; set before any thread writes. */
static int64_t clock_offset;
/* Set by a signal handler to stop a long scan (nl_sendlog_interrupt); NULL: never. */
static volatile sig_atomic_t *interrupt_flag;

const char *nl_event_name(enum nl_event e)
{
	if ((unsigned)e >= NL_ARRAY_LEN(event_names))
		return "none";
	return event_names[e];
}

static enum nl_event parse_event(const char *s)
{
	for (int e = NL_EV_INTENT; e <= NL_EV_SOFT_BOUNCED; e++)
		if (strcmp(s, event_names[e]) == 0)
			return (enum nl_event)e;
	return NL_EV_NONE;
}

bool nl_event_is_campaign(enum nl_event e)
{
	return e == NL_EV_DONE || e == NL_EV_STOPPED || e == NL_EV_SKIPPED;
}

bool nl_event_is_reader(enum nl_event e)
{
	return e >= NL_EV_BOUNCED && e <= NL_EV_SOFT_BOUNCED;
}

void nl_sendlog_pretend_now(time_t now)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	clock_offset = now ? ((int64_t)now - ts.tv_sec) * 1000000000 - ts.tv_nsec : 0;
}

void nl_sendlog_interrupt(volatile sig_atomic_t *flag)
{
	interrupt_flag = flag;
}

double nl_send_rate(size_t outcomes, double first, double last)
{
	return first > 0 && last > first ? (double)outcomes / (last - first) : 0;
}

static void pretend(struct timespec *ts)
{
	int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + clock_offset;

	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
}

/* ---- writing ---- */

/* "2026-11-29T09:30:00.123Z": UTC, so logs from hosts in different zones sort and compare. */
static void format_time(char *out, size_t size)
{
	struct timespec ts;
	char s[NL_TIME_MS_LEN + 1];

	clock_gettime(CLOCK_REALTIME, &ts);
	pretend(&ts);
	nl_time_rfc3339_ms(ts.tv_sec, ts.tv_nsec, s);
	snprintf(out, size, "%s", s);
}

static char escape_char(char c)
{
	switch (c) {
	case '\\': return '\\';
	case '\t': return 't';
	case '\r': return 'r';
	case '\n': return 'n';
	}
	return 0;
}

/* One field, escaped so that every event stays one line of exactly NFIELDS fields. */
static void add_field(struct nl_buf *b, const char *s, size_t n)
{
	size_t start = 0;

	if (!n) {
		nl_buf_addc(b, '-');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char esc = escape_char(s[i]);
		if (!esc)
			continue;
		nl_buf_add(b, s + start, i - start);
		nl_buf_addc(b, '\\');
		nl_buf_addc(b, esc);
		start = i + 1;
	}
	nl_buf_add(b, s + start, n - start);
}

static void add_str_field(struct nl_buf *b, const char *s)
{
	add_field(b, s ? s : "", s ? strlen(s) : 0);
}

static enum nl_err format_line(struct nl_buf *b, const char *slug, const char *rcpt, enum nl_event ev,
			       int code, const char *msgid, const char *detail)
{
	char when[TIME_SIZE];
	size_t idlen = msgid ? strlen(msgid) : 0;

	/* Callers may hand us the header's form; the log keeps the bare id. */
	if (idlen >= 2 && msgid[0] == '<' && msgid[idlen - 1] == '>') {
		msgid++;
		idlen -= 2;
	}
	format_time(when, sizeof when);
	nl_buf_grow(b, 256);
	nl_buf_adds(b, when);
	nl_buf_addc(b, '\t');
	add_str_field(b, slug);
	nl_buf_addc(b, '\t');
	add_str_field(b, rcpt);
	nl_buf_addc(b, '\t');
	nl_buf_adds(b, nl_event_name(ev));
	nl_buf_addc(b, '\t');
	if (code > 0)
		nl_buf_addf(b, "%d", code);
	else
		nl_buf_addc(b, '-');
	nl_buf_addc(b, '\t');
	add_field(b, msgid, idlen);
	nl_buf_addc(b, '\t');
	add_str_field(b, detail);
	nl_buf_addc(b, '\n');
	return nl_buf_err(b);
}

/* 0 or an errno. A short write on a regular file only happens on the way to an error. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0 or an errno. */
static int sync_fd(int fd)
{
	while (fdatasync(fd)) {
		if (errno == EINTR)
			continue;
		/* A log on a pipe or a device (/dev/full, /dev/null) has nothing to sync. */
		if (errno == EINVAL || errno == EROFS)
			return 0;
		return errno;
	}
	return 0;
}

static enum nl_err append(struct nl_sendlog *l, const char *p, size_t n)
{
	int err = 0, sync_err;

	/*
	 * O_APPEND keeps whole lines safe against other processes; the mutex
	 * also keeps a line finished by a second write() (after a short one)
	 * from interleaving with another thread's line.
	 */
	pthread_mutex_lock(&l->mu);
	sync_err = l->sync_errno;
	if (!sync_err) {
		err = write_all(l->fd, p, n);
		l->dirty = true;
	}
	pthread_mutex_unlock(&l->mu);
	if (sync_err)
		return nl_errf(NL_EIO, "%s: cannot write: an earlier sync failed: %s", l->path,
			       strerror(sync_err));
	if (err)
		return nl_errf(NL_EIO, "%s: cannot write: %s", l->path, strerror(err));
	return NL_OK;
}

enum nl_err nl_sendlog_write(struct nl_sendlog *l, const char *slug, const char *rcpt, enum nl_event ev,
			     int code, const char *msgid, const char *detail)
{
	struct nl_buf line = NL_BUF_INIT;
	enum nl_err result;

	if (ev < NL_EV_INTENT || ev > NL_EV_SOFT_BOUNCED)
		return nl_errf(NL_EINTERNAL, "%s: cannot log event number %d", l->path, (int)ev);
	result = format_line(&line, slug, rcpt, ev, code, msgid, detail);
	if (result)
		goto out;
	result = append(l, line.data, line.len);
out:
	nl_buf_free(&line);
	return result;
}

enum nl_err nl_sendlog_append_once(const char *path, const char *slug, const char *rcpt, enum nl_event ev,
				   int code, const char *msgid, const char *detail)
{
	struct nl_buf line = NL_BUF_INIT;
	enum nl_err result = format_line(&line, slug, rcpt, ev, code, msgid, detail);
	int fd = -1, err = 0;

	if (!result && (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, LOG_MODE)) < 0)
		err = errno;
	if (!result && !err && ((err = write_all(fd, line.data, line.len)) == 0) && fdatasync(fd))
		err = errno;
	if (!result && err)
		result = nl_errf(NL_EIO, "%s: cannot write: %s", path, strerror(err));
	if (fd >= 0)
		close(fd);
	nl_buf_free(&line);
	return result;
}

enum nl_err nl_sendlog_sync(struct nl_sendlog *l)
{
	int err;

	pthread_mutex_lock(&l->mu);
	l->dirty = false;
	pthread_mutex_unlock(&l->mu);
	err = sync_fd(l->fd);
	pthread_mutex_lock(&l->mu);
	/* Linux reports a lost writeback once; remember it so no later sync looks clean. */
	if (err && !l->sync_errno)
		l->sync_errno = err;
	err = l->sync_errno;
	pthread_mutex_unlock(&l->mu);
	if (err)
		return nl_errf(NL_EIO, "%s: cannot sync: %s", l->path, strerror(err));
	return NL_OK;
}

/* ---- the flusher thread ---- */

static void *flusher_main(void *arg)
{
	struct nl_sendlog *l = arg;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		int rc = 0;
		deadline.tv_sec += 1;
		while (!l->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&l->wake, &l->mu, &deadline);
		if (l->stop || !l->dirty)
			continue;
		pthread_mutex_unlock(&l->mu);
		/* The error is kept in the log and reported by the next write. */
		nl_sendlog_sync(l);
		pthread_mutex_lock(&l->mu);
		/* After a slow sync, count the next second from now rather than catch up. */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec)
			deadline = now;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static enum nl_err start_flusher(struct nl_sendlog *l)
{
	sigset_t all, old;
	int rc;

	/* Signals (SIGINT to stop a send) belong to the thread that knows how to stop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->flusher, NULL, flusher_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return nl_errf(NL_ENOMEM, "%s: cannot start the log's flusher thread: %s", l->path,
			       strerror(rc));
	l->flusher_running = true;
	return NL_OK;
}

static void stop_flusher(struct nl_sendlog *l)
{
	if (!l->flusher_running)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->flusher, NULL);
	l->flusher_running = false;
}

/* ---- opening, locking, closing ---- */

static void free_log(struct nl_sendlog *l)
{
	stop_flusher(l);
	if (l->fd >= 0)
		close(l->fd);
	/* Closing the only descriptor of the lock file releases the flock. */
	if (l->lockfd >= 0)
		close(l->lockfd);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->mu);
	free(l->path);
	free(l);
}

static enum nl_err locked_error(const struct nl_sendlog *l)
{
	char holder[256];
	ssize_t n = pread(l->lockfd, holder, sizeof holder - 1, 0);

	holder[n > 0 ? n : 0] = 0;
	holder[strcspn(holder, "\r\n")] = 0;
	/* Empty when the holder has the lock but has not written its line yet. */
	if (!holder[0])
		return nl_errf(NL_ELOCKED, "%s is in use by another run; try again when it finishes",
			       l->path);
	return nl_errf(NL_ELOCKED, "%s is in use by another run (%s); try again when it finishes",
		       l->path, holder);
}

static enum nl_err write_holder(struct nl_sendlog *l, const char *lockpath, const char *what)
{
	struct nl_buf line = NL_BUF_INIT;
	char when[TIME_SIZE];
	enum nl_err result;
	int err;

	format_time(when, sizeof when);
	nl_buf_addf(&line, "pid %ld since %s", (long)getpid(), when);
	if (what && *what) {
		nl_buf_adds(&line, ": ");
		add_field(&line, what, strlen(what));
	}
	nl_buf_addc(&line, '\n');
	result = nl_buf_err(&line);
	if (result)
		goto out;
	err = ftruncate(l->lockfd, 0) ? errno : write_all(l->lockfd, line.data, line.len);
	if (err)
		result = nl_errf(NL_EIO, "%s: cannot write: %s", lockpath, strerror(err));
out:
	nl_buf_free(&line);
	return result;
}

static enum nl_err take_lock(struct nl_sendlog *l, const char *what)
{
	struct nl_buf lockpath = NL_BUF_INIT;
	enum nl_err result;
	int rc;

	nl_buf_addf(&lockpath, "%s.lock", l->path);
	result = nl_buf_err(&lockpath);
	if (result)
		goto out;
	l->lockfd = open(lockpath.data, O_RDWR | O_CREAT | O_CLOEXEC, LOG_MODE);
	if (l->lockfd < 0) {
		result = nl_errf(NL_ECANTCREAT, "%s: cannot open: %s", lockpath.data, strerror(errno));
		goto out;
	}
	while ((rc = flock(l->lockfd, LOCK_EX | LOCK_NB)) && errno == EINTR)
		;
	if (rc && errno == EWOULDBLOCK)
		result = locked_error(l);
	else if (rc)
		result = nl_errf(NL_EIO, "%s: cannot lock: %s", lockpath.data, strerror(errno));
	else
		result = write_holder(l, lockpath.data, what);
out:
	nl_buf_free(&lockpath);
	return result;
}

static enum nl_err new_log(const char *path, struct nl_sendlog **out)
{
	pthread_condattr_t ca;
	struct nl_sendlog *l = calloc(1, sizeof *l);

	*out = NULL;
	if (!l)
		return nl_errf(NL_ENOMEM, "out of memory");
	l->fd = l->lockfd = -1;
	l->path = strdup(path);
	if (!l->path) {
		free(l);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&l->mu, NULL);
	/* A monotonic clock, so setting the date cannot stall the flusher. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return NL_OK;
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* A log on a device, a FIFO or a directory would be read or written forever, or not at all. */
static enum nl_err check_regular(const char *path, mode_t m, enum nl_err code)
{
	if (S_ISREG(m))
		return NL_OK;
	return nl_errf(code, "%s: is %s: the send log must be a regular file (set 'log' in the config)",
		       path, file_kind(m));
}

/* 0 or an errno: the size of the unterminated tail of the log (0 if it ends in LF or is empty). */
static int tail_length(int fd, off_t size, off_t *tail)
{
	char buf[4096];
	off_t end = size;

	*tail = 0;
	while (end > 0 && size - end < MAX_TAIL) {
		size_t n = end < (off_t)sizeof buf ? (size_t)end : sizeof buf;
		ssize_t r = pread(fd, buf, n, end - (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)n)
			return r < 0 ? errno : EIO;
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				*tail = size - (end - (off_t)n + (off_t)i);
				return 0;
			}
		}
		end -= (off_t)n;
	}
	*tail = size - end;
	return 0;
}

/* True if the bytes at off begin as every record does, with a year: "2026-". */
static bool starts_like_record(int fd, off_t off)
{
	char y[5];

	if (pread(fd, y, sizeof y, off) != (ssize_t)sizeof y)
		return false;
	for (size_t i = 0; i < 4; i++)
		if (y[i] < '0' || y[i] > '9')
			return false;
	return y[4] == '-';
}

/*
 * A run stopped by a full disk or a size limit can leave part of a line: its
 * write failed, so nothing was sent on its strength. Cut it off, or the next
 * record would be glued onto it and lost to every reader.
 */
static enum nl_err cut_partial_line(struct nl_sendlog *l)
{
	off_t size = lseek(l->fd, 0, SEEK_END), tail;
	int err = size < 0 ? errno : tail_length(l->fd, size, &tail);

	if (err)
		return nl_errf(NL_EIO, "%s: cannot read: %s", l->path, strerror(err));
	if (!tail)
		return NL_OK;
	if (tail >= MAX_TAIL || !starts_like_record(l->fd, size - tail))
		return nl_errf(NL_EDATA, "%s: ends in %lld bytes with no line end: not a send log? "
			       "Move it aside or point 'log' elsewhere", l->path, (long long)tail);
	if (ftruncate(l->fd, size - tail))
		return nl_errf(NL_EIO, "%s: cannot cut off its incomplete last line: %s", l->path,
			       strerror(errno));
	nl_warn("%s: removed an incomplete last line (%lld bytes) that a run could not finish writing",
		l->path, (long long)tail);
	return NL_OK;
}

/* Open the log for appending, refusing anything but a regular file, and mend a torn last line. */
static enum nl_err open_log_fd(struct nl_sendlog *l)
{
	struct stat sb;

	/* O_RDWR to read the tail; it also cannot block on a FIFO put there after our check. */
	l->fd = open(l->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, LOG_MODE);
	if (l->fd < 0)
		return nl_errf(NL_ECANTCREAT, "%s: cannot open: %s", l->path, strerror(errno));
	if (fstat(l->fd, &sb))
		return nl_errf(NL_EIO, "%s: cannot stat: %s", l->path, strerror(errno));
	if (check_regular(l->path, sb.st_mode, NL_ECANTCREAT))
		return NL_ECANTCREAT;
	return cut_partial_line(l);
}

enum nl_err nl_sendlog_open(const char *path, const char *what, struct nl_sendlog **out)
{
	struct nl_sendlog *l;
	struct stat sb;
	enum nl_err result;

	*out = NULL;
	/* Before the lock: no /dev/null.lock beside a device. */
	if (stat(path, &sb) == 0 && (result = check_regular(path, sb.st_mode, NL_ECANTCREAT)))
		return result;
	result = new_log(path, &l);
	if (result)
		return result;
	/* Lock first: only the holder may create or touch the log. */
	result = take_lock(l, what);
	if (result)
		goto fail;
	result = open_log_fd(l);
	if (result)
		goto fail;
	result = start_flusher(l);
	if (result)
		goto fail;
	*out = l;
	return NL_OK;
fail:
	free_log(l);
	return result;
}

enum nl_err nl_sendlog_close(struct nl_sendlog *l)
{
	enum nl_err result;

	if (!l)
		return NL_OK;
	stop_flusher(l);
	result = nl_sendlog_sync(l);
	if (close(l->fd) && !result)
		result = nl_errf(NL_EIO, "%s: cannot close: %s", l->path, strerror(errno));
	l->fd = -1;
	free_log(l);
	return result;
}

/* ---- scanning ---- */

/* Undo add_field in place; "-" is the empty field. Unknown escapes stay as they are. */
static void unescape(char *s)
{
	char *w = s;

	if (s[0] == '-' && !s[1]) {
		s[0] = 0;
		return;
	}
	for (const char *r = s; *r; r++) {
		char c = r[1] == '\\' ? '\\' : r[1] == 't' ? '\t' : r[1] == 'r' ? '\r' : r[1] == 'n' ? '\n' : 0;
		if (*r == '\\' && c) {
			*w++ = c;
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

/* Seconds since the epoch for "2026-11-29T09:30:00.123Z" (the fraction optional); -1 if malformed. */
static double parse_time(const char *s)
{
	struct nl_time t;

	if (!nl_time_parse(s, strlen(s), NL_TIME_NEED_ZONE, &t))
		return -1;
	return (double)t.t + t.nsec / 1e9;
}

/* "-" is 0; else three digits, 100 to 599. -1 if malformed. */
static int parse_code(const char *s)
{
	if (strcmp(s, "-") == 0)
		return 0;
	if (strlen(s) != 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' ||
	    s[2] > '9')
		return -1;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* Split line at tabs into e->f; the number of fields (only the first NFIELDS are kept). */
static size_t split_fields(char *line, struct event_line *e)
{
	size_t n = 1;

	e->f[0] = line;
	for (char *p = strchr(line, '\t'); p; p = strchr(p + 1, '\t')) {
		if (n < NFIELDS) {
			*p = 0;
			e->f[n] = p + 1;
		}
		n++;
	}
	return n;
}

/* Parse one line (without its LF) into e; false with why filled in if it is not an event. */
static bool parse_line(char *line, struct event_line *e, char *why, size_t whysize)
{
	size_t n = split_fields(line, e);

	if (n != NFIELDS) {
		snprintf(why, whysize, "malformed line (%zu fields, expected %d)", n, NFIELDS);
		return false;
	}
	e->ev = parse_event(e->f[F_EVENT]);
	e->when = parse_time(e->f[F_TIME]);
	e->code = parse_code(e->f[F_CODE]);
	if (!e->ev)
		snprintf(why, whysize, "unknown event '%.32s'", e->f[F_EVENT]);
	else if (e->when < 0)
		snprintf(why, whysize, "malformed time '%.32s'", e->f[F_TIME]);
	else if (e->code < 0)
		snprintf(why, whysize, "malformed reply code '%.32s'", e->f[F_CODE]);
	if (!e->ev || e->when < 0 || e->code < 0)
		return false;
	for (int i = F_SLUG; i < NFIELDS; i++)
		if (i != F_EVENT && i != F_CODE)
			unescape(e->f[i]);
	if (!e->f[F_RCPT][0] && !nl_event_is_campaign(e->ev)) {
		snprintf(why, whysize, "malformed line (no recipient)");
		return false;
	}
	e->hash = e->f[F_RCPT][0] ? nl_addr_hash(e->f[F_RCPT]) : 0;
	return true;
}

static void scan_warn(struct scan *sc, const char *why)
{
	if (sc->quiet || ++sc->nwarn > MAX_WARNINGS)
		return;
	nl_warn("%s:%zu: %s; skipped", sc->path, sc->lineno, why);
}

static bool interrupted(void)
{
	return interrupt_flag && *interrupt_flag;
}

/*
 * Reads a log's lines with a cap on their length, so that memory stays
 * bounded whatever the file holds and Ctrl-C is noticed within one endless line.
 */
struct reader {
	int fd;
	char buf[2 * MAX_LINE + 1]; /* room for a whole line after any leftover, and a NUL */
	size_t pos, len;	/* the unread bytes are buf[pos, len) */
	bool eof;
};

/* One line: its text p[0, n), LF included when it has one; size is its length in the file (0: the end). */
struct line {
	char *p;
	size_t n;
	off_t size;
	bool too_long;		/* skipped unread: p is NULL */
};

/* Move the unread bytes to the front and read more. 0 or an errno. */
static int fill(struct reader *r)
{
	ssize_t got;

	memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	do
		got = read(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
	while (got < 0 && errno == EINTR && !interrupted());
	if (got < 0)
		return errno;
	r->eof = got == 0;
	r->len += (size_t)got;
	return 0;
}

static enum nl_err next_line(struct scan *sc, struct reader *r, struct line *ln)
{
	off_t skipped = 0;
	int err;

	memset(ln, 0, sizeof *ln);
	for (;;) {
		char *start = r->buf + r->pos;
		size_t avail = r->len - r->pos;
		char *lf = memchr(start, '\n', avail);

		if (interrupted())
			return nl_errf(NL_EINTERRUPTED, "%s: reading interrupted", sc->path);
		if (lf || r->eof) {
			size_t n = lf ? (size_t)(lf - start) + 1 : avail;
			r->pos += n;
			ln->size = skipped + (off_t)n;
			ln->too_long = skipped || n > MAX_LINE;
			if (!ln->too_long) {
				ln->p = start;
				ln->n = n;
			}
			return NL_OK;
		}
		if (avail >= MAX_LINE) {
			skipped += (off_t)avail;
			r->pos = r->len;
		}
		if ((err = fill(r)))
			return nl_errf(NL_EIO, "%s: cannot read: %s", sc->path, strerror(err));
	}
}

static enum nl_err scan_line(struct scan *sc, const struct line *ln, line_fn fn)
{
	struct event_line e;
	char why[128];
	char *line = ln->p;
	size_t n = ln->n;

	if (ln->too_long) {
		scan_warn(sc, "malformed line (longer than any record)");
		return NL_OK;
	}
	if (line[n - 1] != '\n') {
		scan_warn(sc, "incomplete last line (no newline at its end)");
		return NL_OK;
	}
	line[--n] = 0;
	if (memchr(line, 0, n)) {
		scan_warn(sc, "malformed line (a NUL byte)");
		return NL_OK;
	}
	/* Every line is checked, whatever its post, so each scan reports the same damage. */
	if (!parse_line(line, &e, why, sizeof why)) {
		scan_warn(sc, why);
		return NL_OK;
	}
	if (sc->slug && strcmp(e.f[F_SLUG], sc->slug) != 0)
		return NL_OK;
	return fn(sc, &e);
}

/* Run fn over each of the slug's events in the first limit bytes of fd, from its start (all of it if limit < 0). */
static enum nl_err scan_pass(struct scan *sc, int fd, line_fn fn, off_t limit, off_t *end)
{
	struct reader *r = malloc(sizeof *r); /* not calloc: the buffer needs no zeroing */
	struct line ln;
	off_t pos = 0;
	enum nl_err result = NL_OK;

	if (!r)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (lseek(fd, 0, SEEK_SET) < 0) {
		result = nl_errf(NL_EIO, "%s: cannot read: %s", sc->path, strerror(errno));
		goto out;
	}
	r->fd = fd;
	r->pos = r->len = 0;
	r->eof = false;
	sc->lineno = 0;
	while (!(result = next_line(sc, r, &ln)) && ln.size > 0) {
		if (limit >= 0 && pos + ln.size > limit)
			break;
		pos += ln.size;
		sc->lineno++;
		result = scan_line(sc, &ln, fn);
		if (result)
			break;
	}
	*end = pos;
out:
	free(r);
	return result;
}

/*
 * Open the log for reading; *fd -1 (and NL_OK) when there is none yet.
 * O_NONBLOCK so that a FIFO put where the log should be cannot hang us
 * before the check; a regular file ignores it.
 */
static enum nl_err open_for_scan(const char *path, int *fd)
{
	struct stat sb;
	enum nl_err result;

	*fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0 && errno == ENOENT)
		return NL_OK;
	if (*fd < 0)
		return nl_errf(NL_ENOINPUT, "%s: cannot read: %s", path, strerror(errno));
	if (fstat(*fd, &sb))
		result = nl_errf(NL_ENOINPUT, "%s: cannot stat: %s", path, strerror(errno));
	else
		result = check_regular(path, sb.st_mode, NL_ENOINPUT);
	if (result) {
		close(*fd);
		*fd = -1;
	}
	return result;
}

/* Keep a `stopped` line's detail until a later run begins or a `done` ends the campaign. */
static enum nl_err note_stop(struct nl_sendstate *st, const struct event_line *e)
{
	free(st->stop_detail);
	st->stop_detail = NULL;
	if (e->ev != NL_EV_STOPPED)
		return NL_OK;
	st->stop_detail = strdup(e->f[F_DETAIL]);
	return st->stop_detail ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

/* The first pass: each recipient's last event, and the totals. */
static enum nl_err tally(struct scan *sc, const struct event_line *e)
{
	struct nl_sendstate *st = sc->st;

	if (e->ev == NL_EV_TEST) {
		st->tests++;
		return NL_OK;
	}
	if (e->ev == NL_EV_STOPPED || e->ev == NL_EV_DONE)
		return note_stop(st, e);
	if (nl_event_is_campaign(e->ev))
		return NL_OK; /* about the post, not a recipient: nl_sendlog_campaigns reads them */
	if (nl_event_is_reader(e->ev)) {
		/* What came back later: counted, but the post's resume state stays as it was. */
		size_t *n[] = {&st->bounced, &st->complained, &st->unsubscribed, &st->soft_bounced};
		(*n[e->ev - NL_EV_BOUNCED])++;
		return NL_OK;
	}
	if (e->ev == NL_EV_INTENT && st->stop_detail)
		note_stop(st, e); /* a later run began: the old reason is history */
	if (e->ev == NL_EV_INTENT && !sc->have_first) {
		st->first = e->when;
		sc->have_first = true;
	}
	if (e->ev == NL_EV_SENT)
		st->last_sent = e->when;
	if (e->ev != NL_EV_INTENT)
		st->last_outcome = e->when;
	return nl_addrmap_set_hash(&st->last, e->hash, (uint8_t)e->ev);
}

static enum nl_err set_text(char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return nl_errf(NL_ENOMEM, "out of memory");
	free(*dst);
	*dst = copy;
	return NL_OK;
}

/*
 * The second pass: recipients who end failed or deferred, with the reply of
 * their last such line. Only the first pass knows who ends that way, which
 * is why there are two passes and not one unbounded list.
 */
static enum nl_err collect(struct scan *sc, const struct event_line *e)
{
	struct nl_sendstate *st = sc->st;
	struct nl_failure *fl;
	size_t i;

	if (nl_addrmap_get_hash(&st->last, e->hash) != e->ev ||
	    (e->ev != NL_EV_FAILED && e->ev != NL_EV_DEFERRED && e->ev != NL_EV_DOUBT))
		return NL_OK;
	for (i = 0; i < st->nfailures && sc->fhash[i] != e->hash; i++)
		;
	if (i == st->nfailures) {
		if (i == sc->fcap)
			return NL_OK;
		sc->fhash[i] = e->hash;
		st->nfailures++;
	}
	fl = &st->failures[i];
	fl->code = e->code;
	fl->ev = e->ev;
	if (!fl->rcpt && set_text(&fl->rcpt, e->f[F_RCPT]))
		return NL_ENOMEM;
	return set_text(&fl->detail, e->f[F_DETAIL]);
}

static void count_states(struct nl_sendstate *st)
{
	for (size_t i = 0; i < st->last.m.cap; i++) {
		if (!st->last.m.keys[i])
			continue;
		switch (st->last.m.vals[i]) {
		case NL_EV_INTENT: case NL_EV_DOUBT: st->in_doubt++; break;
		case NL_EV_SENT: st->sent++; break;
		case NL_EV_DEFERRED: st->deferred++; break;
		case NL_EV_FAILED: st->failed++; break;
		}
	}
}

static enum nl_err scan_failures(struct scan *sc, int fd, off_t end)
{
	struct nl_sendstate *st = sc->st;
	off_t ignored;

	sc->fcap = st->failed + st->deferred + st->in_doubt; /* in_doubt: `doubt` lines are listed too */
	if (sc->fcap > NL_SENDSTATE_MAX_FAILURES)
		sc->fcap = NL_SENDSTATE_MAX_FAILURES;
	if (!sc->fcap)
		return NL_OK;
	st->failures = calloc(sc->fcap, sizeof *st->failures);
	if (!st->failures)
		return nl_errf(NL_ENOMEM, "out of memory");
	sc->quiet = true;
	/* Stop where the first pass did: a run may be appending as we read. */
	return scan_pass(sc, fd, collect, end, &ignored);
}

enum nl_err nl_sendlog_scan(const char *path, const char *slug, struct nl_sendstate *st)
{
	return nl_sendlog_scan_sized(path, slug, 0, st);
}

enum nl_err nl_sendlog_scan_sized(const char *path, const char *slug, size_t expect,
				  struct nl_sendstate *st)
{
	struct scan sc = {.path = path, .slug = slug, .st = st};
	enum nl_err result;
	off_t end;
	int fd;

	memset(st, 0, sizeof *st);
	if (expect && (result = nl_addrmap_reserve(&st->last, expect)))
		return result;
	result = open_for_scan(path, &fd);
	if (result || fd < 0)
		goto out_empty;
	result = scan_pass(&sc, fd, tally, -1, &end);
	if (result)
		goto out;
	if (sc.nwarn > MAX_WARNINGS)
		nl_warn("%s: %zu more bad lines skipped", path, sc.nwarn - MAX_WARNINGS);
	count_states(st);
	result = scan_failures(&sc, fd, end);
out:
	close(fd);
out_empty:
	if (result)
		nl_sendstate_free(st);
	return result;
}

void nl_sendstate_free(struct nl_sendstate *st)
{
	for (size_t i = 0; i < st->nfailures; i++) {
		free(st->failures[i].rcpt);
		free(st->failures[i].detail);
	}
	free(st->failures);
	free(st->stop_detail);
	nl_addrmap_free(&st->last);
	memset(st, 0, sizeof *st);
}

/* ---- every post's campaign events, in one pass ---- */

struct campaigns {
	struct nl_campaign_log *v;
	size_t n, cap;
	size_t hint; /* the last post found: a log's lines come in runs of one post */
};

static struct nl_campaign_log *campaign_for(struct campaigns *c, const char *slug)
{
	if (c->hint < c->n && strcmp(c->v[c->hint].slug, slug) == 0)
		return &c->v[c->hint];
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].slug, slug) == 0)
			return &c->v[c->hint = i];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct nl_campaign_log *v = realloc(c->v, cap * sizeof *v);
		if (!v)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof c->v[c->n]);
	if (!(c->v[c->n].slug = strdup(slug)))
		return NULL;
	c->hint = c->n;
	return &c->v[c->n++];
}

static enum nl_err summarise(struct scan *sc, const struct event_line *e)
{
	struct nl_campaign_log *c;

	if (nl_event_is_reader(e->ev))
		return NL_OK; /* what came back later says nothing of the campaign's progress */
	if (!(c = campaign_for(sc->ctx, e->f[F_SLUG])))
		return nl_errf(NL_ENOMEM, "out of memory");
	if ((e->ev == NL_EV_INTENT || e->ev == NL_EV_STOPPED) && !c->started)
		c->started = e->when;
	switch (e->ev) {
	case NL_EV_SENT: c->stops = 0; break;
	case NL_EV_DONE: c->done = e->when; c->stops = 0; break;
	case NL_EV_SKIPPED: c->skipped = e->when; break;
	case NL_EV_STOPPED:
		c->stops++;
		c->last_stop = e->when;
		return set_text(&c->stop_detail, e->f[F_DETAIL]);
	default: break;
	}
	return NL_OK;
}

enum nl_err nl_sendlog_campaigns(const char *path, struct nl_campaign_log **out, size_t *n)
{
	struct campaigns c = {0};
	struct scan sc = {.path = path, .ctx = &c};
	enum nl_err result = NL_OK;
	off_t end;
	int fd;

	*out = NULL;
	*n = 0;
	result = open_for_scan(path, &fd);
	if (result || fd < 0)
		return result;
	result = scan_pass(&sc, fd, summarise, -1, &end);
	close(fd);
	if (sc.nwarn > MAX_WARNINGS)
		nl_warn("%s: %zu more bad lines skipped", path, sc.nwarn - MAX_WARNINGS);
	if (result) {
		nl_campaign_logs_free(c.v, c.n);
		return result;
	}
	*out = c.v;
	*n = c.n;
	return NL_OK;
}

void nl_campaign_logs_free(struct nl_campaign_log *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].slug);
		free(c[i].stop_detail);
	}
	free(c);
}

/* ---- every line, for whoever needs more than the summaries (inbox) ---- */

struct each {
	nl_sendlog_entry_fn fn;
	void *ctx;
};

static const char *dash_empty(const char *s)
{
	return strcmp(s, "-") ? s : "";
}

static enum nl_err each_line(struct scan *sc, const struct event_line *e)
{
	const struct each *x = sc->ctx;
	struct nl_sendlog_entry en = {e->when, e->ev, e->code, dash_empty(e->f[F_SLUG]),
				      e->f[F_RCPT], dash_empty(e->f[F_MSGID]), dash_empty(e->f[F_DETAIL])};
	return x->fn(x->ctx, &en);
}

enum nl_err nl_sendlog_each(const char *path, nl_sendlog_entry_fn fn, void *ctx)
{
	struct each x = {fn, ctx};
	struct scan sc = {.path = path, .ctx = &x};
	enum nl_err result;
	off_t end;
	int fd;

	result = open_for_scan(path, &fd);
	if (result || fd < 0)
		return result;
	result = scan_pass(&sc, fd, each_line, -1, &end);
	close(fd);
	return result;
}
