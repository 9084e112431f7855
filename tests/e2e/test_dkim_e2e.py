"""End-to-end tests of DKIM signing (config `dkim:`): keys made with openssl,
messages from a dry run, a proof copy, the preview and a real send to the
test SMTP server, each verified with python3-dkim against the test's own TXT
records (no DNS). A message changed after signing must fail; a key file
others can read is refused."""
import base64
import glob
import os
import subprocess
import sys

from nl import EXAMPLES, Skip, Workdir, parse, post, read_eml
from smtpserver import SmtpServer

try:
    import dkim
except ImportError:  # Debian's python3-dkim, when the tests run under another python3
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import dkim
    except ImportError:
        dkim = None

DOMAIN = "example.test"
SUBS = ("email,name\nada@example.test,Ada Lovelace\n"
        "zoe@example.test,Zoë Ŝtraße-Łukasiewicz 東京\n"
        "bob@example.test,\"Bob \"\"the dot\"\" Smith\"\n")
# A body a relay would touch if it could: long lines, leading dots, white space at line ends.
ODD_BODY = ("Ünïcödé héllo, naïve café — 東京.\n\n"
            ".a line that starts with a dot\n\n..two dots\n\n.\n\n"
            + "long " * 300 + "\n\n"
            + "x" * 1200 + "\n\n"
            "trailing spaces   \n\ttab\tin line\n\n\n")


def need_tools():
    if dkim is None:
        raise Skip("python3-dkim is not installed (tests/deps.sh)")


def make_keys(w):
    """rsa.pem (2048) and ed.pem (Ed25519), mode 0600, and the TXT records for them."""
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", w.path("rsa.pem")], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", w.path("ed.pem")],
                   check=True, capture_output=True)
    recs = {}
    for f, sel, k in (("rsa.pem", "rsa1", "rsa"), ("ed.pem", "ed1", "ed25519")):
        os.chmod(w.path(f), 0o600)
        der = subprocess.run(["openssl", "pkey", "-in", w.path(f), "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        # RFC 8463: an Ed25519 p= is the bare 32-byte key, not the SubjectPublicKeyInfo.
        p = base64.b64encode(der[-32:] if k == "ed25519" else der).decode()
        recs[f"{sel}._domainkey.{DOMAIN}."] = f"v=DKIM1; k={k}; p={p}".encode()
    return recs


def dkim_config(w, srv=None, which="both"):
    d = {"domain": DOMAIN}
    if which in ("rsa", "both"):
        d.update(selector="rsa1", key_file="rsa.pem")
    if which == "ed":
        d.update(selector="ed1", key_file="ed.pem")
    if which == "both":
        d.update(selector2="ed1", key_file2="ed.pem")
    extra = {"dkim": d}
    if srv:
        extra["smtp"] = {"url": srv.url}
    w.write_config(extra)


def verify(raw, recs):
    """How many DKIM-Signature fields raw has and how many of them verify."""
    def dnsfunc(name, timeout=5):
        name = name.decode()
        return recs.get(name if name.endswith(".") else name + ".", b"")
    d = dkim.DKIM(raw)
    n = raw.split(b"\r\n\r\n", 1)[0].count(b"\nDKIM-Signature:") + raw.startswith(b"DKIM-Signature:")
    ok = 0
    for i in range(n):
        try:
            ok += bool(d.verify(idx=i, dnsfunc=dnsfunc))
        except dkim.DKIMException:  # a body hash mismatch is raised, not returned
            pass
    return n, ok


def check_signed(raw, recs, n=2):
    parse(raw)
    assert raw.startswith(b"DKIM-Signature: v=1;"), raw[:200]
    head = raw.split(b"\r\n\r\n", 1)[0]
    sig = False
    for line in head.split(b"\r\n"):
        sig = line.startswith(b"DKIM-Signature:") or (sig and line[:1] in (b" ", b"\t"))
        if sig:
            assert len(line) <= 78, line
    assert verify(raw, recs) == (n, n), (verify(raw, recs), head.decode())


def dry_run(w, slug):
    w.run("send", "p.md", "--dry-run=dry", check=0)
    files = sorted(glob.glob(w.path("dry/*.eml")) + glob.glob(w.path(f"dry/{slug}/*.eml")))
    assert files, os.listdir(w.path("dry"))
    return [read_eml(f) for f in files]


def test_sample_post_signed_by_both_keys_in_dry_run_send_proof_and_preview():
    need_tools()
    with Workdir(subscribers=SUBS) as w, SmtpServer(w.dir) as srv:
        recs = make_keys(w)
        dkim_config(w, srv)
        w.write("p.md", open(os.path.join(EXAMPLES, "first-light.md")).read())
        w.write("hills.png", open(os.path.join(EXAMPLES, "hills.png"), "rb").read(), "wb")
        msgs = dry_run(w, "first-light")
        assert len(msgs) == 3
        for raw in msgs:
            check_signed(raw, recs)
        h = msgs[0].split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
        assert b"h=From:To:Subject:Date:Message-ID:MIME-Version: Content-Type:List-Id:" \
               b"List-Unsubscribe:List-Unsubscribe-Post: From;" in h, h
        w.run("preview", "p.md", "-o", "pv", check=0)
        check_signed(read_eml(w.path("pv/first-light.eml")), recs)
        w.run("send", "p.md", "--yes", "--to", "proof@example.test", check=0)
        w.run("send", "p.md", "--yes", check=0)
        got = srv.messages()
        assert len(got) == 4, [t for t, _ in got]
        for _, raw in got:
            check_signed(raw, recs)


def test_non_ascii_long_lines_and_dots_survive_smtp_with_each_key_alone():
    need_tools()
    for which in ("rsa", "ed"):
        with Workdir(subscribers=SUBS) as w, SmtpServer(w.dir) as srv:
            recs = make_keys(w)
            dkim_config(w, srv, which)
            w.write_config({"dkim": {"domain": DOMAIN, "selector": "rsa1" if which == "rsa" else "ed1",
                                     "key_file": "rsa.pem" if which == "rsa" else "ed.pem"},
                            "smtp": {"url": srv.url}, "reply_to": "re@example.test"})
            w.write("p.md", post("Ünïcödé title — 東京 " + "very long title " * 8, ODD_BODY))
            for raw in dry_run(w, "p"):
                check_signed(raw, recs, 1)
                assert b"Reply-To" in raw.split(b"bh=")[0], which
            w.run("send", "p.md", "--yes", check=0)
            got = srv.messages()
            assert len(got) == 3
            for _, raw in got:
                check_signed(raw, recs, 1)
                # Lines the post starts with a dot leave quoted-printable as =2E (never dot-stuffed).
                assert b"\r\n=2Ea line that starts with a dot" in raw and b"\r\n=2E.two dots" in raw


def test_a_message_changed_after_signing_fails():
    need_tools()
    with Workdir(subscribers=SUBS) as w:
        recs = make_keys(w)
        dkim_config(w)
        w.write("p.md", post("Hello", ODD_BODY))
        raw = dry_run(w, "p")[0]
        assert verify(raw, recs) == (2, 2)
        head, body = raw.split(b"\r\n\r\n", 1)
        i = body.index(b"h", 10)
        changed = head + b"\r\n\r\n" + body[:i] + b"H" + body[i + 1:]
        assert verify(changed, recs) == (2, 0)
        assert b"\r\nSubject: Hello\r\n" in head
        changed = head.replace(b"\r\nSubject: Hello\r\n", b"\r\nSubject: Hellp\r\n") + b"\r\n\r\n" + body
        assert verify(changed, recs) == (2, 0)
        # A second From on top, as a forger would add one: the oversigned From catches it.
        changed = b"From: Evil <evil@example.test>\r\n" + raw
        assert verify(changed, recs) == (2, 0)


def test_key_readable_by_others_is_refused_with_one_line():
    need_tools()
    with Workdir(subscribers=SUBS) as w, SmtpServer(w.dir) as srv:
        make_keys(w)
        dkim_config(w, srv, "both")
        os.chmod(w.path("ed.pem"), 0o644)
        w.write("p.md", post("Hello"))
        for args in (["send", "p.md", "--yes"], ["send", "p.md", "--dry-run=dry"],
                     ["preview", "p.md", "-o", "pv"]):
            p = w.run(*args)
            assert p.returncode != 0, (args, p.stdout)
            err = p.stderr.strip()
            assert "\n" not in err and "config.yml:" in err and "dkim.key_file2" in err \
                and "mode 0644" in err, (args, p.stderr)
        assert srv.messages() == []
        assert not os.path.exists(w.path("dry"))


def test_parallel_connections_and_a_retry_sign_each_message_once():
    """Signing runs on each connection's thread: 40 readers over 4 connections,
    one of them refused once (451) and retried, which must not sign it again."""
    need_tools()
    subs = "email,name\n" + "".join(f"r{i:03d}@example.test,Reader {i}\n" for i in range(39)) \
        + "flaky@example.test,Flaky\n"
    with Workdir(subscribers=subs) as w, \
            SmtpServer(w.dir, faults=["--tempfail-rcpt", "flaky@example.test:1"]) as srv:
        recs = make_keys(w)
        dkim_config(w, srv)
        w.write_config({"dkim": {"domain": DOMAIN, "selector": "rsa1", "key_file": "rsa.pem",
                                 "selector2": "ed1", "key_file2": "ed.pem"},
                        "smtp": {"url": srv.url, "connections": 4}})
        w.write("p.md", post("Hello", ODD_BODY))
        w.run("send", "p.md", "--yes", check=0)
        got = srv.messages()
        assert sorted(t["rcpt_tos"][0] for t, _ in got) == sorted(
            [f"r{i:03d}@example.test" for i in range(39)] + ["flaky@example.test"]), got[:1]
        for _, raw in got:
            check_signed(raw, recs)


def test_serve_confirmation_mail_is_signed_like_the_posts():
    # A domain publishing DMARC p=reject needs every message signed, the
    # signup confirmation included.
    need_tools()
    from test_serve_e2e import Serve
    with Workdir(None, "email,name\nada@example.org,Ada\n") as w, SmtpServer(w.dir) as srv:
        recs = make_keys(w)
        dkim_config(w, srv, "both")
        with Serve(w) as s:
            code, body = s.req("/subscribe", data="email=new@example.test&name=New&website=")
            assert code == 200, body
            from smtpserver import wait_until
            wait_until(lambda: srv.messages(), 20, what="the confirmation message")
        (tx, raw), = srv.messages()
        assert tx["rcpt_tos"] == ["new@example.test"], tx
        check_signed(raw, recs, n=2)
