# Sourced by tests: the kernel's own gen_kheaders.sh, as the reference.
#
# up_script VERSION   prints the path of linux-source-VERSION's
#                     kernel/gen_kheaders.sh, extracted once into the
#                     test cache (keyed by the package version; the
#                     package installed or fetched, tests/lib/kernel-trees.sh).
# up_run SCRIPT SRCTREE OBJTREE TS OUT
#                     runs SCRIPT the way Kbuild does (cwd = objtree,
#                     SRCARCH/XZ/srctree/building_out_of_srctree in the
#                     environment) and copies the archive to OUT.
# up_ref_y VERSION    prints the path of the archive the in-tree cached
#                     tree of VERSION (tests/lib/kernel-trees.sh, where
#                     CONFIG_IKHEADERS=y) gets from its own rules through
#                     Make: `make kernel/kheaders.o` in a private copy,
#                     KBUILD_BUILD_TIMESTAMP=$UP_TS. Made once per tree
#                     key, under a lock (a second test waits for the
#                     first instead of repeating it), kept in
#                     $KHEADERS_CACHE/upstream-ref/KEY-y.tar.xz (the
#                     make's output beside it, KEY-y.log). t-kbuild-* and
#                     t-upstream-identity share it: the tree's own rules
#                     run a perl per header, about 150 CPU-seconds a tree
#                     on the 2-core machine, the costliest reference.
KH_CACHE=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}
UP_TS="Sat Nov 21 12:00:00 UTC 2026"

up_script() {
	local v=$1 pv dir tarball
	declare -F kt_pkgver >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/kernel-trees.sh"
	pv=$(kt_pkgver "$v") && tarball=$(kt_tarball "$v") || {
		echo "linux-source-$v: neither installed nor fetched (run scripts/deps test)" >&2
		return 1; }
	dir="$KH_CACHE/scripts/$v-$pv"
	if [ ! -f "$dir/gen_kheaders.sh" ]; then
		mkdir -p "$dir" || return 1
		tar -xJf "$tarball" -O "linux-source-$v/kernel/gen_kheaders.sh" \
			> "$dir/gen_kheaders.sh.tmp.$$" || { rm -f "$dir/gen_kheaders.sh.tmp.$$"; return 1; }
		mv "$dir/gen_kheaders.sh.tmp.$$" "$dir/gen_kheaders.sh"
	fi
	echo "$dir/gen_kheaders.sh"
}

up_run() {
	local script=$1 src=$2 obj=$3 ts=$4 out=$5 oot=
	[ "$(cd "$src" && pwd -P)" = "$(cd "$obj" && pwd -P)" ] || oot=1
	mkdir -p "$obj/kernel" && rm -f "$obj/kernel/kheaders.md5" &&
	( cd "$obj" && env SRCARCH=x86 XZ=xz KBUILD_BUILD_TIMESTAMP="$ts" \
		srctree="$src" ${oot:+building_out_of_srctree=1} \
		sh "$script" kernel/kheaders_data.tar.xz >"$out.log" 2>&1 ) &&
	cp "$obj/kernel/kheaders_data.tar.xz" "$out"
}

up_ref_y() {
	local v=$1 tree key dir out
	declare -F kt_src >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/kernel-trees.sh"
	declare -F tc_copy >/dev/null || . "$(dirname "${BASH_SOURCE[0]}")/tree-copy.sh"
	tree=$(kt_src "$v") && key=$(kt_key "$v" intree) || return 1
	dir=$KH_CACHE/upstream-ref
	out=$dir/$key-y.tar.xz
	if [ ! -f "$out" ]; then
		mkdir -p "$dir" || return 1
		(
			exec 9>"$out.lock" || exit 1
			flock -n 9 || { echo "upstream: waiting for another run making $out" >&2; flock 9; } || exit 1
			[ -f "$out" ] && exit 0
			w=$(mktemp -d "${TEST_TMP:-${TMPDIR:-/tmp}}/up-ref.XXXXXX") || exit 1
			tc_copy "$tree" "$w/t" &&
				kt__make "$w/t" -j"$(nproc 2>/dev/null || echo 2)" KBUILD_BUILD_TIMESTAMP="$UP_TS" \
					kernel/kheaders.o >"$dir/$key-y.log" 2>&1 &&
				cp "$w/t/kernel/kheaders_data.tar.xz" "$out.tmp.$BASHPID" &&
				mv "$out.tmp.$BASHPID" "$out"
			rc=$?
			rm -rf "$w" "$out.tmp.$BASHPID"
			[ $rc = 0 ] || { echo "upstream: the $v tree's own rules failed; last lines of $dir/$key-y.log:" >&2
				tail -n 20 "$dir/$key-y.log" >&2; }
			exit $rc
		) || return 1
	fi
	echo "$out"
}

# tar_first_diff A.tar B.tar: describe the first differing header.
tar_first_diff() {
	python3 - "$1" "$2" <<'PY'
import sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
n = min(len(a), len(b))
i = next((i for i in range(n) if a[i] != b[i]), n)
print(f"sizes {len(a)} vs {len(b)}; first difference at byte {i} "
      f"(block {i // 512}, offset {i % 512} in block)")
blk = i // 512 * 512
print("A:", a[blk:blk + 512].rstrip(b'\0')[:300])
print("B:", b[blk:blk + 512].rstrip(b'\0')[:300])
PY
}
