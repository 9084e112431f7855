#!/usr/bin/python3
"""smtpd.py - a real SMTP server (aiosmtpd) for the tests: records every
transaction and injects faults on request. Listens on 127.0.0.1 only.

usage: /usr/bin/python3 tests/smtpd.py --port 0 --dir DIR [options]

When ready it writes the port to DIR/port (atomically) and prints "port=N".
It records into DIR:
  msgs/NNNNNN.eml     each accepted message, the exact bytes received (CRLF
                      line endings, dot-unstuffed, without the final ".")
  transactions.jsonl  one line per accepted or refused transaction:
      {"n", "stage": "RCPT"|"DATA", "accepted", "mail_from", "rcpt_tos",
       "file" (relative to DIR, null unless accepted), "size", "conn",
       "tls", "auth" (user name or null), "result" (the reply, or
       "dropped"/"aborted" when no reply was sent), "t"}
  events.jsonl        per connection: {"event": "open"}, one {"event": "cmd",
      "cmd", "line"} per command line received (AUTH secrets masked),
      {"event": "fault", "fault"} when a fault fires, {"event": "tls-error",
      "error"} when a STARTTLS handshake fails, and {"event": "close",
      "commands": [...], "messages": accepted, "tls", "auth", "reason"}.
The message file is written, then its transaction line, then the 250 reply
is sent; every line is flushed at once.

Faults (each may repeat; ADDR matches case-insensitively; CODE is a 3-digit
code, or a whole reply such as "550 5.7.1 no thanks"):
  --fail-rcpt ADDR:CODE    refuse RCPT TO:<ADDR> with CODE every time
  --tempfail-rcpt ADDR:M   answer RCPT TO:<ADDR> 451 4.3.0 the first M times
  --fail-data ADDR:CODE    answer CODE after DATA for messages to ADDR
  --fail-mail CODE         refuse every MAIL FROM with CODE (a whole reply,
                           e.g. "552 5.3.4 message too big")
  --close-after K          after K accepted messages on a connection, answer
                           the next command 421 4.7.0 and close
  --drop-after-total K     once, after K accepted in total: read part of the
                           next DATA transfer, then drop the connection
                           without a reply
  --stall-after-total K    once, after K accepted in total: do not answer the
                           next command; close after --stall-seconds
  --delay-data SECONDS     wait before answering the end of DATA
Exit 0 on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import time
import traceback
import warnings

from aiosmtpd.smtp import (DATA_SIZE_DEFAULT, SMTP, AuthResult,
                           TLSSetupException, sanitize)

HOST = "127.0.0.1"


def reply_for(spec, addr, stage):
    """The reply for a --fail-rcpt/--fail-data CODE given for ADDR."""
    if len(spec) > 3:
        return spec  # a whole reply given on the command line
    if spec.startswith("4"):
        return f"{spec} 4.3.0 try again later"
    if stage == "RCPT":
        return f"{spec} 5.1.1 <{addr}>: mailbox unavailable"
    return f"{spec} 5.7.1 message rejected"


class Recorder:
    """The files in DIR. Continues numbering if DIR was used before."""

    def __init__(self, top):
        self.top = top
        os.makedirs(os.path.join(top, "msgs"), exist_ok=True)
        self.n = self._count(os.path.join(top, "transactions.jsonl"), "n")
        self.conns = self._count(os.path.join(top, "events.jsonl"), "conn")
        self.tx = open(os.path.join(top, "transactions.jsonl"), "a")
        self.ev = open(os.path.join(top, "events.jsonl"), "a")

    @staticmethod
    def _count(path, key):
        top = 0
        try:
            with open(path) as f:
                for line in f:
                    try:
                        top = max(top, json.loads(line).get(key) or 0)
                    except ValueError:
                        pass
        except FileNotFoundError:
            pass
        return top

    @staticmethod
    def _write(f, rec):
        f.write(json.dumps(rec) + "\n")
        f.flush()

    def event(self, conn, event, **fields):
        self._write(self.ev, {"t": time.time(), "conn": conn, "event": event,
                              **fields})

    def transaction(self, server, stage, result, mail_from, rcpt_tos,
                    content=None):
        self.n += 1
        rec = {"n": self.n, "stage": stage,
               "accepted": result.startswith("250"), "mail_from": mail_from,
               "rcpt_tos": list(rcpt_tos), "file": None, "size": None,
               "conn": server.conn_id, "tls": server.tls,
               "auth": server.user, "result": result, "t": time.time()}
        if content is not None:
            rec["file"] = f"msgs/{self.n:06d}.eml"
            rec["size"] = len(content)
            path = os.path.join(self.top, rec["file"])
            with open(path + ".tmp", "wb") as f:
                f.write(content)
            os.replace(path + ".tmp", path)
        self._write(self.tx, rec)
        return self.n

    def close(self):
        self.tx.close()
        self.ev.close()


class Handler:
    """aiosmtpd handler hooks, plus the fault rules and shared counters."""

    def __init__(self, opts, rec):
        self.rec = rec
        self.users = dict(u.split(":", 1) for u in opts.auth)
        self.fail_rcpt = {a.lower(): c for a, c in opts.fail_rcpt}
        self.tempfail_left = {a.lower(): int(m) for a, m in opts.tempfail_rcpt}
        self.fail_data = {a.lower(): c for a, c in opts.fail_data}
        self.fail_mail = opts.fail_mail
        self.close_after = opts.close_after
        self.drop_after_total = opts.drop_after_total
        self.stall_after_total = opts.stall_after_total
        self.stall_seconds = opts.stall_seconds
        self.delay_data = opts.delay_data
        self.accepted_total = 0
        self.live = set()  # open connections (TestSMTP), for shutdown

    # -- aiosmtpd hooks. MAIL and RCPT hooks must fill the envelope. --

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        if not self.users:  # AUTH only when --auth was given
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.fail_mail:
            reply = self.fail_mail
            if len(reply) == 3:
                reply += " 5.7.1 sender refused" if reply[0] == "5" else " 4.3.0 later"
            self.rec.transaction(server, "MAIL", reply, address, [])
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        key = address.lower()
        reply = None
        if key in self.fail_rcpt:
            reply = reply_for(self.fail_rcpt[key], address, "RCPT")
        elif self.tempfail_left.get(key, 0) > 0:
            self.tempfail_left[key] -= 1
            reply = "451 4.3.0 try again later"
        if reply:
            self.rec.transaction(server, "RCPT", reply, envelope.mail_from,
                                 [address])
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        server.data_recorded = True
        try:
            if self.delay_data:
                await asyncio.sleep(self.delay_data)
        except asyncio.CancelledError:  # client went away while we waited
            self.rec.transaction(server, "DATA", "aborted",
                                 envelope.mail_from, envelope.rcpt_tos)
            raise
        for addr in envelope.rcpt_tos:
            if addr.lower() in self.fail_data:
                reply = reply_for(self.fail_data[addr.lower()], addr, "DATA")
                self.rec.transaction(server, "DATA", reply,
                                     envelope.mail_from, envelope.rcpt_tos)
                return reply
        n = self.rec.n + 1
        reply = f"250 2.0.0 OK queued as {n:06d}"
        self.rec.transaction(server, "DATA", reply, envelope.mail_from,
                             envelope.rcpt_tos, envelope.original_content)
        self.accepted_total += 1
        server.messages += 1
        return reply

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        user = auth_data.login.decode("utf-8", "replace")
        pw = auth_data.password.decode("utf-8", "replace")
        if user in self.users and self.users[user] == pw:
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    # -- faults on commands that have no hook (called by TestSMTP) --

    async def command_fault(self, server, command):
        """Apply --close-after/--stall-after-total before COMMAND runs.
        Returns True when the command must not be processed."""
        if self.close_after is not None and server.messages >= self.close_after:
            self.rec.event(server.conn_id, "fault", fault="close-after",
                           cmd=command)
            await server.push("421 4.7.0 closing connection")
            server.hang_up("fault:close-after")
            return True
        if (self.stall_after_total is not None
                and self.accepted_total >= self.stall_after_total):
            self.stall_after_total = None  # fires once
            self.rec.event(server.conn_id, "fault", fault="stall", cmd=command)
            server.close_reason = "fault:stall"
            await asyncio.sleep(self.stall_seconds)
            server.hang_up("fault:stall")
            return True
        return False

    def take_drop_fault(self):
        if (self.drop_after_total is not None
                and self.accepted_total >= self.drop_after_total):
            self.drop_after_total = None  # fires once
            return True
        return False


class TestSMTP(SMTP):
    """aiosmtpd's SMTP with per-connection bookkeeping: logs command lines
    as they are read, applies command faults and the mid-DATA drop."""

    def __init__(self, handler, **kwargs):
        super().__init__(handler, **kwargs)
        self.rec = handler.rec
        self.conn_id = None
        self.messages = 0          # accepted on this connection
        self.commands = []         # command verbs seen, in order
        self.close_reason = "client"
        self.data_recorded = False
        self._raw_transport = None
        self._busy = False         # a command is being processed
        self.replies = []          # replies sent for the current command
        self._lost = False
        # Every dispatched command goes through _guard (command faults).
        self._smtp_methods = {name: self._guard(name, method)
                              for name, method in self._smtp_methods.items()}

    @property
    def tls(self):
        return self._tls_protocol is not None

    @property
    def user(self):
        s = self.session
        return s.auth_data if s is not None and s.authenticated else None

    def connection_made(self, transport):
        if self.conn_id is None:  # not the second call after STARTTLS
            self.rec.conns += 1
            self.conn_id = self.rec.conns
            self._raw_transport = transport
            self.event_handler.live.add(self)
            self.rec.event(self.conn_id, "open",
                           peer=list(transport.get_extra_info("peername")))
        super().connection_made(transport)

    def connection_lost(self, error):
        if not self._lost:
            self._lost = True
            self.event_handler.live.discard(self)
            self.rec.event(self.conn_id, "close", commands=self.commands,
                           messages=self.messages, tls=self.tls,
                           auth=self.user, reason=self.close_reason,
                           error=repr(error) if error else None)
        super().connection_lost(error)

    def _client_connected_cb(self, reader, writer):
        super()._client_connected_cb(reader, writer)
        # Command lines are read with readuntil(b"\n") (DATA lines with
        # b"\r\n"). Log the command lines, before aiosmtpd validates them,
        # so a test sees exactly what reached the wire.
        readuntil = reader.readuntil

        async def logging_readuntil(separator=b"\n"):
            line = await readuntil(separator)
            if separator == b"\n" and not self._busy:
                self._log_command(line)
            return line
        reader.readuntil = logging_readuntil

    def _log_command(self, raw):
        line = sanitize(raw.rstrip(b"\r\n")).decode("utf-8", "backslashreplace")
        verb = line.split(" ", 1)[0].upper()
        self.commands.append(verb)
        self.rec.event(self.conn_id, "cmd", cmd=verb, line=line)

    def _guard(self, name, method):
        async def guarded(arg):
            self._busy = True  # lines read now are AUTH answers, not commands
            self.replies = []  # replies sent for this command
            try:
                if not await self.event_handler.command_fault(self, name):
                    await method(arg)
            finally:
                self._busy = False
        return guarded

    def hang_up(self, reason, abort=False):
        """Close the connection; abort it if it is still open 2 s later."""
        self.close_reason = reason
        if abort or self.transport is None:
            self._raw_transport.abort()
            return
        self.transport.close()
        self.loop.call_later(2, self._raw_transport.abort)

    async def smtp_DATA(self, arg):
        if self.envelope.rcpt_tos and not arg \
                and self.event_handler.take_drop_fault():
            self.rec.event(self.conn_id, "fault", fault="drop", cmd="DATA")
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.read(64)  # some of the data, then vanish
            self.rec.transaction(self, "DATA", "dropped",
                                 self.envelope.mail_from, self.envelope.rcpt_tos)
            self.hang_up("fault:drop-after-total", abort=True)
            return
        self.data_recorded = False
        mail_from, rcpt_tos = self.envelope.mail_from, self.envelope.rcpt_tos
        try:
            await super().smtp_DATA(arg)
        except asyncio.CancelledError:  # connection lost during the data
            if self._data_started():
                self.rec.transaction(self, "DATA", "aborted", mail_from,
                                     rcpt_tos)
            raise
        if self._data_started():
            # Refused by aiosmtpd itself after the data (552 too big, ...).
            self.rec.transaction(self, "DATA", self.replies[-1], mail_from,
                                 rcpt_tos)

    def _data_started(self):
        """354 was sent and handle_DATA did not record the outcome."""
        return (not self.data_recorded and bool(self.replies)
                and self.replies[0].startswith("354"))

    async def push(self, status):
        self.replies.append(status.decode("utf-8", "replace")
                            if isinstance(status, bytes) else status)
        await super().push(status)

    async def handle_exception(self, error):
        if isinstance(error, TLSSetupException):  # e.g. client rejected cert
            cause = str(error.__cause__ or error)
            print(f"smtpd: conn {self.conn_id}: TLS handshake failed: {cause}",
                  file=sys.stderr, flush=True)
            self.rec.event(self.conn_id, "tls-error", error=cause)
            self.close_reason = "tls-error"
            return None  # aiosmtpd closes the connection without a reply
        traceback.print_exception(error, file=sys.stderr)
        return f"500 5.0.0 test server error: {error!r}"

    async def smtp_QUIT(self, arg):
        self.close_reason = "quit"
        await super().smtp_QUIT(arg)


def pair(value):
    key, sep, val = value.partition(":")
    if not sep or not key or not val:
        raise argparse.ArgumentTypeError(f"expected ADDR:VALUE, got {value!r}")
    return key, val


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="SMTP server for tests (see the module docstring).")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--dir", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--require-tls", action="store_true")
    p.add_argument("--auth", action="append", default=[], metavar="USER:PASS",
                   type=lambda v: ":".join(pair(v)))
    p.add_argument("--max-size", type=int, default=DATA_SIZE_DEFAULT)
    p.add_argument("--smtputf8", action="store_true",
                   help="advertise SMTPUTF8 and accept UTF-8 addresses")
    p.add_argument("--timeout", type=float, default=300,
                   help="idle timeout per connection (seconds)")
    p.add_argument("--fail-rcpt", action="append", default=[], type=pair,
                   metavar="ADDR:CODE")
    p.add_argument("--tempfail-rcpt", action="append", default=[], type=pair,
                   metavar="ADDR:M")
    p.add_argument("--fail-data", action="append", default=[], type=pair,
                   metavar="ADDR:CODE")
    p.add_argument("--fail-mail", metavar="CODE")
    p.add_argument("--close-after", type=int, metavar="K")
    p.add_argument("--drop-after-total", type=int, metavar="K")
    p.add_argument("--stall-after-total", type=int, metavar="K")
    p.add_argument("--stall-seconds", type=float, default=30)
    p.add_argument("--delay-data", type=float, default=0, metavar="SECONDS")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="aiosmtpd's own log on stderr")
    opts = p.parse_args(argv)
    if bool(opts.tls_cert) != bool(opts.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if opts.require_tls and not opts.tls_cert:
        p.error("--require-tls needs --tls-cert/--tls-key")
    for _, m in opts.tempfail_rcpt:
        if not m.isdigit():
            p.error("--tempfail-rcpt wants ADDR:M with a number M")
    return opts


async def serve(opts):
    loop = asyncio.get_running_loop()
    rec = Recorder(opts.dir)
    handler = Handler(opts, rec)
    tls_context = None
    if opts.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(opts.tls_cert, opts.tls_key)

    def factory():
        return TestSMTP(
            handler, hostname="localhost", data_size_limit=opts.max_size,
            enable_SMTPUTF8=opts.smtputf8, decode_data=False,
            tls_context=tls_context, require_starttls=opts.require_tls,
            timeout=opts.timeout, auth_required=bool(handler.users),
            auth_require_tls=bool(tls_context and opts.require_tls),
            authenticator=handler.authenticate)

    server = await loop.create_server(factory, host=HOST, port=opts.port)
    port = server.sockets[0].getsockname()[1]
    portfile = os.path.join(opts.dir, "port")
    with open(portfile + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.replace(portfile + ".tmp", portfile)
    print(f"port={port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

    server.close()
    for conn in list(handler.live):
        conn.hang_up("server-shutdown", abort=True)
    for _ in range(10):  # let connection_lost() run and log the closes
        if not handler.live:
            break
        await asyncio.sleep(0.01)
    await server.wait_closed()
    rec.close()


def main(argv):
    opts = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.ERROR,
                        format="smtpd: %(message)s")
    if not opts.verbose:  # aiosmtpd warns per connection about AUTH sans TLS
        warnings.simplefilter("ignore")
    try:
        os.remove(os.path.join(opts.dir, "port"))  # stale from an earlier run
    except FileNotFoundError:
        pass
    asyncio.run(serve(opts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
