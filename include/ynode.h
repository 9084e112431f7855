/* ynode.h - a small YAML document tree (libyaml) shared by config, posts and templates. */
#ifndef NL_YNODE_H
#define NL_YNODE_H

#include <stdbool.h>
#include <stddef.h>

#include "nl.h"

enum nl_ykind { NL_Y_SCALAR, NL_Y_SEQ, NL_Y_MAP };

/*
 * One node. Scalars keep their text (UTF-8, NUL-terminated) and whether it
 * was quoted (so `"true"` stays a string). Maps keep keys in file order,
 * each key once. line/col are 1-based positions in the file, for error
 * messages (a node reached through an alias has its anchor's position).
 * A parsed tree shares the node of an anchor among all its aliases (refs
 * counts the owners), so treat it as read-only: clone before nl_ynode_put.
 * The whole tree is owned by its root: free it with nl_ynode_free().
 */
struct nl_ynode {
	enum nl_ykind kind;
	int line, col;
	bool quoted;
	char *text;		 /* scalar: the value */
	size_t n;		 /* seq/map: number of children */
	char **keys;		 /* map: n keys */
	struct nl_ynode **items; /* seq/map: n children */
	size_t refs;		 /* owners of this node: aliases share it */
};

/* YAML text larger than this is refused: it bounds libyaml's memory. */
#define NL_YNODE_MAX_BYTES ((size_t)1 << 20)
/* Aliases may add at most this many nodes to the tree that callers walk. */
#define NL_YNODE_MAX_ALIASED 100000
/* Nesting deeper than this (counted through aliases) is refused. */
#define NL_YNODE_MAX_DEPTH 64
/* More anchors than this are refused (libyaml looks them up linearly). */
#define NL_YNODE_MAX_ANCHORS 1000

/*
 * Parse one YAML document from text[0..len). name and first_line are used
 * for error messages ("name:LINE:COL: YAML: ..."): first_line is the file
 * line the text starts on. An empty document yields an empty map. Refused
 * with NL_EDATA and a one-line message: syntax errors, a NUL byte in a
 * value ("\0"), keys that are not scalars or appear twice in one map, alias
 * cycles, and the limits above. *out is owned by the caller.
 */
enum nl_err nl_ynode_parse(const char *name, const char *text, size_t len, int first_line,
			   struct nl_ynode **out);
/* The same, with `what` instead of "YAML" after the position ("front matter"). */
enum nl_err nl_ynode_parse_as(const char *name, const char *what, const char *text, size_t len,
			      int first_line, struct nl_ynode **out);
void nl_ynode_free(struct nl_ynode *n);

/* The value under key in a map (NULL if absent or n is not a map). */
const struct nl_ynode *nl_ynode_get(const struct nl_ynode *n, const char *key);
/* Follow a dotted path ("smtp.url") through nested maps. */
const struct nl_ynode *nl_ynode_path(const struct nl_ynode *n, const char *path);
/* The scalar text of n, or NULL if n is absent or not a scalar. */
const char *nl_ynode_str(const struct nl_ynode *n);
/* YAML 1.1 truthiness of a plain scalar: true/yes/on (any case). */
bool nl_ynode_is_true(const struct nl_ynode *n);
/* A plain scalar that is a YAML null (~, null, empty). */
bool nl_ynode_is_null(const struct nl_ynode *n);

/* Building trees by hand (template contexts). NULL on allocation failure. */
struct nl_ynode *nl_ynode_scalar(const char *text);
struct nl_ynode *nl_ynode_map(void);
struct nl_ynode *nl_ynode_clone(const struct nl_ynode *n);
struct nl_ynode *nl_ynode_seq(void);
/* Append child to seq (built by hand); seq takes child (freed on failure). */
enum nl_err nl_ynode_push(struct nl_ynode *seq, struct nl_ynode *child);
/*
 * Put child under key in map (one built by hand or cloned, never a parsed
 * tree), replacing any old value; map takes child (freed on failure).
 */
enum nl_err nl_ynode_put(struct nl_ynode *map, const char *key, struct nl_ynode *child);

#endif
