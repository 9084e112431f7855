/* fuzz_imagesize.c - libFuzzer harness: image sizes from PNG, GIF, WebP and JPEG headers. */
#include <stdint.h>
#include <stdlib.h>

#include "images.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned w = 1, h = 1;
	bool ok = nl_image_size(data, size, &w, &h);

	/* a size is both numbers or neither, and never claimed for what is no image */
	if (ok != (w && h) || (!ok && (w || h)) || (ok && !nl_image_sniff(data, size)))
		abort();
	return 0;
}
