#!/bin/sh
# bench/site.sh - how fast `newsletter site` builds a 1,000-post archive.
#
# Generates N posts (default 1000) of about the size of the shared sample post
# (SIZE bytes of Markdown, default: that post's size, else 8474), each with
# headings, lists, links, a table and one image of its own in a subfolder, all
# marked sent in a send log. Then times, ROUNDS times (default 3) each:
#   scratch  - `newsletter site` into an empty folder;
#   nothing  - the same again with nothing changed (pages past the feed's 20 kept
#              by the render cache, every other file compared, none written);
#   one      - after one post's text changed.
# and prints the medians. The text is generated here (words from a fixed list,
# seeded), never copied from the sample post. Everything stays in a temporary folder.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
NEWSLETTER=${NEWSLETTER:-$root/newsletter}
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
PY=${PY:-/usr/bin/python3}
sample=${BENCH_DIR:-$root/../shared/bench}/post.md
SIZE=${SIZE:-$( [ -f "$sample" ] && wc -c <"$sample" || echo 8474)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nl-site-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

"$PY" - "$tmp" "$N" "$SIZE" "$root/templates" <<'PYEOF'
import os, random, sys, zlib, struct
tmp, n, size, templates = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd = random.Random(13)
words = ("the a of to and in that it for on with as was at by this be from or have an "
         "they which one you were all there we when can more if out so said what up its "
         "about into than them only other new some could time these two may first then "
         "do any like my now over such our man me even most made after also did many "
         "before must through back years where much your way well down should because "
         "each just those people how too little state good very make world still own see "
         "men work long get here between both life being under never day same another know "
         "while last might us great old year off come since against go came right used take "
         "three model server reader letter weekly issue sender archive inbox index feed").split()
def sentence():
    s = " ".join(rnd.choice(words) for _ in range(rnd.randint(8, 22)))
    return s[0].upper() + s[1:] + "."
def png():
    raw = b"".join(b"\0" + bytes([rnd.randrange(256)] * 3 * 8) for _ in range(8))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
os.makedirs(f"{tmp}/posts", exist_ok=True)
log = []
for i in range(n):
    slug = f"issue-{i:04d}"
    d = f"{tmp}/posts/{slug}"
    os.makedirs(f"{d}/img", exist_ok=True)
    open(f"{d}/img/cover.png", "wb").write(png())
    day = 1 + i % 28
    body = [f"![cover](img/cover.png)\n"]
    while sum(len(b) for b in body) < size - 400:
        k = rnd.random()
        if k < 0.1:
            body.append("## " + sentence()[:40].rstrip(".") + "\n")
        elif k < 0.25:
            body.append("".join(f"* {sentence()}\n" for _ in range(rnd.randint(2, 5))))
        elif k < 0.3:
            body.append("| name | value | note |\n|---|---|---|\n" +
                        "".join(f"| {rnd.choice(words)} | {rnd.randint(1, 999)} | {rnd.choice(words)} |\n" for _ in range(3)))
        else:
            p = " ".join(sentence() for _ in range(rnd.randint(2, 6)))
            p = p.replace(" the ", " [the](https://example.org/%d) " % rnd.randint(1, 99), 1)
            body.append(p + "\n")
    fm = (f"---\ntitle: \"Issue {i}: {sentence()[:50].rstrip('.')}\"\n"
          f"date: {2020 + i // 336}-{1 + i // 28 % 12:02d}-{day:02d}T08:00:00Z\n"
          f"slug: {slug}\ndescription: \"{sentence()[:120]}\"\n---\n\n")
    open(f"{d}/post.md", "w").write(fm + "\n".join(body))
    log.append(f"2026-01-01T00:00:00.000Z\t{slug}\t-\tdone\t-\t-\t-\n")
open(f"{tmp}/sends.log", "w").write("".join(log))
open(f"{tmp}/config.yml", "w").write(
    f'publication:\n  name: "Bench Weekly"\nfrom: "Bench <bench@example.test>"\n'
    f'base_url: "https://news.example.test"\ntemplates: {templates}\nsite:\n  per_page: 20\n')
PYEOF

cd "$tmp"
# Posts written this very second are never trusted by the render cache (an edit
# in the same second could hide); a writer's archive is older than that.
sleep 2
secs() { # secs TAG CMD...: the wall time to TAG.t, the CPU time (user + sys) to TAG.cpu
	tag=$1; shift
	s=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o time.t "$@" >/dev/null
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l >>"$tag.t"
	awk '{print $1 + $2}' time.t >>"$tag.cpu"
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }
md_bytes=$(cat posts/issue-0000/post.md | wc -c)
: >scratch.t; : >nothing.t; : >one.t; : >scratch.cpu; : >nothing.cpu; : >one.cpu
for r in $(seq "$ROUNDS"); do
	rm -rf site
	sync
	secs scratch "$NEWSLETTER" site
	secs nothing "$NEWSLETTER" site
	echo "One more line, round $r." >>posts/issue-0500/post.md
	secs one "$NEWSLETTER" site
done
files=$(find site -type f | wc -l)
bytes=$(du -sb site | cut -f1)
echo "site: $N posts of about $md_bytes bytes of Markdown (one image each) -> $files files, $bytes bytes"
echo "  wall time, median of $ROUNDS (CPU time user+sys in brackets; load average $(cut -d' ' -f1 /proc/loadavg))"
echo "  from scratch     $(median <scratch.t) s  ($(median <scratch.cpu) s)  target < 5 s"
echo "  nothing changed  $(median <nothing.t) s  ($(median <nothing.cpu) s)  target < 0.5 s"
echo "  one post changed $(median <one.t) s  ($(median <one.cpu) s)"
