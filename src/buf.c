/* buf.c - the growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

char nl_buf_empty[1];

void nl_buf_init(struct nl_buf *b)
{
	b->data = nl_buf_empty;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void nl_buf_free(struct nl_buf *b)
{
	if (b->cap)
		free(b->data);
	nl_buf_init(b);
}

void nl_buf_reset(struct nl_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->cap)
		b->data[0] = 0;
}

bool nl_buf_grow(struct nl_buf *b, size_t n)
{
	if (b->failed)
		return false;
	if (n > NL_BUF_MAX - b->len - 1) {
		b->failed = true;
		return false;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > NL_BUF_MAX / 2 ? NL_BUF_MAX : cap * 2;
	char *p = realloc(b->cap ? b->data : NULL, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	if (!b->cap)
		p[0] = 0;
	b->data = p;
	b->cap = cap;
	return true;
}

void nl_buf_add(struct nl_buf *b, const void *p, size_t n)
{
	if (!n || !nl_buf_grow(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void nl_buf_adds(struct nl_buf *b, const char *s)
{
	nl_buf_add(b, s, strlen(s));
}

void nl_buf_addc(struct nl_buf *b, char c)
{
	if (!nl_buf_grow(b, 1))
		return;
	b->data[b->len++] = c;
	b->data[b->len] = 0;
}

void nl_buf_addstr(struct nl_buf *b, struct nl_str s)
{
	nl_buf_add(b, s.p, s.len);
}

void nl_buf_addf(struct nl_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		nl_buf_add(b, small, (size_t)n);
		return;
	}
	if (!nl_buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void nl_buf_truncate(struct nl_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = 0;
	}
}

enum nl_err nl_buf_err(const struct nl_buf *b)
{
	if (b->failed)
		return nl_errf(NL_ENOMEM, "out of memory (or a buffer passed %zu bytes)",
			       (size_t)NL_BUF_MAX);
	return NL_OK;
}

char *nl_buf_detach(struct nl_buf *b, size_t *len)
{
	char *p;

	if (b->failed) {
		nl_buf_free(b);
		return NULL;
	}
	p = b->cap ? b->data : nl_strndup("", 0);
	if (len)
		*len = b->len;
	nl_buf_init(b);
	return p;
}

char *nl_strndup(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = 0;
	return s;
}
