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
. "$TOP/tests/lib/kernel-trees.sh"
. "$TOP/tests/lib/tree-copy.sh"
. "$TOP/tests/lib/busybox-arch.sh"
. "$TOP/tests/lib/builtin.sh"
T=$TEST_TMP
K=$KHEADERS
TIMEOUT=${KH_BOOT_TIMEOUT:-600}
fail=0
bad() { echo "FAIL $*"; fail=1; }
ok() { echo "ok   $*"; }
die() { echo "FAIL $*"; exit 1; }
san=
case $KH_BUILD in */san) san=1 ;; esac

kbi_arch arm64 || die "kbi_arch arm64"
[ -n "$san" ] || command -v qemu-system-aarch64 >/dev/null ||
	die "no qemu-system-aarch64 (scripts/deps boot: qemu-system-arm)"
s=$(date +%s)
kbi_tree || die "no built tree"
echo "note: built tree $KBI_TREE ($(($(date +%s) - s)) s to get)"

# The cache must stay pristine: a file the test edits in its copy.
EDIT=include/linux/kernel.h
pristine=$(sha256sum < "$KBI_TREE/$EDIT")

s=$(date +%s)
kbi_copy "$T/tree" || die "copy of $KBI_TREE"
echo "note: private copy in $(($(date +%s) - s)) s"
W=$T/tree
IMG=$W/$KBI_IMAGE
RAW=$W/arch/arm64/boot/Image
A=$W/kernel/kheaders_data.tar.xz

# Redo what depends on kheaders, with this binary.
if [ -z "$san" ]; then
	s=$(date +%s)
	kbi_make "$W" "$T/relink.log" all || { tail -n 30 "$T/relink.log"; die "make in the copy"; }
	! kbi_hidden_run "$T/relink.log" ||
		bad "relink: a hidden tool was run: $(grep 'was run$' "$T/relink.log" | sort -u | tr '\n' ' ')"
	# Compiled or assembled: only kheaders.o and what the link makes.
	other=$(grep -E '^  (CC|AS|HOSTCC|HOSTLD|CPP)  ' "$T/relink.log" |
		grep -vE ' (kernel/kheaders\.o|init/version-timestamp\.o|\.tmp_vmlinux.*|arch/arm64/boot/.*)$')
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
aarch64-linux-gnu-objcopy -O binary -j .rodata "$W/vmlinux" "$T/rodata.bin" &&
	python3 - "$T/rodata.bin" "$T/blob" <<'PY' || bad "no IKHD markers in vmlinux's .rodata"
import sys
d = open(sys.argv[1], 'rb').read()
s, e = d.find(b'IKHD_ST'), d.rfind(b'IKHD_ED')
assert s >= 0 and e > s, "markers not found"
open(sys.argv[2], 'wb').write(d[s + 7:e])
PY
cmp -s "$T/blob" "$A" && ok "vmlinux's .rodata holds the archive Kbuild built ($(stat -c %s "$A") bytes)" ||
	bad "the blob in vmlinux is not kernel/kheaders_data.tar.xz"

# What the guest must see, computed here.
mkdir "$T/ref" && tar -xJf "$A" -C "$T/ref" || die "host tar"
size=$(stat -c %s "$A")
pieces="1:0:1 1:4095:2 3:1365:3 511:7:9 1000:3:7 4093:1:2 4097:2:3 65537:1: 7:$((size / 7 - 3)): 4093:$((size / 4093)): 1:$((size - 1)):5 1:$size:1 13:$((size / 13 + 5)):2"
psha=
for p in $pieces; do
	bs=${p%%:*}; r=${p#*:}; skip=${r%%:*}; count=${r#*:}
	psha="$psha $(dd if="$A" iflag=fullblock bs="$bs" skip="$skip" ${count:+count=$count} 2>/dev/null |
		sha256sum | cut -d' ' -f1)"
done
nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
{
	echo "N=$nonce"
	echo "SHA=$(sha256sum < "$A" | cut -d' ' -f1)"
	echo "SIZE=$size"
	echo "PIECES='$pieces'"
	echo "PIECE_SHAS='${psha# }'"
	echo "LIST_SHA=$(cd "$T/ref" && find . | LC_ALL=C sort | sha256sum | cut -d' ' -f1)"
	echo "FILES_SHA=$(cd "$T/ref" && find . -type f | LC_ALL=C sort |
		xargs sha256sum | sha256sum | cut -d' ' -f1)"
} > "$T/expect"

boot() {
	local base rc n c want
	base=$(bba_initramfs arm64 "$TOP/tests/boot/init-builtin") || { bad "arm64 initramfs"; return; }
	mkdir "$T/run" && cp "$T/expect" "$T/run/" &&
		( cd "$T/run" && find . -mindepth 1 | cpio --quiet -o -H newc -R 0:0 ) > "$T/run.cpio" &&
		cat "$base" "$T/run.cpio" > "$T/initrd.cpio" || { bad "initramfs for this run"; return; }
	s=$(date +%s)
	kbi_qemu "$IMG" "$T/initrd.cpio" "$T/serial.log" "$TIMEOUT" >"$T/qemu.log" 2>&1
	rc=$?
	echo "note: qemu-system-aarch64: exit $rc after $(($(date +%s) - s)) s"
	tr -d '\r' < "$T/serial.log" > "$T/console"
	case $rc in
	0) ;;
	124|137) tail -n 30 "$T/console"; bad "boot timed out after ${TIMEOUT} s"; return ;;
	*) cat "$T/qemu.log"; tail -n 30 "$T/console"; bad "qemu exited $rc"; return ;;
	esac
	grep "^KHE2E $nonce " "$T/console" > "$T/report"
	sed 's/^/     guest: /' "$T/report"
	n=0
	grep -q "^KHE2E $nonce FAIL" "$T/report" && n=1
	grep -q "^KHE2E $nonce START 7\.3" "$T/report" ||
		{ echo "FAIL the guest did not start a 7.3 kernel"; n=1; }
	want="busybox-tar x1-list x1-files dmesg"
	for f in sys proc; do
		want="$want $f-sha256 $f-size $f-readonly"
		for i in $(seq 1 $(echo $pieces | wc -w)); do want="$want $f-dd-$i"; done
	done
	for c in $want; do
		grep -qx "KHE2E $nonce OK $c" "$T/report" || { echo "FAIL missing from the guest: $c"; n=1; }
	done
	grep -qx "KHE2E $nonce DONE" "$T/report" || { echo "FAIL no DONE from the guest"; n=1; }
	if [ $n != 0 ]; then
		fail=1
		echo "--- console (last 40 lines)"
		tail -n 40 "$T/console"
	else
		ok "booted arm64 (qemu -M virt -cpu cortex-a57, TCG, $(($(date +%s) - s)) s): /sys and /proc serve the archive's bytes; $(echo $pieces | wc -w) dd pieces each; busybox tar unpacks it"
	fi
}
if [ -z "$san" ]; then
	boot
else
	ok "SAN=1: boot left out (it tests the kernel, not the binary; the plain suite boots it)"
fi

# Two trees are the same: names, types, link targets and file bytes.
same_tree() {   # a b
	[ "$(cd "$1" && find . -printf '%y %p %l\n' | LC_ALL=C sort)" = \
		"$(cd "$2" && find . -printf '%y %p %l\n' | LC_ALL=C sort)" ] &&
		diff -r --no-dereference "$1" "$2" >/dev/null
}

"$K" extract "$A" "$T/x-tar" 2>"$T/err" || { cat "$T/err"; die "extract of the .tar.xz"; }
same_tree "$T/x-tar" "$T/ref" && ok "extract of the .tar.xz = GNU tar's tree" ||
	bad "extract of the .tar.xz differs from GNU tar's tree"
for src in vmlinux arch/arm64/boot/Image "$KBI_IMAGE"; do
	d=$T/x-${src##*/}
	if "$K" extract -v "$W/$src" "$d" 2>"$T/err" && same_tree "$d" "$T/x-tar"; then
		ok "extract from ${src##*/} = extract of the .tar.xz ($(grep -o 'found by [^,]*' "$T/err" | head -n 1))"
	else
		bad "extract from $src: $(cat "$T/err")"
	fi
done

verify() {   # want-status, grep pattern or '', source
	local want=$1 pat=$2 rc
	"$K" verify --rebuild --srctree "$W" --objtree "$W" --arch arm64 --mtime "$KBI_TS" "$3" \
		>"$T/v.out" 2>&1
	rc=$?
	[ $rc = "$want" ] && { [ -z "$pat" ] || grep -q -- "$pat" "$T/v.out"; } && return 0
	echo "     verify $3: exit $rc, want $want${pat:+ and '$pat'}:"; sed 's/^/     /' "$T/v.out" | head -n 20
	return 1
}
verify 0 '' "$A" && ok "verify --rebuild --arch arm64: Kbuild's archive matches its tree" ||
	bad "verify --rebuild of the archive"
verify 0 '' "$IMG" && ok "verify --rebuild --arch arm64 Image.gz: matches its tree" ||
	bad "verify --rebuild of Image.gz"

# A header edit, no rebuild: sed -i replaces the file, so the copy's
# hard link to the cache is broken, not written through.
sed -i '$a #define KH_BUILTIN_EDIT 1' "$W/$EDIT" || die "edit $EDIT"
[ "$(sha256sum < "$KBI_TREE/$EDIT")" = "$pristine" ] || die "the edit reached the cached tree's $EDIT"
verify 1 "$EDIT" "$IMG" && ok "after editing $EDIT: verify of Image.gz names it, exit 1" ||
	bad "verify of Image.gz after an edit"
grep -q KH_BUILTIN_EDIT "$KBI_TREE/$EDIT" && bad "the cached tree was edited" || ok "the cached tree is untouched"
exit $fail
