/* fuzz_config.c - libFuzzer harness: the configuration loader on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_config *c = NULL;
	if (nl_config_parse("fuzz/config.yml", (const char *)data, size, &c) == NL_OK) {
		/* What a loaded config promises its users. */
		if (!c || !c->root || c->root->kind != NL_Y_MAP || !c->smtp.url ||
		    nl_config_smtp_url_problem(c->smtp.url) || strchr(c->smtp.url, '@') ||
		    c->smtp.connections < 1 || c->smtp.connections > 64 ||
		    !(c->smtp.rate == 0 || (c->smtp.rate >= 1.0 / 3600 && c->smtp.rate <= 1e6)) ||
		    c->smtp.timeout < 1 || c->smtp.retries < 0 || c->smtp.retries > 100)
			abort();
		nl_config_free(c);
	} else if (c) {
		abort();
	}
	return 0;
}
