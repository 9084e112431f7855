"""End-to-end tests of the SMTP engine against an unfriendly relay
(tests/smtpd.py on 127.0.0.1): relay refusals stop the run without failing
readers, a lost final reply is in doubt and not resent, 421 gets a fresh
connection, the EHLO name, one login before the others, QUIT, AUTH that
was not offered, RSET after a refused recipient, the loopback check, and
no user info or empty password in messages."""
import re
import socket

from nl import Workdir, post
from smtpserver import SmtpServer
from test_send_e2e import (PW_ENV, accepted, addrs, check_consistent, events_for, read_log,
                           send, setup, subscribers)


def cmds(srv, verb):
    return [ev for ev in srv.events() if ev["event"] == "cmd" and ev["cmd"] == verb]


def all_lines(w):
    try:
        return open(w.path("sends.log")).read()
    except FileNotFoundError:
        return ""


# ---- A. relay refusals stop the run; only mailbox replies fail a reader ----

def test_refused_mail_from_stops_the_run_and_fails_nobody():
    n = 30
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--fail-mail", "552 5.3.4 message too big"]) as srv:
        setup(w, srv, connections=2)
        p = send(w, check=69)
        assert "552 5.3.4 message too big" in p.stderr, p.stderr
        assert "MAIL FROM" in p.stderr, p.stderr
        assert p.stdout.rstrip().splitlines()[-1].startswith("stopped:"), p.stdout
        log = read_log(w)
        assert not [ln for ln in log if ln.event == "failed"], log
        # Only the readers on the wire have a line: deferred, with the server's code.
        tried = {ln.rcpt for ln in log}
        assert 1 <= len(tried) <= 2, log
        for r in tried:
            assert events_for(log, r) == ["intent", "deferred"]
            last = [ln for ln in log if ln.rcpt == r][-1]
            assert last.code == "552" and "5.3.4" in last.detail, last
        assert len(cmds(srv, "MAIL")) <= 2
        assert "\tstopped\t" in all_lines(w)


def test_message_refused_after_the_dot_stops_instead_of_failing_each_reader():
    n = 25
    victim = "r000@example.test"
    faults = ["--fail-data", f"{victim}:554 5.7.1 message content rejected"]
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, connections=1)
        p = send(w, check=69)
        assert "554 5.7.1 message content rejected" in p.stderr, p.stderr
        log = read_log(w)
        assert events_for(log, victim) == ["intent", "deferred"], log
        assert not [ln for ln in log if ln.event == "failed"], log
        assert len({ln.rcpt for ln in log}) == 1  # the others were never attempted
        assert "done" not in [ln.split("\t")[3] for ln in all_lines(w).splitlines()]


def test_helo_policy_rejection_at_rcpt_stops_the_run():
    n = 6
    faults = []
    for a in addrs(n):
        faults += ["--fail-rcpt", f"{a}:504 5.5.2 <localhost>: Helo command rejected"]
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, connections=1)
        p = send(w, check=69)
        assert "Helo command rejected" in p.stderr, p.stderr
        assert len(cmds(srv, "RCPT")) == 1
        assert not [ln for ln in read_log(w) if ln.event == "failed"]


def test_mailbox_refusal_fails_only_that_reader():
    n = 4
    faults = ["--fail-rcpt", "r001@example.test:550 5.1.1 <r001@example.test>: no such user",
              "--fail-rcpt", "r002@example.test:552 5.2.2 mailbox full"]
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, connections=1)
        p = send(w, check=0)
        assert p.stdout.rstrip().splitlines()[-1].startswith("done: 2 sent, 2 failed"), p.stdout
        check_consistent(w, srv)


# ---- B. a lost final reply is in doubt ----

def test_final_reply_timeout_is_in_doubt_not_resent_until_asked():
    n = 2
    with Workdir(None, subscribers(n)) as w:
        with SmtpServer(w.dir, faults=["--delay-data", "3"]) as srv:
            setup(w, srv, connections=2, timeout=5, data_timeout=1, retries=2)
            p = send(w, check=0)
            assert "2 in doubt" in p.stdout, p.stdout
            log = read_log(w)
            for r in addrs(n):
                assert events_for(log, r) == ["intent", "doubt"], log
            # The next run leaves them alone: one copy each went out, in all.
            p = send(w, check=0)
            assert "nothing to send" in p.stdout and "final reply was lost" in p.stdout, p.stdout
            datas = [tx["rcpt_tos"][0] for tx in srv.transactions() if tx["stage"] == "DATA"]
            assert sorted(datas) == addrs(n), srv.transactions()
            s = w.run("status", "p.md", check=0).stdout
            assert re.search(r"in doubt\s+2\n", s) and "doubt    r000@example.test" in s, s
        # ... until asked.
        with SmtpServer(w.dir) as srv2:
            setup(w, srv2)
            send(w, "--retry-in-doubt", check=0)
            assert sorted(accepted(srv2)) == addrs(n)
            assert all(events_for(read_log(w), r)[-1] == "sent" for r in addrs(n))


# ---- C. 421: the retry gets a fresh connection ----

def test_421_after_each_message_every_retry_on_a_fresh_connection():
    n = 16
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--close-after", "1"]) as srv:
        setup(w, srv, connections=4, retries=1, max_consecutive_failures=100)
        p = send(w, check=0)
        assert f"{n} sent, 0 failed, 0 deferred" in p.stdout, p.stdout
        got = accepted(srv)
        assert sorted(got) == addrs(n) and all(len(v) == 1 for v in got.values())
        check_consistent(w, srv)


# ---- D. the EHLO name ----

def expected_helo():
    try:
        canon = socket.getaddrinfo(socket.gethostname(), None, flags=socket.AI_CANONNAME)[0][3]
    except OSError:
        canon = ""
    return (canon, "canonical") if "." in canon else ("example.test", "From address")


def test_default_ehlo_name_is_the_canonical_host_name_or_the_from_domain():
    with Workdir(None, subscribers(1)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        p = w.run("-v", "send", "p.md", "--yes", check=0)
        name, why = expected_helo()
        ehlo = cmds(srv, "EHLO")
        assert ehlo and all(ev["line"] == f"EHLO {name}" for ev in ehlo), ehlo
        assert f"EHLO name {name}" in p.stderr and why in p.stderr, p.stderr


# ---- E. one login first; QUIT always ----

def test_wrong_password_is_tried_on_one_connection_only():
    n, conns = 20, 4
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, tls=True, require_tls=True, auth={"writer": "right"}) as srv:
        setup(w, srv, tls="starttls", ca_file=srv.ca_file, username="writer",
              password_env=PW_ENV, connections=conns)
        send(w, check=69, env={PW_ENV: "wrong"})
        assert len(cmds(srv, "AUTH")) == 1, cmds(srv, "AUTH")
        assert len(srv.connections()) == 1


def test_every_session_ends_with_quit():
    n = 12
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=3)
        send(w, check=0)
        conns = srv.wait_closed()
        assert len(conns) == 3 and all(c["reason"] == "quit" for c in conns.values()), conns
    with Workdir(None, subscribers(n)) as w, \
            SmtpServer(w.dir, faults=["--fail-mail", "554 5.7.1 go away"]) as srv:
        setup(w, srv, connections=3)
        send(w, check=69)
        conns = srv.wait_closed()
        assert all(c["reason"] == "quit" for c in conns.values()), conns


# ---- F. AUTH not offered; 530 ----

def test_username_without_auth_offered_stops_before_any_message():
    with Workdir(None, subscribers(3)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, username="writer", password_env=PW_ENV)
        p = send(w, check=69, env={PW_ENV: "pw"})
        assert "offers no AUTH" in p.stderr, p.stderr
        assert not cmds(srv, "MAIL") and not srv.messages()
        assert not read_log(w)


def test_authentication_required_is_logged_with_its_code():
    with Workdir(None, subscribers(3)) as w, \
            SmtpServer(w.dir, faults=["--fail-mail", "530 5.7.0 Authentication required"]) as srv:
        setup(w, srv, connections=1)
        p = send(w, check=69)
        assert "530 5.7.0 Authentication required" in p.stderr, p.stderr
        last = read_log(w)[-1]
        assert last.event == "deferred" and last.code == "530", last


# ---- G. a refused recipient costs an RSET, not a connection ----

def test_refused_recipients_share_one_connection():
    n = 8
    faults = []
    for a in addrs(n)[::2]:
        faults += ["--fail-rcpt", f"{a}:550"]
    with Workdir(None, subscribers(n)) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, connections=1, max_consecutive_failures=100)
        p = send(w, check=0)
        assert "4 sent, 4 failed" in p.stdout, p.stdout
        conns = srv.connections()
        assert len(conns) == 1, conns
        assert len(cmds(srv, "RSET")) == 4
        check_consistent(w, srv)


# ---- H. loopback means loopback ----

def test_a_name_starting_with_127_is_not_loopback():
    with Workdir(None, subscribers(2)) as w:
        w.write_config({"smtp": {"url": "smtp://127.evil.example:25", "tls": "none"}})
        w.write("p.md", post("Hello"))
        p = send(w, check=78)
        assert "only allowed for a relay on this machine" in p.stderr, p.stderr
        assert "127.evil.example" in p.stderr


def test_loopback_addresses_may_go_without_tls():
    with Workdir(None, subscribers(1)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, tls="none")
        w.write_config({"smtp": {"url": f"smtp://127.0.0.1:{srv.port}", "tls": "none"}})
        send(w, check=0)
        assert sorted(accepted(srv)) == addrs(1)


# ---- I. credentials never shown ----

def test_empty_password_variable_is_called_empty():
    with Workdir(None, subscribers(1)) as w:
        setup(w, None, username="writer", password_env=PW_ENV)
        p = send(w, check=78, env={PW_ENV: ""})
        assert f"{PW_ENV} is empty" in p.stderr, p.stderr


def test_user_info_in_the_url_is_never_printed():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        # STARTTLS required, not offered: the run stops, naming the relay.
        w.write_config({"smtp": {"url": f"smtp://joe:hunter2@127.0.0.1:{srv.port}",
                                 "tls": "starttls"}})
        # The config refuses user info in the URL, and never echoes it.
        p = send(w, check=78)
        assert "smtp.url: a user name or password in the URL is not allowed" in p.stderr, p.stderr
        assert "hunter2" not in p.stdout + p.stderr + all_lines(w), p.stderr
        assert "joe" not in p.stderr, p.stderr
        # Given on the command line, it reaches the sender, which never prints it either.
        w.write_config({"smtp": {"url": srv.url, "tls": "starttls"}})
        p = send(w, "--smtp", f"smtp://joe:hunter2@127.0.0.1:{srv.port}")
        assert p.returncode != 0, p.stdout
        assert "hunter2" not in p.stdout + p.stderr + all_lines(w), p.stderr
        assert "joe" not in p.stderr, p.stderr


# ---- K. exit 75 says stopped ----

def test_deferred_run_says_stopped():
    faults = ["--tempfail-rcpt", "r000@example.test:99"]
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv, retries=0)
        p = send(w, check=75)
        assert p.stdout.rstrip().splitlines()[-1].startswith("stopped: 1 sent, 0 failed, 1 deferred"), \
            p.stdout
