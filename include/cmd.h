/* cmd.h - the command line: shared state and one entry point per subcommand. */
#ifndef NL_CMD_H
#define NL_CMD_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "nl.h"

struct nl_config;
struct nl_post;

/* What main parsed before the subcommand; owned by main. */
struct nl_cli {
	const char *config_path; /* -c; NULL = ./config.yml or defaults */
	const char *prog;
};

/* Each returns a process exit status. */
int cmd_cron(struct nl_cli *cli, int argc, char **argv);
int cmd_doctor(struct nl_cli *cli, int argc, char **argv);
int cmd_inbox(struct nl_cli *cli, int argc, char **argv);
int cmd_preview(struct nl_cli *cli, int argc, char **argv);
int cmd_schedule(struct nl_cli *cli, int argc, char **argv);
int cmd_send(struct nl_cli *cli, int argc, char **argv);
int cmd_site(struct nl_cli *cli, int argc, char **argv);
int cmd_serve(struct nl_cli *cli, int argc, char **argv);
int cmd_status(struct nl_cli *cli, int argc, char **argv);
int cmd_subscribers(struct nl_cli *cli, int argc, char **argv);

/* Shared helpers (cmd_common.c). */
/* Print "newsletter: MESSAGE" for the last error and return its exit status. */
int nl_cmd_fail(enum nl_err e);
/* Load the config and say what is missing (From address, base_url). */
enum nl_err nl_cmd_config(struct nl_cli *cli, struct nl_config **cfg, bool sending);
/* Set cfg->secret from .newsletter-secret beside the config (made on first use) when the config has none. */
enum nl_err nl_cmd_secret(struct nl_config *cfg);
/* Load a post; refuse drafts when sending. */
enum nl_err nl_cmd_post(const char *path, bool sending, struct nl_post **post);
/* The campaign's notes as warnings, and "HTML part: N KB ..." on out; warns
 * when Gmail would clip it (unless refuse: then the caller fails). True if
 * it is past the clip size. */
struct nl_campaign;
bool nl_cmd_html_report(const struct nl_campaign *c, const char *post, FILE *out, bool refuse);
/*
 * Before the log or the relay is touched (send, cron): the post as readers
 * get it, reported on out (NULL: only warnings), and refused (NL_EDATA) when
 * Gmail would clip it, unless force.
 */
enum nl_err nl_cmd_preflight(const struct nl_config *cfg, const struct nl_post *post, bool force, FILE *out);
/* Print a command's help text if argv asks for it; true if it did. */
bool nl_cmd_help(int argc, char **argv, const char *text);

/*
 * Set by the first SIGINT/SIGTERM after nl_cmd_signals(): take no new
 * recipients, let messages in flight finish. A second signal exits at once
 * (status 130); every log line is already written. SIGPIPE is ignored, so a
 * server that hangs up mid-message cannot kill the process.
 */
extern volatile sig_atomic_t nl_cmd_interrupted;
void nl_cmd_signals(void);

#endif
