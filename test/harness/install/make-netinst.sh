#!/usr/bin/env bash
# Builds a small stand-in for the Debian 12 netinst ISO (no download site is reachable here): the
# same layout and boot setup — isolinux (BIOS, from the isolinux/syslinux-common packages) with
# Debian's menu files, grub.cfg and a FAT efi.img (UEFI El Torito image), /install.amd kernel and
# initrd, .disk/info and md5sum.txt — with a tiny fake kernel and initrd.
set -euo pipefail

usage() { echo "Usage: make-netinst.sh OUT.iso   (needs xorriso, isolinux, syslinux-common, dosfstools, mtools)"; }
case "${1:-}" in -h | --help) usage; exit 0 ;; '') usage >&2; exit 1 ;; esac
out="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tree="$work/tree"
mkdir -p "$tree"/{.disk,isolinux,install.amd/gtk,boot/grub}

echo 'Debian GNU/Linux 12 "Bookworm" - Official amd64 NETINST (BlockHost test stand-in)' >"$tree/.disk/info"
cp /usr/lib/ISOLINUX/isolinux.bin "$tree/isolinux/"
for module in ldlinux.c32 vesamenu.c32 libcom32.c32 libutil.c32; do
  cp "/usr/lib/syslinux/modules/bios/$module" "$tree/isolinux/"
done
cat >"$tree/isolinux/isolinux.cfg" <<'CFG'
# D-I config version 2.0
path
include menu.cfg
default vesamenu.c32
prompt 0
timeout 0
CFG
cat >"$tree/isolinux/menu.cfg" <<'CFG'
menu hshift 4
menu width 70

menu title Debian GNU/Linux installer menu (BIOS mode)
include stdmenu.cfg
include gtk.cfg
include txt.cfg
CFG
printf 'menu color title * #FFFFFFFF *\nmenu tabmsg Press ENTER to boot or TAB to edit a menu entry\n' >"$tree/isolinux/stdmenu.cfg"
printf 'default installgui\nlabel installgui\n\tmenu label ^Graphical install\n\tmenu default\n\tkernel /install.amd/vmlinuz\n\tappend vga=788 initrd=/install.amd/gtk/initrd.gz --- quiet\n' >"$tree/isolinux/gtk.cfg"
printf 'label install\n\tmenu label ^Install\n\tkernel /install.amd/vmlinuz\n\tappend vga=788 initrd=/install.amd/initrd.gz --- quiet\n' >"$tree/isolinux/txt.cfg"

head -c 65536 /dev/urandom >"$tree/install.amd/vmlinuz"
printf 'fake initrd\n' | gzip -9 >"$tree/install.amd/initrd.gz"
printf 'fake graphical initrd\n' | gzip -9 >"$tree/install.amd/gtk/initrd.gz"

cat >"$tree/boot/grub/grub.cfg" <<'CFG'
if [ x$feature_default_font_path = xy ] ; then
   font=unicode
else
   font=$prefix/font.pf2
fi

if loadfont $font ; then
  set gfxmode=800x600
  insmod gfxterm
fi
insmod play
play 960 440 1 0 4 440 1
menuentry --hotkey=g 'Graphical install' {
    set background_color=black
    linux    /install.amd/vmlinuz vga=788 --- quiet
    initrd   /install.amd/gtk/initrd.gz
}
menuentry --hotkey=i 'Install' {
    set background_color=black
    linux    /install.amd/vmlinuz vga=788 --- quiet
    initrd   /install.amd/initrd.gz
}
CFG

# The UEFI boot image: a FAT filesystem with the removable-media loader path.
head -c 16384 /dev/urandom >"$work/bootx64.efi"
mkfs.vfat -C -n EFIBOOT "$tree/boot/grub/efi.img" 2048 >/dev/null
mmd -i "$tree/boot/grub/efi.img" ::/EFI ::/EFI/boot
mcopy -i "$tree/boot/grub/efi.img" "$work/bootx64.efi" ::/EFI/boot/bootx64.efi

(cd "$tree" && find . -type f ! -path ./isolinux/isolinux.bin -print0 | xargs -0 md5sum >"$work/md5sum.txt")
mv "$work/md5sum.txt" "$tree/md5sum.txt"
xorriso -as mkisofs -quiet -r -J -V 'Debian 12.0.0 amd64 n' -o "$out" \
  -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
  -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
  -eltorito-alt-boot -e boot/grub/efi.img -no-emul-boot -isohybrid-gpt-basdat "$tree"
