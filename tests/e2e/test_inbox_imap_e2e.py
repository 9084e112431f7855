"""`newsletter inbox` against a real IMAP server: Debian's Dovecot, configured
and started by each test in a folder of its own on a free 127.0.0.1 port
(passwd-file, Maildir storage, no TLS on loopback), stopped at the end. A
handled message gets \\Seen and a keyword (or is moved), a second run does
nothing, a dry run changes no flag, and a connection cut mid-fetch loses
nothing and does nothing twice."""
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time

import nl
from nl import Workdir

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "fixtures", "inbox")
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PW = "imap-test-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    """A Dovecot of the test's own: user news, password PW, mail in DIR/mail/news."""

    def __init__(self, top):
        if not os.path.exists(DOVECOT):
            raise nl.Skip("dovecot (dovecot-imapd) is not installed")
        self.dir = os.path.join(top, "dovecot")
        os.chmod(top, 0o711)  # its processes run as their own users: they must get through
        self.port = free_port()
        self.maildir = os.path.join(self.dir, "mail", "news")
        if os.getuid() == 0:
            # Dovecot will not run its login or mail processes as root.
            mail, login = pwd.getpwnam("dovecot"), "dovenull"
        else:
            mail = login = None
        me = pwd.getpwuid(os.getuid())
        self.uid, self.gid = (mail.pw_uid, mail.pw_gid) if mail else (me.pw_uid, me.pw_gid)
        internal = "dovecot" if mail else me.pw_name
        for sub in ("new", "cur", "tmp", ".Processed/new", ".Processed/cur", ".Processed/tmp"):
            os.makedirs(os.path.join(self.maildir, sub))
        os.makedirs(os.path.join(self.dir, "home"))
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            f.write(f"news:{{PLAIN}}{PW}\n")
        d = self.dir
        conf = f"""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login or me.pw_name}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""
        self.conf = os.path.join(d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.own(self.dir)

    def own(self, path):
        for root, dirs, files in os.walk(path):
            for n in dirs + files:
                os.chown(os.path.join(root, n), self.uid, self.gid)
        os.chown(path, self.uid, self.gid)

    def __enter__(self):
        # In the foreground (-F): our child, stopped by us, whatever happens to the test.
        self.out = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.out)
        deadline = time.time() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot did not start: " + open(self.out.name).read())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()

    def deliver(self, name, data, folder=""):
        p = os.path.join(self.maildir, folder, "new", name)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, self.uid, self.gid)

    def files(self, folder=""):
        """{name without flags: flags} of the messages in a folder (new and cur)."""
        out = {}
        for sub in ("new", "cur"):
            for n in os.listdir(os.path.join(self.maildir, folder, sub)):
                base, _, flags = n.partition(":2,")
                out[base] = flags
        return out


class CuttingProxy:
    """A TCP proxy to the server that, on its first connection, hangs up both
    sides once more than cut_after bytes came from the server."""

    def __init__(self, port, cut_after):
        self.target, self.cut_after = port, cut_after
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = 0
        self.cut = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            first = self.conns == 0
            self.conns += 1
            threading.Thread(target=self.pump, args=(c, s, None), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c, self.cut_after if first else None),
                             daemon=True).start()

    def pump(self, src, dst, limit):
        total = 0
        try:
            while True:
                b = src.recv(4096)
                if not b:
                    break
                total += len(b)
                if limit is not None and total > limit:
                    self.cut = True
                    break
                dst.sendall(b)
        except OSError:
            pass
        for x in (src, dst):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()

    def close(self):
        self.sock.close()


def fixture(name):
    return open(os.path.join(CORPUS, name), "rb").read()


def setup(w, port, **inbox):
    w.write_config({"bounce_address": "bounces+{token}@example.test",
                    "unsubscribe_email": "unsubscribe@example.test",
                    "inbox": {"url": f"imap://127.0.0.1:{port}/INBOX", "username": "news",
                              "password_env": "NL_TEST_IMAP_PW", **inbox}})


ENV = {"NL_TEST_IMAP_PW": PW}


def statuses(w):
    p = w.run("subscribers", "list", check=0)
    return {ln.split("\t")[0]: ln.split("\t")[1] for ln in p.stdout.splitlines() if "\t" in ln}


def events(w):
    try:
        return [ln.split("\t")[2:4] for ln in open(w.path("sends.log")) if "\tbounced\t" in ln
                or "\tcomplained\t" in ln]
    except FileNotFoundError:
        return []


def test_imap_handles_each_message_once_and_leaves_the_rest_unread():
    with Workdir(None, open(os.path.join(CORPUS, "subscribers.csv")).read()) as w, Dovecot(w.dir) as dv:
        for f in ("01-postfix-hard.eml", "13-arf-feedback-loop.eml", "15-vacation-rfc3834.eml",
                  "25-human-reply.eml"):
            dv.deliver(f, fixture(f))
        setup(w, dv.port)
        # A dry run reads everything and changes no flag.
        p = w.run("inbox", "--dry-run", env=ENV, check=0)
        assert "dry run (nothing changed): 4 messages" in p.stdout, p.stdout
        assert all("S" not in fl and "a" not in fl for fl in dv.files().values()), dv.files()
        p = w.run("inbox", "-v", env=ENV, check=0)
        assert "UID 1: hard bounce 5.1.1 -> bounced: ann@example.net" in p.stdout, p.stdout
        assert "4 messages: 1 bounced, 0 soft bounces counted, 1 complained, 0 unsubscribed, " \
               "1 ignored, 1 left for a person" in p.stdout, p.stdout
        st = statuses(w)
        assert st["ann@example.net"] == "bounced" and st["mia@example.net"] == "complained"
        fl = dv.files()
        # Handled: seen (S) and our keyword (the first, a); for a person: keyword, unread.
        assert fl["01-postfix-hard.eml"] == "Sa" and fl["15-vacation-rfc3834.eml"] == "Sa", fl
        assert fl["25-human-reply.eml"] == "a", fl
        # The second run does nothing, and says nothing under cron.
        p = w.run("inbox", env=ENV, check=0)
        assert p.stdout == "" and p.stderr == "", (p.stdout, p.stderr)
        assert len(events(w)) == 2


def test_imap_moves_handled_messages_to_a_folder():
    with Workdir(None, open(os.path.join(CORPUS, "subscribers.csv")).read()) as w, Dovecot(w.dir) as dv:
        dv.deliver("01-postfix-hard.eml", fixture("01-postfix-hard.eml"))
        dv.deliver("25-human-reply.eml", fixture("25-human-reply.eml"))
        setup(w, dv.port, move_to="Processed")
        w.run("inbox", env=ENV, check=0)
        assert set(dv.files()) == {"25-human-reply.eml"}, dv.files()
        moved = dv.files(".Processed")
        assert len(moved) == 1 and "S" in list(moved.values())[0], moved
        cur = os.path.join(dv.maildir, ".Processed", "cur")
        assert b"9A1B2C3D4E" in open(os.path.join(cur, os.listdir(cur)[0]), "rb").read()
        p = w.run("inbox", "-v", env=ENV, check=0)
        assert p.stdout.startswith("0 messages"), p.stdout


def test_imap_wrong_password_is_a_clear_error():
    with Workdir(None, "email\n") as w, Dovecot(w.dir) as dv:
        setup(w, dv.port)
        p = w.run("inbox", env={"NL_TEST_IMAP_PW": "wrong"})
        assert p.returncode == 78 and "refused the user name or password" in p.stderr, (p.returncode, p.stderr)


def big_bounce(i, reader, token):
    """A bounce with a large returned message, so that its fetch takes many reads."""
    filler = ("The first light of the season came early this year. " * 20 + "\r\n") * 300
    return (f"From: MAILER-DAEMON@mx.example.net\r\nTo: bounces+{token}@example.test\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <big{i}@mx.example.net>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
            f"boundary=\"b\"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; {reader}\r\n"
            f"Action: failed\r\nStatus: 5.1.1\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
            f"From: news@example.test\r\nTo: {reader}\r\nSubject: First light\r\n\r\n{filler}--b--\r\n"
            ).encode()


def test_imap_connection_cut_mid_fetch_loses_nothing_and_repeats_nothing():
    subs = "email,name,status,token\n" + "".join(
        f"r{i}@example.net,R{i},active,00000000-0000-4000-8000-00000000000{i}\n" for i in range(3))
    with Workdir(None, subs) as w, Dovecot(w.dir) as dv:
        for i in range(3):
            dv.deliver(f"m{i}", big_bounce(i, f"r{i}@example.net", f"00000000-0000-4000-8000-00000000000{i}"))
        size = len(big_bounce(0, "r0@example.net", "00000000-0000-4000-8000-000000000000"))
        # Through the first message and half into the second one's fetch.
        proxy = CuttingProxy(dv.port, int(size * 1.5))
        try:
            setup(w, proxy.port)
            p = w.run("inbox", "-v", env=ENV)
            assert proxy.cut
            assert p.returncode == 75, (p.returncode, p.stdout, p.stderr)
            assert "the next run carries on" in p.stderr, p.stderr
            assert statuses(w) == {"r0@example.net": "bounced", "r1@example.net": "active",
                                   "r2@example.net": "active"}, statuses(w)
            fl = dv.files()
            assert fl["m0"] == "Sa" and "a" not in fl["m1"] and "a" not in fl["m2"], fl
            # The next run (the proxy passes everything now) takes the rest, and only the rest.
            p = w.run("inbox", "-v", env=ENV, check=0)
            assert "2 messages: 2 bounced" in p.stdout, p.stdout
            assert set(statuses(w).values()) == {"bounced"}
            assert sorted(r for r, _ in events(w)) == ["r0@example.net", "r1@example.net", "r2@example.net"]
            assert all(f == "Sa" for f in dv.files().values()), dv.files()
        finally:
            proxy.close()
