#!/bin/sh
# tests/compose/base.sh - the Debian bookworm base image every test image builds on,
# made here because no image registry can be reached: debootstrap a minimal bookworm
# into a temporary folder and `docker import` it. Cached: an existing tag is kept.
#   sh tests/compose/base.sh [TAG]        (default vinted-test/bookworm:base)
# Needs root (debootstrap), a running Docker engine and a Debian mirror
# (VINTED_DEBIAN_MIRROR, default http://deb.debian.org/debian).
set -eu
tag=${1:-vinted-test/bookworm:base}
mirror=${VINTED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base.sh: $tag is there"
    exit 0
fi
root=$(mktemp -d /tmp/vinted-bookworm.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base.sh: debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 || {
    tail -20 "$root.log" >&2
    echo "base.sh: debootstrap failed (log above)" >&2
    exit 1
}
rm -f "$root.log"
# as in Debian's slim images: no package lists or downloaded packages, no docs,
# manuals or translations (now or from later installs)
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
find "$root"/usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete
printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/info/*\n' \
    > "$root/etc/dpkg/dpkg.cfg.d/docker-nodoc"
printf 'APT::Install-Recommends "false";\n' > "$root/etc/apt/apt.conf.d/docker-norecommends"
tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$tag" >/dev/null
echo "base.sh: imported $tag"
