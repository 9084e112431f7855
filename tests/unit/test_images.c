/* test_images.c - image sizes from real files' headers (made by Chromium's encoders,
 * tests/fixtures/images), and truncated or odd headers that must not be believed. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "images.h"
#include "t.h"

static const struct {
	const char *file, *type;
	unsigned w, h;
} files[] = {
	{"tiny.png", "image/png", 53, 17},
	{"tiny.gif", "image/gif", 47, 13},
	{"photo.jpg", "image/jpeg", 37, 23},
	/* Exif orientation 6 (a quarter turn): browsers show it 23 wide */
	{"rotated.jpg", "image/jpeg", 23, 37},
	{"simple-lossy.webp", "image/webp", 37, 23},	 /* RIFF WEBP + VP8 */
	{"simple-lossless.webp", "image/webp", 41, 19}, /* RIFF WEBP + VP8L */
	{"lossy.webp", "image/webp", 37, 23},		 /* VP8X (extended) */
	{"lossless-x.webp", "image/webp", 41, 19},
	{"alpha.webp", "image/webp", 29, 31},
};

static void test_real_files(void)
{
	for (size_t i = 0; i < NL_ARRAY_LEN(files); i++) {
		char path[256];
		struct nl_buf b = NL_BUF_INIT;
		const char *type = NULL;
		unsigned w = 1, h = 1;
		snprintf(path, sizeof path, "tests/fixtures/images/%s", files[i].file);
		T_CHECK(nl_image_read(files[i].file, path, &b, &type) == NL_OK);
		T_STREQ(type, files[i].type);
		T_CHECK(nl_image_size((const unsigned char *)b.data, b.len, &w, &h));
		if (w != files[i].w || h != files[i].h)
			printf("  %s: %ux%u, expected %ux%u\n", files[i].file, w, h, files[i].w,
			       files[i].h);
		T_CHECK(w == files[i].w && h == files[i].h);
		/* every shorter prefix is refused or gives the same size, never garbage */
		for (size_t n = 0; n < b.len && n < 700; n++) {
			unsigned w2, h2;
			if (nl_image_size((const unsigned char *)b.data, n, &w2, &h2))
				T_CHECK(w2 == w && h2 == h);
			else
				T_CHECK(w2 == 0 && h2 == 0);
		}
		nl_buf_free(&b);
	}
}

static void test_no_size(void)
{
	static const char svg[] = "<svg width=\"10\" height=\"10\"></svg>";
	static const unsigned char zero_png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\0\0\0\0\x05";
	/* a JPEG whose scan starts before any frame header */
	static const unsigned char sos_first[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xC0,
						  0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x10};
	/* a JPEG segment length that points past the end */
	static const unsigned char long_seg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xF0, 0x00, 0x00};
	unsigned w = 7, h = 7;

	T_CHECK(!nl_image_size((const unsigned char *)svg, sizeof svg - 1, &w, &h) && !w && !h);
	T_CHECK(!nl_image_size(zero_png, sizeof zero_png - 1, &w, &h));
	T_CHECK(!nl_image_size(sos_first, sizeof sos_first, &w, &h));
	T_CHECK(!nl_image_size(long_seg, sizeof long_seg, &w, &h));
	T_CHECK(!nl_image_size((const unsigned char *)"GIF89a", 6, &w, &h));
}

int main(void)
{
	test_real_files();
	test_no_size();
	return t_done();
}
