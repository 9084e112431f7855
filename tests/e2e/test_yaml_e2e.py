"""End-to-end tests of YAML loading (front matter and config): hostile input is
refused with "file:line:col: ..." messages, quickly, and never misread."""
import os
import re
import subprocess

from nl import BIN, CpuTime, Workdir, parse, post, read_eml

SUBS = "email,name\nada@example.test,Ada\n"


def preview(w, name="p.md"):
    return w.run("preview", name, "-o", "out")


def last_line(p):
    return p.stderr.strip().split("\n")[-1]


def bad_post(text, pattern, seconds=10):
    with Workdir(None, SUBS) as w:
        w.write("p.md", text, "wb" if isinstance(text, bytes) else "w")
        with CpuTime() as cpu:
            p = preview(w)
        assert cpu.seconds < seconds, (cpu.seconds, text[:80])
        assert p.returncode == 65, (p.returncode, p.stderr)
        assert re.search(pattern, last_line(p)), p.stderr
        assert not os.path.exists(w.path("out"))


def test_anchor_on_a_mapping_key_aliases_the_key_text():
    # The old tree freed the key node its anchor pointed at: under ASan a
    # use-after-free, in a release build the title took other data ("1").
    with Workdir(None, SUBS) as w:
        w.write("p.md", "---\n&a Key text: 1\ntitle: *a\ny: *a\n---\nhi\n")
        preview(w)
        msg = parse(read_eml(w.path("out/p.eml")))
        assert msg["Subject"] == "Key text", msg["Subject"]
        w.write("q.md", "---\ntitle: T\n&a x: 1\ny: *a\n---\nhi\n")
        p = preview(w, "q.md")
        assert p.returncode == 0, p.stderr
        assert parse(read_eml(w.path("out/q.eml")))["Subject"] == "T"


def test_aliased_values_are_shared_not_lost():
    with Workdir(None, SUBS) as w:
        w.write("p.md", "---\nbase: &b {t: Shared title}\nother: *b\ntitle: *t\n---\nhi\n"
                .replace("{t: Shared title}", "{t: &t Shared title}"))
        p = preview(w)
        assert p.returncode == 0, p.stderr
        assert parse(read_eml(w.path("out/p.eml")))["Subject"] == "Shared title"


def test_nul_escape_in_a_value_is_an_error_not_a_truncation():
    bad_post('---\ntitle: "Before\\0after"\n---\nhi\n',
             r"^newsletter: p\.md:2:8: front matter: a NUL byte \(\\0\) in a value")
    bad_post('---\ntitle: ok\nx: ["a", "b\\x00"]\n---\nhi\n', r"p\.md:3:10: front matter: a NUL")


def test_many_plain_keys_are_not_an_alias_problem():
    keys = "".join(f"k{i}: v\n" for i in range(100000))
    with Workdir(None, SUBS) as w:
        w.write("p.md", "---\ntitle: Many keys\n" + keys + "---\nhi\n")
        with CpuTime() as cpu:
            p = preview(w)
        assert p.returncode == 0 and "alias" not in p.stderr, p.stderr
        assert cpu.seconds < 20, cpu.seconds
    # Past the size cap the message says so, not "aliases".
    big = "".join(f"key{i}: some value here\n" for i in range(60000))
    bad_post("---\ntitle: t\n" + big + "---\nhi\n", r"p\.md:2:1: front matter: larger than 1024 KB")


def test_billion_laughs_is_refused_quickly():
    lines = ["---", "title: t", "a0: &a0 [x,x,x,x,x,x,x,x,x,x]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i-1}"] * 10) + "]")
    bad_post("\n".join(lines) + "\n---\nhi\n",
             r"p\.md:\d+:\d+: front matter: aliases expand this past the limit", seconds=5)


def test_alias_cycles_deep_nesting_and_duplicate_keys_are_named():
    bad_post("---\ntitle: t\na: &a [1, *a]\n---\nhi\n",
             r"p\.md:3:4: front matter: this node contains an alias to itself")
    bad_post("---\ntitle: t\na: " + "[" * 100000 + "\n---\nhi\n",
             r"p\.md:3:\d+: front matter: nested more than 64 levels deep", seconds=5)
    bad_post("---\ntitle: First\ndate: 2026-01-01\ntitle: Second\n---\nhi\n",
             r"p\.md:4:1: front matter: duplicate key 'title' \(first on line 2\)")
    bad_post("---\ntitle: t\n[a]: 1\n---\nhi\n", r"p\.md:3:1: front matter: a key must be")
    bad_post("---\ntitle: t\n---\nhi\n---\n\x00\n", r"p\.md:6:1: contains a NUL byte")


def test_title_on_more_than_one_line_is_named():
    # Folding into one Subject line would silently join "Line one" and a fake header.
    bad_post('---\ndate: 2026-01-01\ntitle: "Line one\\nBcc: x@example.test"\n---\nhi\n',
             r"p\.md:3:8: front matter: 'title' must be one line")
    bad_post("---\ntitle: |\n  Two\n  lines\n---\nhi\n", r"p\.md:2:8: front matter: 'title' must be one line")


def write_config_with(w, extra):
    """The test config plus extra lines; returns the line number the extra starts on."""
    w.write_config()
    with open(w.config) as f:
        base = f.read()
    with open(w.config, "w") as f:
        f.write(base + extra)
    return base.count("\n") + 1


def config_error(extra):
    with Workdir(None, SUBS) as w:
        w.write("p.md", post())
        line = write_config_with(w, extra)
        p = preview(w)
        assert p.returncode == 78, (extra, p.returncode, p.stderr)
        return line, last_line(p)


def test_numeric_config_keys_are_range_checked():
    cases = [
        ("smtp:\n  rate: 1e-300\n", "smtp.rate"), ("smtp:\n  rate: nan\n", "smtp.rate"),
        ("smtp:\n  rate: inf\n", "smtp.rate"), ("smtp:\n  rate: -1\n", "smtp.rate"),
        ("smtp:\n  rate: 2000000\n", "smtp.rate"), ("smtp:\n  connections: 65\n", "smtp.connections"),
        ("smtp:\n  timeout: 0\n", "smtp.timeout"), ("smtp:\n  data_timeout: 99999\n", "smtp.data_timeout"),
        ("smtp:\n  retries: 101\n", "smtp.retries"), ("smtp:\n  max_per_hour: -5\n", "smtp.max_per_hour"),
        ("smtp:\n  max_consecutive_failures: 0\n", "smtp.max_consecutive_failures"),
        ("max_age: 0d\n", "max_age"),
    ]
    for extra, key in cases:
        line, msg = config_error(extra)
        want = line + extra.count("\n") - 1
        assert re.search(rf"config\.yml:{want}:\d+: {re.escape(key)}: ", msg), (extra, msg)
    # The edges of rate are accepted: 0 (no limit) and one an hour.
    with Workdir({"smtp": {"rate": 0.000278}}, SUBS) as w:
        w.write("p.md", post())
        assert preview(w).returncode == 0


def test_booleans_and_duplicate_config_keys_are_checked():
    line, msg = config_error("allow_html: ture\n")
    assert re.search(rf"config\.yml:{line}:13: allow_html: must be true or false", msg), msg
    line, msg = config_error("base_url: \"https://other.example.test\"\n")
    assert re.search(rf"config\.yml:{line}:1: .*duplicate key 'base_url' \(first on line \d+\)", msg), msg
    line, msg = config_error("x: \"a\\0b\"\n")
    assert re.search(rf"config\.yml:{line}:4: .*NUL byte", msg), msg
    line, msg = config_error("x: \"a\x01b\"\n")
    assert re.search(rf"config\.yml:{line}:6: .*control characters.*0x01", msg), msg


def test_smtp_url_with_credentials_is_refused_without_printing_them():
    for url in ("smtp://alice:Hunter2Secret@mail.example.test:587",
                "smtps://Hunter2Secret@mail.example.test", "smtps://mail.example.test/Hunter2@x"):
        line, msg = config_error(f"smtp:\n  url: \"{url}\"\n")
        assert re.search(rf"config\.yml:{line + 1}:8: smtp\.url: .*user name or password", msg), msg
        assert "smtp.username" in msg and "smtp.password_env" in msg, msg
        assert "Hunter2" not in msg and "alice" not in msg, msg
    with Workdir(None, SUBS) as w:
        w.write("p.md", post())
        p = w.run("send", "p.md", "--smtp", "smtp://bob:Hunter2Secret@127.0.0.1:9", "--yes")
        assert p.returncode == 64 and "--smtp" in p.stderr, (p.returncode, p.stderr)
        assert "Hunter2" not in p.stderr + p.stdout and not os.path.exists(w.path("sends.log"))


def test_malformed_smtp_url_is_reported_at_load():
    cases = [("smtp://", "no host"), ("smtp://:25", "no host"),
             ("smtp://mail.example.test:99999", "port"), ("smtp://mail.example.test:2x", "port"),
             ("http://mail.example.test", "smtp://"), ("mail.example.test", "smtp://"),
             ("smtp://mail example.test", "spaces"), ("smtp://[::1:25", "IPv6"),
             ("smtp://mail.example.test?x=1", "query")]
    for url, why in cases:
        line, msg = config_error(f"smtp:\n  url: \"{url}\"\n")
        assert re.search(rf"config\.yml:{line + 1}:8: smtp\.url: .*{re.escape(why)}", msg), (url, msg)
    for url in ("smtp://[::1]:2525", "smtps://mail.example.test", "SMTP://127.0.0.1:25/helo.example"):
        with Workdir({"smtp": {"url": url}}, SUBS) as w:
            w.write("p.md", post())
            assert preview(w).returncode == 0, url


def test_config_that_is_not_a_small_regular_file_is_refused():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post())
        os.mkdir(w.path("confdir"))
        os.mkfifo(w.path("fifo"))
        with open(w.path("big.yml"), "w") as f:
            f.write("# padding\n" * 110000)
        for path, why in (("confdir", "is a folder"), ("/dev/zero", "not a regular file"),
                          ("fifo", "not a regular file"), ("big.yml", "larger than 1024 KB")):
            p = subprocess.run([BIN, "-c", path, "preview", "p.md", "-o", "out"], cwd=w.dir,
                               capture_output=True, text=True, timeout=20)
            assert p.returncode == 78, (path, p.returncode, p.stderr)
            assert why in p.stderr and path in p.stderr, (path, p.stderr)
            assert not os.path.exists(w.path("out"))
