#!/bin/bash
# A kernel with CONFIG_IKHEADERS=y built in, built by Kbuild through
# scripts/kbuild-install, booted, and its archive read back out of its
# images. Linux 7.3 for x86_64 from tinyconfig plus what booting needs
# (tests/lib/builtin.sh: cached by source, config and compiler; cpio,
# perl, tar and xz hidden from Kbuild). In a private copy of the cached
# tree, with this $KHEADERS:
#   - `make` redoes only what depends on kheaders (the archive,
#     kernel/kheaders.o, the link and the boot image), no hidden tool;
#   - booted under QEMU TCG with a busybox initramfs
#     (tests/boot/init-builtin): /sys/kernel/kheaders.tar.xz and
#     /proc/kheaders.tar.xz have the archive's SHA-256 and size, dd at
#     odd block sizes, skips and past the end gives the pieces the host's
#     dd gives, both refuse writes, busybox tar unpacks the tree the
#     host's GNU tar does, no BUG or WARNING in dmesg;
#   - `kheaders extract` from vmlinux and from bzImage gives the tree
#     extracting the .tar.xz gives; `kheaders verify --rebuild` of the
#     image against its tree matches, and after a header edit (no
#     rebuild) names that header, exit 1;
#   - bzImages with gzip, xz and zstd payloads, made by switching
#     CONFIG_KERNEL_* and `make bzImage` (tests/lib/builtin.sh
#     kbi_images; xz and zstd are visible to Kbuild for that step only:
#     they are its own compressors of the payload): each payload is the
#     one asked for; the switch recompiles nothing but the boot image's
#     objects and kernel/kheaders.o, whose archive changes in
#     include/generated/autoconf.h alone (the CONFIG_KERNEL_* define:
#     kheaders regenerates on config changes, unlike upstream's rules,
#     see README "The stale archive upstream leaves"); `kheaders
#     extract` from each bzImage equals its archive.
# Under SAN=1 (KH_BUILD ends in /san) the cached tree is used as built
# (no relink) and the boot is left out (it tests the kernel, not the
# binary); every host-side check runs with the sanitized binary.
set -u
. "$TOP/tests/lib/kernel-trees.sh"
. "$TOP/tests/lib/tree-copy.sh"
. "$TOP/tests/lib/boot.sh"
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

kbi_arch x86_64 || die "kbi_arch x86_64"
[ -n "$san" ] || command -v qemu-system-x86_64 >/dev/null ||
	die "no qemu-system-x86_64 (scripts/deps boot)"
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
A=$W/kernel/kheaders_data.tar.xz

# Redo what depends on kheaders, with this binary: without the archive
# (and its state) in the copy, make must regenerate it, recompile
# kernel/kheaders.o and relink, and nothing else.
if [ -z "$san" ]; then
	s=$(date +%s)
	rm -f "$W/kernel/kheaders_data.tar.xz" "$W/kernel/kheaders_data.tar.xz.state"
	o1=$(stat -c '%i %Y' "$W/kernel/kheaders.o")
	kbi_make "$W" "$T/relink.log" all || { tail -n 30 "$T/relink.log"; die "make in the copy"; }
	[ "$(grep -cE '^  GEN +kernel/kheaders_data.tar.xz$' "$T/relink.log")" = 1 ] &&
		[ "$(stat -c '%i %Y' "$W/kernel/kheaders.o")" != "$o1" ] ||
		bad "make in the copy: want one GEN of the archive and a new kheaders.o"
	! kbi_hidden_run "$T/relink.log" ||
		bad "relink: a hidden tool was run: $(grep 'was run$' "$T/relink.log" | sort -u | tr '\n' ' ')"
	# Compiled or assembled: only kheaders.o and what the link makes.
	other=$(grep -E '^  (CC|AS|HOSTCC|HOSTLD|CPP)  ' "$T/relink.log" |
		grep -vE ' (kernel/kheaders\.o|init/version-timestamp\.o|\.tmp_vmlinux.*|arch/x86/boot/.*)$')
	if [ -n "$other" ]; then
		bad "relink recompiled more than kheaders' part: $(echo "$other" | tr '\n' ' ')"
	else
		ok "make in the copy ($(($(date +%s) - s)) s): the archive, kheaders.o and the link redone, nothing else compiled, no hidden tool"
	fi
else
	echo "note: SAN=1: the cached tree's kernel is used as built (no relink with the sanitized binary)"
fi
[ -f "$IMG" ] && [ -f "$W/vmlinux" ] && [ -f "$A" ] || die "no $KBI_IMAGE, vmlinux or archive in the copy"

# The archive as linked into vmlinux: between the markers, in .rodata.
objcopy -O binary -j .rodata "$W/vmlinux" "$T/rodata.bin" &&
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
	local base rc n c
	base=$(kb_initramfs "$TOP/tests/boot/init-builtin") || { bad "initramfs"; return; }
	mkdir "$T/run" && cp "$T/expect" "$T/run/" &&
		( cd "$T/run" && find . -mindepth 1 | cpio --quiet -o -H newc -R 0:0 ) > "$T/run.cpio" &&
		cat "$base" "$T/run.cpio" > "$T/initrd.cpio" || { bad "initramfs for this run"; return; }
	s=$(date +%s)
	kbi_qemu "$IMG" "$T/initrd.cpio" "$T/serial.log" "$TIMEOUT" >"$T/qemu.log" 2>&1
	rc=$?
	echo "note: qemu: exit $rc after $(($(date +%s) - s)) s"
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
		ok "booted (TCG, $(($(date +%s) - s)) s): /sys and /proc serve the archive's bytes; $(echo $pieces | wc -w) dd pieces each; busybox tar unpacks it"
	fi
}
if [ -z "$san" ]; then
	boot
else
	echo "boot left out under SAN: it tests the kernel, not the binary (the plain suite boots it); the host-side checks below run with the sanitized binary"
fi

# Two trees are the same: names, types, link targets and file bytes.
same_tree() {   # a b
	[ "$(cd "$1" && find . -printf '%y %p %l\n' | LC_ALL=C sort)" = \
		"$(cd "$2" && find . -printf '%y %p %l\n' | LC_ALL=C sort)" ] &&
		diff -r --no-dereference "$1" "$2" >/dev/null
}

check() {   # label, then a command that returns 0 when the check holds
	local label=$1
	shift
	if "$@"; then ok "$label"; else bad "$label"; fi
}

"$K" extract "$A" "$T/x-tar" 2>"$T/err" || { cat "$T/err"; die "extract of the .tar.xz"; }
same_tree "$T/x-tar" "$T/ref" && ok "extract of the .tar.xz = GNU tar's tree" ||
	bad "extract of the .tar.xz differs from GNU tar's tree"
if "$K" extract "$W/vmlinux" "$T/x-vmlinux" 2>"$T/err" && same_tree "$T/x-vmlinux" "$T/x-tar"; then
	ok "extract from vmlinux = extract of the .tar.xz"
else
	bad "extract from vmlinux: $(cat "$T/err")"
fi
ex_image() {   # image, archive, dir
	"$K" extract "$1" "$3" 2>"$T/err" || { sed 's/^/     /' "$T/err"; return 1; }
	rm -rf "$3.ref" && "$K" extract "$2" "$3.ref" && same_tree "$3" "$3.ref"
}
check "extract from $KBI_IMAGE = extract of the .tar.xz" ex_image "$IMG" "$A" "$T/x-bz"

verify() {   # want-status, grep pattern or '', source
	local want=$1 pat=$2 rc
	"$K" verify --rebuild --srctree "$W" --objtree "$W" --arch x86 --mtime "$KBI_TS" "$3" \
		>"$T/v.out" 2>&1
	rc=$?
	[ $rc = "$want" ] && { [ -z "$pat" ] || grep -q -- "$pat" "$T/v.out"; } && return 0
	echo "     verify $3: exit $rc, want $want${pat:+ and '$pat'}:"; sed 's/^/     /' "$T/v.out" | head -n 20
	return 1
}
check "verify --rebuild $KBI_IMAGE: matches its tree" verify 0 '' "$IMG"

# A header edit, no rebuild: sed -i replaces the file, so the copy's
# hard link to the cache is broken, not written through.
sed -i '$a #define KH_BUILTIN_EDIT 1' "$W/$EDIT" || die "edit $EDIT"
[ "$(sha256sum < "$KBI_TREE/$EDIT")" = "$pristine" ] || die "the edit reached the cached tree's $EDIT"
check "after editing $EDIT: verify $KBI_IMAGE names it, exit 1" verify 1 "$EDIT" "$IMG"
grep -q KH_BUILTIN_EDIT "$KBI_TREE/$EDIT" && bad "the cached tree was edited" || ok "the cached tree is untouched"

s=$(date +%s)
kbi_images || die "no bzImages of each payload"
echo "note: payload images $KBI_IMAGES ($(($(date +%s) - s)) s to get)"

# The payloads: gzip is the tree's own; xz, zstd and gzip again were
# each made by switching CONFIG_KERNEL_* and `make bzImage`.
payload() {   # bzImage: print the payload's first bytes, hex
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[0x202:0x206] == b'HdrS', "no bzImage header"
setup = (d[0x1f1] or 4) + 1
off, = struct.unpack_from('<I', d, 0x248)
print(d[setup * 512 + off:setup * 512 + off + 6].hex())
PY
}
declare -A MAGIC=([gzip]=1f8b [xz]=fd377a585a00 [zstd]=28b52ffd)
first=${KBI_COMP%% *}
prev=$KBI_IMAGES/archive.$first
for c in ${KBI_COMP#"$first"} "$first"; do
	b=$KBI_IMAGES/bzImage.$c
	m=$(payload "$b") || { bad "bzImage.$c: not a bzImage"; continue; }
	case $m in "${MAGIC[$c]}"*) ok "bzImage.$c: Kbuild made a $c payload ($(stat -c %s "$b") bytes)" ;;
	*) bad "bzImage.$c: payload starts $m, not $c" ;; esac
	log=$KBI_IMAGES/make.$c.log
	! kbi_hidden_run "$log" || bad "bzImage.$c: a hidden tool was run"
	other=$(grep -E '^  (CC|AS|HOSTCC|CPP)  ' "$log" |
		grep -vE ' (kernel/kheaders\.o|init/version-timestamp\.o|\.tmp_vmlinux.*|arch/x86/boot/.*)$')
	[ -z "$other" ] || bad "switching to $c recompiled more than the boot image and kheaders.o: $(echo "$other" | tr '\n' ' ')"
	# kheaders.o is rebuilt because its archive holds autoconf.h, and
	# only that file changed.
	"$K" diff "$prev" "$KBI_IMAGES/archive.$c" > "$T/diff.$c" 2>&1
	if [ "$(head -n -1 "$T/diff.$c")" = "changed  ./include/generated/autoconf.h" ] &&
		[ "$(sed -n 1p "$KBI_IMAGES/kheaders.o.$c")" != "$(sed -n 2p "$KBI_IMAGES/kheaders.o.$c")" ] &&
		[ -z "$other" ]; then
		ok "CONFIG_KERNEL_${c^^}: only the boot image and kheaders.o redone; the archive changed in autoconf.h alone"
	else
		bad "CONFIG_KERNEL_${c^^}: want kheaders.o rebuilt for a change in autoconf.h alone; diff: $(cat "$T/diff.$c")"
	fi
	prev=$KBI_IMAGES/archive.$c
	check "extract from bzImage.$c = extract of its archive" \
		ex_image "$b" "$KBI_IMAGES/archive.$c" "$T/x-$c"
done
cmp -s "$KBI_IMAGES/archive.$first" "$KBI_TREE/kernel/kheaders_data.tar.xz" &&
	ok "back to $first: the archive is the tree's again, byte for byte" ||
	bad "back to $first: the archive differs from the tree's"
exit $fail
