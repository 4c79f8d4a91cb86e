#!/usr/bin/env bash
# Installs the Debian packages the harness needs when they are missing (as root; otherwise says
# what to install). Go is required to build the control plane; Debian's own Go is too old for it.
set -euo pipefail

declare -A package_of=([openssl]=openssl [setpriv]=util-linux [flock]=util-linux [curl]=curl)
# The app images' test runs them in a private containerd (test/harness/containerd). Checked by
# command, so that another build of containerd and runc (a CI runner's containerd.io) counts too.
package_of+=([containerd]=containerd [ctr]=containerd [containerd-shim-runc-v2]=containerd [runc]=runc)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null || missing+=("${package_of[$command]}")
done
# The libvirt VM backend's tests: a libvirtd started by hand (test/harness/libvirt/libvirtd.ts) and a
# Debian guest built with debootstrap (test/harness/libvirt/guest-image.ts); tini reaps the QEMU
# processes libvirtd daemonizes (PID 1 here does not). Chromium drives the web tests
# (playwright-core); xorriso, isolinux, syslinux-common, dosfstools and mtools build the test ISO; shellcheck checks the
# install scripts; iproute2 and ping give the bridge tests their network namespaces and gateway checks;
# jq is what blockhost-host-facts (first boot's host-facts step) reads lsblk's and ip's JSON with;
# libpam0g-dev links the guest's PAM module (guest/pam-web3) and openssh-client logs into guests
# with the wallet (test/harness/ssh); fdisk, grub-pc-bin and grub2-common (grub-install) partition the guest image and make it
# boot through BIOS firmware (images/guest/build-image.sh); containernetworking-plugins, iptables and
# nftables (nft drops the empty tables iptables-nft leaves) run the test harness's real Kubernetes
# node (test/harness/node) with the containerd and runc above. Checked by package name.
if command -v dpkg-query >/dev/null; then
  for package in libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils \
    genisoimage debootstrap e2fsprogs tini chromium xorriso isolinux syslinux-common dosfstools mtools shellcheck iproute2 iputils-ping jq \
    libpam0g-dev openssh-client fdisk grub-pc-bin grub2-common containernetworking-plugins iptables nftables; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "[system deps] installing ${packages[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2
  else
    echo "[system deps] missing packages: ${packages[*]} (install them, e.g. sudo apt-get install ${packages[*]})" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "[system deps] Rust (cargo) is needed to build the guest's PAM module (guest/pam-web3): https://rustup.rs" >&2
  exit 1
fi
if ! command -v go >/dev/null; then
  echo "[system deps] Go >= 1.24 is needed to build the control plane from Go modules: https://go.dev/doc/install" >&2
  exit 1
fi
