/* fuzz_message.c - libFuzzer harness: header fields from any bytes never add a field, break a line or leave 7 bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is pieces split at 0x00: an op byte then name 0x01 value
 * (0x01 display 0x01 address for To-like fields). Whatever the pieces, the
 * header block of the finalized message must hold exactly the fields the
 * message lists, each line ending in CRLF, 7-bit, a continuation line
 * starting with white space: no value can smuggle in a field of its own.
 */
static void check(const struct nl_message *m, const char *msg, size_t n)
{
	size_t fields = 0;
	const char *p = msg, *end = msg + n;
	for (;;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol || eol == p || eol[-1] != '\r')
			abort();
		if (eol == p + 1)
			break; /* the blank line */
		for (const char *q = p; q < eol - 1; q++)
			if ((unsigned char)*q >= 0x80 || *q == '\r' || !*q)
				abort();
		if (*p != ' ' && *p != '\t') {
			const char *colon = memchr(p, ':', (size_t)(eol - p));
			if (!colon || colon == p)
				abort();
			fields++;
		}
		p = eol + 1;
	}
	if (fields != nl_message_hdr_count(m))
		abort();
}

static void one(struct nl_message *m, const char *piece)
{
	char buf[4096];
	size_t n = strlen(piece);
	if (!n || n >= sizeof buf)
		return;
	memcpy(buf, piece + 1, n);
	enum nl_hdr_at at = (enum nl_hdr_at)((unsigned char)piece[0] % 3);
	char *name = buf, *value = strchr(buf, 1), *addr;
	if (!value)
		return;
	*value++ = 0;
	switch ((unsigned char)piece[0] / 3 % 6) {
	case 0: nl_message_hdr_raw(m, at, name, value); break;
	case 1: nl_message_hdr_text(m, at, name, value); break;
	case 2:
		addr = strchr(value, 1);
		if (addr)
			*addr++ = 0;
		nl_message_hdr_addr(m, at, name, value, addr ? addr : "a@example.test");
		break;
	case 3: nl_message_set_id(m, value); break;
	case 4: nl_message_hdr_remove(m, name); break;
	default: nl_message_set_envelope_from(m, value); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_message *m = nl_message_new();
	struct nl_buf out;
	char env[NL_ENVELOPE_MAX];
	char *s = malloc(size + 1);
	if (!m || !s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	for (size_t i = 0; i < size; i += strlen(s + i) + 1)
		one(m, s + i);
	nl_buf_init(&out);
	if (nl_message_finalize(m, &out, env, sizeof env) == NL_OK) {
		check(m, out.data, out.len);
		if (strpbrk(env, " <>\r\n"))
			abort();
	}
	nl_buf_free(&out);
	nl_message_free(m);
	free(s);
	return 0;
}
