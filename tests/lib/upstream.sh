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
KH_CACHE=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}

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
