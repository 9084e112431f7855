/* fuzz_import.c - libFuzzer harness: each import format's reader and mapping on any bytes (a dry run). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *ctx, const struct nl_import_event *ev)
{
	size_t *n = ctx;
	if (!ev->email || !ev->detail)
		abort();
	(*n)++;
}

/* The first byte picks the format (auto, csv, substack, mailchimp, listmonk, ghost, plain). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	size_t events = 0;
	struct nl_import_stats st;
	if (!size)
		return 0;
	int fd = memfd_create("export", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data + 1, size - 1) == (ssize_t)(size - 1)) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		struct nl_import_opts o = {.list = "/tmp/nl-fuzz-import-none/list.csv", .file = path,
					   .format = (enum nl_format)(data[0] % 7), .dry_run = true,
					   .db = {.secret = "s", .list_id = "l", .now = 1700000000},
					   .report = count, .ctx = &events};
		if (!nl_import(&o, &st)) {
			size_t total = 0;
			for (size_t i = 0; i < NL_ROW_NOUTCOMES; i++)
				total += st.n[i];
			if (total != events)
				abort(); /* every row is reported once */
		}
	}
	close(fd);
	return 0;
}
