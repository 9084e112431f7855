/*
 * bench_render.c - how fast the core builds personalised messages.
 *
 *   build/bench_render [-c CONFIG] [-n N] [-k KEY.pem [-k KEY2.pem]] [-q] [POST.md]
 *
 * Loads the config (default config.example.yml) and the post (default
 * ../shared/bench/post.md if it exists, else examples/first-light.md),
 * prepares the campaign once (nl_campaign_new), then builds N messages
 * (default 100000) with nl_campaign_message + nl_message_finalize (the bytes
 * SMTP gets) for synthetic subscribers userNNNNNN@example.test / "User
 * NNNNNN", reusing one message and one output buffer. Nothing
 * is written anywhere; every message's bytes are folded into a checksum so the
 * work cannot be skipped. Prints messages, seconds, messages per second,
 * average message size and peak RSS (getrusage ru_maxrss), both right after the
 * campaign is prepared and at the end, so growth with N shows. The last line
 * is machine-readable (key=value) for bench/run.sh.
 *
 * -k signs every message with that DKIM key (as config dkim.key_file, domain
 * example.test, selector bench; a second -k is dkim.key_file2), so the rate
 * is render plus sign.
 *
 * Single-threaded: the rate is what one core does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "campaign.h"
#include "message.h"
#include "nl.h"
#include "post.h"
#include "subscriber.h"

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident set size so far, in KiB (Linux reports ru_maxrss in KiB). */
static long peak_rss_kb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return -1;
	return ru.ru_maxrss;
}

/*
 * Fold every byte of the message into h: 8 bytes at a time, then the tail.
 * Cheap next to building the message (a few % of the loop), but it reads it all.
 */
static uint64_t fold(uint64_t h, const char *p, size_t n)
{
	uint64_t a = 0, b = 0, w;
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		memcpy(&w, p + i, 8);
		a += w;
		memcpy(&w, p + i + 8, 8);
		b ^= w;
	}
	for (; i < n; i++)
		a = a * 31 + (unsigned char)p[i];
	h ^= a + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= b + (uint64_t)n;
	return h * 0x100000001b3ULL;
}

static void usage(FILE *f)
{
	fputs("usage: bench_render [-c CONFIG] [-n N] [-k KEY.pem [-k KEY2.pem]] [-q] [POST.md]\n"
	      "  -c CONFIG  config file (default config.example.yml)\n"
	      "  -n N       messages to build (default 100000)\n"
	      "  -k KEY.pem sign with this DKIM key (twice: two signatures)\n"
	      "  -q         only the machine-readable last line\n"
	      "  POST.md    default ../shared/bench/post.md, else examples/first-light.md\n",
	      f);
}

int main(int argc, char **argv)
{
	const char *cfg_path = "config.example.yml", *post_path = NULL, *keys[2] = {NULL, NULL};
	int nkeys = 0;
	unsigned long n = 100000;
	bool quiet = false;
	int opt, status = 1;
	char *end;

	while ((opt = getopt(argc, argv, "c:n:k:qh")) != -1) {
		switch (opt) {
		case 'c': cfg_path = optarg; break;
		case 'k':
			if (nkeys == 2) {
				fprintf(stderr, "bench_render: at most two -k\n");
				return 64;
			}
			keys[nkeys++] = optarg;
			break;
		case 'n':
			n = strtoul(optarg, &end, 10);
			if (*end || !*optarg || n == 0) {
				fprintf(stderr, "bench_render: -n needs a positive integer\n");
				return 64;
			}
			break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc)
		post_path = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return 64;
	}
	if (!post_path)
		post_path = access("../shared/bench/post.md", R_OK) == 0 ? "../shared/bench/post.md"
									  : "examples/first-light.md";

	struct nl_config *cfg = NULL;
	struct nl_post *post = NULL;
	struct nl_campaign *camp = NULL;
	struct nl_buf msg = NL_BUF_INIT;
	struct nl_message *m = nl_message_new();
	enum nl_err e;
	double t_prep0 = now_mono();
	if ((e = nl_config_load(cfg_path, &cfg)) || (e = nl_post_load(post_path, &post))) {
		fprintf(stderr, "bench_render: %s\n", nl_errmsg());
		goto out;
	}
	if (nkeys && ((e = nl_config_set(&cfg->dkim.domain, "example.test")) ||
		      (e = nl_config_set(&cfg->dkim.selector, "bench")) ||
		      (e = nl_config_set(&cfg->dkim.key_file, keys[0])) ||
		      (nkeys == 2 && ((e = nl_config_set(&cfg->dkim.selector2, "bench2")) ||
				      (e = nl_config_set(&cfg->dkim.key_file2, keys[1])))))) {
		fprintf(stderr, "bench_render: %s\n", nl_errmsg());
		goto out;
	}
	struct nl_campaign_opts o = {.cfg = cfg, .post = post, .now = time(NULL)};
	if (!m || (e = nl_campaign_new(&o, &camp))) {
		fprintf(stderr, "bench_render: %s\n", nl_errmsg());
		goto out;
	}
	double t_prep = now_mono() - t_prep0;
	long rss_prepared = peak_rss_kb();

	/* The synthetic subscriber: rewritten in place for each message. */
	char email[64], name[64], envelope[NL_ENVELOPE_MAX];
	const char *cols[NL_COL_FIXED];
	struct nl_sub sub;
	nl_sub_init(&sub, cols, NL_COL_FIXED, email, name);
	uint64_t sum = 0xcbf29ce484222325ULL;
	size_t bytes = 0, min_len = SIZE_MAX, max_len = 0;

	double c0 = now_cpu(), t0 = now_mono(), t_render = 0;
	for (unsigned long i = 1; i <= n; i++) {
		snprintf(email, sizeof email, "user%06lu@example.test", i);
		snprintf(name, sizeof name, "User %06lu", i);
		sub.line = (size_t)i + 1;
		double r0 = now_mono();
		nl_buf_reset(&msg);
		if ((e = nl_campaign_message(camp, &sub, m)) ||
		    (e = nl_message_finalize(m, &msg, envelope, sizeof envelope))) {
			fprintf(stderr, "bench_render: message %lu: %s\n", i, nl_errmsg());
			goto out;
		}
		t_render += now_mono() - r0;
		sum = fold(sum, msg.data, msg.len);
		sum = fold(sum, nl_message_id(m), strlen(nl_message_id(m)));
		bytes += msg.len;
		if (msg.len < min_len)
			min_len = msg.len;
		if (msg.len > max_len)
			max_len = msg.len;
	}
	double secs = now_mono() - t0, cpu = now_cpu() - c0;
	long rss_end = peak_rss_kb();
	/* The rate counts only building and finalizing; the checksum is the bench's own cost. */
	double rate = t_render > 0 ? (double)n / t_render : 0;
	double rate_all = secs > 0 ? (double)n / secs : 0;
	double avg = (double)bytes / (double)n;

	if (!quiet) {
		printf("post:              %s\n", post_path);
		printf("config:            %s\n", cfg_path);
		printf("prepare:           %.3f ms (once)\n", t_prep * 1e3);
		printf("messages:          %lu\n", n);
		printf("seconds:           %.3f building messages, %.3f with the checksum (cpu %.3f)\n",
		       t_render, secs, cpu);
		printf("messages/second:   %.0f (%.0f with the checksum)\n", rate, rate_all);
		printf("avg message size:  %.0f bytes (min %zu, max %zu)\n", avg, min_len, max_len);
		printf("throughput:        %.1f MB/s\n", t_render > 0 ? (double)bytes / t_render / 1e6 : 0);
		printf("peak RSS prepared: %.1f MB\n", (double)rss_prepared / 1024);
		printf("peak RSS at end:   %.1f MB\n", (double)rss_end / 1024);
		printf("checksum:          %016llx\n", (unsigned long long)sum);
	}
	printf("bench_render messages=%lu seconds=%.3f total_seconds=%.3f cpu=%.3f rate=%.0f "
	       "rate_with_checksum=%.0f avg_bytes=%.0f rss_prepared_kb=%ld rss_kb=%ld checksum=%016llx\n",
	       n, t_render, secs, cpu, rate, rate_all, avg, rss_prepared, rss_end,
	       (unsigned long long)sum);
	status = 0;
out:
	nl_buf_free(&msg);
	nl_message_free(m);
	nl_campaign_free(camp);
	nl_post_free(post);
	nl_config_free(cfg);
	return status;
}
