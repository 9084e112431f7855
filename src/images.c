/* images.c - which files a post may show as images: inside its folder, and images by content. */
#include "images.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "utf8.h"

static bool starts(const unsigned char *p, size_t n, size_t at, const char *magic, size_t k)
{
	return n >= at + k && memcmp(p + at, magic, k) == 0;
}

/* ISO BMFF (HEIF family): an "ftyp" box naming AVIF as major or compatible brand. */
static bool is_avif(const unsigned char *p, size_t n)
{
	if (!starts(p, n, 4, "ftyp", 4) || n < 16)
		return false;
	size_t box = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (box < 16 || box > n)
		box = n < 64 ? n : 64;
	for (size_t i = 8; i + 4 <= box; i += 4)
		if (i != 12 && (!memcmp(p + i, "avif", 4) || !memcmp(p + i, "avis", 4)))
			return true;
	return false;
}

static const char *skip_space(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	return s;
}

/* Past "<?...?>", "<!--...-->" or "<!DOCTYPE ...>" at s, or NULL if none is there. */
static const char *skip_prolog_item(const char *s, const char *end)
{
	static const struct {
		const char *open, *close;
	} items[] = {{"<?xml", "?>"}, {"<!--", "-->"}, {"<!DOCTYPE", ">"}};

	for (size_t i = 0; i < NL_ARRAY_LEN(items); i++) {
		size_t k = strlen(items[i].open);
		if ((size_t)(end - s) < k || memcmp(s, items[i].open, k))
			continue;
		const char *c = memmem(s + k, (size_t)(end - s - (ptrdiff_t)k), items[i].close,
				       strlen(items[i].close));
		return c ? c + strlen(items[i].close) : NULL;
	}
	return NULL;
}

/* SVG is text, and may be anything: accept only valid UTF-8 without NULs
 * whose first element, past an XML prolog, is <svg. */
static bool is_svg(const unsigned char *p, size_t n)
{
	const char *s = (const char *)p, *end = s + n, *next;
	size_t bad;

	if (memchr(p, 0, n) || !nl_utf8_valid(s, n, &bad))
		return false;
	if (n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	for (s = skip_space(s, end); (next = skip_prolog_item(s, end)); s = skip_space(next, end))
		;
	return end - s > 4 && !memcmp(s, "<svg", 4) &&
	       (s[4] == ' ' || s[4] == '\t' || s[4] == '\r' || s[4] == '\n' || s[4] == '>');
}

const char *nl_image_sniff(const unsigned char *p, size_t n)
{
	if (starts(p, n, 0, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (starts(p, n, 0, "\xFF\xD8\xFF", 3))
		return "image/jpeg";
	if (starts(p, n, 0, "GIF87a", 6) || starts(p, n, 0, "GIF89a", 6))
		return "image/gif";
	if (starts(p, n, 0, "RIFF", 4) && starts(p, n, 8, "WEBPVP8", 7))
		return "image/webp";
	if (is_avif(p, n))
		return "image/avif";
	if (is_svg(p, n))
		return "image/svg+xml";
	return NULL;
}

/* True if path is dir itself or below it (both already resolved). */
static bool inside(const char *path, const char *dir)
{
	size_t k = strlen(dir);

	while (k > 1 && dir[k - 1] == '/')
		k--;
	return !strncmp(path, dir, k) && (path[k] == '/' || (k == 1 && dir[0] == '/'));
}

static bool inside_real(const char *path, const char *dir)
{
	char real[PATH_MAX];

	return dir && *dir && realpath(dir, real) && inside(path, real);
}

enum nl_err nl_image_read(const char *what, const char *path, struct nl_buf *data,
			  const char **type)
{
	struct stat st;
	char chunk[65536];
	ssize_t n;
	enum nl_err e = NL_OK;
	/* O_NONBLOCK: a FIFO swapped in must not hang the open; fstat refuses it. */
	int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return nl_errf(NL_ENOINPUT, "%s: cannot read %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		e = nl_errf(NL_EDATA, "%s: %s is not a regular file", what, path);
	else if ((size_t)st.st_size > NL_IMAGE_MAX)
		e = nl_errf(NL_EDATA, "%s: %s is %lld bytes: at most %zu", what, path,
			    (long long)st.st_size, NL_IMAGE_MAX);
	while (!e && (n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = nl_errf(NL_EIO, "%s: reading %s: %s", what, path, strerror(errno));
		else if (data->len + (size_t)n > NL_IMAGE_MAX)
			e = nl_errf(NL_EDATA, "%s: %s grew past %zu bytes", what, path, NL_IMAGE_MAX);
		else
			nl_buf_add(data, chunk, (size_t)n);
	}
	close(fd);
	if (!e)
		e = nl_buf_err(data);
	if (!e && !(*type = nl_image_sniff((const unsigned char *)data->data, data->len)))
		e = nl_errf(NL_EDATA, "%s: %s is not a PNG, JPEG, GIF, WebP, AVIF or SVG image",
			    what, path);
	return e;
}

enum nl_err nl_image_locate(const struct nl_image_place *pl, const char *url, int line,
			    char **path)
{
	struct nl_buf b = NL_BUF_INIT;
	char real[PATH_MAX];
	enum nl_err e = NL_OK;

	*path = NULL;
	nl_buf_addf(&b, "%s/%s", *url == '/' ? "" : pl->dir, url);
	if (nl_buf_err(&b))
		return nl_errf(NL_ENOMEM, "out of memory");
	if (!realpath(b.data, real))
		e = nl_errf(NL_ENOINPUT, "%s:%d: image '%s' not found (looked for %s): %s", pl->post,
			    line, url, b.data, strerror(errno));
	else if (!inside_real(real, pl->dir) && !inside_real(real, pl->images_dir))
		e = nl_errf(NL_EDATA,
			    "%s:%d: image '%s' is %s, outside the post's folder%s: only images "
			    "there may be sent",
			    pl->post, line, url, real,
			    pl->images_dir && *pl->images_dir ? " and images_dir" : "");
	else if (!(*path = strdup(real)))
		e = nl_errf(NL_ENOMEM, "out of memory");
	nl_buf_free(&b);
	return e;
}

enum nl_err nl_image_check(const struct nl_image_place *pl, const char *url, int line,
			   const char *path, const char **type)
{
	struct nl_buf what = NL_BUF_INIT, data = NL_BUF_INIT;
	enum nl_err e;

	nl_buf_addf(&what, "%s:%d: image '%s'", pl->post, line, url);
	if (!(e = nl_buf_err(&what)))
		e = nl_image_read(what.data, path, &data, type);
	nl_buf_free(&what);
	nl_buf_free(&data);
	return e;
}

/* ---- sizes from headers: enough to write width and height, no decoder ---- */

static unsigned be16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const unsigned char *p) { return (unsigned)p[1] << 8 | p[0]; }
static unsigned le24(const unsigned char *p) { return (unsigned)p[2] << 16 | le16(p); }
static unsigned long be32(const unsigned char *p)
{
	return (unsigned long)be16(p) << 16 | be16(p + 2);
}

/* RIFF "WEBP" with a VP8 (lossy), VP8L (lossless) or VP8X (extended) first chunk. */
static bool webp_size(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
	if (starts(p, n, 12, "VP8 ", 4) && n >= 30 && !memcmp(p + 23, "\x9d\x01\x2a", 3)) {
		*w = le16(p + 26) & 0x3fff;
		*h = le16(p + 28) & 0x3fff;
	} else if (starts(p, n, 12, "VP8L", 4) && n >= 25 && p[20] == 0x2f) {
		unsigned long bits = (unsigned long)le16(p + 23) << 16 | le16(p + 21);
		*w = (unsigned)(bits & 0x3fff) + 1;
		*h = (unsigned)(bits >> 14 & 0x3fff) + 1;
	} else if (starts(p, n, 12, "VP8X", 4) && n >= 30) {
		*w = le24(p + 24) + 1;
		*h = le24(p + 27) + 1;
	}
	return *w && *h;
}

/* The Exif orientation (1-8) in an APP1 segment's body p[0..n), or 0. */
static unsigned exif_orientation(const unsigned char *p, size_t n)
{
	if (n < 14 || memcmp(p, "Exif\0\0", 6))
		return 0;
	p += 6, n -= 6; /* offsets below count from the TIFF header */
	bool le = !memcmp(p, "II", 2);
	if (!le && memcmp(p, "MM", 2))
		return 0;
#define U16(q) (le ? le16(q) : be16(q))
#define U32(q) (le ? (unsigned long)le16((q) + 2) << 16 | le16(q) : be32(q))
	unsigned long ifd = U32(p + 4);
	if (ifd > n - 2)
		return 0;
	unsigned count = U16(p + ifd);
	for (unsigned i = 0; i < count && ifd + 2 + 12 * (size_t)(i + 1) <= n; i++) {
		const unsigned char *e = p + ifd + 2 + 12 * (size_t)i;
		if (U16(e) == 0x0112) /* Orientation: a SHORT in the value field */
			return U16(e + 8) <= 8 ? U16(e + 8) : 0;
	}
	return 0;
#undef U16
#undef U32
}

static bool is_sof(unsigned m)
{
	/* every start-of-frame except DHT (C4), JPG (C8) and DAC (CC) */
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Segment by segment up to the first frame header; Exif may come before it. */
static bool jpeg_size(const unsigned char *p, size_t n, unsigned *w, unsigned *h)
{
	size_t i = 2;
	unsigned orient = 0;

	while (i + 4 <= n) {
		if (p[i] != 0xFF)
			return false;
		unsigned m = p[i + 1];
		if (m == 0xFF) { /* fill byte */
			i++;
			continue;
		}
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { /* no length */
			i += 2;
			continue;
		}
		if (m == 0xD9 || m == 0xDA) /* end of image, start of scan: too late */
			return false;
		size_t len = be16(p + i + 2);
		if (len < 2 || i + 2 + len > n)
			return false;
		if (m == 0xE1 && !orient)
			orient = exif_orientation(p + i + 4, len - 2);
		if (is_sof(m) && len >= 7) {
			*h = be16(p + i + 5);
			*w = be16(p + i + 7);
			if (orient >= 5) { /* turned a quarter: browsers show it so */
				unsigned t = *w;
				*w = *h;
				*h = t;
			}
			return *w && *h;
		}
		i += 2 + len;
	}
	return false;
}

bool nl_image_size(const unsigned char *p, size_t n, unsigned *width, unsigned *height)
{
	const char *type = nl_image_sniff(p, n);
	bool ok = false;

	*width = *height = 0;
	if (!type)
		return false;
	if (!strcmp(type, "image/png") && n >= 24 && !memcmp(p + 12, "IHDR", 4)) {
		unsigned long w = be32(p + 16), h = be32(p + 20);
		/* PNG allows 2^31-1; nothing that large is sent, and unsigned must hold it */
		if (w && h && w <= 0x7fffffffUL && h <= 0x7fffffffUL) {
			*width = (unsigned)w;
			*height = (unsigned)h;
			ok = true;
		}
	} else if (!strcmp(type, "image/gif") && n >= 10) {
		*width = le16(p + 6);
		*height = le16(p + 8);
		ok = *width && *height;
	} else if (!strcmp(type, "image/webp")) {
		ok = webp_size(p, n, width, height);
	} else if (!strcmp(type, "image/jpeg")) {
		ok = jpeg_size(p, n, width, height);
	}
	if (!ok)
		*width = *height = 0;
	return ok;
}
