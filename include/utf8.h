/* utf8.h - UTF-8 validation, positions for error messages, display width. */
#ifndef NL_UTF8_H
#define NL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * True if p[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). On failure *bad is the offset of the first bad byte.
 */
bool nl_utf8_valid(const char *p, size_t n, size_t *bad);
/* 1-based line and column (in characters) of offset off in p. */
void nl_text_pos(const char *p, size_t off, int *line, int *col);

/*
 * The code point at s[0..n) (n >= 1) in *cp; returns the bytes it takes.
 * A malformed or cut sequence counts as one byte of U+FFFD.
 */
size_t nl_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Columns c takes in a monospaced font: 2 for East Asian Wide and
 * Fullwidth, 0 for combining marks, zero-width characters and controls,
 * else 1. */
int nl_cp_width(uint32_t c);
/* Display width of s[0..n): the sum of nl_cp_width over its code points. */
size_t nl_utf8_width(const char *s, size_t n);

#endif
