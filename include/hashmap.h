/* hashmap.h - the one hash map: 64-bit keys (already hashed) to small fixed-size values. */
#ifndef NL_HASHMAP_H
#define NL_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nl.h"

/*
 * Open addressing with linear probing; keys are hashes the caller made
 * (never 0: that marks an empty slot), values are vsize bytes each, kept
 * in their own array so that a map of a million one-byte values takes
 * about 12 MB. Not thread-safe; the owner frees it with nl_hashmap_free.
 */
struct nl_hashmap {
	uint64_t *keys;		/* 0 = empty slot */
	unsigned char *vals;	/* cap * vsize bytes */
	size_t vsize, n, cap;
};

#define NL_HASHMAP_INIT(vsize) {NULL, NULL, (vsize), 0, 0}

/* The value stored for key, or NULL. Valid until the next put or reserve. */
void *nl_hashmap_get(const struct nl_hashmap *m, uint64_t key);
/* The value slot for key, inserted zero-filled if new (*added tells). NL_ENOMEM on failure. */
enum nl_err nl_hashmap_put(struct nl_hashmap *m, uint64_t key, void **val, bool *added);
/* Make room for n entries at once, so that growing never holds two tables while a list streams. */
enum nl_err nl_hashmap_reserve(struct nl_hashmap *m, size_t n);
/* Start loading key's slot into the cache, for a lookup a little later. */
void nl_hashmap_prefetch(const struct nl_hashmap *m, uint64_t key);
/* Call fn on every value (to clear per-pass bits, say). */
void nl_hashmap_each(struct nl_hashmap *m, void (*fn)(void *val, void *ctx), void *ctx);
void nl_hashmap_free(struct nl_hashmap *m);

#endif
