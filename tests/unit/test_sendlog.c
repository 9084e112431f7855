/* test_sendlog.c - unit tests: send log line format, scanning for resume, threads, locking, a full disk. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sendlog.h"
#include "t.h"

#define NTHREADS 4
#define NWRITES 2000

static char dir[] = "/tmp/nl-sendlog-XXXXXX";

static char *path_in(const char *name)
{
	struct nl_buf b = NL_BUF_INIT;
	nl_buf_addf(&b, "%s/%s", dir, name);
	return nl_buf_detach(&b, NULL);
}

static char *slurp(const char *path)
{
	struct nl_buf b = NL_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return nl_buf_detach(&b, NULL);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		nl_buf_add(&b, chunk, n);
	fclose(f);
	return nl_buf_detach(&b, NULL);
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* "2026-11-29T09:30:00.123Z", UTC, within a few seconds of now. */
static int time_ok(const char *s)
{
	struct tm tm = {0};
	if (strlen(s) != 24 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2) || s[19] != '.' ||
	    !digits(s + 20, 3) || s[23] != 'Z')
		return 0;
	if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	long d = (long)(timegm(&tm) - time(NULL));
	return d > -5 && d < 5;
}

/* The lines of the log at path, each with its time checked and cut off; a joined string. */
static char *lines_after_time(const char *path, int *bad_time)
{
	char *text = slurp(path), *save = NULL;
	struct nl_buf out = NL_BUF_INIT;

	*bad_time = 0;
	for (char *line = text; line && *line; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = 0;
		char *tab = strchr(line, '\t');
		if (!tab) {
			*bad_time = 1;
			continue;
		}
		*tab = 0;
		if (!time_ok(line))
			*bad_time = 1;
		nl_buf_adds(&out, tab + 1);
		nl_buf_addc(&out, '\n');
	}
	free(text);
	return nl_buf_detach(&out, NULL);
}

static void test_format(void)
{
	char *path = path_in("format.log");
	struct nl_sendlog *l = NULL;
	int bad_time;

	/* The zone must not leak into the log: UTC only. */
	setenv("TZ", "NLT+5", 1);
	tzset();
	T_CHECK(nl_sendlog_open(path, "send first-light", &l) == NL_OK);
	T_CHECK(l != NULL);
	T_CHECK(nl_sendlog_write(l, "first-light", "a@x.org", NL_EV_INTENT, 0, NULL, NULL) == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "a@x.org", NL_EV_SENT, 250, "<m1@x.org>",
				 "2.0.0 Ok: queued as 1234") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "b@x.org", NL_EV_DEFERRED, 451, "m2@x.org",
				 "4.7.1 try\tlater\nplease \\ now\r") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "c@x.org", NL_EV_FAILED, 550, "", "") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "me@x.org", NL_EV_TEST, 250, "<t@x>", "ok") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "fir\tst", "d@x\n.org", NL_EV_DEFERRED, 0, NULL,
				 "connection dropped") == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "a@x.org", NL_EV_NONE, 0, NULL, NULL) ==
		NL_EINTERNAL);
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	unsetenv("TZ");
	tzset();

	char *got = lines_after_time(path, &bad_time);
	T_CHECK(!bad_time);
	T_STREQ(got, "first-light\ta@x.org\tintent\t-\t-\t-\n"
		     "first-light\ta@x.org\tsent\t250\tm1@x.org\t2.0.0 Ok: queued as 1234\n"
		     "first-light\tb@x.org\tdeferred\t451\tm2@x.org\t4.7.1 try\\tlater\\nplease \\\\ now\\r\n"
		     "first-light\tc@x.org\tfailed\t550\t-\t-\n"
		     "first-light\tme@x.org\ttest\t250\tt@x\tok\n"
		     "fir\\tst\td@x\\n.org\tdeferred\t-\t-\tconnection dropped\n");
	free(got);

	/* The lock file names its holder. */
	char *lockpath = path_in("format.log.lock");
	char *holder = slurp(lockpath);
	char want[64];
	snprintf(want, sizeof want, "pid %ld since ", (long)getpid());
	T_CHECK(holder && strncmp(holder, want, strlen(want)) == 0);
	if (holder && strlen(holder) > strlen(want) + 24) {
		char when[25];
		memcpy(when, holder + strlen(want), 24);
		when[24] = 0;
		T_CHECK(time_ok(when));
	}
	T_CHECK(holder && strstr(holder, "Z: send first-light\n") != NULL);
	free(holder);
	free(lockpath);

	T_STREQ(nl_event_name(NL_EV_INTENT), "intent");
	T_STREQ(nl_event_name(NL_EV_FAILED), "failed");
	T_STREQ(nl_event_name((enum nl_event)42), "none");
	free(path);
}

/* A fixture: what an interrupted, resumed and re-sent run leaves behind. */
static const char fixture[] =
	"2026-11-29T09:29:00.000Z\tother-post\ta@x.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:00.500Z\tfirst-light\ta@x.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:01.000Z\tfirst-light\ta@x.org\tsent\t250\tm1@x\t2.0.0 Ok\n"
	"2026-11-29T09:30:01.100Z\tother-post\ta@x.org\tfailed\t550\t-\tno\n"
	"2026-11-29T09:30:02.000Z\tfirst-light\tb@x.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:03.000Z\tfirst-light\tc@x.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:04.000Z\tfirst-light\tc@x.org\tsent\t250\tm3@x\tOk\n"
	"this line is garbage\n"
	"2026-11-29T09:30:05.000Z\tfirst-light\td@x.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:06.000Z\tfirst-light\td@x.org\tdeferred\t451\tm4@x\t4.7.1 greylisted\\tcome back\n"
	"2026-11-29T09:30:07.000Z\tfirst-light\te@x.org\tfailed\t550\tm5@x\t5.1.1 no such user\n"
	"2026-11-29T09:30:08.000Z\tfirst-light\tF@X.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:09.000Z\tfirst-light\tf@x.ORG\tsent\t250\tm6@x\tOk\n"
	"2026-11-29T09:30:10.000Z\tfirst-light\tme@x.org\ttest\t250\tm7@x\tOk\n"
	"2026-11-29T09:30:11.000Z\tfirst-light\tg@x.org\texploded\t550\t-\t-\n"
	"2026-11-29T09:30:12.000Z\tfirst-light\th@x.org\tdeferred\t421\t-\tbusy\n"
	"2026-11-29T09:30:13.000Z\tfirst-light\th@x.org\tsent\t250\tm8@x\tOk\n"
	"2026-11-29T09:30:14.000Z\tfirst-light\ti@x.org\tfailed\t552\t-\tmailbox full\n"
	"2026-11-29T09:30:15.000Z\tfirst-light\tc@x.org\tintent\t-\t-\t-\n"
	"2026-11-29T09:30:16.000Z\tfirst-light\ti@x.org\tdeferred\t450\t-\tmailbox busy\n"
	"2026-11-29T09:30:17.000Z\tfirst-light\tk@x.org\tfailed\t550\t-\tfirst\n"
	"2026-11-29T09:30:18.000Z\tfirst-light\tk@x.org\tfailed\t553\t-\tsecond\n"
	"2026-11-29T09:30:19.000Z\tother-post\tz@x.org\tsent\t250\t-\tOk\n"
	"2026-11-29T09:30:20.000Z\tfirst-light\tj@x.org\tsent\t250\t-\tOk";

/* Run a scan with stderr captured; returns what was warned. */
static char *scan_capturing(const char *path, const char *slug, struct nl_sendstate *st, enum nl_err *r)
{
	char *errpath = path_in("stderr.txt");
	int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	dup2(fd, 2);
	close(fd);
	*r = nl_sendlog_scan(path, slug, st);
	dup2(saved, 2);
	close(saved);
	char *text = slurp(errpath);
	unlink(errpath);
	free(errpath);
	return text;
}

static void test_scan(void)
{
	char *path = path_in("fixture.log");
	struct nl_sendstate st;
	enum nl_err r;

	spit(path, fixture);
	char *warned = scan_capturing(path, "first-light", &st, &r);
	T_CHECK(r == NL_OK);
	T_CHECK(nl_addrmap_get(&st.last, "a@x.org") == NL_EV_SENT);	   /* intent then sent */
	T_CHECK(nl_addrmap_get(&st.last, "b@x.org") == NL_EV_INTENT);	   /* intent alone */
	T_CHECK(nl_addrmap_get(&st.last, "c@x.org") == NL_EV_INTENT);	   /* sent then intent */
	T_CHECK(nl_addrmap_get(&st.last, "d@x.org") == NL_EV_DEFERRED);
	T_CHECK(nl_addrmap_get(&st.last, "e@x.org") == NL_EV_FAILED);
	T_CHECK(nl_addrmap_get(&st.last, "f@x.org") == NL_EV_SENT);	   /* case folded */
	T_CHECK(nl_addrmap_get(&st.last, "F@X.ORG") == NL_EV_SENT);
	T_CHECK(nl_addrmap_get(&st.last, "h@x.org") == NL_EV_SENT);
	T_CHECK(nl_addrmap_get(&st.last, "i@x.org") == NL_EV_DEFERRED);
	T_CHECK(nl_addrmap_get(&st.last, "k@x.org") == NL_EV_FAILED);
	T_CHECK(nl_addrmap_get(&st.last, "me@x.org") == 0);		   /* test lines */
	T_CHECK(nl_addrmap_get(&st.last, "g@x.org") == 0);		   /* unknown event */
	T_CHECK(nl_addrmap_get(&st.last, "z@x.org") == 0);		   /* other post */
	T_CHECK(nl_addrmap_get(&st.last, "j@x.org") == 0);		   /* no final newline */
	T_CHECK(st.last.m.n == 9);
	T_CHECK(st.sent == 3 && st.in_doubt == 2 && st.deferred == 2 && st.failed == 2);
	T_CHECK(st.tests == 1);
	T_CHECK(st.first == 1795944600.5);	/* 2026-11-29T09:30:00.500Z */
	T_CHECK(st.last_sent == 1795944613.0); /* h's, not other-post's or j's */

	/* Those who end failed or deferred, in log order, with their last reply, unescaped. */
	T_CHECK(st.nfailures == 4);
	if (st.nfailures == 4) {
		T_STREQ(st.failures[0].rcpt, "d@x.org");
		T_STREQ(st.failures[0].detail, "4.7.1 greylisted\tcome back");
		T_CHECK(st.failures[0].code == 451 && st.failures[0].ev == NL_EV_DEFERRED);
		T_STREQ(st.failures[1].rcpt, "e@x.org");
		T_CHECK(st.failures[1].code == 550 && st.failures[1].ev == NL_EV_FAILED);
		T_STREQ(st.failures[2].rcpt, "i@x.org");
		T_STREQ(st.failures[2].detail, "mailbox busy");
		T_CHECK(st.failures[2].code == 450 && st.failures[2].ev == NL_EV_DEFERRED);
		T_STREQ(st.failures[3].rcpt, "k@x.org");
		T_STREQ(st.failures[3].detail, "second");
		T_CHECK(st.failures[3].code == 553);
	}
	/* Skipped lines are named by file and line. */
	T_CHECK(warned && strstr(warned, "fixture.log:8: malformed line") != NULL);
	T_CHECK(warned && strstr(warned, "fixture.log:15: unknown event 'exploded'") != NULL);
	T_CHECK(warned && strstr(warned, "fixture.log:24: incomplete last line") != NULL);
	free(warned);
	nl_sendstate_free(&st);

	/* Another post's view of the same file. */
	warned = scan_capturing(path, "other-post", &st, &r);
	T_CHECK(r == NL_OK && st.sent == 1 && st.failed == 1 && st.last.m.n == 2 && st.tests == 0);
	T_CHECK(st.first == 1795944540.0);
	free(warned);
	nl_sendstate_free(&st);

	/* A missing log is an empty one. */
	char *missing = path_in("missing.log");
	T_CHECK(nl_sendlog_scan(missing, "first-light", &st) == NL_OK);
	T_CHECK(st.last.m.n == 0 && st.sent == 0 && st.nfailures == 0 && st.first == 0);
	nl_sendstate_free(&st);
	free(missing);
	unlink(path);
	free(path);
}

/* More failures than are kept; the ones later sent must not take places in the list. */
static void test_scan_many_failures(void)
{
	char *path = path_in("many.log");
	struct nl_sendlog *l = NULL;
	struct nl_sendstate st;
	char rcpt[64];

	T_CHECK(nl_sendlog_open(path, NULL, &l) == NL_OK);
	for (int i = 0; i < 150; i++) {
		snprintf(rcpt, sizeof rcpt, "r%d@x.org", i);
		nl_sendlog_write(l, "p", rcpt, NL_EV_INTENT, 0, NULL, NULL);
		nl_sendlog_write(l, "p", rcpt, NL_EV_FAILED, 550, NULL, "no\tway");
	}
	for (int i = 0; i < 10; i++) {
		snprintf(rcpt, sizeof rcpt, "R%d@X.org", i);
		nl_sendlog_write(l, "p", rcpt, NL_EV_SENT, 250, NULL, NULL);
	}
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	T_CHECK(nl_sendlog_scan(path, "p", &st) == NL_OK);
	T_CHECK(st.failed == 140 && st.sent == 10);
	T_CHECK(st.nfailures == NL_SENDSTATE_MAX_FAILURES);
	if (st.nfailures) {
		T_STREQ(st.failures[0].rcpt, "r10@x.org");
		T_STREQ(st.failures[0].detail, "no\tway");
		T_STREQ(st.failures[st.nfailures - 1].rcpt, "r109@x.org");
	}
	nl_sendstate_free(&st);
	unlink(path);
	free(path);
}

struct writer {
	struct nl_sendlog *l;
	int id;
	int errors;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char rcpt[64], detail[300];

	/* Long lines with escapes, so a torn or interleaved write would show. */
	memset(detail, 'x', sizeof detail - 1);
	detail[sizeof detail - 1] = 0;
	detail[10] = '\t';
	detail[20] = '\n';
	for (int i = 0; i < NWRITES; i++) {
		snprintf(rcpt, sizeof rcpt, "t%d-%d@x.org", w->id, i);
		if (nl_sendlog_write(w->l, "threads", rcpt, NL_EV_SENT, 250, "id@x", detail))
			w->errors++;
	}
	return NULL;
}

static void test_threads(void)
{
	char *path = path_in("threads.log");
	struct nl_sendlog *l = NULL;
	struct writer w[NTHREADS];
	pthread_t th[NTHREADS];
	struct nl_sendstate st;
	size_t lines = 0, bad = 0;
	int errors = 0;

	T_CHECK(nl_sendlog_open(path, "threads", &l) == NL_OK);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct writer){l, i, 0};
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		errors += w[i].errors;
	}
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	T_CHECK(errors == 0);

	char *text = slurp(path);
	for (char *p = text, *nl; p && *p; p = nl + 1) {
		size_t tabs = 0;
		nl = strchr(p, '\n');
		if (!nl)
			break;
		for (char *q = p; q < nl; q++)
			tabs += *q == '\t';
		lines++;
		bad += tabs != 6 || nl - p < 300;
	}
	T_CHECK(lines == NTHREADS * NWRITES);
	T_CHECK(bad == 0);
	T_CHECK(text && text[strlen(text) - 1] == '\n');
	free(text);
	/* Every write landed whole: each recipient is there once. */
	T_CHECK(nl_sendlog_scan(path, "threads", &st) == NL_OK);
	T_CHECK(st.sent == NTHREADS * NWRITES && st.last.m.n == NTHREADS * NWRITES);
	nl_sendstate_free(&st);
	unlink(path);
	free(path);
}

/* In a child: try to open path; send the result code and message back through fd. */
static void child_open(const char *path, int fd)
{
	struct nl_sendlog *l = NULL;
	enum nl_err r = nl_sendlog_open(path, "send from child", &l);
	const char *msg = nl_errmsg();

	if (write(fd, msg, strlen(msg)) < 0)
		_exit(100);
	nl_sendlog_close(l);
	_exit((int)r);
}

static int open_in_child(const char *path, char *msg, size_t msgsize)
{
	int fds[2], status = -1;
	ssize_t n;

	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_open(path, fds[1]);
	}
	close(fds[1]);
	n = read(fds[0], msg, msgsize - 1);
	msg[n > 0 ? n : 0] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_lock(void)
{
	char *path = path_in("sends.log");
	struct nl_sendlog *l = NULL, *l2 = NULL;
	char msg[1024], want[64];

	T_CHECK(nl_sendlog_open(path, "send first-light", &l) == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "a@x.org", NL_EV_INTENT, 0, NULL, NULL) == NL_OK);
	T_CHECK(open_in_child(path, msg, sizeof msg) == NL_ELOCKED);
	snprintf(want, sizeof want, "(pid %ld since ", (long)getpid());
	T_CHECK(strstr(msg, want) != NULL);
	T_CHECK(strstr(msg, "sends.log is in use by another run") != NULL);
	T_CHECK(strstr(msg, ": send first-light); try again when it finishes") != NULL);
	/* flock is per open file, so a second open in this process is refused too. */
	T_CHECK(nl_sendlog_open(path, "again", &l2) == NL_ELOCKED && l2 == NULL);

	/* Close stops the flusher at once, not at its next tick. */
	usleep(100 * 1000);
	double t0 = now_mono();
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	T_CHECK(now_mono() - t0 < 0.5);

	T_CHECK(open_in_child(path, msg, sizeof msg) == NL_OK);
	T_CHECK(nl_sendlog_open(path, "send first-light", &l) == NL_OK);
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	/* The log and its lock file stay. */
	T_CHECK(access(path, F_OK) == 0);
	char *lockpath = path_in("sends.log.lock");
	T_CHECK(access(lockpath, F_OK) == 0);
	unlink(lockpath);
	free(lockpath);
	unlink(path);
	free(path);
}

/* A log on a device would be written (or read) for ever, and its lock file would land in /dev. */
static void test_not_a_regular_file(void)
{
	const char *names[] = {"full.log", "zero.log", "fifo.log", "dir.log"};
	struct nl_sendstate st;
	struct nl_sendlog *l = NULL;

	for (size_t i = 0; i < NL_ARRAY_LEN(names); i++) {
		char *path = path_in(names[i]);
		struct nl_buf lock = NL_BUF_INIT;
		int made = i == 0 ? symlink("/dev/full", path) : i == 1 ? symlink("/dev/zero", path)
					   : i == 2 ? mkfifo(path, 0600) : mkdir(path, 0700);
		T_CHECK(made == 0);
		T_CHECK(nl_sendlog_open(path, "send first-light", &l) == NL_ECANTCREAT && l == NULL);
		T_CHECK(strstr(nl_errmsg(), names[i]) != NULL);
		T_CHECK(strstr(nl_errmsg(), "must be a regular file") != NULL);
		nl_buf_addf(&lock, "%s.lock", path);
		T_CHECK(access(lock.data, F_OK) != 0);
		unlink(lock.data);
		nl_buf_free(&lock);
		T_CHECK(nl_sendlog_scan(path, "first-light", &st) == NL_ENOINPUT);
		T_CHECK(strstr(nl_errmsg(), "must be a regular file") != NULL);
		nl_sendstate_free(&st);
		if (i == 3)
			rmdir(path);
		else
			unlink(path);
		free(path);
	}
}

/* A write cut short by a full disk leaves a torn line; the next open cuts it off. */
static void test_torn_last_line(void)
{
	char *path = path_in("torn.log"), *text;
	struct nl_sendlog *l = NULL;
	struct nl_sendstate st;
	struct stat sb;

	spit(path, "2026-11-29T09:30:00.000Z\tfirst-light\ta@x.org\tintent\t-\t-\t-\n"
		   "2026-11-29T09:30:01.000Z\tfirst-li");
	T_CHECK(nl_sendlog_open(path, NULL, &l) == NL_OK);
	T_CHECK(nl_sendlog_write(l, "first-light", "a@x.org", NL_EV_SENT, 250, NULL, "Ok") == NL_OK);
	T_CHECK(nl_sendlog_close(l) == NL_OK);
	text = scan_capturing(path, "first-light", &st, &(enum nl_err){0});
	T_CHECK(st.sent == 1 && st.in_doubt == 0);
	T_CHECK(strcmp(text, "") == 0);
	nl_sendstate_free(&st);
	free(text);
	/* Not a torn record but something else: refused, left as it is. */
	const char *other = "2026-11-29T09:30:00.000Z\tfirst-light\ta@x.org\tintent\t-\t-\t-\nnot a log";
	spit(path, other);
	T_CHECK(nl_sendlog_open(path, NULL, &l) == NL_EDATA && l == NULL);
	T_CHECK(strstr(nl_errmsg(), "torn.log: ends in 9 bytes with no line end") != NULL);
	T_CHECK(stat(path, &sb) == 0 && sb.st_size == (off_t)strlen(other));
	unlink(path);
	/* A new log and its lock file are for the owner only. */
	T_CHECK(nl_sendlog_open(path, NULL, &l) == NL_OK);
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	nl_sendlog_close(l);
	unlink(path);
	free(path);
	path = path_in("torn.log.lock");
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	unlink(path);
	free(path);
}

/* An endless line costs neither memory nor the ability to stop. */
static void test_long_line_and_interrupt(void)
{
	char *path = path_in("long.log"), *text;
	static volatile sig_atomic_t stop;
	struct nl_sendstate st;
	enum nl_err r;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	T_CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	T_CHECK(pwrite(fd, "\n", 1, (1 << 20) - 1) == 1);
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND);
	dprintf(fd, "2026-11-29T09:30:00.000Z\tfirst-light\ta@x.org\tsent\t250\t-\tOk\n");
	close(fd);
	text = scan_capturing(path, "first-light", &st, &r);
	T_CHECK(r == NL_OK && st.sent == 1);
	T_CHECK(strstr(text, "long.log:1: malformed line (longer than any record)") != NULL);
	T_CHECK(strstr(text, "long.log:2") == NULL);
	nl_sendstate_free(&st);
	free(text);
	stop = 1;
	nl_sendlog_interrupt(&stop);
	T_CHECK(nl_sendlog_scan(path, "first-light", &st) == NL_EINTERRUPTED);
	nl_sendlog_interrupt(NULL);
	nl_sendstate_free(&st);
	unlink(path);
	free(path);
}

static void test_open_errors(void)
{
	struct nl_sendlog *l = (struct nl_sendlog *)1;
	char *path = path_in("no/such/dir/sends.log");

	T_CHECK(nl_sendlog_open(path, NULL, &l) == NL_ECANTCREAT && l == NULL);
	T_CHECK(strstr(nl_errmsg(), "sends.log.lock: cannot open") != NULL);
	T_CHECK(nl_sendlog_close(NULL) == NL_OK);
	free(path);
}

static void cleanup(void)
{
	const char *left[] = {"format.log", "format.log.lock", "fixture.log", "many.log.lock",
			      "threads.log.lock"};
	for (size_t i = 0; i < NL_ARRAY_LEN(left); i++) {
		char *p = path_in(left[i]);
		unlink(p);
		free(p);
	}
	if (rmdir(dir))
		printf("FAIL: %s left behind: %s\n", dir, strerror(errno));
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_format();
	test_scan();
	test_scan_many_failures();
	test_threads();
	test_lock();
	test_not_a_regular_file();
	test_torn_last_line();
	test_long_line_and_interrupt();
	test_open_errors();
	cleanup();
	return t_done();
}
