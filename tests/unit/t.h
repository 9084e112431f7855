/* t.h - a tiny unit-test harness: ok/FAIL lines and a closing count. */
#ifndef NL_T_H
#define NL_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define T_CHECK(cond)                                                            \
	do {                                                                     \
		if (cond) {                                                      \
			t_pass++;                                                \
		} else {                                                         \
			t_fail++;                                                \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                \
	} while (0)

#define T_STREQ(a, b)                                                            \
	do {                                                                     \
		const char *t_a = (a), *t_b = (b);                               \
		if (t_a && t_b && strcmp(t_a, t_b) == 0) {                       \
			t_pass++;                                                \
		} else {                                                         \
			t_fail++;                                                \
			printf("FAIL %s:%d: %s == %s\n  got:      [%s]\n  expected: [%s]\n", \
			       __FILE__, __LINE__, #a, #b, t_a ? t_a : "(null)", \
			       t_b ? t_b : "(null)");                            \
		}                                                                \
	} while (0)

/* Prints the line tests/run.py reads: "N passed, N failed". */
static inline int t_done(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail ? 1 : 0;
}

/* A read-only stream over n bytes of s (a temporary file: fmemopen wants a writable buffer). */
static inline FILE *t_memfile(const char *s, size_t n)
{
	FILE *f = tmpfile();
	if (f && (fwrite(s, 1, n, f) != n || fseek(f, 0, SEEK_SET))) {
		fclose(f);
		f = NULL;
	}
	return f;
}

#endif
