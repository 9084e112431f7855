"""End-to-end tests of dates as users write them: a post's date and send_at, and
`cron --now`. A truncated or impossible date is one clean error line that names
where it is (the old parsers read past the end of '...07:30:00+' and took
2026-02-29 for March 1); good dates still work and read the same everywhere.
Run under the ASan build too (NEWSLETTER=./build-asan/newsletter), where a read
past the end would abort instead of printing the error."""
import os
import re

from nl import Workdir, parse, post

SUBS = "email,name\nann@example.test,Ann\n"

BAD_DATES = [
    "2026-11-28T07:30:00+",
    "2026-11-28T07:30:00-1",
    "2026-11-28T07:30:00+01:",
    "2026-11-28T07:30:00.",
    "2026-11-28T",
    "2026-02-29",
    "2026-02-29T09:00:00Z",
    "2026-04-31",
    "2026-11-28T24:00:00Z",
    "2026-11-28T07:30:00+24:00",
]


def one_error_line(p):
    """The whole of stderr is one line (no sanitizer report, no second message)."""
    lines = p.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0], p.stderr
    return lines[0]


def test_bad_post_dates_are_one_clean_error_naming_the_file():
    for key in ("date", "send_at"):
        for bad in BAD_DATES:
            with Workdir(None, SUBS) as w:
                w.write("p.md", post("Dated", **{key: bad}))
                p = w.run("preview", "p.md", "-o", "out")
                assert p.returncode == 65, (key, bad, p.returncode, p.stderr)
                line = one_error_line(p)
                assert re.fullmatch(
                    r"newsletter: p\.md:\d+:\d+: front matter: %s '%s' is not RFC 3339 or YYYY-MM-DD"
                    % (key, re.escape(bad)), line), (key, bad, line)
                assert not os.path.exists(w.path("out")), (key, bad)


def test_bad_now_is_one_clean_usage_error():
    for bad in BAD_DATES:
        with Workdir(None, SUBS) as w:
            w.write_config({"posts": "posts"})
            os.makedirs(w.path("posts"))
            for cmd in ("cron", "schedule"):
                p = w.run(cmd, "--now", bad)
                assert p.returncode == 64, (cmd, bad, p.returncode, p.stderr)
                line = one_error_line(p)
                assert "--now %s: not RFC 3339" % bad in line, (cmd, bad, line)


def test_good_dates_still_work():
    cases = {
        "2024-02-29": "February 29, 2024",		# a leap day
        "2026-11-28T07:30:00+01:00": "November 28, 2026",
        "2026-11-28t23:30:00.5-05:00": "November 29, 2026",  # the date shown is UTC's
        "2026-11-28 07:30:00": "November 28, 2026",
        "2026-11-28T07:30:00Z": "November 28, 2026",
    }
    for date, shown in cases.items():
        with Workdir(None, SUBS) as w:
            w.write("p.md", post("Dated", date=date))
            p = w.run("preview", "p.md", "-o", "out", check=0)
            eml = [x for x in p.stdout.split() if x.endswith(".eml")][0]
            msg = parse(open(w.path(eml), "rb").read())
            html = msg.get_body(("html",)).get_content()
            assert shown in html, (date, shown)
            assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000",
                                msg["Date"]), msg["Date"]


def test_now_in_the_zone_and_with_offsets():
    with Workdir(None, SUBS) as w:
        w.write_config({"posts": "posts", "timezone": "Europe/Berlin"})
        w.write("posts/p.md", post("Later", send_at="2026-03-29T09:00:00"))
        # 02:30 does not exist in Berlin that night: it reads as 03:30 CEST.
        s = w.run("schedule", "--now", "2026-03-29T02:30:00", check=0).stdout
        assert re.search(r"scheduled\s+2026-03-29 09:00 CEST\s+2026-03-29 07:00 UTC", s), s
        s = w.run("schedule", "--now", "2026-03-29T08:00:00+01:00", check=0).stdout
        assert re.search(r"^due\s+2026-03-29 09:00 CEST", s, re.M), s
