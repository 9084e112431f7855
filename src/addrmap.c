/* addrmap.c - open-addressing hash map of case-folded address hashes to a byte. */
#include "addrmap.h"

#include <stdlib.h>

uint64_t nl_addr_hash(const char *a)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final mix */
	for (; *a; a++) {
		unsigned char c = (unsigned char)*a;
		if (c >= 'A' && c <= 'Z')
			c += 32;
		h = (h ^ c) * 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h ? h : 1;
}

static struct nl_hashmap *map(struct nl_addrmap *m)
{
	m->m.vsize = 1; /* {0}-initialized maps are valid */
	return &m->m;
}

enum nl_err nl_addrmap_reserve(struct nl_addrmap *m, size_t n)
{
	return nl_hashmap_reserve(map(m), n);
}

uint8_t nl_addrmap_get_hash(const struct nl_addrmap *m, uint64_t h)
{
	const uint8_t *v = nl_hashmap_get(&m->m, h);
	return v ? *v : 0;
}

uint8_t nl_addrmap_get(const struct nl_addrmap *m, const char *addr)
{
	return nl_addrmap_get_hash(m, nl_addr_hash(addr));
}

enum nl_err nl_addrmap_set_hash(struct nl_addrmap *m, uint64_t h, uint8_t val)
{
	void *v;
	enum nl_err e = nl_hashmap_put(map(m), h, &v, NULL);
	if (!e)
		*(uint8_t *)v = val;
	return e;
}

enum nl_err nl_addrmap_set(struct nl_addrmap *m, const char *addr, uint8_t val)
{
	return nl_addrmap_set_hash(m, nl_addr_hash(addr), val);
}

void nl_addrmap_prefetch(const struct nl_addrmap *m, uint64_t h)
{
	nl_hashmap_prefetch(&m->m, h);
}

void nl_addrmap_free(struct nl_addrmap *m)
{
	nl_hashmap_free(&m->m);
}
