/* ynode.c - a YAML tree from libyaml's document loader: aliases share one node, within bounds. */
#include "ynode.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "buf.h"
#include "utf8.h"

/*
 * Why two passes: libyaml's loader composes recursively (deep nesting
 * would overflow the stack) and looks anchors up linearly, so a scan of
 * the event stream first checks depth, anchors, NUL bytes and the number
 * of documents; only then does yaml_parser_load build the document.
 */
struct yload {
	const char *name, *what;
	const char *text;	 /* the input, text[0..len) */
	size_t len;
	int first_line;
	yaml_document_t doc;
	size_t nnodes;		 /* nodes in doc */
	struct nl_ynode **built; /* by node id - 1: the tree node made for it */
	size_t *size;		 /* by node id - 1: nodes when aliases are expanded; 0 while building */
	int *height;		 /* by node id - 1: levels below, through aliases */
	bool *done;		 /* by node id - 1: built completely (else an alias to it is a cycle) */
	size_t budget;		 /* the most nodes the expanded tree may have */
};

static enum nl_err yerr(const struct yload *y, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum nl_err yerr(const struct yload *y, yaml_mark_t m, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return nl_errf(NL_EDATA, "%s:%zu:%zu: %s: %s", y->name, m.line + (size_t)y->first_line,
		       m.column + 1, y->what, what);
}

static enum nl_err parser_err(const struct yload *y, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (p->error == YAML_READER_ERROR && p->problem_offset < y->len) {
		/* The reader gives an offset, not a mark. */
		int line, col;
		nl_text_pos(y->text, p->problem_offset, &line, &col);
		yaml_mark_t m = {p->problem_offset, (size_t)line - 1, (size_t)col - 1};
		return yerr(y, m, "%s (byte 0x%02X)", p->problem ? p->problem : "bad character",
			    (unsigned char)y->text[p->problem_offset]);
	}
	return yerr(y, p->problem ? p->problem_mark : p->context_mark, "%s%s%s",
		    p->problem ? p->problem : "syntax error", p->context ? " " : "",
		    p->context ? p->context : "");
}

static void parser_init(yaml_parser_t *p, const char *text, size_t len)
{
	yaml_parser_set_input_string(p, (const unsigned char *)text, len);
	yaml_parser_set_encoding(p, YAML_UTF8_ENCODING);
}

/* One event of the first pass: what the loader could not bound or would lose. */
static enum nl_err scan_event(struct yload *y, const yaml_event_t *ev, int *depth,
			      size_t *anchors, int *docs)
{
	const yaml_char_t *anchor = NULL;
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return yerr(y, ev->start_mark, "more than one document ('---' line)");
		break;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
			return yerr(y, ev->start_mark,
				    "a NUL byte (\\0) in a value is not allowed");
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		anchor = ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.anchor
							       : ev->data.mapping_start.anchor;
		if (++*depth > NL_YNODE_MAX_DEPTH)
			return yerr(y, ev->start_mark, "nested more than %d levels deep",
				    NL_YNODE_MAX_DEPTH);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		--*depth;
		break;
	default:
		break;
	}
	if (anchor && ++*anchors > NL_YNODE_MAX_ANCHORS)
		return yerr(y, ev->start_mark, "more than %d anchors (&name)", NL_YNODE_MAX_ANCHORS);
	return NL_OK;
}

static enum nl_err scan(struct yload *y, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	enum nl_err e = NL_OK;
	int depth = 0, docs = 0;
	size_t anchors = 0;
	bool end = false;
	if (!yaml_parser_initialize(&p))
		return nl_errf(NL_ENOMEM, "out of memory");
	parser_init(&p, text, len);
	while (!e && !end) {
		if (!yaml_parser_parse(&p, &ev)) {
			e = parser_err(y, &p);
			break;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		e = scan_event(y, &ev, &depth, &anchors, &docs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return e;
}

static struct nl_ynode *new_node(enum nl_ykind k)
{
	struct nl_ynode *n = calloc(1, sizeof *n);
	if (n) {
		n->kind = k;
		n->refs = 1;
	}
	return n;
}

static yaml_node_t *node_at(const struct yload *y, int id)
{
	return y->doc.nodes.start + id - 1;
}

static enum nl_err build(struct yload *y, int id, struct nl_ynode **out);

/* Account for one child: expanded size and height, within the bounds. */
static enum nl_err grow(struct yload *y, int parent, int child)
{
	size_t p = (size_t)parent - 1, c = (size_t)child - 1;
	y->size[p] += y->size[c] < y->budget ? y->size[c] : y->budget;
	if (y->height[c] + 1 > y->height[p])
		y->height[p] = y->height[c] + 1;
	if (y->size[p] > y->budget)
		return yerr(y, node_at(y, parent)->start_mark,
			    "aliases expand this past the limit of %d added nodes",
			    NL_YNODE_MAX_ALIASED);
	if (y->height[p] > NL_YNODE_MAX_DEPTH)
		return yerr(y, node_at(y, parent)->start_mark,
			    "nested more than %d levels deep through aliases", NL_YNODE_MAX_DEPTH);
	return NL_OK;
}

/* A key's text, printable for a message: at most 40 bytes, control characters as '?'. */
static void key_for_msg(const char *k, char *out, size_t cap)
{
	size_t i = 0;
	for (; k[i] && i + 1 < cap && i < 40; i++)
		out[i] = (unsigned char)k[i] < 0x20 || k[i] == 0x7f ? '?' : k[i];
	out[i] = 0;
}

struct keyref {
	const char *key;
	size_t i;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *z = b;
	int c = strcmp(x->key, z->key);
	return c ? c : (x->i > z->i) - (x->i < z->i);
}

/* Each key once per map: a repeated key is nearly always a mistake that would hide a value. */
static enum nl_err check_duplicates(struct yload *y, const yaml_node_t *yn, const struct nl_ynode *n)
{
	enum nl_err e = NL_OK;
	struct keyref *k;
	if (n->n < 2)
		return NL_OK;
	if (!(k = calloc(n->n, sizeof *k)))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++)
		k[i] = (struct keyref){n->keys[i], i};
	qsort(k, n->n, sizeof *k, keyref_cmp);
	for (size_t i = 1; i < n->n && !e; i++) {
		if (strcmp(k[i - 1].key, k[i].key))
			continue;
		char shown[48];
		const yaml_node_t *first = node_at(y, yn->data.mapping.pairs.start[k[i - 1].i].key);
		key_for_msg(k[i].key, shown, sizeof shown);
		e = yerr(y, node_at(y, yn->data.mapping.pairs.start[k[i].i].key)->start_mark,
			 "duplicate key '%s' (first on line %zu)", shown,
			 first->start_mark.line + (size_t)y->first_line);
	}
	free(k);
	return e;
}

static enum nl_err build_map(struct yload *y, int id, struct nl_ynode *n)
{
	const yaml_node_t *yn = node_at(y, id);
	size_t cap = (size_t)(yn->data.mapping.pairs.top - yn->data.mapping.pairs.start);
	enum nl_err e;
	if (cap && (!(n->keys = calloc(cap, sizeof *n->keys)) ||
		    !(n->items = calloc(cap, sizeof *n->items))))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < cap; i++) {
		const yaml_node_pair_t *pair = &yn->data.mapping.pairs.start[i];
		const yaml_node_t *k = node_at(y, pair->key);
		if (k->type != YAML_SCALAR_NODE)
			return yerr(y, k->start_mark, "a key must be a plain string");
		if (!(n->keys[i] = nl_strndup((const char *)k->data.scalar.value,
					      k->data.scalar.length)))
			return nl_errf(NL_ENOMEM, "out of memory");
		n->n = i + 1; /* so the key is freed even if its value fails */
		y->size[id - 1]++; /* the key itself */
		if ((e = build(y, pair->value, &n->items[i])))
			return e;
		if ((e = grow(y, id, pair->value)))
			return e;
	}
	return check_duplicates(y, yn, n);
}

static enum nl_err build_seq(struct yload *y, int id, struct nl_ynode *n)
{
	const yaml_node_t *yn = node_at(y, id);
	size_t cap = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
	enum nl_err e;
	if (cap && !(n->items = calloc(cap, sizeof *n->items)))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < cap; i++) {
		int child = yn->data.sequence.items.start[i];
		if ((e = build(y, child, &n->items[i])))
			return e;
		n->n = i + 1;
		if ((e = grow(y, id, child)))
			return e;
	}
	return NL_OK;
}

/*
 * The tree node for document node id, made once: an alias to it shares
 * it. The recursion follows the document's own nesting, which scan()
 * bounded, since an alias always meets a node already built (or a cycle).
 */
static enum nl_err build(struct yload *y, int id, struct nl_ynode **out)
{
	const yaml_node_t *yn = node_at(y, id);
	size_t i = (size_t)id - 1;
	struct nl_ynode *n = y->built[i];
	enum nl_err e = NL_OK;
	*out = NULL;
	if (n) {
		if (!y->done[i])
			return yerr(y, yn->start_mark,
				    "this node contains an alias to itself (*name inside &name)");
		n->refs++;
		*out = n;
		return NL_OK;
	}
	n = new_node(yn->type == YAML_SCALAR_NODE	? NL_Y_SCALAR
		     : yn->type == YAML_SEQUENCE_NODE ? NL_Y_SEQ
						       : NL_Y_MAP);
	if (!n)
		return nl_errf(NL_ENOMEM, "out of memory");
	n->line = (int)yn->start_mark.line + y->first_line;
	n->col = (int)yn->start_mark.column + 1;
	y->built[i] = n;
	*out = n;
	n->refs++; /* y->built holds one until the end */
	if (yn->type == YAML_SCALAR_NODE) {
		n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (!(n->text = nl_strndup((const char *)yn->data.scalar.value,
					   yn->data.scalar.length)))
			e = nl_errf(NL_ENOMEM, "out of memory");
	} else if (yn->type == YAML_SEQUENCE_NODE) {
		e = build_seq(y, id, n);
	} else if (yn->type == YAML_MAPPING_NODE) {
		e = build_map(y, id, n);
	} else {
		e = yerr(y, yn->start_mark, "an empty node");
	}
	y->size[i]++;
	y->done[i] = true;
	return e;
}

static enum nl_err load(struct yload *y, const char *text, size_t len, struct nl_ynode **out)
{
	yaml_parser_t p;
	enum nl_err e = NL_OK;
	if (!yaml_parser_initialize(&p))
		return nl_errf(NL_ENOMEM, "out of memory");
	parser_init(&p, text, len);
	if (!yaml_parser_load(&p, &y->doc)) {
		e = parser_err(y, &p);
		yaml_parser_delete(&p);
		return e;
	}
	yaml_parser_delete(&p);
	y->nnodes = (size_t)(y->doc.nodes.top - y->doc.nodes.start);
	if (!y->nnodes)
		return NL_OK;
	y->budget = y->nnodes + NL_YNODE_MAX_ALIASED;
	y->built = calloc(y->nnodes, sizeof *y->built);
	y->size = calloc(y->nnodes, sizeof *y->size);
	y->height = calloc(y->nnodes, sizeof *y->height);
	y->done = calloc(y->nnodes, sizeof *y->done);
	if (!y->built || !y->size || !y->height || !y->done)
		return nl_errf(NL_ENOMEM, "out of memory");
	e = build(y, 1, out);
	if (e) /* the partial tree: its nodes are all in y->built */
		*out = NULL;
	return e;
}

static void free_one(struct nl_ynode *n)
{
	for (size_t k = 0; n->keys && k < n->n; k++)
		free(n->keys[k]);
	free(n->keys);
	free(n->items);
	free(n->text);
	free(n);
}

/*
 * Drop the references y->built holds. After an error the partial tree may
 * not own what it points to, but y->built has every node once: free them
 * all from there, not through the tree.
 */
static void unload(struct yload *y, bool failed)
{
	for (size_t i = 0; y->built && i < y->nnodes; i++) {
		if (!y->built[i])
			continue;
		if (failed)
			free_one(y->built[i]);
		else
			y->built[i]->refs--;
	}
	free(y->built);
	free(y->size);
	free(y->height);
	free(y->done);
	yaml_document_delete(&y->doc);
}

enum nl_err nl_ynode_parse_as(const char *name, const char *what, const char *text, size_t len,
			      int first_line, struct nl_ynode **out)
{
	struct yload y = {.name = name, .what = what, .text = text, .len = len,
			  .first_line = first_line};
	enum nl_err e;
	*out = NULL;
	if (len > NL_YNODE_MAX_BYTES)
		return nl_errf(NL_EDATA, "%s:%d:1: %s: larger than %zu KB", name, first_line, what,
			       NL_YNODE_MAX_BYTES >> 10);
	e = scan(&y, text, len);
	if (!e)
		e = load(&y, text, len, out);
	unload(&y, e != NL_OK);
	if (!e && *out && (*out)->kind == NL_Y_SCALAR && !(*out)->text[0] && !(*out)->quoted) {
		nl_ynode_free(*out);
		*out = NULL;
	}
	if (!e && !*out && !(*out = nl_ynode_map()))
		e = nl_errf(NL_ENOMEM, "out of memory");
	if (e)
		*out = NULL;
	return e;
}

enum nl_err nl_ynode_parse(const char *name, const char *text, size_t len, int first_line,
			   struct nl_ynode **out)
{
	return nl_ynode_parse_as(name, "YAML", text, len, first_line, out);
}

void nl_ynode_free(struct nl_ynode *n)
{
	if (!n)
		return;
	if (n->refs > 1) { /* an alias still holds it */
		n->refs--;
		return;
	}
	for (size_t i = 0; i < n->n; i++)
		nl_ynode_free(n->items[i]);
	free_one(n);
}

const struct nl_ynode *nl_ynode_get(const struct nl_ynode *n, const char *key)
{
	if (!n || n->kind != NL_Y_MAP)
		return NULL;
	for (size_t i = n->n; i-- > 0;) /* the last duplicate key wins, as in YAML tools */
		if (strcmp(n->keys[i], key) == 0)
			return n->items[i];
	return NULL;
}

const struct nl_ynode *nl_ynode_path(const struct nl_ynode *n, const char *path)
{
	char key[256];
	while (n && *path) {
		const char *dot = strchr(path, '.');
		size_t k = dot ? (size_t)(dot - path) : strlen(path);
		if (k >= sizeof key)
			return NULL;
		memcpy(key, path, k);
		key[k] = 0;
		n = nl_ynode_get(n, key);
		path += k + (dot ? 1 : 0);
	}
	return n;
}

const char *nl_ynode_str(const struct nl_ynode *n)
{
	return n && n->kind == NL_Y_SCALAR ? n->text : NULL;
}

bool nl_ynode_is_true(const struct nl_ynode *n)
{
	const char *s = nl_ynode_str(n);
	if (!s || n->quoted)
		return false;
	return !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on");
}

bool nl_ynode_is_null(const struct nl_ynode *n)
{
	const char *s = nl_ynode_str(n);
	return !n || (s && !n->quoted && (!*s || !strcmp(s, "~") || !strcasecmp(s, "null")));
}

struct nl_ynode *nl_ynode_scalar(const char *text)
{
	struct nl_ynode *n = new_node(NL_Y_SCALAR);
	if (n && !(n->text = strdup(text))) {
		free(n);
		return NULL;
	}
	if (n)
		n->quoted = true;
	return n;
}

struct nl_ynode *nl_ynode_map(void)
{
	return new_node(NL_Y_MAP);
}

struct nl_ynode *nl_ynode_seq(void)
{
	return new_node(NL_Y_SEQ);
}

/* A deep copy, aliases expanded: parsing bounded how many nodes and how deep that is. */
struct nl_ynode *nl_ynode_clone(const struct nl_ynode *s)
{
	struct nl_ynode *n = s ? new_node(s->kind) : NULL;
	if (!n)
		return NULL;
	n->line = s->line;
	n->col = s->col;
	n->quoted = s->quoted;
	if (s->text && !(n->text = strdup(s->text)))
		goto fail;
	if (s->n) {
		n->items = calloc(s->n, sizeof *n->items);
		if (s->keys)
			n->keys = calloc(s->n, sizeof *n->keys);
		if (!n->items || (s->keys && !n->keys))
			goto fail;
		for (size_t i = 0; i < s->n; i++) {
			if (s->keys && !(n->keys[i] = strdup(s->keys[i])))
				goto fail;
			n->n = i + 1;
			if (!(n->items[i] = nl_ynode_clone(s->items[i])))
				goto fail;
		}
	}
	return n;
fail:
	nl_ynode_free(n);
	return NULL;
}

static enum nl_err add_child(struct nl_ynode *n, char *key, struct nl_ynode *child)
{
	struct nl_ynode **items = realloc(n->items, (n->n + 1) * sizeof *items);
	if (!items)
		return nl_errf(NL_ENOMEM, "out of memory");
	n->items = items;
	if (n->kind == NL_Y_MAP) {
		char **keys = realloc(n->keys, (n->n + 1) * sizeof *keys);
		if (!keys)
			return nl_errf(NL_ENOMEM, "out of memory");
		n->keys = keys;
		keys[n->n] = key;
	}
	items[n->n++] = child;
	return NL_OK;
}

enum nl_err nl_ynode_put(struct nl_ynode *map, const char *key, struct nl_ynode *child)
{
	char *k = NULL;
	if (!child)
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < map->n; i++) {
		if (!strcmp(map->keys[i], key)) {
			nl_ynode_free(map->items[i]);
			map->items[i] = child;
			return NL_OK;
		}
	}
	if (!(k = strdup(key)) || add_child(map, k, child)) {
		free(k);
		nl_ynode_free(child);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	return NL_OK;
}

enum nl_err nl_ynode_push(struct nl_ynode *seq, struct nl_ynode *child)
{
	if (!child)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (add_child(seq, NULL, child)) {
		nl_ynode_free(child);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	return NL_OK;
}
