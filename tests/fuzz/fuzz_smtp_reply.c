/* fuzz_smtp_reply.c - libFuzzer harness: reply classification and URL redaction on arbitrary input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

/* Input: one byte of stage, then "CODE ESC TEXT" or a URL; both readers get the same bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[1024], esc[32], out[256];
	if (size < 1 || size >= sizeof buf)
		return 0;
	enum nl_smtp_stage st = (enum nl_smtp_stage)(data[0] % (NL_STAGE_DOT + 1));
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	int code = (int)strtol(buf, NULL, 10);
	const char *sp = strchr(buf, ' ');
	size_t n = sp ? strcspn(sp + 1, " ") : 0;
	if (n >= sizeof esc)
		n = sizeof esc - 1;
	memcpy(esc, sp ? sp + 1 : "", n);
	esc[n] = 0;
	enum nl_smtp_verdict v = nl_smtp_classify(st, code, esc, buf);
	if (v > NL_V_DOUBT)
		abort();
	nl_smtp_url_redacted(buf, out, sizeof out);
	if (strlen(out) >= sizeof out)
		abort();
	return 0;
}
