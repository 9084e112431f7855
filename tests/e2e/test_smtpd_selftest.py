"""Self-tests of tests/smtpd.py and the SmtpServer helper, with Python's
smtplib as the client (not the product)."""
import contextlib
import smtplib
import ssl
import tempfile
import time

from smtpserver import SmtpServer

MSG = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\n"
       b".leading dot\r\n..two dots\r\n8-bit: caf\xc3\xa9\r\n"
       b"\r\nlast line\r\n")


@contextlib.contextmanager
def server(**kwargs):
    with tempfile.TemporaryDirectory(prefix="smtpd-selftest-") as tmp:
        with SmtpServer(tmp, **kwargs) as srv:
            yield srv


class Client(smtplib.SMTP):
    """smtplib on 127.0.0.1 that verifies TLS against `tls_name`."""

    def __init__(self, srv, timeout=5, tls_name="localhost"):
        super().__init__(timeout=timeout)
        self.connect("127.0.0.1", srv.port)
        self._host = tls_name  # starttls() uses it as server_hostname


def raises(exc_types, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_types as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc_types}")


def test_smtpd_plain_send():
    with server() as srv:
        assert srv.url == f"smtp://127.0.0.1:{srv.port}"
        c = Client(srv)
        assert c.sendmail("a@example.org", ["b@example.org", "c@example.org"],
                          MSG) == {}
        assert c.sendmail("a@example.org", ["d@example.org"], MSG) == {}
        assert c.docmd("XYZZY")[0] == 500
        c.quit()
        msgs = srv.messages()
        assert len(msgs) == 2
        tx, data = msgs[0]
        assert data == MSG  # exact bytes, CRLF, dots unstuffed
        assert tx["mail_from"] == "a@example.org"
        assert tx["rcpt_tos"] == ["b@example.org", "c@example.org"]
        assert tx["size"] == len(MSG) and tx["conn"] == 1
        assert tx["tls"] is False and tx["auth"] is None
        assert tx["result"].startswith("250 2.0.0")
        assert msgs[1][0]["conn"] == 1  # the connection was reused
        conns = srv.wait_closed()
        assert list(conns) == [1]
        assert conns[1]["messages"] == 2 and conns[1]["reason"] == "quit"
        assert conns[1]["commands"] == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA",
                                        "MAIL", "RCPT", "DATA", "XYZZY", "QUIT"]
        assert "rcpt TO:<d@example.org>" in srv.wire_text()  # as sent
        assert srv.stop() == 0  # clean exit on SIGTERM


def test_smtpd_starttls_verified():
    with server(tls=True, require_tls=True, auth={"alice": "s3cret"}) as srv:
        c = Client(srv)
        c.ehlo()
        assert c.has_extn("starttls") and not c.has_extn("auth")
        assert c.mail("a@example.org")[0] == 530  # TLS first
        c.starttls(context=ssl.create_default_context(cafile=srv.ca_file))
        c.ehlo()
        assert c.has_extn("auth")
        c.login("alice", "s3cret")
        assert c.sendmail("a@example.org", ["b@example.org"], MSG) == {}
        c.quit()
        tx, data = srv.messages()[0]
        assert data == MSG and tx["tls"] is True and tx["auth"] == "alice"
        # The IP address is in the certificate too.
        c = Client(srv, tls_name="127.0.0.1")
        c.starttls(context=ssl.create_default_context(cafile=srv.ca_file))
        c.quit()
        # Without the test CA, verification fails.
        c = Client(srv)
        raises(ssl.SSLCertVerificationError, c.starttls,
               context=ssl.create_default_context())
        c.close()
        conns = srv.wait_closed()
        assert conns[3]["reason"] == "tls-error"
        assert any(e["event"] == "tls-error" for e in srv.events())


def test_smtpd_auth_plain_login():
    with server(auth={"alice": "s3cret", "bob": "pw"}) as srv:
        c = Client(srv)
        c.ehlo()
        assert "PLAIN" in c.esmtp_features["auth"]
        assert "LOGIN" in c.esmtp_features["auth"]
        assert c.mail("a@example.org")[0] == 530  # auth required
        for mech in ("PLAIN", "LOGIN"):
            c.user, c.password = "alice", "wrong"
            e = raises(smtplib.SMTPAuthenticationError, c.auth, mech,
                       getattr(c, "auth_" + mech.lower()))
            assert e.smtp_code == 535 and e.smtp_error.startswith(b"5.7.8")
        c.user, c.password = "alice", "s3cret"
        assert c.auth("PLAIN", c.auth_plain)[0] == 235
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        c.quit()
        c = Client(srv)
        c.ehlo()
        c.user, c.password = "bob", "pw"
        assert c.auth("LOGIN", c.auth_login)[0] == 235
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        c.quit()
        assert [tx["auth"] for tx, _ in srv.messages()] == ["alice", "bob"]
        assert "s3cret" not in srv.wire_text()  # AUTH arguments are masked
        assert srv.connections()[1]["commands"].count("AUTH") == 3


def test_smtpd_refusals():
    faults = ["--fail-rcpt", "gone@example.org:550",
              "--fail-rcpt", "busy@example.org:451",
              "--tempfail-rcpt", "slow@example.org:2",
              "--fail-data", "spam@example.org:554",
              "--fail-rcpt", "custom@example.org:553 5.1.3 no such name"]
    with server(faults=faults) as srv:
        c = Client(srv)
        c.ehlo()
        c.mail("a@example.org")
        assert c.rcpt("gone@example.org") == (
            550, b"5.1.1 <gone@example.org>: mailbox unavailable")
        assert c.rcpt("GONE@example.org")[0] == 550  # case-insensitive
        assert c.rcpt("busy@example.org") == (451, b"4.3.0 try again later")
        assert c.rcpt("custom@example.org") == (553, b"5.1.3 no such name")
        assert c.rcpt("slow@example.org")[0] == 451
        assert c.rcpt("slow@example.org")[0] == 451
        assert c.rcpt("slow@example.org")[0] == 250  # cleared after M=2
        assert c.rcpt("ok@example.org")[0] == 250
        assert c.data(MSG)[0] == 250
        refused = c.sendmail("a@example.org",
                             ["ok@example.org", "gone@example.org"], MSG)
        assert refused == {"gone@example.org": (
            550, b"5.1.1 <gone@example.org>: mailbox unavailable")}
        c.mail("a@example.org")
        c.rcpt("spam@example.org")
        code, text = c.data(MSG)
        assert code == 554 and text.startswith(b"5.")
        c.quit()
        txs = srv.transactions()
        assert [(t["stage"], t["result"][:3]) for t in txs] == [
            ("RCPT", "550"), ("RCPT", "550"), ("RCPT", "451"),
            ("RCPT", "553"), ("RCPT", "451"), ("RCPT", "451"),
            ("DATA", "250"), ("RCPT", "550"), ("DATA", "250"),
            ("DATA", "554")]
        assert txs[0]["rcpt_tos"] == ["gone@example.org"]
        assert txs[6]["rcpt_tos"] == ["slow@example.org", "ok@example.org"]
        assert txs[-1]["file"] is None and not txs[-1]["accepted"]
        assert len(srv.messages()) == 2


def test_smtpd_close_after():
    with server(faults=["--close-after", "2"]) as srv:
        c = Client(srv)
        for _ in range(2):
            c.sendmail("a@example.org", ["b@example.org"], MSG)
        assert c.mail("a@example.org") == (421, b"4.7.0 closing connection")
        raises(smtplib.SMTPServerDisconnected, c.noop)
        c.close()
        c = Client(srv)  # the next connection is served again
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        c.quit()
        conns = srv.wait_closed()
        assert conns[1]["messages"] == 2
        assert conns[1]["reason"] == "fault:close-after"
        assert conns[1]["faults"] == ["close-after"]
        assert len(srv.messages()) == 3


def test_smtpd_drop_after_total():
    big = MSG + b"x" * 998 + b"\r\n" * 1000  # ~1 MB, so the drop is mid-DATA
    with server(faults=["--drop-after-total", "1"]) as srv:
        c = Client(srv)
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        raises((smtplib.SMTPServerDisconnected, ConnectionError),
               c.sendmail, "a@example.org", ["c@example.org"], big)
        c.close()
        c = Client(srv)  # fires once; later connections work
        assert c.sendmail("a@example.org", ["d@example.org"], big) == {}
        c.quit()
        txs = srv.transactions()
        assert [t["result"][:3] for t in txs] == ["250", "dro", "250"]
        assert txs[1]["rcpt_tos"] == ["c@example.org"] and txs[1]["file"] is None
        assert [t["rcpt_tos"] for t, _ in srv.messages()] == [
            ["b@example.org"], ["d@example.org"]]
        conns = srv.wait_closed()
        assert conns[1]["reason"] == "fault:drop-after-total"


def test_smtpd_stall():
    with server(faults=["--stall-after-total", "1",
                        "--stall-seconds", "5"]) as srv:
        c = Client(srv, timeout=2)
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        t0 = time.monotonic()
        e = raises(smtplib.SMTPServerDisconnected, c.mail, "a@example.org")
        elapsed = time.monotonic() - t0
        assert "timed out" in str(e), e
        assert 1.8 < elapsed < 4, elapsed
        c.close()
        c = Client(srv)  # fires once
        assert c.sendmail("a@example.org", ["b@example.org"], MSG) == {}
        c.quit()
        assert srv.connections()[1]["faults"] == ["stall"]
        assert srv.stop() == 0


def test_smtpd_delay_max_size_restart():
    with server(faults=["--delay-data", "0.2", "--max-size", "2000"]) as srv:
        c = Client(srv)
        c.ehlo()
        assert c.esmtp_features["size"] == "2000"
        t0 = time.monotonic()
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        assert time.monotonic() - t0 >= 0.2
        c.mail("a@example.org")  # no SIZE: refused after the data
        c.rcpt("b@example.org")
        assert c.data(MSG * 30)[0] == 552
        # Client gone while the server waits: recorded as "aborted".
        c.mail("a@example.org")
        c.rcpt("gone@example.org")
        c.putcmd("data")
        assert c.getreply()[0] == 354
        c.send(MSG + b".\r\n")
        c.close()
        srv.wait_closed()
        port = srv.port
        assert srv.stop() == 0
        srv.start()  # same port and directory; numbering continues
        assert srv.port == port
        c = Client(srv)
        c.sendmail("a@example.org", ["b@example.org"], MSG)
        c.quit()
        txs = srv.transactions()
        assert [(t["n"], t["result"][:3], t["conn"]) for t in txs] == [
            (1, "250", 1), (2, "552", 1), (3, "abo", 1), (4, "250", 2)]
        assert txs[2]["rcpt_tos"] == ["gone@example.org"]
        assert [t["file"] for t, _ in srv.messages()] == [
            "msgs/000001.eml", "msgs/000004.eml"]
