/* recipients.c - the one walk of a list that says who gets a post, with audiences and the log's state. */
#include "recipients.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "ynode.h"

/* Bits beside the log's last event (low four bits) in the address map. */
#define EV_MASK 0x0f
#define SEEN 0x80	/* an earlier row of this pass had the address */
#define SUPPRESSED 0x40 /* some row of the list suppresses the address */

struct rule {
	int col;
	const char **vals;	/* point into the post's front matter */
	size_t nvals;
};

struct nl_recipients {
	struct nl_recipients_opts o;
	struct nl_list *list;
	struct nl_addrmap own;		/* when the caller lends no state */
	struct nl_addrmap *map;
	struct rule *rules;
	size_t nrules;
	struct nl_buf audience;		/* "tier: paid; tags: founding" */
	size_t rows;
};

/* ---- audiences ---- */

static enum nl_err bad_audience(const struct nl_recipients *r, const struct nl_ynode *n, const char *what,
				const char *arg)
{
	return nl_errf(NL_EDATA, "%s:%d:%d: audience: %s%s", r->o.post->path, n->line, n->col, what, arg);
}

static enum nl_err add_rule(struct nl_recipients *r, const char *key, const struct nl_ynode *v)
{
	struct rule *ru = &r->rules[r->nrules];
	int col = nl_list_col(r->list, key);
	if (col < 0 || col == NL_COL_EMAIL || col == NL_COL_TOKEN)
		return nl_errf(NL_EDATA, "%s:%d:%d: audience: no column '%s' in %s", r->o.post->path, v->line,
			       v->col, key, r->o.path);
	size_t n = v->kind == NL_Y_SEQ ? v->n : 1;
	if (!n)
		return bad_audience(r, v, "an empty list of values for ", key);
	if (!(ru->vals = calloc(n, sizeof *ru->vals)))
		return nl_errf(NL_ENOMEM, "out of memory");
	ru->col = col;
	r->nrules++;
	nl_buf_addf(&r->audience, "%s%s:", r->nrules > 1 ? "; " : "", key);
	for (size_t i = 0; i < n; i++) {
		const struct nl_ynode *s = v->kind == NL_Y_SEQ ? v->items[i] : v;
		if (s->kind != NL_Y_SCALAR)
			return bad_audience(r, s, "a value must be a word or a list of words: ", key);
		ru->vals[ru->nvals++] = s->text;
		nl_buf_addf(&r->audience, "%s %s", i ? "," : "", s->text);
	}
	return nl_buf_err(&r->audience);
}

static enum nl_err load_audience(struct nl_recipients *r)
{
	const struct nl_ynode *a = r->o.post ? nl_ynode_get(r->o.post->meta, "audience") : NULL;
	enum nl_err e;
	if (!a || nl_ynode_is_null(a))
		return NL_OK;
	if (a->kind != NL_Y_MAP || !a->n)
		return bad_audience(r, a, "expected columns and values, such as 'audience: {tier: paid}'", "");
	if (!(r->rules = calloc(a->n, sizeof *r->rules)))
		return nl_errf(NL_ENOMEM, "out of memory");
	for (size_t i = 0; i < a->n; i++)
		if ((e = add_rule(r, a->keys[i], a->items[i])))
			return e;
	return NL_OK;
}

/* A cell matches if it, or one of its items (tags are written "a, b" or "a;b"), is one of the values. */
static bool cell_matches(const char *cell, const struct rule *ru)
{
	while (*cell) {
		size_t n = strcspn(cell, ",;|");
		const char *s = cell, *e = cell + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		for (size_t i = 0; i < ru->nvals; i++)
			if (strlen(ru->vals[i]) == (size_t)(e - s) && !strncasecmp(s, ru->vals[i], (size_t)(e - s)))
				return true;
		cell += n + (cell[n] != 0);
	}
	return false;
}

static bool in_audience(const struct nl_recipients *r, const struct nl_sub *row)
{
	for (size_t i = 0; i < r->nrules; i++)
		if (!cell_matches(row->cols[r->rules[i].col], &r->rules[i]))
			return false;
	return true;
}

/* ---- the walk ---- */

/* The first read: how many rows, and which addresses some row suppresses (any spelling). */
static enum nl_err prescan(struct nl_recipients *r)
{
	const char *email;
	enum nl_status st;
	bool eof = false;
	enum nl_err e;
	while (!(e = nl_list_skim(r->list, &email, &st, &eof)) && !eof) {
		r->rows++;
		if (!nl_status_suppressed(st) || !*email)
			continue;
		uint64_t h = nl_addr_hash(email);
		if ((e = nl_addrmap_set_hash(r->map, h, (uint8_t)(nl_addrmap_get_hash(r->map, h) | SUPPRESSED))))
			return e;
	}
	if (!e)
		e = nl_addrmap_reserve(r->map, r->rows > r->map->m.n ? r->rows : r->map->m.n);
	return e ? e : nl_list_rewind(r->list);
}

enum nl_err nl_recipients_open(const struct nl_recipients_opts *o, struct nl_recipients **out)
{
	struct nl_recipients *r = calloc(1, sizeof *r);
	struct nl_list_opts lo = {.secret = o->secret, .list_id = o->list_id, .missing_ok = o->missing_ok,
				  .interrupted = o->interrupted};
	enum nl_err e;
	*out = NULL;
	if (!r)
		return nl_errf(NL_ENOMEM, "out of memory");
	r->o = *o;
	r->map = o->state ? o->state : &r->own;
	nl_buf_init(&r->audience);
	if (!(e = nl_list_open(o->path, &lo, &r->list)) && !(e = load_audience(r)))
		e = prescan(r);
	if (e) {
		nl_recipients_close(r);
		return e;
	}
	*out = r;
	return NL_OK;
}

void nl_recipients_close(struct nl_recipients *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nrules; i++)
		free(r->rules[i].vals);
	free(r->rules);
	nl_list_close(r->list);
	nl_addrmap_free(&r->own);
	nl_buf_free(&r->audience);
	free(r);
}

static enum nl_skip verdict(struct nl_recipients *r, const struct nl_sub *row, uint8_t v)
{
	if (row->skip != NL_SKIP_NONE)
		return row->skip;
	if (v & SUPPRESSED)
		return NL_SKIP_SUPPRESSED;
	if (v & SEEN)
		return NL_SKIP_DUPLICATE;
	return in_audience(r, row) ? NL_SKIP_NONE : NL_SKIP_AUDIENCE;
}

enum nl_err nl_recipients_next(struct nl_recipients *r, struct nl_recipient *out, bool *eof)
{
	enum nl_err e = nl_list_next(r->list, &out->row, eof);
	out->skip = NL_SKIP_NONE;
	out->last = NL_EV_NONE;
	if (e || *eof)
		return e;
	const struct nl_sub *row = out->row;
	if (row->skip != NL_SKIP_NONE && row->skip != NL_SKIP_STATUS) {
		out->skip = row->skip; /* no usable address: nothing to look up */
		return NL_OK;
	}
	uint64_t h = nl_addr_hash(row->email);
	uint8_t v = nl_addrmap_get_hash(r->map, h);
	out->skip = verdict(r, row, v);
	out->last = (enum nl_event)(v & EV_MASK);
	if (out->skip == NL_SKIP_DUPLICATE)
		return NL_OK;
	/* The first row of an address decides for it, whatever its status. */
	return nl_addrmap_set_hash(r->map, h, (uint8_t)(v | SEEN));
}

static void clear_seen(void *val, void *ctx)
{
	(void)ctx;
	*(uint8_t *)val &= (uint8_t)~SEEN;
}

enum nl_err nl_recipients_rewind(struct nl_recipients *r)
{
	nl_hashmap_each(&r->map->m, clear_seen, NULL);
	return nl_list_rewind(r->list);
}

enum nl_err nl_recipients_refresh(struct nl_recipients *r)
{
	return nl_list_refresh_changes(r->list);
}

const struct nl_list *nl_recipients_list(const struct nl_recipients *r)
{
	return r->list;
}

size_t nl_recipients_rows(const struct nl_recipients *r)
{
	return r->rows;
}

const char *nl_recipients_audience(const struct nl_recipients *r)
{
	return r->nrules ? r->audience.data : NULL;
}

enum nl_err nl_recipients_count(const struct nl_recipients_opts *o, size_t by_event[NL_EV_COUNTED])
{
	struct nl_recipients *r = NULL;
	struct nl_recipient rc;
	bool eof = false;
	enum nl_err e = nl_recipients_open(o, &r);
	while (!e && !(e = nl_recipients_next(r, &rc, &eof)) && !eof)
		if (rc.skip == NL_SKIP_NONE)
			by_event[rc.last < NL_EV_COUNTED ? rc.last : NL_EV_NONE]++;
	nl_recipients_close(r);
	return e;
}
