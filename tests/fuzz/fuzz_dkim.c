/* fuzz_dkim.c - libFuzzer harness: relaxed body canonicalization, in any pieces, idempotent. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The relaxed body of p[0..n), fed step bytes at a time. */
static void canon(const char *p, size_t n, size_t step, struct nl_buf *out)
{
	struct nl_dkim_body st;
	nl_dkim_body_init(&st);
	for (size_t i = 0; i < n; i += step)
		nl_dkim_body_add(&st, out, p + i, n - i < step ? n - i : step);
	nl_dkim_body_end(&st, out);
}

/*
 * The first byte picks the piece size. Whatever the bytes: the pieces do not
 * change the result (the whole-run fast path and the byte-wise path agree),
 * canonicalizing the result again changes nothing, it has no white space
 * before a CRLF, no run of two, and ends in one CRLF unless it is empty.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_buf a = NL_BUF_INIT, b = NL_BUF_INIT, c = NL_BUF_INIT;
	if (!size)
		return 0;
	size_t step = (size_t)data[0] % 13 + 1;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	canon(p, n, n ? n : 1, &a);
	canon(p, n, step, &b);
	canon(a.data, a.len, 1, &c);
	if (nl_buf_err(&a) || nl_buf_err(&b) || nl_buf_err(&c))
		abort();
	if (a.len != b.len || memcmp(a.data, b.data, a.len) || a.len != c.len ||
	    memcmp(a.data, c.data, a.len))
		abort();
	/* A bare CR is an ordinary byte: only " \r\n" is white space at a line end. */
	for (size_t i = 0; i + 1 < a.len; i++) {
		bool ws = a.data[i] == ' ' || a.data[i] == '\t';
		if (a.data[i] == '\t' || (ws && a.data[i + 1] == ' ') ||
		    (ws && i + 2 < a.len && a.data[i + 1] == '\r' && a.data[i + 2] == '\n'))
			abort();
	}
	if (a.len && (a.len < 2 || memcmp(a.data + a.len - 2, "\r\n", 2)))
		abort();
	nl_buf_free(&a);
	nl_buf_free(&b);
	nl_buf_free(&c);
	return 0;
}
