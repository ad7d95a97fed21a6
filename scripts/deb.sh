#!/bin/sh
# deb.sh -- builds the Debian package of brasa with dpkg's own tools (no
# debhelper): stages a tree under build/deb/ and runs dpkg-deb. `make deb`
# runs it after the release build; it needs no root.
# Usage: deb.sh BRASA_BINARY    Prints the path of the .deb it wrote.
#
# The package: /usr/bin/brasa, brasa(1) from the binary's --help
# (scripts/man.sh), the systemd unit and /etc/default/brasa (a conffile
# whose variables come from `brasa serve --help`), and the docs.
set -eu
bin=$1
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/deb
root=$out/debian/brasa          # where dpkg-shlibdeps expects the package's files
rm -rf "$out"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$root/usr/share/doc/brasa" \
    "$root/lib/systemd/system" "$root/etc/default"

# Version: the binary's, and after a + the commit (count, then hash) so
# that each build of a checkout sorts after the one before it.
version=$("$bin" version | sed 's/^brasa //')
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    version="$version+git$(git -C "$top" rev-list --count HEAD).$(git -C "$top" rev-parse --short HEAD)"
    date=$(git -C "$top" log -1 --format=%cs)
else
    date=$(date -u +%Y-%m-%d)
fi
arch=$(dpkg --print-architecture)

# Debug info out (symbols stay, for backtraces): a quarter of the size.
install -m 0755 "$bin" "$root/usr/bin/brasa"
strip --strip-debug "$root/usr/bin/brasa"
"$top/scripts/man.sh" "$bin" "$date" | gzip -9n > "$root/usr/share/man/man1/brasa.1.gz"
install -m 0644 "$top/packaging/brasa.service" "$root/lib/systemd/system/brasa.service"
install -m 0644 "$top/README.md" "$top"/docs/*.md "$root/usr/share/doc/brasa/"

# /etc/default/brasa: the header, then each serve option's variable,
# commented out, with its default when it is a value (not a sentence).
def=$root/etc/default/brasa
cp "$top/packaging/default" "$def"
"$bin" serve --help | awk '
    /^  --/ && /\[\$BRASA_/ {
        var = $0; sub(/.*\[\$/, "", var); sub(/\].*/, "", var)
        if (var == "BRASA_DATA_DIR") next
        opt = $1
        d = $0; sub(/ *\[\$.*/, "", d); sub(/^  --[a-z0-9-]+( V)? +/, "", d)
        val = ""
        if (match(d, / \(default: [^()]*\)$/)) {
            val = substr(d, RSTART + 11, RLENGTH - 12); d = substr(d, 1, RSTART - 1)
            if (val ~ / /) { d = d " (default: " val ")"; val = "" }
        }
        printf "%s: %s\t%s\t%s\n", opt, d, var, val
    }' | while IFS='	' read -r text var val; do
    printf '\n'
    printf '%s\n' "$text" | fold -s -w 74 | sed 's/ *$//; s/^/# /'
    printf '#%s=%s\n' "$var" "$val"
done >> "$def"
chmod 0600 "$def"
echo /etc/default/brasa > "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "$top/packaging/$s" "$root/DEBIAN/$s"; done

# Depends: the libraries the binary links, by their packages' shlibs
# files, as debhelper would compute them (dpkg-shlibdeps wants a
# debian/control beside the package directory).
printf 'Source: brasa\n\nPackage: brasa\nArchitecture: any\n' > "$out/debian/control"
depends=$(cd "$out" && dpkg-shlibdeps -O "$root/usr/bin/brasa" | sed -n 's/^shlibs:Depends=//p')
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
    "$top/packaging/control.in" > "$root/DEBIAN/control"

deb=$out/brasa_${version}_$arch.deb
dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
echo "$deb"
