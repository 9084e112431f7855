/* fuzz_addr.c - libFuzzer harness: the address checker and the mailbox parser on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	char *s = malloc(size + 1), *display = NULL, *addr = NULL;
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	bool ok = nl_addr_valid(s, size, &why);
	if (!ok && (!why || !*why))
		abort(); /* a refusal always says why */
	for (size_t i = 0; ok && i < size; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] >= 0x7f)
			abort(); /* a valid address is printable ASCII without spaces */
	if (nl_addr_parse_mailbox(s, &display, &addr, &why)) {
		if (!nl_addr_valid(addr, strlen(addr), &why))
			abort(); /* what the mailbox parser returns is an address we accept */
		for (const char *p = display; *p; p++)
			if ((unsigned char)*p < 0x20)
				abort(); /* display names are cleaned */
	}
	free(display);
	free(addr);
	free(s);
	return 0;
}
