#!/bin/sh
# install.sh -- `make deb-test`: builds the Debian package, installs it on
# this machine, checks what it installed (binary, man page, conffile, unit),
# runs the service and purges the package, leaving the machine as it was.
# Usage: install.sh BRASA_BINARY (the release build)
#
# Where systemd runs (PID 1) the unit is started for real; elsewhere (a
# container) `systemd-analyze verify` checks it and the test runs its
# ExecStart the way the unit would: an unprivileged user, no new
# privileges, umask 077, /etc/default/brasa in the environment, and a
# directory of the test's own for StateDirectory. Needs root (dpkg -i);
# skipped, not failed, where brasa is already installed or has data, as
# the test would replace one and purge the other.
set -eu
bin=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
unit=/lib/systemd/system/brasa.service

fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "deb-test: skipped (needs root: it installs the package)"; exit 0; fi
case "$(dpkg-query -W -f='${db:Status-Status}' brasa 2>/dev/null || true)" in
    ""|not-installed) ;;
    *) echo "deb-test: skipped (the brasa package is on this machine; the test would replace and purge it)"; exit 0 ;;
esac
if [ -e /var/lib/brasa ] || [ -e /var/lib/private/brasa ]; then
    echo "deb-test: skipped (/var/lib/brasa exists: the test would run the service on that data)"; exit 0
fi
systemd=no
[ -d /run/systemd/system ] && systemd=yes

tmp=$(mktemp -d)
pid=""
cleanup() {
    set +e
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    dpkg --purge brasa >/dev/null 2>&1
    # this run's data only: /var/lib/brasa did not exist before it
    if [ $systemd = yes ]; then rm -rf /var/lib/private/brasa /var/lib/brasa; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Build, and look at the package before installing it.
deb=$("$top/scripts/deb.sh" "$bin")
dpkg-deb -f "$deb" Depends | grep -q 'libmicrohttpd12.*libsqlite3-0' || fail "Depends lacks the linked libraries: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -I "$deb" conffiles | grep -qx /etc/default/brasa || fail "/etc/default/brasa is not a conffile"

since=$(date '+%Y-%m-%d %H:%M:%S')
dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
# A second install of the same package is an upgrade: postinst restarts.
dpkg -i "$deb" > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i, again"; }

# The binary and its libraries.
[ "$(command -v brasa)" = /usr/bin/brasa ] || fail "brasa is not /usr/bin/brasa on PATH"
ldd /usr/bin/brasa | grep -q 'not found' && fail "unresolved libraries: $(ldd /usr/bin/brasa | grep 'not found')"
/usr/bin/brasa --help | grep -q '^usage: brasa COMMAND' || fail "brasa --help"
version=$(dpkg-query -W -f='${Version}' brasa)
case "$version" in "$(/usr/bin/brasa version | sed 's/^brasa //')"*) ;; *) fail "package version $version is not brasa's" ;; esac

# The man page (dpkg may be told to leave man pages out: then the package's).
page=$(man -w brasa 2>/dev/null || true)
if [ -z "$page" ] && grep -qs '^path-exclude=/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/share/man/man1/brasa.1.gz
    page=$tmp/usr/share/man/man1/brasa.1.gz
fi
[ "$page" = /usr/share/man/man1/brasa.1.gz ] || [ "$page" = "$tmp/usr/share/man/man1/brasa.1.gz" ] || fail "man -w brasa: '$page'"
MANWIDTH=80 man --warnings -l "$page" > "$tmp/man.txt" 2> "$tmp/man.err" || fail "man -l $page"
[ -s "$tmp/man.err" ] && fail "man warnings: $(cat "$tmp/man.err")"
grep -q '^BRASA SERVE' "$tmp/man.txt" && grep -q -- '--data-dir' "$tmp/man.txt" || fail "the man page lacks brasa serve's options"

# The conffile: root's alone (it may hold a password), every variable commented out.
[ "$(stat -c '%a %U' /etc/default/brasa)" = "600 root" ] || fail "/etc/default/brasa is $(stat -c '%a %U' /etc/default/brasa)"
grep -q '^#BRASA_PORT=8080$' /etc/default/brasa || fail "/etc/default/brasa lacks #BRASA_PORT=8080"
grep -v '^#' /etc/default/brasa | grep -q . && fail "/etc/default/brasa sets something by default"

# The unit, as systemd would load it (its ExecStart and man page exist now).
systemd-analyze verify "$unit" > "$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; fail "systemd-analyze verify $unit"; }
[ -s "$tmp/verify.log" ] && { cat "$tmp/verify.log"; fail "systemd-analyze verify warned"; }
# its sandboxing as systemd rates it: exposure 0 (best) to 10 (none), 1.9
# when written; --threshold counts in tenths
systemd-analyze security --offline=yes --threshold=30 "$unit" > "$tmp/security.log" 2>&1 ||
    { tail -3 "$tmp/security.log"; fail "systemd-analyze security: exposure above 3"; }
for d in DynamicUser=yes StateDirectory=brasa ProtectSystem=strict NoNewPrivileges=yes Restart=on-failure \
    EnvironmentFile=-/etc/default/brasa; do
    grep -qx "$d" "$unit" || fail "the unit lacks $d"
done

# An operator's setting: any address is fine, on a port free here.
printf 'BRASA_LISTEN=127.0.0.1\nBRASA_PORT=0\n' >> /etc/default/brasa

# listening OUTPUT ALIVE: runs OUTPUT until it prints the server's
# "listening on" line and sets url, while ALIVE succeeds (at most 300 tries).
listening() {
    i=0
    while [ $i -lt 300 ]; do
        url=$(eval "$1" | sed -n 's/.* listening on \(http:[^ ]*\) .*/\1/p' | tail -1)
        [ -n "$url" ] && return 0
        eval "$2" || return 1
        i=$((i + 1)); sleep 0.1
    done
    return 1
}

if [ $systemd = yes ]; then
    systemctl reset-failed brasa 2>/dev/null || true  # postinst's start on :8080 may have failed
    systemctl restart brasa || { journalctl -u brasa --since "$since" -o cat | tail -20; fail "systemctl restart brasa"; }
    listening "journalctl -u brasa --since '$since' -o cat" "! systemctl -q is-failed brasa" || { journalctl -u brasa --since "$since" -o cat | tail -20; fail "brasa.service never listened"; }
    log="journalctl -u brasa --since '$since' -o cat"
    # (its dynamic user's name resolves only with libnss-systemd: the uid)
    uid=$(stat -c %u "/proc/$(systemctl show -p MainPID --value brasa)")
    [ "$uid" != 0 ] || fail "brasa.service runs as root"
else
    state=$tmp/state
    mkdir -m 0700 "$state" && chown nobody:nogroup "$state" && chmod 0755 "$tmp"
    : > "$tmp/out"   # before the poll below reads it
    exec_start=$(sed -n 's|^ExecStart=||p' "$unit" | sed "s|/var/lib/brasa|$state|")
    # ExecStart split into words as systemd does; /etc/default/brasa read by
    # sh, which agrees with EnvironmentFile= on plain VAR=value lines
    ( set -a; . /etc/default/brasa; set +a; umask 077
      exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs $exec_start ) \
        > "$tmp/out" 2> "$tmp/err" &
    pid=$!
    listening "cat '$tmp/out'" "kill -0 $pid 2>/dev/null" || { cat "$tmp/err"; fail "brasa serve never listened"; }
    log="cat '$tmp/out'"
fi

# The bootstrap key is where docs/operations.md says (the journal), and works.
key=$(eval "$log" | sed -n 's/^bootstrap key: //p' | tail -1)
[ -n "$key" ] || fail "no bootstrap key in the service's output"
curl -sf "$url/healthz" | grep -q '"status":"ok"' || fail "GET $url/healthz"
curl -sf -H "Authorization: Bearer $key" "$url/admin/keys" | grep -q '"bootstrap"' || fail "GET /admin/keys with the bootstrap key"

# The CLI as root on the service's data, as the docs say, while it runs.
if [ $systemd = yes ]; then data=/var/lib/brasa; else data=$state; fi
key2=$(/usr/bin/brasa keys create --name deb-test --permissions users.track --data-dir "$data") || fail "brasa keys create as root"
curl -sf -H "Authorization: Bearer $key2" -H 'Content-Type: application/json' "$url/users/track" \
    -d '{"attributes":[{"external_id":"u1","first_name":"Ann"}]}' | grep -q '"attributes_processed":1' ||
    fail "POST /users/track with the key the CLI made"
if [ $systemd = yes ]; then
    systemctl stop brasa
    [ "$(systemctl show -p Result --value brasa)" = success ] || fail "brasa.service did not stop cleanly"
else
    kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; pid=""
    [ $rc = 0 ] || { cat "$tmp/err"; fail "brasa serve exited $rc on SIGTERM"; }
    # a file root made would be unwritable for the service's user
    [ -z "$(find "$state" ! -user nobody)" ] || fail "files not the service user's: $(find "$state" ! -user nobody)"
fi

# Purge: nothing of the package is left.
dpkg --purge brasa > "$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg --purge"; }
for f in /usr/bin/brasa /etc/default/brasa "$unit" /usr/share/man/man1/brasa.1.gz; do
    [ -e "$f" ] && fail "$f is left after dpkg --purge"
done
echo "deb-test: ok ($(basename "$deb"), systemd running: $systemd)"
