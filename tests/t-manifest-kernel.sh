#!/usr/bin/env bash
# t-manifest-kernel: manifests, diff and verify --rebuild on real kernel
# trees, Debian's 6.1 and 6.12 prepared for x86 (tests/lib/kernel-trees.sh).
#
# 1. gen --manifest on both: the manifest states the tree's version and
#    release, lists every entry tar lists, and verifies.
# 2. `kheaders diff` of the two archives reports the same added, removed
#    and changed sets as `diff -rq --no-dereference` of the two extracted
#    trees; manifests give the same report, in well under a second (the
#    time is printed, not asserted); -u patches the 6.1 headers into the
#    6.12 ones and is as small as GNU `diff --minimal`.
# 3. `verify --rebuild` passes on the 6.1 tree; on a copy of its headers
#    with one header edited it names exactly that header.
#
# The cached trees are shared and only read here: the edit happens in a
# copy of include/ and arch/x86/include/. The two generations and the
# two rebuilds each run in parallel (xz is single-threaded).
set -u
: "${TOP:?TOP must name the repository}" "${KHEADERS:?KHEADERS must name the binary}"
. "$TOP/tests/lib/kernel-trees.sh"
T=${TEST_TMP:-$(mktemp -d)}
K=$KHEADERS
TS=@1700000000
fail=0

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

A=$(kt_src 6.1) || { echo "FAIL: no prepared 6.1 tree"; exit 1; }
B=$(kt_src 6.12) || { echo "FAIL: no prepared 6.12 tree"; exit 1; }

# --- 1. gen --manifest ------------------------------------------------------
t0=$(now)
"$K" gen -q --no-state --srctree "$A" --objtree "$A" --arch x86 --mtime "$TS" \
	-o "$T/a.tar.xz" --manifest "$T/a.mtree" >"$T/gen-a.log" 2>&1 &
pa=$!
"$K" gen -q --no-state --srctree "$B" --objtree "$B" --arch x86 --mtime "$TS" \
	-o "$T/b.tar.xz" --manifest "$T/b.mtree" >"$T/gen-b.log" 2>&1 &
pb=$!
wait $pa || { bad "gen 6.1"; cat "$T/gen-a.log"; }
wait $pb || { bad "gen 6.12"; cat "$T/gen-b.log"; }
echo "     gen --manifest, 6.1 and 6.12 in parallel: $(secs "$t0" "$(now)") s"
[ $fail = 0 ] || exit 1

# facts WANT-VERSION TREE MTREE: the manifest says what the tree says.
facts() {
	local tree=$1 m=$2 ver rel
	ver=$(awk -F' *= *' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2 } $1 == "EXTRAVERSION" { x = $2 }
		/^NAME/ { print v "." p "." s x; exit }' "$tree/Makefile")
	rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$tree/include/generated/utsrelease.h")
	if grep -qx "# kernel-version: $ver" "$m" && grep -qx "# kernel-release: $rel" "$m" &&
		grep -q "^# linux-version-code: [0-9]* (${ver%%[-+]*})$" "$m" &&
		grep -qx '# srcarch: x86' "$m" && grep -q '^# mtime: @1700000000 ' "$m"; then
		ok "$(basename "$m"): kernel $ver, release $rel, x86, mtime"
	else
		bad "$(basename "$m"): facts do not match the tree ($ver, $rel)"; sed -n 2,13p "$m"
	fi
	[ "$(sed -n 's/^# entries: //p' "$m")" = "$(tar -tJf "${m%.mtree}.tar.xz" | wc -l)" ] &&
		ok "$(basename "$m"): one entry per archive member" || bad "$(basename "$m"): entry count"
}
facts "$A" "$T/a.mtree"
facts "$B" "$T/b.mtree"
"$K" verify --manifest "$T/b.mtree" "$T/b.tar.xz" >"$T/out" && grep -q ': OK$' "$T/out" &&
	ok "verify --manifest: 6.12 OK" || { bad "verify --manifest 6.12"; cat "$T/out"; }

# --- 2. diff ---------------------------------------------------------------
t0=$(now)
"$K" diff --json "$T/a.mtree" "$T/b.mtree" >"$T/d.json"
rc=$?
t1=$(now)
echo "     kheaders diff --json of the two manifests: $(secs "$t0" "$t1") s"
[ $rc = 1 ] || bad "diff of 6.1 and 6.12: status $rc, want 1"
"$K" diff "$T/a.mtree" "$T/b.mtree" >"$T/d-m.txt"
t0=$(now)
"$K" diff "$T/a.tar.xz" "$T/b.tar.xz" >"$T/d-a.txt"
echo "     kheaders diff of the two archives: $(secs "$t0" "$(now)") s; $(tail -n 1 "$T/d-a.txt")"
cmp -s "$T/d-m.txt" "$T/d-a.txt" && ok "manifests and archives give the same report" ||
	bad "diff of manifests and of archives differ"
mkdir "$T/A" "$T/B"
tar -xf "$T/a.tar.xz" -C "$T/A" && tar -xf "$T/b.tar.xz" -C "$T/B" || bad "cannot extract"
t0=$(now)
diff -rq --no-dereference "$T/A" "$T/B" >/dev/null
echo "     diff -rq of the extracted trees, for scale: $(secs "$t0" "$(now)") s"
if python3 "$TOP/tests/lib/diff-sets.py" "$T/d.json" "$T/A" "$T/B" --nonempty; then
	ok "kheaders diff 6.1 6.12: the added, removed and changed sets of diff -rq"
else
	bad "kheaders diff disagrees with diff -rq"
fi

t0=$(now)
"$K" diff -u "$T/a.tar.xz" "$T/b.tar.xz" >"$T/u.out"
echo "     kheaders diff -u of the two archives: $(secs "$t0" "$(now)") s, $(wc -l <"$T/u.out") lines"
sed -n '/^--- "\{0,1\}a\//,$p' "$T/u.out" | sed '$d' >"$T/u.patch"
cp -a "$T/A" "$T/P"
(cd "$T/P" && patch -p1 -s --no-backup-if-mismatch <"$T/u.patch") >"$T/patch.log" 2>&1 || { bad "patch -p1 failed"; head "$T/patch.log"; }
if [ -s "$T/u.patch" ] && ! diff -rq --no-dereference "$T/P" "$T/B" | grep -q '^Files '; then
	ok "-u: patch -p1 turns every changed 6.1 header into its 6.12 bytes"
else
	bad "-u: after patching, contents still differ"; diff -rq --no-dereference "$T/P" "$T/B" | grep '^Files ' | head -5
fi
# Minimal: as many lines out and in as GNU diff --minimal.
count() { grep -c "^$1" "$2"; }
diff -ru --minimal --no-dereference "$T/A" "$T/B" 2>/dev/null | grep -v '^Only in \|^diff \|^File \|^Symbolic' >"$T/gnu.patch"
for s in '-' '+'; do
	ours=$(grep -v '^--- \|^+++ ' "$T/u.patch" | grep -c "^[$s]")
	gnu=$(grep -v '^--- \|^+++ ' "$T/gnu.patch" | grep -c "^[$s]")
	[ "$ours" = "$gnu" ] && ok "-u: $ours lines '$s', as GNU diff --minimal" ||
		bad "-u: $ours lines '$s', GNU diff --minimal has $gnu"
done

# --- 3. verify --rebuild ---------------------------------------------------
C=$T/k61
mkdir -p "$C/arch/x86"
cp -a "$A/include" "$C/" && cp -a "$A/arch/x86/include" "$C/arch/x86/" && cp "$A/Makefile" "$C/" ||
	{ bad "cannot copy the 6.1 headers"; exit 1; }
edited=include/linux/kernel.h
[ -f "$C/$edited" ] && [ "$(stat -c %i "$C/$edited")" != "$(stat -c %i "$A/$edited")" ] ||
	{ bad "the copy is not a copy"; exit 1; }
printf '#define KH_MANIFEST_TEST_EDIT 1\n' >>"$C/$edited"
mkdir "$T/tmp"
t0=$(now)
TMPDIR=$T/tmp "$K" verify --rebuild --srctree "$A" --objtree "$A" --arch x86 --mtime "$TS" \
	"$T/a.tar.xz" >"$T/rebuild-ok.out" 2>&1 &
pa=$!
TMPDIR=$T/tmp "$K" verify --rebuild --srctree "$C" --objtree "$C" --arch x86 --mtime "$TS" \
	"$T/a.tar.xz" >"$T/rebuild-edit.out" 2>&1 &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?
echo "     two verify --rebuild in parallel: $(secs "$t0" "$(now)") s"
if [ $ra = 0 ] && grep -qx "$T/a.tar.xz: OK" "$T/rebuild-ok.out"; then
	ok "verify --rebuild on 6.1: OK"
else
	bad "verify --rebuild on 6.1: exit $ra"; head -20 "$T/rebuild-ok.out"
fi
named=$(grep '^\./' "$T/rebuild-edit.out")
if [ $rb = 1 ] && [ "$(printf '%s\n' "$named" | wc -l)" = 1 ] &&
	printf '%s\n' "$named" | grep -q "^\./$edited: content differs (rebuild "; then
	ok "verify --rebuild after editing $edited names it alone: $named"
else
	bad "verify --rebuild after an edit: exit $rb"; head -20 "$T/rebuild-edit.out"
fi
[ -z "$(ls -A "$T/tmp")" ] || bad "verify --rebuild left $(ls -A "$T/tmp")"

exit $fail
