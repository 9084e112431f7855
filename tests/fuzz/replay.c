/* replay.c - runs a libFuzzer harness over its committed corpus, without libFuzzer, so that
 * `make check` replays every input under the sanitizers. Built once per harness with
 * -DFUZZ_NAME='"name"'; with no arguments it reads tests/fuzz/corpus/NAME/. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;
	if (!f)
		return -1;
	do {
		if (len == cap) {
			uint8_t *p = realloc(data, cap = cap ? cap * 2 : 65536);
			if (!p) {
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/" FUZZ_NAME;
	struct dirent *d;
	int passed = 0, failed = 0;
	DIR *dp = opendir(dir);
	if (!dp) {
		fprintf(stderr, "%s: cannot open the corpus\n", dir);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	while ((d = readdir(dp))) {
		char path[4096];
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		if (replay_file(path))
			failed++, fprintf(stderr, "%s: cannot read\n", path);
		else
			passed++; /* a finding aborts the process under the sanitizers */
	}
	closedir(dp);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0 || passed == 0;
}
