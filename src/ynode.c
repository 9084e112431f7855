/* ynode.c - build a YAML tree from libyaml's event stream, with bounded aliases. */
#include "ynode.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "buf.h"

struct anchor {
	char *name;
	struct nl_ynode *node; /* borrowed from the tree */
};

struct yparse {
	yaml_parser_t p;
	const char *name;
	int first_line;
	size_t count; /* nodes made so far, aliases expanded */
	struct anchor *anchors;
	size_t nanchors;
};

static enum nl_err build(struct yparse *y, yaml_event_t *ev, struct nl_ynode **out, int depth);

static enum nl_err yerr(struct yparse *y, size_t line0, size_t col0, const char *what)
{
	return nl_errf(NL_EDATA, "%s:%zu:%zu: %s", y->name, line0 + (size_t)y->first_line,
		       col0 + 1, what);
}

static enum nl_err next_event(struct yparse *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->p, ev))
		return NL_OK;
	const yaml_mark_t *m = y->p.problem ? &y->p.problem_mark : &y->p.context_mark;
	char what[300];
	snprintf(what, sizeof what, "YAML: %s%s%s", y->p.problem ? y->p.problem : "syntax error",
		 y->p.context ? " " : "", y->p.context ? y->p.context : "");
	return yerr(y, m->line, m->column, what);
}

static struct nl_ynode *new_node(struct yparse *y, enum nl_ykind k, const yaml_mark_t *m)
{
	if (++y->count > NL_YNODE_MAX)
		return NULL;
	struct nl_ynode *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = k;
	n->line = (int)m->line + y->first_line;
	n->col = (int)m->column + 1;
	return n;
}

static enum nl_err too_big(struct yparse *y, const yaml_mark_t *m)
{
	return yerr(y, m->line, m->column,
		    "YAML: document too large (aliases expand past the limit of nodes)");
}

static struct nl_ynode *clone(struct yparse *y, const struct nl_ynode *s)
{
	yaml_mark_t m = {0, (size_t)(s->line - y->first_line), (size_t)(s->col - 1)};
	struct nl_ynode *n = new_node(y, s->kind, &m);
	if (!n)
		return NULL;
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
			n->n = i + 1;
			if (s->keys && !(n->keys[i] = strdup(s->keys[i])))
				goto fail;
			if (!(n->items[i] = clone(y, s->items[i])))
				goto fail;
		}
	}
	return n;
fail:
	nl_ynode_free(n);
	return NULL;
}

static enum nl_err add_anchor(struct yparse *y, const yaml_char_t *name, struct nl_ynode *n)
{
	if (!name)
		return NL_OK;
	struct anchor *a = realloc(y->anchors, (y->nanchors + 1) * sizeof *a);
	if (!a)
		return nl_errf(NL_ENOMEM, "out of memory");
	y->anchors = a;
	a[y->nanchors].name = strdup((const char *)name);
	a[y->nanchors].node = n;
	if (!a[y->nanchors].name)
		return nl_errf(NL_ENOMEM, "out of memory");
	y->nanchors++;
	return NL_OK;
}

static enum nl_err alias(struct yparse *y, yaml_event_t *ev, struct nl_ynode **out)
{
	const char *name = (const char *)ev->data.alias.anchor;
	for (size_t i = y->nanchors; i-- > 0;) {
		if (strcmp(y->anchors[i].name, name) == 0) {
			*out = clone(y, y->anchors[i].node);
			return *out ? NL_OK : too_big(y, &ev->start_mark);
		}
	}
	return yerr(y, ev->start_mark.line, ev->start_mark.column, "YAML: unknown alias");
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

/* Children of a sequence or mapping, up to its end event. */
static enum nl_err build_children(struct yparse *y, struct nl_ynode *n, int depth)
{
	enum nl_err e;
	yaml_event_t ev;
	for (;;) {
		char *key = NULL;
		struct nl_ynode *child = NULL;
		if ((e = next_event(y, &ev)))
			return e;
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return NL_OK;
		}
		if (n->kind == NL_Y_MAP) {
			struct nl_ynode *k = NULL;
			if ((e = build(y, &ev, &k, depth + 1)))
				return e;
			if (k->kind != NL_Y_SCALAR) {
				e = nl_errf(NL_EDATA, "%s:%d:%d: YAML: a key must be a plain string",
					    y->name, k->line, k->col);
				nl_ynode_free(k);
				return e;
			}
			key = k->text;
			k->text = NULL;
			nl_ynode_free(k);
			if ((e = next_event(y, &ev))) {
				free(key);
				return e;
			}
		}
		if ((e = build(y, &ev, &child, depth + 1)) || (e = add_child(n, key, child))) {
			free(key);
			nl_ynode_free(child);
			return e;
		}
	}
}

/* Build the node that starts with event ev (consumed). */
static enum nl_err build(struct yparse *y, yaml_event_t *ev, struct nl_ynode **out, int depth)
{
	enum nl_err e = NL_OK;
	yaml_mark_t m = ev->start_mark;
	*out = NULL;
	if (depth > 64) {
		e = yerr(y, m.line, m.column, "YAML: nested too deeply");
	} else if (ev->type == YAML_ALIAS_EVENT) {
		e = alias(y, ev, out);
	} else if (ev->type == YAML_SCALAR_EVENT) {
		if (!(*out = new_node(y, NL_Y_SCALAR, &m)))
			e = too_big(y, &m);
		else if (!((*out)->text = nl_strndup((char *)ev->data.scalar.value,
						     ev->data.scalar.length)))
			e = nl_errf(NL_ENOMEM, "out of memory");
		else {
			(*out)->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			e = add_anchor(y, ev->data.scalar.anchor, *out);
		}
	} else if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT) {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *anchor = seq ? ev->data.sequence_start.anchor
						: ev->data.mapping_start.anchor;
		if (!(*out = new_node(y, seq ? NL_Y_SEQ : NL_Y_MAP, &m)))
			e = too_big(y, &m);
		else if (!(e = build_children(y, *out, depth)))
			e = add_anchor(y, anchor, *out);
	} else {
		e = yerr(y, m.line, m.column, "YAML: unexpected event");
	}
	yaml_event_delete(ev);
	if (e) {
		nl_ynode_free(*out);
		*out = NULL;
	}
	return e;
}

static enum nl_err parse_stream(struct yparse *y, struct nl_ynode **out)
{
	enum nl_err e;
	yaml_event_t ev;
	for (;;) {
		if ((e = next_event(y, &ev)))
			return e;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			return NL_OK;
		}
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (*out) {
			e = yerr(y, ev.start_mark.line, ev.start_mark.column,
				 "YAML: more than one document");
			yaml_event_delete(&ev);
			return e;
		}
		if ((e = build(y, &ev, out, 0)))
			return e;
	}
}

enum nl_err nl_ynode_parse(const char *name, const char *text, size_t len, int first_line,
			   struct nl_ynode **out)
{
	struct yparse y = {.name = name, .first_line = first_line};
	enum nl_err e;
	*out = NULL;
	if (!yaml_parser_initialize(&y.p))
		return nl_errf(NL_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&y.p, YAML_UTF8_ENCODING);
	e = parse_stream(&y, out);
	yaml_parser_delete(&y.p);
	for (size_t i = 0; i < y.nanchors; i++)
		free(y.anchors[i].name);
	free(y.anchors);
	if (!e && *out && (*out)->kind == NL_Y_SCALAR && !(*out)->text[0] && !(*out)->quoted) {
		nl_ynode_free(*out);
		*out = NULL;
	}
	if (!e && !*out) {
		yaml_mark_t m = {0, 0, 0};
		y.count = 0;
		if (!(*out = new_node(&y, NL_Y_MAP, &m)))
			e = nl_errf(NL_ENOMEM, "out of memory");
	}
	if (e) {
		nl_ynode_free(*out);
		*out = NULL;
	}
	return e;
}

void nl_ynode_free(struct nl_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			free(n->keys[i]);
		nl_ynode_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->text);
	free(n);
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
	struct nl_ynode *n = calloc(1, sizeof *n);
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
	struct nl_ynode *n = calloc(1, sizeof *n);
	if (n)
		n->kind = NL_Y_MAP;
	return n;
}

struct nl_ynode *nl_ynode_clone(const struct nl_ynode *s)
{
	struct yparse y = {.first_line = 0};
	return s ? clone(&y, s) : NULL;
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
