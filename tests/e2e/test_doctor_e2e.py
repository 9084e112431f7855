"""End-to-end tests of `newsletter doctor`: a local DNS server (Debian's
dnsmasq on a loopback port, named with NEWSLETTER_RESOLVER or
doctor.resolver) with TXT records for a good domain and broken ones, the test
SMTP server with and without TLS and AUTH, and a one-click unsubscribe
endpoint (http.server with TLS from tests/gen-ca.sh's CA). Each line's
status is checked, every failing line must name its fix, and the exit status
is 0 only when nothing failed."""
import atexit
import base64
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nl import Skip, Workdir, post
from smtpserver import SmtpServer, ca_paths

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
PW_ENV = "NL_DOCTOR_TEST_PW"
LINE = re.compile(r"^(ok|warn|FAIL|skip)\s+(\S+)\s+(.*)$")

_keys = None
_dns = None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keys():
    """Key files made once: rsa.pem and ed.pem (in use), other.pem (never published), with
    the p= values their DNS records need."""
    global _keys
    if _keys is None:
        d = tempfile.mkdtemp(prefix="nl-doctor-keys-")
        atexit.register(shutil.rmtree, d, True)
        _keys = {"dir": d}
        for name, alg in (("rsa", "RSA"), ("ed", "ed25519"), ("other", "RSA")):
            path = os.path.join(d, name + ".pem")
            args = ["openssl", "genpkey", "-algorithm", alg, "-out", path]
            if alg == "RSA":
                args[4:4] = ["-pkeyopt", "rsa_keygen_bits:2048"]
            subprocess.run(args, check=True, capture_output=True)
            os.chmod(path, 0o600)
            der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-outform", "DER"],
                                 check=True, capture_output=True).stdout
            _keys[name] = base64.b64encode(der[-32:] if alg == "ed25519" else der).decode()
            if alg == "RSA":  # the bare RSAPublicKey (PKCS#1) some publish instead
                der = subprocess.run(["openssl", "rsa", "-in", path, "-RSAPublicKey_out",
                                      "-outform", "DER"], check=True, capture_output=True).stdout
                _keys[name + "-pkcs1"] = base64.b64encode(der).decode()
    return _keys


def txt(name, text, chunk=200):
    """A --txt-record option; long text goes in several strings, which must be joined."""
    parts = [text[i:i + chunk] for i in range(0, len(text), chunk)] or [""]
    return f"--txt-record={name}," + ",".join(parts)


def records():
    k = keys()
    return [
        # good.test: everything right; its SPF comes in two strings.
        txt("good.test", "v=spf1 ip4:127.0.0.1 -all", chunk=20),
        txt("good.test", "some-site-verification=abc"),
        txt("s1._domainkey.good.test", f"v=DKIM1; k=rsa; p={k['rsa']}"),
        txt("e1._domainkey.good.test", f"v=DKIM1; k=ed25519; p={k['ed']}"),
        txt("s1._domainkey.mail.good.test", f"v=DKIM1; k=rsa; p={k['rsa']}"),
        txt("p1._domainkey.good.test", f"v=DKIM1; k=rsa; p={k['rsa-pkcs1']}"),
        txt("p2._domainkey.good.test", f"v=DKIM1; k=rsa; p={k['other-pkcs1']}"),
        txt("e2._domainkey.good.test", f"v=DKIM1; k=ed25519; p={k['rsa']}"),
        txt("_dmarc.good.test", "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"),
        # broken.test: no SPF, a DKIM key that is not ours, no DMARC.
        txt("s1._domainkey.broken.test", f"v=DKIM1; k=rsa; p={k['other']}"),
        # lax.test: +all and p=none: warnings only.
        txt("lax.test", "v=spf1 +all"),
        txt("s1._domainkey.lax.test", f"v=DKIM1; k=rsa; p={k['rsa']}"),
        txt("_dmarc.lax.test", "v=DMARC1; p=none"),
        # inc.test: the relay through include: and a:, and a record that misses it.
        txt("inc.test", "v=spf1 include:_spf.inc.test -all"),
        txt("_spf.inc.test", "v=spf1 ip4:192.0.2.0/24 a:relay.inc.test ~all"),
        "--address=/relay.inc.test/127.0.0.1",
        txt("s1._domainkey.inc.test", f"v=DKIM1; k=rsa; p={k['rsa']}"),
        txt("_dmarc.inc.test", "v=DMARC1; p=quarantine"),
        # mx.test: the relay as the domain's MX host.
        txt("mx.test", "v=spf1 mx -all"),
        "--mx-host=mx.test,mail.mx.test,10",
        "--address=/mail.mx.test/127.0.0.1",
        txt("miss.test", "v=spf1 ip4:192.0.2.7 -all"),
        txt("_dmarc.miss.test", "v=DMARC1; p=reject"),
        txt("s1._domainkey.miss.test", f"v=DKIM1; k=rsa; p={k['rsa']}"),
        # esc.test: a stranger's record with a terminal escape sequence in it.
        txt("esc.test", "v=spf1 \x1b[2J\x1b[31m -all"),
    ] + [f"--local=/{d}/" for d in ("good.test", "broken.test", "lax.test", "inc.test",
                                    "miss.test", "esc.test", "mx.test")]


def dns_query(port, name):
    """One TXT query over UDP; the reply's rcode, or None when none came."""
    q = struct.pack(">HHHHHH", 0x4e4c, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack(">HH", 16, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", port))
            return s.recv(4096)[3] & 0x0f
        except OSError:
            return None


def dns():
    """The dnsmasq of this module, started once: its "127.0.0.1:PORT"."""
    global _dns
    if _dns is None:
        if not os.path.exists(DNSMASQ):
            raise Skip("dnsmasq is not installed (Debian dnsmasq-base, tests/deps.sh)")
        port = free_port()
        log = tempfile.NamedTemporaryFile(prefix="nl-dnsmasq-", suffix=".log", delete=False)
        args = [DNSMASQ, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null"] + records()
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        atexit.register(lambda: (proc.terminate(), proc.wait(5)))
        deadline = time.monotonic() + 10
        while dns_query(port, "good.test") != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dnsmasq did not start:\n" + open(log.name).read())
        _dns = f"127.0.0.1:{port}"
    return _dns


class Unsub:
    """A one-click unsubscribe endpoint on 127.0.0.1 answering every POST with code."""

    def __init__(self, code=200, tls=True):
        self.code = code
        self.posts = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                outer.posts.append((self.path, self.rfile.read(n).decode(),
                                    self.headers.get("Content-Type")))
                self.send_response(outer.code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca = ca_paths()
            ctx.load_cert_chain(ca["cert"], ca["key"])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def setup(w, srv, unsub, domain="good.test", key="rsa", selector="s1", dkim_domain=None,
          tls="starttls", auth=True, ca=True, smtp=None, **extra):
    """A config for domain against srv and unsub; keys copied into the work dir."""
    k = keys()
    shutil.copy(os.path.join(k["dir"], key + ".pem"), w.path("key.pem"))
    os.chmod(w.path("key.pem"), 0o600)
    s = {"url": srv.url, "tls": tls, "timeout": 10}
    if ca and srv.ca_file:
        s["ca_file"] = srv.ca_file
    if auth:
        s.update(username="writer", password_env=PW_ENV)
    s.update(smtp or {})
    cfg = {"from": f"Test Notes <news@{domain}>",
           "base_url": unsub.base if unsub else None,
           "smtp": s,
           "dkim": {"domain": dkim_domain or domain, "selector": selector, "key_file": "key.pem"},
           "doctor": {"ca_file": ca_paths()["ca_file"]},
           "posts": "posts"}
    cfg.update(extra)
    w.write_config(cfg)
    w.write("subscribers.csv", "email,name\nada@example.org,Ada\nbob@example.org,Bob\n")
    w.write("posts/2026-01-01-first.md", post("First", "Hello *there*.\n", date="2026-01-01"))
    w.write("posts/2026-02-01-second.md", post("Second", "Newer.\n", date="2026-02-01"))
    w.write("posts/2026-03-01-draft.md", post("Draft", "Not yet.\n", date="2026-03-01",
                                              draft=True))


def doctor(w, *args, password="s3cret", resolver=None):
    env = {PW_ENV: password, "NEWSLETTER_RESOLVER": resolver if resolver is not None else dns()}
    p = w.run("doctor", *args, env=env, timeout=120)
    lines, last = {}, None
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if m:
            last = m.group(2)
            assert last not in lines or last in ("dns.dkim",), (last, p.stdout)
            lines.setdefault(last, []).append({"status": m.group(1), "what": m.group(3), "fix": ""})
        elif line.strip().startswith("fix: ") and last:
            lines[last][-1]["fix"] = line.strip()[5:]
    # Every line that is not ok says how to fix it (skips excepted: they follow a failure).
    for name, entries in lines.items():
        for e in entries:
            if e["status"] in ("FAIL", "warn"):
                assert e["fix"], (name, e, p.stdout)
    return p, {k: v[0] for k, v in lines.items()}, lines


def statuses(lines):
    return {k: v["status"] for k, v in lines.items()}


ALL = ["config", "templates", "list", "from", "base_url", "smtp.connect", "smtp.ehlo",
       "smtp.starttls", "smtp.certificate", "smtp.auth", "smtp.mail_from", "smtp.rcpt_to",
       "smtp.rset", "dns.spf", "dns.spf_relay", "dns.dkim", "dns.dmarc", "align.dkim",
       "align.bounce", "unsubscribe", "post.html_size", "post.text", "post.headers",
       "post.images"]


def test_good_setup_every_line_ok_and_nothing_sent():
    with Workdir() as w, SmtpServer(w.dir, tls=True, require_tls=True,
                                    auth={"writer": "s3cret"}) as srv, Unsub() as u:
        setup(w, srv, u)
        p, lines, _ = doctor(w)
        assert p.returncode == 0, p.stdout + p.stderr
        assert list(lines) == ALL, p.stdout
        assert set(statuses(lines).values()) == {"ok"}, p.stdout
        assert "nothing blocks sending" in p.stdout
        assert "2 readers" in lines["list"]["what"]
        assert "ip4:127.0.0.1" in lines["dns.spf"]["what"]  # the two strings joined
        assert "matched by +ip4:127.0.0.1" in lines["dns.spf_relay"]["what"]
        assert "policy reject" in lines["dns.dmarc"]["what"]
        assert "logged in as writer" in lines["smtp.auth"]["what"]
        assert "2026-02-01-second.md" in lines["post.html_size"]["what"]  # newest, not the draft
        # The probe: MAIL, RCPT, RSET, QUIT; no DATA, no message.
        cmds = [c for conn in srv.connections().values() for c in conn["commands"]]
        assert "MAIL" in cmds and "RCPT" in cmds and "RSET" in cmds and "QUIT" in cmds, cmds
        assert "DATA" not in cmds and not srv.messages()
        assert "RCPT TO:<news@good.test>" in srv.wire_text()
        # One POST, to a token nobody has, with the RFC 8058 body.
        assert len(u.posts) == 1, u.posts
        path, body, ctype = u.posts[0]
        assert re.fullmatch(r"/unsubscribe/[0-9a-f]{32}", path), path
        assert body == "List-Unsubscribe=One-Click"
        assert ctype == "application/x-www-form-urlencoded"


def test_broken_dns_fails_with_the_records_to_publish():
    with Workdir() as w, SmtpServer(w.dir, tls=True, auth={"writer": "s3cret"}) as srv, \
            Unsub() as u:
        setup(w, srv, u, domain="broken.test")
        p, lines, _ = doctor(w)
        assert p.returncode == 1, p.stdout + p.stderr
        st = statuses(lines)
        assert st["dns.spf"] == "FAIL" and "no SPF record" in lines["dns.spf"]["what"]
        assert "v=spf1" in lines["dns.spf"]["fix"] and "broken.test" in lines["dns.spf"]["fix"]
        assert st["dns.spf_relay"] == "skip"
        assert st["dns.dkim"] == "FAIL"
        assert "not the public half of dkim.key_file" in lines["dns.dkim"]["what"]
        # The fix is the very record to publish: the public half of our key.
        assert f"s1._domainkey.broken.test: \"v=DKIM1; k=rsa; p={keys()['rsa']}\"" in \
            lines["dns.dkim"]["fix"]
        assert st["dns.dmarc"] == "FAIL" and "_dmarc.broken.test" in lines["dns.dmarc"]["fix"]
        # The rest of the set-up is fine.
        assert st["smtp.rset"] == "ok" and st["unsubscribe"] == "ok" and st["align.dkim"] == "ok"
        assert "fix what FAILs" in p.stdout


def test_plus_all_and_p_none_are_warnings_that_do_not_block():
    with Workdir() as w, SmtpServer(w.dir, tls=True, auth={"writer": "s3cret"}) as srv, \
            Unsub() as u:
        setup(w, srv, u, domain="lax.test")
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["dns.spf"] == "warn" and "+all" in lines["dns.spf"]["what"]
        assert "-all" in lines["dns.spf"]["fix"]
        assert st["dns.dmarc"] == "warn" and "policy none" in lines["dns.dmarc"]["what"]
        assert st["dns.spf_relay"] == "ok" and "+all" in lines["dns.spf_relay"]["what"]
        assert "FAIL" not in st.values(), p.stdout
        assert p.returncode == 0, p.stdout


def test_spf_through_include_and_a_and_a_record_that_misses_the_relay():
    with Workdir() as w, SmtpServer(w.dir, tls=True, auth={"writer": "s3cret"}) as srv, \
            Unsub() as u:
        setup(w, srv, u, domain="inc.test")
        p, lines, _ = doctor(w)
        assert statuses(lines)["dns.spf_relay"] == "ok", p.stdout
        assert "a:relay.inc.test" in lines["dns.spf_relay"]["what"], p.stdout
        setup(w, srv, u, domain="mx.test")
        p, lines, _ = doctor(w)
        assert statuses(lines)["dns.spf_relay"] == "ok", p.stdout
        assert "matched by +mx" in lines["dns.spf_relay"]["what"], p.stdout
        setup(w, srv, u, domain="miss.test")
        p, lines, _ = doctor(w)
        assert statuses(lines)["dns.spf_relay"] == "warn", p.stdout  # loopback relay: a warning
        assert "does not pass SPF" in lines["dns.spf_relay"]["what"]
        assert "on this machine" in lines["dns.spf_relay"]["what"]


def test_wrong_password_fails_auth_and_skips_the_rest_of_smtp():
    with Workdir() as w, SmtpServer(w.dir, tls=True, require_tls=True,
                                    auth={"writer": "s3cret"}) as srv, Unsub() as u:
        setup(w, srv, u)
        p, lines, _ = doctor(w, password="wrong")
        st = statuses(lines)
        assert p.returncode == 1
        assert st["smtp.starttls"] == "ok" and st["smtp.certificate"] == "ok"
        assert st["smtp.auth"] == "FAIL" and "535" in lines["smtp.auth"]["what"], p.stdout
        assert "smtp.username" in lines["smtp.auth"]["fix"] and PW_ENV in lines["smtp.auth"]["fix"]
        assert st["smtp.mail_from"] == st["smtp.rcpt_to"] == st["smtp.rset"] == "skip"
        assert "wrong" not in p.stdout + p.stderr
        assert st["dns.spf"] == "ok"  # the relay's address is known all the same
        assert st["dns.spf_relay"] == "ok"


def test_relay_without_starttls_fails_when_tls_is_required():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        setup(w, srv, u, auth=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert p.returncode == 1
        assert st["smtp.connect"] == st["smtp.ehlo"] == "ok"
        assert st["smtp.starttls"] == "FAIL", p.stdout
        assert "does not offer STARTTLS" in lines["smtp.starttls"]["what"]
        assert "smtps://" in lines["smtp.starttls"]["fix"]
        assert st["smtp.auth"] == "skip"


def test_untrusted_certificate_fails_with_ca_file_fix():
    with Workdir() as w, SmtpServer(w.dir, tls=True, auth={"writer": "s3cret"}) as srv, \
            Unsub() as u:
        setup(w, srv, u, ca=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert p.returncode == 1
        assert st["smtp.certificate"] == "FAIL", p.stdout
        assert "smtp.ca_file" in lines["smtp.certificate"]["fix"]
        assert st["smtp.auth"] == "skip"


def test_plain_loopback_relay_without_auth_passes():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        setup(w, srv, u, tls="none", auth=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["smtp.starttls"] == "ok" and "smtp.tls is none" in lines["smtp.starttls"]["what"]
        assert st["smtp.certificate"] == "skip"
        assert st["smtp.auth"] == "ok" and "no smtp.username" in lines["smtp.auth"]["what"]
        assert p.returncode == 0, p.stdout


def test_relay_down_fails_connect():
    with Workdir() as w, Unsub() as u:
        srv = SmtpServer(w.dir)
        srv.port = free_port()  # nobody listens there
        setup(w, srv, u, tls="none", auth=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert p.returncode == 1
        assert st["smtp.connect"] == "FAIL" and "smtp.url" in lines["smtp.connect"]["fix"]
        assert st["smtp.rset"] == "skip"
        assert st["dns.spf_relay"] == "ok"  # smtp.url's host, 127.0.0.1, is in the record


def test_refused_probe_recipient_fails_rcpt():
    with Workdir() as w, SmtpServer(w.dir, faults=["--fail-rcpt", "nobody@good.test:550"]) as srv, \
            Unsub() as u:
        setup(w, srv, u, tls="none", auth=False, doctor={"ca_file": ca_paths()["ca_file"],
                                                         "probe_rcpt": "nobody@good.test"})
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["smtp.rcpt_to"] == "FAIL" and "550" in lines["smtp.rcpt_to"]["what"], p.stdout
        assert "doctor.probe_rcpt" in lines["smtp.rcpt_to"]["fix"]
        assert st["smtp.rset"] == "ok"
        assert p.returncode == 1


def test_unsubscribe_404_and_plain_http_fail():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub(code=404) as u:
        setup(w, srv, u, tls="none", auth=False)
        p, lines, _ = doctor(w)
        assert statuses(lines)["unsubscribe"] == "FAIL"
        assert "answered 404" in lines["unsubscribe"]["what"]
        assert "newsletter serve" in lines["unsubscribe"]["fix"]
        assert p.returncode == 1
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub(tls=False) as u:
        setup(w, srv, u, tls="none", auth=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["unsubscribe"] == "FAIL" and "plain http" in lines["unsubscribe"]["what"]
        assert st["base_url"] == "warn"
        assert len(u.posts) == 1
        assert p.returncode == 1


def test_no_base_url_warns_about_one_click():
    with Workdir() as w, SmtpServer(w.dir) as srv:
        setup(w, srv, None, tls="none", auth=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["base_url"] == "warn" and "one-click" in lines["base_url"]["what"]
        assert st["unsubscribe"] == "warn"
        assert p.returncode == 0, p.stdout


def test_dkim_keys_compared_as_keys_not_text():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        # Our key published as a bare RSAPublicKey: the same key.
        setup(w, srv, u, tls="none", auth=False, selector="p1")
        p, lines, _ = doctor(w)
        assert statuses(lines)["dns.dkim"] == "ok", p.stdout
        # Another key in that form, and an RSA key under k=ed25519: not ours.
        for sel, key in (("p2", "rsa"), ("e2", "ed")):
            setup(w, srv, u, tls="none", auth=False, selector=sel, key=key)
            p, lines, _ = doctor(w)
            assert statuses(lines)["dns.dkim"] == "FAIL", p.stdout
            assert "not the public half" in lines["dns.dkim"]["what"]
            assert f"{sel}._domainkey.good.test: \"v=DKIM1; k=" in lines["dns.dkim"]["fix"]


def test_ed25519_key_and_relaxed_alignment_of_a_subdomain():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        setup(w, srv, u, tls="none", auth=False, key="ed", selector="e1")
        p, lines, _ = doctor(w)
        assert statuses(lines)["dns.dkim"] == "ok" and "ed25519" in lines["dns.dkim"]["what"]
        setup(w, srv, u, tls="none", auth=False, dkim_domain="mail.good.test")
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["dns.dkim"] == "ok", p.stdout
        assert st["align.dkim"] == "ok" and "relaxed" in lines["align.dkim"]["what"]
        assert "last two labels" in lines["align.dkim"]["what"]
        # A bounce domain elsewhere does not align: a warning while DKIM aligns.
        # SPF is the envelope sender's: looked up at the bounce domain, whose record is read.
        setup(w, srv, u, tls="none", auth=False, bounce_address="bounces@inc.test")
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["align.bounce"] == "warn", p.stdout
        assert "bounce_address" in lines["align.bounce"]["fix"]
        assert lines["dns.spf"]["what"].startswith("inc.test (bounce_address's domain"), p.stdout
        assert "include:_spf.inc.test" in lines["dns.spf"]["what"]
        assert st["dns.spf_relay"] == "ok" and "inc.test" in lines["dns.spf_relay"]["what"]


def test_post_checks_on_a_named_post_too_big_with_http_image():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        setup(w, srv, u, tls="none", auth=False)
        body = "![x](http://img.example.org/x.png)\n\n" + ("A long paragraph. " * 50 + "\n\n") * 140
        w.write("big.md", post("Big", body))
        p, lines, _ = doctor(w, "big.md")
        st = statuses(lines)
        assert st["post.html_size"] == "FAIL", p.stdout
        assert "102 KB" in lines["post.html_size"]["fix"]
        assert st["post.images"] == "warn"
        assert "http://img.example.org/x.png" in lines["post.images"]["what"]
        assert st["post.headers"] == "ok" and st["post.text"] == "ok"
        assert p.returncode == 1


def test_resolver_from_the_config_and_a_bad_resolver_setting():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        setup(w, srv, u, tls="none", auth=False,
              doctor={"ca_file": ca_paths()["ca_file"], "resolver": dns()})
        p, lines, _ = doctor(w, resolver="")
        assert statuses(lines)["dns.dmarc"] == "ok", p.stdout
        p, lines, _ = doctor(w, resolver="not-an-address:x")
        st = statuses(lines)
        assert st["dns.spf"] == "FAIL" and "NEWSLETTER_RESOLVER" in lines["dns.spf"]["what"]
        assert p.returncode == 1


def test_bad_config_is_one_failing_line():
    with Workdir() as w:
        w.write("config.yml", "from: [unclosed\n")
        p, lines, _ = doctor(w)
        assert p.returncode == 1
        assert list(lines) == ["config"] and lines["config"]["status"] == "FAIL"
        assert "config.yml:" in lines["config"]["what"]


def test_control_characters_from_dns_never_reach_the_terminal():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u:
        setup(w, srv, u, tls="none", auth=False, domain="esc.test")
        p, lines, _ = doctor(w)
        assert "\x1b" not in p.stdout + p.stderr
        assert lines["dns.spf"]["status"] == "FAIL", p.stdout
        assert "a control or non-ASCII character" in lines["dns.spf"]["what"]
        assert "v=spf1 ?[2J?[31m -all" in lines["dns.spf"]["what"]


def test_relay_that_wants_a_login_we_do_not_give():
    with Workdir() as w, SmtpServer(w.dir, tls=True, auth={"writer": "s3cret"}) as srv, \
            Unsub() as u:
        setup(w, srv, u, auth=False)
        p, lines, _ = doctor(w)
        st = statuses(lines)
        assert st["smtp.auth"] == "ok" and "offers AUTH" in lines["smtp.auth"]["what"], p.stdout
        assert st["smtp.mail_from"] == "FAIL" and "530" in lines["smtp.mail_from"]["what"]
        assert "smtp.username" in lines["smtp.mail_from"]["fix"]
        assert p.returncode == 1


def test_a_silent_resolver_is_waited_for_once():
    with Workdir() as w, SmtpServer(w.dir) as srv, Unsub() as u, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # takes queries, never answers
        setup(w, srv, u, tls="none", auth=False)
        t0 = time.monotonic()
        p, lines, _ = doctor(w, resolver=f"127.0.0.1:{silent.getsockname()[1]}")
        took = time.monotonic() - t0
        st = statuses(lines)
        assert st["dns.spf"] == "warn" and "(timeout)" in lines["dns.spf"]["what"], p.stdout
        assert st["dns.dkim"] == st["dns.dmarc"] == "warn"
        assert "did not answer before" in lines["dns.dmarc"]["what"]
        assert took < 12, took  # one wait of two 2 s tries, not one per query
        assert p.returncode == 0, p.stdout  # DNS that cannot be checked does not block sending
