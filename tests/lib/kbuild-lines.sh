#!/bin/bash
# The kernel's own build with kheaders (scripts/kbuild-install) on real
# trees of every kernel line Debian ships: 5.10 and 6.1, 6.12 (the legacy
# rules) and 7.3 (the mainline rules). For each line: `--patch` applies
# with `patch -p1` and `git apply` to the pristine files and gives what the
# installer writes; a second install is a no-op; then `make
# kernel/kheaders.o` with CONFIG_IKHEADERS=y and =m in-tree and =y with
# O=, cpio, perl, tar and xz hidden from PATH: kheaders regenerates once
# (one "  GEN" line), the blob inside kernel/kheaders.o is the archive
# `kheaders gen` makes for that tree, its tar is byte-identical to what the
# tree's own rules make through Make (`make kernel/kheaders.o` before
# installing, cached in $KHEADERS_CACHE/upstream-ref; =y's is
# tests/lib/upstream.sh up_ref_y, shared with t-upstream-identity), and a second
# make regenerates nothing and relinks nothing. A header edit, an added
# header and a KBUILD_BUILD_TIMESTAMP change each regenerate; `make clean`
# leaves none of kheaders' files. Trees are private copies of the cache.
#
# Under SAN=1 (KH_BUILD ends in /san) each line runs in-tree =y with the
# no-op only, and the edits on 6.1 and 7.3: the plain suite runs the
# whole matrix with the same shell code, the sanitized one checks the
# binary. Run by tests/t-kbuild-LINE.sh, one test per line (so lines run
# in parallel, each within the runner's time limit): KH_KBUILD_LINES
# names the line; KH_KBUILD_REFUSALS=1 adds the refusal checks.
set -u
. "$TOP/tests/lib/kernel-trees.sh"
. "$TOP/tests/lib/tree-copy.sh"
. "$TOP/tests/lib/upstream.sh"
T=$TEST_TMP
K=$KHEADERS
TS1=$UP_TS
export KBUILD_BUILD_TIMESTAMP=$TS1
REF=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}/upstream-ref
mkdir -p "$REF"
fail=0
bad() { echo "FAIL $*"; fail=1; }
ok() { echo "ok   $*"; }

full=1
lines=(5.10 6.1 6.12 7.3)
# The edits run on one line of each design's oldest and newest text
# (6.1 and 6.12 have the same legacy rule as 5.10, byte for byte).
edits=" 5.10 7.3 "
case $KH_BUILD in */san)
	full=
	edits=" 6.1 7.3 "
	echo "note: SAN=1: reduced matrix (in-tree =y and the no-op; edits on 6.1 and 7.3); the plain suite runs all of it" ;;
esac
echo "note: header edit, added header, KBUILD_BUILD_TIMESTAMP and V=1 on${edits% }; =y, =m, O=, no-op and clean on every line"
[ -n "${KH_KBUILD_LINES-}" ] && read -r -a lines <<< "$KH_KBUILD_LINES"

# Kbuild never needs cpio, perl, tar or xz with kheaders: make runs with
# them hidden (the test itself still uses them for references).
mkdir -p "$T/nobin"
for tool in cpio perl tar xz; do
	printf '#!/bin/sh\necho "%s was run" >&2; exit 1\n' "$tool" > "$T/nobin/$tool"
	chmod +x "$T/nobin/$tool"
done
NOPATH=$T/nobin:$PATH

kmake() {   # log, make arguments...; make runs with $KPATH as PATH
	local log=$1; shift
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PATH="${KPATH:-$PATH}" \
		make ARCH=x86_64 KHEADERS="$K" -j"$(nproc)" "$@" > "$log" 2>&1 ||
		{ bad "make $*"; tail -n 30 "$log"; return 1; }
}

# The archive as linked into an object: the bytes between the markers
# of its .rodata, which must also be exactly the symbol's size.
blob_of() {   # object, output
	objcopy -O binary -j .rodata "$1" "$T/rodata.bin" &&
	python3 - "$T/rodata.bin" "$2" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
s, e = d.find(b'IKHD_ST'), d.rfind(b'IKHD_ED')
assert s >= 0 and e > s, "markers not found"
open(sys.argv[2], 'wb').write(d[s + 7:e])
PY
}

set_ikheaders() {   # srctree, objtree-or-empty, y|m
	local src=$1 obj=$2 out=${2:-$1} flag=--enable
	[ "$3" = m ] && flag=--module
	"$src/scripts/config" --file "$out/.config" "$flag" IKHEADERS || return 1
	kmake "$T/cfg.log" -C "$src" ${obj:+O=$obj} olddefconfig || return 1
	grep -qx "CONFIG_IKHEADERS=$3" "$out/.config" || { bad "CONFIG_IKHEADERS=$3 not set"; return 1; }
}

# The =m reference: the tree's own rules through Make, before
# installing, once per line (cached by the tree's key). =y's is
# up_ref_y's, made the same way.
upstream_ref() {   # srctree, key
	local src=$1 key=$2
	[ -f "$REF/$key.tar" ] && return 0
	kmake "$T/up.log" -C "$src" kernel/kheaders.o || return 1
	xz -dc "$src/kernel/kheaders_data.tar.xz" > "$REF/$key.tar.tmp.$$" &&
		mv "$REF/$key.tar.tmp.$$" "$REF/$key.tar" || { rm -f "$REF/$key.tar.tmp.$$"; return 1; }
	( cd "$src/kernel" && rm -rf kheaders_data.tar.xz kheaders.md5 kheaders-srclist \
		kheaders-objlist .kheaders_data.tar.xz.cmd .kheaders_data.tar.xz.d .tmp_dir \
		kheaders.o .kheaders.o.cmd )
	echo "     (reference $key: the tree's own rules, $(stat -c %s "$REF/$key.tar") bytes)"
}

gens() { grep -c '^  GEN     kernel/kheaders_data.tar.xz$' "$1"; }

# One build: the first make regenerates once and links the archive, the
# second does nothing.
check_build() {   # label, srctree, objtree(or empty), y|m, the reference tar
	local label=$1 src=$2 obj=$3 cfg=$4 ref=$5 out=${3:-$2} o1 a1
	set_ikheaders "$src" "$obj" "$cfg" || return 1
	KPATH=$NOPATH kmake "$T/m1.log" -C "$src" ${obj:+O=$obj} kernel/kheaders.o || return 1
	[ "$(gens "$T/m1.log")" = 1 ] || { bad "$label: want one GEN line"; grep -i 'kheaders' "$T/m1.log"; }
	! grep -q 'was run' "$T/m1.log" || bad "$label: a hidden tool was run: $(grep 'was run' "$T/m1.log" | sort -u)"
	blob_of "$out/kernel/kheaders.o" "$T/blob" || { bad "$label: no blob in kheaders.o"; return 1; }
	cmp -s "$T/blob" "$out/kernel/kheaders_data.tar.xz" || bad "$label: blob in kheaders.o is not the archive"
	"$K" gen -q --no-state --cache "$out/kernel/kheaders_data.tar.xz.cache" --srctree "$src" --objtree "$out" --arch x86 \
		--mtime "$KBUILD_BUILD_TIMESTAMP" -o "$T/direct.tar.xz"
	cmp -s "$T/direct.tar.xz" "$out/kernel/kheaders_data.tar.xz" ||
		bad "$label: archive differs from what kheaders gen makes for the tree"
	xz -dc "$out/kernel/kheaders_data.tar.xz" > "$T/ours.tar"
	if cmp -s "$T/ours.tar" "$ref"; then
		ok "$label: blob = kheaders gen = the tree's own rules' tar ($(stat -c %s "$T/ours.tar") bytes)"
	else
		bad "$label: tar differs from the tree's own rules' ($ref)"
	fi
	o1=$(stat -c '%i %y' "$out/kernel/kheaders.o"); a1=$(stat -c '%i %y' "$out/kernel/kheaders_data.tar.xz")
	KPATH=$NOPATH kmake "$T/m2.log" -C "$src" ${obj:+O=$obj} kernel/kheaders.o || return 1
	[ "$(gens "$T/m2.log")" = 0 ] || bad "$label: second make regenerated"
	[ "$(stat -c '%i %y' "$out/kernel/kheaders_data.tar.xz")" = "$a1" ] || bad "$label: second make touched the archive"
	[ "$(stat -c '%i %y' "$out/kernel/kheaders.o")" = "$o1" ] || bad "$label: second make rebuilt kheaders.o"
	! grep -q 'CC .*kernel/kheaders.o' "$T/m2.log" || bad "$label: second make compiled kheaders.o"
	ok "$label: second make regenerated nothing, kheaders.o untouched"
}

# regen LABEL TREE WHAT [make args]: one make must regenerate (one GEN) and
# relink; WHAT (a file name) must then be in the archive's listing.
regen() {
	local label=$1 tree=$2 what=$3 o1
	shift 3
	o1=$(stat -c '%Y.%i' "$tree/kernel/kheaders.o")
	KPATH=$NOPATH kmake "$T/e.log" -C "$tree" "$@" kernel/kheaders.o || return 1
	if [ "$(gens "$T/e.log")" = 1 ] && [ "$(stat -c '%Y.%i' "$tree/kernel/kheaders.o")" != "$o1" ]; then
		ok "$label: regenerated once and relinked"
	else
		bad "$label: want one GEN and a new kheaders.o"; grep -i 'kheaders' "$T/e.log"
	fi
	[ -z "$what" ] || tar -tJf "$tree/kernel/kheaders_data.tar.xz" | grep -qxF "./$what" ||
		bad "$label: ./$what not in the archive"
}

# --patch: applied to the pristine kernel/ files of TREE by patch -p1 and
# by git apply, it gives exactly what the installer writes.
check_patch() {   # label, pristine tree
	local label=$1 tree=$2 d f
	rm -rf "$T/p"
	for d in inst patch git; do
		mkdir -p "$T/p/$d/kernel"
		cp "$tree/Makefile" "$T/p/$d/"
		for f in Makefile kheaders.c .gitignore; do cp "$tree/kernel/$f" "$T/p/$d/kernel/"; done
	done
	"$TOP/scripts/kbuild-install" --patch "$T/p/inst" > "$T/p/k.patch" 2> "$T/p/err" ||
		{ bad "$label: --patch failed: $(cat "$T/p/err")"; return; }
	"$TOP/scripts/kbuild-install" "$T/p/inst" > /dev/null 2>&1 || { bad "$label: install of the pristine files"; return; }
	( cd "$T/p/patch" && patch -p1 -s < ../k.patch ) || bad "$label: patch -p1 refused the --patch output"
	( cd "$T/p/git" && git apply ../k.patch ) || bad "$label: git apply refused the --patch output"
	if diff -r "$T/p/inst" "$T/p/patch" > /dev/null && diff -r "$T/p/inst" "$T/p/git" > /dev/null; then
		ok "$label: --patch ($(grep -c '^+++ ' "$T/p/k.patch") files) applies with patch -p1 and git apply, same files as the installer"
	else
		bad "$label: the patched files differ from the installed ones"
	fi
}

line() {   # version
	local v=$1 tree key in f osrc oobj yref
	tree=$(kt_src "$v") || { bad "no $v tree"; return; }
	key=$(kt_key "$v" intree)
	check_patch "$v" "$tree"
	in=$T/$v-in
	tc_copy "$tree" "$in" || { bad "copy of $tree"; return; }
	# References first, with the tree's own rules.
	if [ -n "$full" ] && [ ! -f "$REF/$key-m.tar" ]; then
		set_ikheaders "$in" "" m && upstream_ref "$in" "$key-m" || { bad "$v: no =m reference"; return; }
	fi
	set_ikheaders "$in" "" y && yref=$(up_ref_y "$v") && xz -dc "$yref" > "$T/$v-y.tar" ||
		{ bad "$v: no =y reference"; return; }

	"$TOP/scripts/kbuild-install" "$in" > "$T/inst.log" 2>&1 || { bad "kbuild-install $v"; cat "$T/inst.log"; return; }
	sum=$(cat "$in/kernel/Makefile" "$in/kernel/kheaders.c" "$in/kernel/.gitignore" | md5sum)
	"$TOP/scripts/kbuild-install" "$in" > "$T/inst2.log" 2>&1 &&
		grep -q "already uses kheaders" "$T/inst2.log" &&
		[ "$(cat "$in/kernel/Makefile" "$in/kernel/kheaders.c" "$in/kernel/.gitignore" | md5sum)" = "$sum" ] ||
		bad "kbuild-install $v: second run changed something"
	! grep -q 'gen_kheaders.sh\|kheaders-srclist)' "$in/kernel/Makefile" || bad "$v: kernel/Makefile still runs the tree's rules"
	ok "$v: $(cat "$T/inst.log")"

	check_build "$v in-tree =y" "$in" "" y "$T/$v-y.tar" || return
	[ -d "$in/kernel/kheaders_data.tar.xz.cache" ] || bad "$v: no block cache beside the state"

	# Each change that must regenerate. Headers of the copy are hard links
	# to the cache: replace them, never write in place.
	f=$in/include/linux/kernel.h
	if [[ $edits == *" $v "* ]]; then
		{ cat "$f"; echo "/* kheaders t-kbuild edit */ #define KH_T_KBUILD_EDIT 1"; } > "$f.new" && mv "$f.new" "$f"
		regen "$v header edited" "$in" include/linux/kernel.h
		tar -xOJf "$in/kernel/kheaders_data.tar.xz" ./include/linux/kernel.h | grep -q KH_T_KBUILD_EDIT ||
			bad "$v: the edit is not in the archive"
		echo '#define KH_T_KBUILD_ADDED 1' > "$in/include/linux/kh-t-kbuild-added.h"
		regen "$v header added" "$in" include/linux/kh-t-kbuild-added.h
		regen "$v KBUILD_BUILD_TIMESTAMP changed" "$in" "" KBUILD_BUILD_TIMESTAMP="@1700000000"
		[ "$(tar --full-time -tvJf "$in/kernel/kheaders_data.tar.xz" ./include/linux/kernel.h | awk '{ print $4 " " $5 }')" = \
			"$(date -u -d @1700000000 '+%F %T')" ] || bad "$v: the new timestamp is not in the archive"
		KPATH=$NOPATH kmake "$T/v.log" -C "$in" V=1 KBUILD_BUILD_TIMESTAMP="@1700000000" kernel/kheaders.o &&
			grep -q ' gen .*--mtime' "$T/v.log" && [ "$(gens "$T/v.log")" = 0 ] &&
			ok "$v: V=1 shows the command, no GEN when nothing changed" || bad "$v: V=1 run: $(grep -i kheaders "$T/v.log")"
		if [ "$v" = 7.3 ]; then
			KPATH=$NOPATH kmake "$T/tx.log" -C "$in" TAR=bsdtar XZ="xz -T0" KBUILD_BUILD_TIMESTAMP="@1700000000" kernel/kheaders.o &&
				grep -q 'kheaders uses neither TAR=bsdtar nor XZ=xz -T0' "$T/tx.log" && [ "$(gens "$T/tx.log")" = 0 ] &&
				ok "$v: TAR=bsdtar XZ='xz -T0': a note, not a failure, same archive" ||
				bad "$v: TAR/XZ run: $(grep -i 'kheaders\|error' "$T/tx.log" | head -5)"
	fi
	# Back to the original header set for =m's reference.
	cp -p "$tree/include/linux/kernel.h" "$f.new" && mv "$f.new" "$f" && rm -f "$in/include/linux/kh-t-kbuild-added.h"
	fi

	if [ -n "$full" ]; then
		check_build "$v in-tree =m" "$in" "" m "$REF/$key-m.tar"
	fi
	kmake "$T/clean.log" -C "$in" clean
	for f in kheaders_data.tar.xz kheaders_data.tar.xz.state kheaders_data.tar.xz.cache kheaders_data.S \
		kheaders.md5 kheaders-srclist kheaders-objlist .kheaders_data.tar.xz.d; do
		[ ! -e "$in/kernel/$f" ] || bad "$v: make clean left kernel/$f"
	done
	ok "$v: make clean left none of kheaders' files"
	rm -rf "$in"

	[ -n "$full" ] || return
	kt_obj "$v" || { bad "no $v O= tree"; return; }
	osrc=$T/$v-osrc oobj=$T/$v-oobj
	tc_copy "$KT_SRCTREE" "$osrc" && tc_copy_obj "$KT_OBJTREE" "$oobj" "$KT_SRCTREE" "$osrc" ||
		{ bad "copy of the $v O= tree"; return; }
	"$TOP/scripts/kbuild-install" "$osrc" > "$T/inst.log" 2>&1 || bad "kbuild-install $v O="
	# The O= archive must equal the in-tree one of the same config.
	check_build "$v O= =y" "$osrc" "$oobj" y "$T/$v-y.tar"
	rm -rf "$osrc" "$oobj"
}

for v in "${lines[@]}"; do
	s=$SECONDS
	line "$v"
	echo "     ($v: $((SECONDS - s)) s)"
done

[ -n "${KH_KBUILD_REFUSALS-}" ] || exit $fail
# What it does not know is refused, and left alone.
mkdir -p "$T/odd/kernel"; echo 'obj-y += foo.o' > "$T/odd/kernel/Makefile"; echo '/* */' > "$T/odd/kernel/kheaders.c"
if "$TOP/scripts/kbuild-install" "$T/odd" > "$T/odd.log" 2>&1; then
	bad "kbuild-install accepted an unknown tree"
else
	grep -q "odd/kernel/Makefile: .*expected .*refusing to patch" "$T/odd.log" || bad "no clear refusal: $(cat "$T/odd.log")"
	[ "$(cat "$T/odd/kernel/Makefile")" = 'obj-y += foo.o' ] || bad "unknown tree was changed"
	ok "unknown rules refused: $(cat "$T/odd.log")"
fi
# A vendor's variant (Raspberry Pi's cpio -L is in the script; NXP's
# rules differ in the Makefile): one changed word in the block.
mkdir -p "$T/vendor/kernel"
sed 's/FORCE$/FORCE $(obj)\/vendor.h/' "$TOP/scripts/kbuild/Makefile.orig" > "$T/vendor/kernel/Makefile"
cp "$TOP/scripts/kbuild/kheaders.c.orig" "$T/vendor/kernel/kheaders.c"
( cd "$T/vendor" && md5sum kernel/* ) > "$T/vendor.sum"
if "$TOP/scripts/kbuild-install" "$T/vendor" > "$T/vendor.log" 2>&1; then
	bad "kbuild-install accepted a vendor's variant"
else
	( cd "$T/vendor" && md5sum -c --quiet "$T/vendor.sum" ) && [ ! -e "$T/vendor/kernel/.gitignore" ] &&
		grep -q "refusing to patch" "$T/vendor.log" &&
		ok "vendor variant refused, tree unchanged" || bad "vendor variant: $(cat "$T/vendor.log")"
fi
mkdir -p "$T/nomk/kernel"
if "$TOP/scripts/kbuild-install" "$T/nomk" > "$T/nomk.log" 2>&1; then
	bad "kbuild-install accepted a tree without kernel/Makefile"
else
	grep -q "nomk/kernel/Makefile: missing; expected" "$T/nomk.log" &&
		ok "tree without kernel/Makefile refused: $(cat "$T/nomk.log")" || bad "no kernel/Makefile: $(cat "$T/nomk.log")"
fi
exit $fail
