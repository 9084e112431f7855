/* lang.c - a post's language: tag shape, writing direction, dates in words. */
#include "lang.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TAG_MAX 35 /* long enough for language-extlang-script-region-variant */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

bool nl_lang_valid(const char *tag)
{
	size_t len = 0, sub = 0;
	bool first = true;

	if (!tag || !*tag || strlen(tag) > TAG_MAX)
		return false;
	for (const char *p = tag;; p++, len++) {
		if (*p == '-' || !*p) {
			if (!sub || sub > 8 || (first && sub < 2))
				return false;
			if (!*p)
				return true;
			first = false;
			sub = 0;
			continue;
		}
		if (first ? !is_alpha(*p) : !is_alnum(*p))
			return false;
		sub++;
	}
}

/* The primary subtag, lowercased, into out; "" if it does not fit. */
static void primary(const char *tag, char out[9])
{
	size_t n = 0;

	for (; tag && tag[n] && tag[n] != '-' && n < 8; n++)
		out[n] = (char)(tag[n] | 0x20);
	out[tag && tag[n] && tag[n] != '-' ? 0 : n] = 0;
}

static bool in_list(const char *word, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(word, list[i]))
			return true;
	return false;
}

const char *nl_lang_dir(const char *tag)
{
	/* CLDR's right-to-left languages that mail is plausibly written in. */
	static const char *const rtl[] = {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks",
					  "mzn", "nqo", "prs", "ps", "sd", "syr", "ug", "ur", "yi"};
	static const char *const scripts[] = {"arab", "hebr", "thaa", "syrc", "nkoo", "adlm", "rohg"};
	char lang[9];
	const char *p;

	primary(tag, lang);
	if (!*lang)
		return "ltr";
	if (in_list(lang, rtl, sizeof rtl / sizeof *rtl))
		return "rtl";
	/* A script subtag says it outright: "pa-Arab", "az-Arab-IR". */
	for (p = strchr(tag, '-'); p; p = strchr(p + 1, '-')) {
		char s[5];
		size_t n = strcspn(p + 1, "-");
		if (n != 4)
			continue;
		for (size_t i = 0; i < 4; i++)
			s[i] = (char)(p[1 + i] | 0x20);
		s[4] = 0;
		if (in_list(s, scripts, sizeof scripts / sizeof *scripts))
			return "rtl";
		if (!strcmp(s, "latn") || !strcmp(s, "cyrl"))
			return "ltr"; /* "ku-Latn", "uz-Cyrl" */
	}
	return "ltr";
}

/* Month names and the order of the parts, per language (CLDR's long date). */
enum order { MDY_COMMA, D_DOT_MY, DMY, D_DE_M_DE_Y, YMD_CJK, YMD_KO };

static const struct date_lang {
	const char *lang;
	enum order order;
	const char *const months[12];
} date_langs[] = {
	{"en", MDY_COMMA, {"January", "February", "March", "April", "May", "June", "July",
			   "August", "September", "October", "November", "December"}},
	{"de", D_DOT_MY, {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
			  "September", "Oktober", "November", "Dezember"}},
	{"fr", DMY, {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
		     "septembre", "octobre", "novembre", "décembre"}},
	{"es", D_DE_M_DE_Y, {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
			     "agosto", "septiembre", "octubre", "noviembre", "diciembre"}},
	{"pt", D_DE_M_DE_Y, {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho",
			     "agosto", "setembro", "outubro", "novembro", "dezembro"}},
	{"it", DMY, {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
		     "agosto", "settembre", "ottobre", "novembre", "dicembre"}},
	{"nl", DMY, {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
		     "september", "oktober", "november", "december"}},
	/* Arabic as Egypt and the Gulf name the months (CLDR "ar"); the
	 * Levant's Syriac names would need a per-region table. Western
	 * digits: what most Arabic newsletters print in dates. */
	{"ar", DMY, {"يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس",
		     "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"}},
	{"ja", YMD_CJK, {0}},
	{"zh", YMD_CJK, {0}},
	{"ko", YMD_KO, {0}},
};

void nl_lang_long_date(time_t t, const char *tag, char *out, size_t size)
{
	struct tm tm;
	char lang[9];
	int y, d;

	if (!size)
		return;
	out[0] = 0;
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return;
	y = tm.tm_year + 1900;
	d = tm.tm_mday;
	primary(tag && *tag ? tag : "en", lang);
	for (size_t i = 0; i < sizeof date_langs / sizeof *date_langs; i++) {
		const struct date_lang *l = &date_langs[i];
		const char *m = l->months[tm.tm_mon];
		if (strcmp(lang, l->lang))
			continue;
		switch (l->order) {
		case MDY_COMMA: snprintf(out, size, "%s %d, %d", m, d, y); return;
		case D_DOT_MY: snprintf(out, size, "%d. %s %04d", d, m, y); return;
		case D_DE_M_DE_Y: snprintf(out, size, "%d de %s de %04d", d, m, y); return;
		case YMD_CJK: snprintf(out, size, "%04d年%d月%d日", y, tm.tm_mon + 1, d); return;
		case YMD_KO: snprintf(out, size, "%04d년 %d월 %d일", y, tm.tm_mon + 1, d); return;
		case DMY:
			/* French writes the first of the month as an ordinal. */
			snprintf(out, size, "%d%s %s %04d", d, d == 1 && !strcmp(lang, "fr") ? "er" : "",
				 m, y);
			return;
		}
	}
	snprintf(out, size, "%04d-%02d-%02d", y, tm.tm_mon + 1, d); /* neutral: ISO 8601 */
}

/* The headings over a post's notes and links, as the language says them. */
static const struct {
	const char *lang, *notes, *links;
} labels[] = {
	{"ar", "ملاحظات", "روابط"},	{"de", "Anmerkungen", "Links"}, {"es", "Notas", "Enlaces"},
	{"fr", "Notes", "Liens"},	{"it", "Note", "Link"},		{"ja", "注", "リンク"},
	{"ko", "주석", "링크"},		{"nl", "Noten", "Links"},	{"pt", "Notas", "Links"},
	{"zh", "注释", "链接"},
};

const char *nl_lang_word(const char *tag, enum nl_lang_word w)
{
	char lang[9];
	primary(tag && *tag ? tag : "en", lang);
	for (size_t i = 0; i < sizeof labels / sizeof *labels; i++)
		if (!strcmp(lang, labels[i].lang))
			return w == NL_WORD_NOTES ? labels[i].notes : labels[i].links;
	return w == NL_WORD_NOTES ? "Notes" : "Links";
}
