"""nl.py - helpers for end-to-end tests: run ./newsletter as a user would,
write fixtures, and check every produced message with Python's email package
plus the checks it does not make (line lengths, 7-bit, CRLF, encoded words)."""
import email
import email.header
import email.policy
import os
import re
import resource
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.abspath(os.path.join(ROOT, os.environ.get("NEWSLETTER", "./newsletter")))
TEMPLATES = os.path.join(ROOT, "templates")
EXAMPLES = os.path.join(ROOT, "examples")


class Skip(unittest.SkipTest):
    """Raise in a test that cannot run here (needs root, a missing program):
    the runner counts it as skipped, not passed. The message says what is missing."""


class CpuTime:
    """CPU seconds (user + system) used by the child processes that ended inside
    the block, in .seconds. "Fails fast" and "one pass, not quadratic" checks use
    it instead of the wall clock, which a busy shared machine stretches; a hang is
    still caught by the subprocess's own timeout."""

    @staticmethod
    def _now():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def __enter__(self):
        self.seconds = 0.0
        self._t0 = self._now()
        return self

    def __exit__(self, *exc):
        self.seconds = self._now() - self._t0


class Workdir:
    """A temporary folder with a config, posts and a list; removed at exit."""

    def __init__(self, config=None, subscribers=None):
        self.dir = tempfile.mkdtemp(prefix="nl-test-")
        self.config = os.path.join(self.dir, "config.yml")
        self.write_config(config)
        if subscribers is not None:
            self.write("subscribers.csv", subscribers)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode="w"):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, mode) as f:
            f.write(text)
        return p

    def write_config(self, extra=None):
        base = {
            "publication": {"name": "Test Notes", "address": "1 Test Road, Testville"},
            "base_url": "https://news.example.test",
            "from": "Test Notes <news@example.test>",
            "subscribers": "subscribers.csv",
            "log": "sends.log",
            "templates": TEMPLATES,
            # A fixed token secret: tests stay quiet and reproducible (None: the program makes one).
            "secret": "0" * 64,
        }
        lines = []
        if extra:
            for k, v in extra.items():
                if isinstance(v, dict) and isinstance(base.get(k), dict):
                    base[k] = {**base[k], **v}
                else:
                    base[k] = v
        for k, v in base.items():
            if v is None:
                continue
            if isinstance(v, dict):
                lines.append(f"{k}:")
                lines += [f"  {kk}: {yq(vv)}" for kk, vv in v.items() if vv is not None]
            else:
                lines.append(f"{k}: {yq(v)}")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def run(self, *args, check=None, input=None, env=None, timeout=120):
        """Run ./newsletter -c config ARGS in the work dir."""
        cmd = [BIN, "-c", self.config] + list(args)
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, input=input,
                           env=e, timeout=timeout)
        if check is not None and p.returncode != check:
            raise AssertionError(f"{' '.join(args)}: exit {p.returncode}, expected {check}\n"
                                 f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p


def spawn(w, tag, *args, env=None):
    """Start ./newsletter -c config ARGS in the background, output to files TAG-N.out/.err."""
    e = dict(os.environ)
    e.update(env or {})
    n = len([f for f in os.listdir(w.dir) if f.startswith(tag + "-")])
    out = open(w.path(f"{tag}-{n}.out"), "w")
    err = open(w.path(f"{tag}-{n}.err"), "w")
    p = subprocess.Popen([BIN, "-c", w.config, *args], cwd=w.dir, stdin=subprocess.DEVNULL,
                         stdout=out, stderr=err, env=e)
    p.outfiles = (out, err)
    return p


def finish(p, timeout=120):
    """Wait for a spawned run (a guard against hangs, not a speed check): (rc, stdout, stderr)."""
    try:
        rc = p.wait(timeout)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for f in p.outfiles:
            f.close()
    return rc, open(p.outfiles[0].name).read(), open(p.outfiles[1].name).read()


def yq(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def post(title="Hello", body="Some *text*.\n", **fm):
    """A post's text with front matter."""
    lines = ["---", f"title: {yq(title)}"]
    for k, v in fm.items():
        lines.append(f"{k}: {v if isinstance(v, str) and v[:1] in '[{' else yq(v)}")
    lines.append("---")
    return "\n".join(lines) + "\n" + body


ENCODED_WORD = re.compile(rb"=\?([^?]+)\?([BbQq])\?([^?]*)\?=")


def check_raw(raw):
    """The checks Python's parser does not make. Returns the raw header block."""
    assert isinstance(raw, bytes)
    assert b"\x00" not in raw
    assert all(b < 128 for b in raw), "message is not 7-bit clean"
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    lines = raw.split(b"\r\n")
    head_end = lines.index(b"")
    for i, line in enumerate(lines):
        assert len(line) <= 998, f"line {i + 1} longer than 998"
    for line in lines[:head_end]:
        assert len(line) <= 998
        for m in ENCODED_WORD.finditer(line):
            assert len(m.group(0)) <= 75, "encoded word longer than 75"
            # each encoded word must decode to valid UTF-8 on its own
            word = email.header.decode_header(m.group(0).decode())[0][0]
            word.decode(m.group(1).decode())
    return b"\r\n".join(lines[:head_end])


def parse(raw):
    """Parse and check one message; returns the EmailMessage."""
    check_raw(raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects, f"defects: {msg.defects}"
    for part in msg.walk():
        assert not part.defects, f"part defects: {part.defects}"
        cte = part.get("Content-Transfer-Encoding", "")
        if cte.lower() == "quoted-printable":
            body = part.get_payload(decode=False)
            for line in body.split("\n"):
                assert len(line.rstrip("\r")) <= 76, f"QP line too long: {line!r}"
    return msg


def parts(msg):
    """(text, html) bodies, decoded."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    norm = lambda s: s.replace("\r\n", "\n")
    return norm(text.get_content()), norm(html.get_content())


def embedded_images(msg):
    """The image parts of an `images: embed` message, after checking its shape:
    multipart/alternative holding text/plain first, then a multipart/related
    of text/html followed by the images (so text readers show no attachments)."""
    assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
    text, related = msg.get_payload()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert related.get_param("type") == "text/html"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    return images


def read_eml(path):
    with open(path, "rb") as f:
        return f.read()
