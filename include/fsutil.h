/* fsutil.h - files written whole or not at all, and folders made on demand. */
#ifndef NL_FSUTIL_H
#define NL_FSUTIL_H

#include <stddef.h>

#include "nl.h"

/* mkdir -p: make path and its parents (mode 0755). */
enum nl_err nl_mkdirs(const char *path);
/*
 * Write len bytes to path atomically: a temporary file in the same folder,
 * fsync, rename over path. On any failure (a full disk included) the old
 * file, if any, is untouched and the temporary file is removed.
 */
enum nl_err nl_write_atomic(const char *path, const void *data, size_t len);

/*
 * The same through the temporary name tmp (same folder), without the fsync:
 * for many files that one syncfs() then makes durable together (the site).
 * A reader sees the old file or the new one, never a part.
 */
enum nl_err nl_write_replace(const char *path, const char *tmp, const void *data, size_t len);

/* The number of lines in path (newlines, plus a last line without one). */
enum nl_err nl_count_lines(const char *path, size_t *n);

#endif
