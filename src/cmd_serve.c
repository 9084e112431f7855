/* cmd_serve.c - `newsletter serve`: the web endpoint for one-click unsubscribe and signup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "log.h"
#include "serve.h"
#include "smtp.h"

static const char help[] =
	"usage: newsletter serve [--listen ADDR:PORT]\n"
	"\n"
	"Answers the links every message carries, behind your web server (which\n"
	"terminates TLS; see contrib/nginx-newsletter.conf):\n"
	"  POST /unsubscribe/TOKEN   one-click unsubscribe (RFC 8058), as mail providers send it\n"
	"  GET  /unsubscribe/TOKEN   a page with one button; never changes anything\n"
	"  GET/POST /subscribe       a signup form: adds the address as pending and mails a\n"
	"                            confirmation link (at most one an hour per address)\n"
	"  GET/POST /confirm/TOKEN   confirm a signup, or resubscribe\n"
	"Paths follow base_url, unsubscribe_url and subscribe_url. Changes go to the\n"
	"list's change file (LIST.changes), synced before the answer; the next rewrite\n"
	"of the list folds them in. Pages come from templates/serve-*.html.\n"
	"\n"
	"options:\n"
	"  --listen ADDR:PORT   where to listen (default: serve.listen, 127.0.0.1:8080)\n";

static void say_ready(const char *where)
{
	nl_info("listening on %s", where);
	fprintf(stderr, "newsletter: serving on %s (Ctrl-C stops)\n", where);
}

static bool loopback(const char *listen)
{
	return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]:", 6) || !strncmp(listen, "localhost:", 10);
}

int cmd_serve(struct nl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	const char *listen = NULL;
	struct nl_config *cfg = NULL;
	char *password = NULL;
	enum nl_err e;
	int c;
	if (nl_cmd_help(argc, argv, help))
		return 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'l')
			listen = optarg;
		else
			return fputs(help, stderr), nl_exit_status(NL_EUSAGE);
	}
	if (optind != argc)
		return fputs(help, stderr), nl_exit_status(NL_EUSAGE);
	if (!(e = nl_cmd_config(cli, &cfg, true)) && !(e = nl_smtp_prepare(cfg, &password))) {
		struct nl_serve_opts o = {.cfg = cfg, .listen = listen ? listen : cfg->serve.listen,
					  .password = password, .interrupted = &nl_cmd_interrupted,
					  .ready = say_ready};
		if (!loopback(o.listen))
			nl_warn("listening on %s, not loopback: put it behind a web server that terminates TLS",
				o.listen);
		nl_cmd_signals();
		e = nl_serve_run(&o);
	}
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	nl_config_free(cfg);
	return e ? nl_cmd_fail(e) : 0;
}
