#!/bin/bash
# extract/kh_payload.c against the real compressors and a real kernel.
#
# Each compressor the kernel's Makefile.lib runs for a boot image
# (gzip -n -9, bzip2 -9, lzma -9, xz as scripts/xz_wrap.sh calls it,
# lzop -9, lz4 -l -9, zstd -22 --ultra), each from a pipe and with the
# uncompressed size appended as size_append does, in a synthetic
# bzImage, a synthetic zboot image and alone: the module gives the
# input back (tests/tools/kh-payload). A legacy lz4 file longer than
# one 8 MiB block too. Then Debian's own vmlinuz (linux-image-amd64, as
# t-boot fetches it): its bzImage payload comes out as an x86-64 ELF,
# the same bytes xz(1) makes of the payload the header names; cut
# short, it is refused with a message.
set -u
. "$TOP/tests/lib/boot.sh"
. "$TOP/tests/lib/images.sh"
T=$TEST_TMP
P=$KH_BUILD/tests/kh-payload
fail=0
bad() { echo "FAIL $*"; fail=1; }

[ -x "$P" ] || { echo "FAIL no $P (make unit)"; exit 1; }
for t in gzip bzip2 lzma xz lzop lz4 zstd python3; do
	command -v $t >/dev/null || { echo "FAIL $t missing (scripts/deps test)"; exit 1; }
done

# Known data: text around fake markers, and some noise.
{ echo IKHD_ST; seq 1 60000; head -c 100000 /dev/urandom; echo IKHD_ED; } > "$T/data"

# check NAME FILE WANT-WHERE WANT-COMP
check() {
	local out
	out=$("$P" "$2" "$T/got" 2>&1)
	if [ $? = 0 ] && [ "${out%% offset=*}" = "$3 $4" ] && cmp -s "$T/got.0" "$T/data"; then
		echo "ok   $1: $out"
	else
		bad "$1: $out"
	fi
	rm -f "$T/got".*
}

while read -r name zb cmd; do
	# The kernel compresses from a pipe, so no size in the headers.
	bash -c "$cmd" < "$T/data" > "$T/c.$name" || { bad "$cmd failed"; continue; }
	comp=$name
	cp "$T/c.$name" "$T/plain.$name"
	[ $name = gzip ] || size_le32 "$T/data" >> "$T/c.$name"
	wrap bzimage "$T/c.$name" "$T/bz.$name"
	wrap zboot "$T/c.$name" "$T/zb.$name" "$zb"
	check "$cmd, bzImage" "$T/bz.$name" "bzImage header" $comp
	check "$cmd, zboot '$zb'" "$T/zb.$name" "EFI zboot header" $comp
	check "$cmd, alone" "$T/plain.$name" "whole file" $comp
done <<'EOF'
gzip gzip gzip -n -f -9
bzip2 bzip2 bzip2 -9
lzma lzma lzma -9
xz xzkern xz --check=crc32 --x86 --lzma2=,dict=32MiB
lzo lzo lzop -9
lz4 lz4 lz4 -l -9 - -
zstd zstd zstd -22 --ultra
EOF

# More than one legacy lz4 block, and modules as Makefile.modinst
# compresses them.
{ cat "$T/data"; head -c 9000000 /dev/zero; cat "$T/data"; } > "$T/big"
lz4 -l -1 - - < "$T/big" > "$T/big.lz4"
out=$("$P" "$T/big.lz4" "$T/got") && cmp -s "$T/got.0" "$T/big" &&
	echo "ok   lz4 -l, 2 blocks: $out" || bad "lz4 -l, 2 blocks: $out"
rm -f "$T/got".*
for c in "xz --check=crc32 --lzma2=dict=1MiB" "zstd -T0" "gzip -n -f"; do
	$c < "$T/data" > "$T/m"
	out=$("$P" "$T/m" "$T/got") && cmp -s "$T/got.0" "$T/data" &&
		echo "ok   module as $c: $out" || bad "module as $c: $out"
	rm -f "$T/got".*
done

# Debian's vmlinuz: a real bzImage.
kb_kernel || { echo "FAIL cannot get Debian's kernel image"; exit 1; }
out=$("$P" "$KB_VMLINUZ" "$T/vmlinux")
rc=$?
case $out in
"bzImage header "*) ;;
*) rc=1 ;;
esac
[ $rc = 0 ] && [ "$(head -c 4 "$T/vmlinux.0" | od -An -c | tr -d ' ')" = '177ELF' ] &&
	[ "$(od -An -tu2 -j18 -N2 "$T/vmlinux.0" | tr -d ' ')" = 62 ] &&
	echo "ok   $KB_REL vmlinuz: $out, an x86-64 ELF" ||
	bad "$KB_REL vmlinuz: exit $rc: $out"
# The same bytes as xz(1) (or its kind) makes of what the header names.
read -r sects poff plen <<<"$(python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read(0x250)
print(b[0x1f1] or 4, *struct.unpack("<II", b[0x248:0x250]))' "$KB_VMLINUZ")"
comp=$(printf '%s\n' "$out" | awk '{print $3}')
case $comp in
gzip) dec="gzip -dc" ;; xz) dec="xz -dc --single-stream" ;;
zstd) dec="zstd -dc" ;; lzma) dec="xz -dc --format=lzma --single-stream" ;;
bzip2) dec="bzip2 -dc" ;; *) dec= ;;
esac
if [ -n "$dec" ]; then
	tail -c +$(( (sects + 1) * 512 + poff + 1 )) "$KB_VMLINUZ" | head -c "$plen" |
		$dec 2>/dev/null > "$T/ref"
	cmp -s "$T/ref" "$T/vmlinux.0" && echo "ok   the same bytes as '$dec'" ||
		bad "'$dec' of the header's payload differs"
else
	bad "no reference decompressor for '$comp'"
fi
# Cut short, the header lies: refused, and so is a cut payload.
head -c $(( $(stat -c %s "$KB_VMLINUZ") / 2 )) "$KB_VMLINUZ" > "$T/half"
out=$("$P" "$T/half")
[ $? = 1 ] && case $out in *"bzImage header lies"*) true ;; *) false ;; esac &&
	echo "ok   half a vmlinuz: $out" || bad "half a vmlinuz: $out"
python3 - "$KB_VMLINUZ" "$T/cut" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
plen = struct.unpack('<I', b[0x24c:0x250])[0]
b[0x24c:0x250] = struct.pack('<I', plen // 2)
open(sys.argv[2], 'wb').write(b)
EOF
out=$("$P" "$T/cut")
[ $? = 1 ] && case $out in *truncated*) true ;; *) false ;; esac &&
	echo "ok   a payload cut in half: $out" || bad "a payload cut in half: $out"
exit $fail
