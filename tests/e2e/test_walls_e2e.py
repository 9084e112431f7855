"""End-to-end tests of the walls a stranger's post or template cannot pass:
posts that would keep the renderer busy for minutes fail at once naming the
post and line, templates that expand without end fail naming the template,
and images are only image files from the post's folder (or images_dir)."""
import glob
import os
import re

from nl import EXAMPLES, CpuTime, Workdir, embedded_images, parse, parts, post, read_eml

SUBS = "email,name\nada@example.test,Ada Lovelace\n"
PNG = open(os.path.join(EXAMPLES, "hills.png"), "rb").read()
# A post's body starts on line 4: "---", title, "---".
BODY_LINE = 4


def fails_fast(w, name, pattern, rc=65, limit=20):
    """preview NAME must fail with rc and a message matching pattern, quickly."""
    with CpuTime() as cpu:
        p = w.run("preview", name, "-o", "pv", timeout=120)
    assert p.returncode == rc, (p.returncode, p.stderr)
    assert re.search(pattern, p.stderr), p.stderr
    assert cpu.seconds < limit, f"took {cpu.seconds:.1f} s of CPU"
    assert not os.path.exists(w.path("pv"))
    return p


def dry_run(w, name="p.md"):
    p = w.run("send", name, "--dry-run=out")
    return p, sorted(glob.glob(w.path("out/*.eml")))


# ---- posts ----

def test_post_with_10000_table_columns_fails_before_cmark():
    n = 10000
    body = "|" + "a|" * n + "\n|" + "-|" * n + "\n|" + "b|" * n + "\n"
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Wide", body))
        fails_fast(w, "p.md", r"p\.md:%d: table with 10000 columns: at most 128" % BODY_LINE)


def test_table_row_with_many_cells_fails():
    body = "| a | b |\n|---|---|\n| x | y |\n|" + "c|" * 5000 + "\n"
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Row", body))
        fails_fast(w, "p.md", r"p\.md:%d: table with 5000 columns: at most 128" % (BODY_LINE + 3))


def test_table_of_128_columns_renders():
    n = 128
    body = "|" + "a|" * n + "\n|" + "-|" * n + "\n|" + "b|" * n + "\n"
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Wide", body))
        _, files = dry_run(w)
        text, html = parts(parse(read_eml(files[0])))
        assert html.count("<th style") == n and ("a | " * (n - 1)) + "a" in text


def test_post_with_more_than_10000_links_fails_fast():
    body = "".join(f"[l{i}](https://e.example/{i})\n" for i in range(30000))
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Links", body))
        fails_fast(w, "p.md",
                   r"p\.md:%d: more than 10000 links and images: at most 10000" % (BODY_LINE + 10000))


def test_10000_links_are_numbered_in_order():
    body = "".join(f"[l{i}](https://e.example/{i % 5000})\n" for i in range(10000))
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Links", body))
        with CpuTime() as cpu:
            _, files = dry_run(w)
        assert cpu.seconds < 20, cpu.seconds
        text, _ = parts(parse(read_eml(files[0])))
        # a repeated target keeps its first number
        assert "l0[1] l1[2]" in text and "l5000[1] l5001[2]" in text
        assert "[5000] https://e.example/4999\n" in text and "[5001]" not in text


def test_deep_nesting_fails_naming_the_line():
    body = "para\n\n" + "> " * 101 + "deep\n"
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Deep", body))
        fails_fast(w, "p.md", r"p\.md:%d: Markdown nests blocks 101 deep: at most 100" % (BODY_LINE + 2))
        w.write("p.md", post("Deep", "".join("  " * i + "- a\n" for i in range(150))))
        fails_fast(w, "p.md", r"p\.md:%d: Markdown nests blocks 101 deep" % (BODY_LINE + 100))


def test_long_line_fails():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Long", "ok\n" + "*a* " * 30000 + "\n"))
        fails_fast(w, "p.md", r"p\.md:%d: line of 120000 bytes: at most 100000" % (BODY_LINE + 1))


def test_body_over_1_mib_fails():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Big", "y\n" * 600000))
        fails_fast(w, "p.md", r"p\.md: the Markdown body is 1200000 bytes: at most 1048576")


# ---- templates ----

def test_template_nested_sections_over_lists_fail_naming_the_template():
    items = "[" + ", ".join(str(i) for i in range(30)) + "]"
    with Workdir(None, SUBS) as w:
        os.makedirs(w.path("tpl"))
        w.write("tpl/email.html", "{{{content}}}\n" + "".join("{{#xs}}" for _ in range(6)) + "x"
                + "".join("{{/xs}}" for _ in range(6)) + "\n")
        w.write("tpl/email.txt", "{{{content}}}\n")
        w.write_config({"templates": "tpl"})
        w.write("p.md", post("T", "Hi.\n", xs=items))
        fails_fast(w, "p.md", r"tpl/email\.html:2: template: expands to more than 1000000 steps")


def test_template_that_expands_to_gigabytes_fails():
    items = "[" + ", ".join(str(i) for i in range(30)) + "]"
    with Workdir(None, SUBS) as w:
        os.makedirs(w.path("tpl"))
        w.write("tpl/email.html", "{{#xs}}{{#xs}}{{#xs}}{{{content}}}{{/xs}}{{/xs}}{{/xs}}\n")
        w.write("tpl/email.txt", "{{{content}}}\n")
        w.write_config({"templates": "tpl"})
        w.write("p.md", post("T", "word " * 20000 + "\n", xs=items))
        fails_fast(w, "p.md", r"tpl/email\.html:1: template: expands to more than 67108864 bytes")


def test_template_that_is_a_directory_is_an_error():
    with Workdir(None, SUBS) as w:
        os.makedirs(w.path("tpl/email.txt"))
        w.write("tpl/email.html", "{{{content}}}\n")
        w.write_config({"templates": "tpl"})
        w.write("p.md", post())
        fails_fast(w, "p.md", r"tpl/email\.txt: template is not a regular file", rc=66)
        p, files = dry_run(w)
        assert p.returncode == 66 and not files and "email.txt" in p.stderr


# ---- images ----

def test_embed_refuses_a_file_outside_the_post_folder():
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("secret-file", "smtp-password\n")
        w.write("posts/p.md", post("Leak", "Hello.\n\n![x](../secret-file)\n"))
        fails_fast(w, "posts/p.md",
                   r"posts/p\.md:%d: image '\.\./secret-file' is .*secret-file, outside the post's folder"
                   % (BODY_LINE + 2))
        # even when it is a real image: the folder is the wall
        w.write("other.png", PNG, "wb")
        w.write("posts/p.md", post("Leak", "![x](../other.png)\n"))
        p, files = dry_run(w, "posts/p.md")
        assert p.returncode == 65 and not files and "outside the post's folder" in p.stderr
        # linking checks the same: the link would reveal the file's presence
        w.write_config({"images": "link"})
        p, files = dry_run(w, "posts/p.md")
        assert p.returncode == 65 and not files and "outside the post's folder" in p.stderr


def test_embed_refuses_a_symlink_pointing_outside():
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("secret.png", PNG, "wb")
        os.makedirs(w.path("posts"))
        os.symlink(w.path("secret.png"), w.path("posts/pic.png"))
        w.write("posts/p.md", post("Leak", "![x](pic.png)\n"))
        fails_fast(w, "posts/p.md", r"posts/p\.md:%d: image 'pic\.png' is .*outside" % BODY_LINE)


def test_embed_refuses_a_file_that_is_not_an_image():
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("cfg.png", "password: hunter2\n")
        w.write("fake.svg", "<html><script>alert(1)</script></html>\n")
        w.write("p.md", post("Leak", "![x](cfg.png)\n"))
        fails_fast(w, "p.md", r"p\.md:%d: image 'cfg\.png': .*cfg\.png is not a PNG, JPEG, GIF, "
                   r"WebP, AVIF or SVG image" % BODY_LINE)
        w.write("p.md", post("Leak", "![x](fake.svg)\n"))
        fails_fast(w, "p.md", r"p\.md:%d: image 'fake\.svg': .*not a PNG" % BODY_LINE)


def test_image_type_comes_from_the_content():
    svg = '<?xml version="1.0"?>\n<!-- drawn -->\n<svg xmlns="http://www.w3.org/2000/svg"/>\n'
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
    gif = b"GIF89a" + b"\x00" * 32
    webp = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 32
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("a.gif", PNG, "wb")
        w.write("b.png", jpeg, "wb")
        w.write("c.jpg", gif, "wb")
        w.write("d.png", webp, "wb")
        w.write("e.png", avif, "wb")
        w.write("f.img", svg)
        w.write("p.md", post("Types", "".join(f"![{x}]({x})\n\n" for x in
                                              ["a.gif", "b.png", "c.jpg", "d.png", "e.png", "f.img"])))
        p, files = dry_run(w)
        assert p.returncode == 0, p.stderr
        msg = parse(read_eml(files[0]))
        kinds = [x.get_content_type() for x in embedded_images(msg)]
        assert kinds == ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
                         "image/svg+xml"], kinds
        assert embedded_images(msg)[0].get_content() == PNG


def test_images_dir_from_the_config_may_be_embedded():
    with Workdir({"images": "embed", "images_dir": "shared-images"}, SUBS) as w:
        w.write("shared-images/logo.png", PNG, "wb")
        w.write("secret.png", PNG, "wb")
        w.write("posts/p.md", post("Logo", "![logo](../shared-images/logo.png)\n"))
        p, files = dry_run(w, "posts/p.md")
        assert p.returncode == 0, p.stderr
        msg = parse(read_eml(files[0]))
        assert embedded_images(msg)[0].get_content() == PNG
        w.write("posts/p.md", post("Logo", "![logo](../secret.png)\n"))
        p, files = dry_run(w, "posts/p.md")
        assert p.returncode == 65 and "outside the post's folder and images_dir" in p.stderr


def test_one_file_named_many_ways_is_attached_once():
    names = ["a.png", "./a.png", "img/../a.png", ".//a.png"] * 50
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("a.png", PNG, "wb")
        os.makedirs(w.path("img"))
        w.write("p.md", post("Once", "".join(f"![x]({n})\n" for n in names)))
        p, files = dry_run(w)
        assert p.returncode == 0, p.stderr
        msg = parse(read_eml(files[0]))
        images = embedded_images(msg)
        assert len(images) == 1 and images[0].get_content() == PNG
        cid = images[0]["Content-ID"].strip("<>")
        _, html = parts(msg)
        assert html.count(f'src="cid:{cid}"') == len(names)


def test_long_template_is_checked_in_one_pass():
    items = "[{a: 1}, {a: 2}]"
    with Workdir(None, SUBS) as w:
        os.makedirs(w.path("tpl"))
        # 200,000 names relative to the list item: each was checked against
        # every node before it (20 s and more); now one pass
        w.write("tpl/email.html", "{{{content}}}{{#items}}" + "{{a}}" * 200000 + "{{/items}}\n")
        w.write("tpl/email.txt", "{{{content}}}\n")
        w.write_config({"templates": "tpl"})
        w.write("p.md", post("T", "Hi.\n", items=items))
        with CpuTime() as cpu:
            p, files = dry_run(w)
        assert p.returncode == 0 and len(files) == 1, p.stderr
        assert cpu.seconds < 8, cpu.seconds
        _, html = parts(parse(read_eml(files[0])))
        assert "1" * 200000 + "2" * 200000 in html
