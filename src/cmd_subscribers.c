/* cmd_subscribers.c - `newsletter subscribers`: add, remove, unsubscribe, list, show, import, export. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addrmap.h"
#include "buf.h"
#include "cmd.h"
#include "config.h"
#include "post.h"
#include "fsutil.h"
#include "import.h"
#include "log.h"
#include "recipients.h"
#include "subsdb.h"

static const char help[] =
	"usage: newsletter subscribers COMMAND [--list L] ...\n"
	"\n"
	"  add EMAIL [--name NAME] [--pending] [--force]   add a reader (or confirm a pending one)\n"
	"  remove EMAIL                     delete the row entirely (erasure requests)\n"
	"  unsubscribe EMAIL|TOKEN          mark unsubscribed; kept as a suppression\n"
	"  resubscribe EMAIL --force        make a suppressed address active again\n"
	"  list [--status S] [--count]      EMAIL<TAB>STATUS<TAB>NAME, or how many\n"
	"  show EMAIL                       every column of one reader\n"
	"  import FILE [--format F] [--dry-run] [--force]\n"
	"                                   F: auto substack mailchimp listmonk ghost plain csv\n"
	"  export [--format csv|listmonk|mailchimp] [--status S]   to standard output\n"
	"\n"
	"--list L picks subscribers/L.csv next to the configured list (config\n"
	"'subscribers', default subscribers/main.csv), or a path. Statuses: active,\n"
	"pending, unsubscribed, bounced, complained; only active readers are sent\n"
	"to, and no add or import makes a suppressed address active without --force.\n"
	"With -v, import also lists the rows it added or left unchanged.\n";

enum { O_LIST = 1000, O_NAME, O_PENDING, O_FORCE, O_STATUS, O_COUNT, O_FORMAT, O_DRY_RUN };

/* What the command line said; each verb takes the options in its mask. */
struct args {
	const char *list, *name, *status, *format;
	bool pending, force, count, dry_run;
	char **pos;
	int npos;
};

#define BIT(o) (1u << ((o) - O_LIST))

struct run {
	struct nl_config *cfg;
	struct nl_subsdb_opts db;
	char *path;	/* the list */
};

/* Keep what we echo from files on one line: controls become '?', long text is cut. */
static void put_clean(FILE *f, const char *s)
{
	size_t n = 0;
	for (; *s && n < 300; s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	if (*s)
		fputs("...", f);
}

static enum nl_status status_arg(const char *s, enum nl_err *e)
{
	enum nl_status st = nl_status_parse(s);
	if (!*s || st == NL_STATUS_UNKNOWN)
		*e = nl_errf(NL_EUSAGE, "--status %s: expected active, pending, unsubscribed, bounced or complained", s);
	return st;
}

/* ---- the verbs ---- */

static enum nl_err do_add(struct run *r, struct args *a)
{
	struct nl_subsdb_result res;
	enum nl_status st = a->pending ? NL_STATUS_PENDING : NL_STATUS_ACTIVE;
	enum nl_err e = nl_subsdb_add(r->path, &r->db, a->pos[0], a->name, st, a->force, &res);
	if (e)
		return e;
	switch (res.change) {
	case NL_CHANGE_ADDED:
		printf("added %s (%s) to %s\n", res.email, nl_status_name(res.now), r->path);
		return NL_OK;
	case NL_CHANGE_UPDATED:
		printf("updated %s: %s -> %s\n", res.email, nl_status_name(res.was), nl_status_name(res.now));
		return NL_OK;
	case NL_CHANGE_REFUSED:
		return nl_errf(NL_ENOPERM, "%s: %s is %s (since %s) and stays so; if they asked to come back: "
			       "newsletter subscribers resubscribe %s --force", r->path, res.email,
			       nl_status_name(res.was), *res.since ? res.since : "?", res.email);
	default:
		printf("%s is already %s on %s; nothing changed\n", res.email, nl_status_name(res.now), r->path);
		return NL_OK;
	}
}

static enum nl_err do_remove(struct run *r, struct args *a)
{
	struct nl_subsdb_result res;
	enum nl_err e = nl_subsdb_remove(r->path, &r->db, a->pos[0], &res);
	if (e)
		return e;
	if (res.change == NL_CHANGE_NOT_FOUND)
		return nl_errf(NL_EDATA, "%s: %s is not on the list", r->path, a->pos[0]);
	printf("removed %s from %s (%zu row%s); nothing of it is kept, so a later import could add it "
	       "again ('unsubscribe' keeps a suppression instead)\n", res.email, r->path, res.rows,
	       res.rows == 1 ? "" : "s");
	return NL_OK;
}

static enum nl_err set_status(struct run *r, const char *key, enum nl_status st, bool force)
{
	struct nl_subsdb_result res;
	enum nl_err e = nl_subsdb_set_status(r->path, &r->db, key, st, force, &res);
	if (e)
		return e;
	switch (res.change) {
	case NL_CHANGE_NOT_FOUND:
		return nl_errf(NL_EDATA, "%s: no reader has %s", r->path, key);
	case NL_CHANGE_ADDED:
		printf("%s was not on %s: added as %s, so that no import adds it\n", res.email, r->path,
		       nl_status_name(res.now));
		return NL_OK;
	case NL_CHANGE_UPDATED:
		printf("%s: %s -> %s\n", res.email, nl_status_name(res.was), nl_status_name(res.now));
		return NL_OK;
	case NL_CHANGE_REFUSED:
		return nl_errf(NL_ENOPERM, "%s: %s is %s; --force overrides", r->path, res.email,
			       nl_status_name(res.was));
	default:
		printf("%s is already %s; nothing changed\n", res.email, nl_status_name(res.now));
		return NL_OK;
	}
}

static enum nl_err do_unsubscribe(struct run *r, struct args *a)
{
	return set_status(r, a->pos[0], NL_STATUS_UNSUBSCRIBED, false);
}

static enum nl_err do_resubscribe(struct run *r, struct args *a)
{
	if (!a->force)
		return nl_errf(NL_EUSAGE, "resubscribe lifts %s's suppression: do it only when they asked, "
			       "and say so with --force", a->pos[0]);
	return set_status(r, a->pos[0], NL_STATUS_ACTIVE, true);
}

/* What send sees: the first row of each valid address, whatever its status; optionally one status only. */
static enum nl_err do_list(struct run *r, struct args *a)
{
	struct nl_recipients_opts ro = {.path = r->path, .secret = r->db.secret, .list_id = r->db.list_id,
					.interrupted = &nl_cmd_interrupted};
	struct nl_recipients *rcpts = NULL;
	struct nl_recipient rc;
	enum nl_status only = NL_STATUS_UNKNOWN;
	enum nl_err e = NL_OK;
	size_t count = 0;
	bool eof = false;
	if (a->status && (only = status_arg(a->status, &e), e))
		return e;
	nl_cmd_signals();
	if ((e = nl_recipients_open(&ro, &rcpts)))
		return e;
	while (!(e = nl_recipients_next(rcpts, &rc, &eof)) && !eof) {
		const struct nl_sub *row = rc.row;
		if (rc.skip != NL_SKIP_NONE && rc.skip != NL_SKIP_STATUS) {
			nl_warn("%s:%zu: skipped: %s%s%s", r->path, row->line, *row->email ? row->email : "",
				*row->email ? ": " : "", nl_skip_text(row, rc.skip));
			continue;
		}
		if (only && row->status != only)
			continue;
		count++;
		if (!a->count)
			printf("%s\t%s\t%s\n", row->email, row->f[NL_COL_STATUS], row->name);
	}
	if (!e && a->count)
		printf("%zu\n", count);
	nl_recipients_close(rcpts);
	return e;
}

static enum nl_err do_show(struct run *r, struct args *a)
{
	struct nl_subsdb *db = NULL;
	struct nl_sub *row;
	bool eof, found = false;
	enum nl_err e = nl_subsdb_open(r->path, &r->db, &db);
	while (!e && !(e = nl_subsdb_next(db, &row, &eof)) && !eof) {
		if (strcasecmp(row->f[NL_COL_EMAIL], a->pos[0]))
			continue;
		if (found)
			putchar('\n');
		found = true;
		printf("line: %zu\n", row->line);
		for (size_t i = 0; i < nl_subsdb_ncols(db); i++) {
			fputs(nl_subsdb_colname(db, i), stdout);
			fputs(": ", stdout);
			put_clean(stdout, row->f[i]);
			putchar('\n');
		}
	}
	nl_subsdb_close(db);
	if (!e && !found)
		e = nl_errf(NL_EDATA, "%s: %s is not on the list", r->path, a->pos[0]);
	return e;
}

static const char *const outcome_words[NL_ROW_NOUTCOMES] = {
	"added", "updated", "unchanged", "refused", "rejected", "merged",
};

static void import_event(void *ctx, const struct nl_import_event *ev)
{
	const char *file = ctx;
	if ((ev->what == NL_ROW_ADDED || ev->what == NL_ROW_UNCHANGED) && !ev->notable &&
	    nl_log_verbosity() < NL_VERBOSE)
		return;
	printf("%s:%zu: %s: ", file, ev->line, outcome_words[ev->what]);
	put_clean(stdout, *ev->email ? ev->email : "(no address)");
	if (*ev->detail) {
		fputs(": ", stdout);
		put_clean(stdout, ev->detail);
	}
	putchar('\n');
}

static enum nl_err do_import(struct run *r, struct args *a)
{
	struct nl_import_stats st;
	struct nl_import_opts o = {.list = r->path, .file = a->pos[0], .dry_run = a->dry_run,
				   .force = a->force, .db = r->db, .report = import_event,
				   .ctx = a->pos[0]};
	enum nl_err e;
	if (a->format && (!nl_format_parse(a->format, &o.format)))
		return nl_errf(NL_EUSAGE, "--format %s: expected auto, substack, mailchimp, listmonk, ghost, plain or csv",
			       a->format);
	if ((e = nl_import(&o, &st)))
		return e;
	printf("%s (%s%s%s): %zu added, %zu updated, %zu unchanged, %zu refused as suppressed, "
	       "%zu rejected, %zu duplicates merged%s\n", a->pos[0], nl_format_name(st.format),
	       *st.variant ? " " : "", st.variant, st.n[NL_ROW_ADDED], st.n[NL_ROW_UPDATED],
	       st.n[NL_ROW_UNCHANGED], st.n[NL_ROW_REFUSED], st.n[NL_ROW_REJECTED], st.n[NL_ROW_MERGED],
	       a->dry_run ? " (dry run: nothing written)" : "");
	return NL_OK;
}

static enum nl_err to_stdout(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	if (fwrite(p, 1, n, stdout) != n || fflush(stdout))
		return nl_errf(NL_EIO, "standard output: write error");
	return NL_OK;
}

static enum nl_err do_export(struct run *r, struct args *a)
{
	enum nl_format f = NL_FMT_CSV;
	enum nl_status only = NL_STATUS_UNKNOWN;
	enum nl_err e = NL_OK;
	if (a->format && (!nl_format_parse(a->format, &f) ||
			  (f != NL_FMT_CSV && f != NL_FMT_LISTMONK && f != NL_FMT_MAILCHIMP)))
		return nl_errf(NL_EUSAGE, "--format %s: expected csv, listmonk or mailchimp", a->format);
	if (a->status && (only = status_arg(a->status, &e), e))
		return e;
	if (f == NL_FMT_MAILCHIMP && !a->status)
		only = NL_STATUS_ACTIVE; /* Mailchimp imports a whole file as one status */
	return nl_export(r->path, &r->db, f, only, to_stdout, NULL);
}

/* ---- the table and the plumbing ---- */

static const struct verb {
	const char *name;
	int npos;		/* positional arguments it needs */
	unsigned opts;		/* options it takes, besides --list */
	bool locks;		/* writes the list */
	enum nl_err (*fn)(struct run *, struct args *);
} verbs[] = {
	{"add", 1, BIT(O_NAME) | BIT(O_PENDING) | BIT(O_FORCE), true, do_add},
	{"remove", 1, 0, true, do_remove},
	{"unsubscribe", 1, 0, true, do_unsubscribe},
	{"resubscribe", 1, BIT(O_FORCE), true, do_resubscribe},
	{"list", 0, BIT(O_STATUS) | BIT(O_COUNT), false, do_list},
	{"show", 1, 0, false, do_show},
	{"import", 1, BIT(O_FORMAT) | BIT(O_DRY_RUN) | BIT(O_FORCE), true, do_import},
	{"export", 0, BIT(O_FORMAT) | BIT(O_STATUS), false, do_export},
};

static const struct option opts[] = {
	{"list", required_argument, NULL, O_LIST},     {"name", required_argument, NULL, O_NAME},
	{"pending", no_argument, NULL, O_PENDING},     {"force", no_argument, NULL, O_FORCE},
	{"status", required_argument, NULL, O_STATUS}, {"count", no_argument, NULL, O_COUNT},
	{"format", required_argument, NULL, O_FORMAT}, {"dry-run", no_argument, NULL, O_DRY_RUN},
	{NULL, 0, NULL, 0},
};

static enum nl_err parse_args(const struct verb *v, int argc, char **argv, struct args *a)
{
	int c;
	memset(a, 0, sizeof *a);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c < O_LIST || (c != O_LIST && !(v->opts & BIT(c))))
			return nl_errf(NL_EUSAGE, "subscribers %s: %s is not one of its options (see --help)",
				       v->name, argv[optind - 1]);
		switch (c) {
		case O_LIST: a->list = optarg; break;
		case O_NAME: a->name = optarg; break;
		case O_PENDING: a->pending = true; break;
		case O_FORCE: a->force = true; break;
		case O_STATUS: a->status = optarg; break;
		case O_COUNT: a->count = true; break;
		case O_FORMAT: a->format = optarg; break;
		case O_DRY_RUN: a->dry_run = true; break;
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos != v->npos)
		return nl_errf(NL_EUSAGE, "subscribers %s: expected %d argument%s, got %d (see --help)",
			       v->name, v->npos, v->npos == 1 ? "" : "s", a->npos);
	return NL_OK;
}

/* --list main is subscribers/main.csv beside the configured list; anything with a / is a path. */
static enum nl_err list_path(const struct nl_config *cfg, const char *list, char **out)
{
	struct nl_buf b = NL_BUF_INIT;
	const char *dir = cfg->subscribers, *slash = strrchr(dir, '/');
	if (!list || strchr(list, '/')) {
		*out = strdup(list ? list : cfg->subscribers);
		return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
	}
	if (!*list || list[0] == '.' || strspn(list, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789._-") != strlen(list))
		return nl_errf(NL_EUSAGE, "--list %s: a list name is letters, digits, '.', '_' and '-'", list);
	if (slash)
		nl_buf_add(&b, dir, (size_t)(slash - dir) + 1);
	nl_buf_adds(&b, list);
	if (strlen(list) < 4 || strcmp(list + strlen(list) - 4, ".csv"))
		nl_buf_adds(&b, ".csv");
	*out = nl_buf_detach(&b, NULL);
	nl_buf_free(&b);
	return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

int cmd_subscribers(struct nl_cli *cli, int argc, char **argv)
{
	struct run r = {0};
	struct args a;
	const struct verb *v = NULL;
	enum nl_err e;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? nl_exit_status(NL_EUSAGE) : 0;
	}
	for (size_t i = 0; i < NL_ARRAY_LEN(verbs); i++)
		if (!strcmp(argv[1], verbs[i].name))
			v = &verbs[i];
	if (!v)
		return nl_cmd_fail(nl_errf(NL_EUSAGE, "subscribers: unknown command '%s' (see --help)", argv[1]));
	if (nl_cmd_help(argc - 1, argv + 1, help))
		return 0;
	/* A full disk under `ulimit -f` should be an error we report, not a signal that kills us. */
	signal(SIGXFSZ, SIG_IGN);
	if (!(e = parse_args(v, argc - 1, argv + 1, &a)) && !(e = nl_config_load(cli->config_path, &r.cfg)) &&
	    !(e = nl_cmd_secret(r.cfg)) && !(e = list_path(r.cfg, a.list, &r.path))) {
		r.db = (struct nl_subsdb_opts){.secret = r.cfg->secret, .list_id = r.cfg->list_id,
					       .now = time(NULL), .what = v->name};
		e = v->fn(&r, &a);
	}
	free(r.path);
	nl_config_free(r.cfg);
	return e ? nl_cmd_fail(e) : 0;
}
