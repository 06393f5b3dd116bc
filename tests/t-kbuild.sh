#!/bin/bash
# The kernel's own build with kheaders (scripts/kbuild-install), on
# Debian's 6.1 and 6.12 trees: `make kernel/kheaders.o` with
# CONFIG_IKHEADERS=y and =m in-tree, and =y in an O= build. Each time:
# kheaders regenerates once (one "  GEN" line, no upstream CHK), the
# blob inside kernel/kheaders.o is the archive `kheaders gen` makes for
# that tree, its tar is byte-identical to what the tree's own
# gen_kheaders.sh makes, and a second make regenerates nothing and does
# not rebuild kernel/kheaders.o. Trees are private copies of the cache.
set -u
. "$TOP/tests/lib/kernel-trees.sh"
. "$TOP/tests/lib/tree-copy.sh"
T=$TEST_TMP
K=$KHEADERS
export KBUILD_BUILD_TIMESTAMP="Sat Nov 21 12:00:00 UTC 2026"
REF=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}/upstream-ref
mkdir -p "$REF"
fail=0
bad() { echo "FAIL $*"; fail=1; }

kmake() {   # log, make arguments...; make runs with $KPATH as PATH
	local log=$1; shift
	PATH=${KPATH:-$PATH} make ARCH=x86_64 KHEADERS="$K" -j"$(nproc)" "$@" > "$log" 2>&1 ||
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

# The tree's own script, once per tree and config, cached: it costs a
# minute of cpio and perl. Its tar is the reference.
upstream_tar() {   # tree, key, output tar
	local tree=$1 key=$2 out=$3
	if [ ! -f "$REF/$key.tar" ]; then
		( cd "$tree" && SRCARCH=x86 XZ=xz srctree=. sh kernel/gen_kheaders.sh \
			kernel/upstream_data.tar.xz > /dev/null 2>&1 ) ||
			{ bad "upstream script in $tree"; return 1; }
		xz -dc "$tree/kernel/upstream_data.tar.xz" > "$REF/$key.tar.tmp" &&
			mv "$REF/$key.tar.tmp" "$REF/$key.tar"
		rm -f "$tree/kernel/upstream_data.tar.xz" "$tree/kernel/kheaders.md5"
	fi
	cp "$REF/$key.tar" "$out"
}

set_ikheaders() {   # tree-or-objtree, y|m
	local flag=--enable
	[ "$2" = m ] && flag=--module
	"$SRC/scripts/config" --file "$1/.config" "$flag" IKHEADERS || return 1
	grep -qx "CONFIG_IKHEADERS=$2" "$1/.config" || kmake "$T/cfg.log" -C "$SRC" ${OBJ:+O=$OBJ} olddefconfig
	grep -qx "CONFIG_IKHEADERS=$2" "$1/.config" || { bad "CONFIG_IKHEADERS=$2 not set"; return 1; }
}

# One build: first make regenerates, second does nothing.
check_build() {   # label, srctree, objtree(or empty), y|m, upstream key
	local label=$1 src=$2 obj=$3 cfg=$4 key=$5 out=${3:-$2} o1 a1
	SRC=$src OBJ=$obj set_ikheaders "$out" "$cfg" || return
	SRC=$src OBJ=$obj kmake "$T/m1.log" -C "$src" ${obj:+O=$obj} kernel/kheaders.o || return
	[ "$(grep -c '^  GEN     kernel/kheaders_data.tar.xz$' "$T/m1.log")" = 1 ] ||
		{ bad "$label: want one GEN line"; grep -i 'kheaders' "$T/m1.log"; }
	! grep -q 'CHK .*kheaders' "$T/m1.log" || bad "$label: upstream's CHK line printed"
	blob_of "$out/kernel/kheaders.o" "$T/blob" || { bad "$label: no blob in kheaders.o"; return; }
	cmp -s "$T/blob" "$out/kernel/kheaders_data.tar.xz" || bad "$label: blob in kheaders.o is not the archive"
	"$K" gen -q --no-state --srctree "$src" --objtree "$out" --arch x86 \
		-o "$T/direct.tar.xz"
	cmp -s "$T/direct.tar.xz" "$out/kernel/kheaders_data.tar.xz" ||
		bad "$label: archive differs from what kheaders gen makes for the tree"
	xz -dc "$out/kernel/kheaders_data.tar.xz" > "$T/ours.tar"
	upstream_tar "$out" "$key" "$T/up.tar" &&
	if cmp -s "$T/ours.tar" "$T/up.tar"; then
		echo "ok   $label: blob = kheaders gen = upstream tar ($(stat -c %s "$T/ours.tar") bytes)"
	else
		bad "$label: tar differs from upstream's"
	fi
	o1=$(stat -c '%i %y' "$out/kernel/kheaders.o"); a1=$(stat -c '%i %y' "$out/kernel/kheaders_data.tar.xz")
	SRC=$src OBJ=$obj kmake "$T/m2.log" -C "$src" ${obj:+O=$obj} kernel/kheaders.o || return
	! grep -q 'GEN .*kheaders' "$T/m2.log" || bad "$label: second make regenerated"
	[ "$(stat -c '%i %y' "$out/kernel/kheaders_data.tar.xz")" = "$a1" ] || bad "$label: second make touched the archive"
	[ "$(stat -c '%i %y' "$out/kernel/kheaders.o")" = "$o1" ] || bad "$label: second make rebuilt kheaders.o"
	! grep -q 'CC .*kernel/kheaders.o' "$T/m2.log" || bad "$label: second make compiled kheaders.o"
	echo "ok   $label: second make regenerated nothing, kheaders.o untouched"
}

for v in 6.1 6.12; do
	tree=$(kt_src "$v") || { bad "no $v tree"; continue; }
	key=$(kt_key "$v" intree)
	in=$T/$v-in
	tc_copy "$tree" "$in" || { bad "copy of $tree"; continue; }
	"$TOP/scripts/kbuild-install" "$in" > "$T/inst.log" || { bad "kbuild-install $v"; cat "$T/inst.log"; }
	sum=$(cat "$in/kernel/Makefile" "$in/kernel/kheaders.c" | md5sum)
	"$TOP/scripts/kbuild-install" "$in" > "$T/inst2.log" &&
		grep -q "already uses kheaders" "$T/inst2.log" &&
		[ "$(cat "$in/kernel/Makefile" "$in/kernel/kheaders.c" | md5sum)" = "$sum" ] ||
		bad "kbuild-install $v: second run changed something"
	! grep -q gen_kheaders.sh "$in/kernel/Makefile" || bad "$v: kernel/Makefile still calls gen_kheaders.sh"
	# Kbuild never needs cpio, perl, tar or xz now: make runs with them
	# hidden (the test itself still uses them as references).
	mkdir -p "$T/nobin"
	for tool in cpio perl tar xz; do printf '#!/bin/sh\necho "%s was run" >&2; exit 1\n' "$tool" > "$T/nobin/$tool"; chmod +x "$T/nobin/$tool"; done
	KPATH=$T/nobin:$PATH check_build "$v in-tree =y" "$in" "" y "$key-y"
	KPATH=$T/nobin:$PATH check_build "$v in-tree =m" "$in" "" m "$key-m"
	[ -d "$in/kernel/kheaders_data.tar.xz.cache" ] || bad "$v: no block cache beside the state"
	kmake "$T/clean.log" -C "$in" clean
	for f in kheaders_data.tar.xz kheaders_data.tar.xz.state kheaders_data.tar.xz.cache kheaders_data.S; do
		[ ! -e "$in/kernel/$f" ] || bad "$v: make clean left kernel/$f"
	done
	rm -rf "$in"

	kt_obj "$v" || { bad "no $v O= tree"; continue; }
	osrc=$T/$v-osrc oobj=$T/$v-oobj
	tc_copy "$KT_SRCTREE" "$osrc" && cp -a "$KT_OBJTREE" "$oobj" &&
		tc_retarget "$oobj" "$KT_SRCTREE" "$osrc" || { bad "copy of the $v O= tree"; continue; }
	"$TOP/scripts/kbuild-install" "$osrc" > "$T/inst.log" || bad "kbuild-install $v O="
	# The O= archive must equal the in-tree one of the same config.
	KPATH=$T/nobin:$PATH check_build "$v O= =y" "$osrc" "$oobj" y "$key-y"
	rm -rf "$osrc" "$oobj"
done

# A tree it does not know is refused, and left alone.
mkdir -p "$T/odd/kernel"; echo 'obj-y += foo.o' > "$T/odd/kernel/Makefile"; echo '/* */' > "$T/odd/kernel/kheaders.c"
if "$TOP/scripts/kbuild-install" "$T/odd" > "$T/odd.log" 2>&1; then
	bad "kbuild-install accepted an unknown tree"
else
	grep -q "refusing to patch" "$T/odd.log" || bad "no clear refusal: $(cat "$T/odd.log")"
	[ "$(cat "$T/odd/kernel/Makefile")" = 'obj-y += foo.o' ] || bad "unknown tree was changed"
	echo "ok   unknown tree refused: $(cat "$T/odd.log")"
fi
exit $fail
