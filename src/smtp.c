/* smtp.c - deliver jobs over SMTP with libcurl: one thread and easy handle per connection. */
#include "smtp.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

/* Before the first session is open, one worker logs in and the others wait. */
enum gate { GATE_CLOSED, GATE_OPENING, GATE_OPEN };

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
	enum gate gate;			/* a wrong password is tried once, not on every connection */
	int opening;			/* sessions being opened now */
	enum nl_err stop;		/* first error that stops the run */
	char stop_msg[1024];
	char last_reply[600];		/* the last failure, for the message that stops the run */
	char url[512];			/* smtp.url without user info, for messages */
	atomic_bool stopping;
};

/* The last reply, or why none came. */
struct reply {
	int code;		/* 0: no reply (timeout, lost connection, libcurl's own error) */
	char esc[16];		/* enhanced status code (RFC 3463), "" if none */
	char text[512];		/* the reply's last line, or what went wrong */
	bool authed;		/* a 235 went by while libcurl opened the session */
	bool timed_out;		/* no reply came in time (the connection may still be up) */
};

struct worker {
	struct sender *s;
	CURL *curl;		/* the session's handle; NULL when no session is open */
	curl_socket_t sock;
	struct reply r;
	char errbuf[CURL_ERROR_SIZE];	/* libcurl's own words when the server said nothing useful */
	char in[2048];		/* received and not yet consumed */
	size_t in_len;
	struct nl_buf out;	/* the dot-stuffed message */
	bool pioneer;		/* this worker opens the run's first session */
	int id;
	struct nl_smtp_probe *probe;	/* doctor's probe notes what the server offers; NULL when sending */
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

/* Wait on the sender's condition for d seconds at most; the lock is held. */
static void timed_wait(struct sender *s, double d)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)d;
	ts.tv_nsec += (long)((d - floor(d)) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&s->wake, &s->lock, &ts);
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

/* ---- classifying replies ---- */

/* "250" at the start of a reply line, or 0. */
static int reply_code(const char *s)
{
	if (s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
		return 0;
	return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* The enhanced status code after "NNN " or "NNN-" (class.subject.detail), or "". */
static void parse_esc(const char *line, char *esc, size_t n)
{
	size_t i = 4, dots = 0, digits = 0;
	esc[0] = 0;
	if (strlen(line) < 9 || (line[4] != '2' && line[4] != '4' && line[4] != '5') || line[4] != line[0])
		return;
	for (i = 4; line[i] && line[i] != ' '; i++) {
		if (line[i] == '.' && digits) {
			dots++;
			digits = 0;
		} else if (line[i] >= '0' && line[i] <= '9' && digits < 3) {
			digits++;
		} else {
			return;
		}
	}
	if (dots == 2 && digits && i - 4 < n) {
		memcpy(esc, line + 4, i - 4);
		esc[i - 4] = 0;
	}
}

/* The subject and detail of an enhanced code ("5.1.1" -> 1, 1); false if absent. */
static bool esc_parts(const char *esc, int *subject, int *detail)
{
	char *end;
	if (!esc || strlen(esc) < 5 || esc[1] != '.')
		return false;
	long a = strtol(esc + 2, &end, 10);
	if (*end != '.')
		return false;
	long b = strtol(end + 1, &end, 10);
	*subject = (int)a;
	*detail = (int)b;
	return !*end;
}

/*
 * A 5xx refusal of RCPT TO. The mailbox's own problems fail that reader:
 * 5.1.x (bad destination; but 5.1.7/5.1.8 are about OUR sender address),
 * 5.2.x but 5.2.3 (mailbox disabled, full, ...), 5.4.x (no route to that
 * destination), and 5.7.1 (that destination's policy refuses us) unless the
 * reply speaks of relaying, which is our relay refusing us for everyone.
 * Everything else is about us, the session or the message (5.3.x system,
 * 5.5.x syntax/HELO policy, 5.6.x content, other 5.7.x, 5.2.3 size): stop.
 * Without an enhanced code, 550/551/552/553 concern the mailbox.
 */
static enum nl_smtp_verdict rcpt_refusal(int code, const char *esc, const char *text)
{
	int subj, det;
	if (esc_parts(esc, &subj, &det) && esc[0] == '5') {
		if (subj == 1)
			return det == 7 || det == 8 ? NL_V_STOP : NL_V_FAIL;
		if (subj == 2)
			return det == 3 ? NL_V_STOP : NL_V_FAIL;
		if (subj == 4)
			return NL_V_FAIL;
		if (subj == 7 && det == 1)
			return text && strcasestr(text, "relay") ? NL_V_STOP : NL_V_FAIL;
		if (subj != 0)
			return NL_V_STOP;
	}
	if (code == 530 || (code >= 500 && code <= 504) || code == 554)
		return NL_V_STOP;
	return NL_V_FAIL;
}

/* A 5xx after the final dot: only the mailbox's own problems fail one reader. */
static enum nl_smtp_verdict dot_refusal(const char *esc)
{
	int subj, det;
	if (esc_parts(esc, &subj, &det) && esc[0] == '5' &&
	    ((subj == 1 && det != 7 && det != 8) || (subj == 2 && det != 3)))
		return NL_V_FAIL;
	return NL_V_STOP;
}

enum nl_smtp_verdict nl_smtp_classify(enum nl_smtp_stage stage, int code, const char *esc,
				      const char *text)
{
	if (code == 0)
		return stage == NL_STAGE_DOT ? NL_V_DOUBT : NL_V_DEFER;
	if (code >= 200 && code < 300)
		return NL_V_OK;
	if (code == 354 && stage == NL_STAGE_DATA)
		return NL_V_OK;
	if (code >= 400 && code < 500)
		return NL_V_DEFER;
	if (code < 500 || code > 599)
		return NL_V_DEFER; /* a reply that makes no sense here: start over later */
	if (stage == NL_STAGE_RCPT)
		return rcpt_refusal(code, esc, text);
	if (stage == NL_STAGE_DOT)
		return dot_refusal(esc);
	return NL_V_STOP; /* connect, EHLO, AUTH, MAIL FROM, DATA: the relay refuses the run */
}

static const char *stage_name(enum nl_smtp_stage st)
{
	static const char *const names[] = {
		[NL_STAGE_CONNECT] = "connect", [NL_STAGE_AUTH] = "AUTH",
		[NL_STAGE_MAIL] = "MAIL FROM",	   [NL_STAGE_RCPT] = "RCPT TO",
		[NL_STAGE_DATA] = "DATA",	   [NL_STAGE_DOT] = "end of data"};
	return names[st];
}

/* ---- libcurl callbacks (opening a session) ---- */

/* Keep a reply line: its code, enhanced code and words (control characters blanked). */
static void set_reply(struct reply *r, int code, const char *line, size_t k)
{
	if (k >= sizeof r->text)
		k = sizeof r->text - 1;
	memcpy(r->text, line, k);
	r->text[k] = 0;
	for (size_t i = 0; i < k; i++)
		if ((unsigned char)r->text[i] < 32)
			r->text[i] = ' ';
	r->code = code;
	parse_esc(r->text, r->esc, sizeof r->esc);
}

/* What the greeting and EHLO replies tell doctor's probe (EHLO comes again after STARTTLS). */
static void probe_line(struct nl_smtp_probe *p, int code, const char *line, size_t k)
{
	if (code == 220)
		p->greeted = true;
	if (code != 250 || k < 4)
		return;
	p->ehlo = true;
	if (k >= 12 && !strncasecmp(line + 4, "STARTTLS", 8))
		p->starttls_offered = true;
	if (k > 8 && !strncasecmp(line + 4, "AUTH", 4) && (line[8] == ' ' || line[8] == '='))
		p->auth_offered = true;
}

/* libcurl hands the greeting, EHLO and AUTH replies to the header callback. */
static size_t header_cb(char *buf, size_t size, size_t n, void *ctx)
{
	struct worker *w = ctx;
	size_t len = size * n, k = len;
	while (k && (buf[k - 1] == '\r' || buf[k - 1] == '\n'))
		k--;
	int code = k >= 3 ? reply_code(buf) : 0;
	if (code == 235)
		w->r.authed = true;
	if (w->probe)
		probe_line(w->probe, code, buf, k);
	/* Keep a refusal over what follows it (the last line of it, if it has several). */
	if (code && !(w->r.code >= 400 && code != w->r.code))
		set_reply(&w->r, code, buf, k);
	return len;
}

/* ---- the wire, once libcurl has opened the session ---- */

/* Wait for the socket; false after `limit` seconds (the reply says so). */
static bool wait_sock(struct worker *w, short events, double limit)
{
	struct pollfd p = {.fd = w->sock, .events = events};
	int rc;
	while ((rc = poll(&p, 1, (int)(limit * 1000))) < 0 && errno == EINTR)
		;
	if (rc > 0)
		return true;
	w->r.code = 0;
	w->r.timed_out = true;
	snprintf(w->r.text, sizeof w->r.text, "no reply from the server in %.0f s", limit);
	return false;
}

static bool lost(struct worker *w, CURLcode rc)
{
	w->r.code = 0;
	w->r.esc[0] = 0;
	snprintf(w->r.text, sizeof w->r.text, "connection lost: %s",
		 rc ? curl_easy_strerror(rc) : "the server closed it");
	return false;
}

/* Send all of it; a stall of `limit` seconds is a failure. */
static bool send_all(struct worker *w, const char *p, size_t len, double limit)
{
	while (len) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(w->curl, p, len, &n);
		if (rc == CURLE_AGAIN) {
			if (!wait_sock(w, POLLOUT, limit))
				return false;
			continue;
		}
		if (rc)
			return lost(w, rc);
		p += n;
		len -= n;
	}
	return true;
}

/* Take one line out of w->in into line (without CRLF); false if none is complete. */
static bool take_line(struct worker *w, char *line, size_t cap)
{
	char *nl = memchr(w->in, '\n', w->in_len);
	if (!nl)
		return false;
	size_t n = (size_t)(nl - w->in) + 1, k = n;
	while (k && (w->in[k - 1] == '\n' || w->in[k - 1] == '\r'))
		k--;
	if (k >= cap)
		k = cap - 1;
	memcpy(line, w->in, k);
	line[k] = 0;
	memmove(w->in, w->in + n, w->in_len - n);
	w->in_len -= n;
	return true;
}

/* Read one whole reply (multi-line replies: the last line); false with r.code 0 if none came. */
static bool read_reply(struct worker *w, double limit)
{
	char line[1024];
	for (;;) {
		while (take_line(w, line, sizeof line)) {
			int code = reply_code(line);
			if (!code || (line[3] && line[3] != ' ' && line[3] != '-')) {
				w->r.code = 0;
				snprintf(w->r.text, sizeof w->r.text, "not an SMTP reply: %.200s", line);
				return false;
			}
			if (line[3] != '-') {
				set_reply(&w->r, code, line, strlen(line));
				return true;
			}
		}
		if (w->in_len == sizeof w->in)
			w->in_len = 0; /* an endless line: drop it, the reply still ends somewhere */
		size_t n = 0;
		CURLcode rc = curl_easy_recv(w->curl, w->in + w->in_len, sizeof w->in - w->in_len, &n);
		if (rc == CURLE_AGAIN) {
			if (!wait_sock(w, POLLIN, limit))
				return false;
			continue;
		}
		if (rc || !n)
			return lost(w, rc);
		w->in_len += n;
	}
}

/* One command and its reply, and what that means at this stage. */
static enum nl_smtp_verdict command(struct worker *w, enum nl_smtp_stage st, const char *line,
				   double limit)
{
	w->r.code = 0;
	w->r.esc[0] = 0;
	if (!send_all(w, line, strlen(line), limit) || !read_reply(w, limit))
		return nl_smtp_classify(st, 0, NULL, NULL);
	return nl_smtp_classify(st, w->r.code, w->r.esc, w->r.text);
}

/*
 * Close the session. With quit, say QUIT and wait for its reply: the server
 * sees a clean end. Shutting the socket down first keeps libcurl's own
 * disconnect (it would say QUIT again, and wait) off the wire.
 */
static void close_session(struct worker *w, bool quit)
{
	if (!w->curl)
		return;
	if (quit) {
		struct reply keep = w->r;
		command(w, NL_STAGE_MAIL, "QUIT\r\n", w->s->o->cfg->timeout);
		w->r = keep;
	}
	shutdown(w->sock, SHUT_RDWR);
	curl_easy_cleanup(w->curl);
	w->curl = NULL;
	w->in_len = 0;
}

/* ---- connections ---- */

static enum nl_err setup_handle(struct worker *w)
{
	const struct nl_smtp_opts *o = w->s->o;
	const struct nl_smtp_config *cfg = o->cfg;
	CURL *c = w->curl = curl_easy_init();
	if (!c)
		return nl_errf(NL_ENOMEM, "cannot create a libcurl handle");
	curl_easy_setopt(c, CURLOPT_URL, cfg->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/*
	 * libcurl opens the session (greeting, EHLO, STARTTLS, AUTH) and hands
	 * us the connection: its own transaction closes the connection after
	 * any refused recipient and cannot tell a lost final reply from a
	 * refused MAIL FROM, so the transactions are ours.
	 */
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, w->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)cfg->timeout);
	curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)cfg->timeout);
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

static bool tls_error(CURLcode rc)
{
	return rc == CURLE_USE_SSL_FAILED || rc == CURLE_SSL_CONNECT_ERROR ||
	       rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
	       rc == CURLE_SSL_CERTPROBLEM;
}

/* What opening the session came to; w->r says why when it is not OK. */
static enum nl_smtp_verdict session_verdict(struct worker *w, CURLcode rc)
{
	struct reply *r = &w->r;
	if (rc == CURLE_OK && w->s->o->password && !r->authed) {
		r->code = 0;
		snprintf(r->text, sizeof r->text,
			 "smtp.username is set but the server did not log us in (it offers no AUTH): "
			 "refusing to send without authentication");
		return NL_V_STOP;
	}
	if (rc == CURLE_OK)
		return NL_V_OK;
	bool refused = r->code >= 400 && !tls_error(rc);
	if (!refused) {
		/* The last reply is a success (EHLO's 250) that explains nothing: use libcurl's words. */
		r->code = 0;
		r->esc[0] = 0;
		snprintf(r->text, sizeof r->text, "%s%s", tls_error(rc) ? "TLS failed: " : "",
			 *w->errbuf ? w->errbuf : curl_easy_strerror(rc));
	}
	if (tls_error(rc) || rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
	    (rc == CURLE_LOGIN_DENIED && !refused))
		return NL_V_STOP;
	return nl_smtp_classify(rc == CURLE_LOGIN_DENIED ? NL_STAGE_AUTH : NL_STAGE_CONNECT,
				refused ? r->code : 0, r->esc, r->text);
}

static CURLcode connect_session(struct worker *w)
{
	memset(&w->r, 0, sizeof w->r);
	w->errbuf[0] = 0;
	w->in_len = 0;
	if (setup_handle(w))
		return CURLE_OUT_OF_MEMORY;
	CURLcode rc = curl_easy_perform(w->curl);
	if (!rc)
		rc = curl_easy_getinfo(w->curl, CURLINFO_ACTIVESOCKET, &w->sock);
	if (rc) {
		curl_easy_cleanup(w->curl);
		w->curl = NULL;
	}
	return rc;
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
		j->fresh = false;
		j->prepared = false;
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
		timed_wait(s, wait ? wait - now : 0.2);
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
	/*
	 * Sessions being opened keep the server busy and would delay the
	 * message in the slot: take the slot once they are up, or the server
	 * sees the next ones bunched closer than the limit.
	 */
	while (s->opening && !s->stop && !interrupted(s))
		timed_wait(s, 0.05);
	double now = now_mono(), t = s->next_slot > now ? s->next_slot : now;
	s->next_slot = t + s->spacing;
	pthread_mutex_unlock(&s->lock);
	while (!stop_requested(s) && (now = now_mono()) < t)
		sleep_until(t - now > 0.1 ? now + 0.1 : t);
	return !stop_requested(s);
}

/* ---- outcomes ---- */

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
 * them); one tried before has an intent and needs its outcome: deferred,
 * with the server's code when it gave one.
 */
static void give_back(struct sender *s, struct nl_smtp_job *j, const struct reply *why)
{
	if (j->attempts > 0)
		report(s, j, NL_OUT_DEFERRED, why);
	pthread_mutex_lock(&s->lock);
	drop_job(s, j);
	s->in_flight--;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

static void give_back_text(struct sender *s, struct nl_smtp_job *j, const char *why)
{
	struct reply r = {.code = 0};
	snprintf(r.text, sizeof r.text, "%s", why);
	give_back(s, j, &r);
}

/* Retry later on a fresh connection, or give up as deferred when retries ran out. */
static void transient(struct worker *w, struct nl_smtp_job *j, bool fresh)
{
	struct sender *s = w->s;
	note_failure(s, j, w->r.text);
	j->fresh = j->fresh || fresh;
	if (j->attempts <= s->o->cfg->retries && !stop_requested(s)) {
		nl_debug("%s: %s; retrying later", j->rcpt, w->r.text);
		backoff(s, j);
		finish(s, NULL, false);
		return;
	}
	report(s, j, NL_OUT_DEFERRED, &w->r);
	finish(s, j, false);
}

/* The relay refuses us (login, TLS, policy, this message): nobody else can succeed either. */
static void refused(struct worker *w, struct nl_smtp_job *j, enum nl_smtp_stage st)
{
	struct sender *s = w->s;
	char msg[900];
	snprintf(msg, sizeof msg, "%.300s refused at %s: %.500s", s->url, stage_name(st), w->r.text);
	stop_run(s, NL_EUNAVAILABLE, msg);
	give_back(s, j, &w->r);
}

/* Let one session log in before any other tries: false when the run stops meanwhile. */
static bool gate_enter(struct worker *w)
{
	struct sender *s = w->s;
	if (!s->o->password)
		return !stop_requested(s); /* nothing to get wrong many times at once */
	pthread_mutex_lock(&s->lock);
	while (s->gate == GATE_OPENING && !s->stop && !interrupted(s))
		timed_wait(s, 0.2);
	bool go = !s->stop && !interrupted(s);
	w->pioneer = go && s->gate == GATE_CLOSED;
	if (w->pioneer)
		s->gate = GATE_OPENING;
	pthread_mutex_unlock(&s->lock);
	return go;
}

static void gate_leave(struct worker *w, bool ok)
{
	struct sender *s = w->s;
	if (!w->pioneer)
		return;
	pthread_mutex_lock(&s->lock);
	s->gate = ok ? GATE_OPEN : GATE_CLOSED;
	w->pioneer = false;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Open a session before a recipient's slot and intent: a refused login or
 * a failed TLS handshake then stops the run with nothing logged for
 * anyone, and the rate limit paces messages on the wire, not set-up.
 * False when that failed and j is dealt with.
 */
static bool open_session(struct worker *w, struct nl_smtp_job *j)
{
	if (!gate_enter(w)) {
		give_back_text(w->s, j, "run stopped before the retry");
		return false;
	}
	pthread_mutex_lock(&w->s->lock);
	w->s->opening++;
	pthread_mutex_unlock(&w->s->lock);
	CURLcode rc = connect_session(w);
	pthread_mutex_lock(&w->s->lock);
	w->s->opening--;
	pthread_cond_broadcast(&w->s->wake);
	pthread_mutex_unlock(&w->s->lock);
	enum nl_smtp_verdict v = session_verdict(w, rc);
	/* After a refusal the run stops before the gate reopens: nobody else tries. */
	if (v != NL_V_STOP)
		gate_leave(w, v == NL_V_OK);
	switch (v) {
	case NL_V_OK:
		j->fresh = false;
		return true;
	case NL_V_STOP:
		close_session(w, true);
		refused(w, j, rc == CURLE_LOGIN_DENIED ? NL_STAGE_AUTH : NL_STAGE_CONNECT);
		gate_leave(w, false);
		return false;
	default:
		close_session(w, false);
		j->attempts++;
		transient(w, j, true);
		return false;
	}
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

/* The message as DATA wants it: lines starting with a dot doubled, then CRLF.CRLF. */
static enum nl_err stuff(struct nl_buf *out, const struct nl_buf *msg)
{
	const char *p = msg->data, *end = msg->data + msg->len;
	nl_buf_reset(out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		if (*p == '.')
			nl_buf_addc(out, '.');
		nl_buf_add(out, p, n);
		p += n;
	}
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2))
		nl_buf_add(out, "\r\n", 2);
	nl_buf_add(out, ".\r\n", 3);
	return nl_buf_err(out);
}

/* One transaction: MAIL, RCPT, DATA, the message; *st says where it ended. */
static enum nl_smtp_verdict transact(struct worker *w, const struct nl_smtp_job *j,
				     enum nl_smtp_stage *st)
{
	const struct nl_smtp_opts *o = w->s->o;
	double t = o->cfg->timeout;
	char line[800];
	enum nl_smtp_verdict v;
	snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", *j->envelope_from ? j->envelope_from : o->envelope_from);
	if ((v = command(w, *st = NL_STAGE_MAIL, line, t)))
		return v;
	snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", j->rcpt);
	if ((v = command(w, *st = NL_STAGE_RCPT, line, t)) || (v = command(w, *st = NL_STAGE_DATA, "DATA\r\n", t)))
		return v;
	if (stuff(&w->out, &j->msg)) {
		snprintf(w->r.text, sizeof w->r.text, "out of memory");
		return NL_V_STOP;
	}
	w->r.code = 0;
	w->r.timed_out = false;
	if (!send_all(w, w->out.data, w->out.len, t))
		return nl_smtp_classify(NL_STAGE_DATA, 0, NULL, NULL);
	/* The final dot is out: from here on a lost reply may hide a delivery. */
	*st = NL_STAGE_DOT;
	if (!read_reply(w, o->cfg->data_timeout)) {
		/*
		 * A server that hangs up without a reply has, as a rule, not
		 * taken the message (it commits, then says 250): retry. One that
		 * is still there but silent past data_timeout is busy with it,
		 * and likely to deliver after we give up: that one is in doubt.
		 */
		if (!w->r.timed_out) {
			*st = NL_STAGE_DATA;
			return nl_smtp_classify(NL_STAGE_DATA, 0, NULL, NULL);
		}
		size_t n = strlen(w->r.text);
		snprintf(w->r.text + n, sizeof w->r.text - n, " after the end of the message (it may have been delivered)");
		return nl_smtp_classify(NL_STAGE_DOT, 0, NULL, NULL);
	}
	return nl_smtp_classify(NL_STAGE_DOT, w->r.code, w->r.esc, w->r.text);
}

/*
 * After a transaction that did not succeed, is the session still good? A
 * refusal before the data is undone with RSET (no new connection, TLS
 * handshake and login per refused recipient); one after the final dot ends
 * the transaction by itself. No reply, or 421, ends the session.
 */
static void after_refusal(struct worker *w, enum nl_smtp_stage st)
{
	if (!w->curl)
		return;
	if (w->r.code == 0 || w->r.code == 421 || st == NL_STAGE_DATA) {
		close_session(w, w->r.code != 0);
		return;
	}
	if (st == NL_STAGE_DOT)
		return;
	struct reply keep = w->r;
	if (command(w, NL_STAGE_MAIL, "RSET\r\n", w->s->o->cfg->timeout) != NL_V_OK)
		close_session(w, false);
	w->r = keep;
}

static void outcome(struct worker *w, struct nl_smtp_job *j, enum nl_smtp_verdict v, enum nl_smtp_stage st)
{
	struct sender *s = w->s;
	if (v != NL_V_OK && v != NL_V_STOP)
		after_refusal(w, st);
	switch (v) {
	case NL_V_OK:
		report(s, j, NL_OUT_SENT, &w->r);
		finish(s, j, true);
		break;
	case NL_V_FAIL:
		note_failure(s, j, w->r.text);
		report(s, j, NL_OUT_FAILED, &w->r);
		finish(s, j, false);
		break;
	case NL_V_DEFER:
		transient(w, j, true); /* the README promises retries on a fresh connection */
		break;
	case NL_V_DOUBT:
		note_failure(s, j, w->r.text);
		report(s, j, NL_OUT_IN_DOUBT, &w->r);
		finish(s, j, false);
		break;
	case NL_V_STOP:
		close_session(w, true);
		refused(w, j, st);
		break;
	}
}

/* Between transactions a server says nothing unless it hangs up (idle timeout, 421). */
static bool session_alive(const struct worker *w)
{
	struct pollfd p = {.fd = w->sock, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

static void deliver(struct worker *w, struct nl_smtp_job *j)
{
	struct sender *s = w->s;
	enum nl_smtp_stage st = NL_STAGE_MAIL;
	enum nl_err e;
	if (!address_ok(s, j))
		return;
	if (!j->prepared && s->src->prepare) {
		if ((e = s->src->prepare(s->src->ctx, j))) {
			stop_run(s, e, nl_errmsg());
			finish(s, j, false);
			return;
		}
		j->prepared = true;
	}
	/* A retry after a lost or closed connection gets a new one, not a tired one. */
	if (j->fresh && w->curl)
		close_session(w, true);
	/* One the server closed while idle costs nobody an attempt. */
	if (w->curl && !session_alive(w))
		close_session(w, false);
	if (!w->curl && !open_session(w, j))
		return;
	if (!rate_wait(s)) {
		give_back_text(s, j, "run stopped before the retry");
		return;
	}
	j->attempts++;
	if ((e = s->src->attempt(s->src->ctx, j))) {
		stop_run(s, e, nl_errmsg());
		finish(s, j, false);
		return;
	}
	outcome(w, j, transact(w, j, &st), st);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct nl_smtp_job *j;
	while ((j = next_job(w->s)))
		deliver(w, j);
	close_session(w, true);
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
	nl_smtp_url_redacted(o->cfg->url, s.url, sizeof s.url);
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
		nl_buf_init(&w[i].out);
		if (pthread_create(&t[i], NULL, work, &w[i]) == 0)
			started++;
		else
			e = nl_errf(NL_EINTERNAL, "cannot start a sender thread");
	}
	if (e)
		stop_run(&s, e, nl_errmsg());
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	settle_retries(&s);
	for (int i = 0; i < n; i++) {
		close_session(&w[i], false);
		nl_buf_free(&w[i].out);
	}
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

void nl_smtp_url_redacted(const char *url, char *out, size_t n)
{
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url;
	size_t end = strcspn(host, "/?#"), at = 0;
	/* user:password@ ends at the last @ before the path: a password may hold one. */
	for (size_t i = 0; i < end; i++)
		if (host[i] == '@')
			at = i + 1;
	snprintf(out, n, "%.*s%.*s", (int)(host - url), url, (int)(end - at), host + at);
}

/* Literally this machine: 127.0.0.0/8, ::1, localhost. Never a name that merely starts with "127.". */
static bool is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char h[64];
	size_t n = strlen(host);
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof h) {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = 0;
		host = h;
	}
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
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
			return nl_errf(NL_ECONFIG, "smtp.password_env: the variable %s is %s",
				       c->password_env, v ? "empty" : "not set");
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
	char url[512];
	nl_smtp_url_redacted(c->url, url, sizeof url);
	if (strcasecmp(scheme, "smtp") && !smtps)
		return nl_errf(NL_ECONFIG, "smtp.url: %s: use smtp://HOST:PORT or smtps://HOST:PORT", url);
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

/*
 * The EHLO name when smtp.helo is not set: this host's canonical name if it
 * is a real (dotted) one, else the From address's domain. libcurl would say
 * "localhost", which strict relays refuse (504 5.5.2 need fully-qualified).
 */
static void default_helo(const struct nl_config *cfg, char *out, size_t n)
{
	struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;
	char host[256];
	if (!gethostname(host, sizeof host)) {
		host[sizeof host - 1] = 0;
		if (!getaddrinfo(host, NULL, &hints, &ai) && ai->ai_canonname &&
		    strchr(ai->ai_canonname, '.') && strlen(ai->ai_canonname) < n) {
			snprintf(out, n, "%s", ai->ai_canonname);
			freeaddrinfo(ai);
			nl_info("EHLO name %s: this host's canonical name (set smtp.helo to change it)", out);
			return;
		}
		if (ai)
			freeaddrinfo(ai);
	}
	const char *dom = cfg->from_addr ? strrchr(cfg->from_addr, '@') : NULL;
	snprintf(out, n, "%s", dom && dom[1] ? dom + 1 : "localhost");
	nl_info("EHLO name %s: the From address's domain, as this host has no dotted name "
		"(set smtp.helo to change it)", out);
}

/* libcurl takes the EHLO name from the URL's path. */
static enum nl_err set_helo(struct nl_config *cfg, CURLU *u)
{
	char name[256], *url = NULL;
	enum nl_err e = NL_OK;
	if (*cfg->smtp.helo)
		snprintf(name, sizeof name, "%s", cfg->smtp.helo);
	else
		default_helo(cfg, name, sizeof name);
	if (curl_url_set(u, CURLUPART_PATH, name, CURLU_URLENCODE) ||
	    curl_url_get(u, CURLUPART_URL, &url, 0))
		return nl_errf(NL_ECONFIG, "smtp.helo: '%s' cannot be used as an EHLO name", name);
	e = nl_config_set(&cfg->smtp.url, url);
	curl_free(url);
	return e;
}

enum nl_err nl_smtp_prepare(struct nl_config *cfg, char **pw)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, shown[512];
	enum nl_err e;
	*pw = NULL;
	if (!u)
		return nl_errf(NL_ENOMEM, "out of memory");
	nl_smtp_url_redacted(cfg->smtp.url, shown, sizeof shown);
	if (curl_url_set(u, CURLUPART_URL, cfg->smtp.url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0))
		e = nl_errf(NL_ECONFIG, "smtp.url: '%s' is not a URL like smtp://HOST:587", shown);
	else if (!(e = tls_policy(cfg, scheme, host)))
		e = set_helo(cfg, u);
	if (!e)
		e = password(&cfg->smtp, pw);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return e;
}

/* ---- doctor's probe ---- */

static void probe_step(struct worker *w, const char *line, int *code, char *text, size_t n)
{
	command(w, NL_STAGE_MAIL, line, w->s->o->cfg->timeout);
	*code = w->r.code;
	snprintf(text, n, "%s", w->r.text);
}

/* Why the session did not open, in doctor's words. */
static void probe_failed(struct worker *w, CURLcode rc, struct nl_smtp_probe *p)
{
	snprintf(p->error, sizeof p->error, "%s", w->r.text);
	p->error_code = w->r.code;
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
		p->failed = NL_PROBE_CERT;
	else if (tls_error(rc))
		p->failed = NL_PROBE_TLS;
	else if (rc == CURLE_LOGIN_DENIED || (rc == CURLE_OK && w->s->o->password))
		p->failed = NL_PROBE_AUTH;
	else if (!p->greeted)
		p->failed = NL_PROBE_CONNECT;
	else
		p->failed = NL_PROBE_EHLO;
}

enum nl_err nl_smtp_probe(const struct nl_smtp_opts *o, const char *rcpt, struct nl_smtp_probe *p)
{
	struct sender s = {.o = o};
	struct worker w = {.s = &s, .probe = p};
	char line[800], *ip = NULL;
	memset(p, 0, sizeof *p);
	nl_buf_init(&w.out);
	CURLcode rc = connect_session(&w);
	if (rc == CURLE_OUT_OF_MEMORY && !w.curl)
		return nl_errf(NL_ENOMEM, "out of memory");
	if (session_verdict(&w, rc) != NL_V_OK) {
		probe_failed(&w, rc, p);
		close_session(&w, w.curl != NULL);
		return NL_OK;
	}
	p->tls = o->cfg->tls != NL_TLS_NONE;
	p->authed = w.r.authed;
	if (!curl_easy_getinfo(w.curl, CURLINFO_PRIMARY_IP, &ip) && ip)
		snprintf(p->peer_ip, sizeof p->peer_ip, "%s", ip);
	snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", o->envelope_from);
	probe_step(&w, line, &p->mail_code, p->mail_reply, sizeof p->mail_reply);
	if (p->mail_code == 250) {
		snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", rcpt);
		probe_step(&w, line, &p->rcpt_code, p->rcpt_reply, sizeof p->rcpt_reply);
	}
	if (p->mail_code) {
		probe_step(&w, "RSET\r\n", &p->rset_code, p->rset_reply, sizeof p->rset_reply);
		probe_step(&w, "QUIT\r\n", &p->quit_code, p->quit_reply, sizeof p->quit_reply);
	}
	close_session(&w, false);
	nl_buf_free(&w.out);
	return NL_OK;
}
