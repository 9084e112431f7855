/* main.c - global options, then the subcommand named on the command line. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd.h"
#include "config.h"
#include "post.h"
#include "log.h"

static const char usage[] =
	"usage: newsletter [-c FILE] [-v|-q] COMMAND [ARGS]\n"
	"\n"
	"Publish a Markdown post as an email newsletter.\n"
	"\n"
	"commands:\n"
	"  preview POST.md [-o DIR]     write SLUG.html, SLUG.txt and SLUG.eml to look at\n"
	"  send POST.md [options]       send the post to every active subscriber\n"
	"  send POST.md --dry-run[=DIR] write every reader's message as .eml files instead\n"
	"  status POST.md               what the send log says about a post\n"
	"  doctor [POST.md]             check config, list, relay, DNS (SPF, DKIM, DMARC),\n"
	"                               unsubscribe endpoint and the latest post\n"
	"  cron [--dry-run]             send every post that is due, once, quietly\n"
	"                               (for cron or a systemd timer)\n"
	"  schedule                     every post in the posts folder, with its state\n"
	"  site [-o DIR]                the web archive: a page per sent post, index,\n"
	"                               feed.xml, sitemap.xml (upload it to base_url)\n"
	"  inbox [--dry-run] [SOURCE]   act on bounces, complaints and emailed unsubscribes\n"
	"                               (IMAP, Maildir or one message on stdin)\n"
	"  serve [--listen ADDR:PORT]   answer one-click unsubscribes, signups and\n"
	"                               confirmations over HTTP (behind your web server)\n"
	"  subscribers SUBCOMMAND ...   add, remove, unsubscribe, resubscribe, list, show,\n"
	"                               import, export (see subscribers --help)\n"
	"\n"
	"options:\n"
	"  -c, --config FILE   configuration (default ./config.yml)\n"
	"  -v, --verbose       say more (twice: debug)\n"
	"  -q, --quiet         only errors\n"
	"  -h, --help          this help; COMMAND --help for a command's options\n"
	"  -V, --version       print the version\n"
	"\n"
	"See newsletter(1) and config.example.yml.\n";

static const struct {
	const char *name;
	int (*fn)(struct nl_cli *, int, char **);
} commands[] = {
	{"cron", cmd_cron},
	{"doctor", cmd_doctor},
	{"inbox", cmd_inbox},
	{"preview", cmd_preview},
	{"schedule", cmd_schedule},
	{"send", cmd_send},
	{"serve", cmd_serve},
	{"site", cmd_site},
	{"status", cmd_status},
	{"subscribers", cmd_subscribers},
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},	  {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {NULL, 0, NULL, 0},
	};
	struct nl_cli cli = {.prog = "newsletter"};
	int c, verbosity = NL_NORMAL;
	while ((c = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cli.config_path = optarg; break;
		case 'v': verbosity = verbosity < NL_VERBOSE ? NL_VERBOSE : NL_DEBUG; break;
		case 'q': verbosity = NL_QUIET; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': printf("newsletter %s\n", NL_VERSION); return 0;
		default: fputs(usage, stderr); return EX_USAGE;
		}
	}
	nl_log_set_verbosity(verbosity);
	if (optind >= argc) {
		fputs(usage, stderr);
		return EX_USAGE;
	}
	for (size_t i = 0; i < NL_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[optind], commands[i].name))
			continue;
		if (curl_global_init(CURL_GLOBAL_ALL)) {
			nl_error("cannot initialise libcurl");
			return EX_SOFTWARE;
		}
		int argc2 = argc - optind;
		char **argv2 = argv + optind;
		optind = 0; /* reset getopt for the subcommand */
		int rc = commands[i].fn(&cli, argc2, argv2);
		curl_global_cleanup();
		return rc;
	}
	nl_error("unknown command '%s' (try newsletter --help)", argv[optind]);
	return EX_USAGE;
}
