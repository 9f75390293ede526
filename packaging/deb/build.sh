#!/usr/bin/env bash
# Builds the zhudai Debian package with dpkg-deb from an already built binary.
#   packaging/deb/build.sh [BINARY] [OUT_DIR]
# BINARY defaults to target/release/zhudai (CARGO_TARGET_DIR honoured); OUT_DIR to
# target/debian. Prints the path of the .deb on its last line. Needs dpkg-deb (dpkg) only.
# DEB_COMPRESSION (default xz) is passed to dpkg-deb -Z: CI uses gzip for its debug binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
binary="${1:-$target/release/zhudai}"
out="${2:-$target/debian}"

die() { echo "build.sh: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"
[ -x "$binary" ] || die "no executable at $binary (cargo build --release, or pass the binary)"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)"
[ -n "$version" ] || die "cannot read the version from Cargo.toml"
arch="$(dpkg --print-architecture)"
# The binary must run here: its own --version is the check that it is the right file.
"$binary" --version >/dev/null || die "$binary does not run on this machine"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/sbin" "$root/lib/systemd/system" \
  "$root/etc/zhudai" "$root/usr/share/doc/zhudai"
install -m 0755 "$binary" "$root/usr/bin/zhudai"
install -m 0755 "$here/zhudai-admin" "$root/usr/sbin/zhudai-admin"
install -m 0644 "$here/zhudai.service" "$root/lib/systemd/system/zhudai.service"
install -m 0640 "$here/config.toml" "$root/etc/zhudai/config.toml"
for doc in install.md backup.md admin.md operations.md; do
  if [ -f "$repo/docs/$doc" ]; then
    install -m 0644 "$repo/docs/$doc" "$root/usr/share/doc/zhudai/$doc"
  fi
done
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
echo "/etc/zhudai/config.toml" > "$root/DEBIAN/conffiles"
size_kb="$(du -sk "$root" | cut -f1)"
cat > "$root/DEBIAN/control" <<CONTROL
Package: zhudai
Version: $version
Architecture: $arch
Maintainer: zhudai maintainers <zhudai@localhost>
Installed-Size: $size_kb
Depends: libc6, passwd, util-linux
Section: misc
Priority: optional
Description: self-hosted CRM for Chinese loan-intermediary agencies (助贷)
 zhudai is a single-binary CRM and business system for loan-intermediary
 agencies: customer records, public pools, follow-ups, search, imports,
 encrypted backups. The package runs it as the systemd service zhudai, as
 the system user zhudai, with its data in /var/lib/zhudai and its
 configuration in /etc/zhudai/config.toml.
CONTROL

mkdir -p "$out"
deb="$out/zhudai_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$root" "$deb" >/dev/null
echo "$deb"
