/* utf8.c - UTF-8 validation (RFC 3629) and line/column positions. */
#include "utf8.h"

bool nl_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			k = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			if (c == 0xF0)
				lo = 0x90;
			if (c == 0xF4)
				hi = 0x8F;
		} else
			goto fail;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n)
				goto fail;
			unsigned d = p[i + j];
			if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF))
				goto fail;
		}
		i += k + 1;
	}
	return true;
fail:
	if (bad)
		*bad = i;
	return false;
}

void nl_text_pos(const char *p, size_t off, int *line, int *col)
{
	int l = 1, c = 1;
	for (size_t i = 0; i < off; i++) {
		if (p[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)p[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}
