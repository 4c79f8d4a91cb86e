#!/usr/bin/env bash
# Builds pam_web3.so and packages it as <out-dir>/libpam-web3_<version>_amd64.deb.
# Prints the .deb path on stdout; progress goes to stderr. Skips the build when a .deb
# made from the same inputs is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 1 && -n "$1" ]] || die "usage: build.sh <out-dir>"
mkdir -p "$1" || die "cannot create $1"
out_dir="$(cd "$1" && pwd)"

[[ "$(uname -m)" == x86_64 ]] || die "only amd64 packages are built here"
for tool in dpkg-deb sha256sum strip; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
if ! command -v cargo >/dev/null && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || die "cargo is missing (install Rust, e.g. into ~/.cargo/bin)"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n1)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the version from Cargo.toml"
deb="$out_dir/libpam-web3_${version}_amd64.deb"
stamp="$deb.inputs-sha256"

# Everything that can change the package's bytes or contents.
inputs_hash="$(
  cd "$here"
  find src Cargo.toml Cargo.lock build.sh -type f -print0 | LC_ALL=C sort -z \
    | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
)"
if [[ -f "$deb" && -f "$stamp" && "$(cat "$stamp")" == "$inputs_hash" ]]; then
  log "up to date: $deb"
  printf '%s\n' "$deb"
  exit 0
fi

# Linking needs the libpam.so development symlink.
if [[ ! -e /usr/lib/x86_64-linux-gnu/libpam.so && ! -e /lib/x86_64-linux-gnu/libpam.so ]]; then
  [[ "$(id -u)" -eq 0 ]] || die "libpam0g-dev is missing (run as root to install it)"
  log "installing libpam0g-dev"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpam0g-dev >&2
fi

log "cargo build --release --locked"
(cd "$here" && cargo build --release --locked >&2)
so="$here/target/release/libpam_web3.so"
[[ -f "$so" ]] || die "cargo did not produce $so"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -d -m 0755 "$stage/DEBIAN" "$stage/lib/x86_64-linux-gnu/security" \
  "$stage/usr/share/doc/libpam-web3"
install -m 0644 "$so" "$stage/lib/x86_64-linux-gnu/security/pam_web3.so"
strip --strip-unneeded "$stage/lib/x86_64-linux-gnu/security/pam_web3.so"

cat > "$stage/usr/share/doc/libpam-web3/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: libpam-web3
Source: BlockHost (guest/pam-web3)

Files: *
Copyright: BlockHost
License: MIT or Apache-2.0

Comment: pam_web3.so statically links Rust crates from crates.io, among them
 RustCrypto's k256, ecdsa, elliptic-curve, sha3 and crypto-bigint, serde,
 serde_json, toml, winnow, getrandom and libc (MIT or Apache-2.0), and
 subtle (BSD-3-Clause). Their exact versions are in the source's Cargo.lock.
COPYRIGHT
chmod 0644 "$stage/usr/share/doc/libpam-web3/copyright"

installed_kb="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: libpam-web3
Version: $version
Architecture: amd64
Maintainer: BlockHost
Depends: libc6 (>= 2.36), libpam0g
Section: admin
Priority: optional
Installed-Size: $installed_kb
Description: PAM module for logging in with an Ethereum wallet signature
 pam_web3.so shows a one-time code, and accepts the login when the user
 signs it (EIP-191 personal_sign) with the wallet named in their GECOS
 field, either pasted at the prompt or delivered by the host into
 /run/libpam-web3/pending/.
CONTROL

tmp_deb="$deb.tmp.$$"
dpkg-deb --build --root-owner-group "$stage" "$tmp_deb" >&2
mv -f "$tmp_deb" "$deb"
printf '%s\n' "$inputs_hash" > "$stamp"
log "built $deb"
printf '%s\n' "$deb"
