"""End-to-end tests of preview and send --dry-run: every message parsed by
Python's email package, plus the checks it does not make."""
import glob
import os
import re

from nl import EXAMPLES, TEMPLATES, Workdir, embedded_images, parse, parts, post, read_eml

SUBS = "email,name\nada@example.test,Ada Lovelace\ngrace@example.test,Grace Hopper\n"


def dry_run(w, name="p.md", *extra, check=0):
    p = w.run("send", name, "--dry-run=out", *extra, check=check)
    files = sorted(glob.glob(w.path("out/*.eml")))
    return p, files


def test_example_preview_is_a_complete_message():
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("p.md", open(os.path.join(EXAMPLES, "first-light.md")).read())
        w.write("hills.png", open(os.path.join(EXAMPLES, "hills.png"), "rb").read(), "wb")
        p = w.run("preview", "p.md", "-o", "pv", check=0)
        paths = p.stdout.split()
        assert [os.path.basename(x) for x in paths] == ["first-light.html", "first-light.txt",
                                                        "first-light.eml"]
        msg = parse(read_eml(w.path("pv/first-light.eml")))
        (img,) = embedded_images(msg)
        assert img.get_content_type() == "image/png"
        assert img.get_content() == open(os.path.join(EXAMPLES, "hills.png"), "rb").read()
        cid = img["Content-ID"].strip("<>")
        text, html = parts(msg)
        assert f'src="cid:{cid}"' in html
        assert msg["Subject"] == "First light: notes from a small observatory"
        assert msg["To"] == "Ada Lovelace <ada@example.test>"
        assert re.fullmatch(r"<[0-9a-f-]{36}@example\.test>", msg["Message-ID"])
        assert msg["MIME-Version"] == "1.0" and msg["Date"]
        assert msg["List-Id"] == "Test Notes <newsletter.example.test>"
        # folded right after the colon (the URL does not fit the first line);
        # Python's email keeps the blank that follows that fold
        lu = msg["List-Unsubscribe"].strip()
        assert re.fullmatch(r"<https://news\.example\.test/unsubscribe/[0-9a-f-]{36}>, "
                            r"<mailto:news@example\.test\?subject=unsubscribe%20[0-9a-f-]{36}>", lu), lu
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        token = re.search(r"unsubscribe/([0-9a-f-]{36})", lu).group(1)
        assert f"https://news.example.test/unsubscribe/{token}" in text
        assert f"https://news.example.test/unsubscribe/{token}" in html
        # plain text from the tree: tables aligned, links numbered, images named
        assert "[image: Hills at dawn under a pale sky]" in text
        assert "observing programs[1]" in text.replace("\n", " ")
        assert "[1] https://www.astroleague.org/observing-programs/" in text
        assert "Mon   | 3/5    | Moon, Jupiter |" in text
        assert "\n    .mode csv\n" in text
        # the HTML preview shows local images
        page = open(w.path("pv/first-light.html")).read()
        assert 'src="%s"' % os.path.realpath(w.path("hills.png")) in page
        assert "<table" in page and "<del" in page
        # task boxes as characters: Gmail and Outlook drop <input>
        assert ("\u2610" in page or "\u2611" in page) and "<input" not in page
        assert "1 Test Road, Testville" in page and "Unsubscribe" in page
        assert "max-width:600px" in page


def test_utf8_subject_and_names_are_encoded_words():
    title = "Café ☕ notes: 日本語のタイトル and a long tail " + "é" * 40 + " 😀 end"
    subs = "email,name\nzoe@example.test,Zoë Ångström\nplain@example.test,\"Doe, Jane\"\n"
    with Workdir(None, subs) as w:
        w.write("p.md", post(title))
        _, files = dry_run(w)
        assert len(files) == 2
        m1, m2 = (parse(read_eml(f)) for f in files)
        assert m1["Subject"] == title
        assert m1["To"].addresses[0].display_name == "Zoë Ångström"
        assert m2["To"].addresses[0].display_name == "Doe, Jane"
        raw = read_eml(files[0])
        assert b"=?UTF-8?" in raw or b"=?utf-8?" in raw


def test_header_injection_is_impossible():
    subs = ('email,name\n"victim@example.test","Eve\r\nBcc: spy@example.test"\n')
    with Workdir({"publication": {"name": "Pub\r\nX-Injected: 1"}}, subs) as w:
        w.write("p.md", post("Hello\\r\\nBcc: spy@example.test", description="d\\nX-Evil: yes"))
        _, files = dry_run(w)
        assert len(files) == 1
        raw = read_eml(files[0])
        msg = parse(raw)
        head = raw.split(b"\r\n\r\n")[0]
        for bad in (b"\r\nBcc:", b"\r\nX-Injected:", b"\r\nX-Evil:"):
            assert bad not in head, bad
        assert "Bcc" not in msg and "X-Evil" not in msg
        assert len(msg.get_all("Subject")) == 1 and len(msg.get_all("To")) == 1
        assert "spy@example.test" in msg["Subject"]  # kept as text, on one header


def test_dots_long_lines_and_urls_survive_encoding():
    url = "https://example.test/" + "a" * 150 + "?q=1&r=2"
    body = ("Para " + "word " * 200 + "\n\n```\n.leading dot\n..two dots\nFrom here\n```\n\n"
            f"A link: {url}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Dots", body))
        _, files = dry_run(w)
        msg = parse(read_eml(files[0]))
        text, html = parts(msg)
        assert "\n    .leading dot\n    ..two dots\n    From here\n" in text
        assert url in text and url.replace("&", "&amp;") in html
        assert all(len(line) <= 72 for line in text.split("\n") if "https://" not in line)
        raw = read_eml(files[0])
        assert not re.search(rb"\r\n\.", raw), "a line starts with a dot"


def test_crlf_and_bom_posts_work():
    with Workdir(None, SUBS) as w:
        w.write("p.md", "\ufeff---\r\ntitle: CRLF post\r\n---\r\nLine one\r\n\r\n* item\r\n",
                )
        _, files = dry_run(w)
        msg = parse(read_eml(files[0]))
        assert msg["Subject"] == "CRLF post"
        text, _ = parts(msg)
        assert "Line one" in text and "* item" in text and "\r" not in text.replace("\r\n", "\n")


BAD_POSTS = {
    "broken-yaml": ("---\ntitle: \"unterminated\ndate: x\n---\nbody\n", r"bad\.md:\d+:\d+: "),
    "no-title": ("---\ndate: 2026-01-01\n---\nbody\n", r"bad\.md:1:1: .*title"),
    "bad-utf8": (b"---\ntitle: ok\n---\nline\ncaf\xe9 bar\n", r"bad\.md:5:4: invalid UTF-8"),
    "bad-date": ("---\ntitle: t\ndate: last tuesday\n---\n", r"bad\.md:3:7: .*date"),
    "alias-bomb": ("---\ntitle: t\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                   "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                   "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n---\n",
                   r"bad\.md:\d+:\d+: .*alias"),
    "unclosed": ("---\ntitle: t\nbody without end\n", r"bad\.md:1:1: .*closing"),
}


def test_bad_posts_fail_cleanly_and_write_nothing():
    for name, (text, pattern) in BAD_POSTS.items():
        with Workdir(None, SUBS) as w:
            w.write("bad.md", text, "wb" if isinstance(text, bytes) else "w")
            for args in (["preview", "bad.md", "-o", "out"], ["send", "bad.md", "--dry-run=out"]):
                p = w.run(*args)
                assert p.returncode == 65, (name, p.returncode, p.stderr)
                lines = p.stderr.strip().split("\n")
                assert re.search(pattern, lines[-1]), (name, p.stderr)
                assert not os.path.exists(w.path("out")), name


def test_drafts_preview_but_never_send():
    with Workdir(None, SUBS) as w:
        w.write("d.md", post("Draft", draft=True))
        w.run("preview", "d.md", "-o", "out", check=0)
        p = w.run("send", "d.md", "--yes")
        assert p.returncode == 77 and "draft" in p.stderr, p.stderr


def test_dry_run_reports_skipped_rows():
    subs = ("email,name,status\nada@example.test,Ada,active\nbad-address,Nobody,active\n"
            "ADA@Example.test,Ada again,active\ngone@example.test,Gone,unsubscribed\n"
            "x@example.test\r\nzoë@example.test,Zoë,active\n")
    with Workdir(None, subs) as w:
        w.write("p.md", post())
        p, files = dry_run(w)
        # A row with fewer fields than the header (x@example.test, added by hand)
        # reads its missing fields as empty: it is an active reader, as the
        # list's writers have always read it.
        assert [os.path.basename(f) for f in files] == ["000001-ada@example.test.eml",
                                                        "000002-x@example.test.eml"], files
        assert "2 messages" in p.stdout and "4 skipped" in p.stdout, p.stdout
        assert "line 3 bad-address" in p.stdout and "duplicate" in p.stdout
        assert "unsubscribed" in p.stdout and "line 7 zo" in p.stdout


def test_images_link_embed_and_missing():
    with Workdir({"images": "link"}, SUBS) as w:
        w.write("p.md", post("Img", "![a cat](img/cat.png)\n"))
        w.write("img/cat.png", b"\x89PNG\r\n\x1a\n fake", "wb")  # a PNG by its signature
        _, files = dry_run(w)
        _, html = parts(parse(read_eml(files[0])))
        # Under the post's path, so one issue's cat.png never replaces another's.
        assert 'src="https://news.example.test/p/img/cat.png"' in html
        w.write_config({"images": "embed"})
        for f in files:
            os.unlink(f)
        _, files = dry_run(w)
        msg = parse(read_eml(files[0]))
        assert len(embedded_images(msg)) == 1
        os.unlink(w.path("img/cat.png"))
        p = w.run("preview", "p.md", "-o", "pv")
        assert p.returncode != 0 and "img/cat.png" in p.stderr and "not found" in p.stderr


def test_image_urls_percent_encoded_under_the_slug():
    names = ["img/a b#1?.png", "img/caf\u00e9.png", "img/x/../plain.png"]
    with Workdir({"images": "link"}, SUBS) as w:
        w.write("p.md", post("Img", "".join("![x](<%s>)\n\n" % n for n in names)))
        for n in ["img/a b#1?.png", "img/caf\u00e9.png", "img/plain.png"]:
            w.write(n, b"\x89PNG\r\n\x1a\n fake", "wb")
        os.makedirs(w.path("img/x"), exist_ok=True)
        _, files = dry_run(w)
        _, html = parts(parse(read_eml(files[0])))
        for url in ["p/img/a%20b%231%3F.png", "p/img/caf%C3%A9.png", "p/img/plain.png"]:
            assert 'src="https://news.example.test/%s"' % url in html, (url, html)


def test_raw_html_dropped_unless_allowed():
    body = "Hello <span class=x>there</span>\n\n<div>block</div>\n"
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Raw", body))
        _, files = dry_run(w)
        _, html = parts(parse(read_eml(files[0])))
        assert "<span class=x>" not in html and "<div>block" not in html
        w.write_config({"allow_html": True})
        _, files = dry_run(w)
        _, html = parts(parse(read_eml(files[0])))
        assert "<span class=x>" in html and "<div>block</div>" in html


def test_template_errors_name_template_and_line():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post())
        os.makedirs(w.path("tpl"))
        w.write("tpl/email.html", "<p>\n{{title}}\n{{nope}}\n</p>\n")
        w.write("tpl/email.txt", "{{title}}\n")
        w.write_config({"templates": "tpl"})
        p = w.run("preview", "p.md", "-o", "out")
        assert p.returncode == 65 and re.search(r"tpl/email\.html:3: .*unknown variable 'nope'",
                                                p.stderr), p.stderr
        w.write("tpl/email.html", "{{#title}}\n")
        p = w.run("preview", "p.md", "-o", "out")
        assert p.returncode == 65 and "email.html:1" in p.stderr and "never closed" in p.stderr
        assert not os.path.exists(w.path("out"))


def test_personal_fields_and_extra_columns():
    subs = "email,name,city\nada@example.test,Ada <&>,London\nbob@example.test,,Paris\n"
    with Workdir(None, subs) as w:
        os.makedirs(w.path("tpl"))
        w.write("tpl/email.html", "<p>Hi {{#subscriber.name}}{{subscriber.name}}{{/subscriber.name}}"
                "{{^subscriber.name}}reader{{/subscriber.name}} in {{subscriber.city}}</p>{{{content}}}"
                "<a href=\"{{unsubscribe_url}}\">u</a>\n")
        w.write("tpl/email.txt", "Hi {{subscriber.name}} {{subscriber.city}}\n{{{content}}}\n")
        w.write_config({"templates": "tpl"})
        w.write("p.md", post("T", "Body text.\n"))
        _, files = dry_run(w)
        (t1, h1), (t2, h2) = (parts(parse(read_eml(f))) for f in files)
        assert "<p>Hi Ada &lt;&amp;&gt; in London</p>" in h1
        assert "<p>Hi reader in Paris</p>" in h2
        assert t1.startswith("Hi Ada <&> London") and "Body text." in t2
        tok1 = re.search(r"unsubscribe/([^\"]+)", h1).group(1)
        tok2 = re.search(r"unsubscribe/([^\"]+)", h2).group(1)
        assert tok1 != tok2


def test_without_config_preview_warns_and_works():
    with Workdir(None, SUBS) as w:
        os.unlink(w.config)
        w.write("p.md", post())
        import subprocess
        from nl import BIN
        os.symlink(TEMPLATES, w.path("templates"))
        p = subprocess.run([BIN, "preview", "p.md"], cwd=w.dir, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert "no config.yml" in p.stderr and "From address" in p.stderr
        parse(read_eml(w.path("out/p.eml")))
