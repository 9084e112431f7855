"""The text part, header folding, the embed layout, and a post's language (issue 10).

Every message is made by ./newsletter (send --dry-run or preview) and read back
with Python's email package; display widths are measured with unicodedata, not
with the program's own table.
"""
import glob
import re
import unicodedata

import nl
from nl import Workdir, embedded_images, parse, parts, post, read_eml

SUBS = "email,name\nada@example.test,Ada Lovelace\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")

JA_PARA = ("日本語の文章には単語の間にスペースがありません。そのため、メールの本文を七十二桁で"
           "折り返すには、文字と文字の間で改行する必要があります。句読点は行頭に来ないように"
           "します。「かぎかっこ」も同じです。詳しくは https://example.com/a/very/long/path/"
           "that/must/never/be/broken/in/two?query=1 をご覧ください。この段落はとても長いので、"
           "何行にも折り返されるはずです。")


def width(s):
    """Columns in a monospaced font: East Asian Wide/Fullwidth two, combining marks none."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def dry_run(w, name="p.md"):
    p = w.run("send", name, "--dry-run=out")
    assert p.returncode == 0, p.stderr
    files = sorted(glob.glob(w.path("out/*.eml")))
    assert files
    return files


def one_message(w, name="p.md"):
    raw = read_eml(dry_run(w, name)[0])
    return raw, parse(raw)


# ---- the text part ----

def test_japanese_post_wraps_by_display_width():
    title = "日本語のニュースレター第一号：長い題名でも下線は表示幅に合わせます"
    body = JA_PARA + "\n\n## 見出しです\n\n" + JA_PARA + "\n"
    with Workdir(None, SUBS) as w:
        w.write("p.md", post(title, body, lang="ja", date="2026-12-02"))
        _, msg = one_message(w)
        text, html = parts(msg)
        lines = text.split("\n")
        url = "https://example.com/a/very/long/path/that/must/never/be/broken/in/two?query=1"
        for line in lines:  # a URL alone on its line may be longer: it is never broken
            assert width(line) <= 72 or re.fullmatch(r"(https?|mailto):\S+", line), (width(line), line)
        # the URL kept whole on a line of its own, nothing broken
        assert lines.count(url) == 2, text
        # title underlined as wide as it looks
        i = lines.index(title)
        assert lines[i + 1] == "=" * width(title), lines[i + 1]
        j = lines.index("見出しです")
        assert lines[j + 1] == "-" * width("見出しです")
        # wrapped between characters into several lines, none starting with 。、」ー
        start = next(k for k, l in enumerate(lines) if l.startswith(JA_PARA[:10]))
        para = [l for l in lines[start:j] if l]
        assert len(para) >= 5, text
        assert not [l for l in lines if l[:1] in ("。", "、", "」", "ー")], text
        # joined again it is the paragraph: no character lost or added
        assert "".join(para).replace(" ", "") == JA_PARA.replace(" ", "")
        assert [l for l in para if url in l] == [url]
        assert '<html lang="ja" dir="ltr">' in html
        assert "2026年12月2日" in html


def test_footnotes_deep_headings_and_task_lists_in_text():
    body = ("Intro with a note[^a] and a [link](https://l.example/).\n\n"
            "### Third level\n\n#### Fourth level\n\n"
            "- [ ] todo item\n- [x] done item\n\n"
            "[^a]: The note itself.\n")
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("Notes", body))
        _, msg = one_message(w)
        text, _ = parts(msg)
        assert "[^" not in text and "#" not in text.replace("#", "", 0).split("--\n")[0], text
        assert "Intro with a note[1] and a link[2]." in text
        assert "\nNotes:\n[1] The note itself.\n" in text
        assert "\nLinks:\n[2] https://l.example/\n" in text
        assert "\nThird level\n" in text and "\nFourth level\n" in text
        assert "###" not in text
        assert "\n\u2610 todo item\n\u2611 done item\n" in text
        assert "[ ]" not in text and "[x]" not in text



def test_notes_and_links_labels_follow_the_post_language():
    body = "Ein Satz[^a] mit [Link](https://l.example/).\n\n[^a]: Die Anmerkung.\n"
    want = {"de": ("Anmerkungen", "Links"), "ja": ("注", "リンク"), "ar": ("ملاحظات", "روابط"),
            "fr": ("Notes", "Liens"), "sw": ("Notes", "Links")}  # sw: a language without words here
    for lang, (notes, links) in want.items():
        with Workdir(None, SUBS) as w:
            w.write("p.md", post("T", body, lang=lang))
            _, msg = one_message(w)
            text, html = parts(msg)
            assert f"\n{notes}:\n[1] Die Anmerkung.\n" in text, (lang, text)
            assert f"\n{links}:\n[2] https://l.example/\n" in text, (lang, text)
            assert re.search(r'font-weight:bold">' + re.escape(notes) + "</p>", html), (lang, html[-3000:])

# ---- header folding ----

LONG_TITLE = ("A very long title for a newsletter issue that goes on and on, with "
              "many words, so that the Subject must fold several times over")
LONG_NAME = "Augusta Ada King-Noel, Countess of Lovelace and Mathematician Extraordinaire"


def header_lines(raw):
    head = raw.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


def all_header_lines(raw):
    """Header lines of the message and of every MIME part."""
    out = header_lines(raw)
    for chunk in re.split(rb"\r\n--=_nl_[0-9a-f]+\r\n", raw)[1:]:
        out += header_lines(chunk)
    return out


def check_folded(raw):
    """Header lines (message and parts) within 78 octets, except a single token
    (a long URL) that no fold point can split, which then has a line to itself."""
    long_lines = [l for l in all_header_lines(raw)
                  if len(l) > 78 and (b" " in l.strip() or not l.startswith(b" "))]
    assert not long_lines, long_lines


LONG_CFG = {
    "publication": {"name": "The Quite Long Publication Name Of A Newsletter"},
    "base_url": "https://newsletter.a-rather-long-domain-name.example.test/archive/issues",
    "unsubscribe_url": "https://newsletter.a-rather-long-domain-name.example.test/unsubscribe/",
    "from": "Newsletter With A Long Display Name <news@a-rather-long-domain-name.example.test>",
    "images": "embed",
}


def test_every_header_line_is_folded_to_78():
    subs = (f'email,name\nada.lovelace.the.countess@example.test,"{LONG_NAME}"\n'
            'grete@example.test,"Margarete Müller-Lüdenscheidt, Großherzogliche Hofbibliothekarin a. D."\n'
            'taro@example.test,山田太郎（株式会社ロングネーム・インターナショナル代表取締役社長）\n')
    img = "a-long-image-file-name-that-goes-on-for-a-while-and-more.png"
    cases = [(LONG_TITLE, img),
             ("日本語の題名がとても長いニュースレターの第一号です。ヘッダーは七十八オクテットで折り返します",
              "とても長い日本語のファイル名の画像ファイルです.png")]
    for title, name in cases:
        with Workdir(LONG_CFG, subs) as w:
            w.write(name, PNG, "wb")
            w.write("p.md", post(title, f"Hi.\n\n![x](<{name}>)\n",
                                 slug="a-long-slug-for-this-issue-that-goes-on"))
            files = dry_run(w)
            assert len(files) == 3
            for f in files:
                raw = read_eml(f)
                msg = parse(raw)
                check_folded(raw)
                # List-Unsubscribe: folded right after the colon and between its entries
                lu = [l for l in header_lines(raw) if l.startswith(b"List-Unsubscribe:")][0]
                assert lu == b"List-Unsubscribe:", lu
                assert msg["Subject"] == title
                entries = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
                assert entries[0].startswith(LONG_CFG["unsubscribe_url"])
                assert entries[1].startswith("mailto:")
                assert [i.get_filename() for i in embedded_images(msg)] == [name]
            ada = parse(read_eml([f for f in files if "ada.lovelace" in f][0]))
            assert ada["To"].addresses[0].display_name == LONG_NAME


# ---- images: embed ----

def test_embed_layout_text_first_then_related_html_and_named_images():
    with Workdir({"images": "embed"}, SUBS) as w:
        w.write("cover.png", PNG, "wb")
        w.write("図 1.png", PNG, "wb")
        w.write("p.md", post("Embed", "![Cover](cover.png)\n\n![Fig](<図 1.png>)\n\n"
                                      "![Again](./cover.png)\n"))
        raw, msg = one_message(w)
        assert msg.get_content_type() == "multipart/alternative"
        text, related = msg.get_payload()
        assert text.get_content_type() == "text/plain"
        assert related.get_content_type() == "multipart/related"
        images = embedded_images(msg)
        assert [i.get_content_type() for i in images] == ["image/png", "image/png"]
        assert [i.get_filename() for i in images] == ["cover.png", "図 1.png"]
        for i in images:
            assert i.get_content_disposition() == "inline"
            assert i.get_content() == PNG
        # no attachments as text readers see them; every cid: resolves
        assert list(msg.iter_attachments()) == []
        _, html = parts(msg)
        cids = set(re.findall(r'src="cid:([^"]+)"', html))
        have = {i["Content-ID"].strip().strip("<>") for i in images}
        assert cids and cids == have, (cids, have)
        # the non-ASCII name went out as RFC 2231, 7-bit
        assert b"filename*=UTF-8''%E5%9B%B3%201.png" in raw


def test_embed_with_dkim_still_verifies():
    try:
        import dkim  # python3-dkim
    except ImportError:
        raise nl.Skip("python3-dkim missing")
    import subprocess
    with Workdir(None, SUBS) as w:
        key = w.path("k.pem")
        subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
        pub = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        import base64
        txt = b"v=DKIM1; k=rsa; p=" + base64.b64encode(pub)
        w.write_config({"images": "embed", "dkim": None})
        with open(w.config, "a") as f:
            f.write(f"dkim:\n  domain: example.test\n  selector: s1\n  key_file: {key}\n")
        w.write("cover.png", PNG, "wb")
        w.write("p.md", post("Signed", "![c](cover.png)\n"))
        raw, msg = one_message(w)
        assert len(embedded_images(msg)) == 1
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: txt), "DKIM does not verify"


# ---- language and direction ----

def test_arabic_post_is_right_to_left_with_an_arabic_date():
    with Workdir(None, SUBS) as w:
        w.write("p.md", post("نشرة", "مرحبا بكم في النشرة.\n", lang="ar", date="2026-12-02"))
        _, msg = one_message(w)
        _, html = parts(msg)
        assert '<html lang="ar" dir="rtl">' in html
        assert "2 ديسمبر 2026" in html
        # In a browser: the post reads right to left, the English footer left to right.
        from browser import Browser
        page = w.path("ar.html")
        with open(page, "w") as f:
            f.write(html)
        with Browser(width=500) as b:
            b.open_file(page)
            assert b.scroll_width() <= 500
            body_dir = b.js("return getComputedStyle(document.querySelector('h1')).direction")
            foot = b.js("var ps = document.querySelectorAll('p');"
                        "for (var p of ps) if (p.textContent.indexOf('You are receiving') >= 0)"
                        "  return getComputedStyle(p).direction; return null")
            assert (body_dir, foot) == ("rtl", "ltr"), (body_dir, foot)


def test_dates_per_language_and_a_neutral_one():
    want = {"en": "December 2, 2026", "de": "2. Dezember 2026", "fr": "2 décembre 2026",
            "es": "2 de diciembre de 2026", "ja": "2026年12月2日", "pt-BR": "2 de dezembro de 2026",
            "tlh": "2026-12-02"}
    with Workdir(None, SUBS) as w:
        for lang, date in want.items():
            w.write("p.md", post("Dated", "Text.\n", lang=lang, date="2026-12-02"))
            p = w.run("preview", "p.md", "-o", "pv-" + lang)
            assert p.returncode == 0, p.stderr
            html = open(glob.glob(w.path(f"pv-{lang}/*.html"))[0], encoding="utf-8").read()
            assert date in html, (lang, date)
            assert f'<html lang="{lang}" dir="ltr">' in html, lang


def test_direction_defaults_from_the_config_and_can_be_set():
    with Workdir({"publication": {"language": "he"}}, SUBS) as w:
        w.write("p.md", post("שלום", "טקסט.\n"))
        _, html = parts(one_message(w)[1])
        assert '<html lang="he" dir="rtl">' in html
        w.write("p.md", post("Mixed", "Text.\n", dir="auto"))
        p = w.run("preview", "p.md", "-o", "pv")
        html = open(glob.glob(w.path("pv/*.html"))[0], encoding="utf-8").read()
        assert '<html lang="he" dir="auto">' in html
        w.write("p.md", post("English", "Text.\n", lang="en-GB"))
        w.run("preview", "p.md", "-o", "pv2", check=0)
        html = open(glob.glob(w.path("pv2/*.html"))[0], encoding="utf-8").read()
        assert '<html lang="en-GB" dir="ltr">' in html


def test_bad_lang_and_dir_name_their_place():
    with Workdir(None, SUBS) as w:
        w.write("p.md", "---\ntitle: T\nlang: en_US\n---\nx\n")
        p = w.run("preview", "p.md", "-o", "pv")
        assert p.returncode == 65, (p.returncode, p.stderr)
        assert re.search(r"p\.md:3:7: front matter: lang 'en_US' is not a language tag", p.stderr), p.stderr
        w.write("p.md", "---\ntitle: T\ndir: sideways\n---\nx\n")
        p = w.run("preview", "p.md", "-o", "pv")
        assert p.returncode == 65
        assert re.search(r"p\.md:3:6: front matter: dir 'sideways' must be rtl, ltr or auto", p.stderr), p.stderr
