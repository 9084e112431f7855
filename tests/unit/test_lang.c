/* test_lang.c - language tags, writing direction, dates in words. */
#include <string.h>

#include "lang.h"
#include "nl.h"
#include "t.h"

static void test_tags(void)
{
	static const char *const good[] = {"en", "ja", "pt-BR", "zh-Hant-TW", "ar-EG", "de-CH-1996",
					   "sr-Latn", "ckb", "en-US-x-twain"};
	static const char *const bad[] = {"", "e", "en_US", "en-", "-en", "en--US", "1e",
					  "englishes", "ja jp", "en-US-aaaaaaaaa",
					  "aa-bb-cc-dd-ee-ff-gg-hh-ii-jj-kk-lll"};
	for (size_t i = 0; i < NL_ARRAY_LEN(good); i++)
		T_CHECK(nl_lang_valid(good[i]));
	for (size_t i = 0; i < NL_ARRAY_LEN(bad); i++)
		T_CHECK(!nl_lang_valid(bad[i]));
	T_CHECK(!nl_lang_valid(NULL));
}

static void test_direction(void)
{
	static const char *const rtl[] = {"ar", "AR-eg", "he", "fa-IR", "ur", "yi", "ps", "dv",
					  "ckb", "sd", "ug", "pa-Arab", "az-Arab-IR"};
	static const char *const ltr[] = {"en", "ja", "de", "", "ku-Latn", "uz-Cyrl", "arn", "hey"};
	for (size_t i = 0; i < NL_ARRAY_LEN(rtl); i++)
		T_STREQ(nl_lang_dir(rtl[i]), "rtl");
	for (size_t i = 0; i < NL_ARRAY_LEN(ltr); i++)
		T_STREQ(nl_lang_dir(ltr[i]), "ltr");
	T_STREQ(nl_lang_dir(NULL), "ltr");
}

static void test_long_dates(void)
{
	static const struct {
		const char *lang, *want;
	} cases[] = {
		{"en", "December 2, 2026"},	 {"en-GB", "December 2, 2026"},
		{"de", "2. Dezember 2026"},	 {"fr", "2 décembre 2026"},
		{"es", "2 de diciembre de 2026"}, {"ja", "2026年12月2日"},
		{"zh-Hans", "2026年12月2日"},	 {"ko", "2026년 12월 2일"},
		{"ar", "2 ديسمبر 2026"},	 {"tlh", "2026-12-02"},
		{NULL, "December 2, 2026"},	 {"", "December 2, 2026"},
	};
	char out[64];
	time_t t = 1796169600; /* 2026-12-02T00:00:00Z */
	for (size_t i = 0; i < NL_ARRAY_LEN(cases); i++) {
		nl_lang_long_date(t, cases[i].lang, out, sizeof out);
		T_STREQ(out, cases[i].want);
	}
	nl_lang_long_date(t - 86400, "fr", out, sizeof out);
	T_STREQ(out, "1er décembre 2026");
	nl_lang_long_date(t, "de", out, 5); /* cut, still terminated */
	T_CHECK(strlen(out) == 4);
	nl_lang_long_date((time_t)253402300800LL, "en", out, sizeof out); /* year 10000 */
	T_STREQ(out, "");
}

/* The program's own words in a post: per language, English for the rest. */
static void test_words(void)
{
	T_STREQ(nl_lang_word("de-AT", NL_WORD_NOTES), "Anmerkungen");
	T_STREQ(nl_lang_word("fr", NL_WORD_LINKS), "Liens");
	T_STREQ(nl_lang_word("zh-Hant", NL_WORD_NOTES), "注释");
	T_STREQ(nl_lang_word("sw", NL_WORD_NOTES), "Notes");
	T_STREQ(nl_lang_word(NULL, NL_WORD_LINKS), "Links");
	T_STREQ(nl_lang_word("", NL_WORD_NOTES), "Notes");
}

int main(void)
{
	test_words();
	test_tags();
	test_direction();
	test_long_dates();
	return t_done();
}
