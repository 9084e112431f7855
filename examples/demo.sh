#!/bin/sh
# demo.sh - what `make demo` runs: preview the example post, then send it to the
# example subscribers through a real SMTP server on 127.0.0.1 (tests/smtpd.py,
# which keeps every message it receives), and show where they went.
set -eu
cd "$(dirname "$0")/.."
out=out/demo
rm -rf "$out"
mkdir -p "$out/server"

/usr/bin/python3 tests/smtpd.py --port 0 --dir "$out/server" > "$out/server/stdout" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT INT TERM
i=0
while [ ! -s "$out/server/port" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "demo: the SMTP server did not start" >&2; exit 1; fi
	sleep 0.1
done
port=$(cat "$out/server/port")

echo "== newsletter preview examples/first-light.md"
./newsletter -c examples/demo.yml preview examples/first-light.md -o "$out"
echo
echo "== newsletter send examples/first-light.md (to the SMTP server on 127.0.0.1:$port)"
./newsletter -c examples/demo.yml send examples/first-light.md --smtp "smtp://127.0.0.1:$port" --yes
echo
echo "== newsletter status examples/first-light.md"
./newsletter -c examples/demo.yml status examples/first-light.md
echo
n=$(ls "$out/server/msgs" | wc -l)
echo "The server received $n messages: $out/server/msgs/*.eml"
echo "What readers see: open $out/first-light.html in a browser."
echo "The send log: out/demo/sends.log (run the send again: nobody gets it twice)."
