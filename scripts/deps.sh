#!/bin/sh
# deps.sh -- installs the Debian packages brasa needs, if any are missing.
# Usage: deps.sh [bench]   ("bench" adds what `make bench` uses)
set -eu
# ruby and ruby-liquid: the reference Liquid that `make liquid-diff` compares with.
# libxml2: the HTML parser that email link rewriting and plain-text parts use.
# libopendkim-dev: DKIM signatures on email (--dkim-*).
# libavro-dev: Currents storage files (Avro containers); python3-avro and
# avro-bin (avrocat): the readers the Currents tests check them with.
# python3-aiosmtpd: the SMTP server the email tests send to; python3-dkim:
# a second DKIM implementation that checks brasa's signatures in them.
# libsodium-dev: Argon2id password hashes of the dashboard's operators.
# chromium: the browser the dashboard's tests drive (tests/browser/).
# dpkg-dev (dpkg-shlibdeps), systemd (systemd-analyze), man-db and curl:
# what `make deb` and its test (tests/deb/install.sh) use.
pkgs="build-essential pkg-config clang libmicrohttpd-dev libjson-c-dev libroaring-dev libsqlite3-dev libssl-dev libzip-dev zlib1g-dev libcurl4-openssl-dev libjemalloc-dev libxml2-dev libopendkim-dev libavro-dev libcsv-dev libsodium-dev sqlite3 nodejs ruby ruby-liquid python3-aiosmtpd python3-dkim python3-avro avro-bin dpkg-dev systemd man-db curl chromium"
# postgresql-15 and libpq-dev: the PostgreSQL that bench/ingest.sh compares
# ingest with, and the client library of its loader (bench/pg_loader.c).
[ "${1:-}" = bench ] && pkgs="$pkgs libjansson-dev libcjson-dev wrk postgresql-15 libpq-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node may come from elsewhere than Debian's package (it is on the image).
case "$missing" in *nodejs*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//') ;; esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "brasa needs these Debian packages:$missing"
    echo "install them as root:  sudo apt-get install -y$missing"
    exit 1
fi
echo "deps: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
