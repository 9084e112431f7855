#!/bin/sh
# inbox.sh - time `newsletter inbox` on a Maildir of N hard bounces (VERP) against a list of
# L readers and a send log of P posts to all of them (2 lines per reader and post).
# usage: sh bench/inbox.sh [N] [L] [P]   (run from the repository; uses ./newsletter)
set -eu
N=${1:-50}; L=${2:-20000}; P=${3:-10}
BIN=$(pwd)/newsletter
D=$(mktemp -d /tmp/nl-bench-inbox.XXXXXX)
trap 'rm -rf "$D"' EXIT
/usr/bin/python3 - "$D" "$N" "$L" "$P" <<'PY'
import os, random, sys, uuid
d, n, l, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tok = lambda i: uuid.uuid5(uuid.NAMESPACE_DNS, str(i))
with open(f"{d}/subs.csv", "w") as f:
    f.write("email,name,status,token\n")
    f.writelines(f"r{i}@example.net,R{i},active,{tok(i)}\n" for i in range(l))
with open(f"{d}/sends.log", "w") as f:
    for k in range(p):
        for i in range(l):
            f.write(f"2026-11-{10+k:02d}T09:30:00.000Z\tpost{k}\tr{i}@example.net\tintent\t-\tm{k}-{i}@example.test\t-\n")
            f.write(f"2026-11-{10+k:02d}T09:30:00.100Z\tpost{k}\tr{i}@example.net\tsent\t250\tm{k}-{i}@example.test\t250 ok\n")
for s in ("new", "cur", "tmp"):
    os.makedirs(f"{d}/md/{s}")
random.seed(1)
for k, i in enumerate(random.sample(range(l), n)):
    open(f"{d}/md/new/{k:05d}", "w").write(
        f"From: MAILER-DAEMON@x.example\r\nTo: bounces+{tok(i)}@example.test\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        f"Final-Recipient: rfc822; r{i}@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n")
with open(f"{d}/cfg.yml", "w") as f:
    f.write('from: "N <news@example.test>"\nbase_url: https://news.example.test\n'
            'bounce_address: "bounces+{token}@example.test"\nsubscribers: subs.csv\nlog: sends.log\n')
PY
s=$(date +%s.%N)
"$BIN" -c "$D/cfg.yml" inbox -v "$D/md" | tail -1
e=$(date +%s.%N)
echo "inbox: $N messages, $L readers, $(wc -l < "$D/sends.log") log lines: $(echo "$e - $s" | bc) s"
