/* render.c - Markdown to HTML (cmark-gfm) and to plain text (our own walk of the same tree). */
#include "render.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "utf8.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#define DEFAULT_WRAP 72
/* Nesting narrows the text; past this floor lines overflow instead of
 * squeezing to a word per line. */
#define MIN_WRAP 20
/* Blocks render recursively; refuse absurd nesting rather than risk the stack. */
#define MAX_NEST NL_RENDER_MAX_NEST
/* Thematic breaks need not span a very wide wrap column. */
#define RULE_MAX 72

static const char *const extension_names[] = {
	"table", "strikethrough", "autolink", "tagfilter", "tasklist",
};

/* State of one plain-text rendering. */
struct txt {
	int wrap;
	bool unsafe_html;
	enum nl_err err;	/* first error with its own message (too deep) */
	bool nomem;		/* an allocation outside the output buffers failed */
	int in_image;		/* > 0 inside alt text, which stays plain */
	char **urls;		/* link targets by first use; urls[n-1] is "[n]" */
	size_t nurls, cap_urls;
	size_t *slots;		/* open addressing over urls: index + 1, 0 = free */
	size_t nslots;		/* a power of two, at least twice nurls */
	struct nl_buf starts;	/* stack of output offsets of open links/images */
};

static void block(struct txt *t, cmark_node *n, int width, int depth,
		  struct nl_buf *out);

/* ---- small helpers ---- */

/* Columns in a monospaced mail reader: CJK counts two, combining marks none. */
static size_t width_of(const char *s, size_t n)
{
	return nl_utf8_width(s, n);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_type(cmark_node *n, const char *name)
{
	return strcmp(cmark_node_get_type_string(n), name) == 0;
}

static void add_repeat(struct nl_buf *b, char c, size_t n)
{
	if (!nl_buf_grow(b, n))
		return;
	memset(b->data + b->len, c, n);
	b->len += n;
	b->data[b->len] = 0;
}

/* Append src and carry over its sticky failure. */
static void add_buf(struct nl_buf *dst, const struct nl_buf *src)
{
	if (src->failed)
		dst->failed = true;
	nl_buf_add(dst, src->data, src->len);
}

/* Append s without its trailing blanks, so prefixes never end a line in spaces. */
static void add_trimmed(struct nl_buf *b, const char *s)
{
	size_t n = strlen(s);

	while (n && is_ws(s[n - 1]))
		n--;
	nl_buf_add(b, s, n);
}

static int narrower(int width, size_t by)
{
	int floor = width < MIN_WRAP ? width : MIN_WRAP;
	long w = (long)width - (long)by;

	return w < floor ? floor : (int)w;
}

/* ---- links and the stack of open link/image offsets ---- */

static void push_start(struct txt *t, size_t off)
{
	nl_buf_add(&t->starts, &off, sizeof off);
}

static size_t pop_start(struct txt *t)
{
	size_t off = 0;

	if (t->starts.len < sizeof off)
		return 0; /* only after an allocation failure, which is reported */
	t->starts.len -= sizeof off;
	memcpy(&off, t->starts.data + t->starts.len, sizeof off);
	return off;
}

static size_t url_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot holding url, or the free slot where it belongs. */
static size_t *url_slot(const struct txt *t, const char *url)
{
	size_t mask = t->nslots - 1, i = url_hash(url) & mask;

	while (t->slots[i] && strcmp(t->urls[t->slots[i] - 1], url) != 0)
		i = (i + 1) & mask;
	return &t->slots[i];
}

/* Keep the table at most half full, so a lookup stays O(1). */
static bool grow_slots(struct txt *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 64;
	size_t *old = t->slots, oldn = t->nslots;

	if (t->nslots && (t->nurls + 1) * 2 <= t->nslots)
		return true;
	if (!(t->slots = calloc(n, sizeof *t->slots))) {
		t->slots = old;
		return false;
	}
	t->nslots = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i])
			*url_slot(t, t->urls[old[i] - 1]) = old[i];
	free(old);
	return true;
}

/* The 1-based number of url in the link list, adding it on first use; 0 on OOM.
 * A hash lookup: a post with many links must not cost links squared. */
static size_t link_number(struct txt *t, const char *url)
{
	size_t *slot;

	if (!grow_slots(t))
		return 0;
	slot = url_slot(t, url);
	if (*slot)
		return *slot;
	if (t->nurls == t->cap_urls) {
		size_t cap = t->cap_urls ? t->cap_urls * 2 : 8;
		char **p = realloc(t->urls, cap * sizeof *p);
		if (!p)
			return 0;
		t->urls = p;
		t->cap_urls = cap;
	}
	char *copy = nl_strndup(url, strlen(url));
	if (!copy)
		return 0;
	t->urls[t->nurls++] = copy;
	*slot = t->nurls;
	return t->nurls;
}

/* Autolinks (<https://x>, www.x, x@y) show their target already. */
static bool text_is_url(const char *text, size_t n, const char *url)
{
	static const char *const schemes[] = {"", "mailto:", "http://", "https://"};

	for (size_t i = 0; i < NL_ARRAY_LEN(schemes); i++) {
		size_t k = strlen(schemes[i]);
		if (strncmp(url, schemes[i], k) == 0 && strlen(url + k) == n &&
		    memcmp(url + k, text, n) == 0)
			return true;
	}
	return false;
}

/* <mailto:a@b> shows as a@b, like the bare address a@b does. */
static void show_address(struct nl_buf *out, size_t start)
{
	static const char scheme[] = "mailto:";
	size_t k = sizeof scheme - 1;

	if (out->len - start > k && strncasecmp(out->data + start, scheme, k) == 0) {
		memmove(out->data + start, out->data + start + k, out->len - start - k);
		nl_buf_truncate(out, out->len - k);
	}
}

static void link_exit(struct txt *t, cmark_node *n, struct nl_buf *out)
{
	size_t start = pop_start(t);
	const char *url = cmark_node_get_url(n);

	if (!url || !*url || start > out->len || t->in_image)
		return;
	if (start == out->len) { /* [](url): the URL is all there is to show */
		nl_buf_adds(out, url);
		return;
	}
	if (text_is_url(out->data + start, out->len - start, url)) {
		show_address(out, start);
		return;
	}
	size_t k = link_number(t, url);
	if (!k)
		t->nomem = true;
	else
		nl_buf_addf(out, "[%zu]", k);
}

static void image_exit(struct txt *t, struct nl_buf *out)
{
	static const char open[] = "[image: ";
	size_t start = pop_start(t);

	t->in_image--;
	if (out->len == start + sizeof open - 1) {
		nl_buf_truncate(out, start);
		nl_buf_adds(out, "[image]");
	} else {
		nl_buf_addc(out, ']');
	}
}

/*
 * Footnotes share the links' numbers, so every "[n]" in the text means one
 * thing, found under "Notes:" or "Links:". Their key in the link table
 * starts with '\n', which no link destination can hold. cmark-gfm gives a
 * reference the number of its definition (definitions are numbered by
 * first reference).
 */
static size_t footnote_number(struct txt *t, const char *num)
{
	char key[32];

	snprintf(key, sizeof key, "\n%s", num ? num : "");
	return link_number(t, key);
}

static void footnote_ref(struct txt *t, const char *num, struct nl_buf *out)
{
	size_t k = footnote_number(t, num);

	if (!k)
		t->nomem = true;
	else
		nl_buf_addf(out, "[%zu]", k);
}

/* ---- inlines: flattened to one string, '\n' for hard breaks ---- */

/* The plain-text mark for emphasis-like nodes, or 0. */
static char markup(cmark_node *n)
{
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_EMPH: return '_';
	case CMARK_NODE_STRONG: return '*';
	default: return is_type(n, "strikethrough") ? '~' : 0;
	}
}

static void inline_enter(struct txt *t, cmark_node *n, struct nl_buf *out)
{
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_TEXT: nl_buf_adds(out, cmark_node_get_literal(n)); break;
	case CMARK_NODE_SOFTBREAK: nl_buf_addc(out, ' '); break;
	case CMARK_NODE_LINEBREAK: nl_buf_addc(out, '\n'); break;
	case CMARK_NODE_LINK: push_start(t, out->len); break;
	case CMARK_NODE_CODE:
		if (!t->in_image)
			nl_buf_addc(out, '`');
		nl_buf_adds(out, cmark_node_get_literal(n));
		if (!t->in_image)
			nl_buf_addc(out, '`');
		break;
	case CMARK_NODE_HTML_INLINE:
		if (t->unsafe_html)
			nl_buf_adds(out, cmark_node_get_literal(n));
		break;
	case CMARK_NODE_IMAGE:
		push_start(t, out->len);
		t->in_image++;
		nl_buf_adds(out, "[image: ");
		break;
	case CMARK_NODE_FOOTNOTE_REFERENCE:
		footnote_ref(t, cmark_node_get_literal(n), out);
		break;
	default:
		if (markup(n) && !t->in_image)
			nl_buf_addc(out, markup(n));
		break;
	}
}

static void inline_exit(struct txt *t, cmark_node *n, struct nl_buf *out)
{
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_LINK: link_exit(t, n, out); break;
	case CMARK_NODE_IMAGE: image_exit(t, out); break;
	default:
		if (markup(n) && !t->in_image)
			nl_buf_addc(out, markup(n));
		break;
	}
}

/* An iterator, not recursion: emphasis can nest as deep as the input is long. */
static void inlines(struct txt *t, cmark_node *parent, struct nl_buf *out)
{
	cmark_iter *it = cmark_iter_new(parent);
	cmark_event_type ev;

	if (!it) {
		t->nomem = true;
		return;
	}
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		if (n == parent)
			continue;
		if (ev == CMARK_EVENT_ENTER)
			inline_enter(t, n, out);
		else if (ev == CMARK_EVENT_EXIT)
			inline_exit(t, n, out);
	}
	cmark_iter_free(it);
}

/* ---- line layout ---- */

/*
 * Where a line may break besides spaces: Chinese and Japanese put none
 * between words, so a line may break between two characters when either is
 * wide (UAX #14's ideographs, simplified), unless the break would start a
 * line with closing punctuation or a small kana, or end one with an opening
 * bracket (Japanese kinsoku shori), or split a character from its
 * combining marks or a joiner.
 */
static const uint32_t no_start[] = {
	'!', ')', ',', '.', ':', ';', '?', ']', '}', 0x2019, 0x201D, 0x2026, 0x3001, 0x3002,
	0x3005, 0x3009, 0x300B, 0x300D, 0x300F, 0x3011, 0x3015, 0x3017, 0x3019, 0x301C,
	0x3041, 0x3043, 0x3045, 0x3047, 0x3049, 0x3063, 0x3083, 0x3085, 0x3087, 0x308E,
	0x309D, 0x309E, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9, 0x30C3, 0x30E3, 0x30E5,
	0x30E7, 0x30EE, 0x30F5, 0x30F6, 0x30FB, 0x30FC, 0x30FD, 0x30FE, 0xFF01, 0xFF09,
	0xFF0C, 0xFF0E, 0xFF1A, 0xFF1B, 0xFF1F, 0xFF3D, 0xFF5D, 0xFF61, 0xFF64,
};
static const uint32_t no_end[] = {
	'(', '[', '{', 0x2018, 0x201C, 0x3008, 0x300A, 0x300C, 0x300E, 0x3010, 0x3014,
	0x3016, 0x3018, 0xFF08, 0xFF3B, 0xFF5B, 0xFF62,
};

/* Binary search: the sets are sorted, and asked once per CJK character. */
static bool listed(uint32_t c, const uint32_t *set, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (set[mid] == c)
			return true;
		if (set[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* A URL starts at s: never broken, whatever it sits next to. */
static bool url_at(const char *s, size_t n)
{
	static const char *const starts[] = {"http://", "https://", "ftp://", "mailto:", "www."};

	if (!n || !strchr("hHfFmMwW", *s))
		return false;
	for (size_t i = 0; i < NL_ARRAY_LEN(starts); i++) {
		size_t k = strlen(starts[i]);
		if (n > k && strncasecmp(s, starts[i], k) == 0)
			return true;
	}
	return false;
}

/* A URL runs to a space or a wide character (which a URL holds only
 * percent-encoded, and which is where CJK text goes on); closing marks
 * right after it stay with it, so no line starts with "。". */
static size_t url_end(const char *s, size_t i, size_t n)
{
	bool wide = false;

	while (i < n && !is_ws(s[i])) {
		uint32_t c;
		size_t k = nl_utf8_decode(s + i, n - i, &c);
		if (!wide && nl_cp_width(c) == 2)
			wide = true;
		if (wide && !listed(c, no_start, NL_ARRAY_LEN(no_start)))
			break;
		i += k;
	}
	return i;
}

/* The end of the unbreakable piece that starts at s[i] (not a space);
 * *cols gets its display width. */
static size_t piece_end(const char *s, size_t i, size_t n, size_t *cols)
{
	uint32_t prev, c;
	int prev_w;
	size_t start = i;

	if (url_at(s + i, n - i)) {
		i = url_end(s, i, n);
		*cols = width_of(s + start, i - start);
		return i;
	}
	i += nl_utf8_decode(s + i, n - i, &prev);
	*cols = (size_t)(prev_w = nl_cp_width(prev));
	while (i < n && !is_ws(s[i])) {
		size_t k = nl_utf8_decode(s + i, n - i, &c);
		int w = nl_cp_width(c);
		if (w == 0) { /* marks stay with their base; the base decides */
			i += k;
			if (c == 0x200D && i < n && !is_ws(s[i])) { /* a joiner holds on to the next */
				i += nl_utf8_decode(s + i, n - i, &c);
				*cols += (size_t)nl_cp_width(c);
			}
			continue;
		}
		if ((prev_w == 2 || w == 2) && !listed(c, no_start, NL_ARRAY_LEN(no_start)) &&
		    !listed(prev, no_end, NL_ARRAY_LEN(no_end)))
			return i;
		if (prev_w == 2 && url_at(s + i, n - i))
			return i;
		prev = c;
		prev_w = w;
		*cols += (size_t)w;
		i += k;
	}
	return i;
}

/*
 * Greedy fill by display width. Pieces are words, or single CJK characters
 * (with the punctuation that must stay with them); a space comes back
 * between pieces only where the text had one. A piece longer than the line
 * (a URL) overflows rather than being split.
 */
static void wrap_line(const char *s, size_t n, size_t width, struct nl_buf *out)
{
	size_t col = 0, i = 0;

	while (i < n) {
		bool space = false;
		while (i < n && is_ws(s[i])) {
			i++;
			space = true;
		}
		if (i == n)
			break;
		size_t w;
		size_t j = piece_end(s, i, n, &w);
		bool gap = col && space;
		if (col && col + gap + w > width) {
			nl_buf_addc(out, '\n');
			col = 0;
			gap = false;
		}
		if (gap) {
			nl_buf_addc(out, ' ');
			col++;
		}
		nl_buf_add(out, s + i, j - i);
		col += w;
		i = j;
	}
	nl_buf_addc(out, '\n');
}

/* Wrap flattened inline text; emits nothing when it is blank. */
static void wrap(const char *s, size_t n, int width, struct nl_buf *out)
{
	while (n && (is_ws(*s) || *s == '\n'))
		s++, n--;
	while (n && (is_ws(s[n - 1]) || s[n - 1] == '\n'))
		n--;
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t k = nl ? (size_t)(nl - s) : n;
		wrap_line(s, k, (size_t)width, out);
		if (!nl)
			break;
		s += k + 1;
		n -= k + 1;
	}
}

void nl_text_wrap(const char *s, size_t n, int width, struct nl_buf *out)
{
	wrap(s, n, width > 0 ? width : DEFAULT_WRAP, out);
	if (out->len && out->data[out->len - 1] == '\n')
		nl_buf_truncate(out, out->len - 1);
}

/* Prefix the first line of src with first and the others with rest. */
static void prefix_lines(const struct nl_buf *src, const char *first,
			 const char *rest, struct nl_buf *out)
{
	const char *p = src->data, *end = p + src->len, *pre = first;

	if (src->failed)
		out->failed = true;
	if (p == end) { /* an empty item still shows its marker */
		add_trimmed(out, first);
		nl_buf_addc(out, '\n');
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (k) {
			nl_buf_adds(out, pre);
			nl_buf_add(out, p, k);
		} else {
			add_trimmed(out, pre);
		}
		nl_buf_addc(out, '\n');
		pre = rest;
		if (!nl)
			break;
		p = nl + 1;
	}
}

/* Literal lines (code, raw HTML) with indent, never wrapped; blank lines
 * at either end dropped, those inside kept. */
static void literal_lines(const char *s, const char *indent, struct nl_buf *out)
{
	size_t n = strlen(s);
	const char *end;
	bool started = false;

	while (n && (is_ws(s[n - 1]) || s[n - 1] == '\n'))
		n--;
	end = s + n;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end, *q = e;
		while (q > s && is_ws(q[-1]))
			q--;
		started = started || q > s;
		if (started) { /* skip leading blank lines only */
			if (q > s)
				nl_buf_adds(out, indent);
			nl_buf_add(out, s, (size_t)(q - s));
			nl_buf_addc(out, '\n');
		}
		s = nl ? nl + 1 : end;
	}
}

/* ---- blocks: each appends whole lines, no blank line at either end ---- */

/* Children of parent, a blank line between them unless tight. */
static void blocks(struct txt *t, cmark_node *parent, int width, int depth,
		   bool tight, struct nl_buf *out)
{
	size_t start = out->len;

	for (cmark_node *n = cmark_node_first_child(parent); n; n = cmark_node_next(n)) {
		size_t mark = out->len;
		if (mark > start && !tight)
			nl_buf_addc(out, '\n');
		size_t body = out->len;
		block(t, n, width, depth, out);
		if (out->len == body) /* dropped HTML: no doubled blank line */
			nl_buf_truncate(out, mark);
	}
}

static void paragraph(struct txt *t, cmark_node *n, int width, struct nl_buf *out)
{
	struct nl_buf s = NL_BUF_INIT;

	inlines(t, n, &s);
	wrap(s.data, s.len, width, out);
	if (s.failed)
		out->failed = true;
	nl_buf_free(&s);
}

static size_t longest_line(const struct nl_buf *b)
{
	size_t best = 0;
	const char *p = b->data, *end = p + b->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t w = width_of(p, (size_t)(e - p));
		best = w > best ? w : best;
		if (!nl)
			break;
		p = nl + 1;
	}
	return best;
}

/* Setext underlines (as wide as the text looks) for levels 1 and 2; deeper
 * headings are plain lines, set apart by the blank lines around them:
 * "###" means nothing to a reader who never wrote Markdown. */
static void heading(struct txt *t, cmark_node *n, int width, struct nl_buf *out)
{
	int level = cmark_node_get_heading_level(n);
	struct nl_buf s = NL_BUF_INIT, lines = NL_BUF_INIT;

	inlines(t, n, &s);
	wrap(s.data, s.len, width, &lines);
	add_buf(out, &lines);
	if (level <= 2 && lines.len) {
		add_repeat(out, level == 1 ? '=' : '-', longest_line(&lines));
		nl_buf_addc(out, '\n');
	}
	if (s.failed)
		out->failed = true;
	nl_buf_free(&s);
	nl_buf_free(&lines);
}

static void block_quote(struct txt *t, cmark_node *n, int width, int depth,
			struct nl_buf *out)
{
	struct nl_buf s = NL_BUF_INIT;

	blocks(t, n, narrower(width, 2), depth + 1, false, &s);
	prefix_lines(&s, "> ", "> ", out);
	nl_buf_free(&s);
}

/* An item's blocks, continuation lines aligned under the text after marker. */
static void item(struct txt *t, cmark_node *n, const char *marker, int width,
		 int depth, bool tight, struct nl_buf *out)
{
	char indent[64];
	size_t w = width_of(marker, strlen(marker)); /* a ballot box is one column */
	struct nl_buf s = NL_BUF_INIT;

	if (w >= sizeof indent)
		w = sizeof indent - 1;
	memset(indent, ' ', w);
	indent[w] = 0;
	blocks(t, n, narrower(width, w), depth + 1, tight, &s);
	prefix_lines(&s, marker, indent, out);
	nl_buf_free(&s);
}

static void list(struct txt *t, cmark_node *n, int width, int depth, struct nl_buf *out)
{
	bool tight = cmark_node_get_list_tight(n);
	bool ordered = cmark_node_get_list_type(n) == CMARK_ORDERED_LIST;
	char delim = cmark_node_get_list_delim(n) == CMARK_PAREN_DELIM ? ')' : '.';
	long long num = cmark_node_get_list_start(n);
	size_t start = out->len;

	for (cmark_node *it = cmark_node_first_child(n); it; it = cmark_node_next(it), num++) {
		char marker[48];
		const char *box = NULL;
		/* Ballot boxes, as the HTML part shows them; in a bulleted
		 * list the box is the bullet. */
		if (is_type(it, "tasklist"))
			box = cmark_gfm_extensions_get_tasklist_item_checked(it) ? "\u2611 " : "\u2610 ";
		if (ordered)
			snprintf(marker, sizeof marker, "%lld%c %s", num, delim, box ? box : "");
		else
			snprintf(marker, sizeof marker, "%s", box ? box : "* ");
		if (out->len > start && !tight)
			nl_buf_addc(out, '\n');
		item(t, it, marker, width, depth, tight, out);
	}
}

/* ---- tables: cells padded to their column's widest, " | " between ---- */

struct table {
	size_t rows, cols;
	struct nl_buf *cells;	/* rows * cols, row-major */
	size_t *widths;		/* per column, in code points */
	const uint8_t *align;	/* per column: 'l', 'c', 'r' or 0 (cmark owns it) */
};

static void table_fill(struct txt *t, cmark_node *n, struct table *tb)
{
	size_t r = 0;

	for (cmark_node *row = cmark_node_first_child(n); row; row = cmark_node_next(row), r++) {
		size_t c = 0;
		for (cmark_node *cell = cmark_node_first_child(row); cell && c < tb->cols;
		     cell = cmark_node_next(cell), c++) {
			struct nl_buf *b = &tb->cells[r * tb->cols + c];
			inlines(t, cell, b);
			for (size_t i = 0; i < b->len; i++)
				if (b->data[i] == '\n')
					b->data[i] = ' ';
			size_t w = width_of(b->data, b->len);
			if (w > tb->widths[c])
				tb->widths[c] = w;
		}
	}
}

static void table_row(const struct table *tb, size_t r, struct nl_buf *out)
{
	size_t line = out->len;

	for (size_t c = 0; c < tb->cols; c++) {
		const struct nl_buf *cell = &tb->cells[r * tb->cols + c];
		size_t pad = tb->widths[c] - width_of(cell->data, cell->len);
		uint8_t a = tb->align ? tb->align[c] : 0;
		size_t left = a == 'r' ? pad : a == 'c' ? pad / 2 : 0;
		if (c)
			nl_buf_adds(out, " | ");
		add_repeat(out, ' ', left);
		add_buf(out, cell);
		add_repeat(out, ' ', pad - left);
	}
	while (out->len > line && out->data[out->len - 1] == ' ')
		nl_buf_truncate(out, out->len - 1);
	nl_buf_addc(out, '\n');
}

static void table_rule(const struct table *tb, struct nl_buf *out)
{
	for (size_t c = 0; c < tb->cols; c++) {
		if (c)
			nl_buf_adds(out, "-+-");
		add_repeat(out, '-', tb->widths[c] ? tb->widths[c] : 1);
	}
	nl_buf_addc(out, '\n');
}

static void table(struct txt *t, cmark_node *n, struct nl_buf *out)
{
	struct table tb = {0, cmark_gfm_extensions_get_table_columns(n), NULL, NULL,
			   cmark_gfm_extensions_get_table_alignments(n)};
	cmark_node *first = cmark_node_first_child(n);

	for (cmark_node *row = first; row; row = cmark_node_next(row))
		tb.rows++;
	if (!tb.rows || !tb.cols)
		return;
	tb.cells = calloc(tb.rows * tb.cols, sizeof *tb.cells);
	tb.widths = calloc(tb.cols, sizeof *tb.widths);
	if (tb.cells && tb.widths) {
		for (size_t i = 0; i < tb.rows * tb.cols; i++)
			nl_buf_init(&tb.cells[i]);
		table_fill(t, n, &tb);
		for (size_t r = 0; r < tb.rows; r++) {
			table_row(&tb, r, out);
			if (r == 0 && cmark_gfm_extensions_get_table_row_is_header(first))
				table_rule(&tb, out);
		}
		for (size_t i = 0; i < tb.rows * tb.cols; i++)
			nl_buf_free(&tb.cells[i]);
	} else {
		t->nomem = true;
	}
	free(tb.cells);
	free(tb.widths);
}

static void block(struct txt *t, cmark_node *n, int width, int depth, struct nl_buf *out)
{
	if (depth > MAX_NEST) {
		if (!t->err)
			t->err = nl_errf(NL_EDATA,
					 "body line %d: Markdown nests blocks more than %d deep",
					 cmark_node_get_start_line(n), MAX_NEST);
		return;
	}
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_PARAGRAPH: paragraph(t, n, width, out); break;
	case CMARK_NODE_HEADING: heading(t, n, width, out); break;
	case CMARK_NODE_BLOCK_QUOTE: block_quote(t, n, width, depth, out); break;
	case CMARK_NODE_LIST: list(t, n, width, depth, out); break;
	case CMARK_NODE_CODE_BLOCK: literal_lines(cmark_node_get_literal(n), "    ", out); break;
	case CMARK_NODE_FOOTNOTE_DEFINITION: break; /* listed at the end */
	case CMARK_NODE_HTML_BLOCK:
		if (t->unsafe_html)
			literal_lines(cmark_node_get_literal(n), "", out);
		break;
	case CMARK_NODE_THEMATIC_BREAK:
		add_repeat(out, '-', (size_t)(width < RULE_MAX ? width : RULE_MAX));
		nl_buf_addc(out, '\n');
		break;
	default:
		if (is_type(n, "table"))
			table(t, n, out);
		else /* custom blocks: their content is what matters */
			blocks(t, n, width, depth + 1, false, out);
		break;
	}
}

/* ---- the document ---- */

static void footnotes(struct txt *t, cmark_node *doc, const char *label, struct nl_buf *out)
{
	int num = 0;

	for (cmark_node *n = cmark_node_first_child(doc); n; n = cmark_node_next(n)) {
		char marker[32], def[16];
		size_t k;
		if (cmark_node_get_type(n) != CMARK_NODE_FOOTNOTE_DEFINITION)
			continue;
		if (!num)
			nl_buf_addf(out, "%s:\n", label);
		/* cmark-gfm sorts definitions by first reference and numbers them so */
		snprintf(def, sizeof def, "%d", ++num);
		if (!(k = footnote_number(t, def))) {
			t->nomem = true;
			return;
		}
		snprintf(marker, sizeof marker, "[%zu] ", k);
		item(t, n, marker, t->wrap, 1, false, out);
	}
}

static void link_list(const struct txt *t, const char *label, struct nl_buf *out)
{
	bool any = false;

	for (size_t i = 0; i < t->nurls; i++) {
		if (t->urls[i][0] == '\n') /* a footnote, listed under Notes */
			continue;
		if (!any)
			nl_buf_addf(out, "%s:\n", label);
		any = true;
		nl_buf_addf(out, "[%zu] %s\n", i + 1, t->urls[i]);
	}
}

static void add_section(struct nl_buf *dst, struct nl_buf *src)
{
	if (dst->len && src->len)
		nl_buf_addc(dst, '\n');
	add_buf(dst, src);
}

/* Strip trailing blanks on every line and blank lines at both ends, so the
 * text ends with exactly one "\n" whatever the pieces did. */
static void finish(const struct nl_buf *src, struct nl_buf *out)
{
	const char *p = src->data, *end = p + src->len;
	size_t blanks = 0;
	bool started = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end, *q = e;
		while (q > p && is_ws(q[-1]))
			q--;
		if (q == p) {
			blanks += started;
		} else {
			add_repeat(out, '\n', blanks);
			nl_buf_add(out, p, (size_t)(q - p));
			nl_buf_addc(out, '\n');
			started = true;
			blanks = 0;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
}

static enum nl_err render_text(cmark_node *doc, const struct nl_render_opts *o,
			       struct nl_buf *text)
{
	struct txt t = {o->wrap > 0 ? o->wrap : DEFAULT_WRAP, o->unsafe_html, NL_OK,
			false, 0, NULL, 0, 0, NULL, 0, NL_BUF_INIT};
	struct nl_buf body = NL_BUF_INIT, notes = NL_BUF_INIT, links = NL_BUF_INIT;
	enum nl_err err;

	blocks(&t, doc, t.wrap, 0, false, &body);
	footnotes(&t, doc, o->notes_label ? o->notes_label : "Notes", &notes);
	link_list(&t, o->links_label ? o->links_label : "Links", &links);
	add_section(&body, &notes);
	add_section(&body, &links);
	finish(&body, text);
	err = t.err;
	if (!err && (t.nomem || t.starts.failed || body.failed))
		err = nl_errf(NL_ENOMEM, "out of memory rendering plain text");
	for (size_t i = 0; i < t.nurls; i++)
		free(t.urls[i]);
	free(t.urls);
	free(t.slots);
	nl_buf_free(&t.starts);
	nl_buf_free(&body);
	nl_buf_free(&notes);
	nl_buf_free(&links);
	return err;
}

/* ---- walls: what a stranger's post may ask of us ---- */

static const char *src_name(const struct nl_render_opts *o)
{
	return o->name ? o->name : "body";
}

/* The file line of body line `line` (1-based). */
static int file_line(const struct nl_render_opts *o, int line)
{
	return (o->first_line > 0 ? o->first_line : 1) + (line > 0 ? line : 1) - 1;
}

/* Past the blanks and block quote markers that open a line. */
static const char *line_body(const char *p, const char *end)
{
	while (p < end && (is_ws(*p) || *p == '>'))
		p++;
	return p;
}

/* The cells a table row made of this line would have, as cmark-gfm splits
 * it: one more than its inner pipes (escaped ones counted too: a bound, not
 * a parse). 0 for a line without pipes. */
static size_t row_cells(const char *p, const char *end)
{
	size_t pipes = 0;

	p = line_body(p, end);
	while (end > p && is_ws(end[-1]))
		end--;
	for (const char *q = p; q < end; q++)
		pipes += *q == '|';
	if (!pipes)
		return 0;
	return pipes + 1 - (*p == '|') - (end - p > 1 && end[-1] == '|');
}

/* A line that could be a table's delimiter row: only pipes, dashes, colons. */
static bool delimiter_like(const char *p, const char *end)
{
	bool dash = false, pipe = false;

	for (p = line_body(p, end); p < end; p++) {
		if (*p == '-')
			dash = true;
		else if (*p == '|')
			pipe = true;
		else if (*p != ':' && !is_ws(*p))
			return false;
	}
	return dash && pipe;
}

static enum nl_err too_wide(const struct nl_render_opts *o, int line, size_t cells)
{
	return nl_errf(NL_EDATA, "%s:%d: table with %zu columns: at most %d", src_name(o),
		       file_line(o, line), cells, NL_RENDER_MAX_COLS);
}

/*
 * Before cmark-gfm sees the text. Its table code is quadratic in the cells
 * of a row (10,000 columns take most of a minute), so every line of a table,
 * header and delimiter row included, is held to NL_RENDER_MAX_COLS cells; a
 * line is in a table from a delimiter-like line to the next blank one. Long
 * lines feed cmark's other super-linear corners. One pass, linear.
 */
static enum nl_err scan_source(const char *md, size_t len, const struct nl_render_opts *o)
{
	const char *p = md, *end = md + len, *prev = NULL;
	bool in_table = false;

	if (len > NL_RENDER_MAX_BODY)
		return nl_errf(NL_EDATA, "%s: the Markdown body is %zu bytes: at most %d",
			       src_name(o), len, NL_RENDER_MAX_BODY);
	for (int line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t cells;
		if ((size_t)(e - p) > NL_RENDER_MAX_LINE)
			return nl_errf(NL_EDATA, "%s:%d: line of %zu bytes: at most %d",
				       src_name(o), file_line(o, line), (size_t)(e - p),
				       NL_RENDER_MAX_LINE);
		if (line_body(p, e) == e) {
			in_table = false;
		} else if (!in_table && prev && delimiter_like(p, e)) {
			in_table = true;
			if ((cells = row_cells(prev, p - 1)) > NL_RENDER_MAX_COLS)
				return too_wide(o, line - 1, cells);
		}
		if (in_table && (cells = row_cells(p, e)) > NL_RENDER_MAX_COLS)
			return too_wide(o, line, cells);
		prev = line_body(p, e) == e ? NULL : p;
		p = nl ? nl + 1 : end;
	}
	return NL_OK;
}

/* The line of n, or of the nearest block around it (inlines may have none). */
static int node_line(cmark_node *n)
{
	for (; n; n = cmark_node_parent(n))
		if (cmark_node_get_start_line(n) > 0)
			return cmark_node_get_start_line(n);
	return 1;
}

/* After parsing, before rendering: count links and images, measure nesting
 * as block() will (a list and its item are one level, as a reader sees
 * them; a footnote is one), so the text renderer's own check never fires. */
static enum nl_err check_tree(cmark_node *doc, const struct nl_render_opts *o)
{
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	enum nl_err err = NL_OK;
	size_t links = 0;
	int depth = 0;

	if (!it)
		return nl_errf(NL_ENOMEM, "out of memory walking Markdown");
	while (!err && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		cmark_node_type ty = cmark_node_get_type(n);
		bool nests = ty == CMARK_NODE_BLOCK_QUOTE || ty == CMARK_NODE_ITEM ||
			     ty == CMARK_NODE_FOOTNOTE_DEFINITION;
		if (ev == CMARK_EVENT_EXIT) {
			depth -= nests;
			continue;
		}
		if (ev != CMARK_EVENT_ENTER)
			continue;
		if ((ty == CMARK_NODE_LINK || ty == CMARK_NODE_IMAGE) && ++links > NL_RENDER_MAX_LINKS)
			err = nl_errf(NL_EDATA, "%s:%d: more than %d links and images: at most %d",
				      src_name(o), file_line(o, node_line(n)), NL_RENDER_MAX_LINKS,
				      NL_RENDER_MAX_LINKS);
		else if (nests && ++depth > MAX_NEST)
			err = nl_errf(NL_EDATA, "%s:%d: Markdown nests blocks %d deep: at most %d",
				      src_name(o), file_line(o, node_line(n)), depth, MAX_NEST);
	}
	cmark_iter_free(it);
	return err;
}

/* ---- parsing and HTML ---- */

static enum nl_err parse(const char *md, size_t len, int opts, cmark_parser **pp,
			 cmark_node **doc)
{
	cmark_parser *p;

	cmark_gfm_core_extensions_ensure_registered();
	*pp = p = cmark_parser_new(opts);
	if (!p)
		return nl_errf(NL_ENOMEM, "out of memory starting the Markdown parser");
	for (size_t i = 0; i < NL_ARRAY_LEN(extension_names); i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(extension_names[i]);
		if (!e || !cmark_parser_attach_syntax_extension(p, e))
			return nl_errf(NL_EINTERNAL, "cmark-gfm lacks the %s extension",
				       extension_names[i]);
	}
	cmark_parser_feed(p, md, len);
	*doc = cmark_parser_finish(p);
	if (!*doc)
		return nl_errf(NL_ENOMEM, "out of memory parsing Markdown");
	return NL_OK;
}

/* Images the HTML gives a width and height, as the image_size callback said. */
struct sizes {
	struct {
		cmark_node *img;
		unsigned w, h;
	} *v;
	size_t n, cap;
};

static bool sizes_add(struct sizes *sz, cmark_node *img, unsigned w, unsigned h)
{
	if (sz->n == sz->cap) {
		size_t cap = sz->cap ? sz->cap * 2 : 8;
		void *v = realloc(sz->v, cap * sizeof *sz->v);
		if (!v)
			return false;
		sz->v = v;
		sz->cap = cap;
	}
	sz->v[sz->n].img = img;
	sz->v[sz->n].w = w;
	sz->v[sz->n++].h = h;
	return true;
}

/* The size of the image at n (its URL as written) into sz, if the callback knows it. */
static enum nl_err image_size(const struct nl_render_opts *o, cmark_node *n, const char *url,
			      struct sizes *sz)
{
	unsigned w = 0, h = 0;

	if (o->image_size)
		o->image_size(o->image_ctx, url, file_line(o, node_line(n)), &w, &h);
	if (w && h && !sizes_add(sz, n, w, h))
		return nl_errf(NL_ENOMEM, "out of memory");
	return NL_OK;
}

/* Before either rendering, so HTML and text agree on every image. */
static enum nl_err rewrite_images(cmark_node *doc, const struct nl_render_opts *o,
				  struct sizes *sz)
{
	cmark_iter *it;
	cmark_event_type ev;
	enum nl_err err = NL_OK;

	if (!o->image && !o->image_size)
		return NL_OK;
	if (!(it = cmark_iter_new(doc)))
		return nl_errf(NL_ENOMEM, "out of memory walking Markdown");
	while (!err && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		char *url = NULL;
		if (ev != CMARK_EVENT_ENTER || cmark_node_get_type(n) != CMARK_NODE_IMAGE)
			continue;
		char *written = nl_strndup(cmark_node_get_url(n), strlen(cmark_node_get_url(n)));
		if (!written)
			err = nl_errf(NL_ENOMEM, "out of memory");
		else if (o->image)
			err = o->image(o->image_ctx, written, file_line(o, node_line(n)), &url);
		if (!err && url && !cmark_node_set_url(n, url))
			err = nl_errf(NL_ENOMEM, "out of memory setting an image URL");
		if (!err)
			err = image_size(o, n, written, sz);
		free(written);
		free(url);
	}
	cmark_iter_free(it);
	return err;
}

/* ---- HTML: the tree as mail wants it, for this one rendering ---- */

/* A change to the tree undone after the HTML is out: the text part sees the
 * post as written. stand_in NULL: a heading moved one level down. */
struct swap {
	cmark_node *node, *stand_in;
};

struct swaps {
	struct swap *v;
	size_t n, cap;
};

static bool swaps_add(struct swaps *s, cmark_node *node, cmark_node *stand_in)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct swap *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return false;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct swap){node, stand_in};
	return true;
}

/* As cmark's own href escaping: URL bytes kept, the rest %XX, & and ' as entities. */
static void add_href(struct nl_buf *b, const char *u)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *u; u++) {
		unsigned char c = (unsigned char)*u;
		if (c == '&')
			nl_buf_adds(b, "&amp;");
		else if (c == '\'')
			nl_buf_adds(b, "&#x27;");
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 strchr("-_.+!*(),%#@?=;:/$~", c))
			nl_buf_addc(b, (char)c);
		else
			nl_buf_addf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

static void add_escaped(struct nl_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': nl_buf_adds(b, "&amp;"); break;
		case '<': nl_buf_adds(b, "&lt;"); break;
		case '>': nl_buf_adds(b, "&gt;"); break;
		case '"': nl_buf_adds(b, "&quot;"); break;
		default: nl_buf_addc(b, *s); break;
		}
	}
}

/* alt text as cmark writes it: the literal text inside, breaks as spaces. */
static void add_alt(struct nl_buf *b, cmark_node *img)
{
	cmark_iter *it = cmark_iter_new(img);
	cmark_event_type ev;

	if (!it) {
		b->failed = true;
		return;
	}
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		cmark_node_type ty = cmark_node_get_type(n);
		if (ev != CMARK_EVENT_ENTER || n == img)
			continue;
		if (ty == CMARK_NODE_TEXT || ty == CMARK_NODE_CODE || ty == CMARK_NODE_HTML_INLINE)
			add_escaped(b, cmark_node_get_literal(n));
		else if (ty == CMARK_NODE_SOFTBREAK || ty == CMARK_NODE_LINEBREAK)
			nl_buf_addc(b, ' ');
	}
	cmark_iter_free(it);
}

/* URLs cmark would blank (it keeps only image data: URLs): left to cmark. */
static bool risky_url(const char *u)
{
	static const char *const bad[] = {"javascript:", "vbscript:", "file:", "data:"};
	for (size_t i = 0; i < NL_ARRAY_LEN(bad); i++)
		if (!strncasecmp(u, bad[i], strlen(bad[i])))
			return true;
	return false;
}

/*
 * The <img> cmark would write, plus width and height: they keep the
 * picture's place while images are blocked, and Outlook for Windows, which
 * ignores max-width, draws it at that size. cmark cannot add attributes, so
 * the image is swapped for a custom node holding this tag.
 */
static cmark_node *sized_image(cmark_node *img, unsigned w, unsigned h)
{
	struct nl_buf b = NL_BUF_INIT;
	const char *title = cmark_node_get_title(img);
	cmark_node *c;

	nl_buf_adds(&b, "<img src=\"");
	add_href(&b, cmark_node_get_url(img));
	nl_buf_adds(&b, "\" alt=\"");
	add_alt(&b, img);
	nl_buf_addf(&b, "\" width=\"%u\" height=\"%u\"", w, h);
	if (title && *title) {
		nl_buf_adds(&b, " title=\"");
		add_escaped(&b, title);
		nl_buf_addc(&b, '"');
	}
	nl_buf_adds(&b, " />");
	c = nl_buf_err(&b) ? NULL : cmark_node_new(CMARK_NODE_CUSTOM_INLINE);
	if (c && !cmark_node_set_on_enter(c, b.data)) {
		cmark_node_free(c);
		c = NULL;
	}
	nl_buf_free(&b);
	return c;
}

/* Headings one level down (the title is the <h1>); sized images swapped in. */
static bool email_tree(cmark_node *doc, const struct sizes *sz, struct swaps *s)
{
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	size_t k = 0;
	bool ok = it != NULL;

	while (ok && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		int level;
		if (ev != CMARK_EVENT_ENTER)
			continue;
		if (cmark_node_get_type(n) == CMARK_NODE_HEADING &&
		    (level = cmark_node_get_heading_level(n)) < 6)
			ok = cmark_node_set_heading_level(n, level + 1) && swaps_add(s, n, NULL);
	}
	cmark_iter_free(it);
	/* after the walk: unlinking under a live iterator would derail it */
	for (; ok && k < sz->n; k++) {
		cmark_node *img = sz->v[k].img, *c;
		if (risky_url(cmark_node_get_url(img)))
			continue;
		ok = (c = sized_image(img, sz->v[k].w, sz->v[k].h)) && cmark_node_insert_before(img, c);
		if (ok) {
			cmark_node_unlink(img);
			ok = swaps_add(s, img, c);
		} else {
			cmark_node_free(c);
		}
	}
	return ok;
}

static void undo_email_tree(struct swaps *s)
{
	for (size_t i = s->n; i-- > 0;) {
		struct swap *w = &s->v[i];
		if (!w->stand_in) {
			cmark_node_set_heading_level(w->node, cmark_node_get_heading_level(w->node) - 1);
		} else {
			cmark_node_insert_before(w->stand_in, w->node);
			cmark_node_free(w->stand_in);
		}
	}
	free(s->v);
}

static enum nl_err render_html(cmark_parser *p, cmark_node *doc, int opts,
			       const struct sizes *sz, struct nl_buf *html)
{
	struct swaps sw = {0};
	char *s = NULL;

	/* The extension list matters here too: tagfilter and table act on output. */
	if (email_tree(doc, sz, &sw))
		s = cmark_render_html(doc, opts, cmark_parser_get_syntax_extensions(p));
	undo_email_tree(&sw);
	if (!s)
		return nl_errf(NL_ENOMEM, "out of memory rendering HTML");
	nl_buf_adds(html, s);
	cmark_get_default_mem_allocator()->free(s);
	return nl_buf_err(html);
}

/*
 * cmark-gfm can cut a character in two (an unmatched footnote label, found
 * by fuzzing), and mail says charset=utf-8: each byte of a broken sequence
 * in b[from..] becomes U+FFFD. One check per post when nothing is broken.
 */
static void repair_utf8(struct nl_buf *b, size_t from)
{
	struct nl_buf fixed = NL_BUF_INIT;
	size_t at = from, bad;

	if (nl_utf8_valid(b->data + from, b->len - from, &bad))
		return;
	nl_buf_add(&fixed, b->data, from);
	while (!nl_utf8_valid(b->data + at, b->len - at, &bad)) {
		nl_buf_add(&fixed, b->data + at, bad);
		nl_buf_adds(&fixed, "\xEF\xBF\xBD");
		at += bad + 1;
	}
	nl_buf_add(&fixed, b->data + at, b->len - at);
	if (fixed.failed)
		b->failed = true; /* reported by the caller's nl_buf_err */
	else
		nl_buf_truncate(b, from);
	if (!fixed.failed)
		nl_buf_add(b, fixed.data + from, fixed.len - from);
	nl_buf_free(&fixed);
}

enum nl_err nl_render(const char *md, size_t len, const struct nl_render_opts *o,
		      struct nl_buf *html, struct nl_buf *text)
{
	static const struct nl_render_opts defaults;
	size_t html_len = html->len, text_len = text ? text->len : 0;
	cmark_parser *p = NULL;
	cmark_node *doc = NULL;
	struct sizes sz = {0};
	enum nl_err err;

	if (!o)
		o = &defaults;
	int opts = CMARK_OPT_FOOTNOTES | CMARK_OPT_SMART |
		   (o->unsafe_html ? CMARK_OPT_UNSAFE : 0);
	err = scan_source(md, len, o);
	if (!err)
		err = parse(md, len, opts, &p, &doc);
	if (!err)
		err = check_tree(doc, o);
	if (!err)
		err = rewrite_images(doc, o, &sz);
	if (!err)
		err = render_html(p, doc, opts, &sz, html);
	if (!err && text)
		err = render_text(doc, o, text);
	if (!err) {
		repair_utf8(html, html_len);
		if (text)
			repair_utf8(text, text_len);
		err = nl_buf_err(html);
	}
	if (!err && text)
		err = nl_buf_err(text);
	if (err) {
		nl_buf_truncate(html, html_len);
		if (text)
			nl_buf_truncate(text, text_len);
	}
	free(sz.v);
	if (doc)
		cmark_node_free(doc);
	if (p)
		cmark_parser_free(p);
	return err;
}
