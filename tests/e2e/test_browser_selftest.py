"""The browser helper measures what it claims: a page wider than the window
reports a wider scrollWidth, a page that fits does not, and screenshots are PNGs."""
import os
import tempfile

from browser import Browser


def test_browser_measures_overflow_and_takes_screenshots():
    d = tempfile.mkdtemp(prefix="nl-browser-")
    wide = os.path.join(d, "wide.html")
    fits = os.path.join(d, "fits.html")
    with open(wide, "w") as f:
        f.write("<!doctype html><body style='margin:0'><div style='width:900px'>x</div>")
    with open(fits, "w") as f:
        f.write("<!doctype html><body style='margin:0'><p>%s</p>" % ("word " * 200))
    with Browser(width=500) as b:
        assert b.inner_width() == 500, b.inner_width()
        assert b.open_file(wide).scroll_width() == 900
        assert b.open_file(fits).scroll_width() == 500
        png = b.screenshot(os.path.join(d, "fits.png"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
