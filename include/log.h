/* log.h - the only writer to stderr in the core. */
#ifndef NL_LOG_H
#define NL_LOG_H

enum nl_verbosity { NL_QUIET = -1, NL_NORMAL = 0, NL_VERBOSE = 1, NL_DEBUG = 2 };

void nl_log_set_verbosity(int v);
int nl_log_verbosity(void);
/* "newsletter: warning: ..." (shown unless quiet). */
void nl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "newsletter: ..." an error line (always shown). */
void nl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational, shown with -v. */
void nl_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Shown with -vv. */
void nl_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
