/* fuzz_sendlog.c - libFuzzer harness: the send-log reader on any bytes as a log file, and a record appended after them must read back. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "sendlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tmpfs: the log is fdatasync()ed on close, which on a disk would cost most of each run. */
static char dir[] = "/dev/shm/fuzz-sendlog-XXXXXX";
static char logpath[64], lockpath[64];

static void cleanup(void)
{
	unlink(logpath);
	unlink(lockpath);
	rmdir(dir);
}

static void setup(void)
{
	if (logpath[0])
		return;
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(logpath, sizeof logpath, "%s/sends.log", dir);
	snprintf(lockpath, sizeof lockpath, "%s/sends.log.lock", dir);
	nl_log_set_verbosity(NL_QUIET); /* bad lines are expected here: no warnings */
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

/* Both readers on the bytes as they are, through a memory file. */
static void scan_bytes(const uint8_t *data, size_t size)
{
	char path[64];
	struct nl_sendstate st;
	struct nl_campaign_log *c = NULL;
	size_t n = 0;
	int fd = memfd_create("sends.log", MFD_CLOEXEC);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (nl_sendlog_scan(path, "first-light", &st) == NL_OK) {
		if (st.nfailures > st.failed + st.deferred || st.nfailures > NL_SENDSTATE_MAX_FAILURES)
			abort();
		for (size_t i = 0; i < st.nfailures; i++)
			if (!st.failures[i].rcpt || !st.failures[i].detail)
				abort();
	}
	nl_sendstate_free(&st);
	if (nl_sendlog_campaigns(path, &c, &n) == NL_OK)
		for (size_t i = 0; i < n; i++)
			if (!c[i].slug || (c[i].stop_detail && !c[i].last_stop))
				abort();
	nl_campaign_logs_free(c, n);
	close(fd);
}

/* Whatever the file held, a record appended by a run that could open it is read back whole. */
static void append_and_reread(const uint8_t *data, size_t size)
{
	struct nl_sendlog *l;
	struct nl_sendstate st;

	write_file(logpath, data, size);
	if (nl_sendlog_open(logpath, "fuzz", &l) != NL_OK)
		return; /* a tail that is no torn record is refused, and left alone */
	if (nl_sendlog_write(l, "fuzz-probe", "probe@example.org", NL_EV_SENT, 250, "id@x", "Ok") ||
	    nl_sendlog_close(l))
		abort();
	if (nl_sendlog_scan(logpath, "fuzz-probe", &st) != NL_OK || st.sent < 1)
		abort();
	nl_sendstate_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	scan_bytes(data, size);
	append_and_reread(data, size);
	unlink(logpath);
	unlink(lockpath);
	return 0;
}
