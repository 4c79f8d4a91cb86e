#!/usr/bin/env bash
# Builds the BlockHost install ISO from a Debian 12 netinst ISO: adds the preseed, the first-boot
# scripts and the offline payload (k3s, images, chart), puts "Install BlockHost (automated)" first
# in the BIOS (isolinux) and UEFI (grub) menus, regenerates md5sum.txt and repacks with xorriso,
# keeping both boot paths and the hybrid (USB stick) layout.
set -euo pipefail

repo_dir="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
netinst=''
payload=''
out=''
backend=''
ssh_key=''
password_hash=''
volid='BLOCKHOST'
timeout_s=10
unattended_erase=false
isohybrid_mbr="${BLOCKHOST_ISOHYBRID_MBR:-/usr/lib/ISOLINUX/isohdpfx.bin}"
menu_label='Install BlockHost (automated)'
preseed_args='auto=true priority=critical preseed/file=/cdrom/preseed.cfg'

usage() {
  cat <<EOF
Usage: iso/build.sh --netinst DEBIAN-12-NETINST.iso --payload DIR --out OUT.iso
                    [--backend kubevirt|libvirt|proxmox] [--ssh-key FILE] [--password-hash HASH]
                    [--volid LABEL] [--timeout SECONDS] [--unattended-erase]

Injects into a Debian 12 (bookworm, amd64) netinst ISO:
  /preseed.cfg                preseed/blockhost.preseed (unattended install, LVM on the whole first disk)
  /blockhost/k3s/             first-boot and network-sync scripts and units (k3s/)
  /blockhost/late-command.sh  run by the preseed's late_command
  /blockhost/erase-disk-confirm.sh (+ .templates)
                              run by partman/early_command: shows the first disk and waits until
                              the operator types "Understood" before anything is erased
  /blockhost/artifacts/       the payload DIR, which must hold:
      k3s                               the k3s binary
      install.sh                        k3s' install script (same release)
      k3s-airgap-images-amd64.tar.zst   k3s' airgap images (.tar / .tar.gz also work)
      images/*.tar                      the BlockHost images (docker save)
      chart/blockhost-*.tgz             the packaged Helm chart (exactly one)
      values.yaml                       optional: Helm values for the chart
and adds the boot entry "$menu_label" (default after --timeout seconds) to isolinux (BIOS) and
grub (UEFI) with: $preseed_args

Options:
  --backend NAME       blockhost.backend=NAME on the boot entry; libvirt makes first boot create
                       the bridge br0 (editable at the boot menu)
  --ssh-key FILE       authorized_keys for the user blockhost
  --password-hash HASH crypt(3) hash for the user blockhost (e.g. from: openssl passwd -6)
                       At least one of --ssh-key / --password-hash is required.
  --volid LABEL        ISO volume id (default $volid)
  --timeout SECONDS    boot menu timeout before the automated install starts (default $timeout_s)
  --unattended-erase   erase the first disk WITHOUT asking (for fleets installed unattended);
                       without it the install stops at the disk until someone types Understood
  -h, --help           this help
EOF
}

log() { echo "$(date -u +%H:%M:%S) [iso/build] $*" >&2; }
die() {
  echo "iso/build.sh: ERROR: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in -h | --help | --unattended-erase) ;; --*) [ $# -ge 2 ] || die "$1 needs a value" ;; esac
  case "$1" in
    --netinst) netinst="${2:-}"; shift 2 ;;
    --payload) payload="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --backend) backend="${2:-}"; shift 2 ;;
    --ssh-key) ssh_key="${2:-}"; shift 2 ;;
    --password-hash) password_hash="${2:-}"; shift 2 ;;
    --volid) volid="${2:-}"; shift 2 ;;
    --timeout) timeout_s="${2:-}"; shift 2 ;;
    --unattended-erase) unattended_erase=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# --- inputs: everything is checked before anything is written -------------------------------------
if [ -z "$netinst" ] || [ -z "$payload" ] || [ -z "$out" ]; then
  usage >&2
  die "--netinst, --payload and --out are required"
fi
[ -f "$netinst" ] || die "netinst ISO not found: $netinst"
[ -d "$payload" ] || die "payload directory not found: $payload"
case "$backend" in '' | kubevirt | libvirt | proxmox) ;; *) die "--backend must be kubevirt, libvirt or proxmox, not '$backend'" ;; esac
[ -n "$ssh_key$password_hash" ] || die "give --ssh-key and/or --password-hash: otherwise nobody could log in to the installed system"
[ -z "$ssh_key" ] || grep -Eq '^(ssh-|ecdsa-|sk-)' "$ssh_key" 2>/dev/null || die "--ssh-key $ssh_key is not an authorized_keys file"
[ -z "$password_hash" ] || [[ "$password_hash" =~ ^\$(1|5|6|y|gy|7|2[aby])\$[./A-Za-z0-9$=,]+$ ]] || die "--password-hash is not a crypt(3) hash (make one with: openssl passwd -6)"
[[ "$volid" =~ ^[A-Za-z0-9_.-]{1,32}$ ]] || die "--volid must be 1-32 letters, digits, _ . -"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
missing=()
[ -f "$payload/k3s" ] || missing+=(k3s)
[ -f "$payload/install.sh" ] || missing+=(install.sh)
compgen -G "$payload/k3s-airgap-images-*.tar*" >/dev/null || missing+=("k3s-airgap-images-<arch>.tar*")
compgen -G "$payload/images/*.tar*" >/dev/null || missing+=("images/*.tar")
charts=("$payload"/chart/*.tgz)
if [ ${#charts[@]} -ne 1 ] || [ ! -f "${charts[0]}" ]; then missing+=("chart/*.tgz (exactly one)"); fi
[ ${#missing[@]} -eq 0 ] || die "payload $payload lacks: ${missing[*]}"
for tool in xorriso md5sum; do command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install xorriso coreutils)"; done
[ -f "$isohybrid_mbr" ] || die "$isohybrid_mbr not found (apt-get install isolinux)"

started=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/blockhost-iso.XXXXXX")"
trap 'rm -rf "$work"' EXIT
tree="$work/tree"

log "extracting $netinst"
xorriso -osirrox on -indev "$netinst" -extract / "$tree" 2>"$work/extract.log" || {
  cat "$work/extract.log" >&2
  die "could not extract $netinst"
}
chmod -R u+w "$tree"
for required in isolinux/isolinux.bin isolinux/isolinux.cfg boot/grub/grub.cfg boot/grub/efi.img install.amd/vmlinuz install.amd/initrd.gz; do
  [ -e "$tree/$required" ] || die "$netinst is not a Debian amd64 netinst ISO (no /$required)"
done
if grep -qs "$menu_label" "$tree/boot/grub/grub.cfg"; then die "$netinst already has the BlockHost entry (use the original Debian netinst)"; fi

# --- payload -------------------------------------------------------------------------------------
log "adding the preseed, the first-boot scripts and the payload ($(du -sh "$payload" | cut -f1))"
awk -v hash="$password_hash" '
  hash != "" && $1 == "d-i" && $2 == "passwd/user-password-crypted" { print "d-i passwd/user-password-crypted password " hash; next }
  { print }' "$repo_dir/preseed/blockhost.preseed" >"$tree/preseed.cfg"
mkdir -p "$tree/blockhost/k3s" "$tree/blockhost/artifacts"
cp "$repo_dir"/k3s/firstboot.sh "$repo_dir"/k3s/lib.sh "$repo_dir"/k3s/blockhost-setup-code \
  "$repo_dir"/k3s/blockhost-bridge "$repo_dir"/k3s/blockhost-host-facts "$repo_dir"/k3s/blockhost-network-sync \
  "$repo_dir"/k3s/blockhost-firstboot.service "$repo_dir"/k3s/blockhost-network-sync.service \
  "$repo_dir"/k3s/blockhost-network-sync.timer "$repo_dir"/k3s/README.md "$tree/blockhost/k3s/"
cp "$repo_dir/preseed/late-command.sh" "$repo_dir/preseed/erase-disk-confirm.sh" \
  "$repo_dir/preseed/erase-disk-confirm.templates" "$tree/blockhost/"
if [ "$unattended_erase" = true ]; then
  log "--unattended-erase: the install will erase the first disk without asking"
  echo "built with iso/build.sh --unattended-erase" >"$tree/blockhost/unattended-erase"
fi
# Reflinks where the filesystem allows: the images are hundreds of megabytes.
cp -R --reflink=auto "$payload/." "$tree/blockhost/artifacts/"
[ -z "$ssh_key" ] || cp "$ssh_key" "$tree/blockhost/authorized_keys"

# --- boot menus ----------------------------------------------------------------------------------
kernel_args="$preseed_args${backend:+ blockhost.backend=$backend}"
log "boot entry: $kernel_args"

# BIOS: our entry in its own file, included first so it is the top (and default) item.
cat >"$tree/isolinux/blockhost.cfg" <<EOF
label blockhost
	menu label ^$menu_label
	menu default
	kernel /install.amd/vmlinuz
	append $kernel_args vga=788 initrd=/install.amd/initrd.gz --- quiet
EOF
# Only one item may be the default: Debian marks "Graphical install" with "menu default".
for cfg in "$tree"/isolinux/*.cfg; do
  [ "$cfg" != "$tree/isolinux/blockhost.cfg" ] || continue
  awk 'tolower($1) == "menu" && tolower($2) == "default" && NF == 2 { next } { print }' "$cfg" >"$work/cfg"
  cat "$work/cfg" >"$cfg"
done
menu_cfg="$tree/isolinux/menu.cfg"
[ -f "$menu_cfg" ] || menu_cfg="$tree/isolinux/isolinux.cfg"
awk 'BEGIN { done = 0 } !done && tolower($1) == "include" { print "include blockhost.cfg"; done = 1 } { print } END { if (!done) print "include blockhost.cfg" }' \
  "$menu_cfg" >"$work/menu.cfg"
cat "$work/menu.cfg" >"$menu_cfg"
# isolinux counts in tenths of a second; netinst waits forever (timeout 0).
awk -v t="$((timeout_s * 10))" 'tolower($1) == "timeout" { print "timeout " t; seen = 1; next } { print } END { if (!seen) print "timeout " t }' \
  "$tree/isolinux/isolinux.cfg" >"$work/isolinux.cfg"
cat "$work/isolinux.cfg" >"$tree/isolinux/isolinux.cfg"

# UEFI: our menuentry before the first one, made the default, with a timeout.
awk -v label="$menu_label" -v args="$kernel_args" -v t="$timeout_s" '
  !done && /^[ \t]*menuentry[ \t]/ {
    print "set default=0"
    print "set timeout=" t
    print "menuentry \x27" label "\x27 {"
    print "    set background_color=black"
    print "    linux    /install.amd/vmlinuz " args " vga=788 --- quiet"
    print "    initrd   /install.amd/initrd.gz"
    print "}"
    done = 1
  }
  { print }
  END { if (!done) exit 3 }' "$tree/boot/grub/grub.cfg" >"$work/grub.cfg" || die "no menuentry in boot/grub/grub.cfg"
cat "$work/grub.cfg" >"$tree/boot/grub/grub.cfg"

# --- checksums and repack ------------------------------------------------------------------------
# Not listed: md5sum.txt itself, the boot catalog (xorriso writes it) and isolinux.bin, which
# -boot-info-table patches while mastering.
log "regenerating md5sum.txt"
(cd "$tree" && find . -type f ! -name md5sum.txt ! -path ./isolinux/boot.cat ! -path ./isolinux/isolinux.bin -print0 |
  LC_ALL=C sort -z | xargs -0 md5sum >"$work/md5sum.txt")
cat "$work/md5sum.txt" >"$tree/md5sum.txt"

log "writing $out"
mkdir -p "$(dirname "$out")"
rm -f "$out.partial"
xorriso -as mkisofs -quiet -r -J -joliet-long -iso-level 3 -V "$volid" -o "$out.partial" \
  -isohybrid-mbr "$isohybrid_mbr" \
  -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
  -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat \
  "$tree" 2>"$work/mkisofs.log" || {
  cat "$work/mkisofs.log" >&2
  rm -f "$out.partial"
  die "xorriso could not write the ISO"
}
mv "$out.partial" "$out"
log "done in $((SECONDS - started)) s: $out ($(du -h "$out" | cut -f1), sha256 $(sha256sum "$out" | cut -d' ' -f1))"
