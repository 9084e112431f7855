"""smtpserver.py - run tests/smtpd.py (a recording, fault-injecting SMTP
server on 127.0.0.1) from end-to-end tests.

    with SmtpServer(tmpdir, tls=True, auth={"u": "p"},
                    faults=["--fail-rcpt", "bad@example.org:550"]) as srv:
        ... run the product against srv.url, trusting srv.ca_file ...
        for tx, data in srv.messages(): ...

The server's files live in srv.dir, a fresh directory inside tmpdir (see
tests/smtpd.py for their format). The process is always stopped on leaving
the with block, also when the test fails.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
SMTPD = os.path.join(TESTS, "smtpd.py")
GEN_CA = os.path.join(TESTS, "gen-ca.sh")
PYTHON = "/usr/bin/python3"  # Debian's, which has aiosmtpd
HOST = "127.0.0.1"

_ca_dir = None


def ca_paths():
    """Paths of the test CA and the localhost server certificate, made once
    per test session: {"dir", "ca_file", "ca_key", "cert", "key"}."""
    global _ca_dir
    if _ca_dir is None:
        d = tempfile.mkdtemp(prefix="newsletter-test-ca-")
        atexit.register(shutil.rmtree, d, True)
        subprocess.run(["sh", GEN_CA, d], check=True)
        _ca_dir = d
    return {"dir": _ca_dir, "ca_file": os.path.join(_ca_dir, "ca.pem"),
            "ca_key": os.path.join(_ca_dir, "ca.key"),
            "cert": os.path.join(_ca_dir, "server.pem"),
            "key": os.path.join(_ca_dir, "server.key")}


def _read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):  # skip a line still being written
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def wait_until(predicate, timeout=5.0, interval=0.02, what="condition"):
    """Poll predicate() until it returns a true value (which is returned);
    raise AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class SmtpServer:
    """An instance of tests/smtpd.py.

    tls: offer STARTTLS with the session's test certificate (.ca_file).
    require_tls: refuse mail before STARTTLS (and AUTH, if auth is set).
    auth: {"user": "password", ...} -> AUTH PLAIN/LOGIN required.
    faults: extra smtpd.py arguments, e.g. ["--close-after", "2"].
    port: fixed port (default: a free one, chosen by the server).
    start_timeout: how long to wait for the server to be ready.
    """

    def __init__(self, tmpdir, tls=False, require_tls=False, auth=None,
                 faults=None, port=0, start_timeout=10.0):
        if require_tls and not tls:
            raise ValueError("require_tls needs tls")
        self.dir = tempfile.mkdtemp(prefix="smtpd-", dir=tmpdir)
        self.tls = tls
        self.require_tls = require_tls
        self.auth = dict(auth or {})
        self.faults = [str(a) for a in (faults or [])]
        self.port = port or None
        self.start_timeout = start_timeout
        self.ca_file = ca_paths()["ca_file"] if tls else None
        self.proc = None
        self.returncode = None

    # -- lifecycle --

    def args(self):
        a = [PYTHON, SMTPD, "--port", str(self.port or 0), "--dir", self.dir]
        if self.tls:
            ca = ca_paths()
            a += ["--tls-cert", ca["cert"], "--tls-key", ca["key"]]
        if self.require_tls:
            a.append("--require-tls")
        for user, password in self.auth.items():
            a += ["--auth", f"{user}:{password}"]
        return a + self.faults

    def start(self):
        """Start the server (again, after stop(): same dir and port, so a
        test can simulate a server restart)."""
        if self.proc is not None:
            raise RuntimeError("already running")
        portfile = os.path.join(self.dir, "port")
        if os.path.exists(portfile):
            os.remove(portfile)
        with open(os.path.join(self.dir, "smtpd.log"), "ab") as log:
            self.proc = subprocess.Popen(
                self.args(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.returncode = None
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(portfile):
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError("smtpd.py exited early:\n" + self.log())
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError("smtpd.py did not start:\n" + self.log())
            time.sleep(0.01)
        with open(portfile) as f:
            self.port = int(f.read())
        return self

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s. Returns the exit status (0 for a
        clean stop). Idempotent."""
        if self.proc is None:
            return self.returncode
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.returncode = proc.returncode
        return self.returncode

    def kill(self):
        """SIGKILL the server (no clean-up on its side)."""
        if self.proc is not None:
            self.proc.kill()
        return self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def __del__(self):
        if getattr(self, "proc", None) is not None:
            self.proc.kill()

    # -- addresses --

    @property
    def host(self):
        return HOST

    @property
    def url(self):
        return f"smtp://{HOST}:{self.port}"

    # -- records --

    def transactions(self):
        """All transaction records (accepted and refused), in order."""
        return _read_jsonl(os.path.join(self.dir, "transactions.jsonl"))

    def messages(self):
        """[(transaction, bytes)] for the accepted messages, in order."""
        out = []
        for tx in self.transactions():
            if tx["accepted"]:
                with open(os.path.join(self.dir, tx["file"]), "rb") as f:
                    out.append((tx, f.read()))
        return out

    def events(self):
        """All connection events (open/cmd/fault/close), in order."""
        return _read_jsonl(os.path.join(self.dir, "events.jsonl"))

    def connections(self):
        """{conn id: {"commands": [...], "lines": [...], "messages": n,
        "faults": [...], "closed": bool, "reason": str or None}}, from the
        events so far (a connection still open has closed False)."""
        conns = {}
        for ev in self.events():
            c = conns.setdefault(ev["conn"], {
                "commands": [], "lines": [], "messages": 0, "faults": [],
                "closed": False, "reason": None})
            if ev["event"] == "cmd":
                c["commands"].append(ev["cmd"])
                c["lines"].append(ev["line"])
            elif ev["event"] == "fault":
                c["faults"].append(ev["fault"])
            elif ev["event"] == "close":
                c.update(closed=True, reason=ev["reason"],
                         messages=ev["messages"])
        return conns

    def wire_text(self):
        """Every command line received, joined by newlines: for asserting
        that something never reached the server."""
        return "\n".join(ev["line"] for ev in self.events()
                         if ev["event"] == "cmd")

    def wait_for_messages(self, n, timeout=5.0):
        """Wait until at least n messages were accepted; return them."""
        def enough():
            msgs = self.messages()
            return msgs if len(msgs) >= n else None
        return wait_until(enough, timeout, what=f"{n} messages")

    def wait_closed(self, timeout=5.0):
        """Wait until every connection seen so far is closed."""
        return wait_until(
            lambda: (lambda c: c and all(v["closed"] for v in c.values())
                     and c)(self.connections()),
            timeout, what="connections to close")

    def log(self):
        """The server's stdout and stderr."""
        try:
            with open(os.path.join(self.dir, "smtpd.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
