#!/bin/bash
# Block mode (parallel, cached xz blocks) on a generated tree big enough
# for a few dozen blocks at --xz-block-size 64K:
#   - the same bytes for --threads 1, 2 and 8, each with a cold cache and
#     with a warm one (and with no cache at all);
#   - every standard decoder reads it (xz -t, xz, GNU tar, bsdtar,
#     Python's lzma, busybox xz) and finds the same tar as --xz-single;
#   - after one header is edited, one is added or a cache entry is
#     damaged, only a block or two is compressed again and the result is
#     what a cold build of the same tree gives;
#   - the cache stays within --cache-size; changing the block size or
#     the mode rebuilds; the default cache sits beside the state.
set -u
T=$TEST_TMP
K=$KHEADERS
S=$TOP/golden/sample
fail=0
bad() { echo "FAIL $*"; fail=1; }
ok() { echo "ok   $*"; }

# The golden sample plus 300 generated headers of C-like text with
# comments (about 1.8 MB of tar), deterministic.
mk_tree() {   # dir
	cp -a "$S/src" "$1"
	awk -v dir="$1/include/gen" 'BEGIN {
		srand(7); system("mkdir -p " dir);
		for (f = 0; f < 300; f++) {
			out = sprintf("%s/h%03d.h", dir, f);
			printf("/* SPDX-License-Identifier: GPL-2.0 */\n#ifndef H%03d\n", f) > out;
			n = 40 + int(rand() * 120);
			for (l = 0; l < n; l++) {
				r = rand();
				if (r < 0.2)
					printf("/* comment %d about field %d */\n", l, int(rand() * 1000)) > out;
				else if (r < 0.6)
					printf("#define GEN_%03d_%d 0x%08x\n", f, l, int(rand() * 2147483647)) > out;
				else
					printf("struct s%03d_%d { int a%d; long b%d; char name[%d]; };\n",
					       f, l, int(rand() * 99), int(rand() * 99), int(rand() * 64)) > out;
			}
			printf("#endif\n") > out;
			close(out);
		}
	}'
}
mk_tree "$T/src"
G=(gen -q --srctree "$T/src" --objtree "$T/src" --arch x86 --mtime @1700000000)
B=(--xz-block-size 64K)

# Reference: the single stream, and its tar.
"$K" "${G[@]}" --no-state --xz-single -o "$T/single.tar.xz" || bad "--xz-single failed"
xz -dc "$T/single.tar.xz" > "$T/single.tar"
echo "tree: $(stat -c %s "$T/single.tar") bytes of tar"

# Threads and cache state never change the bytes.
"$K" "${G[@]}" --no-state "${B[@]}" -j 1 -o "$T/ref.tar.xz" || bad "block mode failed"
same() {   # label file
	if cmp -s "$T/ref.tar.xz" "$2"; then ok "$1: same bytes"; else bad "$1: bytes differ"; fi
}
for j in 1 2 8; do
	"$K" "${G[@]}" --no-state "${B[@]}" -j $j --no-cache -o "$T/nc$j.tar.xz"
	same "--threads $j, no cache" "$T/nc$j.tar.xz"
	"$K" "${G[@]}" -v --no-state "${B[@]}" -j $j --cache "$T/cache$j" -o "$T/cold$j.tar.xz" 2> "$T/cold$j.log"
	same "--threads $j, cold cache" "$T/cold$j.tar.xz"
	grep -q ', 0 from the cache' "$T/cold$j.log" || bad "--threads $j: cold cache was not cold: $(grep blocks "$T/cold$j.log")"
	"$K" "${G[@]}" -v --no-state "${B[@]}" -j $j --cache "$T/cache$j" -o "$T/warm$j.tar.xz" 2> "$T/warm$j.log"
	same "--threads $j, warm cache" "$T/warm$j.tar.xz"
	grep -q ' 0 compressed$' "$T/warm$j.log" || bad "--threads $j: warm cache compressed: $(grep blocks "$T/warm$j.log")"
done
# A cache filled with one thread count serves another.
"$K" "${G[@]}" -v --no-state "${B[@]}" -j 2 --cache "$T/cache8" -o "$T/x.tar.xz" 2> "$T/x.log"
same "--threads 2 on the cache of --threads 8" "$T/x.tar.xz"
nblocks=$(sed -n 's/.*kheaders gen: \([0-9]*\) xz blocks.*/\1/p' "$T/cold1.log")
[ "${nblocks:-0}" -ge 10 ] && ok "$nblocks blocks" || bad "only '${nblocks:-?}' blocks: the test proves little"

# Every decoder reads it and finds upstream's tar.
a=$T/ref.tar.xz
xz -t "$a" && ok "xz -t" || bad "xz -t"
xz -dc "$a" | cmp -s - "$T/single.tar" && ok "xz -d: the tar of --xz-single" || bad "xz -d: other tar"
[ "$(xz -lvv "$a" | awk '/^  Streams:/ { print $2; exit }')" = 1 ] && ok "one stream" || bad "not one stream"
tar -tJf "$a" > "$T/gnu.lst" && tar -tf "$T/single.tar" | cmp -s - "$T/gnu.lst" && ok "GNU tar" || bad "GNU tar"
bsdtar -tf "$a" > "$T/bsd.lst" && cmp -s "$T/gnu.lst" "$T/bsd.lst" && ok "bsdtar" || bad "bsdtar"
python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.decompress(open(sys.argv[1], "rb").read()))' "$a" |
	cmp -s - "$T/single.tar" && ok "python lzma" || bad "python lzma"
if command -v busybox > /dev/null; then
	busybox xz -dc "$a" | cmp -s - "$T/single.tar" && ok "busybox xz" || bad "busybox xz"
fi

# Edits: one header changed, one added. Few blocks compressed again, and
# the archive is the one a cold build of the edited tree makes.
edit_case() {   # label, max blocks compressed, command to change $T/src
	local label=$1 max=$2
	shift 2
	"$@"
	"$K" "${G[@]}" -v --no-state "${B[@]}" --cache "$T/cache1" -o "$T/e.tar.xz" 2> "$T/e.log"
	"$K" "${G[@]}" --no-state "${B[@]}" --no-cache -o "$T/e-cold.tar.xz"
	local n
	n=$(sed -n 's/.*, \([0-9]*\) compressed$/\1/p' "$T/e.log")
	if ! cmp -s "$T/e.tar.xz" "$T/e-cold.tar.xz"; then
		bad "$label: warm build differs from a cold one"
	elif [ -z "$n" ] || [ "$n" -gt "$max" ]; then
		bad "$label: ${n:-?} blocks compressed again (at most $max wanted)"
	else
		ok "$label: $n of $nblocks blocks compressed again, same bytes as cold"
	fi
}
edit_case "one header edited" 1 sed -i 's/0x/0X/' "$T/src/include/gen/h150.h"
edit_case "one header added" 3 cp "$T/src/include/gen/h010.h" "$T/src/include/gen/h150a.h"
edit_case "one header removed" 3 rm "$T/src/include/gen/h220.h"

# A damaged entry is never used: flip a byte in the middle of each.
for f in "$T"/cache1/*.xzb; do
	printf '\377' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc status=none
done
"$K" "${G[@]}" -v --no-state "${B[@]}" --cache "$T/cache1" -o "$T/c.tar.xz" 2> "$T/c.log"
if cmp -s "$T/c.tar.xz" "$T/e-cold.tar.xz" && grep -q ', 0 from the cache' "$T/c.log"; then
	ok "damaged cache entries ignored: $(grep -o '[0-9]* xz blocks.*' "$T/c.log")"
else
	bad "damaged cache entries: $(grep blocks "$T/c.log")"
fi

# The bound holds, and a bounded cache still gives the same bytes.
"$K" "${G[@]}" --no-state "${B[@]}" --cache "$T/small" --cache-size 100K -o "$T/s.tar.xz"
cmp -s "$T/s.tar.xz" "$T/e-cold.tar.xz" || bad "bounded cache changed the bytes"
used=$(cat "$T"/small/*.xzb 2>/dev/null | wc -c)
[ "$used" -le 102400 ] && [ "$used" -gt 0 ] && ok "--cache-size 100K: $used bytes kept" || bad "--cache-size 100K: $used bytes kept"

# With a state, the cache sits beside it by default; options that change
# the bytes are recorded and rebuild.
D=$T/out
mkdir -p "$D"
run() { "$K" "${G[@]}" -v "$@" -o "$D/k.tar.xz" 2> "$T/r.log"; }
run "${B[@]}"
[ -d "$D/k.tar.xz.cache" ] && ok "default cache: k.tar.xz.cache" || bad "no default cache beside the state"
grep -q '^option xz=.*blocks=65536' "$D/k.tar.xz.state" && ok "state records the block size" || bad "state lacks the block size"
run "${B[@]}"
grep -q 'rebuilt' "$T/r.log" && bad "rebuilt with nothing changed"
run --xz-block-size 128K
grep -q 'rebuilt because option xz=.*blocks=131072' "$T/r.log" && ok "new block size rebuilds" || bad "new block size: $(cat "$T/r.log")"
run --xz-single
grep -q 'rebuilt because option xz=preset6,crc64,single-stream' "$T/r.log" && ok "--xz-single rebuilds" || bad "--xz-single: $(cat "$T/r.log")"
cmp -s "$D/k.tar.xz" "$T/e-cold.tar.xz" && bad "--xz-single wrote blocks"
rm -rf "$D"/*
run --no-cache "${B[@]}"
[ ! -e "$D/k.tar.xz.cache" ] && ok "--no-cache leaves no cache" || bad "--no-cache made a cache"
exit $fail
