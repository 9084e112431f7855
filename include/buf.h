/* buf.h - the one growable byte buffer, and non-owning string slices. */
#ifndef NL_BUF_H
#define NL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "nl.h"

/* No buffer grows past this; hitting it is an error, not a crash. */
#define NL_BUF_MAX ((size_t)1 << 30)

/*
 * A growable byte buffer. data is never NULL and always NUL-terminated
 * (data[len] == 0). Errors are sticky: once an allocation fails or the cap
 * is hit, `failed` is set, further appends do nothing, and the owner checks
 * nl_buf_err() once at the end instead of after every append.
 * The buffer owns data; nl_buf_free() releases it.
 */
struct nl_buf {
	char *data;
	size_t len;
	size_t cap; /* 0 while data points at the shared empty string */
	bool failed;
};

/* A non-owning view of len bytes at p (not necessarily NUL-terminated). */
struct nl_str {
	const char *p;
	size_t len;
};

/* The shared empty string an unallocated buffer points at; never written (cap is 0). */
extern char nl_buf_empty[1];
#define NL_BUF_INIT {nl_buf_empty, 0, 0, false}

void nl_buf_init(struct nl_buf *b);
void nl_buf_free(struct nl_buf *b);
/* Empty the buffer but keep its memory for reuse. */
void nl_buf_reset(struct nl_buf *b);
/* Make room for n more bytes; false (and failed set) on error. */
bool nl_buf_grow(struct nl_buf *b, size_t n);
void nl_buf_add(struct nl_buf *b, const void *p, size_t n);
void nl_buf_adds(struct nl_buf *b, const char *s);
void nl_buf_addc(struct nl_buf *b, char c);
void nl_buf_addstr(struct nl_buf *b, struct nl_str s);
void nl_buf_addf(struct nl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void nl_buf_truncate(struct nl_buf *b, size_t len);
/* NL_OK, or NL_ENOMEM (with a message) if any append failed. */
enum nl_err nl_buf_err(const struct nl_buf *b);
/*
 * Hand the bytes to the caller (who frees them with free()) and leave
 * the buffer empty. Returns NULL if the buffer had failed.
 */
char *nl_buf_detach(struct nl_buf *b, size_t *len);

static inline struct nl_str nl_str_c(const char *s)
{
	struct nl_str r = {s, s ? strlen(s) : 0};
	return r;
}

static inline bool nl_str_eq(struct nl_str a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && memcmp(a.p, s, n) == 0;
}

/* A malloc'd NUL-terminated copy of n bytes at p; NULL on failure. */
char *nl_strndup(const char *p, size_t n);

#endif
