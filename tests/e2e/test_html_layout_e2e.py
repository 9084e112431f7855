"""The HTML part in a narrow window (issue 10): hostile-but-ordinary posts
(a wide table, a long URL, a long code line, a long word, a big image,
right-to-left and Japanese text, task lists, footnotes, raw HTML with styles)
rendered with `preview` and `send --dry-run`, opened in headless Chromium at
500 and 600 px: the page must never be wider than the window. Also: one style
attribute per element, image sizes, the Gmail clipping size check, and WCAG
AA contrast in light and dark mode, computed from the colours in the HTML.

Widths are printed (NL_SHOTS=DIR keeps the screenshots and writes
DIR/layout/widths.json)."""
import glob
import html.parser
import json
import os
import re
import struct
import zlib

from browser import Browser, shots_dir
from nl import Workdir, parse, parts, post, read_eml

SUBS = "email,name\nada@example.test,Ada Lovelace\n"
WIDTHS = (500, 600)
COLUMN = 600  # the message's column: images are capped at this width


def png(width, height, rgb=(40, 120, 200)):
    """A real PNG (one colour): small even when large, since rows compress."""
    row = b"\x00" + bytes(rgb) * width
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data +
                                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))


def gif(width, height):
    """A real GIF87a: two-colour palette, one LZW-coded pixel run of colour 0."""
    head = b"GIF87a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    img = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return head + img + b";"


LONG_URL = "https://example.test/" + "/".join("segment%02d-with-words" % i for i in range(12)) + "?q=" + "x" * 40
BARE_URL = "https://example.test/download?token=" + "a1b2c3d4e5f6" * 14
WIDE_TABLE = ("| " + " | ".join("Column %d header" % i for i in range(8)) + " |\n" +
              "|" + "---|" * 8 + "\n" +
              ("| " + " | ".join("value %d, rather long" % i for i in range(8)) + " |\n") * 3)

POSTS = {
    "table": ("Wide table", "Eight columns:\n\n" + WIDE_TABLE + "\nAfter the table.\n", {}),
    "url": ("Long URL", "Read it at %s today.\n\nAnd a [link](%s), then %s.\n" % (LONG_URL, LONG_URL, BARE_URL), {}),
    "code": ("Code line", "Code:\n\n```\n" + "let x = " + "a+b*c/d-" * 37 + "\n```\n\nInline `" +
             "q" * 120 + "` too.\n", {}),
    "word": ("Long word", "A word: " + "Donaudampfschiff" * 12 + "x" * 8 + " ends here.\n", {}),
    "image": ("Big image", "Before.\n\n![A wide landscape](big.png)\n\n![](deco.gif)\n\nAfter.\n", {}),
    "rtl": ("مرحبا", "## العنوان\n\nهذا نص عربي طويل بعض الشيء ليظهر في الرسالة، مع رابط "
            "[هنا](https://example.test/ar) ونهاية.\n\n- أول\n- ثاني\n", {}),
    "ja": ("日本語のお知らせ", "# 見出し\n\n" + "これは日本語の長い段落です。" * 20 + "\n\n"
           "- [ ] 未完了\n- [x] 完了\n", {}),
    "tasks": ("Tasks", "# Top\n\n## Second\n\n###### Deepest\n\n- [ ] open item\n- [x] done item\n", {}),
    "notes": ("Footnotes", "A claim[^1] and another[^b] and again[^1].\n\n[^1]: The first note.\n"
              "[^b]: The second note.\n", {}),
    "rawhtml": ("Raw HTML", '<p style="color:#7c2d12;font-weight:bold">Author styled.</p>\n\n'
                '<table style="width:900px"><tr><td style="padding:20px">wide raw table</td></tr></table>\n\n'
                'Text with <a style="color:#065f46" href="https://example.test/">a link</a>.\n',
                {"allow_html": True}),
}


def write_images(w):
    w.write("big.png", png(2400, 300), "wb")
    w.write("deco.gif", gif(40, 10), "wb")


def render_all(w, name):
    """preview's .html and the dry run's HTML part (as files), for one post."""
    w.run("preview", name + ".md", "-o", "pv-" + name, check=0)
    w.run("send", name + ".md", "--dry-run=dry-" + name, check=0)
    eml = sorted(glob.glob(w.path("dry-%s/*.eml" % name)))[0]
    msg = parse(read_eml(eml))
    _, html_part = parts(msg)
    sent = w.write("sent-%s.html" % name, html_part)
    preview = glob.glob(w.path("pv-%s/*.html" % name))[0]
    return preview, sent


def contrast(c1, c2):
    def lum(c):
        c = c.lstrip("#")
        if len(c) == 3:
            c = "".join(ch * 2 for ch in c)
        rgb = [int(c[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    a, b = sorted((lum(c1), lum(c2)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_hostile_posts_fit_500_and_600_px_windows():
    measured = {}
    shots = shots_dir("layout")
    with Workdir(None, SUBS) as w:
        write_images(w)
        files = {}
        for name, (title, body, extra) in POSTS.items():
            w.write_config(extra or None)
            w.write(name + ".md", post(title, body, slug=name))
            files[name] = render_all(w, name)
        w.write_config(None)
        for dark in (False, True):
            for width in WIDTHS:
                with Browser(width=width, dark=dark) as b:
                    for name, (preview, sent) in files.items():
                        for kind, path in (("preview", preview), ("sent", sent)):
                            sw = b.open_file(path).scroll_width()
                            measured["%s %s %d%s" % (name, kind, width, " dark" if dark else "")] = sw
                            if kind == "preview" and (width == 500 or name in ("table", "rtl")):
                                b.screenshot(os.path.join(shots, "%s-%d%s.png" % (
                                    name, width, "-dark" if dark else "")))
    for k, v in measured.items():
        print("width %-26s %4d" % (k, v))
    print("screenshots in", shots)
    if os.environ.get("NL_SHOTS"):
        with open(os.path.join(shots, "widths.json"), "w") as f:
            json.dump(measured, f, indent=1)
    wide = {k: v for k, v in measured.items() if v > int(k.split()[2])}
    assert not wide, wide


class Tags(html.parser.HTMLParser):
    """Every start tag with its attribute list, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


def tags_of(text):
    t = Tags()
    t.feed(text)
    return t.tags


def test_author_styles_merge_into_one_attribute():
    body = ('<p style="color:#7c2d12;margin:4px">Author styled.</p>\n\n'
            "<table style='width:300px'><tr><td STYLE=\"padding:20px\">cell</td></tr></table>\n\n"
            'Text with <a href="https://example.test/" style="color:#065f46">a link</a> and '
            '<img src="https://example.test/x.png">.\n')
    with Workdir({"allow_html": True}, SUBS) as w:
        w.write("p.md", post("Styled", body))
        _, sent = render_all(w, "p")
        html_part = open(sent).read()
        content = html_part[html_part.index("Author styled") - 200:]
        checked = 0
        for tag, attrs in tags_of(content):
            styles = [v for k, v in attrs if k == "style"]
            assert len(styles) <= 1, (tag, attrs)
            if tag in ("p", "table", "td", "a") and styles:
                checked += 1
        assert checked >= 4
        want = {"p": "color:#7c2d12;margin:4px", "table": "width:300px", "td": "padding:20px",
                "a": "color:#065f46"}
        for tag, decl in want.items():
            found = [dict(a)["style"] for t, a in tags_of(content) if t == tag and decl in dict(a).get("style", "")]
            assert found, (tag, decl)
            style = found[0]
            # ours is there too, and the author's comes last so that it wins
            assert style.rstrip(";").endswith(decl), style
            assert style.index(decl) > 0, style
        imgs = [dict(a) for t, a in tags_of(content) if t == "img"]
        assert imgs and all("alt" in a for a in imgs), imgs


def test_images_get_capped_sizes_and_alt_text():
    with Workdir(None, SUBS) as w:
        write_images(w)
        w.write("small.png", png(120, 80), "wb")
        w.write("p.md", post("Images", "![Wide](big.png)\n\n![](deco.gif)\n\n![Small one](small.png)\n"))
        p = w.run("send", "p.md", "--dry-run=out", check=0)
        msg = parse(read_eml(sorted(glob.glob(w.path("out/*.eml")))[0]))
        _, html_part = parts(msg)
        imgs = [dict(a) for t, a in tags_of(html_part) if t == "img"]
        assert len(imgs) == 3, imgs
        big, deco, small = imgs
        assert (big["width"], big["height"], big["alt"]) == ("600", "75", "Wide"), big
        assert (deco["width"], deco["height"], deco["alt"]) == ("40", "10", ""), deco
        assert (small["width"], small["height"]) == ("120", "80"), small
        for im in imgs:
            assert "max-width:100%" in im["style"] and "height:auto" in im["style"], im
        assert "warning" not in p.stderr, p.stderr


def test_webp_and_svg_images_warn():
    webp = (b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8L" + struct.pack("<I", 10) +
            b"\x2f" + struct.pack("<I", (19) | (9 << 14)) + b"\x00" * 5)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    with Workdir(None, SUBS) as w:
        w.write("a.webp", webp, "wb")
        w.write("b.svg", svg, "wb")
        w.write("p.md", post("Formats", "![A](a.webp)\n\n![B](b.svg)\n\n![R](https://cdn.example.test/r.WEBP?x=1)\n"
                                        "\n![P](https://cdn.example.test/p.png)\n"))
        for args in (("preview", "p.md", "-o", "pv"), ("send", "p.md", "--dry-run=out")):
            p = w.run(*args, check=0)
            assert re.search(r"warning: .*p\.md:\d+: image 'a\.webp' is WebP", p.stderr), p.stderr
            assert re.search(r"warning: .*p\.md:\d+: image 'b\.svg' is SVG", p.stderr), p.stderr
            assert re.search(r"p\.md:\d+: image 'https://cdn\.example\.test/r\.WEBP\?x=1' is WebP", p.stderr)
            assert "Outlook" in p.stderr and "p.png" not in p.stderr
        msg = parse(read_eml(sorted(glob.glob(w.path("out/*.eml")))[0]))
        _, html_part = parts(msg)
        imgs = [dict(a) for t, a in tags_of(html_part) if t == "img"]
        assert (imgs[0]["width"], imgs[0]["height"]) == ("20", "10"), imgs[0]


def test_task_lists_footnotes_and_heading_levels():
    body = ("# Top\n\n## Second\n\n###### Deepest\n\n- [ ] open item\n- [x] done item\n\n"
            "A claim[^1] and again[^1].\n\n[^1]: The note.\n")
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Structure", body))
        w.run("send", "p.md", "--dry-run=out", check=0)
        _, h = parts(parse(read_eml(sorted(glob.glob(w.path("out/*.eml")))[0])))
        heads = [t for t, _ in tags_of(h) if re.fullmatch(r"h\d", t)]
        assert heads == ["h1", "h2", "h3", "h6"], heads  # the title, then the post's own
        assert "<input" not in h and "\u2610 open item" in h and "\u2611 done item" in h
        assert "footnote-backref" not in h and "\u21a9" not in h and 'href="#fn' not in h
        notes = h.index(">Notes<")
        assert "<hr" in h[notes - 300:notes] and h.index("The note.") > notes
        assert h.count("<sup") == 2


def test_gmail_clip_size_is_reported_warned_and_refused():
    big = "".join("Paragraph %d with some words to fill the message up nicely.\n\n" % i
                  for i in range(1200))
    with Workdir({"smtp": {"url": "smtp://127.0.0.1:9", "tls": "none"}}, SUBS) as w:
        w.write("small.md", post("Small", "Short.\n"))
        w.write("big.md", post("Big", big))
        p = w.run("preview", "small.md", "-o", "pv", check=0)
        assert re.search(r"HTML part: \d+\.\d KB", p.stderr) and "warning" not in p.stderr, p.stderr
        p = w.run("send", "small.md", "--dry-run=o1", check=0)
        assert re.search(r"HTML part: \d+\.\d KB", p.stdout), p.stdout
        p = w.run("preview", "big.md", "-o", "pv", check=0)
        assert re.search(r"warning: .*HTML part is 1\d\d\.\d KB.*102 KB", p.stderr), p.stderr
        p = w.run("send", "big.md", "--dry-run=o2", check=0)
        assert "102 KB" in p.stderr
        # a real send refuses before it touches the relay or the log
        p = w.run("send", "big.md", "--yes", check=65)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "--force" in lines[0] and "102 KB" in lines[0], p.stderr
        assert not os.path.exists(w.path("sends.log")) or os.path.getsize(w.path("sends.log")) == 0
        # --force goes on to the relay (here: nothing listens, so it fails there, later)
        p = w.run("send", "big.md", "--yes", "--force")
        assert "--force" not in p.stderr and "Gmail" in p.stderr, p.stderr


STYLE_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def dark_rules(html_text):
    """selector -> declarations of the prefers-color-scheme: dark block of <style>."""
    style = re.search(r"<style[^>]*>(.*?)</style>", html_text, re.S).group(1)
    m = re.search(r"@media[^{]*prefers-color-scheme:\s*dark[^{]*\{((?:[^{}]*\{[^{}]*\})*)", style)
    assert m, style
    rules = {}
    for sel, decl in STYLE_RULE.findall(m.group(1)):
        for s in sel.split(","):
            rules.setdefault(s.strip(), {}).update(
                {k.strip(): v.replace("!important", "").strip() for k, v in
                 (d.split(":", 1) for d in decl.split(";") if ":" in d)})
    return rules


def colour(decls, key):
    v = decls.get(key) or decls.get("background") if key == "background-color" else decls.get(key)
    return re.search(r"#[0-9a-fA-F]{3,6}\b", v).group(0)


def test_contrast_is_wcag_aa_in_light_and_dark():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Contrast", "Text with [a link](https://example.test/).\n",
                             description="A description"))
        w.run("send", "p.md", "--dry-run=out", check=0)
        _, h = parts(parse(read_eml(sorted(glob.glob(w.path("out/*.eml")))[0])))
    inline = " ".join(dict(a).get("style", "") for t, a in tags_of(h))
    body = [dict(a) for t, a in tags_of(h) if t == "body"][0]["style"]
    bg = re.search(r"background(?:-color)?:(#[0-9a-fA-F]{3,6})", body).group(1)
    inv = lambda x: "#%02x%02x%02x" % tuple(255 - int(x.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    full = lambda c: c if len(c) == 7 else "#" + "".join(ch * 2 for ch in c[1:])
    # light: every inline text colour (body text, footer grey, links) on the background
    colours = set(re.findall(r"(?<![-\w])color:(#[0-9a-fA-F]{3,6})", inline))
    assert len(colours) >= 3, colours
    for c in colours:
        assert contrast(c, bg) >= 4.5, (c, bg, contrast(c, bg))
        # clients that invert colours (Gmail and Outlook apps) turn c on bg into its inverse
        assert contrast(inv(full(c)), inv(full(bg))) >= 4.5, (c, "inverted")
    # dark: the colours of the prefers-color-scheme block on its background
    rules = dark_rules(h)
    dbg = colour(rules["body"], "background-color")
    dark_colours = {colour(d, "color") for d in rules.values() if "color" in d}
    assert len(dark_colours) >= 3, rules
    for c in dark_colours:
        assert contrast(c, dbg) >= 4.5, (c, dbg, contrast(c, dbg))
    assert "a" in rules and any("muted" in s for s in rules), rules


COMPUTED = """
const rgb = s => '#' + s.match(/\\d+/g).slice(0, 3).map(x => (+x).toString(16).padStart(2, '0')).join('');
function bg(el) {
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    if (!/rgba\\(0, 0, 0, 0\\)|transparent/.test(c)) return rgb(c);
  }
  return null;
}
const out = [];
for (const el of document.querySelectorAll('h1, p, li, a, td, th')) {
  if (!el.textContent.trim() || el.closest('[style*="display:none"]')) continue;
  out.push([el.tagName + ' ' + el.textContent.trim().slice(0, 20), rgb(getComputedStyle(el).color), bg(el)]);
}
return out;
"""


def test_contrast_as_chromium_draws_it_light_and_dark():
    """The colours a browser computes, in light and in dark mode: every text
    element, links and footer included, at 4.5:1 or more on its background."""
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Contrast", "Text with [a link](https://example.test/).\n\n"
                             "| a | b |\n|---|---|\n| 1 | 2 |\n\n- item\n", description="About it"))
        w.run("send", "p.md", "--dry-run=out", check=0)
        _, h = parts(parse(read_eml(sorted(glob.glob(w.path("out/*.eml")))[0])))
        page = w.write("p.html", h)
        for dark in (False, True):
            with Browser(width=600, dark=dark) as b:
                seen = b.open_file(page).js(COMPUTED)
            assert len(seen) >= 8, seen
            for what, fg, back in seen:
                assert back, what
                print("%-5s %-28s %s on %s: %.1f" % ("dark" if dark else "light", what, fg, back,
                                                      contrast(fg, back)))
                assert contrast(fg, back) >= 4.5, (dark, what, fg, back, contrast(fg, back))
            backs = {back for _, _, back in seen}
            assert backs == ({"#111827"} if dark else {"#ffffff"}), backs


def test_size_check_before_send_knows_the_lists_columns():
    """The check before a send binds the templates as the send does: a
    template naming one of the list's columns must not fail there."""
    subs = "email,name,city\nada@example.test,Ada,London\n"
    with Workdir({"smtp": {"url": "smtp://127.0.0.1:9", "tls": "none"}, "templates": "tpl"}, subs) as w:
        w.write("tpl/email.html", "<p>In {{subscriber.city}}</p>{{{content}}}<a href=\"{{unsubscribe_url}}\">u</a>")
        w.write("tpl/email.txt", "In {{subscriber.city}}\n{{{content}}}\n{{unsubscribe_url}}\n")
        w.write("p.md", post("Cities", "Body.\n"))
        p = w.run("send", "p.md", "--yes")
        assert "HTML part:" in p.stdout, (p.stdout, p.stderr)
        assert "template" not in p.stderr and p.returncode != 0, p.stderr  # the relay is not there
