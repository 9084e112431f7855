"""End-to-end tests of the token secret, the change file beside a list and
`newsletter serve`: one-click unsubscribe as a mail provider sends it (curl),
the signup and unsubscribe pages in headless Chromium, and what strangers and
crashes cannot do. Lists are checked with Python's csv module."""
import csv
import glob
import os
import re
import stat
import subprocess
import time

from nl import BIN, Workdir, parse, post, read_eml

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def rows(w, name="subscribers.csv"):
    with open(w.path(name), newline="", encoding="utf-8") as f:
        return {r["email"].lower(): r for r in csv.DictReader(f)}


def mailed_token(w, who):
    """The token in the List-Unsubscribe of a dry run's message to who."""
    w.run("send", "p.md", "--dry-run=out", check=0)
    for path in glob.glob(w.path("out/*.eml")):
        msg = parse(read_eml(path))
        if who in msg["To"]:
            return re.search(r"unsubscribe/(" + UUID + ")", msg["List-Unsubscribe"]).group(1)
    raise AssertionError(f"no message to {who}")


# ---- the token secret ----

def test_secret_is_made_once_private_and_kept():
    with Workdir({"secret": None}, "email\nada@example.test\n") as w:
        w.write("p.md", post("Hello"))
        p = w.run("send", "p.md", "--dry-run=out", check=0)
        assert ".newsletter-secret" in p.stderr, p.stderr
        sec = w.path(".newsletter-secret")
        assert stat.S_IMODE(os.stat(sec).st_mode) == 0o600
        assert re.fullmatch(r"[0-9a-f]{64}\n", open(sec).read())
        first = mailed_token(w, "ada@example.test")
        p = w.run("preview", "p.md", "-o", "pv", check=0)
        assert "secret" not in p.stderr, p.stderr  # said once, when made
        assert mailed_token(w, "ada@example.test") == first
        # The old derivation from the public List-Id alone (empty secret) is not what is mailed.
        w.write_config({"secret": ""})
        w.write_config({"secret": None})
        os.rename(sec, sec + ".old")
        assert mailed_token(w, "ada@example.test") != first  # a new secret, new tokens
        os.rename(sec + ".old", sec)
        assert mailed_token(w, "ada@example.test") == first


def test_a_secret_others_can_read_is_refused():
    with Workdir({"secret": None}, "email\nada@example.test\n") as w:
        w.write("p.md", post("Hello"))
        w.run("send", "p.md", "--dry-run=out", check=0)
        os.chmod(w.path(".newsletter-secret"), 0o644)
        p = w.run("send", "p.md", "--dry-run=out2")
        assert p.returncode != 0 and ".newsletter-secret" in p.stderr and "chmod 600" in p.stderr, p.stderr
        assert not os.path.exists(w.path("out2"))


def test_two_processes_making_the_secret_agree():
    with Workdir({"secret": None}, "email\nada@example.test\n") as w:
        w.write("p.md", post("Hello"))
        procs = [subprocess.Popen([BIN, "-c", w.config, "send", "p.md",
                                   f"--dry-run=o{i}"], cwd=w.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(6)]
        toks = set()
        for i, p in enumerate(procs):
            assert p.wait(60) == 0, p.stderr.read()
            msg = parse(read_eml(glob.glob(w.path(f"o{i}/*.eml"))[0]))
            toks.add(re.search(r"unsubscribe/(" + UUID + ")", msg["List-Unsubscribe"]).group(1))
        assert len(toks) == 1, toks
        assert not [f for f in os.listdir(w.dir) if ".tmp" in f]


# ---- the change file ----

LIST = ("email,name,status,token,created_at,updated_at\n"
        "ada@example.test,Ada,active,11111111-1111-4111-8111-111111111111,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
        "bob@example.test,Bob,active,22222222-2222-4222-8222-222222222222,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
        "cy@example.test,Cy,active,33333333-3333-4333-8333-333333333333,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n")


def test_change_file_is_applied_by_every_reader_and_folded_by_the_next_rewrite():
    with Workdir(None, LIST) as w:
        w.write("p.md", post("Hello"))
        # by token, by address in another case, and a torn last line (a crash mid-write)
        w.write("subscribers.csv.changes",
                "2026-02-01T00:00:00Z\t22222222-2222-4222-8222-222222222222\tunsubscribed\n"
                "2026-02-01T00:00:01Z\tCY@example.test\tbounced\n"
                "garbage line\n"
                "2026-02-01T00:00:02Z\tada@example.test\tunsubscr")
        out = w.run("subscribers", "list", check=0).stdout
        assert re.search(r"bob@example.test.*unsubscribed", out) and re.search(r"cy@example.test.*bounced", out), out
        assert re.search(r"ada@example.test.*active", out), out
        assert "unsubscribed" in w.run("subscribers", "show", "bob@example.test", check=0).stdout
        exp = w.run("subscribers", "export", check=0).stdout
        assert "bob@example.test,Bob,unsubscribed" in exp and "cy@example.test,Cy,bounced" in exp, exp
        w.run("send", "p.md", "--dry-run=out", check=0)
        to = {parse(read_eml(p))["To"] for p in glob.glob(w.path("out/*.eml"))}
        assert len(to) == 1 and "ada@example.test" in to.pop()
        before = open(w.path("subscribers.csv")).read()
        assert before == LIST  # readers never write
        w.run("subscribers", "add", "dee@example.test", check=0)  # a rewrite folds the changes in
        r = rows(w)
        assert r["bob@example.test"]["status"] == "unsubscribed" and r["cy@example.test"]["status"] == "bounced"
        assert r["bob@example.test"]["updated_at"] == "2026-02-01T00:00:00Z"
        assert r["ada@example.test"]["status"] == "active" and "dee@example.test" in r
        assert not os.path.exists(w.path("subscribers.csv.changes"))
        # An unfolded line older than a later rewrite of its row does not undo the rewrite.
        w.run("subscribers", "resubscribe", "bob@example.test", "--force", check=0)
        w.write("subscribers.csv.changes", "2026-02-01T00:00:00Z\tbob@example.test\tunsubscribed\n")
        assert rows(w)["bob@example.test"]["status"] == "active"
        assert re.search(r"bob@example.test.*active", w.run("subscribers", "list", check=0).stdout)
