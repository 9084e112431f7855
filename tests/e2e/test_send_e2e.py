"""End-to-end tests of `newsletter send` against a real SMTP server
(tests/smtpd.py on 127.0.0.1): delivery, the send log, resume, failures and
retries, TLS and AUTH, envelope injection, the rate limit, crashes (kill -9),
SIGTERM, the lock, and `status`. The server's record is the truth each test
checks the log against. Timing checks are lower bounds only."""
import collections
import os
import re
import signal
import subprocess
import time

import nl
from nl import BIN, Workdir, finish, parse, post
from smtpserver import SmtpServer, wait_until

PW_ENV = "NL_TEST_SMTP_PASSWORD"


# ---- helpers ----

def subscribers(n, domain="example.test", extra=""):
    return "email,name\n" + "".join(f"r{i:03d}@{domain},Reader {i}\n" for i in range(n)) + extra


def addrs(n, domain="example.test"):
    return [f"r{i:03d}@{domain}" for i in range(n)]


def setup(w, srv, title="Hello", **smtp):
    """Point the work dir's config at srv and write p.md."""
    cfg = {"url": srv.url if srv else "smtp://127.0.0.1:9", **smtp}
    w.write_config({"smtp": cfg})
    w.write("p.md", post(title))


def send(w, *args, check=None, env=None):
    return w.run("send", "p.md", "--yes", *args, check=check, env=env)


def spawn(w, *args, env=None):
    """Start a send in the background (stdout/stderr to files in the work dir)."""
    return nl.spawn(w, "bg", "send", "p.md", "--yes", *args, env=env)


def unescape(s):
    if s == "-":
        return ""
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "r": "\r", "n": "\n", "\\": "\\"}
                  .get(m.group(1), "\\" + m.group(1)), s)


Line = collections.namedtuple("Line", "time slug rcpt event code msgid detail")


def read_log(w, slug="p"):
    try:
        text = open(w.path("sends.log")).read()
    except FileNotFoundError:
        return []
    out = []
    for raw in text.splitlines():
        f = raw.split("\t")
        assert len(f) == 7, f"malformed log line {raw!r}"
        ln = Line(f[0], f[1], unescape(f[2]), f[3], f[4], unescape(f[5]), unescape(f[6]))
        # Campaign events (done, stopped, skipped) carry no recipient; test_cron_e2e checks them.
        if ln.slug == slug and ln.event not in ("done", "stopped", "skipped"):
            out.append(ln)
    return out


def events_for(log, rcpt):
    return [ln.event for ln in log if ln.rcpt == rcpt]


def accepted(srv):
    """{rcpt: [message bytes, ...]} of what the server accepted."""
    got = collections.defaultdict(list)
    for tx, data in srv.messages():
        assert len(tx["rcpt_tos"]) == 1, tx
        got[tx["rcpt_tos"][0]].append(data)
    return got


def rcpt_lines(srv, addr):
    """The RCPT commands the server saw for addr, as (conn, t)."""
    return [(ev["conn"], ev["t"]) for ev in srv.events()
            if ev["event"] == "cmd" and ev["cmd"] == "RCPT" and f"<{addr}>" in ev["line"]]


def msgid(raw):
    return parse(raw)["Message-ID"].strip().strip("<>")


def append_log(w, rcpt, event, msgid_, slug="p", code="-", detail="-"):
    with open(w.path("sends.log"), "a") as f:
        f.write(f"2026-01-01T00:00:00.000Z\t{slug}\t{rcpt}\t{event}\t{code}\t{msgid_}\t{detail}\n")


def dry_run_msgids(w):
    """{rcpt: Message-ID} that a send would use, from a dry run."""
    w.run("send", "p.md", "--dry-run=dry", check=0)
    ids = {}
    for name in os.listdir(w.path("dry")):
        m = parse(open(w.path("dry/" + name), "rb").read())
        ids[m["To"].addresses[0].addr_spec] = m["Message-ID"].strip("<>")
    return ids


def check_consistent(w, srv, exact=True):
    """Every `sent` line matches a message the server accepted: same recipient
    and Message-ID, the server's own reply as detail. exact: and every
    accepted message has its `sent` line (no crash left one unrecorded)."""
    got = accepted(srv)
    replies = collections.defaultdict(set)
    for tx in srv.transactions():
        if tx["accepted"]:
            replies[tx["rcpt_tos"][0]].add(tx["result"])
    sent = collections.Counter()
    for ln in read_log(w):
        if ln.event != "sent":
            continue
        sent[ln.rcpt] += 1
        assert ln.rcpt in got, f"logged sent but the server has nothing for {ln.rcpt}"
        assert ln.msgid in {msgid(m) for m in got[ln.rcpt]}, ln
        assert ln.code == "250" and ln.detail in replies[ln.rcpt], ln
    if exact:
        assert sent == collections.Counter({r: len(m) for r, m in got.items()})


# ---- 1. a plain send ----

def test_plain_send_each_once_logged_and_connections_reused():
    n, conns = 30, 3
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)  # the config says 4 connections
        p = send(w, "--connections", str(conns), check=0)
        assert f"{n} sent, 0 failed, 0 deferred" in p.stdout, p.stdout
        got = accepted(srv)
        assert sorted(got) == addrs(n)
        assert all(len(v) == 1 for v in got.values())
        log = read_log(w)
        by_rcpt = collections.defaultdict(list)
        for ln in log:
            by_rcpt[ln.rcpt].append(ln)
        replies = {tx["rcpt_tos"][0]: tx["result"] for tx in srv.transactions()}
        for tx, raw in srv.messages():
            rcpt = tx["rcpt_tos"][0]
            msg = parse(raw)
            assert msg["To"].addresses[0].addr_spec == rcpt
            assert tx["mail_from"] == "news@example.test"
            mid = msg["Message-ID"].strip("<>")
            # A name-based (SHA-1, version 5) UUID: the same for a resend.
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                r"[0-9a-f]{12}@example\.test", mid), mid
            lines = by_rcpt[rcpt]
            assert [ln.event for ln in lines] == ["intent", "sent"], lines
            assert all(ln.msgid == mid for ln in lines)
            assert lines[1].code == "250" and lines[1].detail == replies[rcpt]
            assert replies[rcpt].startswith("250 ")
        # Connections are reused, and there are no more of them than asked for.
        srv.wait_closed()
        c = srv.connections()
        assert len(c) <= conns, c
        assert sum(v["messages"] for v in c.values()) == n
        assert all(v["messages"] >= 2 for v in c.values()), c
        assert all(v["reason"] == "quit" for v in c.values()), c
        check_consistent(w, srv)


def test_flags_override_relay_list_and_log_for_one_run():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, None)  # the config's relay is a closed port
        w.write("other.csv", subscribers(3, domain="other.test"))
        p = send(w, "--smtp", srv.url, "--subscribers", "other.csv", "--log", "other.log",
                 check=0)
        assert sorted(accepted(srv)) == addrs(3, domain="other.test"), p.stdout
        assert not os.path.exists(w.path("sends.log"))
        assert open(w.path("other.log")).read().count("\tsent\t250\t") == 3
        s = w.run("status", "p.md", "--log", "other.log", "--subscribers", "other.csv",
                  check=0).stdout
        assert re.search(r"sent\s+3\n", s), s


def without_date(raw):
    """The message with its Date field taken out of the header (the clock moves between runs)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    head = re.sub(rb"(^|\r\n)Date: [^\r]*(?=\r\n|$)", b"", head, count=1)
    return head + sep + body


def test_dry_run_preview_and_relay_get_the_same_bytes():
    """Dry run, preview and send share one finalize step: for each reader the
    .eml is byte for byte what the relay received, Date aside; MAIL FROM is
    the message's envelope sender (bounce_address)."""
    subs = subscribers(3, extra="r003@example.test,\"Zo\u00eb, \u00e9t\u00e9\"\n")
    with Workdir(None, subs) as w, SmtpServer(w.dir) as srv:
        w.write_config({"smtp": {"url": srv.url}, "bounce_address": "bounces@example.test",
                        "images": "embed", "reply_to": "replies@example.test"})
        w.write("hills.png", open(os.path.join(nl.EXAMPLES, "hills.png"), "rb").read(), mode="wb")
        w.write("p.md", post("Caf\u00e9 \u2014 a title long enough to be folded in the Subject field",
                             "Hello.\n\n![hills](hills.png)\n"))
        w.run("send", "p.md", "--dry-run=dry", check=0)
        w.run("preview", "p.md", "-o", "prev", check=0)
        send(w, check=0)
        files = {}
        for name in os.listdir(w.path("dry")):
            files[name.split("-", 1)[1][:-len(".eml")]] = nl.read_eml(w.path("dry/" + name))
        got = accepted(srv)
        assert sorted(got) == sorted(files) == addrs(4), (sorted(got), sorted(files))
        for tx, raw in srv.messages():
            assert tx["mail_from"] == "bounces@example.test", tx
            dry = files[tx["rcpt_tos"][0]]
            assert without_date(raw) == without_date(dry), tx["rcpt_tos"]
            assert without_date(raw) != raw  # there was a Date to take out
            m = parse(raw)
            assert len(nl.embedded_images(m)) == 1
        # The preview's .eml is the first reader's message.
        assert without_date(nl.read_eml(w.path("prev/p.eml"))) == without_date(files["r000@example.test"])


# ---- 2. resume ----

def test_rerun_sends_nothing_and_resend_sends_again_with_same_ids():
    with Workdir(None, subscribers(5)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        send(w, check=0)
        first = {r: msgid(m[0]) for r, m in accepted(srv).items()}
        p = send(w, check=0)
        assert "nothing to send" in p.stdout and "5 already have it" in p.stdout, p.stdout
        assert len(srv.messages()) == 5
        p = send(w, "--resend", check=0)
        got = accepted(srv)
        assert all(len(v) == 2 for v in got.values()) and len(got) == 5
        assert {r: msgid(m[1]) for r, m in got.items()} == first
        check_consistent(w, srv)


def healthy_again(srv):
    """Restart srv without its faults (same directory, so one record)."""
    srv.stop()
    srv.faults = []
    srv.start()


def test_deferred_retried_and_failed_skipped_unless_retry_failed():
    subs = subscribers(4, extra="later@example.test,L\nbad@example.test,B\n")
    # 5.7.1, not 5.1.x: a refusal of this message, which --retry-failed may retry (a 5.1.x
    # refusal marks the reader bounced instead: test_inbox_e2e).
    faults = ["--tempfail-rcpt", "later@example.test:99", "--fail-rcpt", "bad@example.test:550 5.7.1 <bad@example.test>: rejected by policy"]
    with Workdir(None, subs) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, retries=0)
        p = send(w, check=75)
        assert "4 sent, 1 failed, 1 deferred" in p.stdout, p.stdout
        assert "deferred" in p.stderr
        log = read_log(w)
        assert events_for(log, "later@example.test") == ["intent", "deferred"]
        assert events_for(log, "bad@example.test") == ["intent", "failed"]
        healthy_again(srv)
        setup(w, srv)
        p = send(w, check=0)
        assert "1 deferred before (retried)" in p.stdout, p.stdout
        assert "1 failed before (--retry-failed to retry)" in p.stdout, p.stdout
        assert sorted(accepted(srv)) == sorted(addrs(4) + ["later@example.test"])
        p = send(w, "--retry-failed", check=0)
        got = accepted(srv)
        assert sorted(got) == sorted(addrs(4) + ["bad@example.test", "later@example.test"])
        assert all(len(v) == 1 for v in got.values())
        p = send(w, "--retry-failed", check=0)
        assert "nothing to send" in p.stdout
        check_consistent(w, srv)


def test_in_doubt_is_resent_with_same_message_id_unless_skip_in_doubt():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        ids = dry_run_msgids(w)
        send(w, "--limit", "2", check=0)
        doubt = "r002@example.test"
        # A run that died mid-transaction leaves an intent without outcome.
        append_log(w, doubt, "intent", ids[doubt])
        p = send(w, "--skip-in-doubt", check=0)
        assert "1 in doubt after an interrupted run (skipped)" in p.stdout, p.stdout
        assert "nothing to send" in p.stdout
        assert doubt not in accepted(srv)
        p = send(w, check=0)
        assert "1 in doubt after an interrupted run (sent again)" in p.stdout, p.stdout
        got = accepted(srv)
        assert len(got[doubt]) == 1 and msgid(got[doubt][0]) == ids[doubt]
        assert all(msgid(m[0]) == ids[r] for r, m in got.items())
        assert events_for(read_log(w), doubt) == ["intent", "intent", "sent"]


# ---- 3. failures ----

def test_failures_are_classified_retried_and_shown_by_status():
    extra = ("bad@example.test,B\nflaky@example.test,F\nslow@example.test,S\n")
    faults = ["--fail-rcpt", "bad@example.test:550 5.7.1 <bad@example.test>: rejected by policy", "--tempfail-rcpt", "flaky@example.test:2",
              "--tempfail-rcpt", "slow@example.test:99"]
    retries = 2
    with Workdir(None, subscribers(4, extra=extra)) as w, \
            SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, retries=retries, connections=2)
        p = send(w, check=75)
        assert "5 sent, 1 failed, 1 deferred" in p.stdout, p.stdout
        log = read_log(w)
        got = accepted(srv)
        # 550: failed with the server's reply, tried once only.
        assert len(rcpt_lines(srv, "bad@example.test")) == 1
        assert events_for(log, "bad@example.test") == ["intent", "failed"]
        bad = [ln for ln in log if ln.rcpt == "bad@example.test"][-1]
        assert bad.code == "550" and "5.7.1 <bad@example.test>: rejected by policy" in bad.detail
        # 451 twice: sent on the third attempt, after 1 s then 2 s of backoff,
        # each time on a fresh connection.
        tries = rcpt_lines(srv, "flaky@example.test")
        assert len(tries) == 3 and len(got["flaky@example.test"]) == 1
        assert tries[1][1] - tries[0][1] >= 1.0 and tries[2][1] - tries[1][1] >= 2.0, tries
        assert len({c for c, _ in tries}) == 3, tries
        assert events_for(log, "flaky@example.test") == ["intent"] * 3 + ["sent"]
        # 451 for ever: deferred after 1 + retries attempts, with the reply.
        assert len(rcpt_lines(srv, "slow@example.test")) == 1 + retries
        assert events_for(log, "slow@example.test") == ["intent"] * 3 + ["deferred"]
        slow = [ln for ln in log if ln.rcpt == "slow@example.test"][-1]
        assert slow.code == "451" and slow.detail == "451 4.3.0 try again later"
        assert "slow@example.test" not in got and "bad@example.test" not in got
        check_consistent(w, srv)
        # status: the counts and the replies, and someone in doubt and someone new.
        ids = dry_run_msgids(w)
        w.write("subscribers.csv", "doubt@example.test,D\nnew@example.test,N\n", "a")
        append_log(w, "doubt@example.test", "intent", ids.get("doubt@example.test", "x@y"))
        s = w.run("status", "p.md", check=0).stdout
        assert re.search(r"sent\s+5\n", s) and re.search(r"deferred\s+1\n", s), s
        assert re.search(r"failed\s+1\n", s) and re.search(r"in doubt\s+1\n", s), s
        assert re.search(r"not yet attempted\s+1 \(of 9 active", s), s
        assert "bad@example.test: 550 5.7.1 <bad@example.test>: rejected by policy" in s, s
        assert "slow@example.test: 451 4.3.0 try again later" in s, s


def test_421_and_close_reconnects_and_delivers_all():
    n = 12
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--close-after", "3"]) as srv:
        setup(w, srv, connections=2)
        p = send(w, check=0)
        assert f"{n} sent, 0 failed, 0 deferred" in p.stdout, p.stdout
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())
        c = srv.connections()
        assert sum(1 for v in c.values() if "close-after" in v["faults"]) >= 2, c
        assert all(v["messages"] <= 3 for v in c.values())
        check_consistent(w, srv)


def test_connection_dropped_mid_data_is_retried():
    n = 8
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--drop-after-total", "3"]) as srv:
        setup(w, srv, connections=2)
        p = send(w, check=0)
        assert f"{n} sent" in p.stdout, p.stdout
        dropped = [tx for tx in srv.transactions() if tx["result"] == "dropped"]
        assert len(dropped) == 1
        victim = dropped[0]["rcpt_tos"][0]
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())
        assert events_for(read_log(w), victim) == ["intent", "intent", "sent"]
        check_consistent(w, srv)


def test_stalled_server_times_out_and_is_retried():
    n = 6
    faults = ["--stall-after-total", "2", "--stall-seconds", "60"]
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, connections=1, timeout=2, data_timeout=30)
        p = send(w, check=0)  # run()'s timeout guards against a hang
        assert f"{n} sent" in p.stdout, p.stdout
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())
        stalled = [v for v in srv.connections().values() if "stall" in v["faults"]]
        assert len(stalled) == 1
        log = read_log(w)
        assert sum(1 for ln in log if ln.event == "intent") == n + 1
        check_consistent(w, srv)


def test_the_final_dot_gets_the_longer_data_timeout():
    n = 3
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "2.5"]) as srv:
        setup(w, srv, connections=3, timeout=1, data_timeout=20)
        p = send(w, check=0)
        assert f"{n} sent" in p.stdout, p.stdout
        assert [ln.event for ln in read_log(w)].count("intent") == n  # no retries
        assert len(srv.messages()) == n
        check_consistent(w, srv)


def test_max_consecutive_failures_stops_early_and_resumes():
    n = 10
    faults = []
    for a in addrs(5):
        faults += ["--fail-rcpt", f"{a}:550 5.7.1 rejected by policy"]
    with Workdir(None, subscribers(n)) as w:
        with SmtpServer(w.dir, faults=faults) as srv:
            setup(w, srv, connections=1, max_consecutive_failures=3)
            p = send(w, check=69)
            assert "stopped after 3 failures in a row" in p.stderr, p.stderr
            assert "550 5.7.1" in p.stderr, p.stderr
            assert len([ev for ev in srv.events() if ev.get("cmd") == "RCPT"]) == 3
            assert not srv.messages()
            log = read_log(w)
            assert [ln.event for ln in log] == ["intent", "failed"] * 3
            healthy_again(srv)
            setup(w, srv, connections=1, max_consecutive_failures=3)
            p = send(w, check=0)
            assert "3 failed before" in p.stdout, p.stdout
            assert sorted(accepted(srv)) == addrs(n)[3:]
            send(w, "--retry-failed", check=0)
            assert sorted(accepted(srv)) == addrs(n)
            check_consistent(w, srv)


# ---- 4. TLS and AUTH ----

def tls_setup(w, srv, **smtp):
    setup(w, srv, tls="starttls", ca_file=srv.ca_file, username="writer", **smtp)


def test_starttls_and_auth_with_password_from_env():
    pw = "s3cret-env-pw"
    with Workdir(None, subscribers(3)) as w, \
            SmtpServer(w.dir, tls=True, require_tls=True, auth={"writer": pw}) as srv:
        tls_setup(w, srv, password_env=PW_ENV)
        p = send(w, check=0, env={PW_ENV: pw})
        assert sorted(accepted(srv)) == addrs(3)
        assert all(tx["tls"] and tx["auth"] == "writer" for tx in srv.transactions())
        assert pw not in p.stdout + p.stderr + open(w.path("sends.log")).read()
        assert pw not in open(w.config).read()
        # Without the variable: refused before any connection.
        p = send(w, "--resend", check=78, env={PW_ENV: ""})
        assert PW_ENV in p.stderr, p.stderr


def test_auth_password_file_must_be_owner_only():
    pw = "s3cret-file-pw"
    with Workdir(None, subscribers(2)) as w, \
            SmtpServer(w.dir, tls=True, require_tls=True, auth={"writer": pw}) as srv:
        pwfile = w.write("smtp-password", pw + "\n")
        tls_setup(w, srv, password_file=pwfile)
        os.chmod(pwfile, 0o640)
        p = send(w, check=78)
        assert pwfile in p.stderr and "chmod 600" in p.stderr, p.stderr
        assert not srv.events() and not os.path.exists(w.path("sends.log"))
        os.chmod(pwfile, 0o600)
        p = send(w, check=0)
        assert sorted(accepted(srv)) == addrs(2)
        assert pw not in p.stdout + p.stderr + open(w.path("sends.log")).read()


def test_wrong_password_stops_at_once_without_burning_the_list():
    n, conns = 30, 3
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, tls=True, require_tls=True, auth={"writer": "right"}) as srv:
        tls_setup(w, srv, password_env=PW_ENV, connections=conns)
        p = send(w, check=69, env={PW_ENV: "wrong"})
        assert "535" in p.stderr and "Authentication" in p.stderr, p.stderr
        assert "wrong" not in p.stderr
        auths = [ev for ev in srv.events() if ev.get("cmd") == "AUTH"]
        assert 1 <= len(auths) <= conns, auths
        assert not [ev for ev in srv.events() if ev.get("cmd") in ("MAIL", "RCPT")]
        log = read_log(w)
        assert not [ln for ln in log if ln.event in ("sent", "failed")], log
        # Resumable: with the right password everyone gets it, once.
        send(w, check=0, env={PW_ENV: "right"})
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())
        check_consistent(w, srv)


def test_tls_none_is_refused_for_a_remote_relay_before_any_network_use():
    with Workdir(None, subscribers(2)) as w:
        w.write_config({"smtp": {"url": "smtp://mail.example.test:25", "tls": "none"}})
        w.write("p.md", post("Hello"))
        p = send(w, check=78)
        assert "smtp.tls" in p.stderr and "mail.example.test" in p.stderr, p.stderr
        assert not os.path.exists(w.path("sends.log"))


def test_starttls_required_but_not_offered_stops_with_nothing_in_clear():
    with Workdir(None, subscribers(5)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, tls="starttls", connections=2)
        p = send(w, check=69)
        assert "TLS" in p.stderr, p.stderr
        cmds = {ev["cmd"] for ev in srv.events() if ev["event"] == "cmd"}
        assert not cmds & {"MAIL", "RCPT", "DATA", "AUTH"}, cmds
        assert not srv.messages()
        assert not [ln for ln in read_log(w) if ln.event != "intent" and ln.event != "deferred"]


def test_certificate_is_verified():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir, tls=True) as srv:
        setup(w, srv, tls="starttls")  # the test CA is not trusted
        p = send(w, check=69)
        assert "TLS" in p.stderr, p.stderr
        assert not [ev for ev in srv.events() if ev.get("cmd") in ("MAIL", "RCPT")]
        setup(w, srv, tls="starttls", ca_file=srv.ca_file)
        send(w, check=0)
        assert sorted(accepted(srv)) == addrs(3)
        assert all(tx["tls"] for tx in srv.transactions())


# ---- 5. envelope injection ----

def test_crafted_addresses_never_reach_the_wire():
    subs = ('email,name\n'
            '"a@example.test\r\nRCPT TO:<evil1@example.test>",A\n'
            '"b@example.test>\r\nDATA",B\n'
            '"<evil2@example.test>",C\n'
            '"c@example.test> NOTIFY=NEVER ORCPT=rfc822;evil3@example.test",D\n'
            '"d@example.test\nRSET",E\n'
            'ok@example.test,OK\n')
    with Workdir(None, subs) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        p = send(w, check=0)
        assert "5 invalid" in p.stdout, p.stdout
        assert sorted(accepted(srv)) == ["ok@example.test"]
        wire = srv.wire_text()
        assert "evil" not in wire and "RSET" not in wire and "NOTIFY" not in wire, wire
        rcpts = [ev["line"] for ev in srv.events() if ev.get("cmd") == "RCPT"]
        assert rcpts == ["RCPT TO:<ok@example.test>"], rcpts
        assert {ln.rcpt for ln in read_log(w)} == {"ok@example.test"}
        # A proof copy to a crafted address is refused before any connection.
        n_events = len(srv.events())
        p = send(w, "--to", "x@example.test\r\nRCPT TO:<evil4@example.test>", check=64)
        assert len(srv.events()) == n_events and "evil4" not in srv.wire_text()


# ---- 6. the rate limit ----

def test_rate_limit_is_never_exceeded():
    n, rate = 20, 20
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=4)
        send(w, "--rate", str(rate), check=0)
        times = sorted(tx["t"] for tx in srv.transactions() if tx["accepted"])
        assert len(times) == n
        # The span is timed where the server accepts, so a delay of the first
        # acceptance on a busy machine shortens it by a fraction of one spacing;
        # without the limit it would be a few milliseconds.
        assert times[-1] - times[0] >= 0.9 * (n - 1) / rate, times[-1] - times[0]
        for i, t in enumerate(times):
            in_window = sum(1 for u in times[i:] if u < t + 1.0)
            assert in_window <= rate + 1, (i, in_window)


def test_max_per_hour_spaces_messages_across_connections():
    n = 4  # 7200 an hour = one message every 0.5 s, whatever the connections
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=4, max_per_hour=7200)
        send(w, check=0)
        times = sorted(tx["t"] for tx in srv.transactions() if tx["accepted"])
        assert len(times) == n
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert min(gaps) >= 0.4, gaps  # unlimited would be ~1 ms; lower bound only


# ---- 7. kill -9 and resume ----

def test_kill_9_at_any_moment_loses_nobody_and_duplicates_are_bounded():
    n, conns = 300, 4
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "0.02"]) as srv:
        setup(w, srv, connections=conns)
        kills = 0
        for at in (10, 100, 200):
            p = spawn(w)
            try:
                wait_until(lambda: len(srv.transactions()) >= at or p.poll() is not None,
                           timeout=120, interval=0.005, what=f"{at} messages")
            finally:
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
                finish(p)
        assert kills >= 2
        send(w, check=0)
        got = accepted(srv)
        assert sorted(got) == addrs(n), "somebody is missing"
        duplicates = sum(len(v) - 1 for v in got.values())
        assert duplicates <= conns * kills, duplicates
        log = read_log(w)
        sent = collections.Counter(ln.rcpt for ln in log if ln.event == "sent")
        assert sorted(sent) == addrs(n) and set(sent.values()) == {1}
        intents = collections.Counter(ln.rcpt for ln in log if ln.event == "intent")
        for r, msgs in got.items():
            if len(msgs) > 1:  # only someone left in doubt by a kill gets two
                assert intents[r] >= len(msgs), (r, intents[r])
                assert len({msgid(m) for m in msgs}) == 1
        check_consistent(w, srv, exact=False)


# ---- 8. SIGTERM ----

def test_sigterm_lets_in_flight_finish_then_exits_130():
    n, conns = 40, 4
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "0.3"]) as srv:
        setup(w, srv, connections=conns)
        p = spawn(w)
        try:
            wait_until(lambda: len(srv.messages()) >= conns or p.poll() is not None,
                       timeout=60, what="first messages")
            # Mid-run: every connection is waiting for the reply to its final dot.
            p.send_signal(signal.SIGTERM)
        finally:
            rc, out, err = finish(p)
        assert rc == 130, (rc, out, err)
        assert "interrupted" in err, err
        log = read_log(w)
        last = {}
        for ln in log:
            last[ln.rcpt] = ln.event
        assert "intent" not in last.values(), log
        assert not [tx for tx in srv.transactions() if tx["result"] == "aborted"]
        got = accepted(srv)
        assert len(got) < n
        assert sorted(r for r, e in last.items() if e == "sent") == sorted(got)
        check_consistent(w, srv)
        send(w, check=0)
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())


def test_sigterm_while_waiting_for_the_rate_limit_starts_nothing_new():
    n, conns = 20, 4
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=conns)
        p = spawn(w, "--rate", "2")  # slots 0.5 s apart, taken by waiting workers
        try:
            wait_until(lambda: len(srv.messages()) >= 2 or p.poll() is not None,
                       timeout=60, what="first messages")
            t_signal = time.time()
            p.send_signal(signal.SIGTERM)
        finally:
            rc, out, err = finish(p)
        assert rc == 130, (rc, out, err)
        # At most the one message on the wire when the signal came; the
        # workers waiting for their slots give their recipients back.
        after = [tx for tx in srv.transactions() if tx["t"] > t_signal]
        assert len(after) <= 1, after
        last = {ln.rcpt: ln.event for ln in read_log(w)}
        assert "intent" not in last.values() and "deferred" not in last.values(), last
        assert sorted(r for r, e in last.items() if e == "sent") == sorted(accepted(srv))
        check_consistent(w, srv)


def test_a_second_signal_stops_at_once_and_a_rerun_resends_those_in_doubt():
    n, conns = 6, 2
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "30"]) as srv:
        setup(w, srv, connections=conns)
        p = spawn(w)
        try:
            wait_until(lambda: len([ev for ev in srv.events() if ev.get("cmd") == "DATA"])
                       >= conns or p.poll() is not None, timeout=60, what="DATA")
            p.send_signal(signal.SIGINT)  # Ctrl-C: would wait for the replies...
            p.send_signal(signal.SIGTERM)  # ...but a second signal stops now
        finally:
            rc, out, err = finish(p)
        assert rc == 130, (rc, out, err)
        assert not srv.messages()
        last = {ln.rcpt: ln.event for ln in read_log(w)}
        assert list(last.values()) == ["intent"] * conns, last
        healthy_again(srv)
        p = send(w, check=0)
        assert f"{conns} in doubt after an interrupted run (sent again)" in p.stdout, p.stdout
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())
        check_consistent(w, srv)


# ---- 9. the lock, --to, --limit, confirmation ----

def test_a_second_run_on_the_same_log_is_refused():
    with Workdir(None, subscribers(4)) as w, \
            SmtpServer(w.dir, faults=["--delay-data", "0.4"]) as srv:
        setup(w, srv, connections=1)
        first = spawn(w)
        try:
            wait_until(lambda: srv.events() or first.poll() is not None, timeout=60,
                       what="the first run to connect")
            p = send(w, check=75)
            assert f"pid {first.pid}" in p.stderr and "sends.log" in p.stderr, p.stderr
        finally:
            rc, out, err = finish(first)
        assert rc == 0, (out, err)
        got = accepted(srv)
        assert sorted(got) == addrs(4) and all(len(v) == 1 for v in got.values())


def test_to_sends_one_proof_copy_logged_as_test():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        send(w, "--to", "r001@example.test", check=0)
        msgs = srv.messages()
        assert len(msgs) == 1 and msgs[0][0]["rcpt_tos"] == ["r001@example.test"]
        m = parse(msgs[0][1])
        assert m["Subject"].startswith("[TEST]"), m["Subject"]
        log = read_log(w)
        assert [(ln.rcpt, ln.event, ln.code) for ln in log] == [("r001@example.test", "test", "250")]
        s = w.run("status", "p.md", check=0).stdout
        assert re.search(r"sent\s+0\n", s) and re.search(r"proof copies\s+1", s), s
        assert re.search(r"not yet attempted\s+3", s), s
        # Not a campaign send: the real send still goes to everyone.
        send(w, check=0)
        got = accepted(srv)
        assert sorted(got) == addrs(3) and len(got["r001@example.test"]) == 2
        assert not parse(got["r001@example.test"][1])["Subject"].startswith("[TEST]")


def test_limit_sends_exactly_n():
    with Workdir(None, subscribers(10)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=4)
        p = send(w, "--limit", "3", check=0)
        assert "3 sent" in p.stdout, p.stdout
        assert len(srv.messages()) == 3
        send(w, "--limit", "4", check=0)
        got = accepted(srv)
        assert len(srv.messages()) == 7 and all(len(v) == 1 for v in got.values())
        assert sorted(got) == addrs(7)  # the first pending ones, in list order
        assert [ln.event for ln in read_log(w)].count("sent") == 7
        check_consistent(w, srv)


def test_on_a_terminal_send_asks_first():
    import pty
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, title="Pty post")
        for answer, status in (("n", 64), ("y", 0)):
            master, slave = pty.openpty()
            try:
                os.write(master, answer.encode() + b"\n")
                p = subprocess.run([BIN, "-c", w.config, "send", "p.md"], cwd=w.dir, stdin=slave,
                                   capture_output=True, text=True, timeout=120)
            finally:
                os.close(master)
                os.close(slave)
            assert p.returncode == status, (p.returncode, p.stdout, p.stderr)
            assert "Subject: Pty post" in p.stdout and "news@example.test" in p.stdout, p.stdout
            assert srv.url in p.stdout and "3 recipients" in p.stdout, p.stdout
            assert len(srv.messages()) == (0 if answer == "n" else 3)


def test_without_a_terminal_send_needs_yes():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        p = w.run("send", "p.md", input="y\n", check=64)
        assert "--yes" in p.stderr, p.stderr
        assert not srv.events() and not read_log(w)
