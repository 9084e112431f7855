/* smtp.c - deliver jobs over SMTP with libcurl: one thread and easy handle per connection. */
#include "smtp.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

/* Shared by every worker; the lock guards everything but the atomics. */
struct sender {
	const struct nl_smtp_opts *o;
	const struct nl_smtp_source *src;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool eof;			/* the source has no more jobs */
	int in_flight;			/* jobs taken and not yet finished */
	struct nl_smtp_job *retry;	/* jobs waiting to be tried again */
	struct nl_smtp_job *free_jobs;	/* spare jobs, buffers kept */
	double next_slot;		/* rate limit: earliest start of the next message */
	double spacing;			/* seconds between messages, 0 = none */
	int consecutive;		/* failures in a row, any connection */
	enum nl_err stop;		/* first error that stops the run */
	char stop_msg[1024];
	char last_reply[600];		/* the last failure, for the message that stops the run */
	atomic_bool stopping;
};

/* What one transaction ended with. */
struct reply {
	int code;
	char text[512];	/* the last reply line from the server */
	bool body_done;	/* the whole message went out: waiting for the final reply */
	double activity;	/* when the server or the upload last moved */
	curl_off_t down, up;	/* bytes so far, as the progress callback saw them */
};

struct worker {
	struct sender *s;
	CURL *curl;
	struct reply r;
	char errbuf[CURL_ERROR_SIZE];	/* libcurl's own words when the server said nothing useful */
	struct nl_smtp_job *job;
	bool fresh;	/* open a new connection for the next message */
	int id;
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	double d = t - now_mono();
	if (d <= 0)
		return;
	struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Record the first reason to stop; later ones are consequences. */
static void stop_run(struct sender *s, enum nl_err e, const char *msg)
{
	pthread_mutex_lock(&s->lock);
	if (!s->stop) {
		s->stop = e;
		snprintf(s->stop_msg, sizeof s->stop_msg, "%s", msg);
	}
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

static bool interrupted(const struct sender *s)
{
	return s->o->interrupted && *s->o->interrupted;
}

/* No new transaction may start: a signal, or an error that stops the run. */
static bool stop_requested(struct sender *s)
{
	return atomic_load(&s->stopping) || interrupted(s);
}

/* ---- libcurl callbacks ---- */

static size_t read_cb(char *buf, size_t size, size_t n, void *ctx)
{
	struct worker *w = ctx;
	struct nl_smtp_job *j = w->job;
	size_t left = j->msg.len - j->sent_bytes, k = size * n < left ? size * n : left;
	memcpy(buf, j->msg.data + j->sent_bytes, k);
	j->sent_bytes += k;
	w->r.activity = now_mono();
	/* libcurl knows the size and may not ask again: the rest is its final dot. */
	if (j->sent_bytes == j->msg.len)
		w->r.body_done = true;
	return k;
}

/* "250" at the start of a reply line, or 0. */
static int reply_code(const char *s)
{
	if (s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
		return 0;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* libcurl hands SMTP server replies to the header callback: keep the one that matters. */
static size_t header_cb(char *buf, size_t size, size_t n, void *ctx)
{
	struct worker *w = ctx;
	size_t len = size * n, k = len;
	while (k && (buf[k - 1] == '\r' || buf[k - 1] == '\n'))
		k--;
	int code = k >= 3 ? reply_code(buf) : 0;
	/*
	 * After a refusal libcurl may still say QUIT and get "221 Bye": keep
	 * the refusal (the last line of it, if it has several).
	 */
	if (code && !(w->r.code >= 400 && code != w->r.code)) {
		if (k >= sizeof w->r.text)
			k = sizeof w->r.text - 1;
		memcpy(w->r.text, buf, k);
		w->r.text[k] = 0;
		for (size_t i = 0; i < k; i++)
			if ((unsigned char)w->r.text[i] < 32)
				w->r.text[i] = ' ';
		w->r.code = code;
	}
	w->r.activity = now_mono();
	return len;
}

/*
 * libcurl 7.88 has one reply timeout for every SMTP command; we want a short
 * one for each command and a generous one for the reply to the final dot
 * (giving up there risks a duplicate), so time replies here ourselves.
 */
static int progress_cb(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct worker *w = ctx;
	const struct nl_smtp_config *cfg = w->s->o->cfg;
	double limit = w->r.body_done ? cfg->data_timeout : cfg->timeout, now = now_mono();
	(void)dt, (void)ut;
	/* A slow upload is progress too, not a silent server. */
	if (dn != w->r.down || un != w->r.up) {
		w->r.down = dn;
		w->r.up = un;
		w->r.activity = now;
	}
	if (now - w->r.activity > limit) {
		snprintf(w->r.text, sizeof w->r.text, "no reply from the server in %.0f s%s", limit,
			 w->r.body_done ? " after the end of the message (it may have been delivered)" : "");
		w->r.code = 0;
		return 1;
	}
	return 0;
}

/* A command's reply (our NOOP's) comes as body data; it is in the header callback already. */
static size_t discard_cb(char *buf, size_t size, size_t n, void *ctx)
{
	(void)buf, (void)ctx;
	return size * n;
}

/* ---- connections ---- */

static enum nl_err setup_handle(struct worker *w)
{
	const struct nl_smtp_opts *o = w->s->o;
	const struct nl_smtp_config *cfg = o->cfg;
	char from[400];
	CURL *c = w->curl = curl_easy_init();
	if (!c)
		return nl_errf(NL_ENOMEM, "cannot create a libcurl handle");
	snprintf(from, sizeof from, "<%s>", o->envelope_from);
	curl_easy_setopt(c, CURLOPT_URL, cfg->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* One connection per worker: a fresh one replaces, never joins, the old. */
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, w);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->timeout);
	curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)cfg->data_timeout);
	curl_easy_setopt(c, CURLOPT_USE_SSL, cfg->tls == NL_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, cfg->insecure_skip_verify ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, cfg->insecure_skip_verify ? 0L : 2L);
	if (*cfg->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	if (o->password) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, o->password);
	}
	return NL_OK;
}

/* ---- classifying results ---- */

enum verdict { V_SENT, V_PERMANENT, V_TRANSIENT, V_FATAL };

static bool tls_error(CURLcode rc)
{
	return rc == CURLE_USE_SSL_FAILED || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_CERTPROBLEM;
}

static enum verdict classify(CURLcode rc, const struct reply *r)
{
	if (rc == CURLE_OK)
		return V_SENT;
	if (rc == CURLE_LOGIN_DENIED || rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
	    tls_error(rc))
		return V_FATAL;
	if (r->code == 535 || r->code == 530 || r->code == 534 || r->code == 538)
		return V_FATAL;
	if (r->code >= 500)
		return V_PERMANENT;
	return V_TRANSIENT; /* 4xx, 421, dropped connections, timeouts */
}

/*
 * Say what went wrong. A refusal is the server's own reply; otherwise the
 * last reply seen is a success (the 250 to EHLO, the 354 to DATA) that
 * explains nothing, so use libcurl's words and no code.
 */
static void describe(struct worker *w, CURLcode rc)
{
	struct reply *r = &w->r;
	if (rc == CURLE_OK || rc == CURLE_ABORTED_BY_CALLBACK || (r->code >= 400 && !tls_error(rc)))
		return;
	r->code = 0;
	snprintf(r->text, sizeof r->text, "%s%s", tls_error(rc) ? "TLS failed: " : "",
		 *w->errbuf ? w->errbuf : curl_easy_strerror(rc));
}

/* ---- the job queue ---- */

static struct nl_smtp_job *new_job(struct sender *s)
{
	struct nl_smtp_job *j = s->free_jobs;
	if (j) {
		s->free_jobs = j->next;
	} else if ((j = calloc(1, sizeof *j))) {
		nl_buf_init(&j->msg);
	}
	if (j) {
		nl_buf_reset(&j->msg);
		j->attempts = 0;
		j->due = 0;
		j->next = NULL;
		j->rcpt[0] = j->msgid[0] = j->envelope_from[0] = 0;
	}
	return j;
}

static void drop_job(struct sender *s, struct nl_smtp_job *j)
{
	j->next = s->free_jobs;
	s->free_jobs = j;
}

/* A retry that is due, or NULL; *wait says when the earliest one will be. */
static struct nl_smtp_job *take_retry(struct sender *s, double now, double *wait)
{
	for (struct nl_smtp_job **p = &s->retry; *p; p = &(*p)->next) {
		struct nl_smtp_job *j = *p;
		if (j->due <= now) {
			*p = j->next;
			return j;
		}
		if (!*wait || j->due < *wait)
			*wait = j->due;
	}
	return NULL;
}

static struct nl_smtp_job *take_new(struct sender *s)
{
	struct nl_smtp_job *j = new_job(s);
	enum nl_err e = j ? s->src->next(s->src->ctx, j, &s->eof) : nl_errf(NL_ENOMEM, "out of memory");
	if (e || s->eof) {
		if (e && !s->stop) {
			s->stop = e;
			snprintf(s->stop_msg, sizeof s->stop_msg, "%s", nl_errmsg());
		}
		if (e)
			atomic_store(&s->stopping, true);
		if (j)
			drop_job(s, j);
		return NULL;
	}
	return j;
}

/* The next job for a worker, waiting for retries if need be; NULL when all is done. */
static struct nl_smtp_job *next_job(struct sender *s)
{
	struct nl_smtp_job *j = NULL;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		double wait = 0, now = now_mono();
		if (s->stop || interrupted(s))
			break;
		if ((j = take_retry(s, now, &wait)))
			break;
		if (!s->eof && (j = take_new(s)))
			break;
		if (s->stop || (s->eof && !s->retry && !s->in_flight))
			break;
		/* Wait for a retry to come due or another worker to finish. */
		double until = wait ? wait : now + 0.2;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double d = until - now;
		ts.tv_sec += (time_t)d;
		ts.tv_nsec += (long)((d - floor(d)) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	if (j)
		s->in_flight++;
	pthread_mutex_unlock(&s->lock);
	return j;
}

/*
 * Never start messages faster than the limit, across all connections: each
 * message takes the next slot. Sleeps in short steps so that a signal is
 * noticed at once even when slots are minutes apart (max_per_hour). False
 * when the run is stopping: the message must not start.
 */
static bool rate_wait(struct sender *s)
{
	if (!s->spacing)
		return !stop_requested(s);
	pthread_mutex_lock(&s->lock);
	double now = now_mono(), t = s->next_slot > now ? s->next_slot : now;
	s->next_slot = t + s->spacing;
	pthread_mutex_unlock(&s->lock);
	while (!stop_requested(s) && (now = now_mono()) < t)
		sleep_until(t - now > 0.1 ? now + 0.1 : t);
	return !stop_requested(s);
}

/* ---- one transaction ---- */

static void start_reply(struct worker *w)
{
	memset(&w->r, 0, sizeof w->r);
	w->errbuf[0] = 0;
	w->r.activity = now_mono();
}

static CURLcode transact(struct worker *w, struct nl_smtp_job *j)
{
	struct curl_slist *rcpt = NULL;
	char to[400], from[400];
	snprintf(to, sizeof to, "<%s>", j->rcpt);
	snprintf(from, sizeof from, "<%s>", *j->envelope_from ? j->envelope_from : w->s->o->envelope_from);
	curl_easy_setopt(w->curl, CURLOPT_MAIL_FROM, from); /* per message (VERP) */
	rcpt = curl_slist_append(NULL, to);
	if (!rcpt)
		return CURLE_OUT_OF_MEMORY;
	start_reply(w);
	w->job = j;
	j->sent_bytes = 0;
	curl_easy_setopt(w->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(w->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->msg.len);
	curl_easy_setopt(w->curl, CURLOPT_FRESH_CONNECT, w->fresh ? 1L : 0L);
	CURLcode rc = curl_easy_perform(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(rcpt);
	w->job = NULL;
	return rc;
}

/*
 * Open a new session (greeting, EHLO, STARTTLS, AUTH) with a NOOP, before
 * a recipient's slot and intent: a refused login or a failed TLS handshake
 * then stops the run with nothing logged for anyone, and the rate limit
 * paces messages on the wire, not connection set-up. libcurl keeps the
 * connection for the transaction that follows.
 */
static CURLcode noop(struct worker *w)
{
	start_reply(w);
	curl_easy_setopt(w->curl, CURLOPT_UPLOAD, 0L);
	curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, "NOOP");
	curl_easy_setopt(w->curl, CURLOPT_FRESH_CONNECT, 1L);
	CURLcode rc = curl_easy_perform(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(w->curl, CURLOPT_CUSTOMREQUEST, NULL);
	return rc;
}

static void backoff(struct sender *s, struct nl_smtp_job *j)
{
	/* 1 s, 2 s, 4 s ... capped at 5 minutes, with up to 50% jitter. */
	double base = ldexp(1.0, j->attempts - 1);
	if (base > 300)
		base = 300;
	double jitter = base * 0.5 * ((double)(rand() & 0xffff) / 65536.0);
	j->due = now_mono() + base + jitter;
	pthread_mutex_lock(&s->lock);
	j->next = s->retry;
	s->retry = j;
	s->in_flight--;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* Remember the latest failure: the message that stops a run quotes it. */
static void note_failure(struct sender *s, const struct nl_smtp_job *j, const char *text)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->last_reply, sizeof s->last_reply, "%.254s: %.340s", j->rcpt, text);
	pthread_mutex_unlock(&s->lock);
}

/* Count a result towards max_consecutive_failures; j (if any) is done with. */
static void finish(struct sender *s, struct nl_smtp_job *j, bool ok)
{
	char msg[900];
	pthread_mutex_lock(&s->lock);
	s->consecutive = ok ? 0 : s->consecutive + 1;
	bool too_many = !ok && s->consecutive >= s->o->cfg->max_consecutive_failures;
	if (too_many)
		snprintf(msg, sizeof msg,
			 "stopped after %d failures in a row (the last: %s); resume with the same command",
			 s->o->cfg->max_consecutive_failures, s->last_reply);
	if (j) {
		drop_job(s, j);
		s->in_flight--;
	}
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (too_many)
		stop_run(s, NL_EUNAVAILABLE, msg);
}

static void report(struct sender *s, struct nl_smtp_job *j, enum nl_outcome out, const struct reply *r)
{
	enum nl_err e = s->src->result(s->src->ctx, j, out, r->code, r->text);
	if (e)
		stop_run(s, e, nl_errmsg());
}

/*
 * The run is stopping before j's next transaction started. A recipient
 * never tried in this run is left as it was (the log has nothing new on
 * them); one waiting for a retry has an intent and needs its outcome.
 */
static void give_back(struct sender *s, struct nl_smtp_job *j, const char *why)
{
	if (j->attempts > 0) {
		struct reply r = {.code = 0};
		snprintf(r.text, sizeof r.text, "%s", why);
		report(s, j, NL_OUT_DEFERRED, &r);
	}
	pthread_mutex_lock(&s->lock);
	drop_job(s, j);
	s->in_flight--;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/* Retry later, or give up as deferred when retries ran out. */
static void transient(struct worker *w, struct nl_smtp_job *j)
{
	struct sender *s = w->s;
	w->fresh = true;
	note_failure(s, j, w->r.text);
	if (j->attempts <= s->o->cfg->retries && !stop_requested(s)) {
		nl_debug("%s: %s; retrying later", j->rcpt, w->r.text);
		backoff(s, j);
		finish(s, NULL, false);
		return;
	}
	report(s, j, NL_OUT_DEFERRED, &w->r);
	finish(s, j, false);
}

/* Authentication refused, TLS failed: no other recipient can succeed either. */
static void fatal(struct worker *w, struct nl_smtp_job *j)
{
	struct sender *s = w->s;
	char msg[800];
	w->fresh = true;
	snprintf(msg, sizeof msg, "%s: %s", s->o->cfg->url, w->r.text);
	stop_run(s, NL_EUNAVAILABLE, msg);
	give_back(s, j, w->r.text);
}

/* A new session for j's transaction; false when that failed and j is dealt with. */
static bool open_session(struct worker *w, struct nl_smtp_job *j)
{
	CURLcode rc = noop(w);
	describe(w, rc);
	switch (classify(rc, &w->r)) {
	case V_SENT:
		w->fresh = false;
		return true;
	case V_PERMANENT:
		return true; /* the transaction connects again and gets its own answer */
	case V_TRANSIENT:
		j->attempts++;
		transient(w, j);
		return false;
	case V_FATAL:
		fatal(w, j);
		return false;
	}
	return true;
}

/* libcurl passes CR/LF in an envelope address straight to the server. */
static bool address_ok(struct sender *s, struct nl_smtp_job *j)
{
	const char *why = NULL;
	if (nl_addr_valid(j->rcpt, strlen(j->rcpt), &why))
		return true;
	struct reply r = {.code = 0};
	snprintf(r.text, sizeof r.text, "refused before sending: invalid address: %s", why);
	note_failure(s, j, r.text);
	report(s, j, NL_OUT_FAILED, &r);
	finish(s, j, false);
	return false;
}

static void deliver(struct worker *w, struct nl_smtp_job *j)
{
	struct sender *s = w->s;
	enum nl_err e;
	if (!address_ok(s, j) || (w->fresh && !open_session(w, j)))
		return;
	if (!rate_wait(s)) {
		give_back(s, j, "run stopped before the retry");
		return;
	}
	j->attempts++;
	if ((e = s->src->attempt(s->src->ctx, j))) {
		stop_run(s, e, nl_errmsg());
		finish(s, j, false);
		return;
	}
	CURLcode rc = transact(w, j);
	/* After any failure libcurl may have hung up: open the next session ourselves. */
	w->fresh = rc != CURLE_OK;
	describe(w, rc);
	switch (classify(rc, &w->r)) {
	case V_SENT:
		report(s, j, NL_OUT_SENT, &w->r);
		finish(s, j, true);
		break;
	case V_PERMANENT:
		note_failure(s, j, w->r.text);
		report(s, j, NL_OUT_FAILED, &w->r);
		finish(s, j, false);
		break;
	case V_TRANSIENT:
		transient(w, j);
		break;
	case V_FATAL:
		fatal(w, j);
		break;
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct nl_smtp_job *j;
	while ((j = next_job(w->s)))
		deliver(w, j);
	return NULL;
}

/* ---- the run ---- */

static void free_jobs(struct nl_smtp_job *j)
{
	while (j) {
		struct nl_smtp_job *next = j->next;
		nl_buf_free(&j->msg);
		free(j);
		j = next;
	}
}

/* Jobs still waiting for a retry when the run stops get their outcome now. */
static void settle_retries(struct sender *s)
{
	for (struct nl_smtp_job *j = s->retry; j; j = j->next) {
		struct reply r = {.code = 0};
		snprintf(r.text, sizeof r.text, "run stopped before the retry");
		report(s, j, NL_OUT_DEFERRED, &r);
	}
	free_jobs(s->retry);
	s->retry = NULL;
}

enum nl_err nl_smtp_send(const struct nl_smtp_opts *o, const struct nl_smtp_source *src)
{
	struct sender s = {.o = o, .src = src};
	int n = o->connections > 0 ? o->connections : 1;
	struct worker *w = calloc((size_t)n, sizeof *w);
	pthread_t *t = calloc((size_t)n, sizeof *t);
	enum nl_err e = NL_OK;
	int started = 0;
	if (!w || !t) {
		free(w);
		free(t);
		return nl_errf(NL_ENOMEM, "out of memory");
	}
	/*
	 * A limit is a ceiling, and the server sees our messages with the
	 * network's and the scheduler's jitter added: aim 1% under it.
	 */
	if (o->rate > 0)
		s.spacing = 1.01 / o->rate;
	if (o->max_per_hour > 0 && 3636.0 / o->max_per_hour > s.spacing)
		s.spacing = 3636.0 / o->max_per_hour;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.wake, NULL);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int i = 0; i < n && !e; i++) {
		w[i].s = &s;
		w[i].id = i;
		w[i].fresh = true;
		if (!(e = setup_handle(&w[i])) && pthread_create(&t[i], NULL, work, &w[i]) == 0)
			started++;
		else if (!e)
			e = nl_errf(NL_EINTERNAL, "cannot start a sender thread");
	}
	if (e)
		stop_run(&s, e, nl_errmsg());
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	settle_retries(&s);
	for (int i = 0; i < n; i++)
		if (w[i].curl)
			curl_easy_cleanup(w[i].curl);
	free_jobs(s.free_jobs);
	if (s.stop)
		e = nl_errf(s.stop, "%s", s.stop_msg);
	else if (interrupted(&s))
		e = nl_errf(NL_EINTERRUPTED, "interrupted; run the same command again to resume");
	pthread_cond_destroy(&s.wake);
	pthread_mutex_destroy(&s.lock);
	free(w);
	free(t);
	return e;
}

/* ---- checking the settings ---- */

static bool is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcasecmp(host, "localhost") || !strcmp(host, "::1") ||
	       !strcmp(host, "[::1]");
}

static enum nl_err read_password_file(const char *path, char **out)
{
	struct stat st;
	char buf[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nl_errf(NL_ECONFIG, "smtp.password_file: cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || (st.st_mode & 077)) {
		close(fd);
		return nl_errf(NL_ECONFIG,
			       "smtp.password_file: %s can be read by others: chmod 600 it", path);
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return nl_errf(NL_ECONFIG, "smtp.password_file: cannot read %s", path);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	*out = strdup(buf);
	memset(buf, 0, sizeof buf);
	return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
}

static enum nl_err password(const struct nl_smtp_config *c, char **out)
{
	*out = NULL;
	if (!*c->username)
		return NL_OK;
	if (*c->password_env) {
		const char *v = getenv(c->password_env);
		if (!v || !*v)
			return nl_errf(NL_ECONFIG, "smtp.password_env: the variable %s is not set",
				       c->password_env);
		*out = strdup(v);
		return *out ? NL_OK : nl_errf(NL_ENOMEM, "out of memory");
	}
	if (*c->password_file)
		return read_password_file(c->password_file, out);
	return nl_errf(NL_ECONFIG, "smtp.username is set: give the password with smtp.password_env or smtp.password_file");
}

static enum nl_err tls_policy(struct nl_config *cfg, const char *scheme, const char *host)
{
	struct nl_smtp_config *c = &cfg->smtp;
	bool smtps = !strcasecmp(scheme, "smtps");
	if (strcasecmp(scheme, "smtp") && !smtps)
		return nl_errf(NL_ECONFIG, "smtp.url: %s: use smtp://HOST:PORT or smtps://HOST:PORT", c->url);
	if (c->tls == NL_TLS_AUTO)
		c->tls = smtps || !is_loopback(host) ? NL_TLS_STARTTLS : NL_TLS_NONE;
	if (c->tls == NL_TLS_NONE && smtps)
		return nl_errf(NL_ECONFIG, "smtp.tls: none contradicts smtps:// in smtp.url");
	if (c->tls == NL_TLS_NONE && !is_loopback(host))
		return nl_errf(NL_ECONFIG,
			       "smtp.tls: none is only allowed for a relay on this machine (loopback), not %s",
			       host);
	if (c->insecure_skip_verify)
		nl_warn("smtp.insecure_skip_verify is on: the relay's certificate is NOT checked");
	return NL_OK;
}

enum nl_err nl_smtp_prepare(struct nl_config *cfg, char **pw)
{

	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	enum nl_err e;
	*pw = NULL;
	if (!u)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, cfg->smtp.url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		e = nl_errf(NL_ECONFIG, "smtp.url: '%s' is not a URL like smtp://HOST:587", cfg->smtp.url);
	} else if (!(e = tls_policy(cfg, scheme, host)) && *cfg->smtp.helo) {
		/* libcurl takes the EHLO name from the URL's path. */
		char *url = NULL;
		curl_url_set(u, CURLUPART_PATH, cfg->smtp.helo, CURLU_URLENCODE);
		if (!curl_url_get(u, CURLUPART_URL, &url, 0)) {
			e = nl_config_set(&cfg->smtp.url, url);
			curl_free(url);
		}
	}
	if (!e)
		e = password(&cfg->smtp, pw);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return e;
}
