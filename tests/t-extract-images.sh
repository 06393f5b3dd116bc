#!/bin/bash
# extract reads the archive out of compressed kernel images (issue 14):
# an image holding the stub's markers around the archive (as a built-in
# kernel's .rodata does), compressed the way the kernel's Makefile.lib
# compresses a boot image, as a whole file (Image.gz, a .ko.zst), in a
# synthetic bzImage and in a synthetic EFI zboot image: each extracts
# to the same tree as the .tar.xz itself. Debian's own vmlinuz, built
# without CONFIG_IKHEADERS, is a real bzImage with no archive: refused
# with the reason. An image without markers: the same message.
# manifest, diff and verify read the same images. The payload decoders
# themselves are tested in test_payload and t-payload.
set -u
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/images.sh"
T=$TEST_TMP
K=$KHEADERS
fail=0
bad() { echo "FAIL $*"; fail=1; }
cd "$T" || exit 1

A=$TOP/golden/sample/expected/kheaders_data-intree.tar.xz
mkdir ref && "$K" extract "$A" ref/t || { echo "FAIL extracting the .tar.xz itself"; exit 1; }
# A kernel image's worth of compressible text around the markers, so
# that every compressor really transforms them.
{ seq 1 40000; printf IKHD_ST; cat "$A"; printf IKHD_ED; seq 1 20000; } > img
{ seq 1 60000; } > plain

# one NAME FILE: extract FILE; the tree must equal the reference.
one() {
	rm -rf "x-$1"
	if ! "$K" extract -v "$2" "x-$1" 2>"$1.err"; then
		bad "$1: $(cat "$1.err")"; return
	fi
	if diff -r --no-dereference ref/t "x-$1" >/dev/null; then
		echo "ok   $1: $(head -n 1 "$1.err" | sed 's/^kheaders extract: //')"
	else
		bad "$1: the extracted tree differs from the .tar.xz's"
	fi
}

declare -A C=(
	[gzip]="gzip -n -f -9"
	[bzip2]="bzip2 -9"
	[lzma]="lzma -9"
	[xz]="xz --check=crc32 --x86 --lzma2=,dict=32MiB"
	[lzo]="lzop -9"
	[lz4]="lz4 -l -9"
	[zstd]="zstd -q -19"
)
for c in gzip bzip2 lzma xz lzo lz4 zstd; do
	${C[$c]} < img > "img.$c" || { bad "$c failed"; continue; }
	one "$c whole file" "img.$c"
	wrap bzimage "img.$c" "bz.$c"
	one "$c bzImage" "bz.$c"
done
# Makefile.zboot appends the size to every payload but gzip's.
for c in gzip zstd; do
	{ cat "img.$c"; [ $c = gzip ] || size_le32 img; } > "zp.$c"
	wrap zboot "zp.$c" "zb.$c" "$c"
	one "$c EFI zboot" "zb.$c"
done

# manifest, verify and diff read the same sources (extract/kh_source):
# the archive in a compressed image is the .tar.xz's, byte for byte.
"$K" manifest "$A" > want.mtree || bad "manifest of the .tar.xz"
for f in bz.gzip bz.zstd zb.gzip img.xz img.lz4; do
	if ! "$K" manifest "$f" > got.mtree 2>got.err; then
		bad "manifest $f: $(cat got.err)"
	elif ! cmp -s want.mtree got.mtree; then
		bad "manifest $f differs from the .tar.xz's"
	elif ! "$K" diff -q "$f" "$A" 2>got.err; then
		bad "diff $f .tar.xz: exit $?: $(cat got.err)"
	elif ! "$K" verify -q --manifest want.mtree "$f" 2>got.err; then
		bad "verify --manifest of $f: exit $?: $(cat got.err)"
	else
		echo "ok   $f: manifest, diff and verify see the .tar.xz's archive"
	fi
done

# No archive: said so, with the reason, exit 1.
gzip -9 < plain > plain.gz
"$K" extract plain.gz x-none 2>none.err; rc=$?
[ $rc = 1 ] && grep -q "no headers archive" none.err && [ ! -e x-none ] &&
	echo "ok   no archive in a compressed file: $(cat none.err)" ||
	bad "no archive: exit $rc: $(cat none.err)"
kb_kernel || { echo "FAIL cannot get Debian's kernel image"; exit 1; }
"$K" extract "$KB_VMLINUZ" x-deb 2>deb.err; rc=$?
[ $rc = 1 ] && grep -q "no headers archive in .*: CONFIG_IKHEADERS was off" deb.err &&
	[ ! -e x-deb ] && echo "ok   Debian $KB_REL vmlinuz: $(cat deb.err)" ||
	bad "Debian's vmlinuz: exit $rc: $(cat deb.err)"
exit $fail
