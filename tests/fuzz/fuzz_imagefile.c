/* fuzz_imagefile.c - libFuzzer harness: an image URL's place under SLUG/ and its percent-encoding, on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "campaign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The place never climbs out of SLUG/: relative, no "." or ".." parts, no empty ones. */
static void check_place(const char *f, size_t n)
{
	if (n && (f[0] == '/' || f[n - 1] == '/'))
		abort();
	for (size_t i = 0; i < n;) {
		size_t k = strcspn(f + i, "/");
		if (!k || (k == 1 && f[i] == '.') || (k == 2 && !memcmp(f + i, "..", 2)))
			abort();
		i += k + 1;
	}
}

/* The encoding is unreserved characters, '/' and %XX only, and decodes back to its input. */
static void check_escape(const char *in, const char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;
	for (const char *p = out; *p; p++) {
		if (*p == '%') {
			const char *a = strchr(hex, p[1]), *b = a ? strchr(hex, p[2]) : NULL;
			if (!a || !b || !p[1] || !p[2] || in[j++] != (char)((a - hex) << 4 | (b - hex)))
				abort();
			p += 2;
		} else if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/", *p) ||
			   in[j++] != *p) {
			abort();
		}
	}
	if (in[j])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_buf url = NL_BUF_INIT, place = NL_BUF_INIT, esc = NL_BUF_INIT;
	nl_buf_add(&url, data, size);
	/* A URL is a C string: a NUL ends it, as in cmark's node. */
	nl_campaign_image_file(url.data, &place);
	if (!nl_buf_err(&place)) {
		check_place(place.data, place.len);
		nl_url_path_escape(&esc, place.data);
		if (!nl_buf_err(&esc))
			check_escape(place.data, esc.data);
	}
	nl_buf_free(&url);
	nl_buf_free(&place);
	nl_buf_free(&esc);
	return 0;
}
