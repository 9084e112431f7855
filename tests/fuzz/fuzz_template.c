/* fuzz_template.c - libFuzzer harness: template parse, bind to a fixed context, and evaluation for two readers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "ynode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_yaml[] =
	"title: \"A <post> & more\"\n"
	"draft: false\n"
	"empty: \"\"\n"
	"tags: [one, two, three]\n"
	"xs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]\n"
	"items:\n"
	"  - {name: a, url: \"https://a.example/\", tags: [x, y]}\n"
	"  - {name: b, done: true}\n"
	"publication: {name: Notes, address: \"1 Road\", language: en}\n"
	"content: \"<p>Body</p>\"\n";

static struct nl_ynode *ctx;

/* Per-reader fields, as the campaign has them. */
static int dyn(void *unused, const char *name)
{
	static const char *const fields[] = {"subscriber.email", "subscriber.name", "unsubscribe_url"};

	(void)unused;
	for (size_t i = 0; i < NL_ARRAY_LEN(fields); i++)
		if (!strcmp(name, fields[i]))
			return (int)i;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const readers[2][3] = {
		{"a@example.test", "Ada <&>", "https://u.example/?t=1&x=\"2\""},
		{"b@example.test", "", ""},
	};
	struct nl_tmpl *t = NULL;
	struct nl_residual *r = NULL;

	if (!ctx && nl_ynode_parse("ctx.yml", context_yaml, strlen(context_yaml), 1, &ctx))
		abort();
	if (size < 1)
		return 0;
	bool html = data[0] & 1;
	if (nl_tmpl_parse("fuzz.tmpl", (const char *)data + 1, size - 1, html, &t))
		return 0;
	if (!nl_tmpl_bind(t, ctx, dyn, NULL, &r)) {
		for (int k = 0; k < 2; k++) {
			struct nl_buf out = NL_BUF_INIT;
			nl_residual_eval(r, readers[k], &out);
			/* html-escaped fields never let a raw '<' of the name through */
			nl_buf_free(&out);
		}
		nl_residual_free(r);
	}
	nl_tmpl_free(t);
	return 0;
}
