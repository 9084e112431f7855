"""End-to-end tests of lists and prompts as an attacker or an unlucky user
meets them: a NUL byte in a plain import, an address suppressed under another
spelling, duplicated tokens, a device given as a list, control characters in
addresses, and a list that changes while `send` waits for its confirmation."""
import csv
import os
import pty
import select
import subprocess
import time

from nl import BIN, Workdir, post
from smtpserver import SmtpServer


def rows(w, name):
    with open(w.path(name), newline="") as f:
        return list(csv.DictReader(f))


def test_import_of_a_plain_list_with_a_nul_byte_on_its_first_line_rejects_the_line():
    with Workdir() as w:
        w.write("l.txt", b"a@example.test\x00x\nb@example.test\n", "wb")
        p = w.run("subscribers", "import", "l.txt", "--list", "./l.csv", check=0)
        assert "l.txt:1: rejected: a@example.test: NUL byte in the line" in p.stdout, p.stdout
        assert [r["email"] for r in rows(w, "l.csv")] == ["b@example.test"]


def test_import_keeps_a_suppression_whatever_the_spelling():
    with Workdir() as w:
        w.write("a.csv", "email,status\nAda@Example.test,active\nada@example.TEST,unsubscribed\n")
        w.run("subscribers", "import", "a.csv", "--list", "./l.csv", check=0)
        assert [(r["email"], r["status"]) for r in rows(w, "l.csv")] == [("Ada@Example.test", "unsubscribed")]
        w.write("b.csv", "email\nADA@example.test\n")
        p = w.run("subscribers", "import", "b.csv", "--list", "./l.csv", check=0)
        assert "refused" in p.stdout and rows(w, "l.csv")[0]["status"] == "unsubscribed", p.stdout


def test_duplicated_tokens_are_renewed_on_import_and_said():
    tok = "11111111-1111-4111-8111-111111111111"
    with Workdir() as w:
        w.write("a.csv", f"email,token\na@example.test,{tok}\nb@example.test,{tok}\n")
        p = w.run("subscribers", "import", "a.csv", "--list", "./l.csv", check=0)
        assert "a.csv:3: added: b@example.test: new token: its token was another row's" in p.stdout, p.stdout
        w.write("b.csv", f"email,token\nc@example.test,{tok}\n")
        p = w.run("subscribers", "import", "b.csv", "--list", "./l.csv", check=0)
        assert "c@example.test: new token" in p.stdout, p.stdout
        toks = [r["token"] for r in rows(w, "l.csv")]
        assert toks[0] == tok and len(set(toks)) == 3, toks
        # The unsubscribe link of one reader unsubscribes that reader only.
        w.run("subscribers", "unsubscribe", tok, "--list", "./l.csv", check=0)
        assert [r["status"] for r in rows(w, "l.csv")] == ["unsubscribed", "active", "active"]


def test_a_device_is_not_a_list_and_gets_no_lock_file_beside_it():
    with Workdir() as w:
        for args in (("add", "q@example.test"), ("unsubscribe", "q@example.test"),
                     ("import", "x.csv"), ("remove", "q@example.test")):
            w.write("x.csv", "email\nq@example.test\n")
            p = w.run("subscribers", *args, "--list", "/dev/null", timeout=20)
            assert p.returncode == 66 and "/dev/null: not a regular file" in p.stderr, (args, p.stderr)
        assert not os.path.exists("/dev/null.lock")


def test_control_characters_from_addresses_are_never_echoed():
    with Workdir(subscribers='email,name\n"bad\raddress@example.test",X\nok@example.test,Ok\n') as w:
        w.write("p.md", post("Hello"))
        p = w.run("subscribers", "add", "a@b.test\r\nX-Injected: 1")
        assert p.returncode != 0 and "\r" not in p.stderr and p.stderr.count("\n") == 1, repr(p.stderr)
        p = w.run("send", "--dry-run", "p.md", check=0)
        assert "\r" not in p.stdout and "skipped line 2 bad?address@example.test" in p.stdout, repr(p.stdout)
        p = w.run("send", "p.md", "--yes", "--to", "x@example.test\r\nBcc: y@example.test")
        assert p.returncode == 64 and "\r" not in p.stderr and p.stderr.count("\n") == 1, repr(p.stderr)


def _confirm_after(w, change):
    """Run send at a terminal; when it asks, change the list, then answer y. (rc, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN, "-c", w.config, "send", "p.md"], cwd=w.dir, stdin=slave,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    while b"Send now?" not in out and time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    assert b"Send to: 20 recipients" in out, out
    change()
    os.write(master, b"y\n")
    rest, _ = p.communicate(timeout=60)
    os.close(master)
    return p.returncode, (out + rest).decode()


def test_what_was_confirmed_is_what_is_sent():
    def readers(n):
        return "email\n" + "".join(f"r{i:03d}@example.test\n" for i in range(n))
    with Workdir(subscribers=readers(20)) as w, SmtpServer(w.dir) as srv:
        w.write_config({"smtp": {"url": srv.url}})
        w.write("p.md", post("Hello"))

        def replace_list():  # as subscribers add/import do: a new file renamed over the old
            w.write("new.csv", readers(110))
            os.replace(w.path("new.csv"), w.path("subscribers.csv"))
        rc, out = _confirm_after(w, replace_list)
        assert rc == 0, out
        assert len(srv.messages()) == 20, (len(srv.messages()), out)

    with Workdir(subscribers=readers(20)) as w, SmtpServer(w.dir) as srv:
        w.write_config({"smtp": {"url": srv.url}})
        w.write("p.md", post("Hello"))

        def append_in_place():  # an editor or a script appending to the same file
            time.sleep(0.05)
            with open(w.path("subscribers.csv"), "a") as f:
                f.write("".join(f"x{i:03d}@example.test\n" for i in range(90)))
        rc, out = _confirm_after(w, append_in_place)
        assert rc == 65 and "changed in place" in out, (rc, out)
        assert srv.messages() == []


def test_rate_on_the_command_line_is_range_checked_like_the_config():
    with Workdir(subscribers="email\na@example.test\n") as w:
        w.write("p.md", post("Hello"))
        for bad in ("1e-300", "-1", "nan", "2e6"):
            p = w.run("send", "p.md", "--yes", "--rate", bad, "--smtp", "smtp://127.0.0.1:9")
            assert p.returncode == 64, (bad, p.returncode, p.stderr)
