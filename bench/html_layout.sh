#!/bin/sh
# bench/html_layout.sh - the render rate of two builds, interleaved (issue 10's
# budget: the new HTML layout may cost at most 25% of the rate).
#
#   sh bench/html_layout.sh BASE_TREE NEW_TREE [ROUNDS] [N] [POST]
#
# Each tree is a built checkout (build/bench_render, templates/); each runs
# from its own folder so that it uses its own templates. Rounds alternate
# base, new, base, new... so that a busy neighbour slows both alike. Prints
# every run and the medians.
set -eu
base=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
rounds=${3:-3}
n=${4:-100000}
post=${5:-$new/../../shared/bench/post.md}
[ -f "$post" ] || post=$new/examples/first-light.md
post=$(cd "$(dirname "$post")" && pwd)/$(basename "$post")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rate() { tr ' ' '\n' | awk -F= '$1 == "rate" { print $2 }'; }
for r in $(seq "$rounds"); do
	for t in base new; do
		eval dir=\$$t
		l=$(cd "$dir" && ./build/bench_render -q -c config.example.yml -n "$n" "$post" 2>/dev/null | tail -n 1)
		echo "$r $t $(echo "$l" | rate) $l" | tee -a "$out" | cut -d' ' -f1-3
	done
done
for t in base new; do
	printf '%s median: ' "$t"
	awk -v t="$t" '$2 == t { print $3 }' "$out" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
done
