/* fuzz_bounce.c - libFuzzer harness: classify arbitrary bytes as an incoming message (GMime underneath). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_bounce_opts o = {.bounce_address = "bounces+{token}@example.test",
				   .unsubscribe_email = "unsubscribe@example.test",
				   .envelope_to = "bounces+00000000-0000-4000-8000-000000000001@example.test"};
	struct nl_bounce b;
	char tok[NL_TOKEN_LEN + 1];
	if (nl_bounce_classify((const char *)data, size, &o, &b))
		return 0;
	/* Everything handed out is a terminated string of its size. */
	if (b.kind > NL_BOUNCE_AUTOREPLY || strlen(b.rcpt) > NL_ADDR_MAX || strlen(b.text_addr) > NL_ADDR_MAX ||
	    strlen(b.from) > NL_ADDR_MAX || strlen(b.token) > NL_TOKEN_LEN || strlen(b.why) >= sizeof b.why ||
	    strlen(b.msgid) >= sizeof b.msgid || strlen(b.status) >= sizeof b.status || !b.token_from)
		abort();
	if (*b.token && !nl_token_valid(b.token))
		abort();
	/* The same bytes as an address to take a VERP token from. */
	char addr[512];
	size_t n = size < sizeof addr - 1 ? size : sizeof addr - 1;
	memcpy(addr, data, n);
	addr[n] = 0;
	if (nl_bounce_verp_token("bounces+{token}@example.test", addr, tok) && !nl_token_valid(tok))
		abort();
	return 0;
}
