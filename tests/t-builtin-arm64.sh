#!/bin/bash
# An arm64 kernel with CONFIG_IKHEADERS=y built in, cross-compiled by
# Kbuild through scripts/kbuild-install, booted, and its archive read
# back out of its images. Linux 7.3 for arm64 (Debian's
# gcc-aarch64-linux-gnu) from tinyconfig plus what booting on QEMU's
# `virt` board needs (tests/lib/builtin.sh: cached by source, config
# and compiler; cpio, perl, tar and xz hidden from Kbuild). In a private
# copy of the cached tree, with this $KHEADERS:
#   - `make` redoes only what depends on kheaders (the archive,
#     kernel/kheaders.o, the link and the boot image), no hidden tool;
#   - vmlinux's .rodata holds, between the IKHD markers, the bytes of
#     kernel/kheaders_data.tar.xz;
#   - booted under `qemu-system-aarch64 -M virt -cpu cortex-a57` (TCG)
#     with an initramfs of Debian's busybox-static for arm64
#     (tests/lib/busybox-arch.sh) and tests/boot/init-builtin:
#     /sys/kernel/kheaders.tar.xz and /proc/kheaders.tar.xz have the
#     archive's SHA-256 and size, dd at odd block sizes, skips and past
#     the end gives the pieces the host's dd gives, both refuse writes,
#     busybox tar unpacks the tree the host's GNU tar does, no BUG or
#     WARNING in dmesg;
#   - `kheaders extract` from vmlinux, from arch/arm64/boot/Image and
#     from Image.gz (gzip as a whole file) gives the tree extracting the
#     .tar.xz gives; `kheaders verify --rebuild --arch arm64` of
#     Image.gz against its tree matches, and after a header edit (no
#     rebuild) names that header, exit 1.
# Under SAN=1 (KH_BUILD ends in /san) the cached tree is used as built
# (no relink) and the boot is left out (it tests the kernel, not the
# binary); every host-side check runs with the sanitized binary.
set -u
. "$TOP/tests/lib/busybox-arch.sh"
. "$TOP/tests/lib/builtin.sh"
bad() { echo "FAIL $*"; fail=1; }
ok() { echo "ok   $*"; }
die() { echo "FAIL $*"; exit 1; }
kbi_t_start arm64 "scripts/deps boot: qemu-system-arm"
# The cache must stay pristine: a file the test edits in its copy.
EDIT=include/linux/kernel.h
RAW=$W/arch/arm64/boot/Image

# Redo what depends on kheaders, with this binary.
if [ -z "$san" ]; then
	s=$(date +%s)
	kbi_make "$W" "$T/relink.log" all || { tail -n 30 "$T/relink.log"; die "make in the copy"; }
	kbi_t_relink_hidden
	# Compiled or assembled: only kheaders.o and what the link makes.
	other=$(kbi_t_others "$T/relink.log")
	if [ -n "$other" ]; then
		bad "relink recompiled more than kheaders' part: $(echo "$other" | tr '\n' ' ')"
	else
		ok "make in the copy ($(($(date +%s) - s)) s): $(grep -cE '^  GEN +kernel/kheaders_data.tar.xz$' "$T/relink.log") GEN, only kheaders.o and the link redone, no hidden tool"
	fi
else
	ok "SAN=1: the cached arm64 kernel is used as built (no relink with the sanitized binary)"
fi
[ -f "$IMG" ] && [ -f "$RAW" ] && [ -f "$W/vmlinux" ] && [ -f "$A" ] ||
	die "no $KBI_IMAGE, Image, vmlinux or archive in the copy"
readelf -h "$W/vmlinux" | grep -q 'Machine: *AArch64' ||
	die "vmlinux is not an arm64 ELF: $(readelf -h "$W/vmlinux" | grep Machine:)"

# The archive as linked into vmlinux: between the markers, in .rodata.
kbi_t_rodata

# What the guest must see, computed here.
kbi_t_expect || die "host tar"

if [ -z "$san" ]; then
	if base=$(bba_initramfs arm64 "$TOP/tests/boot/init-builtin"); then
		kbi_t_boot "$base" "arm64 (qemu -M virt -cpu cortex-a57, "
	else
		bad "arm64 initramfs"
	fi
else
	ok "SAN=1: boot left out (it tests the kernel, not the binary; the plain suite boots it)"
fi

kbi_t_extract_tar
for src in vmlinux arch/arm64/boot/Image "$KBI_IMAGE"; do
	d=$T/x-${src##*/}
	if "$K" extract -v "$W/$src" "$d" 2>"$T/err" && kbi_t_same_tree "$d" "$T/x-tar"; then
		ok "extract from ${src##*/} = extract of the .tar.xz ($(grep -o 'found by [^,]*' "$T/err" | head -n 1))"
	else
		bad "extract from $src: $(cat "$T/err")"
	fi
done

kbi_t_verify 0 '' "$A" && ok "verify --rebuild --arch arm64: Kbuild's archive matches its tree" ||
	bad "verify --rebuild of the archive"
kbi_t_verify 0 '' "$IMG" && ok "verify --rebuild --arch arm64 Image.gz: matches its tree" ||
	bad "verify --rebuild of Image.gz"

# A header edit, no rebuild.
kbi_t_edit "$EDIT"
kbi_t_verify 1 "$EDIT" "$IMG" && ok "after editing $EDIT: verify of Image.gz names it, exit 1" ||
	bad "verify of Image.gz after an edit"
kbi_t_untouched "$EDIT"
exit $fail
