"""End-to-end tests of `newsletter subscribers`: imports of each export format,
tricky CSV, suppressions that stick, concurrent writers, kill -9 mid-rewrite,
a full disk and an unwritable folder. The list is always checked with Python's
csv module, independently of our reader."""
import csv
import glob
import io
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import time

from nl import BIN, ROOT, Skip, Workdir, parse, post, read_eml

FIX = os.path.join(ROOT, "tests", "fixtures", "import")
HEADER = ["email", "name", "status", "token", "created_at", "updated_at"]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def rows(w, name="subscribers.csv"):
    with open(w.path(name), newline="", encoding="utf-8") as f:
        r = list(csv.reader(f))
    assert r[0][:6] == HEADER, r[0]
    return [dict(zip(r[0], x)) for x in r[1:]]


def by_email(w, name="subscribers.csv"):
    return {r["email"].lower(): r for r in rows(w, name)}


def imp(w, fixture, *extra, check=0):
    return w.run("subscribers", "import", os.path.join(FIX, fixture), *extra, check=check)


def summary(p):
    m = re.search(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) refused as suppressed, "
                  r"(\d+) rejected, (\d+) duplicates merged", p.stdout)
    assert m, p.stdout
    return tuple(int(x) for x in m.groups())


def test_subscribers_add_unsubscribe_remove_and_exit_codes():
    with Workdir() as w:
        p = w.run("subscribers", "add", "Ada@Example.test", "--name", "Ada\r\nBcc: x@example.test", check=0)
        assert "added Ada@Example.test (active)" in p.stdout
        w.run("subscribers", "add", "grace@example.test", "--pending", check=0)
        r = by_email(w)
        assert r["ada@example.test"]["name"] == "Ada Bcc: x@example.test"  # one line, no header
        assert UUID.match(r["ada@example.test"]["token"]) and r["ada@example.test"]["token"] != r["grace@example.test"]["token"]
        assert r["grace@example.test"]["status"] == "pending"
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", r["grace@example.test"]["created_at"])
        p = w.run("subscribers", "add", "ada@example.test", check=0)
        assert "already active" in p.stdout
        assert w.run("subscribers", "add", "not an address", check=65).stderr.count("\n") == 1
        token = r["ada@example.test"]["token"]
        assert "active -> unsubscribed" in w.run("subscribers", "unsubscribe", token, check=0).stdout
        assert "already unsubscribed" in w.run("subscribers", "unsubscribe", "ADA@example.test", check=0).stdout
        p = w.run("subscribers", "add", "ada@example.test", check=77)
        assert "unsubscribed" in p.stderr and "--force" in p.stderr
        w.run("subscribers", "resubscribe", "ada@example.test", check=64)
        w.run("subscribers", "resubscribe", "ada@example.test", "--force", check=0)
        assert by_email(w)["ada@example.test"]["token"] == token  # never changed
        out = w.run("subscribers", "list", check=0).stdout
        assert out == "Ada@Example.test\tactive\tAda Bcc: x@example.test\ngrace@example.test\tpending\t\n"
        assert token not in out  # tokens are not printed in bulk
        assert w.run("subscribers", "list", "--status", "pending", "--count", check=0).stdout == "1\n"
        assert f"token: {token}" in w.run("subscribers", "show", "ada@EXAMPLE.test", check=0).stdout
        w.run("subscribers", "unsubscribe", "00000000-0000-4000-8000-000000000000", check=65)
        p = w.run("subscribers", "unsubscribe", "stranger@example.test", check=0)
        assert "added as unsubscribed" in p.stdout
        assert by_email(w)["stranger@example.test"]["status"] == "unsubscribed"
        w.run("subscribers", "remove", "grace@example.test", check=0)
        assert "grace@example.test" not in by_email(w)
        w.run("subscribers", "remove", "grace@example.test", check=65)
        w.run("subscribers", "list", "--bogus", check=64)
        w.run("subscribers", "frobnicate", check=64)
        assert not glob.glob(w.path("*.tmp"))


def test_subscribers_import_each_format():
    with Workdir() as w:
        s = summary(imp(w, "substack.csv"))
        assert s == (3, 0, 0, 0, 1, 1), s
        r = by_email(w)
        assert r["ada@example.test"]["plan"] == "yearly" and r["ada@example.test"]["created_at"] == "2021-01-15T08:30:00Z"
        assert r["hedy@example.test"]["status"] == "unsubscribed"  # email_disabled
        assert r["ada@example.test"]["email"] == "ada@example.test"  # first spelling kept

        p = imp(w, "mailchimp_subscribed.csv")
        assert "(mailchimp audience)" in p.stdout and summary(p) == (2, 1, 0, 0, 0, 0)
        r = by_email(w)
        k = r["katherine@example.test"]
        assert k["name"] == "Katherine Johnson" and k["status"] == "active"
        assert k["created_at"] == "2020-06-01T14:00:00Z" and k["optin_ip"] == "198.51.100.7"
        assert k["notes"] == 'Prefers "plain" text' and r["ada@example.test"]["tags"] == '"founders","paid"'
        assert r["dorothy@example.test"]["created_at"] == "2021-09-09T09:09:09Z"  # CONFIRM_TIME fallback

        p = imp(w, "mailchimp_unsubscribed.csv")
        assert "(mailchimp unsubscribed)" in p.stdout and summary(p) == (1, 1, 0, 0, 0, 0)
        r = by_email(w)
        assert r["katherine@example.test"]["status"] == "unsubscribed"
        assert r["mary@example.test"]["status"] == "unsubscribed"
        assert r["mary@example.test"]["unsub_campaign_title"] == "November notes, part 2"
        assert "(mailchimp cleaned)" in imp(w, "mailchimp_cleaned.csv").stdout
        assert by_email(w)["annie@example.test"]["status"] == "bounced"

        s = summary(imp(w, "listmonk.csv"))
        assert s == (3, 1, 0, 0, 0, 0), s
        r = by_email(w)
        assert r["edsger@example.test"]["status"] == "unsubscribed"  # blocklisted
        assert r["barbara@example.test"]["status"] == "unsubscribed"  # disabled: not mailed there either
        assert r["alan@example.test"]["status"] == "active"
        assert r["ada@example.test"]["attributes"] == '{"city": "London", "plan": "pro"}'
        assert r["edsger@example.test"]["created_at"] == "2020-08-01T10:00:00Z"

        s = summary(imp(w, "ghost.csv"))
        assert s == (2, 1, 0, 0, 0, 0), s
        r = by_email(w)
        assert r["radia@example.test"]["status"] == "unsubscribed"
        assert r["ada@example.test"]["note"] == "Met at the conference,\nasked about the analytical engine"
        assert r["frances@example.test"]["labels"] == "compers"

        p = imp(w, "plain.txt")
        assert "(plain)" in p.stdout and summary(p) == (1, 1, 1, 1, 1, 1), p.stdout
        assert "plain.txt:7: rejected: not an address: space in address" in p.stdout
        assert re.search(r"plain\.txt:4: refused: hedy@example\.test: unsubscribed since .*--force", p.stdout)
        r = by_email(w)
        assert r["joan@example.test"]["name"] == "Joan Clarke" and r["grace@example.test"]["name"] == "Grace Hopper"
        for row in r.values():
            assert UUID.match(row["token"]), row
        assert len({x["token"] for x in r.values()}) == len(r)


def test_subscribers_import_tricky_csv():
    with Workdir() as w:
        p = imp(w, "tricky.csv")
        assert summary(p) == (6, 0, 0, 0, 6, 1), p.stdout
        for line, why in [(11, "space in address"), (12, "angle brackets"), (14, "invalid UTF-8"),
                          (15, "no address"), (16, "IDNA"), (18, "more fields than the header")]:
            assert re.search(rf"tricky\.csv:{line}: rejected: .*{re.escape(why)}", p.stdout), (line, p.stdout)
        assert "tricky.csv:13: merged: Quoted@Example.TEST: duplicate of line 2 (quoted@example.test)" in p.stdout
        r = by_email(w)
        assert set(r) == {"quoted@example.test", "multiline@example.test", "eve@example.test",
                          "formula@example.test", "html@example.test", "last@example.test"}
        assert r["quoted@example.test"]["name"] == 'Doe, Jane "JD"' and r["quoted@example.test"]["city"] == "Paris"
        assert r["multiline@example.test"]["name"] == "First line second line"
        assert r["eve@example.test"]["name"] == "Eve Bcc: spy@example.test"
        assert r["formula@example.test"]["name"] == '=HYPERLINK("http://example.test","x")'
        assert r["last@example.test"]["city"] == "Kyiv"
        raw = open(w.path("subscribers.csv"), "rb").read()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
        # our own reader agrees with Python's on what it wrote
        listed = w.run("subscribers", "list", check=0).stdout.splitlines()
        assert len(listed) == 6 and 'quoted@example.test\tactive\tDoe, Jane "JD"' in listed


def test_subscribers_imported_list_sends_safely():
    with Workdir() as w:
        imp(w, "tricky.csv")
        w.run("subscribers", "unsubscribe", "html@example.test", check=0)
        w.write("p.md", post("Hello"))
        w.run("send", "p.md", "--dry-run=out", check=0)
        files = sorted(glob.glob(w.path("out/*.eml")))
        assert len(files) == 5
        tokens = {r["email"]: r["token"] for r in rows(w)}
        seen = set()
        for f in files:
            raw = read_eml(f)
            msg = parse(raw)
            head = raw.split(b"\r\n\r\n")[0]
            assert b"\r\nBcc:" not in head and "Bcc" not in msg
            to = msg["To"].addresses[0].addr_spec
            seen.add(to)
            assert tokens[to] in msg["List-Unsubscribe"]
        assert "html@example.test" not in seen and "eve@example.test" in seen


def test_subscribers_suppression_survives_reimport_unless_forced():
    with Workdir() as w:
        imp(w, "mailchimp_subscribed.csv")
        imp(w, "mailchimp_unsubscribed.csv")
        assert by_email(w)["katherine@example.test"]["status"] == "unsubscribed"
        before = open(w.path("subscribers.csv"), "rb").read()
        p = imp(w, "mailchimp_subscribed.csv")
        assert summary(p)[3] == 1, p.stdout
        assert re.search(r"mailchimp_subscribed\.csv:3: refused: katherine@example\.test: unsubscribed since "
                         r"2026|20\d\d", p.stdout)
        assert by_email(w)["katherine@example.test"]["status"] == "unsubscribed"
        assert open(w.path("subscribers.csv"), "rb").read() == before  # nothing else changed either
        p = imp(w, "mailchimp_subscribed.csv", "--force")
        assert "status unsubscribed -> active (--force)" in p.stdout
        assert by_email(w)["katherine@example.test"]["status"] == "active"


def test_subscribers_dry_run_writes_nothing():
    with Workdir(None, "email,name\nada@example.test,Ada\n") as w:
        before = open(w.path("subscribers.csv"), "rb").read()
        p = imp(w, "substack.csv", "--dry-run")
        assert summary(p) == (2, 1, 0, 0, 1, 1) and "dry run" in p.stdout
        assert open(w.path("subscribers.csv"), "rb").read() == before
        assert sorted(os.listdir(w.dir)) == ["config.yml", "subscribers.csv"]


def test_subscribers_legacy_list_keeps_mailed_tokens():
    with Workdir(None, "email,name,city\nada@example.test,Ada,London\n") as w:
        w.write("p.md", post("Hello"))
        w.run("send", "p.md", "--dry-run=out", check=0)
        msg = parse(read_eml(glob.glob(w.path("out/*.eml"))[0]))
        mailed = re.search(r"unsubscribe/([0-9a-f-]{36})", msg["List-Unsubscribe"]).group(1)
        w.run("subscribers", "add", "grace@example.test", check=0)
        r = by_email(w)
        assert r["ada@example.test"]["token"] == mailed and r["ada@example.test"]["city"] == "London"
        w.run("subscribers", "unsubscribe", mailed, check=0)  # the link already mailed still works
        assert by_email(w)["ada@example.test"]["status"] == "unsubscribed"


def test_subscribers_export_round_trips():
    with Workdir() as w:
        for f in ("ghost.csv", "listmonk.csv", "mailchimp_subscribed.csv"):
            imp(w, f)
        full = w.run("subscribers", "export", check=0).stdout
        assert full == open(w.path("subscribers.csv"), encoding="utf-8").read()
        for fmt in ("csv", "listmonk", "mailchimp"):
            out = w.run("subscribers", "export", "--format", fmt, check=0).stdout
            w.write(f"x.{fmt}", out)
            p = w.run("subscribers", "import", f"x.{fmt}", "--list", fmt, check=0)
            assert summary(p)[4] == 0, p.stdout
            again = by_email(w, f"{fmt}.csv")
            orig = by_email(w)
            for e, row in again.items():
                assert row["name"] == orig[e]["name"], (fmt, e)
                assert row["status"] == orig[e]["status"], (fmt, e)
            if fmt == "csv":
                assert {e: r["token"] for e, r in again.items()} == {e: r["token"] for e, r in orig.items()}
        lm = list(csv.DictReader(io.StringIO(w.run("subscribers", "export", "--format", "listmonk", check=0).stdout)))
        assert {r["email"]: r["status"] for r in lm}["edsger@example.test"] == "blocklisted"
        mc = w.run("subscribers", "export", "--format", "mailchimp", check=0).stdout
        assert mc.startswith("Email Address,First Name,Last Name,") and "edsger" not in mc


def test_subscribers_concurrent_adds_lose_nothing():
    with Workdir(None, "email,name\n" + "".join(f"old{i}@example.test,Old {i}\n" for i in range(2000))) as w:
        procs = [subprocess.Popen([BIN, "-c", w.config, "subscribers", "add", f"new{i}@example.test",
                                   "--name", f"New {i}"], cwd=w.dir, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for i in range(20)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        r = by_email(w)
        assert len(r) == 2020
        assert all(f"new{i}@example.test" in r for i in range(20))
        assert not glob.glob(w.path("*.tmp"))


def test_subscribers_unsubscribe_during_import_is_kept():
    big = "email,name\n" + "".join(f"user{i:06d}@example.test,User {i}\n" for i in range(150000))
    with Workdir(None, "email,name\nada@example.test,Ada\n") as w:
        w.write("big.csv", big)
        imp_p = subprocess.Popen([BIN, "-c", w.config, "subscribers", "import", "big.csv"], cwd=w.dir,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.05)
        w.run("subscribers", "unsubscribe", "ada@example.test", check=0)
        w.run("subscribers", "add", "late@example.test", check=0)
        out, err = imp_p.communicate(timeout=300)
        assert imp_p.returncode == 0, err
        r = by_email(w)
        assert len(r) == 150002 and r["ada@example.test"]["status"] == "unsubscribed" and "late@example.test" in r


def test_subscribers_kill_9_leaves_old_or_new_file():
    n = 120000
    with Workdir(None, "email,name\n" + "".join(f"user{i:06d}@example.test,User {i}\n" for i in range(n))) as w:
        t0 = time.monotonic()
        w.run("subscribers", "add", "first@example.test", check=0)  # normalized: tokens for all
        took = time.monotonic() - t0  # kill within a rewrite's own duration, however fast
        expect = n + 1
        rng = random.Random(4)
        killed = 0
        for i in range(12):
            p = subprocess.Popen([BIN, "-c", w.config, "subscribers", "add", f"k{i}@example.test"],
                                 cwd=w.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 0.9) * took)
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed += p.returncode == -signal.SIGKILL
            raw = open(w.path("subscribers.csv"), "rb").read()
            assert raw.endswith(b"\n")
            got = rows(w)
            assert len(got) in (expect, expect + 1), len(got)
            assert all(len(r) == 6 and re.match(r"^[0-9a-f-]{36}$", r["token"]) for r in got[-3:])
            expect = len(got)
        assert killed >= 3, killed  # the test must actually interrupt writers
        assert w.run("subscribers", "list", "--count", check=0).stdout.strip() == str(expect)


def fill_limit(limit):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_subscribers_full_disk_ulimit_keeps_old_file():
    with Workdir(None, "email,name\n" + "".join(f"user{i:05d}@example.test,User {i}\n" for i in range(3000))) as w:
        w.run("subscribers", "add", "first@example.test", check=0)
        before = open(w.path("subscribers.csv"), "rb").read()
        for args in (["add", "more@example.test"], ["import", os.path.join(FIX, "ghost.csv")]):
            p = subprocess.run([BIN, "-c", w.config, "subscribers", *args], cwd=w.dir, capture_output=True,
                               text=True, preexec_fn=fill_limit(len(before) // 2))
            assert p.returncode == 74, (p.returncode, p.stderr)
            assert p.stderr.count("\n") == 1 and "File too large" in p.stderr and "unchanged" in p.stderr, p.stderr
            assert open(w.path("subscribers.csv"), "rb").read() == before
            assert not glob.glob(w.path("*.tmp"))


def test_subscribers_full_disk_tmpfs_keeps_old_file():
    if os.geteuid() != 0:
        raise Skip("needs root to mount a tmpfs; the ulimit test covers the same path")
    with Workdir() as w:
        mnt = w.path("disk")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]).returncode:
            raise Skip("cannot mount a tmpfs here")
        try:
            w.write_config({"subscribers": os.path.join(mnt, "main.csv")})
            with open(os.path.join(mnt, "main.csv"), "w") as f:
                f.write("email,name\n" + "".join(f"user{i:05d}@example.test,User {i}\n" for i in range(2000)))
            w.run("subscribers", "add", "first@example.test", check=0)  # ~170 KB with tokens
            before = open(os.path.join(mnt, "main.csv"), "rb").read()
            p = w.run("subscribers", "add", "second@example.test")
            assert p.returncode == 74 and "No space left on device" in p.stderr, p.stderr
            assert p.stderr.count("\n") == 1
            assert open(os.path.join(mnt, "main.csv"), "rb").read() == before
            assert sorted(os.listdir(mnt)) == ["main.csv", "main.csv.lock"]
        finally:
            subprocess.run(["umount", mnt])


def test_subscribers_unwritable_folder_keeps_old_file():
    with Workdir(None, "email,name\nada@example.test,Ada\n") as w:
        folder = w.path("ro")
        os.mkdir(folder)
        shutil.copy(w.path("subscribers.csv"), os.path.join(folder, "main.csv"))
        w.write_config({"subscribers": os.path.join(folder, "main.csv")})
        before = open(os.path.join(folder, "main.csv"), "rb").read()
        cmd = [BIN, "-c", w.config, "subscribers", "add", "grace@example.test"]
        if os.geteuid() == 0:
            # root writes anywhere: run as nobody in a folder owned by root
            os.chmod(w.dir, 0o755)
            os.chmod(w.config, 0o644)
            os.chmod(os.path.join(folder, "main.csv"), 0o644)
            # nobody may not reach the checkout (CI may clone under /root): run a copy
            shutil.copy(BIN, w.path("newsletter"))
            os.chmod(w.path("newsletter"), 0o755)
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                   w.path("newsletter")] + cmd[1:]
        else:
            os.chmod(folder, 0o555)
        p = subprocess.run(cmd, cwd=w.dir, capture_output=True, text=True)
        assert p.returncode == 73, (p.returncode, p.stderr)
        assert p.stderr.count("\n") == 1 and "Permission denied" in p.stderr and "unchanged" in p.stderr
        assert open(os.path.join(folder, "main.csv"), "rb").read() == before
        assert os.listdir(folder) == ["main.csv"]
        os.chmod(folder, 0o755)


def test_subscribers_add_during_send_loses_nothing():
    with Workdir(None, "email,name\n" + "".join(f"r{i}@example.test,R {i}\n" for i in range(1500))) as w:
        w.write("p.md", post("Hello"))
        send = subprocess.Popen([BIN, "-c", w.config, "send", "p.md", "--dry-run=out"], cwd=w.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(5):
            w.run("subscribers", "add", f"during{i}@example.test", check=0)
        out, err = send.communicate(timeout=300)
        assert send.returncode == 0, err
        n = len(glob.glob(w.path("out/*.eml")))
        assert 1500 <= n <= 1505, n
        assert len(rows(w)) == 1505
