#!/bin/bash
# The folders are the layers (README, Architecture), lowest first:
#   lib/ < gen/ < manifest/ < extract/ < cli/
# A file may include its own folder and lower ones, never a higher
# one, and every include of ours names its folder ("gen/kh_walk.h"),
# so that a crossing is visible in the include line itself. kernel/
# is the kernel module: built by Kbuild, it includes nothing of ours,
# and no host code lives there. The Makefile gives the compiler the
# top directory only (-I.), so an include without its folder does not
# build. This test reads the sources; it checks the rule, not a build.
set -u
cd "$TOP" || exit 1
fail=0
bad() { echo "FAIL $*"; fail=1; }
declare -A rank=([lib]=0 [gen]=1 [manifest]=2 [extract]=3 [cli]=4)
n=0
for f in lib/*.[ch] gen/*.[ch] manifest/*.[ch] extract/*.[ch] cli/*.[ch]; do
	[ -f "$f" ] || continue
	own=${f%%/*}
	while IFS=: read -r line inc; do
		n=$((n + 1))
		case $inc in
		*/*) ;;
		*) bad "$f:$line: #include \"$inc\" does not name its folder"; continue ;;
		esac
		dir=${inc%%/*}
		[ -f "$inc" ] || { bad "$f:$line: #include \"$inc\": no such file"; continue; }
		[ -n "${rank[$dir]+x}" ] || { bad "$f:$line: #include \"$inc\": $dir/ is not a layer"; continue; }
		[ "${rank[$dir]}" -le "${rank[$own]}" ] ||
			bad "$f:$line: $own/ includes \"$inc\" from the higher layer $dir/"
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done
[ "$n" -gt 100 ] || bad "only $n includes read: the scan is broken"
echo "ok   $n includes of ours, each names its folder and no lower layer includes a higher one"

# No host code in kernel/: only the module and its Kbuild files.
extra=$(ls kernel | grep -v -x -e kheaders.c -e Kbuild -e Makefile)
[ -z "$extra" ] && echo "ok   kernel/ holds the kernel module only" ||
	bad "kernel/ holds more than the module: $extra"
grep -q '#include "' kernel/kheaders.c && bad "kernel/kheaders.c includes a header of ours"

# Only the top of the tree on the include path.
inc=$(sed -n '/^KH_CFLAGS :=/,/[^\\]$/p' Makefile | grep -o -- '-I[^ ]*' | sort -u | tr '\n' ' ')
[ "$inc" = "-I. " ] && echo "ok   the Makefile's include path is the top directory only" ||
	bad "the Makefile's include flags are '$inc', want '-I.' alone"
exit $fail
