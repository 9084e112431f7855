"""browser.py - headless Chromium for end-to-end tests, driven through
Debian's chromium-driver with Debian's python3-selenium.

    with Browser(width=500) as b:
        b.open_file("/tmp/x/preview.html")     # or b.open("http://127.0.0.1:PORT/...")
        b.scroll_width()                       # document.documentElement.scrollWidth
        b.screenshot("/tmp/x/narrow.png")      # the whole page, for a person to look at
        b.driver.find_element(By.CSS_SELECTOR, "button").click()

Screenshots go where the test says; a test that takes them names the folder
in its output (NL_SHOTS=DIR keeps them after the run)."""
import os
import shutil
import tempfile

from nl import Skip

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By  # noqa: F401  (re-exported for tests)
except ImportError:  # pragma: no cover - deps.sh installs it
    webdriver = None

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def shots_dir(name):
    """A folder for a test's screenshots: $NL_SHOTS/name when set (kept), else a temporary one."""
    base = os.environ.get("NL_SHOTS")
    if base:
        d = os.path.join(base, name)
        os.makedirs(d, exist_ok=True)
        return d
    return tempfile.mkdtemp(prefix="nl-shots-%s-" % name)


class Browser:
    """One headless Chromium window of a given size, with its own empty profile."""

    def __init__(self, width=600, height=900, dark=False):
        if webdriver is None or not os.path.exists(CHROMIUM) or not os.path.exists(DRIVER):
            raise Skip("headless Chromium needs Debian's chromium, chromium-driver and python3-selenium")
        self.width, self.height, self.dark = width, height, dark
        self.profile = None
        self.driver = None

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="nl-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
                  "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (self.width, self.height)):
            opts.add_argument(a)
        if self.dark:
            opts.add_argument("--force-dark-mode")
            opts.add_argument("--blink-settings=preferredColorScheme=0")
        self.driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        # --window-size sets the outer window; make the layout viewport the asked width
        inner = self.driver.execute_script("return window.innerWidth")
        if inner != self.width:
            outer = self.driver.get_window_size()
            self.driver.set_window_size(outer["width"] + self.width - inner, outer["height"])
        return self

    def __exit__(self, *exc):
        try:
            if self.driver:
                self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, url):
        self.driver.get(url)
        return self

    def open_file(self, path):
        return self.open("file://" + os.path.abspath(path))

    def inner_width(self):
        return self.driver.execute_script("return window.innerWidth")

    def scroll_width(self):
        return self.driver.execute_script("return document.documentElement.scrollWidth")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def screenshot(self, path):
        """The whole page at the window's width (the window grows to the page's height)."""
        h = self.driver.execute_script("return document.documentElement.scrollHeight")
        size = self.driver.get_window_size()
        self.driver.set_window_size(size["width"], max(size["height"], min(h + 200, 8000)))
        self.driver.save_screenshot(path)
        self.driver.set_window_size(size["width"], size["height"])
        return path
