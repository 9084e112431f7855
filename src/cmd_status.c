/* cmd_status.c - `newsletter status`: what the send log says about one post. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "config.h"
#include "post.h"
#include "sendlog.h"
#include "recipients.h"
#include "subscriber.h"

static const char help[] =
	"usage: newsletter status POST.md [--log FILE] [--subscribers FILE]\n"
	"\n"
	"Summarises the send log for the post: sent, deferred, failed (with the\n"
	"server's replies), in doubt (a crash left the outcome unknown), not yet\n"
	"attempted (active subscribers with no record), why the last run stopped,\n"
	"and the sending rate (messages with an outcome per second, as `send` says).\n";

static void print_status(const struct nl_post *post, const struct nl_sendstate *st, size_t active,
			 size_t left)
{
	printf("%s: \"%s\"\n", post->slug, post->title);
	printf("  sent               %zu\n", st->sent);
	printf("  deferred           %zu\n", st->deferred);
	printf("  failed             %zu\n", st->failed);
	for (size_t i = 0; i < st->nfailures; i++)
		printf("    %-8s %s: %s\n", nl_event_name(st->failures[i].ev), st->failures[i].rcpt,
		       st->failures[i].detail);
	printf("  in doubt           %zu\n", st->in_doubt);
	if (st->stop_detail)
		printf("  last run stopped   %s\n", *st->stop_detail ? st->stop_detail : "(no reason given)");
	printf("  not yet attempted  %zu (of %zu active subscribers)\n", left, active);
	if (st->tests)
		printf("  proof copies       %zu\n", st->tests);
	if (st->bounced || st->soft_bounced || st->complained || st->unsubscribed)
		printf("  came back          %zu bounced, %zu soft bounces, %zu complained, %zu unsubscribed\n",
		       st->bounced, st->soft_bounced, st->complained, st->unsubscribed);
	if (nl_send_rate(st->sent + st->failed + st->deferred, st->first, st->last_outcome) > 0)
		printf("  rate               %.1f msg/s\n",
		       nl_send_rate(st->sent + st->failed + st->deferred, st->first, st->last_outcome));
}

static enum nl_err count(const struct nl_config *cfg, const struct nl_post *post, struct nl_sendstate *st,
			 size_t by_event[NL_EV_COUNTED])
{
	struct nl_recipients_opts ro = {.path = cfg->subscribers, .post = post, .state = &st->last,
					.interrupted = &nl_cmd_interrupted};
	nl_cmd_signals();
	return nl_recipients_count(&ro, by_event);
}

int cmd_status(struct nl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"log", required_argument, NULL, 'l'},
		{"subscribers", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	const char *log = NULL, *subs = NULL;
	struct nl_config *cfg = NULL;
	struct nl_post *post = NULL;
	struct nl_sendstate st;
	size_t active = 0, left = 0, by_event[NL_EV_COUNTED] = {0};
	enum nl_err e;
	int c;
	memset(&st, 0, sizeof st);
	if (nl_cmd_help(argc, argv, help))
		return 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'l')
			log = optarg;
		else if (c == 's')
			subs = optarg;
		else
			return fputs(help, stderr), nl_exit_status(NL_EUSAGE);
	}
	if (optind != argc - 1)
		return fputs(help, stderr), nl_exit_status(NL_EUSAGE);
	if (!(e = nl_config_load(cli->config_path, &cfg)) &&
	    !(e = log ? nl_config_set(&cfg->log, log) : NL_OK) &&
	    !(e = subs ? nl_config_set(&cfg->subscribers, subs) : NL_OK) &&
	    !(e = nl_post_load(argv[optind], &post)) &&
	    !(e = nl_sendlog_scan(cfg->log, post->slug, &st)) &&
	    !(e = count(cfg, post, &st, by_event))) {
		for (size_t i = 0; i < NL_ARRAY_LEN(by_event); i++)
			active += by_event[i];
		left = by_event[NL_EV_NONE];
		print_status(post, &st, active, left);
	}
	nl_sendstate_free(&st);
	nl_post_free(post);
	nl_config_free(cfg);
	return e ? nl_cmd_fail(e) : 0;
}
