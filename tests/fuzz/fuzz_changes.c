/* fuzz_changes.c - libFuzzer harness: the change-file reader on any bytes, and a change appended after them must read back. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "changes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tmpfs: appends are fdatasync()ed, which on a disk would cost most of each run. */
static char dir[] = "/dev/shm/fuzz-changes-XXXXXX";
static char path[64];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	if (path[0])
		return;
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	snprintf(path, sizeof path, "%s/l.csv.changes", dir);
}

/* Every line kept has the shape the reader promises. */
static void check_lines(const struct nl_changes *c)
{
	for (size_t i = 0; i < nl_changes_count(c); i++) {
		const char *when, *key, *status;
		nl_changes_line(c, i, &when, &key, &status);
		if (strlen(when) != NL_TIME_LEN || !*key || strchr(key, '\t') || strchr(key, '\n') || !*status)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_changes *c = nl_changes_new();
	size_t used;
	const char *st, *when;
	setup();
	if (!c)
		return 0;
	/* In memory, in two pieces: only whole lines are taken. */
	size_t cut = size ? data[0] % (size + 1) : 0;
	nl_changes_feed(c, (const char *)data, cut, &used);
	if (used > cut || (used && data[used - 1] != '\n'))
		abort();
	nl_changes_feed(c, (const char *)data + used, size - used, &used);
	check_lines(c);
	nl_changes_free(c);

	/* As a file (a torn last line included), then one appended change must be found. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	c = nl_changes_new();
	if (!c)
		return 0;
	if (nl_changes_read(c, path) == NL_OK) {
		check_lines(c);
		if (nl_changes_append1(path, "fuzz@example.test", "complained", 4102444800) ||
		    nl_changes_read(c, path) ||
		    !nl_changes_lookup(c, "FUZZ@example.test", "", "", &st, &when) || strcmp(st, "complained") ||
		    strcmp(when, "2100-01-01T00:00:00Z"))
			abort();
	}
	nl_changes_free(c);
	unlink(path);
	return 0;
}
