/* log.c - warnings, errors and chatter on stderr, one whole line per call. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int verbosity = NL_NORMAL;

void nl_log_set_verbosity(int v)
{
	verbosity = v;
}

int nl_log_verbosity(void)
{
	return verbosity;
}

static void emit(const char *tag, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "newsletter: %s", tag);
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	/* A message quotes what strangers wrote (addresses, names): it must stay one line
	 * and must not drive the terminal, so control characters show as '?'. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	/* One fputs per line so lines from worker threads never interleave. */
	fprintf(stderr, "%s\n", line);
}

#define EMIT(min, tag)                                                        \
	do {                                                                  \
		va_list ap;                                                   \
		if (verbosity < (min))                                        \
			return;                                               \
		va_start(ap, fmt);                                            \
		emit(tag, fmt, ap);                                           \
		va_end(ap);                                                   \
	} while (0)

void nl_warn(const char *fmt, ...) { EMIT(NL_NORMAL, "warning: "); }
void nl_error(const char *fmt, ...) { EMIT(NL_QUIET, ""); }
void nl_info(const char *fmt, ...) { EMIT(NL_VERBOSE, ""); }
void nl_debug(const char *fmt, ...) { EMIT(NL_DEBUG, "debug: "); }
