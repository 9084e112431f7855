/* cmd_inbox.c - `newsletter inbox`: read what came back (IMAP, Maildir, stdin) and act on it, quietly. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "imap.h"
#include "inbox.h"
#include "log.h"
#include "maildir.h"

static const char help[] =
	"usage: newsletter inbox [--dry-run] [-v] [SOURCE]\n"
	"\n"
	"Reads what came back to the bounce and unsubscribe addresses and acts on it:\n"
	"a hard bounce makes the reader bounced; soft bounces do after\n"
	"inbox.soft_bounce_limit (3) within inbox.soft_bounce_days (30) with no good\n"
	"delivery between; a complaint (feedback report) makes them complained; an\n"
	"emailed unsubscribe, unsubscribed. Auto-replies are ignored; anything else\n"
	"is left for a person and listed. Each is recorded in the send log.\n"
	"\n"
	"SOURCE (default: inbox.url, else inbox.maildir from the config):\n"
	"  imaps://HOST/MAILBOX   an IMAP mailbox (imap:// upgrades with STARTTLS);\n"
	"                         handled messages are flagged \\Seen, or moved to\n"
	"                         inbox.move_to\n"
	"  DIR                    a Maildir: new/ messages move to cur/ once handled\n"
	"  -                      one message on standard input, for an MTA's pipe:\n"
	"                         exit 0 when handled, 75 (try again later) if not\n"
	"  FILE                   one message in a file (nothing is moved)\n"
	"\n"
	"options:\n"
	"  --dry-run       decide and explain, change nothing (no list, log or flags)\n"
	"  --to ADDR       the envelope recipient (else $ORIGINAL_RECIPIENT or\n"
	"                  $RECIPIENT, as Postfix's pipe sets them)\n"
	"  -v, --verbose   one line per message: what it is, whom it is about, why\n"
	"\n"
	"Prints a one-line summary on a terminal, with -v, or when something needs a\n"
	"person; under cron it is quiet otherwise.\n";

struct run {
	struct nl_inbox *ib;
	const char *envelope_to;
	bool verbose;
	size_t n, by[NL_IN_OUTCOMES];
};

static void put_clean(const char *s)
{
	for (size_t n = 0; *s && n < 200; s++, n++)
		putchar((unsigned char)*s < ' ' || *s == 0x7f ? '?' : *s);
}

static void explain(const char *name, const struct nl_inbox_result *r)
{
	put_clean(name);
	printf(": %s", nl_bounce_kind_name(r->b.kind));
	if (*r->b.status)
		printf(" %s", r->b.status);
	printf(" -> %s", nl_inbox_outcome_name(r->out));
	if (*r->reader) {
		fputs(": ", stdout);
		put_clean(r->reader);
		printf(" (found by %s)", r->how);
	}
	if (r->out == NL_IN_SOFT)
		printf(", %u so far", r->soft_count);
	if (*r->slug) {
		fputs(", post ", stdout);
		put_clean(r->slug);
	}
	fputs(" -- ", stdout);
	put_clean(r->b.why);
	putchar('\n');
}

static enum nl_err on_message(void *ctx, const char *name, const char *data, size_t len,
			      enum nl_src_verdict *v)
{
	struct run *r = ctx;
	struct nl_inbox_result res;
	enum nl_err e = nl_inbox_handle(r->ib, data, len, r->envelope_to, &res);
	*v = NL_SRC_RETRY;
	if (e)
		return e;
	r->n++;
	r->by[res.out]++;
	*v = nl_inbox_needs_person(res.out) ? NL_SRC_PERSON : NL_SRC_DONE;
	if (r->verbose || nl_inbox_needs_person(res.out))
		explain(name, &res);
	return NL_OK;
}

static void summary(const struct run *r, bool dry_run)
{
	size_t person = r->by[NL_IN_UNKNOWN] + r->by[NL_IN_UNMATCHED];
	if (!r->verbose && !person && !isatty(STDOUT_FILENO))
		return;
	printf("%s%zu message%s: %zu bounced, %zu soft bounce%s counted, %zu complained, %zu unsubscribed, "
	       "%zu ignored, %zu left for a person\n",
	       dry_run ? "dry run (nothing changed): " : "", r->n, r->n == 1 ? "" : "s", r->by[NL_IN_BOUNCED],
	       r->by[NL_IN_SOFT], r->by[NL_IN_SOFT] == 1 ? "" : "s", r->by[NL_IN_COMPLAINED],
	       r->by[NL_IN_UNSUBSCRIBED], r->by[NL_IN_IGNORED], person);
}

static enum nl_err one_file(struct run *r, const char *path, int fd)
{
	char *data = NULL;
	size_t len = 0;
	enum nl_src_verdict v;
	enum nl_err e = nl_read_message(fd, path, &data, &len);
	if (!e)
		e = on_message(r, path, data, len, &v);
	free(data);
	return e;
}

static enum nl_err from_source(struct run *r, struct nl_config *cfg, const char *src, bool dry_run)
{
	struct stat st;
	if (!strcmp(src, "-"))
		return one_file(r, "stdin", STDIN_FILENO);
	if (!strncasecmp(src, "imap://", 7) || !strncasecmp(src, "imaps://", 8)) {
		char *pw = NULL;
		enum nl_err e = src == cfg->inbox.url ? NL_OK : nl_config_set(&cfg->inbox.url, src);
		if (!e)
			e = nl_imap_prepare(&cfg->inbox, &pw);
		if (!e)
			e = nl_imap_each(&cfg->inbox, pw, dry_run, &nl_cmd_interrupted, on_message, r);
		if (pw) {
			memset(pw, 0, strlen(pw));
			free(pw);
		}
		return e;
	}
	if (stat(src, &st))
		return nl_errf(NL_ENOINPUT, "%s: %s", src, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return nl_maildir_each(src, dry_run, &nl_cmd_interrupted, on_message, r);
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nl_errf(NL_ENOINPUT, "%s: %s", src, strerror(errno));
	enum nl_err e = one_file(r, src, fd);
	close(fd);
	return e;
}

static const char *default_source(const struct nl_config *cfg)
{
	return *cfg->inbox.url ? cfg->inbox.url : *cfg->inbox.maildir ? cfg->inbox.maildir : NULL;
}

int cmd_inbox(struct nl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, NULL, 'n'}, {"to", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'}, {NULL, 0, NULL, 0},
	};
	struct nl_config *cfg = NULL;
	struct run r = {.verbose = nl_log_verbosity() >= NL_VERBOSE};
	struct nl_inbox_opts io = {0};
	const char *src = NULL;
	enum nl_err e, ce;
	int c;
	if (nl_cmd_help(argc, argv, help))
		return 0;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		if (c == 'n')
			io.dry_run = true;
		else if (c == 't')
			r.envelope_to = optarg;
		else if (c == 'v')
			r.verbose = true;
		else
			return fputs(help, stderr), EX_USAGE;
	}
	if (optind < argc - 1)
		return fputs(help, stderr), EX_USAGE;
	src = optind < argc ? argv[optind] : NULL;
	bool pipe_mode = src && !strcmp(src, "-");
	if (!r.envelope_to)
		r.envelope_to = getenv("ORIGINAL_RECIPIENT") ? getenv("ORIGINAL_RECIPIENT") : getenv("RECIPIENT");
	nl_cmd_signals();
	if (!(e = nl_cmd_config(cli, &cfg, false)) && !src && !(src = default_source(cfg)))
		e = nl_errf(NL_ECONFIG, "%s: no inbox: set inbox.url (IMAP) or inbox.maildir, or name a source",
			    cfg->loaded ? cfg->path : "config.yml");
	io.cfg = cfg;
	if (!e && (e = nl_inbox_open(&io, &r.ib)) == NL_ELOCKED && !pipe_mode) {
		/* A send is running: the messages wait for the next run, as cron's posts do. */
		nl_info("nothing done: %s", nl_errmsg());
		nl_config_free(cfg);
		return 0;
	}
	if (!e) {
		e = from_source(&r, cfg, src, io.dry_run);
		ce = nl_inbox_close(r.ib);
		e = e ? e : ce;
	}
	if (!e || r.n)
		summary(&r, io.dry_run);
	nl_config_free(cfg);
	if (e && pipe_mode && e != NL_EUSAGE) {
		/* The MTA keeps the message and tries again: better than losing it. */
		nl_cmd_fail(e);
		return EX_TEMPFAIL;
	}
	return e ? nl_cmd_fail(e) : 0;
}
