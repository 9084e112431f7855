"""End-to-end tests of `newsletter inbox`: the corpus of bounces, complaints,
auto-replies and unsubscribes in tests/fixtures/inbox (each with its expected
decision in expected.tsv) through a Maildir after a real send; one message on
standard input with the exit status an MTA expects; the soft-bounce policy;
VERP end to end; and a 5.1.1 refusal during send."""
import email
import email.policy
import fcntl
import os
import re
import shutil

from nl import Workdir, post
from smtpserver import SmtpServer

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "fixtures", "inbox")
VERP = "bounces+{token}@example.test"


def expected():
    rows = {}
    for line in open(os.path.join(CORPUS, "expected.tsv")):
        if line.startswith("#") or not line.strip():
            continue
        f, kind, out, reader, how = line.rstrip("\n").split("\t")
        rows[f] = (kind, out, "" if reader == "-" else reader, "" if how == "-" else how)
    return rows


def corpus_files():
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".eml"))


def setup(w, srv, **extra):
    cfg = {"smtp": {"url": srv.url}, "bounce_address": VERP,
           "unsubscribe_email": "unsubscribe@example.test", **extra}
    w.write_config(cfg)
    w.write("first-light.md", post("First light"))
    w.write("second.md", post("Second"))


LINE = re.compile(r"^(\S+): (.+?)(?: [0-9.]+)? -> (.+?)(?:: (\S+) \(found by (.+?)\))?(?:, \d+ so far)?"
                  r"(?:, post (\S+))? -- ")


def decisions(stdout):
    got = {}
    for line in stdout.splitlines():
        m = LINE.match(line)
        if m:
            got[os.path.basename(m.group(1))] = m.groups()[1:]
    return got


def statuses(w):
    p = w.run("subscribers", "list", check=0)
    return {ln.split("\t")[0]: ln.split("\t")[1] for ln in p.stdout.splitlines() if "\t" in ln}


def log_lines(w):
    try:
        return [ln.rstrip("\n").split("\t") for ln in open(w.path("sends.log"))]
    except FileNotFoundError:
        return []


def maildir(w, files):
    md = w.path("Maildir")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    for f in files:
        shutil.copy(os.path.join(CORPUS, f), os.path.join(md, "new", f))
    return md


def test_corpus_decisions_actions_and_the_next_send():
    exp = expected()
    files = corpus_files()
    assert len(files) >= 25 and set(files) == set(exp)
    with Workdir(None, open(os.path.join(CORPUS, "subscribers.csv")).read()) as w, \
            SmtpServer(w.dir) as srv:
        setup(w, srv)
        w.run("send", "first-light.md", "--yes", check=0)
        sent = {ln[2]: ln[5] for ln in log_lines(w) if ln[3] == "sent"}
        # The fixtures carry the Message-IDs this program gives (deterministic per reader and post).
        raw = open(os.path.join(CORPUS, "05-sendmail-returned-headers-only.eml"), "rb").read()
        assert sent["erin@example.net"].encode() in raw
        md = maildir(w, files)
        p = w.run("inbox", "-v", md, check=0)
        got = decisions(p.stdout)
        for f in files:
            kind, out, reader, how = exp[f]
            assert f in got, (f, p.stdout)
            g = got[f]
            assert (g[0], g[1], g[2] or "", g[3] or "") == (kind, out, reader, how), (f, g, p.stdout)
            if reader:
                assert g[4] == "first-light", (f, g)
        assert "28 messages: 11 bounced, 3 soft bounces counted, 2 complained, 3 unsubscribed, " \
               "6 ignored, 3 left for a person" in p.stdout, p.stdout
        # The list, through the subscriber module.
        st = statuses(w)
        for f in files:
            kind, out, reader, _ = exp[f]
            want = {"bounced": "bounced", "complained": "complained", "unsubscribed": "unsubscribed",
                    "soft bounce counted": "active"}.get(out)
            if reader and want:
                assert st[reader] == want, (f, reader, st[reader])
        assert st["uma@example.net"] == "active" and st["tess@example.net"] == "active"
        # The log: one reader event per acted-on message, with the post's slug.
        ev = [ln for ln in log_lines(w) if ln[3] in ("bounced", "complained", "unsubscribed", "soft-bounced")]
        assert len(ev) == 11 + 2 + 3 + 3
        assert all(ln[1] == "first-light" for ln in ev), ev
        # The Maildir: handled ones seen in cur/, the ones for a person unread in cur/, new/ empty.
        assert os.listdir(os.path.join(md, "new")) == []
        cur = os.listdir(os.path.join(md, "cur"))
        assert "24-garbage.eml:2," in cur and "22-bounce-not-on-list.eml:2," in cur
        assert "01-postfix-hard.eml:2,S" in cur and len(cur) == len(files)
        # Idempotent: the second run finds nothing.
        p = w.run("inbox", "-v", md, check=0)
        assert p.stdout.startswith("0 messages"), p.stdout
        # status shows what came back for the post.
        p = w.run("status", "first-light.md", check=0)
        assert "came back          11 bounced, 3 soft bounces, 2 complained, 3 unsubscribed" in p.stdout, p.stdout
        # The next post goes to nobody who bounced, complained or unsubscribed.
        before = len(srv.messages())
        w.run("send", "second.md", "--yes", check=0)
        got2 = [t["rcpt_tos"][0] for t, _ in srv.messages()[before:]]
        gone = {exp[f][2] for f in files if exp[f][1] in ("bounced", "complained", "unsubscribed")}
        assert gone and not gone & set(got2), gone & set(got2)
        assert "bob@example.net" in got2 and "uma@example.net" in got2


def test_dry_run_changes_nothing():
    with Workdir(None, open(os.path.join(CORPUS, "subscribers.csv")).read()) as w, \
            SmtpServer(w.dir) as srv:
        setup(w, srv)
        md = maildir(w, corpus_files())
        before = open(w.path("subscribers.csv")).read()
        p = w.run("inbox", "--dry-run", md, check=0)
        assert "dry run (nothing changed): 28 messages" in p.stdout, p.stdout
        assert open(w.path("subscribers.csv")).read() == before
        assert not os.path.exists(w.path("sends.log"))
        assert sorted(os.listdir(os.path.join(md, "new"))) == corpus_files()


def test_quiet_under_cron_unless_a_person_is_needed():
    with Workdir(None, open(os.path.join(CORPUS, "subscribers.csv")).read()) as w, \
            SmtpServer(w.dir) as srv:
        setup(w, srv)
        md = maildir(w, ["01-postfix-hard.eml", "15-vacation-rfc3834.eml"])
        # While a send holds the log nothing is done, quietly: the next run does it.
        lock = open(w.path("sends.log.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = w.run("inbox", md, check=0)
        assert p.stdout == "" and p.stderr == "", (p.stdout, p.stderr)
        assert len(os.listdir(os.path.join(md, "new"))) == 2
        lock.close()
        p = w.run("inbox", md, check=0)
        assert p.stdout == "" and p.stderr == "", (p.stdout, p.stderr)
        assert os.listdir(os.path.join(md, "new")) == []
        md = maildir(w, ["25-human-reply.eml"])
        p = w.run("inbox", md, check=0)
        assert "25-human-reply.eml: unrecognised -> left for a person" in p.stdout
        assert "1 message: 0 bounced" in p.stdout


def test_stdin_exit_status_for_an_mta():
    with Workdir(None, open(os.path.join(CORPUS, "subscribers.csv")).read()) as w, \
            SmtpServer(w.dir) as srv:
        setup(w, srv)
        msg = open(os.path.join(CORPUS, "01-postfix-hard.eml")).read()
        # A send holds the log: a temporary failure, so the MTA keeps the message and retries.
        lock = open(w.path("sends.log.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = w.run("inbox", "-", input=msg)
        assert p.returncode == 75, (p.returncode, p.stderr)
        assert statuses(w)["ann@example.net"] == "active"
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        p = w.run("inbox", "-", input=msg, check=0)
        assert statuses(w)["ann@example.net"] == "bounced"
        # A broken config is also worth a retry rather than a lost message.
        w.write("config.yml", "smtp: [\n")
        p = w.run("inbox", "-", input=msg)
        assert p.returncode == 75, (p.returncode, p.stderr)


def dsn(rcpt, token, action, status, slug_mid=""):
    return (f"From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+{token}@example.test\r\n"
            f"Subject: Delivery Status Notification\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
            f"--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
            f"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
            f"Final-Recipient: rfc822; {rcpt}\r\nAction: {action}\r\nStatus: {status}\r\n"
            f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{slug_mid}>\r\n\r\n--b--\r\n")


def test_soft_bounces_need_three_within_the_window_with_no_good_delivery_between():
    tok = "6f1c8a52-3b0d-4c4e-9a61-1f2e3d4c5b6a"
    subs = f"email,name,status,token\nsoft@example.net,S,active,{tok}\n"
    with Workdir(None, subs) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        w.write("p3.md", post("Third"))
        w.run("send", "first-light.md", "--yes", check=0)

        def soft_for(slug):
            mid = [ln[5] for ln in log_lines(w) if ln[1] == slug and ln[3] == "sent"][0]
            return w.run("inbox", "-v", "-", input=dsn("soft@example.net", tok, "delayed", "4.2.2", mid), check=0)

        p = soft_for("first-light")
        assert "soft bounce counted: soft@example.net" in p.stdout and "1 so far" in p.stdout, p.stdout
        # A later post that went out with nothing coming back is a good delivery: the count starts again.
        w.run("send", "second.md", "--yes", check=0)
        w.run("send", "p3.md", "--yes", check=0)
        p = soft_for("p3")
        assert "1 so far, post p3" in p.stdout, p.stdout
        p = soft_for("p3")
        assert "2 so far, post p3" in p.stdout, p.stdout
        assert statuses(w)["soft@example.net"] == "active"
        p = soft_for("p3")
        assert "-> bounced: soft@example.net (found by VERP address), post p3" in p.stdout, p.stdout
        assert statuses(w)["soft@example.net"] == "bounced"
        evs = [ln[3] for ln in log_lines(w) if ln[2] == "soft@example.net" and ln[3] != "intent"]
        assert evs == ["sent", "soft-bounced", "sent", "sent", "soft-bounced", "soft-bounced", "bounced"], evs


def test_soft_bounce_limit_from_the_config():
    tok = "0b7f0d7e-8c9a-4a8e-b5b3-2c1d0e9f8a7b"
    subs = f"email,name,status,token\nsoft@example.net,S,active,{tok}\n"
    with Workdir(None, subs) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, inbox={"soft_bounce_limit": 1})
        p = w.run("inbox", "-v", "-", input=dsn("soft@example.net", tok, "delayed", "4.2.2"), check=0)
        assert "-> bounced: soft@example.net" in p.stdout, p.stdout


def test_verp_end_to_end():
    subs = "email,name\n" + "".join(f"r{i}@example.net,R{i}\n" for i in range(4))
    with Workdir(None, subs) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        w.run("send", "first-light.md", "--yes", check=0)
        txs = {t["rcpt_tos"][0]: (t, raw) for t, raw in srv.messages()}
        froms = {r: t["mail_from"] for r, (t, _) in txs.items()}
        # Each reader's own envelope sender, with their token.
        assert len(set(froms.values())) == 4
        assert all(re.fullmatch(r"bounces\+[0-9a-f-]{36}@example\.test", f) for f in froms.values()), froms
        # The bounce goes to the envelope sender; it names nobody but through the VERP address.
        victim = "r2@example.net"
        t, raw = txs[victim]
        orig = email.message_from_bytes(raw, policy=email.policy.default)
        bounce = (f"From: MAILER-DAEMON@mx.example.net\r\nTo: {t['mail_from']}\r\n"
                  f"Subject: Undelivered Mail Returned to Sender\r\n\r\n"
                  f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
                  f"550 5.1.1 User unknown\r\n")
        assert victim not in bounce and orig["Message-ID"] not in bounce
        p = w.run("inbox", "-v", "-", input=bounce, env={"ORIGINAL_RECIPIENT": t["mail_from"]}, check=0)
        assert f"-> bounced: {victim} (found by VERP address), post first-light" in p.stdout, p.stdout
        assert statuses(w)[victim] == "bounced"
        before = len(srv.messages())
        w.run("send", "second.md", "--yes", check=0)
        got = sorted(t["rcpt_tos"][0] for t, _ in srv.messages()[before:])
        assert got == ["r0@example.net", "r1@example.net", "r3@example.net"], got


def test_550_5_1_1_during_send_marks_the_reader_bounced_at_once():
    subs = "email,name\n" + "".join(f"r{i}@example.net,R{i}\n" for i in range(3))
    faults = ["--fail-rcpt", "r1@example.net:550",  # 550 5.1.1 <...>: mailbox unavailable
              "--fail-rcpt", "r2@example.net:550 5.7.1 message refused by policy"]
    with Workdir(None, subs) as w, SmtpServer(w.dir, faults=faults) as srv:
        setup(w, srv)
        lst = w.path("subscribers.csv")
        before_list = (os.stat(lst).st_ino, open(lst).read())
        p = w.run("-v", "send", "first-light.md", "--yes")
        assert "(marked bounced)" in p.stderr, p.stderr
        # One line in the list's change file, not a rewrite of the list in the middle of a send.
        assert (os.stat(lst).st_ino, open(lst).read()) == before_list
        changes = open(lst + ".changes").read().splitlines()
        assert [ln.split("\t")[1:] for ln in changes] == [["r1@example.net", "bounced"]], changes
        st = statuses(w)
        assert st["r1@example.net"] == "bounced" and st["r2@example.net"] == "active", st
        ev = [(ln[2], ln[3]) for ln in log_lines(w) if ln[3] == "bounced"]
        assert ev == [("r1@example.net", "bounced")], ev
        srv.stop()
        srv.faults = []
        srv.start()
        before = len(srv.messages())
        w.run("send", "second.md", "--yes", check=0)
        got = sorted(t["rcpt_tos"][0] for t, _ in srv.messages()[before:])
        assert got == ["r0@example.net", "r2@example.net"], got


def test_inbox_settings_are_checked():
    with Workdir(None, "email\n") as w:
        for inbox, why in [({"url": "imaps://user:pw@imap.example.org/INBOX"}, "user name or password"),
                           ({"url": "pop3://imap.example.org"}, "must start with imap:// or imaps://"),
                           ({"tls": "maybe"}, "inbox.tls"),
                           ({"soft_bounce_limit": 0}, "inbox.soft_bounce_limit"),
                           ({"mailbox": "INBOX"}, "inbox.mailbox: unknown setting")]:
            w.write_config({"inbox": inbox})
            p = w.run("inbox", "-")
            assert p.returncode == 75 and why in p.stderr, (inbox, p.returncode, p.stderr)
            p = w.run("inbox", w.dir)
            assert p.returncode == 78 and why in p.stderr, (inbox, p.returncode, p.stderr)
        w.write_config({"inbox": {"url": "imap://imap.example.org/INBOX", "tls": "none"}})
        p = w.run("inbox")
        assert p.returncode == 78 and "only allowed for a server on this machine" in p.stderr, p.stderr
        w.write_config({})
        p = w.run("inbox")
        assert p.returncode == 78 and "no inbox: set inbox.url" in p.stderr, p.stderr


def test_verp_messages_are_dkim_signed_and_verify():
    import test_dkim_e2e as dk
    dk.need_tools()
    subs = "email,name\n" + "".join(f"r{i}@example.net,R{i}\n" for i in range(3))
    with Workdir(None, subs) as w, SmtpServer(w.dir) as srv:
        recs = dk.make_keys(w)
        dk.dkim_config(w, srv)
        cfg = open(w.config).read()
        w.write("config.yml", cfg + f'bounce_address: "bounces+{{token}}@{dk.DOMAIN}"\n')
        w.write("first-light.md", post("First light"))
        w.run("send", "first-light.md", "--yes", check=0)
        msgs = srv.messages()
        assert len(msgs) == 3
        for t, raw in msgs:
            assert re.fullmatch(r"bounces\+[0-9a-f-]{36}@" + re.escape(dk.DOMAIN), t["mail_from"]), t
            dk.check_signed(raw, recs)
