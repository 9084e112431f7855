"""End-to-end tests of `newsletter cron` and `newsletter schedule`: posts in a
posts/ folder, a real SMTP server (tests/smtpd.py on 127.0.0.1) and `--now`
to move the clock. The server's record is the truth: who got which post, how
many times, and whether cron even connected. Each test also sends something
that must arrive, so that a cron which does nothing cannot pass."""
import calendar
import collections
import fcntl
import os
import re
import signal
import time

import nl
from nl import ROOT, Workdir, finish, parse, post
from smtpserver import SmtpServer, wait_until

PW_ENV = "NL_TEST_SMTP_PASSWORD"


# ---- helpers ----

def subscribers(n, domain="example.test"):
    return "email,name\n" + "".join(f"r{i:03d}@{domain},Reader {i}\n" for i in range(n))


def addrs(n, domain="example.test"):
    return [f"r{i:03d}@{domain}" for i in range(n)]


def setup(w, srv, smtp=None, **cfg):
    """Point the config at srv (None: a closed port) with extra settings."""
    w.write_config({"smtp": {"url": srv.url if srv else "smtp://127.0.0.1:9", **(smtp or {})},
                    **cfg})


def utc(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S"))


def write_post(w, name, title, **fm):
    return w.write(f"posts/{name}.md", post(title, **fm))


def cron(w, now, *args, check=None, env=None, timeout=120):
    return w.run("cron", "--now", now, *args, check=check, env=env, timeout=timeout)


def quiet(p):
    """Cron's convention: nothing at all on success."""
    assert (p.returncode, p.stdout, p.stderr) == (0, "", ""), \
        f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"


def received(srv):
    """{subject: Counter(recipient)} of what the server accepted."""
    got = collections.defaultdict(collections.Counter)
    for tx, raw in srv.messages():
        assert len(tx["rcpt_tos"]) == 1, tx
        got[str(parse(raw)["Subject"])][tx["rcpt_tos"][0]] += 1
    return got


def subjects_in_order(srv):
    out = []
    for _, raw in srv.messages():
        s = str(parse(raw)["Subject"])
        if not out or out[-1] != s:
            out.append(s)
    return out


def connections(srv):
    return len([ev for ev in srv.events() if ev["event"] == "open"])


def log_lines(w):
    """Every line of the log, as 7-field tuples (campaign events included)."""
    try:
        text = open(w.path("sends.log")).read()
    except FileNotFoundError:
        return []
    lines = [ln.split("\t") for ln in text.splitlines()]
    assert all(len(f) == 7 for f in lines), lines
    return lines


def campaign_events(w, slug):
    return [f[3] for f in log_lines(w) if f[1] == slug and f[3] in ("done", "stopped", "skipped")]


def everyone_once(got, subject, n):
    assert got[subject] == collections.Counter({a: 1 for a in addrs(n)}), (subject, got[subject])


def spawn_cron(w, now, *args):
    return nl.spawn(w, "cron", "cron", "--now", now, *args)


# ---- due times ----

def test_cron_future_post_waits_for_its_time_then_goes_once_quietly():
    with Workdir(None, subscribers(5)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "soon", "Soon", date="2026-04-20", send_at="2026-05-01T09:00:00Z")
        for now in ("2026-04-20T10:00:00Z", "2026-05-01T08:59:59Z"):
            quiet(cron(w, now))
            assert connections(srv) == 0, "cron talked to the relay before the post was due"
        quiet(cron(w, "2026-05-01T09:00:00Z"))
        everyone_once(received(srv), "Soon", 5)
        quiet(cron(w, "2026-05-01T09:05:00Z"))
        assert len(srv.messages()) == 5
        assert campaign_events(w, "soon") == ["done"]
        # The log's times are the run's (pretended) time.
        assert all(f[0].startswith("2026-05-01T09:00:0") for f in log_lines(w)), log_lines(w)


def test_cron_never_sends_a_draft():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "wip", "Work in progress", date="2026-05-01", draft=True)
        write_post(w, "real", "Real one", date="2026-05-01")
        for now in ("2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z", "2026-05-03T00:00:00Z"):
            quiet(cron(w, now))
        quiet(cron(w, "2026-06-01T00:00:00Z", "--include-old"))
        got = received(srv)
        assert set(got) == {"Real one"}, got
        everyone_once(got, "Real one", 3)
        p = cron(w, "2026-05-03T00:00:00Z", "--dry-run", check=0)
        assert re.search(r"not sent: +\S*posts/wip\.md: a draft", p.stdout), p.stdout
        assert "wip" not in {f[1] for f in log_lines(w)}


def test_three_posts_each_reach_everyone_once_at_their_time_over_many_runs():
    """The issue's "done means": three posts, cron every 20 minutes for 3 days."""
    n = 6
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, timezone="Europe/Berlin")
        write_post(w, "one", "One", date="2026-06-01T08:00:00+02:00")
        write_post(w, "two", "Two", date="2026-05-30", send_at="2026-06-02T07:30:00")
        write_post(w, "three", "Three", date="2026-06-03")
        due = {"one": utc("2026-06-01T06:00:00"), "two": utc("2026-06-02T05:30:00"),
               "three": utc("2026-06-02T22:00:00")}
        start, step = utc("2026-06-01T00:00:00"), 1200
        for i in range(3 * 24 * 3):
            quiet(cron(w, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * step))))
        got = received(srv)
        for title in ("One", "Two", "Three"):
            everyone_once(got, title, n)
        assert subjects_in_order(srv) == ["One", "Two", "Three"]
        # Each went out in the first run at or after its due time (the log has the run's time).
        sent = [f for f in log_lines(w) if f[3] == "sent"]
        assert len(sent) == 3 * n
        for f in sent:
            assert due[f[1]] <= utc(f[0][:19]) < due[f[1]] + step, (f, due[f[1]])


# ---- one at a time ----

def test_due_posts_go_oldest_first_one_after_the_other():
    n = 8
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, smtp={"connections": 4})
        # Names in another order than the dates, and send_at before date.
        write_post(w, "a-newest", "Newest", date="2026-05-01T08:00:00Z")
        write_post(w, "b-oldest", "Oldest", date="2026-05-03", send_at="2026-04-30T12:00:00Z")
        write_post(w, "c-middle", "Middle", date="2026-04-30T18:00:00Z")
        quiet(cron(w, "2026-05-01T09:00:00Z"))
        # Not interleaved: each post's messages, then the next post's.
        assert subjects_in_order(srv) == ["Oldest", "Middle", "Newest"], subjects_in_order(srv)
        got = received(srv)
        for title in ("Oldest", "Middle", "Newest"):
            everyone_once(got, title, n)
        assert [f[1] for f in log_lines(w) if f[3] == "done"] == ["b-oldest", "c-middle", "a-newest"]


def test_two_crons_started_at_once_send_each_message_once():
    n = 60
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        # 10 s of sending: room for two more crons to start while it runs, even
        # under ASan on a loaded machine with the other tests running beside it.
        setup(w, srv, smtp={"rate": 6, "connections": 2})
        write_post(w, "p", "Together", date="2026-05-01T09:00:00Z")
        a = spawn_cron(w, "2026-05-01T09:10:00Z")
        b = spawn_cron(w, "2026-05-01T09:10:00Z")
        wait_until(lambda: len(srv.messages()) >= 5, timeout=30, what="the send to start")
        # A third while it sends: quiet, or a note with -v, and exit 0 at once.
        c = cron(w, "2026-05-01T09:10:00Z", timeout=10)
        quiet(c)
        v = cron(w, "2026-05-01T09:10:00Z", "-v", timeout=10)
        assert v.returncode == 0 and v.stdout == "", v
        assert "in use by another run" in v.stderr and "cron" in v.stderr, v.stderr
        assert len(srv.messages()) < n, "the send finished too soon to test the lock"
        for p in (a, b):
            assert finish(p) == (0, "", "")
        everyone_once(received(srv), "Together", n)
        assert campaign_events(w, "p") == ["done"]


def test_cron_exits_quietly_when_a_send_holds_the_lock():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "p", "Locked out", date="2026-05-01")
        with open(w.path("sends.log.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            lock.write("pid 1 since 2026-05-01T00:00:00.000Z: send p\n")
            lock.flush()
            quiet(cron(w, "2026-05-01T10:00:00Z", timeout=10))
            p = w.run("-v", "cron", "--now", "2026-05-01T10:00:00Z", timeout=10)
            assert p.returncode == 0 and "send p" in p.stderr, p
            assert connections(srv) == 0
        quiet(cron(w, "2026-05-01T10:00:00Z"))
        everyone_once(received(srv), "Locked out", 2)


# ---- resuming ----

def test_cron_killed_mid_send_is_resumed_by_the_next_run():
    n, conns = 200, 4
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "0.02"]) as srv:
        setup(w, srv, smtp={"connections": conns})
        write_post(w, "big", "Big one", date="2026-05-01T09:00:00Z")
        p = spawn_cron(w, "2026-05-01T09:00:00Z")
        try:
            wait_until(lambda: len(srv.transactions()) >= 40 or p.poll() is not None,
                       timeout=60, interval=0.005, what="40 messages")
        finally:
            killed = p.poll() is None
            if killed:
                p.send_signal(signal.SIGKILL)
            finish(p)
        assert killed, "cron finished before it could be killed"
        assert len(srv.messages()) < n and campaign_events(w, "big") == []
        quiet(cron(w, "2026-05-01T09:05:00Z"))
        got = received(srv)["Big one"]
        assert sorted(got) == addrs(n), "somebody is missing"
        assert sum(got.values()) - n <= conns, got
        intents = collections.Counter(f[2] for f in log_lines(w) if f[3] == "intent")
        assert all(intents[r] >= k for r, k in got.items())
        assert campaign_events(w, "big") == ["done"]
        quiet(cron(w, "2026-05-01T10:00:00Z"))
        assert sum(received(srv)["Big one"].values()) == sum(got.values())


def test_cron_stopped_by_sigterm_exits_130_and_the_next_run_resumes_at_once():
    n = 120
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "0.02"]) as srv:
        setup(w, srv, smtp={"connections": 2})
        write_post(w, "big", "Big one", date="2026-05-01T09:00:00Z")
        p = spawn_cron(w, "2026-05-01T09:00:00Z")
        wait_until(lambda: len(srv.transactions()) >= 20 or p.poll() is not None,
                   timeout=60, interval=0.005, what="20 messages")
        p.send_signal(signal.SIGTERM)
        rc, out, err = finish(p)
        assert rc == 130 and out == "" and "interrupted" in err, (rc, out, err)
        assert len(srv.messages()) < n and campaign_events(w, "big") == []
        quiet(cron(w, "2026-05-01T09:00:30Z"))  # no backoff after an interruption
        everyone_once(received(srv), "Big one", n)


# ---- time zones ----

def test_timezones_with_and_without_offsets_across_a_dst_change():
    """Europe/Berlin moves from CET (+01) to CEST (+02) at 02:00 on 29 March 2026."""
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, timezone="Europe/Berlin")
        write_post(w, "cet", "Wall CET", date="2026-03-28T09:00:00")          # 08:00Z
        write_post(w, "offset", "Offset", send_at="2026-03-29T08:30:00+05:00")  # 03:30Z
        write_post(w, "cest", "Wall CEST", send_at="2026-03-29T09:00:00")     # 07:00Z
        write_post(w, "bare", "Bare date", date="2026-03-30")                  # 03-29 22:00Z
        write_post(w, "april", "Late April", date="2026-03-01", send_at="2026-04-26T02:30:00")
        steps = [("2026-03-28T07:59:59Z", set()), ("2026-03-28T08:00:00Z", {"Wall CET"}),
                 ("2026-03-29T03:29:59Z", set()), ("2026-03-29T03:30:00Z", {"Offset"}),
                 ("2026-03-29T06:59:59Z", set()), ("2026-03-29T07:00:00Z", {"Wall CEST"}),
                 ("2026-03-29T21:59:59Z", set()), ("2026-03-29T22:00:00Z", {"Bare date"})]
        seen = set()
        for now, new in steps:
            quiet(cron(w, now))
            got = received(srv)
            assert set(got) - seen == new, (now, set(got) - seen, new)
            seen = set(got)
        for title in seen:
            everyone_once(got, title, 2)
        # --now without an offset is in the zone too: 02:30 local on 26 April is 00:30Z.
        s = w.run("schedule", "--now", "2026-04-26T02:29:59", check=0).stdout
        assert re.search(r"^scheduled +2026-04-26 02:30 CEST +2026-04-26 00:30 UTC +\S*posts/april\.md",
                         s, re.M), s
        assert re.search(r"^sent +2026-03-29 09:00 CEST +2026-03-29 07:00 UTC +\S*posts/cest\.md", s, re.M), s
        assert re.search(r"^sent +2026-03-28 09:00 CET +2026-03-28 08:00 UTC +\S*posts/cet\.md", s, re.M), s
        assert re.search(r"^sent +2026-03-30 00:00 CEST +2026-03-29 22:00 UTC +\S*posts/bare\.md", s, re.M), s
        assert re.search(r"^sent +2026-03-29 05:30 CEST +2026-03-29 03:30 UTC +\S*posts/offset\.md", s, re.M), s
        quiet(cron(w, "2026-04-26T02:30:00"))
        assert "Late April" in received(srv)


def test_dates_without_offset_default_to_utc_and_the_zone_is_checked():
    with Workdir(None, subscribers(1)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "p", "Plain", send_at="2026-03-29T09:00:00")
        quiet(cron(w, "2026-03-29T08:59:59Z"))
        assert not srv.messages()
        quiet(cron(w, "2026-03-29T09:00:00Z"))
        assert set(received(srv)) == {"Plain"}
        setup(w, srv, timezone="Mars/Olympus_Mons")
        p = cron(w, "2026-03-29T09:00:00Z")
        assert p.returncode == 78 and re.search(r"config\.yml:\d+:\d+: timezone: unknown time zone",
                                                p.stderr), p.stderr
        setup(w, srv, max_age="a week")
        p = cron(w, "2026-03-29T09:00:00Z")
        assert p.returncode == 78 and re.search(r"config\.yml:\d+:\d+: max_age: must be a duration",
                                                p.stderr), p.stderr
        setup(w, srv)
        p = cron(w, "next tuesday")
        assert p.returncode == 64 and "--now next tuesday" in p.stderr, p.stderr


# ---- old posts ----

def test_old_posts_are_reported_once_and_skipped_unless_include_old():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "ancient", "Ancient", date="2026-04-01")
        write_post(w, "recent", "Recent", date="2026-04-25")
        p = cron(w, "2026-05-01T12:00:00Z")
        assert p.returncode == 0 and p.stdout == "", p
        assert re.search(r"warning: \S*posts/ancient\.md: not sent: too old.*max_age \(7d\)", p.stderr), p.stderr
        assert "recent" not in p.stderr
        assert set(received(srv)) == {"Recent"}
        quiet(cron(w, "2026-05-01T12:10:00Z"))  # said once is enough
        d = cron(w, "2026-05-01T12:20:00Z", "--dry-run", check=0).stdout
        assert re.search(r"not sent: +\S*posts/ancient\.md: too old", d), d
        s = w.run("schedule", "--now", "2026-05-01T12:20:00Z", check=0).stdout
        assert re.search(r"^too old .*posts/ancient\.md", s, re.M), s
        assert campaign_events(w, "ancient") == ["skipped"]
        quiet(cron(w, "2026-05-01T12:30:00Z", "--include-old"))
        got = received(srv)
        everyone_once(got, "Ancient", 3)
        everyone_once(got, "Recent", 3)


def test_max_age_setting_and_a_started_old_post_is_still_resumed():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, max_age="36h")
        write_post(w, "twodays", "Two days", date="2026-04-29T11:00:00Z")
        write_post(w, "started", "Started long ago", date="2026-03-01")
        # A run that died a month ago, after one intent: resumed, not skipped.
        with open(w.path("sends.log"), "w") as f:
            f.write("2026-03-01T00:00:01.000Z\tstarted\tr000@example.test\tintent\t-\tx@example.test\t-\n")
        p = cron(w, "2026-05-01T00:00:00Z")
        assert p.returncode == 0 and "posts/twodays.md: not sent: too old" in p.stderr, p.stderr
        got = received(srv)
        assert set(got) == {"Started long ago"}, got
        everyone_once(got, "Started long ago", 3)


# ---- a refusing relay ----

def test_cron_backs_off_after_the_relay_refuses_then_recovers():
    n = 4
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, tls=True, require_tls=True, auth={"writer": "right"}) as srv:
        setup(w, srv, smtp={"tls": "starttls", "ca_file": srv.ca_file, "username": "writer",
                            "password_env": PW_ENV, "connections": 1})
        write_post(w, "p", "Patience", date="2026-05-01T09:00:00Z")
        wrong, right = {PW_ENV: "wrong"}, {PW_ENV: "right"}

        def tried(now, env, wait):
            before = connections(srv)
            p = cron(w, now, env=env)
            assert p.returncode == 69 and p.stdout == "", p
            assert "posts/p.md: sending stopped:" in p.stderr and "535" in p.stderr, p.stderr
            assert f"cron tries again in {wait}" in p.stderr, p.stderr
            assert "wrong" not in p.stderr
            assert connections(srv) > before

        def skipped(now, env):
            before = connections(srv)
            quiet(cron(w, now, env=env))
            assert connections(srv) == before, f"{now}: cron tried again too soon"

        tried("2026-05-01T09:00:00Z", wrong, "5 minutes")
        skipped("2026-05-01T09:01:00Z", wrong)
        skipped("2026-05-01T09:04:59Z", wrong)
        d = cron(w, "2026-05-01T09:02:00Z", "--dry-run", env=wrong, check=0).stdout
        assert re.search(r"not sent: +\S*posts/p\.md: the last try stopped at 2026-05-01 09:00.*535.*"
                         r"next try at 2026-05-01 09:05", d), d
        v = w.run("-v", "cron", "--now", "2026-05-01T09:03:00Z", env=wrong)
        assert v.returncode == 0 and "next try at 2026-05-01 09:05" in v.stderr, v
        tried("2026-05-01T09:06:00Z", wrong, "15 minutes")
        skipped("2026-05-01T09:20:00Z", wrong)
        tried("2026-05-01T09:22:00Z", wrong, "60 minutes")
        skipped("2026-05-01T10:21:00Z", right)
        assert not srv.messages()
        quiet(cron(w, "2026-05-01T10:23:00Z", env=right))
        everyone_once(received(srv), "Patience", n)
        assert campaign_events(w, "p") == ["stopped"] * 3 + ["done"]
        quiet(cron(w, "2026-05-01T10:30:00Z", env=right))


def test_a_send_that_keeps_failing_is_given_up_after_max_age_and_said_once():
    with Workdir(None, subscribers(2)) as w, \
            SmtpServer(w.dir, tls=True, require_tls=True, auth={"writer": "right"}) as srv:
        setup(w, srv, max_age="1h", smtp={"tls": "starttls", "ca_file": srv.ca_file,
                                           "username": "writer", "password_env": PW_ENV})
        write_post(w, "p", "Stubborn", date="2026-05-01T09:00:00Z")
        wrong, right = {PW_ENV: "wrong"}, {PW_ENV: "right"}
        for now in ("09:00", "09:06", "09:22"):
            assert cron(w, f"2026-05-01T{now}:00Z", env=wrong).returncode == 69
        p = cron(w, "2026-05-01T10:01:00Z", env=wrong)  # the first try was more than 1h ago
        assert p.returncode == 69 and "posts/p.md: given up:" in p.stderr, p
        assert "max_age (1h)" in p.stderr and "535" in p.stderr, p.stderr
        before = connections(srv)
        quiet(cron(w, "2026-05-01T12:00:00Z", env=right))  # said once; and not retried
        assert connections(srv) == before
        s = w.run("schedule", "--now", "2026-05-01T12:00:00Z", check=0).stdout
        assert re.search(r"^given up .*posts/p\.md", s, re.M), s
        assert campaign_events(w, "p") == ["stopped"] * 3 + ["skipped"]
        quiet(cron(w, "2026-05-01T12:00:00Z", "--include-old", env=right))
        everyone_once(received(srv), "Stubborn", 2)


def test_recipients_deferred_are_retried_after_the_backoff():
    with Workdir(None, subscribers(3)) as w, \
            SmtpServer(w.dir, faults=["--tempfail-rcpt", "r001@example.test:2"]) as srv:
        setup(w, srv, smtp={"retries": 0, "connections": 1})
        write_post(w, "p", "Greylisted", date="2026-05-01T09:00:00Z")
        p = cron(w, "2026-05-01T09:00:00Z")
        assert p.returncode == 75 and "1 recipient deferred" in p.stderr, p
        assert "tries again in 5 minutes" in p.stderr, p.stderr
        quiet(cron(w, "2026-05-01T09:04:00Z"))
        p = cron(w, "2026-05-01T09:05:30Z")
        assert p.returncode == 75 and "15 minutes" in p.stderr, p
        quiet(cron(w, "2026-05-01T09:21:00Z"))
        everyone_once(received(srv), "Greylisted", 3)
        assert campaign_events(w, "p") == ["stopped", "stopped", "done"]


# ---- output ----

def test_silent_on_success_errors_on_stderr_with_a_status():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "good", "Good", date="2026-05-01")
        w.write("posts/broken.md", "---\ntitle: Broken\nsend_at: whenever\n---\nx\n")
        w.write("posts/README.md", "# Notes about this folder, not a post\n")
        p = cron(w, "2026-05-01T10:00:00Z")
        assert p.returncode == 65 and p.stdout == "", p
        assert re.search(r"posts/broken\.md:3:10: front matter: send_at 'whenever'", p.stderr), p.stderr
        assert "README" not in p.stderr
        everyone_once(received(srv), "Good", 2)  # one bad post does not hold up the others
        os.remove(w.path("posts/broken.md"))
        quiet(cron(w, "2026-05-01T10:05:00Z"))
        # Two posts with one slug would share one record: neither is sent.
        write_post(w, "a", "Twin A", date="2026-05-01", slug="twin")
        write_post(w, "b", "Twin B", date="2026-05-01", slug="twin")
        p = cron(w, "2026-05-01T10:10:00Z")
        assert p.returncode == 65 and p.stderr.count("slug 'twin' is also the slug of") == 2, p.stderr
        assert set(received(srv)) == {"Good"}
        # A relay that is not there: an error, and the post is not lost.
        os.remove(w.path("posts/b.md"))
        setup(w, None, smtp={"retries": 0})
        p = cron(w, "2026-05-01T10:15:00Z")
        assert p.returncode == 75 and p.stdout == "", p
        assert "posts/a.md: 2 recipients deferred; cron tries again in 5 minutes" in p.stderr, p.stderr
        setup(w, srv)
        quiet(cron(w, "2026-05-01T10:21:00Z"))
        everyone_once(received(srv), "Twin A", 2)
        w.write_config({"posts": "nowhere", "smtp": {"url": srv.url}})
        p = cron(w, "2026-05-01T10:30:00Z")
        assert p.returncode == 66 and "nowhere: cannot open the posts folder" in p.stderr, p.stderr


def test_subscribers_added_after_a_post_finished_do_not_get_it():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "first", "First", date="2026-05-01T09:00:00Z")
        write_post(w, "second", "Second", date="2026-05-02T09:00:00Z")
        quiet(cron(w, "2026-05-01T09:00:00Z"))
        w.run("subscribers", "add", "late@example.test", check=0)
        quiet(cron(w, "2026-05-01T10:00:00Z"))
        quiet(cron(w, "2026-05-02T09:00:00Z"))
        got = received(srv)
        assert got["First"] == collections.Counter({a: 1 for a in addrs(3)}), got["First"]
        assert got["Second"] == collections.Counter({a: 1 for a in addrs(3) + ["late@example.test"]})


def test_a_post_sent_by_hand_is_left_alone_by_cron():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        write_post(w, "p", "By hand", date="2026-05-03T09:00:00Z")
        w.run("send", "posts/p.md", "--yes", check=0)
        w.run("subscribers", "add", "late@example.test", check=0)
        quiet(cron(w, "2026-05-03T09:00:00Z"))
        assert received(srv)["By hand"] == collections.Counter({a: 1 for a in addrs(2)})


# ---- dry run and schedule ----

def test_dry_run_says_what_would_be_sent_and_why_not_and_changes_nothing():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, timezone="Europe/Berlin")
        write_post(w, "due", "Due now", date="2026-05-01T08:00:00Z")
        write_post(w, "later", "Later", send_at="2026-05-08T09:00:00")
        write_post(w, "draft", "Draft", date="2026-05-01", draft=True)
        write_post(w, "old", "Old", date="2026-01-01")
        write_post(w, "done", "Done", date="2026-04-30")
        write_post(w, "undated", "Undated")
        with open(w.path("sends.log"), "w") as f:
            f.write("2026-04-30T10:00:00.000Z\tdone\t-\tdone\t-\t-\t3 sent, 0 failed\n")
        before = open(w.path("sends.log")).read()
        p = cron(w, "2026-05-01T09:00:00Z", "--dry-run", check=0)
        out = p.stdout
        assert re.search(r"^would send: \S*posts/due\.md: due since 2026-05-01 10:00 CEST "
                         r"\(2026-05-01 08:00 UTC\); 3 recipients to send to$", out, re.M), out
        assert re.search(r"^not sent: +\S*posts/later\.md: not due until 2026-05-08 09:00 CEST "
                         r"\(2026-05-08 07:00 UTC\), in 6 days$", out, re.M), out
        assert re.search(r"^not sent: +\S*posts/draft\.md: a draft", out, re.M), out
        assert re.search(r"^not sent: +\S*posts/old\.md: too old .*max_age \(7d\).*--include-old", out, re.M), out
        assert re.search(r"^not sent: +\S*posts/done\.md: already sent: finished 2026-04-30 12:00(:0\d)? CEST", out, re.M), out
        assert re.search(r"^not sent: +\S*posts/undated\.md: no send_at or date", out, re.M), out
        assert len(out.splitlines()) == 6 and p.stderr == "", p
        assert connections(srv) == 0 and open(w.path("sends.log")).read() == before
        p = cron(w, "2026-05-01T09:00:00Z")
        assert p.returncode == 0 and "old.md: not sent: too old" in p.stderr, p
        assert set(received(srv)) == {"Due now"}


def test_schedule_lists_every_post_with_its_state():
    # 5.7.1: refused for this message only (a 5.1.x refusal would make the reader bounced).
    with Workdir(None, subscribers(5)) as w, \
            SmtpServer(w.dir, faults=["--fail-rcpt", "r004@example.test:550 5.7.1 rejected by policy"]) as srv:
        setup(w, srv, timezone="Europe/Berlin")
        write_post(w, "sent", "Sent one", date="2026-04-30T10:00:00Z")
        write_post(w, "half", "Half way", date="2026-05-01T06:00:00Z")
        write_post(w, "next", "Next week", send_at="2026-05-08T09:00:00")
        write_post(w, "wip", "Drafty", draft=True)
        quiet(w.run("-q", "cron", "--now", "2026-04-30T10:00:00Z"))  # -q: the refused reader is no news here
        w.run("send", "posts/half.md", "--yes", "--limit", "2", check=0)
        before = open(w.path("sends.log")).read()
        p = w.run("schedule", "--now", "2026-05-01T09:00:00Z", check=0)
        lines = {re.search(r"posts/(\w+)\.md", ln).group(1): ln for ln in p.stdout.splitlines()[1:]}
        assert p.stdout.startswith("STATE      DUE (Europe/Berlin)"), p.stdout
        assert re.match(r"sent +2026-04-30 12:00 CEST +2026-04-30 10:00 UTC +\S+  \"Sent one\": 4 sent, "
                        r"1 failed; finished 2026-04-30 12:00(:0\d)? CEST", lines["sent"]), lines["sent"]
        assert re.match(r"sending +2026-05-01 08:00 CEST +2026-05-01 06:00 UTC +\S+  \"Half way\": "
                        r"2 of 5 sent$", lines["half"]), lines["half"]
        assert re.match(r"scheduled +2026-05-08 09:00 CEST +2026-05-08 07:00 UTC +\S+  \"Next week\"$",
                        lines["next"]), lines["next"]
        assert re.match(r"draft +- +- +\S+  \"Drafty\"$", lines["wip"]), lines["wip"]
        assert len(lines) == 4 and p.stderr == ""
        assert open(w.path("sends.log")).read() == before
        # The half-sent post is resumed by cron, to the three left (one of whom is refused).
        p = cron(w, "2026-05-01T09:00:00Z")
        assert p.returncode == 0 and "posts/half.md: 1 recipient refused it for good" in p.stderr, p
        assert received(srv)["Half way"] == collections.Counter({a: 1 for a in addrs(4)})


# ---- contrib ----

def test_contrib_runs_cron_with_the_password_variable_and_the_working_folder():
    contrib = os.path.join(ROOT, "contrib")
    crontab = open(os.path.join(contrib, "crontab")).read()
    service = open(os.path.join(contrib, "newsletter.service")).read()
    timer = open(os.path.join(contrib, "newsletter.timer")).read()
    line = [ln for ln in crontab.splitlines() if ln.strip() and not ln.startswith("#")
            and "=" not in ln.split()[0]]
    assert len(line) == 1 and re.match(r"^\*/5 \* \* \* \* cd \S+ && .*newsletter cron$", line[0]), line
    assert re.search(r"^NEWSLETTER_SMTP_PASSWORD=", crontab, re.M) or "NEWSLETTER_SMTP_PASSWORD" in line[0]
    assert re.search(r"^ExecStart=\S*newsletter cron$", service, re.M), service
    assert re.search(r"^WorkingDirectory=", service, re.M)
    assert re.search(r"^EnvironmentFile=|^Environment=NEWSLETTER_SMTP_PASSWORD", service, re.M)
    assert re.search(r"^Type=oneshot$", service, re.M)
    assert re.search(r"^OnCalendar=\*:0/5$", timer, re.M) and re.search(r"^Persistent=true$", timer, re.M)
    env = open(os.path.join(contrib, "smtp.env")).read()
    assert re.search(r"^NEWSLETTER_SMTP_PASSWORD=", env, re.M)
    cfg = open(os.path.join(ROOT, "config.example.yml")).read()
    assert "password_env: NEWSLETTER_SMTP_PASSWORD" in cfg
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert line[0] in readme and "systemctl --user enable --now newsletter.timer" in readme


def test_cron_refuses_a_post_gmail_would_clip_and_sends_the_next():
    # As `send` without --force: cron is unattended, so a post whose footer
    # (and unsubscribe link) Gmail would hide waits for the writer.
    big = "".join(f"Paragraph {i} with some words to fill the message up nicely.\n\n" for i in range(1200))
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        w.write("posts/big.md", post("Big one", big, date="2026-04-30T09:00:00Z"))
        write_post(w, "small", "Small one", date="2026-04-30T09:30:00Z")
        p = cron(w, "2026-04-30T10:00:00Z")
        assert p.returncode != 0, p
        errs = [ln for ln in p.stderr.splitlines() if "big.md" in ln]
        assert len(errs) == 1 and "Gmail clips" in errs[0] and "--force" in errs[0], p.stderr
        assert errs[0].count("big.md") == 1, errs[0]
        got = received(srv)
        assert set(got) == {"Small one"} and sum(got["Small one"].values()) == 2, dict(got)
        log = open(w.path("sends.log")).read()
        assert "big" not in "".join(ln.split("\t")[1] for ln in log.splitlines() if "\t" in ln), log
