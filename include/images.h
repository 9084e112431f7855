/* images.h - which files a post may show as images, and their type by content. */
#ifndef NL_IMAGES_H
#define NL_IMAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "nl.h"

/* No image file larger than this is read, nor more than NL_IMAGES_TOTAL
 * embedded in one message (mail servers refuse far less). */
#define NL_IMAGE_MAX ((size_t)20 << 20)
#define NL_IMAGES_TOTAL ((size_t)30 << 20)

/* Where a post's images may come from; every string is borrowed. */
struct nl_image_place {
	const char *post;	/* the post's path, for messages */
	const char *dir;	/* the post's folder */
	const char *images_dir;	/* the config's `images_dir`; "" or NULL = none */
};

/*
 * The file a relative image URL names, resolved (symlinks followed, "." and
 * ".." folded): it must be inside pl->dir or pl->images_dir. *path receives
 * it (the caller frees it). Errors say "post:LINE: image 'url' ...".
 */
enum nl_err nl_image_locate(const struct nl_image_place *pl, const char *url, int line,
			    char **path);

/*
 * Check that the located file at path is a regular file whose content is a
 * PNG, JPEG, GIF, WebP, AVIF or SVG image; *type receives its Content-Type.
 * Errors name the post, line and url as nl_image_locate's do.
 */
enum nl_err nl_image_check(const struct nl_image_place *pl, const char *url, int line,
			   const char *path, const char **type);

/*
 * Read the image at path (as nl_image_resolve gave it) into data and check
 * its content again, since the file may have changed since; *type receives
 * its Content-Type. Messages start with what ("post.md: image x").
 */
enum nl_err nl_image_read(const char *what, const char *path, struct nl_buf *data,
			  const char **type);

/* The Content-Type of an image by its bytes, or NULL if it is none we send. */
const char *nl_image_sniff(const unsigned char *p, size_t n);

/*
 * The size in pixels that the header of the image p[0..n) declares, as a
 * browser shows it: PNG, GIF, WebP (lossy, lossless, extended) and JPEG (its
 * first frame header; width and height swapped when the Exif orientation
 * turns the picture a quarter). False, with both 0, for SVG, AVIF and
 * anything truncated or not an image: then nobody can know the size.
 */
bool nl_image_size(const unsigned char *p, size_t n, unsigned *width, unsigned *height);

#endif
