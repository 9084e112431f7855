#!/bin/sh
# bench/serve.sh - `newsletter serve` under load (not run by `make bench`: it needs wrk and a minute).
#
#   (a) one-click POSTs: a N_BIG-reader list (default 1,000,000), CLIENTS (16)
#       concurrent wrk connections for SECONDS (10) POSTing
#       List-Unsubscribe=One-Click to random readers' tokens: requests/s, p99
#       latency, the server's peak RSS, and the change file's lines (each a
#       durable change answered 200);
#   (b) signup to confirmation: one POST /subscribe of a new address, timed
#       until tests/smtpd.py on 127.0.0.1 has the confirmation message (this
#       rewrites the whole list once: a new row is not a status change).
# Everything on 127.0.0.1; the processes started here are stopped by PID.
# Knobs: NEWSLETTER (./newsletter), N_BIG, CLIENTS, THREADS (4), SECONDS, PORT (18480), SMTP_PORT (18425).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
NL=${NEWSLETTER:-$root/newsletter}
N_BIG=${N_BIG:-1000000}
CLIENTS=${CLIENTS:-16}
THREADS=${THREADS:-4}
SECONDS_=${SECONDS:-10}
PORT=${PORT:-18480}
SMTP_PORT=${SMTP_PORT:-18425}
command -v wrk >/dev/null || { echo "bench/serve.sh: needs wrk (apt-get install wrk)" >&2; exit 69; }

dir=$(mktemp -d /tmp/nl-serve-bench.XXXXXX)
serve_pid= smtp_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
	[ -n "$smtp_pid" ] && kill "$smtp_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

awk -v n="$N_BIG" 'BEGIN {
	print "email,name,status,token,created_at,updated_at"
	for (i = 1; i <= n; i++)
		printf "reader%07d@example.test,Reader %d,active,%08x-0000-4000-8000-%012x,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n", i, i, i, i
}' > "$dir/subscribers.csv"
cat > "$dir/config.yml" <<EOC
publication:
  name: Bench Notes
base_url: https://news.example.test
from: Bench Notes <news@example.test>
subscribers: subscribers.csv
log: sends.log
templates: $root/templates
secret: "0000000000000000000000000000000000000000000000000000000000000000"
smtp:
  url: smtp://127.0.0.1:$SMTP_PORT
  tls: none
serve:
  per_ip_per_minute: 0
EOC
cat > "$dir/post.lua" <<EOL
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
wrk.method = "POST"
wrk.body = "List-Unsubscribe=One-Click"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  local i = math.random(1, $N_BIG)
  return wrk.format(nil, string.format("/unsubscribe/%08x-0000-4000-8000-%012x", i, i))
end
EOL

mkdir "$dir/smtpd"
/usr/bin/python3 tests/smtpd.py --port "$SMTP_PORT" --dir "$dir/smtpd" > "$dir/smtpd.log" 2>&1 &
smtp_pid=$!
t0=$(date +%s.%N)
"$NL" -q -c "$dir/config.yml" serve --listen "127.0.0.1:$PORT" 2> "$dir/serve.err" &
serve_pid=$!
until grep -q "serving on" "$dir/serve.err" 2>/dev/null; do
	kill -0 "$serve_pid" || { cat "$dir/serve.err"; exit 1; }
	sleep 0.1
done
t1=$(date +%s.%N)
echo "list: $N_BIG readers, $(du -m "$dir/subscribers.csv" | cut -f1) MB; serve ready in $(echo "$t1 - $t0" | bc) s, RSS $(awk '/VmRSS/ {print $2}' /proc/$serve_pid/status) kB"

wrk -t"$THREADS" -c"$CLIENTS" -d"${SECONDS_}s" --latency -s "$dir/post.lua" "http://127.0.0.1:$PORT" > "$dir/wrk.out"
rps=$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.out")
p99=$(awk '$1 == "99%" {print $2}' "$dir/wrk.out")
p50=$(awk '$1 == "50%" {print $2}' "$dir/wrk.out")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.out")
lines=$(wc -l < "$dir/subscribers.csv.changes")
echo "one-click: $CLIENTS clients, ${SECONDS_} s: $rps req/s, p50 $p50, p99 $p99, non-2xx ${non2xx:-0}, change lines $lines"
echo "serve peak RSS: $(awk '/VmHWM/ {print $2}' /proc/$serve_pid/status) kB"
grep -E "Latency|Req/Sec|requests in|Socket errors" "$dir/wrk.out" | sed 's/^/  wrk: /'

# (b) signup to confirmation at the SMTP server
s=$(date +%s.%N)
curl -s -o /dev/null -w "signup: HTTP %{http_code} in %{time_total} s (the new row durable in the list)\n" \
	--data "email=newreader@example.test&name=&website=" "http://127.0.0.1:$PORT/subscribe" > "$dir/curl.out" &
curl_pid=$!
until grep -q newreader "$dir/smtpd/transactions.jsonl" 2>/dev/null; do sleep 0.01; done
e=$(date +%s.%N)
echo "signup to confirmation message at the SMTP server: $(echo "$e - $s" | bc) s"
wait "$curl_pid"
cat "$dir/curl.out"
s=$(date +%s.%N)
curl -s -o /dev/null --data "email=reader0000002@example.test&website=" "http://127.0.0.1:$PORT/subscribe"
echo "(an existing address: answer in $(echo "$(date +%s.%N) - $s" | bc) s, no rewrite)"
