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
