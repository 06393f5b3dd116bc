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
#   - bzImages with the gzip, xz and zstd payloads made by Kbuild: gzip is
#     the tree's own, xz and zstd made by switching CONFIG_KERNEL_* and
#     `make bzImage` (tests/lib/builtin.sh kbi_images; xz is visible to
#     Kbuild for that step only: it is its own compressor of the
#     payload): each payload is the one asked for (its magic); the
#     switch recompiles nothing but the boot image's objects and
#     kernel/kheaders.o, whose archive changes in
#     include/generated/autoconf.h alone (the CONFIG_KERNEL_* define:
#     kheaders regenerates on config changes, unlike upstream's rules,
#     see README "The stale archive upstream leaves"); `kheaders
#     extract` from each bzImage equals its archive;
#   - the four other payloads the kernel offers (bzip2, lzma, lzo, lz4)
#     made by Kbuild's own compressor commands (kbi_compress, checked
#     against the tree's scripts/Makefile.lib) from the tree's
#     arch/x86/boot/compressed/vmlinux.bin, the payload's input: each,
#     alone and in a bzImage header, read by `kheaders extract` (the
#     source layer every subcommand reads through, kh_source).
# Under SAN=1 (KH_BUILD ends in /san) the cached tree is used as built
# (no relink) and the boot is left out (it tests the kernel, not the
# binary); every host-side check runs with the sanitized binary.
set -u
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/builtin.sh"
bad() { echo "FAIL $*"; fail=1; }
ok() { echo "ok   $*"; }
die() { echo "FAIL $*"; exit 1; }
kbi_t_start x86_64 "scripts/deps boot"
# The cache must stay pristine: a file the test edits in its copy.
EDIT=include/linux/kernel.h

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
	kbi_t_relink_hidden
	# Compiled or assembled: only kheaders.o and what the link makes.
	other=$(kbi_t_others "$T/relink.log")
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
kbi_t_rodata

# What the guest must see, computed here.
kbi_t_expect || die "host tar"

if [ -z "$san" ]; then
	if base=$(kb_initramfs "$TOP/tests/boot/init-builtin"); then
		kbi_t_boot "$base" "("
	else
		bad "initramfs"
	fi
else
	echo "boot left out under SAN: it tests the kernel, not the binary (the plain suite boots it); the host-side checks below run with the sanitized binary"
fi

check() {   # label, then a command that returns 0 when the check holds
	local label=$1
	shift
	if "$@"; then ok "$label"; else bad "$label"; fi
}

kbi_t_extract_tar
if "$K" extract "$W/vmlinux" "$T/x-vmlinux" 2>"$T/err" && kbi_t_same_tree "$T/x-vmlinux" "$T/x-tar"; then
	ok "extract from vmlinux = extract of the .tar.xz"
else
	bad "extract from vmlinux: $(cat "$T/err")"
fi
ex_image() {   # image, archive, dir
	"$K" extract "$1" "$3" 2>"$T/err" || { sed 's/^/     /' "$T/err"; return 1; }
	rm -rf "$3.ref" && "$K" extract "$2" "$3.ref" && kbi_t_same_tree "$3" "$3.ref"
}
check "extract from $KBI_IMAGE = extract of the .tar.xz" ex_image "$IMG" "$A" "$T/x-bz"

check "verify --rebuild $KBI_IMAGE: matches its tree" kbi_t_verify 0 '' "$IMG"

# A header edit, no rebuild.
kbi_t_edit "$EDIT"
check "after editing $EDIT: verify $KBI_IMAGE names it, exit 1" kbi_t_verify 1 "$EDIT" "$IMG"
kbi_t_untouched "$EDIT"

s=$(date +%s)
kbi_images || die "no bzImages of each payload"
echo "note: payload images $KBI_IMAGES ($(($(date +%s) - s)) s to get)"

# The payloads: gzip is the tree's own; xz and zstd were each made by
# switching CONFIG_KERNEL_* and `make bzImage`, in that order.
payload() {   # bzImage: print the payload's first bytes, hex
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[0x202:0x206] == b'HdrS', "no bzImage header"
setup = (d[0x1f1] or 4) + 1
off, = struct.unpack_from('<I', d, 0x248)
print(d[setup * 512 + off:setup * 512 + off + 9].hex())
PY
}
# The magic of each compressor's output as Kbuild runs it (bzip2 -9,
# lzma -9: 64 MiB dictionary, lzop, lz4 -l: the legacy frame).
declare -A MAGIC=([gzip]=1f8b [bzip2]=425a6839 [lzma]=5d00000004 [xz]=fd377a585a00
	[lzo]=894c5a4f000d0a1a0a [lz4]=02214c18 [zstd]=28b52ffd)
first=${KBI_COMP%% *}
magic_ok() {   # bzImage, payload
	local m
	m=$(payload "$1") || { bad "${1##*/}: not a bzImage"; return 1; }
	case $m in "${MAGIC[$2]}"*) return 0 ;; esac
	bad "${1##*/}: payload starts $m, not $2"
	return 1
}
if magic_ok "$KBI_IMAGES/bzImage.$first" "$first"; then
	cmp -s "$KBI_IMAGES/archive.$first" "$KBI_TREE/kernel/kheaders_data.tar.xz" &&
		ok "bzImage.$first: the tree's own, a $first payload, with the tree's archive" ||
		bad "archive.$first is not the tree's kernel/kheaders_data.tar.xz"
fi
check "extract from bzImage.$first = extract of its archive" \
	ex_image "$KBI_IMAGES/bzImage.$first" "$KBI_IMAGES/archive.$first" "$T/x-$first"
prev=$KBI_IMAGES/archive.$first
for c in ${KBI_COMP#"$first"}; do
	b=$KBI_IMAGES/bzImage.$c
	magic_ok "$b" "$c" && ok "bzImage.$c: Kbuild made a $c payload ($(stat -c %s "$b") bytes)"
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

# The other four payloads, from the kernel's own compressor commands on
# the payload's input. vmlinux.bin alone is that input (no
# vmlinux.relocs on x86_64): the tree's gzip payload decompresses to it.
VB=$KBI_TREE/arch/x86/boot/compressed/vmlinux.bin
if gzip -dc "${VB}.gz" 2>/dev/null | cmp -s - "$VB"; then
	ok "vmlinux.bin is the whole input of the tree's own payload (vmlinux.bin.gz)"
else
	bad "vmlinux.bin.gz does not decompress to vmlinux.bin: the payload's input is something else"
fi
for c in $KBI_COMP_CMD; do
	p=$T/vmlinux.bin.$c
	kbi_compress "$c" "$VB" "$p" || { bad "$c: the kernel's compressor command"; continue; }
	wrap bzimage "$p" "$T/bzImage-synthetic.$c"
	m=$(od -An -tx1 -N9 "$p" | tr -d ' \n')
	case $m in "${MAGIC[$c]}"*) ;; *) bad "vmlinux.bin.$c starts $m, not $c"; continue ;; esac
	check "extract from vmlinux.bin.$c (Kbuild's $c command, $(stat -c %s "$p") bytes) = extract of the tree's .tar.xz" \
		ex_image "$p" "$KBI_TREE/kernel/kheaders_data.tar.xz" "$T/x-cmd-$c"
	check "extract from a bzImage header around vmlinux.bin.$c = extract of the tree's .tar.xz" \
		ex_image "$T/bzImage-synthetic.$c" "$KBI_TREE/kernel/kheaders_data.tar.xz" "$T/x-wrap-$c"
done
exit $fail
