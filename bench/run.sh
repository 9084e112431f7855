#!/bin/sh
# bench/run.sh - what `make bench` runs (after building ./newsletter and build/bench_render).
#
#   (a) render: build/bench_render, 100,000 personalised messages, median of 3 runs,
#       and peak RSS at 10,000 and 100,000 messages (memory must not grow with N);
#   (b) send: 10,000 messages to Postfix's smtp-sink on 127.0.0.1 with 1, 4 and 8
#       connections (messages counted by the sink, peak RSS by /usr/bin/time -v),
#       median of 3 rounds, and Postfix's smtp-source with the same message size
#       and 8 sessions as the ceiling of the sink;
#   (c) memory at scale: peak RSS of a real `send --limit 20000` over a
#       1,000,000-row list (the plan pass reads the whole list, the address map
#       holds every row);
#   (d) subscriber lists: `subscribers import` and `subscribers list --count`
#       (median of 3) of a 1,000,000-row list, seconds and peak RSS.
# Then one compact table. Everything runs on 127.0.0.1; every process started
# here is stopped by its PID. About 2 minutes on a 2-core VM.
#
# Knobs (environment): POST, CONFIG, NEWSLETTER, BENCH_RENDER, BENCH_DIR (the
# shared harness, default ../shared/bench), N_RENDER (100000), N_SEND (10000),
# CONNS ("1 4 8"), ROUNDS (3), N_BIG (1000000), LIMIT_BIG (20000), BIG_CONNS (8),
# SKIP_SEND=1, SKIP_BIG=1.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

bench_dir=${BENCH_DIR:-$root/../shared/bench}
if [ -z "${POST:-}" ]; then
	if [ -f "$bench_dir/post.md" ]; then POST=$bench_dir/post.md; else POST=examples/first-light.md; fi
fi
CONFIG=${CONFIG:-config.example.yml}
NEWSLETTER=${NEWSLETTER:-./newsletter}
BENCH_RENDER=${BENCH_RENDER:-./build/bench_render}
N_RENDER=${N_RENDER:-100000}
N_SEND=${N_SEND:-10000}
CONNS=${CONNS:-1 4 8}
ROUNDS=${ROUNDS:-3}
N_BIG=${N_BIG:-1000000}
LIMIT_BIG=${LIMIT_BIG:-20000}
BIG_CONNS=${BIG_CONNS:-8}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nl-bench.XXXXXX")
sink_pid=
setup_dir=
cleanup() {
	if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
	if [ -n "$setup_dir" ]; then rm -rf "$setup_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
# median of the numbers on stdin (one per line)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
# value of key=VALUE in a bench_render line
field() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
now() { date +%s.%N; }
# "steal total" jiffies of the whole machine
steal_ticks() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t }' /proc/stat; }

rows=$tmp/rows
: > "$rows"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# row NAME CONNS MESSAGES SECONDS RATE RSS_MB CPU TARGET VERDICT
row() { printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$@" >> "$rows"; }
missing=0

[ -x "$BENCH_RENDER" ] || { say "$BENCH_RENDER missing: run 'make build/bench_render'"; exit 1; }
[ -f "$POST" ] || { say "post $POST missing"; exit 1; }

# ---- (a) render ----
say "render: $N_RENDER messages of $POST, 3 runs"
for i in 1 2 3; do
	"$BENCH_RENDER" -q -c "$CONFIG" -n "$N_RENDER" "$POST" | tail -n 1 >> "$tmp/render.txt"
done
"$BENCH_RENDER" -q -c "$CONFIG" -n 10000 "$POST" | tail -n 1 > "$tmp/render10k.txt"
r_rate=$(while read -r l; do echo "$l" | field rate; done < "$tmp/render.txt" | median)
r_rate_ck=$(while read -r l; do echo "$l" | field rate_with_checksum; done < "$tmp/render.txt" | median)
r_secs=$(while read -r l; do echo "$l" | field seconds; done < "$tmp/render.txt" | median)
r_rss=$(while read -r l; do echo "$l" | field rss_kb; done < "$tmp/render.txt" | sort -g | tail -n 1)
r_rss10=$(field rss_kb < "$tmp/render10k.txt")
msg_bytes=$(head -n 1 "$tmp/render.txt" | field avg_bytes)
sed 's/^/    /' "$tmp/render.txt" "$tmp/render10k.txt" >&2
v=$(awk -v r="$r_rate" 'BEGIN { print (r >= 50000) ? "ok" : "MISS" }')
row "render (1 core, median of 3)" - "$N_RENDER" "$r_secs" "$r_rate" \
	"$(awk -v k="$r_rss" 'BEGIN { printf "%.1f", k / 1024 }')" - ">= 50000 msg/s" "$v"
v=$(awk -v a="$r_rss10" -v b="$r_rss" 'BEGIN { print (b <= a * 1.05 + 256) ? "ok" : "GROWS" }')
row "render peak RSS 10k -> ${N_RENDER}" - "10000->$N_RENDER" - - \
	"$(awk -v a="$r_rss10" -v b="$r_rss" 'BEGIN { printf "%.1f->%.1f", a / 1024, b / 1024 }')" - "flat" "$v"

# ---- the sink and its tools ----
have_tools() {
	{ command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; } &&
		{ command -v smtp-source >/dev/null 2>&1 || [ -x /usr/sbin/smtp-source ]; } &&
		[ -x /usr/bin/time ] && [ -x "$bench_dir/sink.sh" ] && [ -x "$bench_dir/gen-subscribers.sh" ]
}
if [ "${SKIP_SEND:-0}" != 1 ] && ! have_tools && [ -f "$bench_dir/setup.sh" ]; then
	# setup.sh lives in a read-only folder and runs `npm ci` beside itself:
	# run a copy. Only its Debian part (postfix's test tools, GNU time) matters here.
	if [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; then
		setup_dir=$(mktemp -d "${TMPDIR:-/tmp}/nl-bench-setup.XXXXXX")
		cp -r "$bench_dir/." "$setup_dir/" && chmod -R u+w "$setup_dir"
		say "installing the benchmark tools: bash $bench_dir/setup.sh (from a copy in $setup_dir)"
		sudo_=
		[ "$(id -u)" = 0 ] || sudo_=sudo
		$sudo_ bash "$setup_dir/setup.sh" >&2 || say "setup.sh failed (see above); checking what is there"
	fi
fi
if [ "${SKIP_SEND:-0}" != 1 ] && ! have_tools; then
	say "send benchmarks skipped: smtp-sink/smtp-source (postfix) or /usr/bin/time missing."
	say "  install them with:  sudo bash $bench_dir/setup.sh"
	missing=1
	SKIP_SEND=1
fi

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		awk 'BEGIN { srand(); print 20000 + int(rand() * 30000) }'
}
sink_count() { tr '\r' '\n' < "$tmp/sink.log" | awk -F'mesg=' 'NF > 1 { m = $2 + 0 } END { print m + 0 }'; }

# send NAME CONNS SUBS LOG EXTRA...: one timed product run; appends
# "messages seconds rate rss_kb cpu rc" to $tmp/NAME.runs
send_once() {
	name=$1 c=$2 subs=$3 log=$4
	shift 4
	before=$(sink_count)
	rc=0
	t0=$(now)
	/usr/bin/time -v -o "$tmp/time.txt" "$NEWSLETTER" -c "$CONFIG" send "$POST" \
		--smtp "smtp://127.0.0.1:$port" --subscribers "$subs" --log "$log" \
		--connections "$c" --yes "$@" > "$tmp/out.txt" 2>&1 || rc=$?
	t1=$(now)
	after=$(sink_count)
	tail -n 1 "$tmp/out.txt" | sed 's/^/    /' >&2
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
	cpu=$(awk -F': ' '/Percent of CPU/ { sub(/%/, "", $2); print $2 }' "$tmp/time.txt")
	awk -v m="$((after - before))" -v a="$t0" -v b="$t1" -v rss="${rss:-0}" -v cpu="${cpu:-0}" -v rc="$rc" \
		'BEGIN { s = b - a; printf "%d %.3f %.1f %d %s %d\n", m, s, (s > 0) ? m / s : 0, rss, cpu, rc }' \
		>> "$tmp/$name.runs"
}

# the median round by rate of NAME.runs: "messages seconds rate rss_kb cpu rc" (worst rc, max rss)
pick() {
	sort -g -k3 "$tmp/$1.runs" | awk '{ l[NR] = $0; split($0, f, " "); if (f[4] > rss) rss = f[4]; if (f[6] != 0) rc = f[6] }
		END { n = split(l[int((NR + 1) / 2)], f, " "); printf "%s %s %s %d %s %d\n", f[1], f[2], f[3], rss, f[5], rc + 0 }'
}

if [ "${SKIP_SEND:-0}" != 1 ]; then
	[ -x "$NEWSLETTER" ] || { say "$NEWSLETTER missing: run 'make'"; exit 1; }
	port=$(free_port)
	sink_pid=$("$bench_dir/sink.sh" "$port" "$tmp/sink.log")
	say "smtp-sink on 127.0.0.1:$port (pid $sink_pid)"
	"$bench_dir/gen-subscribers.sh" "$N_SEND" > "$tmp/subs.csv"
	st0=$(steal_ticks)
	for round in $(seq "$ROUNDS"); do
		for c in $CONNS; do
			say "send: $N_SEND messages, $c connection(s), round $round of $ROUNDS"
			send_once "send-$c" "$c" "$tmp/subs.csv" "$tmp/sends-$c-$round.log"
		done
		say "smtp-source: $N_SEND messages of $msg_bytes bytes, 8 sessions, round $round of $ROUNDS"
		t0=$(now)
		before=$(sink_count)
		SESSIONS=8 "$bench_dir/limit.sh" "$port" "$N_SEND" "$msg_bytes" > "$tmp/limit.txt" 2>&1 || true
		t1=$(now)
		after=$(sink_count)
		sed 's/^/    /' "$tmp/limit.txt" >&2
		awk -v m="$((after - before))" -v a="$t0" -v b="$t1" \
			'BEGIN { s = b - a; printf "%d %.3f %.1f 0 - 0\n", m, s, (s > 0) ? m / s : 0 }' >> "$tmp/source.runs"
	done
	st1=$(steal_ticks)
	steal=$(echo "$st0 $st1" | awk '{ printf "%.0f", ($4 > $2) ? 100 * ($3 - $1) / ($4 - $2) : 0 }')
	set -- $(pick source)
	src_rate=$3
	best8=0
	for c in $CONNS; do
		set -- $(pick "send-$c")
		status=ok
		[ "$6" = 0 ] || status="rc=$6"
		[ "$1" = "$N_SEND" ] || status="short"
		target=-
		v=$status
		if [ "$c" = 8 ]; then
			best8=$3
			target=">= 70% of smtp-source"
			pct=$(awk -v a="$3" -v b="$src_rate" 'BEGIN { printf "%.0f", (b > 0) ? 100 * a / b : 0 }')
			v="${pct}% ok"
			[ "$pct" -ge 70 ] || v="${pct}% MISS"
			[ "$status" = ok ] || v="$status, $v"
		fi
		row "send (median of $ROUNDS)" "$c" "$1" "$2" "$3" "$(awk -v k="$4" 'BEGIN { printf "%.1f", k / 1024 }')" \
			"$5" "$target" "$v"
	done
	set -- $(pick source)
	row "smtp-source, same size" 8 "$1" "$2" "$3" - - "ceiling of the sink" "steal ${steal}%"

	# ---- (c) memory at scale ----
	if [ "${SKIP_BIG:-0}" != 1 ]; then
		say "memory: send --limit $LIMIT_BIG over a list of $N_BIG ($BIG_CONNS connections)"
		"$bench_dir/gen-subscribers.sh" "$N_BIG" > "$tmp/big.csv"
		send_once big "$BIG_CONNS" "$tmp/big.csv" "$tmp/sends-big.log" --limit "$LIMIT_BIG"
		rm -f "$tmp/big.csv"
		set -- $(pick big)
		status=ok
		[ "$6" = 0 ] || status="rc=$6"
		[ "$1" = "$LIMIT_BIG" ] || status="short"
		mb=$(awk -v k="$4" 'BEGIN { printf "%.1f", k / 1024 }')
		v=$(awk -v k="$4" 'BEGIN { print (k < 32 * 1024) ? "ok" : "MISS" }')
		[ "$status" = ok ] || v="$status, $v"
		row "send --limit $LIMIT_BIG of $N_BIG" "$BIG_CONNS" "$1" "$2" "$3" "$mb" "$5" "< 32 MB RSS" "$v"
	fi
	kill "$sink_pid" 2>/dev/null || true
	sink_pid=
fi

# ---- (d) subscriber lists at scale: import and count (issue 4) ----
# timed NAME COMMAND...: one run under /usr/bin/time; prints "SECONDS RSS_KB RC".
timed() {
	shift
	rc=0
	/usr/bin/time -f '%e %M' -o "$tmp/subs-time" "$@" > /dev/null 2> "$tmp/subs-err" || rc=$?
	echo "$(cat "$tmp/subs-time" | tail -n 1) $rc"
}
if [ "${SKIP_BIG:-0}" != 1 ] && [ -x /usr/bin/time ]; then
	say "subscribers: import and list --count of $N_BIG rows"
	"$bench_dir/gen-subscribers.sh" "$N_BIG" > "$tmp/export.csv"
	printf 'subscribers: %s\n' "$tmp/list.csv" > "$tmp/subs.yml"
	set -- $(timed import "$NEWSLETTER" -q -c "$tmp/subs.yml" subscribers import "$tmp/export.csv")
	v=ok
	[ "$3" = 0 ] || v="rc=$3"
	row "subscribers import" - "$N_BIG" "$1" - "$(awk -v k="$2" 'BEGIN { printf "%.1f", k / 1024 }')" - "seconds, not minutes" "$v"
	: > "$tmp/counts"
	for r in $(seq "$ROUNDS"); do
		timed count "$NEWSLETTER" -q -c "$tmp/subs.yml" subscribers list --count >> "$tmp/counts"
	done
	set -- $(awk '{ print $1, $2, $3 }' "$tmp/counts" | sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
	v=$(awk -v s="$1" 'BEGIN { print (s < 0.5) ? "ok" : "slow" }')
	[ "$3" = 0 ] || v="rc=$3"
	row "subscribers list --count (median)" - "$N_BIG" "$1" - "$(awk -v k="$2" 'BEGIN { printf "%.1f", k / 1024 }')" - "well under 1 s" "$v"
	rm -f "$tmp/export.csv" "$tmp/list.csv"
fi

# ---- the table ----
echo
echo "newsletter bench: $(basename "$POST"), ${msg_bytes}-byte messages, config $CONFIG, $(nproc) cpus," \
	"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "load average before: $load0$(echo "$load0" | awk '$1 > 0.3 { printf " (something else was running: figures are low and noisy)" }')"
awk -F'|' 'BEGIN { printf "%-34s %5s %15s %8s %9s %13s %5s  %-22s %s\n", "test", "conns", "messages", "seconds",
		"msg/s", "peak RSS MB", "cpu%", "target", "result" }
	{ printf "%-34s %5s %15s %8s %9s %13s %5s  %-22s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$rows"
if [ "${SKIP_SEND:-0}" != 1 ] && [ "${best8:-0}" != 0 ]; then
	echo "(msg/s = messages the sink counted / wall clock of the whole process; the render rate" \
		"counts building and finalizing messages only, ${r_rate_ck} msg/s including the bench's checksum)"
fi
exit "$missing"
