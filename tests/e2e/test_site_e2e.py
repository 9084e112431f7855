"""test_site_e2e.py - `newsletter site`: the web archive, its feed and sitemap,
links that resolve, the same text as the mail, layouts in Chromium, incremental
and kill -9 safe builds, and the links of a delivered message."""
import glob
import html.parser
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import nl
from nl import BIN, Workdir, parse, parts, post, read_eml
from smtpserver import SmtpServer

BASE = "https://news.example.test"


def png(w=320, h=120, rgb=(37, 99, 235)):
    """A real PNG of one colour, so that screenshots show where images go."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = png()
SUBS = "email,name\nada@example.test,Ada\nbob@example.test,Bob\n"


def sent_line(slug):
    return f"2026-01-01T00:00:00.000Z\t{slug}\t-\tdone\t-\t-\t-\n"


WIDE = ("| " + " | ".join(f"column {i}" for i in range(9)) + " |\n|" + "---|" * 9 + "\n| " +
        " | ".join(f"value{i}" for i in range(9)) + " |\n\n"
        "A long address: https://example.org/" + "a-very-long-path-segment" * 6 + "\n\n"
        "```\n" + "x = " + "'long code line' + " * 12 + "1\n```\n\n" +
        "Unbroken" * 15 + "\n")


def folder(w, include_unsent=False, per_page=2):
    """A posts folder with sent, due, future and draft posts, images in subfolders, Arabic."""
    w.write_config({"posts": "posts", "site": {"per_page": per_page,
                                               "include_unsent": include_unsent}})
    w.write("posts/first.md", post("First light", "Hello *web*. ![a cat](<img/sub/cat one#1?.png>)\n\n"
                                   "See [the second](../second/).\n", date="2026-01-05",
                                   description="Where it starts", image="img/cover.png"))
    w.write("posts/img/sub/cat one#1?.png", PNG, "wb")
    w.write("posts/img/cover.png", PNG, "wb")
    os.makedirs(w.path("posts/issue2/pics"), exist_ok=True)
    w.write("posts/issue2/second.md", post("Second", "Two.\n\n![caf\u00e9](pics/caf\u00e9.png)\n\n" + WIDE,
                                           date="2026-02-01", slug="second"))
    w.write("posts/issue2/pics/caf\u00e9.png", png(900, 300, (22, 163, 74)), "wb")
    w.write("posts/arabic.md", post("\u0645\u0631\u062d\u0628\u0627", "\u0646\u0635 \u0639\u0631\u0628\u064a \u0642\u0635\u064a\u0631.\n",
                                    date="2026-03-01", lang="ar"))
    w.write("posts/due.md", post("Due but unsent", "Not mailed yet.\n", date="2026-03-10"))
    w.write("posts/future.md", post("Future", "Later.\n", date="2099-01-01"))
    w.write("posts/draft.md", post("Draft", "Secret.\n", draft=True, date="2026-01-02"))
    w.write("posts/_notes.md", "not a post\n")
    w.write("sends.log", "".join(sent_line(s) for s in ("first", "second", "arabic")))


def site(w, *args, check=0):
    return w.run("site", *args, check=check)


def files(d):
    out = {}
    for root, dirs, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def pages(d):
    return sorted(f for f in files(d) if f.endswith(".html"))


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.links.append(v)


def links_of(text):
    p = Links()
    p.feed(text)
    return p.links


def resolve(sitedir, page, link):
    """The file a link of page (relative to sitedir) names, or None for one outside the site."""
    if link.startswith(("mailto:", "#")):
        return "skip"
    if link.startswith(BASE + "/"):
        rel = link[len(BASE) + 1:]
    elif re.match(r"[a-z]+:|//", link):
        return "skip"  # another site
    else:
        rel = os.path.normpath(os.path.join(os.path.dirname(page), link.split("#")[0].split("?")[0]))
        if link.endswith("/") or link.split("#")[0].endswith("/"):
            rel += "/"
    rel = urllib.parse.unquote(rel.split("#")[0].split("?")[0])
    path = os.path.join(sitedir, rel)
    if rel.endswith("/") or os.path.isdir(path):
        path = os.path.join(path, "index.html")
    return path


def check_links(sitedir):
    """Every href and src of every page resolves to a file inside the site."""
    bad, seen = [], 0
    real = os.path.realpath(sitedir)
    for page in pages(sitedir):
        with open(os.path.join(sitedir, page), encoding="utf-8") as f:
            for link in links_of(f.read()):
                target = resolve(sitedir, page, link)
                if target == "skip":
                    continue
                seen += 1
                ok = os.path.isfile(target) and os.path.realpath(target).startswith(real + "/")
                if not ok:
                    bad.append((page, link))
    assert not bad, bad
    return seen


class Text(html.parser.HTMLParser):
    """The visible text of a page, blocks on lines of their own."""
    BLOCK = {"p", "h1", "h2", "h3", "h4", "li", "td", "th", "pre", "blockquote", "div", "tr"}

    def __init__(self):
        super().__init__()
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title", "head"):
            self.skip += 1
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title", "head"):
            self.skip -= 1
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def text_blocks(html_text):
    p = Text()
    p.feed(html_text)
    return [re.sub(r"\s+", " ", b).strip() for b in "".join(p.out).split("\n") if b.strip()]


def test_site_has_published_posts_pages_feed_sitemap_and_links_resolve():
    with Workdir(None, SUBS) as w:
        folder(w)
        p = site(w)
        assert "3 posts" in p.stdout, p.stdout
        d = w.path("site")
        got = files(d)
        # Sent posts only: not the draft, not the future one, not the due unsent one.
        assert "first/index.html" in got and "second/index.html" in got and "arabic/index.html" in got
        for slug in ("draft", "future", "due", "_notes"):
            assert not os.path.exists(os.path.join(d, slug)), slug
        # Images beside their page, where the mail links them (subfolders kept, names raw).
        assert got["first/img/sub/cat one#1?.png"] == PNG
        assert got["first/img/cover.png"] == PNG
        assert got["second/pics/caf\u00e9.png"] == png(900, 300, (22, 163, 74))
        first = got["first/index.html"].decode()
        assert 'src="img/sub/cat%20one%231%3F.png"' in first
        assert f'<link rel="canonical" href="{BASE}/first/">' in first
        assert f'<meta property="og:image" content="{BASE}/first/img/cover.png">' in first
        assert '<meta property="og:title" content="First light">' in first
        assert '<meta property="og:description" content="Where it starts">' in first
        assert '<html lang="en" dir="ltr">' in first
        arabic = got["arabic/index.html"].decode()
        assert '<html lang="ar" dir="rtl">' in arabic
        # Newest first, two to a page.
        index = got["index.html"].decode()
        assert index.index("arabic/") < index.index("second/")
        assert "first/" not in index and 'href="page/2/"' in index
        page2 = got["page/2/index.html"].decode()
        assert 'href="../../first/"' in page2 and "Where it starts" in page2
        assert "January 5, 2026" in page2
        assert not os.path.exists(os.path.join(d, "page/3"))
        # No reader's data anywhere: no address, no unsubscribe link or token.
        for name, data in got.items():
            assert b"ada@example.test" not in data and b"unsubscribe" not in data.lower(), name
        # The signup form posts to serve's endpoint.
        sub = got["subscribe.html"].decode()
        assert f'action="{BASE}/subscribe"' in sub and 'name="email"' in sub
        assert check_links(d) > 15

        import feedparser
        f = feedparser.parse(os.path.join(d, "feed.xml"))
        assert not f.bozo, f.get("bozo_exception")
        assert [e.title for e in f.entries] == ["\u0645\u0631\u062d\u0628\u0627", "Second", "First light"]
        e = f.entries[2]
        assert e.link == f"{BASE}/first/" and e.id == f"{BASE}/first/"
        assert "Hello <em>web</em>" in e.content[0].value
        # feedparser resolves relative image URLs against the entry's xml:base.
        assert f'{BASE}/first/img/sub/cat%20one%231%3F.png' in e.content[0].value
        assert e.published.startswith("2026-01-05")
        assert f.feed.title == "Test Notes"

        root = ET.parse(os.path.join(d, "sitemap.xml")).getroot()
        ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
        locs = [u.find("s:loc", ns).text for u in root.findall("s:url", ns)]
        assert f"{BASE}/first/" in locs and f"{BASE}/page/2/" in locs and f"{BASE}/" in locs
        for loc in locs:
            assert os.path.isfile(resolve(d, "index.html", loc)), loc


def test_include_unsent_publishes_due_posts_but_never_future_ones():
    with Workdir(None, SUBS) as w:
        folder(w, include_unsent=True)
        p = site(w, "-o", "out")
        assert "4 posts" in p.stdout, p.stdout
        assert os.path.isfile(w.path("out/due/index.html"))
        assert not os.path.exists(w.path("out/future")) and not os.path.exists(w.path("out/draft"))
        assert not os.path.exists(w.path("site"))


def test_web_page_has_the_same_text_as_the_mail():
    with Workdir(None, SUBS) as w:
        folder(w)
        site(w)
        for slug, src in (("first", "posts/first.md"), ("second", "posts/issue2/second.md"),
                          ("arabic", "posts/arabic.md")):
            shutil.rmtree(w.path("dry"), ignore_errors=True)
            w.run("send", src, "--dry-run=dry", check=0)
            _, mail_html = parts(parse(read_eml(sorted(glob.glob(w.path("dry/*.eml")))[0])))
            with open(w.path(f"site/{slug}/index.html"), encoding="utf-8") as f:
                page = "\n".join(text_blocks(f.read()))
            # The post's own blocks: everything between the date line and the footer's rule.
            blocks = text_blocks(mail_html)
            start = max(i for i, b in enumerate(blocks) if re.search(r"\d{4}$", b)) + 1
            end = next(i for i, b in enumerate(blocks) if b.startswith("You are receiving"))
            body = blocks[start:end]
            assert body, blocks
            for b in body:
                assert b in page, (slug, b)


def test_only_changed_files_are_rewritten_and_gone_posts_removed_inside_only():
    with Workdir(None, SUBS) as w:
        folder(w)
        site(w)
        d = w.path("site")

        def inodes():  # the render cache is the program's notebook, not part of the site
            return {f: os.stat(os.path.join(d, f)).st_ino for f in files(d)
                    if f != ".newsletter-site-cache"}
        before = inodes()
        p = site(w)
        assert "0 files written" in p.stdout and "0 removed" in p.stdout, p.stdout
        assert inodes() == before
        # One post's text changes: its page, the index page it is on, and the feed.
        with open(w.path("posts/issue2/second.md"), "a") as f:
            f.write("\nA new line.\n")
        site(w)
        changed = sorted(f for f, ino in inodes().items() if ino != before[f])
        assert changed == [".newsletter-site", "feed.xml", "second/index.html"], changed
        # A file of the writer's own in the folder is never touched.
        w.write("site/robots.txt", "User-agent: *\n")
        # A post that becomes a draft leaves; a symlink planted in its place is not followed.
        outside = w.path("outside")
        os.makedirs(outside)
        w.write("outside/index.html", "keep me")
        w.write("outside/pics/caf\u00e9.png", "keep me too")
        shutil.rmtree(os.path.join(d, "second"))
        os.symlink(outside, os.path.join(d, "second"))
        w.write("posts/issue2/second.md", post("Second", "Two.\n", draft=True, slug="second"))
        site(w)
        assert open(os.path.join(outside, "index.html")).read() == "keep me"
        assert open(os.path.join(outside, "pics/caf\u00e9.png")).read() == "keep me too"
        assert os.path.isfile(os.path.join(d, "robots.txt"))
        assert "second/" not in open(os.path.join(d, "index.html")).read()
        assert not os.path.exists(os.path.join(d, "page"))  # two posts fit on one page now
        os.unlink(os.path.join(d, "second"))
        # The first post becomes a draft: its page and images go, and their folders.
        w.write("posts/first.md", post("First light", "x\n", draft=True, date="2026-01-05"))
        p = site(w)
        assert "3 removed" in p.stdout, p.stdout  # its page and its two images
        assert not os.path.exists(os.path.join(d, "first"))
        check_links(d)


def test_dangerous_folders_are_refused():
    with Workdir(None, SUBS) as w:
        folder(w)
        home = w.path("home")
        os.makedirs(home)
        for target, why in (("/", "to /"), (home, "home folder"), ("posts", "holds the posts"),
                            (".", "holds the posts")):
            p = w.run("site", "-o", target, env={"HOME": home})
            assert p.returncode != 0 and why in p.stderr, (target, p.stderr)
        assert os.listdir(home) == []
        assert not glob.glob(w.path("*.html")) and not glob.glob(w.path("posts/*.html"))
        assert not os.path.exists(w.path("posts/index.html"))


def test_a_failing_build_leaves_the_old_site_whole():
    with Workdir(None, SUBS) as w:
        folder(w)
        site(w)
        d = w.path("site")
        before = files(d)
        # An image goes missing in one post: nothing is written, nothing removed.
        os.unlink(w.path("posts/issue2/pics/caf\u00e9.png"))
        w.write("posts/arabic.md", post("Changed", "Changed text.\n", date="2026-03-01", lang="ar"))
        p = site(w, check=66)
        assert "caf\u00e9.png" in p.stderr and "not found" in p.stderr, p.stderr
        assert files(d) == before
        # A template with a reader's field is refused: pages have no personal data.
        w.write("posts/issue2/pics/caf\u00e9.png", PNG, "wb")
        os.makedirs(w.path("tpl"))
        for n in ("email.html", "email.txt", "index.html", "site-style.html"):
            shutil.copy(os.path.join(nl.TEMPLATES, n), w.path("tpl/" + n))
        with open(os.path.join(nl.TEMPLATES, "page.html")) as f:
            w.write("tpl/page.html", f.read().replace("</main>", "{{subscriber.email}}</main>"))
        w.write_config({"posts": "posts", "templates": "tpl", "site": {"per_page": 2}})
        p = site(w, check=65)
        assert "page.html" in p.stderr and "subscriber.email" in p.stderr, p.stderr
        assert files(d) == before
        # A slug that is one of the site's own files.
        w.write_config({"posts": "posts", "site": {"per_page": 2}})
        w.write("posts/clash.md", post("Clash", "x\n", date="2026-01-09", slug="feed.xml"))
        with open(w.path("sends.log"), "a") as f:
            f.write(sent_line("feed.xml"))
        p = site(w, check=65)
        assert "slug 'feed.xml' is a file of the site itself" in p.stderr, p.stderr
        assert files(d) == before


def test_kill_9_mid_build_leaves_every_file_old_or_new():
    n = 120
    with Workdir(None, SUBS) as w:
        w.write_config({"posts": "posts", "site": {"per_page": 10}})
        log = []
        for i in range(n):
            w.write(f"posts/p{i:03d}/post.md", post(f"Post {i}", ("Old text. " * 300) + "\n![i](i.png)\n",
                                                     date=f"2026-01-{1 + i % 28:02d}", slug=f"p{i:03d}"))
            w.write(f"posts/p{i:03d}/i.png", PNG + b"old" * 1000, "wb")
            log.append(sent_line(f"p{i:03d}"))
        w.write("sends.log", "".join(log))
        site(w)
        old = files(w.path("site"))
        for i in range(n):
            w.write(f"posts/p{i:03d}/post.md", post(f"Post {i} again", ("New, longer text. " * 400) +
                                                     "\n![i](i.png)\n", date=f"2026-02-{1 + i % 28:02d}",
                                                     slug=f"p{i:03d}"))
            w.write(f"posts/p{i:03d}/i.png", PNG + b"new" * 3000, "wb")
        site(w, "-o", "new")
        new = files(w.path("new"))
        mixed = 0
        rnd = random.Random(9)
        for attempt in range(4):
            shutil.rmtree(w.path("site"))
            os.makedirs(w.path("site"))
            for rel, data in old.items():
                w.write("site/" + rel, data, "wb")
            pr = subprocess.Popen([BIN, "-c", w.config, "site"], cwd=w.dir,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Kill it while it writes: once its manifest says "building", after 0-20 ms more.
            manifest, t0 = w.path("site/.newsletter-site"), time.monotonic()
            while pr.poll() is None and time.monotonic() - t0 < 60:
                try:
                    with open(manifest) as f:
                        if f.read(10) == "# building":
                            break
                except FileNotFoundError:
                    pass
            time.sleep(rnd.uniform(0, 0.02) if attempt else 0)
            pr.send_signal(signal.SIGKILL)
            pr.wait()
            now = files(w.path("site"))
            kinds = set()
            for rel, data in now.items():
                if rel.startswith(".newsletter-site") or rel.endswith(".nl-tmp"):
                    continue
                assert data in (old.get(rel), new.get(rel)), rel  # never torn
                kinds.add("old" if data == old.get(rel) else "new")
            for rel in old:  # nothing the old site had is missing while it should be there
                if rel in new and not rel.startswith(".newsletter-site"):
                    assert rel in now, rel
            mixed += kinds == {"old", "new"}
            # The next run finishes the job and cleans up what the killed one left.
            site(w)
            done = files(w.path("site"))
            assert {k: v for k, v in done.items() if not k.startswith(".newsletter-site")} == \
                {k: v for k, v in new.items() if not k.startswith(".newsletter-site")}
        print(f"kill -9: {mixed} of 4 runs were stopped mid-write (pages old and new, none torn)")
        assert mixed, "no kill landed while files were written: the test proved nothing"


def test_every_link_of_a_delivered_message_resolves_in_the_site():
    with Workdir(None, SUBS) as w, SmtpServer(w.dir) as srv:
        folder(w)
        w.write_config({"posts": "posts", "images": "link", "smtp": {"url": srv.url}})
        w.write("sends.log", "")
        w.run("send", "posts/issue2/second.md", "--yes", check=0)
        w.run("send", "posts/first.md", "--yes", check=0)
        site(w)
        d = w.path("site")
        msgs = srv.messages()
        assert len(msgs) == 4
        checked = 0
        for tx, raw in msgs:
            _, body = parts(parse(raw))
            for link in links_of(body):
                # unsubscribe and subscribe are `serve`'s, not files of the site
                if not link.startswith(BASE + "/") or "/unsubscribe/" in link or link == BASE + "/subscribe":
                    continue
                target = resolve(d, "index.html", link)
                assert os.path.isfile(target), (link, target)
                checked += 1
            assert f'href="{BASE}/second/"' in body or f'href="{BASE}/first/"' in body
        assert checked >= 8, checked


def test_cron_rebuilds_the_site_after_it_sends():
    with Workdir(None, SUBS) as w, SmtpServer(w.dir) as srv:
        w.write_config({"posts": "posts", "smtp": {"url": srv.url}, "site": {"after_cron": True}})
        w.write("posts/now.md", post("Now", "Sent by cron.\n", date="2026-01-01"))
        w.run("cron", "--now", "2026-01-01T12:00:00Z", check=0)
        assert len(srv.messages()) == 2
        with open(w.path("site/now/index.html")) as f:
            assert "Sent by cron." in f.read()
        w.write_config({"posts": "posts", "smtp": {"url": srv.url}})
        w.write("posts/later.md", post("Later", "x\n", date="2026-01-02"))
        w.run("cron", "--now", "2026-01-02T12:00:00Z", check=0)
        assert not os.path.exists(w.path("site/later"))


def test_pages_fit_phones_and_desktops():
    from browser import Browser, shots_dir
    with Workdir(None, SUBS) as w:
        folder(w)
        site(w)
        d = w.path("site")
        shots = shots_dir("site")
        for width in (375, 1280):
            with Browser(width=width, height=900) as b:
                for page in ("index.html", "second/index.html", "arabic/index.html",
                             "subscribe.html", "page/2/index.html"):
                    b.open_file(os.path.join(d, page))
                    sw = b.scroll_width()
                    assert sw <= width, (page, width, sw)
                    if page == "arabic/index.html":
                        assert b.js("return getComputedStyle(document.body).direction") == "rtl"
                    b.screenshot(os.path.join(shots, f"{page.replace('/', '_')}-{width}.png"))
        print("screenshots:", shots)


def test_the_render_cache_never_keeps_a_stale_page():
    """Pages past the feed's 20 are kept without rendering when nothing they
    depend on changed; any change to the post, the config or the template, or
    to the page in the folder, renders it again."""
    with Workdir(None, SUBS) as w:
        os.makedirs(w.path("tpl"))
        for n in ("email.html", "email.txt", "index.html", "page.html", "site-style.html"):
            shutil.copy(os.path.join(nl.TEMPLATES, n), w.path("tpl/" + n))
        w.write_config({"posts": "posts", "templates": "tpl"})
        for i in range(30):
            w.write(f"posts/p{i:02d}.md", post(f"Post {i}", f"Body number {i:02d}.\n", date=f"2026-01-{i + 1:02d}"))
        w.write("sends.log", "".join(sent_line(f"p{i:02d}") for i in range(30)))
        old = time.time() - 3600

        def age():  # inputs last changed long before the build: the cache may trust them
            for root, _, names in os.walk(w.dir):
                for n in names:
                    if not root.startswith(w.path("site")):
                        os.utime(os.path.join(root, n), (old, old))

        def page(i):
            with open(w.path(f"site/p{i:02d}/index.html")) as f:
                return f.read()

        age()
        site(w)
        site(w)  # the second build keeps p00..p09 from the cache
        assert os.path.exists(w.path("site/.newsletter-site-cache"))
        # The post, same size, same mtime: its ctime still tells.
        w.write("posts/p03.md", post("Post 3", "Body number X3.\n", date="2026-01-04"))
        age()
        site(w)
        assert "Body number X3." in page(3)
        # The config.
        w.write_config({"posts": "posts", "templates": "tpl", "publication": {"name": "Renamed Notes"}})
        age()
        site(w)
        assert all("Renamed Notes" in page(i) for i in range(30))
        # The template.
        with open(w.path("tpl/page.html")) as f:
            t = f.read()
        w.write("tpl/page.html", t.replace("</main>", "<p>template mark</p></main>"))
        age()
        site(w)
        assert all("template mark" in page(i) for i in range(30))
        # A partial the template includes ({{> site-style.html}}): first a cache
        # that is trusted (inputs older than the build by more than a second) ...
        age()
        time.sleep(2.2)
        site(w)
        assert "(10 pages kept unrendered)" in site(w).stdout
        # ... then only the partial changes.
        with open(w.path("tpl/site-style.html")) as f:
            w.write("tpl/site-style.html", f.read().replace("</style>", ".partial-mark{}</style>"))
        time.sleep(2.2)
        site(w)
        assert all(".partial-mark{}" in page(i) for i in range(30))
        # The page itself, changed in the folder.
        site(w)
        w.write("site/p05/index.html", "garbage")
        p = site(w)
        assert "1 file written" in p.stdout, p.stdout
        assert "Body number 05." in page(5)
        # Inputs that changed identity without changing times: another config
        # file and template folder, made before the last build.
        shutil.copytree(w.path("tpl"), w.path("tpl2"))
        w.write("tpl2/page.html", t.replace("</main>", "<p>second template</p></main>"))
        with open(w.config) as f:
            w.write("other.yml", f.read().replace('"tpl"', '"tpl2"'))
        age()
        time.sleep(2.2)  # past the second in which an unseen change could hide
        site(w)
        p = site(w)
        assert "(10 pages kept unrendered)" in p.stdout, p.stdout
        subprocess.run([BIN, "-c", w.path("other.yml"), "site"], cwd=w.dir, check=True,
                       capture_output=True)
        assert all("second template" in page(i) for i in range(30))
        # A broken cache is only a slower build.
        site(w)
        w.write("site/.newsletter-site-cache", "# newsletter site cache 1: x\np01\tzz\t\t\n\t\t\t\t\t\t\t\t\n")
        p = site(w)
        assert "0 files written" in p.stdout, p.stdout
