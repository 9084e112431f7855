"""End-to-end tests of subscriber lists as people really have them: every
command that reads a list (send --dry-run, preview, status, subscribers
list/show/export) on each shape. Messages are parsed with Python's email
package; the lists are written by hand the way spreadsheets and exports do."""
import glob
import os

from nl import Workdir, parse, post, read_eml

READERS = ["ada@example.test", "grace@example.test"]


def dry_recipients(w, post_name="p.md"):
    """Run a dry run; the To addresses of the messages it wrote, in order."""
    p = w.run("send", "--dry-run=out", post_name, check=0)
    files = sorted(glob.glob(w.path("out/*.eml")))
    tos = [parse(read_eml(f))["To"].addresses[0].addr_spec for f in files]
    return tos, p


def test_email_only_list_works_in_every_command():
    # The simplest list the README promises works: one column, `email`.
    with Workdir(subscribers="email\nada@example.test\ngrace@example.test\n") as w:
        w.write("p.md", post("Hello"))
        tos, _ = dry_recipients(w)
        assert tos == READERS
        p = w.run("preview", "p.md", "-o", "pv", check=0)
        assert os.path.exists(w.path("pv/p.eml")), p.stdout
        assert parse(read_eml(w.path("pv/p.eml")))["To"].addresses[0].addr_spec == READERS[0]
        p = w.run("status", "p.md", check=0)
        assert "2 (of 2 active subscribers)" in p.stdout, p.stdout
        p = w.run("subscribers", "list", check=0)
        assert [l.split("\t")[0] for l in p.stdout.splitlines()] == READERS


# ---- every shape, through every command that reads a list ----

import csv
import io
import re
import signal
import subprocess
import time

from nl import BIN, spawn, finish
from smtpserver import SmtpServer

SHAPES = {
    "email_only": b"email\nada@example.test\ngrace@example.test\n",
    "header_Email": b"Email,Name\nada@example.test,Ada\ngrace@example.test,Grace\n",
    "header_E-mail": b"Name,E-mail\nAda,ada@example.test\nGrace,grace@example.test\n",
    "header_email_address": b"First name,EMAIL ADDRESS\nAda,ada@example.test\nGrace,grace@example.test\n",
    "bom_crlf": b"\xef\xbb\xbfemail,name\r\nada@example.test,Ada\r\ngrace@example.test,Grace\r\n",
    "semicolons": b"Name;Email;Tier\nLovelace, Ada;ada@example.test;paid\nGrace;grace@example.test;free\n",
    "quoted_newline": b'email,name,note\nada@example.test,"Ada\nLovelace","a ""quoted"" note"\n'
                      b'grace@example.test,Grace,"two\r\nlines"\n',
    "extra_columns_any_order": b"city,token,email,status,joined\nLondon,,ada@example.test,active,2020\n"
                               b"Paris,,grace@example.test,,2021\n",
    "trailing_empty_line": b"email,name\nada@example.test,Ada\ngrace@example.test,Grace\n\n\n",
    "no_final_newline": b"email\nada@example.test\ngrace@example.test",
}


def check_shape(name, data):
    with Workdir() as w:
        w.write("subscribers.csv", data, "wb")
        w.write("p.md", post("Hello"))
        tos, p = dry_recipients(w)
        assert tos == READERS, (name, tos, p.stdout)
        assert "2 (of 2 active subscribers)" in w.run("status", "p.md", check=0).stdout, name
        listed = w.run("subscribers", "list", check=0).stdout.splitlines()
        assert [l.split("\t")[0] for l in listed] == READERS, (name, listed)
        assert "email: ada@example.test" in w.run("subscribers", "show", "ada@example.test", check=0).stdout
        out = w.run("subscribers", "export", check=0).stdout
        exported = list(csv.DictReader(io.StringIO(out)))
        assert [r["email"] for r in exported] == READERS, (name, out)
        # The same file imported into an empty list.
        w.write("in.csv", data, "wb")
        w.run("subscribers", "import", "in.csv", "--list", "./other.csv", check=0)
        assert [l.split("\t")[0] for l in w.run("subscribers", "list", "--list", "./other.csv",
                                               check=0).stdout.splitlines()] == READERS, name
        # And a real send.
        with SmtpServer(w.dir) as srv:
            w.write_config({"smtp": {"url": srv.url}})
            w.run("send", "p.md", "--yes", check=0)
            got = sorted(tx["rcpt_tos"][0] for tx, _ in srv.messages())
            assert got == READERS, (name, got)


def test_every_list_shape_works_in_send_dry_run_status_list_show_export_import():
    for name, data in SHAPES.items():
        check_shape(name, data)


def test_a_list_that_is_not_a_regular_file_is_refused():
    with Workdir() as w:
        w.write("p.md", post("Hello"))
        os.mkfifo(w.path("fifo.csv"))
        os.mkdir(w.path("dir.csv"))
        for path in ("/dev/zero", w.path("fifo.csv"), w.path("dir.csv")):
            for args in (("send", "--dry-run", "p.md"), ("status", "p.md"), ("subscribers", "list")):
                extra = ["--subscribers", path] if args[0] != "subscribers" else ["--list", path]
                p = w.run(*args, *extra, timeout=20)
                assert p.returncode != 0, (path, args)
                assert "not a regular file" in p.stderr and p.stderr.count("\n") == 1, p.stderr
        assert not os.path.exists("/dev/zero.lock")


def test_a_single_line_of_hundreds_of_megabytes_is_refused_quickly():
    with Workdir() as w:
        w.write("p.md", post("Hello"))
        with open(w.path("subscribers.csv"), "wb") as f:
            f.write(b"email\n")
            chunk = b"a" * (1 << 20)
            for _ in range(200):
                f.write(chunk)
        for args in (("send", "--dry-run", "p.md"), ("subscribers", "list")):
            p = w.run(*args, timeout=60)
            assert p.returncode == 65 and "subscribers.csv:2: record longer than" in p.stderr, p.stderr


def test_sigterm_stops_a_command_reading_a_huge_list():
    n = 1000000
    with Workdir() as w:
        with open(w.path("subscribers.csv"), "w") as f:
            f.write("email\n")
            f.writelines(f"r{i}@example.test\n" for i in range(n))
        p = spawn(w, "bg", "subscribers", "list")
        out = w.path("bg-0.out")
        deadline = time.monotonic() + 30
        while os.path.getsize(out) == 0 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        rc, stdout, err = finish(p, timeout=30)
        assert rc == 130, (rc, err)
        assert "interrupted" in err and err.count("\n") == 1, err
        assert 0 < stdout.count("\n") < n


# ---- audiences ----

def test_audience_selects_readers_by_column_and_tag():
    subs = ("email,name,tier,tags\n"
            "ada@example.test,Ada,paid,\"founding, early\"\n"
            "grace@example.test,Grace,free,early\n"
            "linus@example.test,Linus,PAID,\n"
            "ken@example.test,Ken,free,founding\n")
    with Workdir(subscribers=subs) as w:
        w.write("paid.md", post("Paid", audience="{tier: paid}"))
        tos, p = dry_recipients(w, "paid.md")
        assert tos == ["ada@example.test", "linus@example.test"], tos
        assert "2 skipped" in p.stdout and "not in the post's audience" in p.stdout
        assert "2 (of 2 active subscribers)" in w.run("status", "paid.md", check=0).stdout
        w.write("f.md", post("Founders", audience="{tags: [founding]}"))
        for f in glob.glob(w.path("out/*.eml")):
            os.unlink(f)
        tos, _ = dry_recipients(w, "f.md")
        assert tos == ["ada@example.test", "ken@example.test"], tos
        w.write("both.md", post("Both", audience="{tier: free, tags: founding}"))
        for f in glob.glob(w.path("out/*.eml")):
            os.unlink(f)
        tos, _ = dry_recipients(w, "both.md")
        assert tos == ["ken@example.test"], tos
        with SmtpServer(w.dir) as srv:
            w.write_config({"smtp": {"url": srv.url}})
            p = w.run("send", "paid.md", "--yes", check=0)
            assert "audience: tier: paid" in p.stdout, p.stdout
            assert sorted(tx["rcpt_tos"][0] for tx, _ in srv.messages()) == ["ada@example.test",
                                                                            "linus@example.test"]


def test_audience_with_an_unknown_column_is_an_error_before_anything_is_sent():
    with Workdir(subscribers="email,name\nada@example.test,Ada\n") as w:
        w.write("p.md", post("Paid", audience="{tier: paid}"))
        with SmtpServer(w.dir) as srv:
            w.write_config({"smtp": {"url": srv.url}})
            for args in (("send", "p.md", "--yes"), ("send", "--dry-run", "p.md"), ("status", "p.md")):
                p = w.run(*args)
                assert p.returncode == 65, (args, p.returncode, p.stderr)
                assert re.search(r"p\.md:\d+:\d+: audience: no column 'tier'", p.stderr), p.stderr
            assert srv.messages() == []
        assert not glob.glob(w.path("out/*.eml"))


# ---- hostile lists (issue: suppression of every spelling) ----

def test_a_suppressed_row_suppresses_every_spelling_of_its_address():
    subs = ("email,status\nAda@Example.test,active\ngrace@example.test,active\n"
            "ada@example.TEST,unsubscribed\n")
    with Workdir(subscribers=subs) as w:
        w.write("p.md", post("Hello"))
        tos, p = dry_recipients(w)
        assert tos == ["grace@example.test"], tos
        assert "another row with this address is suppressed" in p.stdout
        assert "1 (of 1 active subscribers)" in w.run("status", "p.md", check=0).stdout
        with SmtpServer(w.dir) as srv:
            w.write_config({"smtp": {"url": srv.url}})
            w.run("send", "p.md", "--yes", check=0)
            assert [tx["rcpt_tos"][0] for tx, _ in srv.messages()] == ["grace@example.test"]
