#!/bin/sh
# Run by the Debian installer's preseed/late_command (busybox sh, before the first reboot): copies
# the BlockHost payload from the ISO into the installed system, prepares first boot and enables
# the network sync timer. The preseed then enables blockhost-firstboot.service with in-target.
#
# Usage: late-command.sh SOURCE TARGET [CMDLINE_FILE]
#   SOURCE        the ISO's /blockhost directory (/cdrom/blockhost)
#   TARGET        the installed system's root (/target)
#   CMDLINE_FILE  kernel command line to read blockhost.backend=... from (default /proc/cmdline)
set -eu

log() { echo "blockhost late-command: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

case "${1:-}" in -h | --help)
  sed -n '2,9s/^# \{0,1\}//p' "$0"
  exit 0
  ;;
esac
[ $# -ge 2 ] || die "usage: late-command.sh SOURCE TARGET [CMDLINE_FILE]"
source_dir="$1"
target="$2"
cmdline_file="${3:-/proc/cmdline}"
[ -f "$source_dir/k3s/firstboot.sh" ] || die "$source_dir is not a BlockHost payload (no k3s/firstboot.sh)"
[ -d "$target/etc" ] || die "$target does not look like the installed system (no etc/)"

# The backend chosen at the boot menu (iso/build.sh --backend sets the default entry's value).
backend=''
for word in $(cat "$cmdline_file" 2>/dev/null || true); do
  case "$word" in blockhost.backend=*) backend="${word#blockhost.backend=}" ;; esac
done
case "$backend" in '' | kubevirt | libvirt | proxmox) ;; *) die "unknown blockhost.backend=$backend on the kernel command line" ;; esac

log "copying $source_dir to $target/opt/blockhost"
mkdir -p "$target/opt/blockhost"
cp -R "$source_dir/." "$target/opt/blockhost/"
chmod 0755 "$target/opt/blockhost/k3s/firstboot.sh" "$target/opt/blockhost/k3s/blockhost-setup-code" \
  "$target/opt/blockhost/k3s/blockhost-bridge" "$target/opt/blockhost/k3s/blockhost-host-facts" \
  "$target/opt/blockhost/k3s/blockhost-network-sync"

mkdir -p "$target/etc/systemd/system" "$target/usr/local/sbin" "$target/etc/blockhost"
cp "$source_dir/k3s/blockhost-firstboot.service" "$target/etc/systemd/system/blockhost-firstboot.service"
ln -sf /opt/blockhost/k3s/blockhost-setup-code "$target/usr/local/sbin/blockhost-setup-code"
ln -sf /opt/blockhost/k3s/blockhost-bridge "$target/usr/local/sbin/blockhost-bridge"
ln -sf /opt/blockhost/k3s/blockhost-host-facts "$target/usr/local/sbin/blockhost-host-facts"
ln -sf /opt/blockhost/k3s/blockhost-network-sync "$target/usr/local/sbin/blockhost-network-sync"
# The network sync timer, enabled the way `systemctl enable` would (WantedBy=timers.target): the
# installer's environment has no systemctl for the target.
for unit in blockhost-network-sync.service blockhost-network-sync.timer; do
  cp "$source_dir/k3s/$unit" "$target/etc/systemd/system/$unit"
done
mkdir -p "$target/etc/systemd/system/timers.target.wants"
ln -sf /etc/systemd/system/blockhost-network-sync.timer \
  "$target/etc/systemd/system/timers.target.wants/blockhost-network-sync.timer"
printf '# Written at install time by the BlockHost preseed; read by /opt/blockhost/k3s/firstboot.sh.\nBLOCKHOST_BACKEND=%s\n' \
  "$backend" >"$target/etc/blockhost/firstboot.env"
log "first boot configured (backend: ${backend:-chosen later in the wizard})"

# SSH key from iso/build.sh --ssh-key, for the user the preseed created. Numeric ids from the
# target's passwd: the installer's own environment does not know the user.
if [ -s "$source_dir/authorized_keys" ]; then
  ids="$(awk -F: '$1 == "blockhost" {print $3 ":" $4}' "$target/etc/passwd")"
  [ -n "$ids" ] || die "user blockhost missing in $target/etc/passwd"
  home="$(awk -F: '$1 == "blockhost" {print $6}' "$target/etc/passwd")"
  mkdir -p "$target$home/.ssh"
  cp "$source_dir/authorized_keys" "$target$home/.ssh/authorized_keys"
  chmod 0700 "$target$home/.ssh"
  chmod 0600 "$target$home/.ssh/authorized_keys"
  chown -R "$ids" "$target$home/.ssh"
  log "installed the SSH key(s) for blockhost"
fi
