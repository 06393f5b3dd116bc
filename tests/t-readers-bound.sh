#!/bin/bash
# The manifest layer's readers on hostile input: every read has a limit
# that is checked before the memory is spent, and says which.
#   - manifest, diff and verify on /dev/zero (a device: refused at
#     once) and on an endless pipe: refused, naming the limit, in
#     bounded memory;
#   - a .tar.xz bomb (170 KB of xz, over 1 GiB of tar): refused, naming
#     the decompressed limit;
#   - nested relative mtree directories: 20,000 nested lines are
#     refused at the path limit in bounded memory (they took 490 MB),
#     20,000 lines nested 100 deep are read;
#   - diff -u with a 9 KiB name (was "out of memory");
#   - diff -u of 160,000 distinct lines against 160,000 others: the
#     capped search finishes (timeout 60 s; the uncapped one took
#     minutes) and patch(1) turns one file into the other;
#   - two archives whose one file differs only in its holes (sparse):
#     refused, not called the same.
# Memory is bounded with ulimit -v and measured (peak RSS) on plain
# builds; sanitizer builds reserve address space, so there only the
# messages and statuses are checked.
set -u
T=$TEST_TMP
K=$KHEADERS
fail=0
. "$TOP/tests/lib/robust.sh"

# CMD under a virtual memory limit (KB), when that means something.
capped() {   # KB CMD...
	local kb=$1
	shift
	if [ -z "${KH_SAN:-}" ]; then
		( ulimit -v "$kb"; exec "$@" )
	else
		"$@"
	fi
}

# Peak RSS of CMD (MiB), run under ulimit -v KB, within BOUND; a plain
# build only.
rss_under() {   # BOUND WHAT KB CMD...
	local bound=$1 what=$2 kb=$3 mb
	shift 3
	[ -n "${KH_SAN:-}" ] && return 0
	rb_maxrss_mb "$T/rss" bash -c 'ulimit -v "$0"; exec "$@"' "$kb" \
		"$@" >/dev/null 2>&1
	mb=$(cat "$T/rss")
	if [ "$mb" -le "$bound" ]; then
		rb_ok "$what: peak RSS $mb MiB (bound $bound)"
	else
		rb_bad "$what: peak RSS $mb MiB, over $bound"
	fi
}

S=$TOP/golden/sample/expected/kheaders_data.tar.xz
M=$TOP/golden/sample/expected/kheaders_data.mtree

# ---- whole-input limits ----
# Every source is read one way (extract/kh_source, kh_image's rules): a
# device is refused at once, named or on standard input (an archive is
# never one); a pipe is read up to the archive's limit; a manifest is
# held to its own.
rb_expect 1 "/dev/zero: is a device, not a file; refusing to read it" \
	capped 900000 "$K" manifest /dev/zero
rb_expect 1 "standard input: is a device, not a file; refusing to read it" \
	capped 900000 sh -c '"$0" manifest - </dev/zero' "$K"
rb_expect 1 "standard input: over the 256 MiB limit for a source read from a pipe" \
	capped 900000 sh -c 'cat /dev/zero | "$0" manifest -' "$K"
rb_expect 2 "/dev/zero: is a device, not a file; refusing to read it" \
	capped 900000 "$K" diff /dev/zero "$S"
rb_expect 2 "standard input: over the 256 MiB limit for a source read from a pipe" \
	capped 900000 sh -c 'cat /dev/zero | "$0" diff - "$1"' "$K" "$S"
rb_expect 2 "over the 256 MiB limit for a manifest" \
	capped 900000 "$K" verify --manifest /dev/zero "$S"
rb_expect 2 "/dev/zero: is a device, not a file; refusing to read it" \
	capped 900000 "$K" verify --manifest "$M" /dev/zero
rss_under 400 "manifest of an endless pipe" 900000 sh -c 'cat /dev/zero | "$0" manifest -' "$K"

# ---- a decompression bomb: concatenated xz streams of zeros ----
head -c $((64 << 20)) /dev/zero | xz -0 -T1 >"$T/z.xz"
for i in $(seq 17); do cat "$T/z.xz"; done >"$T/bomb.tar.xz"
rb_expect 1 "decompresses to over the 1 GiB limit for a tar" \
	capped 1800000 "$K" manifest "$T/bomb.tar.xz"
rss_under 1200 "the bomb" 1800000 "$K" manifest "$T/bomb.tar.xz"

# ---- nested relative mtree directories ----
mtree_nested() {   # LINES DEPTH: relative dirs, DEPTH deep, then back up
	awk -v n="$1" -v depth="$2" 'BEGIN {
		print "#mtree"; print "/set type=dir mode=0755 uid=0 gid=0"
		d = 0; c = 0
		while (c < n) {
			if (d < depth) { printf("d%d\n", c); d++; c++ }
			else { while (d > 0) { print ".."; d-- } }
		}
	}'
}
mtree_nested 20000 20000 >"$T/deep.mtree"
rb_expect 2 "over the 4 KiB limit (directories nested too deep)" \
	capped 400000 "$K" diff "$T/deep.mtree" "$T/deep.mtree"
rss_under 64 "20,000 nested relative directories" 400000 \
	"$K" diff "$T/deep.mtree" "$T/deep.mtree"
mtree_nested 20000 100 >"$T/wide.mtree"
rb_expect 0 "0 added, 0 removed, 0 changed" \
	capped 400000 "$K" diff "$T/wide.mtree" "$T/wide.mtree"
printf '#mtree\n' >"$T/empty.mtree"
if [ "$("$K" diff "$T/empty.mtree" "$T/wide.mtree" | grep -c '^added')" = 20000 ]; then
	rb_ok "20,000 relative directories 100 deep: every one read"
else
	rb_bad "20,000 relative directories 100 deep: not all read"
fi

# ---- diff -u: long names, many distinct lines ----
python3 - "$T" <<'EOF'
import io, sys, tarfile
t = sys.argv[1]
def tar(path, members):
    with tarfile.open(path, "w:xz", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
long = "./" + "/".join(["d" * 200] * 45) + "/x.h"   # about 9 KiB
tar(t + "/long-a.tar.xz", [(long, b"one\n")])
tar(t + "/long-b.tar.xz", [(long, b"two\n")])
n = 160000
a = "".join("a line %d\n" % i for i in range(n)).encode()
b = "".join("b line %d\n" % i for i in range(n)).encode()
open(t + "/many-a", "wb").write(a)
open(t + "/many-b", "wb").write(b)
tar(t + "/many-a.tar.xz", [("./f.h", a)])
tar(t + "/many-b.tar.xz", [("./f.h", b)])
EOF
"$K" diff -u "$T/long-a.tar.xz" "$T/long-b.tar.xz" >"$T/long.diff" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "^--- a/dddd.*/x.h$" "$T/long.diff" &&
	grep -q "^+++ b/dddd.*/x.h$" "$T/long.diff" &&
	grep -q "^-one$" "$T/long.diff" && grep -q "^+two$" "$T/long.diff"; then
	rb_ok "diff -u: a 9 KiB name in the file header"
else
	rb_bad "diff -u with a 9 KiB name: exit $rc"; head -c 300 "$T/long.diff"; echo
fi
timeout 60 "$K" diff -u "$T/many-a.tar.xz" "$T/many-b.tar.xz" >"$T/many.diff"
rc=$?
if [ $rc = 1 ]; then
	rb_ok "diff -u of 160,000 distinct lines each side finished"
else
	rb_bad "diff -u of 160,000 distinct lines: exit $rc (124: over 60 s)"
fi
cp "$T/many-a" "$T/many-p"
if sed -n '/^@@/,$p' "$T/many.diff" | (echo "--- p"; echo "+++ p"; cat) |
	patch -s "$T/many-p" && cmp -s "$T/many-p" "$T/many-b" &&
	[ "$(grep -c '^-a line' "$T/many.diff")" = 160000 ] &&
	[ "$(grep -c '^+b line' "$T/many.diff")" = 160000 ]; then
	rb_ok "and its script is correct: patch turns one file into the other"
else
	rb_bad "its script does not turn one file into the other"
fi

# ---- sparse entries: the same data, holes elsewhere ----
mkdir -p "$T/sa" "$T/sb"
for d in sa:1048576 sb:1572864; do
	f=$T/${d%%:*}/f.h
	printf x | dd of="$f" conv=notrunc status=none
	printf y | dd of="$f" bs=1 seek="${d#*:}" conv=notrunc status=none
	truncate -s 2M "$f"
	tar -C "${f%/f.h}" --sparse --format=gnu --owner=0 --group=0 \
		--mtime=@0 -cJf "${f%/f.h}.tar.xz" f.h
done
rb_expect 2 "f.h: sparse entry; refusing it" \
	"$K" diff "$T/sa.tar.xz" "$T/sb.tar.xz"
rb_expect 1 "sa.tar.xz: f.h: sparse entry; refusing it" \
	"$K" manifest "$T/sa.tar.xz"
tar -C "$T/sa" --sparse --format=pax -cJf "$T/sap.tar.xz" f.h
rb_expect 1 "sparse entry" "$K" manifest "$T/sap.tar.xz"

exit $fail
