#!/bin/bash
# The skip logic on a real kernel tree (Debian's 6.1, O= layout, copied
# so the cache stays pristine): every change that must rebuild does, and
# names itself in -v's reason; every change that must not rebuild
# leaves both outputs untouched (same inode, same mtime). Compression
# uses --xz-preset 0 to keep the many rebuilds cheap; the decision logic
# does not depend on the preset.
set -u
. "$TOP/tests/lib/kernel-trees.sh"
kt_obj 6.1 || exit 1
T=$TEST_TMP
S=$T/src O=$T/obj D=$T/out
mkdir -p "$S/arch/x86" "$O/arch/x86" "$D"
cp -a "$KT_SRCTREE/include" "$S/" && cp -a "$KT_SRCTREE/arch/x86/include" "$S/arch/x86/"
cp -a "$KT_OBJTREE/include" "$O/"
[ -d "$KT_OBJTREE/arch/x86/include" ] && cp -a "$KT_OBJTREE/arch/x86/include" "$O/arch/x86/"
TS=@1700000000
K=$KHEADERS
fail=0 n=0

gen() {   # extra options...; runs from $D unless CWD is set
	( cd "${CWD:-$D}" && env -u KBUILD_BUILD_TIMESTAMP "${KENV[@]}" "$K" gen -v \
		--srctree "$S" --objtree "$O" --arch "${ARCH:-x86}" \
		--xz-preset "${PRESET:-0}" -o "$D/k.tar.xz" --stub "$D/k.S" \
		--incbin k.tar.xz "${MTIME[@]}" "$@" ) > "$T/log" 2>&1
}
KENV=() MTIME=(--mtime "$TS")
stamp() { stat -c '%i %y' "$D/k.tar.xz" "$D/k.S" 2>/dev/null; }

rebuilds() {   # label, reason substring, gen options...
	local label=$1 why=$2 before; shift 2
	n=$((n + 1)); before=$(stamp)
	if ! gen "$@"; then
		echo "FAIL $label: gen failed"; cat "$T/log"; fail=1; return
	fi
	if grep -q '^  GEN ' "$T/log" && grep 'rebuilt because' "$T/log" | grep -qF -- "$why" &&
	   [ "$(stamp)" != "$before" ]; then
		echo "ok   rebuilds: $label ($(grep -o 'rebuilt because.*' "$T/log"))"
	else
		echo "FAIL $label: want a rebuild because '$why'"; cat "$T/log"; fail=1
	fi
}
skips() {   # label, gen options...
	local label=$1 before; shift
	n=$((n + 1)); before=$(stamp)
	if ! gen "$@"; then
		echo "FAIL $label: gen failed"; cat "$T/log"; fail=1; return
	fi
	if ! grep -q '^  GEN ' "$T/log" && grep -q 'up to date' "$T/log" &&
	   [ "$(stamp)" = "$before" ]; then
		echo "ok   skips: $label ($(grep -o 'up to date.*' "$T/log"))"
	else
		echo "FAIL $label: rebuilt or touched outputs"; cat "$T/log"; fail=1
	fi
}
# Same size, same inode: overwrite one byte in place.
poke() { printf '%s' "$2" | dd of="$1" bs=1 seek="${3:-0}" conv=notrunc status=none; }
# Same size, same inode, one byte surely different: its low bit flipped
# (a fixed letter could be the byte already there, and change nothing).
flip() {   # file, offset
	local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

H=$S/include/linux/kernel.h
rebuilds "first run" "no previous state"
skips "second run"

# --- must rebuild ---------------------------------------------------------
# A same-size edit in the same second as the build, on a filesystem
# whose clock did not move: edit, build at once (the header is now
# racily clean), edit again and give back the exact old mtime.
poke "$H" A 0; rebuilds "edit just before a build" "include/linux/kernel.h: content changed"
old=$(stat -c %y "$H"); poke "$H" B 0; touch -d "$old" "$H"
[ "$(stat -c %y "$H")" = "$old" ] || { echo "FAIL could not restore mtime"; fail=1; }
rebuilds "same-size edit, same mtime, same inode" "include/linux/kernel.h: content changed"
sleep 1.2   # now nothing is racy any more
poke "$H" C 0; rebuilds "same-size edit a second later" "include/linux/kernel.h: content changed"
sleep 1.2; skips "unchanged after that"
# The same edit long after any build: the mtime says nothing changed,
# only the ctime (recorded for inputs as git's index does) shows it.
sleep 1.2; old=$(stat -c %y "$H"); poke "$H" D 0; touch -d "$old" "$H"
rebuilds "same-size edit, mtime given back, a while after the build" \
	"include/linux/kernel.h: content changed"
sleep 1.2; skips "unchanged after that edit"

echo '#define KH_NEW 1' > "$S/include/linux/kh-new.h"
rebuilds "a header added" "include/linux/kh-new.h: new"
mv "$S/include/linux/kh-new.h" "$S/include/linux/kh-renamed.h"
rebuilds "a header renamed" "include/linux/kh-new.h: gone"
rm "$S/include/linux/kh-renamed.h"
rebuilds "a header deleted" "include/linux/kh-renamed.h: gone"

# The same changes a while after the last run, when a no-op lists the
# directories from the state's records instead of reading them: each
# change moves its directory's ctime, so that directory is read again.
# (With -j 1 the state is read before the walk, so every directory can
# come from its record.)
recorded() {   # a no-op that lists every directory from its record
	sleep 1.2; skips "a no-op a while later" -j 1
	skips "a no-op listing directories as last time" -j 1
	grep -q ' 0 directories read, [1-9][0-9]* listed as last time$' "$T/log" ||
		{ echo "FAIL directories were read: $(grep 'up to date' "$T/log")"; fail=1; }
}
recorded
echo '#define KH_NEW 2' > "$S/include/linux/kh-new2.h"
rebuilds "a header added to a recorded directory" "include/linux/kh-new2.h: new" -j 1
recorded
mv "$S/include/linux/kh-new2.h" "$S/include/linux/kh-renamed2.h"
rebuilds "a header renamed in a recorded directory" "include/linux/kh-new2.h: gone" -j 1
recorded
rm "$S/include/linux/kh-renamed2.h"
rebuilds "a header deleted from a recorded directory" "include/linux/kh-renamed2.h: gone" -j 1
recorded
old=$(stat -c %y "$S/include/linux")
echo '#define KH_NEW 3' > "$S/include/linux/kh-new3.h"; touch -d "$old" "$S/include/linux"
[ "$(stat -c %y "$S/include/linux")" = "$old" ] || { echo "FAIL could not restore a directory's mtime"; fail=1; }
rebuilds "a header added, the directory's mtime given back" "include/linux/kh-new3.h: new" -j 1
rm "$S/include/linux/kh-new3.h"; rebuilds "that header gone again" "include/linux/kh-new3.h: gone"
recorded
mkdir -p "$O/include/kh-newdir"; echo '#define KH_NEWDIR 1' > "$O/include/kh-newdir/a.h"
rebuilds "a new objtree directory with a header" "include/kh-newdir/a.h: new" -j 1
rm -r "$O/include/kh-newdir"; rebuilds "that directory gone again" "include/kh-newdir/a.h: gone"
# A record that lies (a state damaged on disk) costs at most a rebuild,
# and what is archived never comes from records.
recorded
sed -i 's|^\(dir 0 [0-9]* [0-9]* include/linux /.*\)/ukernel\.h\(/.*\)\{0,1\}$|\1\2|' "$D/k.tar.xz.state"
grep -q '^dir 0 [0-9]* [0-9]* include/linux .*/ukernel\.h' "$D/k.tar.xz.state" &&
	{ echo "FAIL could not drop kernel.h from the record of include/linux"; fail=1; }
rebuilds "a directory record missing a header" "include/linux/kernel.h: gone" -j 1
xz -dc "$D/k.tar.xz" | tar -tf - | grep -qx './include/linux/kernel.h' &&
	echo "ok   the rebuilt archive still holds include/linux/kernel.h" ||
	{ echo "FAIL the rebuild archived what the damaged record listed"; fail=1; }
recorded
sed -i 's|^\(dir 0 [0-9]* [0-9]* include/linux /.*\)$|\1/ukh-not-there.h|' "$D/k.tar.xz.state"
grep -q '/ukh-not-there\.h$' "$D/k.tar.xz.state" || { echo "FAIL could not add a name to a record"; fail=1; }
skips "a directory record naming a header that is not there" -j 1

L=$(cd "$S" && find include -type l -name '*.h' | LC_ALL=C sort | head -n 1)
[ -n "$L" ] || { echo "FAIL no symlink in the tree"; fail=1; }
tgt=$(readlink "$S/$L"); new=$(printf '%s' "$tgt" | sed 's/.$/x/')
ln -sfn "$new" "$S/$L"
rebuilds "a symlink retargeted (same length)" "$L: symlink now points to $new"
ln -sfn "$tgt" "$S/$L"; rebuilds "the symlink put back" "$L: symlink now points to $tgt"

mkdir -p "$O/include/linux"
echo '#define KH_OVR 0' > "$S/include/linux/kh-ovr.h"
echo '#define KH_OVR 1' > "$O/include/linux/kh-ovr.h"
rebuilds "an objtree header overriding a srctree one" "include/linux/kh-ovr.h: new"
sleep 1.2; poke "$O/include/linux/kh-ovr.h" 2 16
rebuilds "the overriding objtree header edited" "include/linux/kh-ovr.h: content changed"
sleep 1.2; poke "$S/include/linux/kh-ovr.h" 3 16
skips "the shadowed srctree header edited"
rm "$O/include/linux/kh-ovr.h"
rebuilds "the override removed" "include/linux/kh-ovr.h: now a file from the srctree"

MTIME=(--mtime @1700000001); rebuilds "--mtime changed" "option mtime=1700000001"
MTIME=(); KENV=(KBUILD_BUILD_TIMESTAMP="Tue Nov 14 22:13:21 UTC 2023")
skips "KBUILD_BUILD_TIMESTAMP, same instant"
KENV=(KBUILD_BUILD_TIMESTAMP="Tue Nov 14 22:13:22 UTC 2023")
rebuilds "KBUILD_BUILD_TIMESTAMP changed" "option mtime=1700000002"
mkdir -p "$S/arch/kh/include/asm"; echo '#define KH_ARCH 1' > "$S/arch/kh/include/asm/a.h"
ARCH=kh rebuilds "--arch changed" "option arch=kh"
rebuilds "--arch back" "option arch=x86"
rebuilds "--no-strip" "option strip=none" --no-strip
rebuilds "stripping again" "option strip=upstream-perl"
PRESET=1 rebuilds "--xz-preset changed" "option xz=preset1"
rebuilds "--xz-preset back" "option xz=preset0"

rm "$D/k.tar.xz"; rebuilds "the archive deleted" "$D/k.tar.xz: cannot open"
rm "$D/k.S"; rebuilds "the stub deleted" "$D/k.S: cannot open"
size=$(stat -c %s "$D/k.tar.xz"); flip "$D/k.tar.xz" $((size / 2))
rebuilds "the archive corrupted (same size)" "$D/k.tar.xz: differs from what was built"
echo >> "$D/k.S"; rebuilds "the stub changed" "$D/k.S: differs from what was built"
# A no-op run over a second after a build records the outputs' stat data
# as trustworthy, and later runs do not read them. A same-size write that
# gives back the mtime still shows, in ctime.
# Which outputs the rebuild left untrusted: those without stat data, or
# whose record was taken within a second of their ctime (normally both;
# a slow disk can stretch the gap between an archive's rename and its
# record past a second). The same rule as kh_gen_output_trusted.
racy=$(awk '$1 == "output" { n++ } $1 == "outstat" && $6 - $5 >= 1000000000 { n-- }
	END { print n + 0 }' "$D/k.tar.xz.state")
[ "$racy" -ge 1 ] || { echo "FAIL the rebuild trusted both outputs at once"; fail=1; }
sleep 1.1; skips "a no-op that records the outputs' stat data"
grep -q " $racy outputs read;" "$T/log" ||
	{ echo "FAIL the recording no-op did not read the $racy untrusted outputs: $(grep 'up to date' "$T/log")"; fail=1; }
skips "a no-op that trusts them"
grep -q ' 0 outputs read;' "$T/log" || { echo "FAIL the outputs were read again: $(grep 'up to date' "$T/log")"; fail=1; }
# One thread reads the previous state without a thread of its own.
skips "a no-op with --threads 1" -j 1
[ "$(grep -c '^outstat ' "$D/k.tar.xz.state")" = 2 ] || { echo "FAIL no outstat lines in the state"; fail=1; }
old=$(stat -c %y "$D/k.tar.xz"); flip "$D/k.tar.xz" $((size / 3)); touch -d "$old" "$D/k.tar.xz"
rebuilds "the archive corrupted, mtime given back" "$D/k.tar.xz: differs from what was built"
cp "$K" "$T/kheaders-next"; printf 'next' >> "$T/kheaders-next"
K=$T/kheaders-next rebuilds "a new tool" "the tool changed"
K=$T/kheaders-next skips "the new tool again"
rebuilds "back to the test's tool" "the tool changed"

# --- must not rebuild -----------------------------------------------------
sleep 1.2
find "$S/include" "$S/arch/x86/include" "$O/include" -name '*.h' -exec touch -h {} +
sleep 1.2
skips "a touch of every header"
grep -q "up to date: .* [1-9][0-9]* re-hashed" "$T/log" || { echo "FAIL touched headers were not re-hashed"; fail=1; }
skips "the run after the touch"
grep -q " 0 re-hashed" "$T/log" || { echo "FAIL the state did not take the new stat data"; cat "$T/log"; fail=1; }
# touch -r of every header onto itself: no time an mtime check sees
# moves, the ctimes do. Re-hashed, found the same, not rebuilt.
find "$S/include" "$S/arch/x86/include" "$O/include" -name '*.h' \
	-exec sh -c 'for f; do touch -h -r "$f" "$f"; done' _ {} +
sleep 1.2
skips "a touch -r of every header"
grep -q "up to date: .* [1-9][0-9]* re-hashed" "$T/log" ||
	{ echo "FAIL headers whose ctime moved were not re-hashed: $(grep 'up to date' "$T/log")"; fail=1; }
skips "the run after the touch -r"
grep -q " 0 re-hashed" "$T/log" || { echo "FAIL the state did not take the new ctimes"; cat "$T/log"; fail=1; }
# A checkout that rewrites every file with the same content (new inode,
# new mtime).
find "$S/include" -name '*.h' -type f | while IFS= read -r f; do
	cp -p "$f" "$f.co" && mv "$f.co" "$f"; done
touch "$S/include/linux/kernel.h"; sleep 1.2
skips "a checkout rewriting files with the same content"
CWD=/ skips "a run from another working directory"
CWD=$S skips "a run from the srctree"
( cd "$T" && env -u KBUILD_BUILD_TIMESTAMP "$K" gen -q --srctree src --objtree ./obj/ \
	--arch x86 --xz-preset 0 -o out/k.tar.xz --stub out/k.S --incbin k.tar.xz \
	--mtime "$TS" ) > "$T/log2" 2>&1 && ! grep -q GEN "$T/log2" ||
	{ echo "FAIL relative spellings from another directory rebuilt"; cat "$T/log2"; fail=1; }

# --depfile: inputs listed, phony rules, rewritten only when it changes.
gen --depfile "$D/k.d"
grep -qxF "$D/k.tar.xz: \\" "$D/k.d" && grep -qF " $S/include/linux/kernel.h \\" "$D/k.d" &&
	grep -qxF "$S/include/linux/kernel.h:" "$D/k.d" ||
	{ echo "FAIL depfile content"; head -3 "$D/k.d"; fail=1; }
[ "$(grep -c ': \\$\|^ ' "$D/k.d")" -gt 6000 ] || { echo "FAIL depfile too short"; fail=1; }
d1=$(stat -c '%i %y' "$D/k.d"); gen --depfile "$D/k.d"
[ "$(stat -c '%i %y' "$D/k.d")" = "$d1" ] || { echo "FAIL unchanged depfile rewritten"; fail=1; }

# A corrupt state is a reason to rebuild, never an error.
printf 'garbage\n' > "$D/k.tar.xz.state"
rebuilds "a corrupt state file" "k.tar.xz.state: state file is corrupt at line 1"
head -c 100 "$D/k.tar.xz.state" > "$D/s" && mv "$D/s" "$D/k.tar.xz.state"
rebuilds "a truncated state file" "k.tar.xz.state: state file is"
echo "$n cases"
exit $fail
