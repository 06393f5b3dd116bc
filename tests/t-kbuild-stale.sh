#!/bin/bash
# The stale archive upstream leaves (KERNEL-LINES.md), on real 6.1 and
# 7.3 trees: a config change that rewrites only
# include/generated/autoconf.h (CONFIG_IKCONFIG on) is left out of the
# tree's own rebuild decision, so `make kernel/kheaders.o` with the tree's
# rules keeps an archive whose autoconf.h lacks the new define.
# The test asserts that staleness (so README's claim stays true while
# upstream has the bug), then installs kheaders (scripts/kbuild-install)
# and shows that the same change makes `make kernel/kheaders.o`
# regenerate, with the define in the archive. Private copies of the
# cached trees (tests/lib/tree-copy.sh). Under SAN=1 only 7.3 runs, and
# only kheaders' half (the upstream half runs no kheaders binary).
set -u
. "$TOP/tests/lib/kernel-trees.sh"
. "$TOP/tests/lib/tree-copy.sh"
T=$TEST_TMP
export KBUILD_BUILD_TIMESTAMP="Sat Nov 21 12:00:00 UTC 2026"
fail=0
bad() { echo "FAIL $*"; fail=1; }
ok() { echo "ok   $*"; }
lines=(6.1 7.3)
upstream=1
case $KH_BUILD in */san)
	lines=(7.3) upstream=
	echo "note: SAN=1: 7.3 only, kheaders' half only (the upstream half runs no kheaders); the plain suite runs both halves on 6.1 and 7.3" ;;
esac

kmake() {   # log, make arguments...
	local log=$1; shift
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make ARCH=x86_64 KHEADERS="$KHEADERS" -j"$(nproc)" "$@" > "$log" 2>&1 ||
		{ bad "make $*"; tail -n 30 "$log"; return 1; }
}
# has TREE WHERE: does WHERE (tree or archive) hold CONFIG_IKCONFIG in autoconf.h?
tree_has() { grep -q '^#define CONFIG_IKCONFIG 1$' "$1/include/generated/autoconf.h"; }
archive_has() { tar -xOJf "$1/kernel/kheaders_data.tar.xz" ./include/generated/autoconf.h | grep -q '^#define CONFIG_IKCONFIG 1$'; }
ikconfig() {   # tree, --enable|--disable
	"$1/scripts/config" --file "$1/.config" "$2" IKCONFIG && kmake "$T/cfg.log" -C "$1" olddefconfig
}

# upstream_half LINE TREE: the tree's own rules keep the stale archive.
upstream_half() {
	local v=$1 w=$2
	kmake "$T/u1.log" -C "$w" kernel/kheaders.o || return 1
	archive_has "$w" && { bad "$v: CONFIG_IKCONFIG in the first archive"; return 1; }
	ikconfig "$w" --enable && kmake "$T/u2.log" -C "$w" kernel/kheaders.o || return 1
	if tree_has "$w" && ! archive_has "$w"; then
		ok "$v: the tree's own rules keep a stale archive: autoconf.h has CONFIG_IKCONFIG, the archive's does not$(grep -q 'GEN' "$T/u2.log" || echo ' (no GEN)')"
	else
		bad "$v: the tree's own rules did not leave the archive stale (tree: $(tree_has "$w" && echo has || echo lacks) CONFIG_IKCONFIG, archive: $(archive_has "$w" && echo has || echo lacks) it): README and KERNEL-LINES.md need updating"
	fi
}

for v in "${lines[@]}"; do
	tree=$(kt_src "$v") || { bad "no $v tree"; continue; }
	w=$T/$v
	# 6.1's script hashes `ls -l` of every header, link counts included:
	# with the headers hard links to the cache, another test copying or
	# removing the same tree between the two makes would change that
	# hash and make upstream regenerate (seen once, under load).
	tc_copy "$tree" "$w" && tc_unshare "$w" include arch/x86/include ||
		{ bad "copy of $tree"; continue; }
	"$w/scripts/config" --file "$w/.config" --enable IKHEADERS --disable IKCONFIG &&
		kmake "$T/cfg.log" -C "$w" olddefconfig || continue
	[ -z "$upstream" ] || upstream_half "$v" "$w" || continue

	# kheaders: the same change regenerates.
	rm -rf "$w/kernel/kheaders_data.tar.xz" "$w/kernel/kheaders.md5" "$w/kernel/kheaders-srclist" \
		"$w/kernel/kheaders-objlist" "$w/kernel/.kheaders_data.tar.xz.cmd" "$w/kernel/kheaders.o"
	"$TOP/scripts/kbuild-install" "$w" > "$T/inst.log" 2>&1 || { bad "kbuild-install $v: $(cat "$T/inst.log")"; continue; }
	ikconfig "$w" --disable && kmake "$T/k1.log" -C "$w" kernel/kheaders.o || continue
	archive_has "$w" && { bad "$v: CONFIG_IKCONFIG in kheaders' first archive"; continue; }
	ikconfig "$w" --enable && kmake "$T/k2.log" -C "$w" kernel/kheaders.o || continue
	if tree_has "$w" && archive_has "$w" && grep -q '^  GEN     kernel/kheaders_data.tar.xz$' "$T/k2.log"; then
		ok "$v: with kheaders, make regenerated and the archive's autoconf.h has CONFIG_IKCONFIG"
	else
		bad "$v: with kheaders the archive is stale too"; grep -i kheaders "$T/k2.log"
	fi
	rm -rf "$w"
done
exit $fail
