/* doctor.h - the preflight checklist: config, list, SMTP, DNS (SPF, DKIM, DMARC), unsubscribe, the latest post. */
#ifndef NL_DOCTOR_H
#define NL_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "nl.h"

enum nl_check_status {
	NL_CHECK_OK,
	NL_CHECK_WARN,	/* worth fixing; does not block sending */
	NL_CHECK_FAIL,	/* blocks sending, or mail will land in spam or be refused */
	NL_CHECK_SKIP,	/* could not be checked because an earlier check failed */
};

/* One line of the checklist. */
struct nl_check {
	const char *name;	/* static, e.g. "smtp.auth", "dns.dkim" */
	enum nl_check_status status;
	char what[768];		/* what was seen, or what is wrong */
	char fix[1280];		/* how to fix it; "" when nothing is to fix */
};

struct nl_doctor_opts {
	const char *config_path;	/* NULL: ./config.yml */
	const char *post_path;		/* NULL: the newest post that is not a draft in the posts folder */
	const char *resolver;		/* NULL or "": doctor.resolver, else the system's resolver */
	/* Called as each check finishes (a slow relay shows progress); may be NULL. */
	void (*report)(void *ctx, const struct nl_check *c);
	void *ctx;
};

/* Every check in the order run; the caller frees with nl_doctor_free(). */
struct nl_doctor {
	struct nl_check *checks;
	size_t n, cap;
	size_t fails, warns;
};

/*
 * Run every check. What the checks find is in out, never an error; the
 * return is an error only when the checklist itself could not be made (out
 * of memory). Nothing is sent: the SMTP probe ends with RSET and QUIT, the
 * unsubscribe probe uses a token no reader has.
 */
enum nl_err nl_doctor_run(const struct nl_doctor_opts *o, struct nl_doctor *out);
void nl_doctor_free(struct nl_doctor *d);
/* "ok", "warn", "FAIL", "skip". */
const char *nl_check_status_name(enum nl_check_status s);

#endif
