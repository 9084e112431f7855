/* hashmap.c - open-addressing hash map from 64-bit hashes to fixed-size values. */
#include "hashmap.h"

#include <stdlib.h>
#include <string.h>

static size_t slot(const uint64_t *keys, size_t cap, uint64_t key)
{
	size_t i = key & (cap - 1);
	while (keys[i] && keys[i] != key)
		i = (i + 1) & (cap - 1);
	return i;
}

static enum nl_err grow_to(struct nl_hashmap *m, size_t cap)
{
	uint64_t *keys = calloc(cap, sizeof *keys);
	unsigned char *vals = calloc(cap, m->vsize);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return nl_errf(NL_ENOMEM, "out of memory (a map of %zu entries)", m->n);
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t j = slot(keys, cap, m->keys[i]);
			keys[j] = m->keys[i];
			memcpy(vals + j * m->vsize, m->vals + i * m->vsize, m->vsize);
		}
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return NL_OK;
}

enum nl_err nl_hashmap_reserve(struct nl_hashmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 1024;
	while ((n + 1) * 4 > cap * 3)
		cap *= 2;
	return cap > m->cap ? grow_to(m, cap) : NL_OK;
}

void *nl_hashmap_get(const struct nl_hashmap *m, uint64_t key)
{
	if (!m->cap || !key)
		return NULL;
	size_t i = slot(m->keys, m->cap, key);
	return m->keys[i] ? m->vals + i * m->vsize : NULL;
}

enum nl_err nl_hashmap_put(struct nl_hashmap *m, uint64_t key, void **val, bool *added)
{
	enum nl_err e;
	bool fresh = false;
	if (!key)
		key = 1; /* 0 marks an empty slot; callers' hashes avoid it anyway */
	if ((m->n + 1) * 4 > m->cap * 3 && (e = grow_to(m, m->cap ? m->cap * 2 : 1024)))
		return e;
	size_t i = slot(m->keys, m->cap, key);
	if (!m->keys[i]) {
		m->keys[i] = key;
		m->n++;
		fresh = true;
	}
	*val = m->vals + i * m->vsize;
	if (added)
		*added = fresh;
	return NL_OK;
}

void nl_hashmap_prefetch(const struct nl_hashmap *m, uint64_t key)
{
	if (m->cap) {
		__builtin_prefetch(&m->keys[key & (m->cap - 1)]);
		__builtin_prefetch(&m->vals[(key & (m->cap - 1)) * m->vsize]);
	}
}

void nl_hashmap_each(struct nl_hashmap *m, void (*fn)(void *val, void *ctx), void *ctx)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			fn(m->vals + i * m->vsize, ctx);
}

void nl_hashmap_free(struct nl_hashmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->n = m->cap = 0;
}
