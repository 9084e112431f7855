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

static size_t slot(const uint64_t *keys, size_t cap, uint64_t h)
{
	size_t i = h & (cap - 1);
	while (keys[i] && keys[i] != h)
		i = (i + 1) & (cap - 1);
	return i;
}

static enum nl_err grow_to(struct nl_addrmap *m, size_t cap)
{
	uint64_t *keys = calloc(cap, sizeof *keys);
	uint8_t *vals = calloc(cap, 1);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return nl_errf(NL_ENOMEM, "out of memory (address map of %zu entries)", m->n);
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t j = slot(keys, cap, m->keys[i]);
			keys[j] = m->keys[i];
			vals[j] = m->vals[i];
		}
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return NL_OK;
}

static enum nl_err grow(struct nl_addrmap *m)
{
	return grow_to(m, m->cap ? m->cap * 2 : 1024);
}

enum nl_err nl_addrmap_reserve(struct nl_addrmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 1024;
	while ((n + 1) * 4 > cap * 3)
		cap *= 2;
	return cap > m->cap ? grow_to(m, cap) : NL_OK;
}

uint8_t nl_addrmap_get_hash(const struct nl_addrmap *m, uint64_t h)
{
	if (!m->cap)
		return 0;
	size_t i = slot(m->keys, m->cap, h);
	return m->keys[i] ? m->vals[i] : 0;
}

uint8_t nl_addrmap_get(const struct nl_addrmap *m, const char *addr)
{
	return nl_addrmap_get_hash(m, nl_addr_hash(addr));
}

enum nl_err nl_addrmap_set_hash(struct nl_addrmap *m, uint64_t h, uint8_t val)
{
	enum nl_err e;
	if ((m->n + 1) * 4 > m->cap * 3 && (e = grow(m)))
		return e;
	size_t i = slot(m->keys, m->cap, h);
	if (!m->keys[i]) {
		m->keys[i] = h;
		m->n++;
	}
	m->vals[i] = val;
	return NL_OK;
}

enum nl_err nl_addrmap_set(struct nl_addrmap *m, const char *addr, uint8_t val)
{
	return nl_addrmap_set_hash(m, nl_addr_hash(addr), val);
}

void nl_addrmap_prefetch(const struct nl_addrmap *m, uint64_t h)
{
	if (m->cap) {
		__builtin_prefetch(&m->keys[h & (m->cap - 1)]);
		__builtin_prefetch(&m->vals[h & (m->cap - 1)]);
	}
}

void nl_addrmap_free(struct nl_addrmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->n = m->cap = 0;
}
