/* utf8.h - UTF-8 validation and positions for error messages. */
#ifndef NL_UTF8_H
#define NL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True if p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). On failure *bad is the offset of the first bad byte.
 */
bool nl_utf8_valid(const char *p, size_t n, size_t *bad);
/* 1-based line and column (in characters) of offset off in p. */
void nl_text_pos(const char *p, size_t off, int *line, int *col);

#endif
