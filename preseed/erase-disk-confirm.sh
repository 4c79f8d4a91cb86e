#!/bin/sh
# Run by the Debian installer's partman/early_command (busybox sh, with the installer's debconf):
# chooses the disk the automated install erases (the first one) and, unless the ISO was built with
# iso/build.sh --unattended-erase, shows that disk and waits until the operator types "Understood".
# Going back stops the install before partman writes anything.
#
# Usage: erase-disk-confirm.sh SOURCE
#   SOURCE  the ISO's /blockhost directory (/cdrom/blockhost): erase-disk-confirm.templates, and
#           the file unattended-erase when the ISO was built to erase without asking
set -eu

log() { echo "blockhost erase-disk-confirm: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

case "${1:-}" in -h | --help)
  sed -n '2,9s/^# \{0,1\}//p' "$0"
  exit 0
  ;;
esac
[ $# -eq 1 ] || die "usage: erase-disk-confirm.sh SOURCE"
source_dir="$1"
[ -f "$source_dir/erase-disk-confirm.templates" ] || die "$source_dir has no erase-disk-confirm.templates"

# d-i's list-devices: block devices that are disks, in kernel order.
disk=$(list-devices disk | head -n1)
[ -n "$disk" ] || die "the installer sees no disk"
name=${disk#/dev/}
sectors=$(cat "/sys/class/block/$name/size" 2>/dev/null || echo 0)
model=$(sed 's/[[:space:]]*$//' "/sys/class/block/$name/device/model" 2>/dev/null || true)
description="$disk, $((sectors / 2097152)) GiB${model:+, $model}"

# shellcheck source=/dev/null
. /usr/share/debconf/confmodule
db_x_loadtemplatefile "$source_dir/erase-disk-confirm.templates" blockhost
if [ -e "$source_dir/unattended-erase" ]; then
  log "unattended: erasing $description without asking (the ISO was built with --unattended-erase)"
else
  db_subst blockhost/erase-disk DISK "$description"
  attempts=0
  while :; do
    # Never taken from a preseed: the answer is typed at this machine or the install stops.
    db_reset blockhost/erase-disk
    db_fset blockhost/erase-disk seen false
    shown=0
    db_input critical blockhost/erase-disk || shown=$?
    # 30: the frontend will not show it (a noninteractive frontend): nobody can confirm.
    [ "$shown" -ne 30 ] || die "this installer cannot ask (noninteractive frontend): nothing was erased; build the ISO with --unattended-erase to erase without asking"
    db_go || die "the operator went back: nothing was erased; reboot to start again"
    db_get blockhost/erase-disk
    [ "$RET" = Understood ] && break
    attempts=$((attempts + 1))
    [ "$attempts" -lt 5 ] || die "5 answers were not 'Understood': nothing was erased; reboot to start again"
    log "answer was not 'Understood'; asking again"
  done
  log "the operator confirmed erasing $description"
fi
db_set partman-auto/disk "$disk"
