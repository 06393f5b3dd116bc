#!/bin/bash
# The golden sample through the kernel's own gen_kheaders.sh (6.1 and
# 6.12, i.e. GNU tar with upstream's flags, cpio and perl) and through
# kheaders gen --xz-single: the tars and the .tar.xz files must be byte-identical,
# in-tree and out-of-tree. The one deliberate difference, that we never
# archive include/generated/utsversion.h, is taken out of the copy the
# upstream script sees, and checked separately (see README).
set -eu
. "$TOP/tests/lib/upstream.sh"
T=$TEST_TMP
TS="Fri Feb 13 23:31:30 UTC 2009"

cp -a "$TOP/golden/sample/src" "$T/src"
cp -a "$TOP/golden/sample/obj" "$T/obj"
rm "$T/src/include/generated/utsversion.h" "$T/obj/include/generated/utsversion.h"

fail=0
check() {   # name script srctree objtree
	local name=$1 script=$2 src=$3 obj=$4
	up_run "$script" "$src" "$obj" "$TS" "$T/$name-up.tar.xz"
	# Ours runs on the pristine sample, utsversion.h included.
	local osrc="$TOP/golden/sample/src" oobj="$TOP/golden/sample/obj"
	[ "$src" = "$obj" ] && oobj=$osrc
	"$KHEADERS" gen -q --xz-single --srctree "$osrc" --objtree "$oobj" --arch x86 \
		--mtime "$TS" -o "$T/$name-ours.tar.xz"
	xz -dc "$T/$name-up.tar.xz" > "$T/$name-up.tar"
	xz -dc "$T/$name-ours.tar.xz" > "$T/$name-ours.tar"
	if ! cmp "$T/$name-up.tar" "$T/$name-ours.tar"; then
		echo "$name: tar differs from upstream's"
		tar_first_diff "$T/$name-up.tar" "$T/$name-ours.tar"
		diff <(tar -tvf "$T/$name-up.tar") <(tar -tvf "$T/$name-ours.tar") || true
		fail=1
	elif ! cmp "$T/$name-up.tar.xz" "$T/$name-ours.tar.xz"; then
		echo "$name: tar identical, .tar.xz differs"
		fail=1
	else
		echo "ok   $name: identical ($(stat -c %s "$T/$name-ours.tar") bytes of tar," \
			"$(stat -c %s "$T/$name-ours.tar.xz") of xz)"
	fi
}

for v in 6.1 6.12; do
	script=$(up_script "$v")
	check "$v-out-of-tree" "$script" "$T/src" "$T/obj"
	check "$v-in-tree" "$script" "$T/src" "$T/src"
	rm -rf "$T/src/kernel" "$T/obj/kernel"
done

# The difference we keep on purpose: upstream (before 6.14) archives
# utsversion.h when it exists; we never do.
if tar -tf "$T/6.12-in-tree-ours.tar" | grep -q utsversion.h; then
	echo "utsversion.h was archived"; fail=1
fi
exit $fail
