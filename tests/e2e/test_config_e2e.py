"""End-to-end tests of the configuration file: defaults, validation, errors."""
import re

from nl import Workdir, parse, post, read_eml

SUBS = "email,name\nada@example.test,Ada\n"


def bad_config(text):
    with Workdir(None, SUBS) as w:
        w.write("p.md", post())
        with open(w.config, "w") as f:
            f.write(text)
        p = w.run("preview", "p.md", "-o", "out")
        return p


def test_config_errors_name_file_line_and_key():
    cases = [
        ("from: \"T <t@example.test>\"\nfrm: x\n", r"config\.yml:2:\d+: frm: unknown setting"),
        ("smtp:\n  connections: lots\n", r"config\.yml:2:16: smtp\.connections: must be a whole number"),
        ("smtp:\n  connections: 0\n", r"config\.yml:2:\d+: smtp\.connections"),
        ("from: \"not an address\"\n", r"config\.yml:1:7: from: "),
        ("images: sometimes\n", r"config\.yml:1:9: images: must be"),
        ("smtp:\n  tls: maybe\n", r"config\.yml:2:\d+: smtp\.tls"),
        ("base_url: [1, 2]\n", r"config\.yml:1:\d+: base_url: must be a string"),
        ("from: \"a\n", r"config\.yml:\d+:\d+: YAML"),
        ("- a\n- b\n", r"config\.yml:1:1: the configuration must be a map"),
        ("reply_to: \"x y@example.test\"\n", r"config\.yml:1:\d+: reply_to: "),
    ]
    for text, pattern in cases:
        p = bad_config(text)
        assert p.returncode == 78, (text, p.returncode, p.stderr)
        assert re.search(pattern, p.stderr.strip().split("\n")[-1]), (text, p.stderr)


def test_missing_config_file_is_an_error_when_named():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post())
        p = w.run("-c", "nope.yml", "preview", "p.md")
        assert p.returncode == 78 and "nope.yml" in p.stderr


def test_config_keys_reach_the_message():
    cfg = {"reply_to": "editor@example.test", "list_id": "notes.example.test",
           "unsubscribe_email": "leave@example.test", "bounce_address": "bounce@example.test"}
    with Workdir(cfg, SUBS) as w:
        w.write("p.md", post("Keys"))
        w.run("preview", "p.md", "-o", "out", check=0)
        msg = parse(read_eml(w.path("out/p.eml")))
        assert msg["Reply-To"] == "editor@example.test"
        assert msg["List-Id"] == "Test Notes <notes.example.test>"
        assert "<mailto:leave@example.test?subject=unsubscribe%20" in msg["List-Unsubscribe"]


def test_unknown_command_and_help():
    with Workdir(None, SUBS) as w:
        p = w.run("frobnicate")
        assert p.returncode == 64 and "unknown command" in p.stderr
        for cmd in ("preview", "send", "status"):
            p = w.run(cmd, "--help", check=0)
            assert p.stdout.startswith(f"usage: newsletter {cmd}")
        p = w.run("--version", check=0)
        assert re.match(r"newsletter \d+\.\d+\.\d+", p.stdout)


def test_installed_binary_finds_its_templates():
    """As after `make install PREFIX=P`: P/bin/newsletter and P/share/newsletter/templates."""
    import os
    import shutil
    import subprocess
    from nl import BIN, TEMPLATES
    with Workdir(None, SUBS) as w:
        prefix = w.path("prefix")
        os.makedirs(os.path.join(prefix, "bin"))
        shutil.copy(BIN, os.path.join(prefix, "bin", "newsletter"))
        shutil.copytree(TEMPLATES, os.path.join(prefix, "share", "newsletter", "templates"))
        os.makedirs(w.path("blog"))
        w.write("blog/p.md", post("Installed"))
        p = subprocess.run([os.path.join(prefix, "bin", "newsletter"), "preview", "p.md"],
                           cwd=w.path("blog"), capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert "Installed" in open(w.path("blog/out/p.html")).read()
        shutil.rmtree(os.path.join(prefix, "share"))
        p = subprocess.run([os.path.join(prefix, "bin", "newsletter"), "preview", "p.md"],
                           cwd=w.path("blog"), capture_output=True, text=True)
        assert p.returncode == 66 and "email.html" in p.stderr, p.stderr
