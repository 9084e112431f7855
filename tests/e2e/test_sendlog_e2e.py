"""End-to-end tests of the send log's edges: a file size limit mid-run, the
torn line it leaves, logs that are not regular files, the log's mode, and
what `status` and `send` say about a run (its stop reason, its rate)."""
import os
import re
import resource
import signal
import stat
import subprocess
import time

from nl import BIN, Workdir
from smtpserver import SmtpServer, wait_until
from test_send_e2e import accepted, addrs, check_consistent, read_log, send, setup, subscribers


def size_limit(limit):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def send_limited(w, limit):
    """A send whose files may not grow past limit bytes (ulimit -f)."""
    return subprocess.run([BIN, "-c", w.config, "send", "p.md", "--yes"], cwd=w.dir,
                          capture_output=True, text=True, preexec_fn=size_limit(limit), timeout=120)


def log_bytes(w):
    return open(w.path("sends.log"), "rb").read()


def status(w, *args):
    return w.run("status", "p.md", *args, check=0, timeout=30)


def test_a_file_size_limit_stops_the_send_with_one_clear_error():
    with Workdir(None, subscribers(20)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=1)
        p = send_limited(w, 1500)
        # Not killed by SIGXFSZ: a write error, said once, naming the log.
        assert p.returncode == 74, (p.returncode, p.stderr)
        assert p.stderr.count("\n") == 1 and "sends.log: cannot write: File too large" in p.stderr, p.stderr
        # Whatever the server took is logged as an attempt at least (nobody sent unrecorded).
        text = log_bytes(w).decode()
        intents = {ln.split("\t")[2] for ln in text.splitlines() if ln.count("\t") == 6 and "\tintent\t" in ln}
        assert set(accepted(srv)) <= intents, (set(accepted(srv)), intents)


def test_a_log_cut_mid_line_by_a_size_limit_is_mended_before_the_next_record():
    with Workdir(None, subscribers(20)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, connections=1)
        p = send_limited(w, 1500)
        assert p.returncode != 0, p
        torn = log_bytes(w)
        assert len(torn) == 1500 and not torn.endswith(b"\n"), torn[-80:]
        p = send(w, check=0)
        assert "removed an incomplete last line" in p.stderr and "sends.log" in p.stderr, p.stderr
        # Every record whole (read_log checks seven fields a line), nobody left out.
        log = read_log(w)
        assert log_bytes(w).startswith(torn[:torn.rindex(b"\n") + 1])
        assert {ln.rcpt for ln in log if ln.event == "sent"} == set(addrs(20))
        check_consistent(w, srv, exact=False)
        s = status(w)
        assert s.stderr == "", s.stderr  # the reader finds nothing malformed
        assert re.search(r"sent\s+20\n", s.stdout) and re.search(r"in doubt\s+0\n", s.stdout), s.stdout


def test_a_log_that_is_not_a_regular_file_is_refused_without_a_lock_file():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        os.symlink("/dev/zero", w.path("zero.log"))
        os.symlink("/dev/full", w.path("full.log"))
        os.symlink("/dev/null", w.path("null.log"))
        os.mkfifo(w.path("fifo.log"))
        os.mkdir(w.path("dir.log"))
        kinds = {"zero.log": "a character device", "full.log": "a character device",
                 "null.log": "a character device", "fifo.log": "a FIFO", "dir.log": "a directory"}
        for name, kind in kinds.items():
            for cmd in (["send", "p.md", "--yes", "--log", name], ["status", "p.md", "--log", name]):
                p = w.run(*cmd, timeout=20)
                assert p.returncode in (66, 73), (cmd, p.returncode, p.stderr)
                assert f"{name}: is {kind}: the send log must be a regular file" in p.stderr, p.stderr
            assert not os.path.exists(w.path(name + ".lock")), name
        assert not accepted(srv)


def test_a_new_log_and_its_lock_are_for_the_owner_only():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        old = os.umask(0o022)
        try:
            send(w, check=0)
        finally:
            os.umask(old)
        assert stat.S_IMODE(os.stat(w.path("sends.log")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(w.path("sends.log.lock")).st_mode) == 0o600
        # A log that exists keeps the mode its owner gave it.
        os.chmod(w.path("sends.log"), 0o640)
        send(w, "--resend", check=0)
        assert stat.S_IMODE(os.stat(w.path("sends.log")).st_mode) == 0o640


def test_reading_a_huge_log_stops_on_sigint():
    with Workdir(None, subscribers(2)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv)
        # 8 GiB of nothing (sparse, no disk used) then one good line: one endless line to read.
        with open(w.path("sends.log"), "wb") as f:
            f.truncate(8 << 30)
        with open(w.path("sends.log"), "ab") as f:
            f.write(b"\n2026-01-01T00:00:00.000Z\tp\tr000@example.test\tsent\t250\t-\tOk\n")
        p = subprocess.Popen([BIN, "-c", w.config, "send", "p.md", "--yes"], cwd=w.dir,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The lock's holder line is written after the signal handlers are in place.
        wait_until(lambda: os.path.exists(w.path("sends.log.lock"))
                   and open(w.path("sends.log.lock")).read().startswith("pid"), what="the lock")
        time.sleep(0.2)
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=10)
        finally:
            p.kill()
        assert p.returncode == 130, (p.returncode, err)
        assert time.monotonic() - t0 < 5
        assert "sends.log: reading interrupted" in err, err
        assert not accepted(srv)


def test_status_says_why_the_last_run_stopped():
    with Workdir(None, subscribers(3)) as w, \
            SmtpServer(w.dir, faults=["--tempfail-rcpt", "r001@example.test:99"]) as srv:
        setup(w, srv, retries=0)
        send(w, check=75)
        s = status(w).stdout
        assert re.search(r"last run stopped\s+1 recipient deferred\n", s), s
        srv.stop()
        srv2 = SmtpServer(w.dir)
        with srv2:
            setup(w, srv2, retries=0)
            send(w, check=0)
            s = status(w).stdout
            assert "last run stopped" not in s, s  # finished since


def test_send_and_status_report_the_same_rate():
    with Workdir(None, subscribers(12)) as w, SmtpServer(w.dir) as srv:
        setup(w, srv, rate=20, connections=1)
        p = send(w, check=0)
        m = re.search(r"\(([\d.]+) msg/s\)", p.stdout)
        assert m, p.stdout
        s = status(w).stdout
        m2 = re.search(r"rate\s+([\d.]+) msg/s", s)
        assert m2, s
        sent_rate, status_rate = float(m.group(1)), float(m2.group(1))
        # One definition; the log keeps milliseconds, so the last digit may differ.
        assert 5 < sent_rate <= 25 and abs(sent_rate - status_rate) <= 0.2, (p.stdout, s)


def test_schedule_shows_one_due_column_in_utc():
    with Workdir() as w:
        w.write("posts/a.md", "---\ntitle: A\nsend_at: 2026-05-08T07:00:00Z\n---\nHi\n")
        s = w.run("schedule", "--now", "2026-05-01T09:00:00Z", check=0).stdout
        head = s.splitlines()[0]
        assert head.count("DUE") == 1 and re.match(r"STATE +DUE \(UTC\) +POST$", head), s
        assert re.search(r"^scheduled +2026-05-08 07:00 UTC +\S*posts/a\.md", s, re.M), s
