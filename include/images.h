/* images.h - which files a post may show as images, and their type by content. */
#ifndef NL_IMAGES_H
#define NL_IMAGES_H

#include <stddef.h>

#include "buf.h"
#include "nl.h"

/* No image file larger than this is read (mail servers refuse far less). */
#define NL_IMAGE_MAX ((size_t)20 << 20)

/* Where a post's images may come from; every string is borrowed. */
struct nl_image_place {
	const char *post;	/* the post's path, for messages */
	const char *dir;	/* the post's folder */
	const char *images_dir;	/* the config's `images_dir`; "" or NULL = none */
};

/*
 * The file a relative image URL names, checked: it must resolve (symlinks
 * followed, "." and ".." folded) to a regular file inside pl->dir or
 * pl->images_dir, and its content must be a PNG, JPEG, GIF, WebP, AVIF or
 * SVG image. *path receives the resolved path (the caller frees it), *type
 * its Content-Type. Errors say "post:LINE: image 'url': why".
 */
enum nl_err nl_image_resolve(const struct nl_image_place *pl, const char *url, int line,
			     char **path, const char **type);

/*
 * Read the image at path (as nl_image_resolve gave it) into data and check
 * its content again, since the file may have changed since; *type receives
 * its Content-Type. Messages start with what ("post.md: image x").
 */
enum nl_err nl_image_read(const char *what, const char *path, struct nl_buf *data,
			  const char **type);

/* The Content-Type of an image by its bytes, or NULL if it is none we send. */
const char *nl_image_sniff(const unsigned char *p, size_t n);

#endif
