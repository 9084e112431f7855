#!/bin/sh
# gen-ca.sh DIR - create a test CA and a localhost server certificate in DIR.
#
# Produces DIR/ca.pem, DIR/ca.key (self-signed test CA) and DIR/server.pem,
# DIR/server.key (CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1,
# signed by the CA). Idempotent: does nothing when all four files exist.
# Files are built in a scratch directory and moved into place, so a reader
# never sees a half-written set. Quiet on success; on failure prints
# openssl's output and exits non-zero.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1

have_all() {
    [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ] &&
        [ -s "$dir/server.pem" ] && [ -s "$dir/server.key" ]
}
have_all && exit 0

mkdir -p "$dir"
work=$(mktemp -d "$dir/.gen-ca.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
log=$work/openssl.log

cat >"$work/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = newsletter test CA
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

run() {
    if ! "$@" >>"$log" 2>&1; then
        echo "gen-ca.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

umask 077
run openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
    -config "$work/openssl.cnf" -extensions v3_ca \
    -keyout "$work/ca.key" -out "$work/ca.pem"
run openssl req -new -newkey rsa:2048 -nodes -sha256 \
    -config "$work/openssl.cnf" -subj "/CN=localhost" \
    -keyout "$work/server.key" -out "$work/server.csr"
run openssl x509 -req -sha256 -days 3650 -in "$work/server.csr" \
    -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" \
    -extfile "$work/openssl.cnf" -extensions v3_server \
    -out "$work/server.pem"
run openssl verify -CAfile "$work/ca.pem" "$work/server.pem"
chmod 644 "$work/ca.pem" "$work/server.pem"

# Keys first, certificates last: have_all() only passes once everything is in.
for f in ca.key server.key ca.pem server.pem; do
    mv -f "$work/$f" "$dir/$f"
done
