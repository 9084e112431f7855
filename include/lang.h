/* lang.h - a post's language: tag shape, writing direction, dates in words. */
#ifndef NL_LANG_H
#define NL_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/*
 * True if tag has the shape of a BCP 47 language tag: a primary subtag of
 * 2-8 letters, then subtags of 1-8 letters or digits, joined by '-', at
 * most 35 characters in all ("en", "pt-BR", "zh-Hant-TW", "ar-EG"). The
 * registry itself is not consulted: a well-shaped unknown tag passes.
 */
bool nl_lang_valid(const char *tag);

/* "rtl" for languages written right to left (Arabic, Hebrew, Persian,
 * Urdu, ...: by the primary subtag, or an Arab/Hebr/Thaana/Syrc/Nkoo
 * script subtag), else "ltr". A NULL or empty tag is "ltr". */
const char *nl_lang_dir(const char *tag);

/*
 * The UTC date of t in words, as the language writes it: "December 2,
 * 2026" (en), "2. Dezember 2026" (de), "2 décembre 2026" (fr), "2 de
 * diciembre de 2026" (es), "2026年12月2日" (ja, zh), "2 ديسمبر 2026" (ar),
 * and a few more; "2026-12-02" for a language it does not know. "" outside
 * the years 0000-9999. Always NUL-terminated when size > 0.
 */
void nl_lang_long_date(time_t t, const char *tag, char *out, size_t size);

/* The few words the program itself puts into a post: the label over its
 * footnotes and over its list of links, in the language (English for one it
 * does not know). A static string. */
enum nl_lang_word { NL_WORD_NOTES, NL_WORD_LINKS };
const char *nl_lang_word(const char *tag, enum nl_lang_word w);

#endif
