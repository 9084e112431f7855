/* template.h - the small mustache-like template language, bound once per post. */
#ifndef NL_TEMPLATE_H
#define NL_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "nl.h"
#include "ynode.h"

/*
 * Syntax: {{name}} (HTML-escaped in HTML templates), {{{name}}} or {{&name}}
 * (raw), {{#name}}...{{/name}} (shown when name is truthy, once per item of a
 * list), {{^name}}...{{/name}} (shown when falsy), {{! comment }}. Names are
 * dotted paths (publication.name); {{.}} is the current list item. A section
 * or comment tag alone on its line takes the whole line with it. {{> FILE}}
 * is the template FILE from the same folder, in place (templates loaded
 * from a file only).
 */
struct nl_tmpl; /* opaque, owned by the caller of nl_tmpl_parse/load */

/* Walls: a template file's size, and what binding one may produce (node
 * visits, bytes of literal output); past them binding fails naming the
 * template, instead of running for hours. */
#define NL_TMPL_MAX_FILE (1 << 20)
#define NL_TMPL_MAX_STEPS 1000000
#define NL_TMPL_MAX_OUTPUT (64 << 20)
#define NL_TMPL_MAX_PARTIAL_DEPTH 8
#define NL_TMPL_MAX_PARTIALS 32

enum nl_err nl_tmpl_parse(const char *name, const char *text, size_t len, bool html,
			  struct nl_tmpl **out);
/* Errors name path; anything but a regular file is one. Partials are read beside path. */
enum nl_err nl_tmpl_load(const char *path, bool html, struct nl_tmpl **out);
/* Where the partial file lives: its path into path (cap bytes). */
typedef void (*nl_tmpl_find_fn)(const void *ctx, const char *file, char *path, size_t cap);
/* As nl_tmpl_load, with partials where find says (NULL: beside path). */
enum nl_err nl_tmpl_load_with(const char *path, bool html, nl_tmpl_find_fn find, const void *fctx,
			      struct nl_tmpl **out);
void nl_tmpl_free(struct nl_tmpl *t);
/* The files t was read from: 0 is the template itself, then each partial (for caches keyed on them). */
size_t nl_tmpl_nsources(const struct nl_tmpl *t);
const char *nl_tmpl_source(const struct nl_tmpl *t, size_t i);

/*
 * Binding a template to a post evaluates everything that is the same for
 * every reader and leaves a residual program: literal text and the few
 * per-subscriber fields (sections on them included). A field is any name
 * for which dyn() returns an id >= 0.
 */
enum nl_rseg_kind { NL_RSEG_LIT, NL_RSEG_FIELD, NL_RSEG_SECTION };

struct nl_rseg {
	enum nl_rseg_kind kind;
	bool escape;	/* FIELD: HTML-escape the value */
	bool inverted;	/* SECTION: shown when the field is empty */
	int field;	/* FIELD, SECTION: the id dyn() gave */
	size_t off, len;/* LIT: text at lits.data + off */
	size_t end;	/* SECTION: index of the first segment after it */
};

struct nl_residual {
	struct nl_rseg *segs;
	size_t n, cap;
	struct nl_buf lits;
};

typedef int (*nl_tmpl_dyn_fn)(void *ctx, const char *name);

/*
 * Bind t to ctx (a map). Unknown names are errors naming the template and
 * line. *out is owned by the caller (nl_residual_free).
 */
enum nl_err nl_tmpl_bind(const struct nl_tmpl *t, const struct nl_ynode *ctx, nl_tmpl_dyn_fn dyn,
			 void *dctx, struct nl_residual **out);
void nl_residual_free(struct nl_residual *r);
/* Run the residual for one reader: fields[id] is that field's value. */
void nl_residual_eval(const struct nl_residual *r, const char *const *fields, struct nl_buf *out);
/* A field's value makes a section show: non-empty. */
bool nl_field_truthy(const char *v);
/* Append s HTML-escaped (& < > " '). */
void nl_html_escape(struct nl_buf *out, const char *s, size_t n);

#endif
