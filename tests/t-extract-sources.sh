#!/bin/bash
# `kheaders extract` takes the archive out of every kind of source and
# unpacks the same tree GNU tar does (names, types, modes, sizes,
# mtimes, link targets, contents):
#   - the .tar.xz itself, and standard input;
#   - kheaders.ko built by kernel/Makefile against Debian's 6.1 headers,
#     and the same module xz-compressed (.ko.xz), as distributions ship;
#     rebuilt around a new archive, and not rebuilt when nothing changed;
#   - a program linked from the stub and a C main (ELF symbols), the
#     same program stripped (markers), and its raw bytes (objcopy -O
#     binary: an uncompressed, non-ELF image);
#   - ELF32 and ELF64, little and big endian, relocatable and linked,
#     with and without a symbol size (tests/lib/mkelf.py);
#   - Debian's real vmlinux (decompressed from its vmlinuz) with the
#     archive added as a section: markers found in 60 MB of kernel;
#     the vmlinuz itself is refused with a hint.
# And it refuses: an existing DIR, a file without an archive.
set -u
. "$TOP/tests/lib/boot.sh"
T=$TEST_TMP
cd "$T"
fail=0
bad() { echo "FAIL $*"; fail=1; }

"$KHEADERS" gen -q --no-state --srctree "$TOP/golden/sample/src" \
	--objtree "$TOP/golden/sample/obj" --arch x86 --mtime @1700000000 \
	-o a.tar.xz --stub stub.S --incbin a.tar.xz || { echo "FAIL gen"; exit 1; }
mkdir ref && tar -xJf a.tar.xz -C ref || { echo "FAIL GNU tar"; exit 1; }

# Everything but atime/ctime, and every file's content.
listing() {
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
}
listing ref > ref.list

# expect_tree NAME HOW SOURCE: extract SOURCE, compare with ref, and
# check -v says the archive was found by HOW.
n=0
expect_tree() {
	local name=$1 how=$2 src=$3 out
	n=$((n + 1))
	out=out.$n
	if ! "$KHEADERS" extract -v "$src" "$out" 2> "$out.err"; then
		bad "$name: extract failed: $(cat "$out.err")"
		return
	fi
	grep -q "archive found by $how" "$out.err" ||
		bad "$name: not found by $how: $(head -n 1 "$out.err")"
	listing "$out" > "$out.list"
	cmp -s ref.list "$out.list" ||
		{ bad "$name: tree differs from GNU tar's"; diff ref.list "$out.list" | head -n 10; }
	[ -z "$(ls -A | grep '\.kheaders-')" ] || bad "$name: a temporary directory was left"
	echo "ok  $name"
}

expect_tree "tar.xz" "the whole file" a.tar.xz
n=$((n + 1))
"$KHEADERS" extract - out.$n < a.tar.xz && listing out.$n | cmp -s ref.list - &&
	echo "ok  standard input" || bad "standard input"

# kheaders.ko, built the way users build it.
if kb_kernel; then
	make -s -C "$TOP/kernel" KDIR="$KB_KDIR" ARCHIVE="$T/a.tar.xz" \
		MODBUILD="$T/mod" KO="$T/kheaders.ko" > make.log 2>&1 ||
		{ cat make.log; bad "module build"; }
	expect_tree "kheaders.ko" "ELF symbols" kheaders.ko
	xz -k kheaders.ko
	expect_tree "kheaders.ko.xz" "ELF symbols" kheaders.ko.xz
	grep -q "in xz-compressed image" "out.$n.err" || bad "ko.xz: -v does not say compressed"
	# Nothing to do when nothing changed; a new archive (same stub text)
	# is reassembled in. ARCHIVE is relative to where make runs from.
	before=$(stat -c %Y.%s kheaders.ko)
	sleep 1
	make -s -C "$TOP/kernel" KDIR="$KB_KDIR" ARCHIVE=a.tar.xz \
		MODBUILD="$T/mod" KO="$T/kheaders.ko" > make.log 2>&1 || bad "module rebuild"
	[ "$(stat -c %Y.%s kheaders.ko)" = "$before" ] || bad "module rebuilt with nothing changed"
	"$KHEADERS" gen -q --no-state --srctree "$TOP/golden/sample/src" \
		--objtree "$TOP/golden/sample/obj" --arch x86 --mtime @1800000000 -o b.tar.xz
	make -s -C "$TOP/kernel" KDIR="$KB_KDIR" ARCHIVE=b.tar.xz \
		MODBUILD="$T/mod" KO="$T/kheaders.ko" > make.log 2>&1 || bad "module rebuild"
	"$KHEADERS" extract -v kheaders.ko out.b 2> err
	grep -q "archive sha256 $(sha256sum < b.tar.xz | cut -d' ' -f1)" err &&
		echo "ok  kheaders.ko rebuilt around a new archive" ||
		bad "module not rebuilt around the new archive: $(cat err)"
else
	bad "no Debian kernel headers for the module (scripts/deps boot)"
fi

# A program linked with the stub, as t-stub-link.sh builds it.
as -o stub.o stub.S
printf '%s\n' 'extern const char kernel_headers_data[];' \
	'int main(void) { return kernel_headers_data[0] != (char)0xfd; }' > main.c
cc -O2 -o prog main.c stub.o && ./prog || bad "stub program"
expect_tree "linked program" "ELF symbols" prog
strip -s -o prog.stripped prog
expect_tree "stripped program" "IKHD markers" prog.stripped
objcopy -O binary prog prog.bin
expect_tree "raw image" "IKHD markers" prog.bin
objcopy -O elf32-i386 stub.o stub32.o || bad "objcopy -O elf32-i386"
expect_tree "stub object as elf32-i386" "ELF symbols" stub32.o
# Both classes and byte orders, relocatable and linked, with and without
# a symbol size (upstream's asm() sets none).
for c in 32 64; do
	for o in le be; do
		python3 "$TOP/tests/lib/mkelf.py" $c $o rel 1 a.tar.xz rel$c$o.o &&
		python3 "$TOP/tests/lib/mkelf.py" $c $o exec 0 a.tar.xz exec$c$o ||
			bad "mkelf $c $o"
		expect_tree "ELF$c-$o relocatable" "ELF symbols" rel$c$o.o
		expect_tree "ELF$c-$o executable, unsized" "ELF symbols" exec$c$o
	done
done

# A real kernel: Debian's vmlinuz is an xz-compressed bzImage, built
# without CONFIG_IKHEADERS. Its payload is read now (issue 14), and the
# message says why there is no archive in it.
if [ -n "${KB_VMLINUZ:-}" ]; then
	n=$((n + 1))
	if "$KHEADERS" extract "$KB_VMLINUZ" out.$n 2> err; then
		bad "vmlinuz accepted"
	else
		grep -q 'no headers archive in .*vmlinuz: CONFIG_IKHEADERS was off' err ||
			bad "vmlinuz: unhelpful message: $(cat err)"
		[ ! -e out.$n ] || bad "vmlinuz: output left"
	fi
	python3 - "$KB_VMLINUZ" vmlinux <<'PY' || bad "cannot decompress $KB_VMLINUZ"
import lzma, sys
data = open(sys.argv[1], 'rb').read()
at = data.find(b'\xfd7zXZ\x00')
d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
open(sys.argv[2], 'wb').write(d.decompress(data[at:]))
PY
	{ printf IKHD_ST; cat a.tar.xz; printf IKHD_ED; } > blob.bin
	objcopy --add-section .kheaders=blob.bin \
		--set-section-flags .kheaders=alloc,readonly,data \
		vmlinux vmlinux.kh 2> objcopy.err ||
		bad "objcopy --add-section: $(cat objcopy.err)"
	echo "vmlinux: $(stat -c %s vmlinux.kh) bytes"
	expect_tree "Debian vmlinux + archive" "IKHD markers" vmlinux.kh
	n=$((n + 1))
	if "$KHEADERS" extract vmlinux out.$n 2> err; then
		bad "vmlinux without an archive accepted"
	else
		grep -q 'no headers archive in vmlinux: CONFIG_IKHEADERS was off' err || bad "vmlinux: message: $(cat err)"
	fi
fi

# DIR must be new; a planted symlink is not followed.
mkdir elsewhere
ln -s elsewhere planted
n=$((n + 1))
if "$KHEADERS" extract a.tar.xz planted 2> err; then
	bad "extracted over a planted symlink"
else
	grep -q 'planted: already exists' err || bad "planted: message: $(cat err)"
	[ -z "$(ls -A elsewhere)" ] || bad "wrote through the planted symlink"
fi
"$KHEADERS" extract a.tar.xz out.1 2> err && bad "extracted over an existing directory"
"$KHEADERS" extract /nonexistent out.x 2> err && bad "missing source accepted"
grep -q '/nonexistent: cannot open: No such file' err || bad "missing source: $(cat err)"
[ ! -e out.x ] || bad "output left for a missing source"

[ $fail = 0 ] && echo "every source kind gives GNU tar's tree"
exit $fail
