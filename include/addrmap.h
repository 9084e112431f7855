/* addrmap.h - addresses (case-insensitive) to a small state byte: the hash map with one-byte values. */
#ifndef NL_ADDRMAP_H
#define NL_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"
#include "nl.h"

/*
 * Keys are 64-bit hashes of the case-folded address, not the strings, so a
 * million addresses take about 18 MB. Two different addresses collide with
 * odds near n^2 / 2^65 (3e-8 for a million): fine for bookkeeping of who
 * was handled, and the price of memory that stays flat as lists grow.
 */
struct nl_addrmap {
	struct nl_hashmap m;	/* one-byte values; {0} is an empty map */
};

uint64_t nl_addr_hash(const char *addr);
/* The value stored for addr, or 0 if none. */
uint8_t nl_addrmap_get(const struct nl_addrmap *m, const char *addr);
uint8_t nl_addrmap_get_hash(const struct nl_addrmap *m, uint64_t h);
/* Store val (non-zero) for addr. NL_ENOMEM on allocation failure. */
enum nl_err nl_addrmap_set(struct nl_addrmap *m, const char *addr, uint8_t val);
enum nl_err nl_addrmap_set_hash(struct nl_addrmap *m, uint64_t h, uint8_t val);
/*
 * Make room for n entries at once. Growing by doubling briefly holds the old
 * and the new table together; sizing once from a known count avoids that peak.
 */
enum nl_err nl_addrmap_reserve(struct nl_addrmap *m, size_t n);
/* Start loading h's slot into the cache, for a lookup a little later. */
void nl_addrmap_prefetch(const struct nl_addrmap *m, uint64_t h);
void nl_addrmap_free(struct nl_addrmap *m);

#endif
