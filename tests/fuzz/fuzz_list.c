/* fuzz_list.c - libFuzzer harness: the subscriber list reader and the recipients walk on any bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "recipients.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two passes with a rewind between must give the same verdicts, row for row. */
static void walk(const char *path)
{
	struct nl_recipients_opts o = {.path = path, .secret = "s", .list_id = "l"};
	struct nl_recipients *r = NULL;
	struct nl_recipient rc;
	bool eof = false;
	unsigned char first[4096];
	size_t n = 0, m = 0;
	if (nl_recipients_open(&o, &r)) {
		nl_recipients_close(r);
		return;
	}
	while (!nl_recipients_next(r, &rc, &eof) && !eof) {
		if (rc.skip == NL_SKIP_NONE && !*rc.row->email)
			abort(); /* a recipient always has an address */
		if (strlen(nl_skip_text(rc.row, rc.skip)) == 0 && rc.skip != NL_SKIP_NONE)
			abort(); /* every reason has words */
		if (n < sizeof first)
			first[n] = (unsigned char)rc.skip;
		n++;
	}
	if (eof && !nl_recipients_rewind(r)) {
		while (!nl_recipients_next(r, &rc, &eof) && !eof) {
			if (m < sizeof first && m < n && first[m] != (unsigned char)rc.skip)
				abort();
			m++;
		}
		if (eof && m != n)
			abort();
	}
	nl_recipients_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("list", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		walk(path);
	}
	close(fd);
	return 0;
}
