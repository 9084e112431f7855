#!/bin/sh
# deps.sh - install the Debian packages the build, tests and demo need, if missing.
set -eu
need=""
for p in build-essential pkg-config libcurl4-openssl-dev libcmark-gfm-dev \
	libcmark-gfm-extensions-dev libyaml-dev uuid-dev python3 python3-aiosmtpd openssl \
	libssl-dev python3-dkim chromium chromium-driver python3-selenium \
	dnsmasq-base \
	python3-feedparser \
	libgmime-3.0-dev dovecot-imapd \
	libmicrohttpd-dev curl wrk \
	; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need="$need $p"
done
[ -z "$need" ] && exit 0
echo "deps: installing$need"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $need
