#!/usr/bin/env bash
# Builds BlockHost's guest image, the Debian bookworm system every VM boots, from Debian packages
# and our own libpam-web3 package only (no image download): debootstrap minbase with Debian's cloud
# kernel (virtio, no hardware drivers: a third of the generic kernel's size and a faster boot),
# systemd and DHCP; then cloud-init, qemu-guest-agent and openssh-server inside the chroot, and
# libpam-web3 (the wallet login, guest/pam-web3/); a raw disk with an MBR partition table, one ext4
# root partition (label rootfs, made with `mkfs.ext4 -d` on a loop device) and GRUB for BIOS
# firmware (Proxmox VE, KubeVirt and libvirt boot it through SeaBIOS), converted to qcow2; the
# kernel and initrd copied out too for libvirt's direct kernel boot (`root=LABEL=rootfs`). Per-VM
# settings (the PAM config, the pam.d stack, sshd) come from cloud-init (controllers/vm/cloud-init.ts).
#
# Usage: build-image.sh <cache-dir> <libpam-web3.deb>
#   (as root; needs debootstrap, e2fsprogs, qemu-utils, fdisk, grub-pc-bin and loop devices)
# Writes <cache-dir>/{base.qcow2,vmlinuz,initrd.img,COMPLETE} once; concurrent callers wait on
# <cache-dir>.lock and then find the finished image. Progress goes to stderr, nothing to stdout.
# BLOCKHOST_DEBIAN_MIRROR overrides the mirror (default: deb.debian.org, as in the host's apt).
set -euo pipefail

cache_dir=${1:?usage: build-image.sh <cache-dir> <libpam-web3.deb>}
pam_deb=${2:?usage: build-image.sh <cache-dir> <libpam-web3.deb>}
mirror=${BLOCKHOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
disk_size=2G

say() { echo "[guest-image] $(date +%T) $*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "must run as root (debootstrap, chroot, mknod)"; exit 1; }
for tool in debootstrap mkfs.ext4 qemu-img flock chroot sfdisk losetup partx mountpoint grub-install; do
  command -v "$tool" >/dev/null || {
    say "missing $tool (apt-get install debootstrap e2fsprogs qemu-utils fdisk grub-pc-bin)"
    exit 1
  }
done
[ -d /usr/lib/grub/i386-pc ] || { say "missing GRUB's BIOS modules (apt-get install grub-pc-bin)"; exit 1; }

[ -f "$pam_deb" ] || { say "no such package: $pam_deb (guest/pam-web3/build.sh makes it)"; exit 1; }
pam_deb=$(realpath "$pam_deb")
mkdir -p "$(dirname "$cache_dir")"
exec 9>"$cache_dir.lock"
if ! flock -n 9; then
  say "another build of $cache_dir is running; waiting for it"
  flock 9
fi
if [ -f "$cache_dir/COMPLETE" ]; then
  say "cached: $cache_dir"
  exit 0
fi

# Only ever unmount what this script mounts (fresh proc and sysfs, never a bind of the host's /dev).
unmount_chroot() {
  for mountpoint in "$1/sys" "$1/proc"; do
    if mountpoint -q "$mountpoint" 2>/dev/null; then umount "$mountpoint" || umount -l "$mountpoint"; fi
  done
}
# The disk of a build directory: its mounted root partition, then every loop device on the file
# (found through the file, so this also cleans up after a build killed with SIGKILL).
release_disk() {
  if mountpoint -q "$1/mnt" 2>/dev/null; then umount "$1/mnt" || umount -l "$1/mnt"; fi
  if [ -f "$1/disk.raw" ]; then
    losetup --noheadings --output NAME --associated "$1/disk.raw" | while read -r device; do
      losetup --detach "$device"
    done
  fi
}
# A build killed without its cleanup (SIGKILL) leaves a partial directory; we hold the lock now.
for stale in "$cache_dir".partial.*; do
  [ -d "$stale" ] || continue
  say "removing the remains of an interrupted build: $stale"
  release_disk "$stale"
  unmount_chroot "$stale/rootfs"
  rm -rf "$stale"
done

work=$(mktemp -d "$cache_dir.partial.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  release_disk "$work"
  unmount_chroot "$rootfs"
  rm -rf "$work"
}
trap cleanup EXIT
# SIGTERM (the harness' parent-death signal): stop the whole build, which runs in its own process
# group when started by guest-image.ts, then clean up. Long steps run in the background with
# `wait`, which a trapped signal interrupts (a foreground command would delay the trap).
on_term() {
  trap '' TERM
  if [ "$(ps -o pgid= -p $$ | tr -d ' ')" = "$$" ]; then kill -TERM -- "-$$" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  exit 143
}
trap on_term TERM INT
step() {
  "$@" &
  wait $!
}

started=$SECONDS
say "debootstrap $suite (minbase) from $mirror into $rootfs"
step debootstrap --variant=minbase \
  --include=linux-image-cloud-amd64,systemd-sysv,udev,ifupdown,isc-dhcp-client \
  "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  say "debootstrap failed"
  exit 1
}
say "debootstrap done after $((SECONDS - started)) s"

# Packages whose dependencies debootstrap cannot resolve (cloud-init needs a virtual package) go
# in through apt inside the chroot, with services kept from starting.
mount -t proc proc "$rootfs/proc"
mount -t sysfs sysfs "$rootfs/sys"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
# No manuals, documentation or translations in a guest nobody reads them on (a fifth of the
# image); copyright files stay. dpkg keeps this for packages customers install later too.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-blockhost-slim" <<'DPKG'
path-exclude=/usr/share/man/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
DPKG
find "$rootfs/usr/share/man" "$rootfs/usr/share/locale" "$rootfs/usr/share/info" -mindepth 1 -delete 2>/dev/null || true
find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
# cloud-guest-utils brings growpart, with which cloud-init grows the root partition to the VM's disk.
say "apt-get install cloud-init cloud-guest-utils qemu-guest-agent openssh-server (in the chroot)"
step chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 bash -euc '
  apt-get update -qq
  apt-get install -y -qq cloud-init cloud-guest-utils qemu-guest-agent openssh-server >/dev/null
  apt-get clean
' >"$work/chroot.log" 2>&1 || {
  tail -n 30 "$work/chroot.log" >&2
  say "package installation in the chroot failed"
  exit 1
}
say "dpkg -i $(basename "$pam_deb") (in the chroot)"
cp "$pam_deb" "$rootfs/tmp/libpam-web3.deb"
step chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 bash -euc '
  dpkg -i /tmp/libpam-web3.deb
  rm /tmp/libpam-web3.deb
  test -f /lib/x86_64-linux-gnu/security/pam_web3.so
' >>"$work/chroot.log" 2>&1 || {
  tail -n 30 "$work/chroot.log" >&2
  say "installing libpam-web3 in the chroot failed"
  exit 1
}
rm -f "$rootfs/usr/sbin/policy-rc.d"
umount "$rootfs/sys" "$rootfs/proc"
say "packages done after $((SECONDS - started)) s"

# Guest configuration: root by label (the disk is vda on virtio, sda on Proxmox' SCSI), NoCloud
# only (no slow probing of cloud metadata services under TCG), per-VM identity regenerated at
# first boot.
echo 'LABEL=rootfs / ext4 defaults,errors=remount-ro 0 1' >"$rootfs/etc/fstab"
echo 'blockhost-guest' >"$rootfs/etc/hostname"
# minbase has no `locales` (update-locale): keep C.UTF-8, or cloud-init's locale module fails.
cat >"$rootfs/etc/cloud/cloud.cfg.d/90_blockhost.cfg" <<'CFG'
datasource_list: [NoCloud, None]
locale: C.UTF-8
CFG
echo 'LANG=C.UTF-8' >"$rootfs/etc/default/locale"
cat >"$rootfs/etc/network/interfaces" <<'ENI'
auto lo
iface lo inet loopback
source /etc/network/interfaces.d/*
ENI
mkdir -p "$rootfs/etc/network/interfaces.d"
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id" "$rootfs"/etc/ssh/ssh_host_* "$rootfs/etc/resolv.conf"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

kernel=$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)
initrd=$(find "$rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)
if [ -z "$kernel" ] || [ -z "$initrd" ]; then
  say "no kernel or initrd in $rootfs/boot"
  exit 1
fi
# GRUB boots Debian's /vmlinuz and /initrd.img links, which the kernel package moves on every
# upgrade: the guest needs no boot loader package of its own, nor a device name for it.
if [ ! -L "$rootfs/vmlinuz" ] || [ ! -L "$rootfs/initrd.img" ]; then
  say "no /vmlinuz or /initrd.img link in $rootfs"
  exit 1
fi
mkdir -p "$rootfs/boot/grub"
cat >"$rootfs/boot/grub/grub.cfg" <<'GRUB'
# Written once by BlockHost's image build (not update-grub): no menu; kernel NIC names (eth0, so
# cloud-init's config needs no rename racing udev); the serial console for logs and tests, the
# screen last so that it is /dev/console for people.
set timeout=0
menuentry 'Debian GNU/Linux (BlockHost guest)' {
  linux /vmlinuz root=LABEL=rootfs net.ifnames=0 console=ttyS0 console=tty0
  initrd /initrd.img
}
GRUB
mkdir -p "$work/out"
cp "$kernel" "$work/out/vmlinuz"
cp "$initrd" "$work/out/initrd.img"
chmod 0644 "$work/out/vmlinuz" "$work/out/initrd.img"

say "partition a $disk_size raw disk, mkfs.ext4 -d its root partition, grub-install, then qcow2"
truncate -s "$disk_size" "$work/disk.raw"
# One bootable Linux partition from 1 MiB (the gap before it holds GRUB's core image) to the end,
# where growpart can extend it.
printf 'label: dos\ntype=83, bootable\n' | sfdisk --quiet "$work/disk.raw"
loop=$(losetup --find --partscan --show "$work/disk.raw")
# A kernel without MBR support (CONFIG_MSDOS_PARTITION, as in some CI VMs) finds no partition:
# partx reads the table itself and adds it.
[ -b "${loop}p1" ] || partx --add "$loop"
[ -b "${loop}p1" ] || { say "no partition device ${loop}p1 (is /dev a devtmpfs?)"; exit 1; }
step mkfs.ext4 -q -F -L rootfs -d "$rootfs" "${loop}p1"
mkdir "$work/mnt"
mount "${loop}p1" "$work/mnt"
step grub-install --target=i386-pc --boot-directory="$work/mnt/boot" --modules='part_msdos ext2' \
  --locales= --fonts= --themes= "$loop" >"$work/grub-install.log" 2>&1 || {
  cat "$work/grub-install.log" >&2
  say "grub-install failed"
  exit 1
}
release_disk "$work"
step qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/out/base.qcow2"
rm -f "$work/disk.raw"

{
  echo "suite=$suite"
  echo "mirror=$mirror"
  echo "kernel=$(basename "$kernel")"
  echo "pam_web3=$(basename "$pam_deb")"
  echo "built=$(date -u +%FT%TZ)"
  echo "seconds=$((SECONDS - started))"
} >"$work/out/COMPLETE.tmp"
rm -rf "$cache_dir"
mv "$work/out" "$cache_dir"
mv "$cache_dir/COMPLETE.tmp" "$cache_dir/COMPLETE"
say "built $cache_dir in $((SECONDS - started)) s"
