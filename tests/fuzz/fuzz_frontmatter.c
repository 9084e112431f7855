/* fuzz_frontmatter.c - libFuzzer harness: a post (front matter + body) from any bytes, and the YAML tree's invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "post.h"
#include "ynode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nodes in the tree as callers walk it (aliases expanded); aborts on a broken invariant. */
static size_t walk(const struct nl_ynode *n, int depth)
{
	size_t count = 1;
	if (!n || depth > NL_YNODE_MAX_DEPTH + 1 || n->refs == 0)
		abort();
	if (n->kind == NL_Y_SCALAR && (!n->text || n->n))
		abort();
	for (size_t i = 0; i < n->n; i++) {
		if (n->kind == NL_Y_MAP && !n->keys[i])
			abort();
		/* Each key once per map. */
		for (size_t k = 0; n->kind == NL_Y_MAP && k < i && k < 64; k++)
			if (!strcmp(n->keys[k], n->keys[i]))
				abort();
		count += walk(n->items[i], depth + 1) + (n->kind == NL_Y_MAP);
	}
	return count;
}

/* A clone is the same tree, unshared. */
static void same(const struct nl_ynode *a, const struct nl_ynode *b)
{
	if (a->kind != b->kind || a->n != b->n || a->quoted != b->quoted || b->refs != 1 ||
	    (a->text && strcmp(a->text, b->text)))
		abort();
	for (size_t i = 0; i < a->n; i++) {
		if (a->kind == NL_Y_MAP && strcmp(a->keys[i], b->keys[i]))
			abort();
		same(a->items[i], b->items[i]);
	}
}

static void check_tree(const struct nl_ynode *n)
{
	size_t total = walk(n, 0);
	if (total > 4 * NL_YNODE_MAX_BYTES + NL_YNODE_MAX_ALIASED)
		abort();
	struct nl_ynode *c = nl_ynode_clone(n);
	if (c) {
		same(n, c);
		nl_ynode_free(c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_post *p = NULL;
	struct nl_ynode *y = NULL;
	if (nl_post_parse("fuzz/p.md", (const char *)data, size, &p) == NL_OK) {
		if (!p->title[0] || !p->meta || p->meta->kind != NL_Y_MAP || !nl_slug_valid(p->slug) ||
		    strlen(p->body) != p->body_len)
			abort();
		check_tree(p->meta);
		nl_post_free(p);
	} else if (p) {
		abort();
	}
	/* The same bytes as a YAML document on their own (the post needs --- fences first). */
	if (nl_ynode_parse("fuzz.yml", (const char *)data, size, 1, &y) == NL_OK) {
		check_tree(y);
		nl_ynode_free(y);
	} else if (y) {
		abort();
	}
	return 0;
}
