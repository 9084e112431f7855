/* cmd_common.c - what every subcommand does first: config, post, errors. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "campaign.h"
#include "cmd.h"
#include "config.h"
#include "post.h"
#include "recipients.h"
#include "log.h"
#include "secret.h"
#include "sendlog.h"

/* Tokens of rows without one are keyed by the secret: never by nothing, which anyone could compute. */
enum nl_err nl_cmd_secret(struct nl_config *c)
{
	char hex[NL_SECRET_HEX + 1];
	bool created;
	enum nl_err e;
	if (*c->secret)
		return NL_OK;
	if ((e = nl_secret_get(c->path, hex, &created)))
		return e;
	if (created)
		nl_warn("made a random token secret in %s beside the config (keep it: the links already "
			"mailed depend on it)", NL_SECRET_FILE);
	return nl_config_set(&c->secret, hex);
}

int nl_cmd_fail(enum nl_err e)
{
	nl_error("%s", *nl_errmsg() ? nl_errmsg() : "failed");
	return nl_exit_status(e);
}

enum nl_err nl_cmd_config(struct nl_cli *cli, struct nl_config **cfg, bool sending)
{
	enum nl_err e = nl_config_load(cli->config_path, cfg);
	if (e)
		return e;
	struct nl_config *c = *cfg;
	if (!c->loaded)
		nl_warn("no config.yml here: using built-in defaults (see config.example.yml; -c FILE picks one)");
	if (!*c->from_addr) {
		if (sending)
			return nl_errf(NL_ECONFIG, "%s: no From address: set 'from' (e.g. 'Jane <jane@example.org>')",
				       c->loaded ? c->path : "config.yml");
		nl_warn("no From address: set 'from' in the config; using newsletter@localhost");
		if ((e = nl_config_set(&c->from_addr, "newsletter@localhost")) ||
		    (!*c->unsubscribe_email && (e = nl_config_set(&c->unsubscribe_email, c->from_addr))))
			return e;
	}
	if (!*c->base_url)
		nl_warn("no base_url: the unsubscribe link is a mailto: only, and web links are left out");
	return nl_cmd_secret(c);
}

enum nl_err nl_cmd_post(const char *path, bool sending, struct nl_post **post)
{
	enum nl_err e = nl_post_load(path, post);
	if (e)
		return e;
	if (sending && (*post)->draft) {
		nl_post_free(*post);
		*post = NULL;
		return nl_errf(NL_ENOPERM,
			       "%s: the post is a draft (draft: true): preview it, or set draft: false to send",
			       path);
	}
	return NL_OK;
}

bool nl_cmd_help(int argc, char **argv, const char *text)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(text, stdout);
			return true;
		}
	}
	return false;
}

volatile sig_atomic_t nl_cmd_interrupted;
static atomic_int signals_seen; /* two threads may each take a signal at once */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "a signal handler needs a lock-free counter");

static void on_signal(int sig)
{
	(void)sig;
	if (atomic_fetch_add(&signals_seen, 1))
		_exit(130);
	nl_cmd_interrupted = 1;
}

void nl_cmd_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* Past a file size limit (ulimit -f), write() then fails with EFBIG, reported like a full disk. */
	sigaction(SIGXFSZ, &sa, NULL);
	nl_sendlog_interrupt(&nl_cmd_interrupted);
}

bool nl_cmd_html_report(const struct nl_campaign *c, const char *post, FILE *out, bool refuse)
{
	const char *n = nl_campaign_notes(c), *nl;
	size_t html, sent;

	for (; *n && (nl = strchr(n, '\n')); n = nl + 1)
		nl_warn("%.*s", (int)(nl - n), n);
	nl_campaign_html_size(c, &html, &sent);
	if (out)
		fprintf(out, "HTML part: %.1f KB (%.1f KB as sent; Gmail clips above %zu KB)\n",
		(double)html / 1024, (double)sent / 1024, NL_HTML_CLIP / 1024);
	if (sent <= NL_HTML_CLIP)
		return false;
	if (!refuse)
		nl_warn("%s: the HTML part is %.1f KB as sent: Gmail clips messages above %zu KB and "
			"hides the rest, the footer with the unsubscribe link included",
			post, (double)sent / 1024, NL_HTML_CLIP / 1024);
	return true;
}

/*
 * Before the log or the relay is touched: the post as readers will get it.
 * Gmail clips an HTML part past about 102 KB, and the footer with the
 * unsubscribe link goes with the clipped part: refused unless --force.
 * (The sender renders it again: a few milliseconds, once per post.)
 */
enum nl_err nl_cmd_preflight(const struct nl_config *cfg, const struct nl_post *post, bool force, FILE *out)
{
	struct nl_campaign_opts o = {.cfg = cfg, .post = post, .now = time(NULL)};
	/* the list's header only: its columns are template fields */
	struct nl_recipients_opts ro = {.path = cfg->subscribers, .secret = cfg->secret,
					.list_id = cfg->list_id, .post = post, .missing_ok = true};
	struct nl_recipients *rcpts = NULL;
	struct nl_campaign *c = NULL;
	size_t html, sent;
	enum nl_err e = nl_recipients_open(&ro, &rcpts);
	o.list = rcpts ? nl_recipients_list(rcpts) : NULL;
	if (!e)
		e = nl_campaign_new(&o, &c);
	if (e) {
		nl_recipients_close(rcpts);
		return e;
	}
	if (nl_cmd_html_report(c, post->path, out, !force) && !force) {
		nl_campaign_html_size(c, &html, &sent);
		e = nl_errf(NL_EDATA, "%s: the HTML part is %.1f KB as sent: Gmail clips messages above "
			    "%zu KB, hiding the footer and its unsubscribe link; shorten the post, or "
			    "send anyway with --force", post->path, (double)sent / 1024,
			    NL_HTML_CLIP / 1024);
	}
	if (out)
		fflush(out);
	nl_campaign_free(c);
	nl_recipients_close(rcpts);
	return e;
}
