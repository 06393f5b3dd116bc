#!/bin/bash
# The golden sample, byte for byte: for each case in golden-args.sh the
# archive, its tar, its stub and its listing must equal the committed
# files in golden/sample/expected/ (regenerate with `make golden` and
# review the diff). Also: GNU tar, bsdtar and xz read the archive back.
set -eu
. "$TOP/tests/golden-args.sh"
T=$TEST_TMP
exp=$TOP/$GOLDEN_SAMPLE/expected
fail=0
while IFS='|' read -r name args; do
	# shellcheck disable=SC2086
	"$KHEADERS" gen -q --no-state $args --mtime "$GOLDEN_MTIME" -o "$T/$name.tar.xz" \
		--stub "$T/$name.S" --incbin "$name.tar.xz"
	xz -t "$T/$name.tar.xz"
	xz -dc "$T/$name.tar.xz" > "$T/$name.tar"
	TZ=UTC tar -tvf "$T/$name.tar" > "$T/$name.list"
	for ext in tar.xz tar S list; do
		if cmp -s "$exp/$name.$ext" "$T/$name.$ext"; then
			echo "ok   $name.$ext"
		else
			echo "FAIL $name.$ext differs from golden"
			[ "$ext" = list ] && diff "$exp/$name.list" "$T/$name.list"
			fail=1
		fi
	done
	# Other readers agree on the contents.
	bsdtar -tf "$T/$name.tar.xz" > "$T/$name.bsd"
	tar -tf "$T/$name.tar" | diff - "$T/$name.bsd" || { echo "FAIL bsdtar disagrees"; fail=1; }
done < <(golden_cases)

# What stripping must do to a few files (beyond the perl differential
# test): SPDX lines stay, other comments go, "/*" in strings counts.
mkdir "$T/x" && tar -xf "$T/kheaders_data.tar" -C "$T/x"
grep -q 'SPDX-License-Identifier: GPL-2.0 WITH' "$T/x/include/linux/spdx.h" || { echo "FAIL SPDX comment lost"; fail=1; }
! grep -q 'This comment goes' "$T/x/include/linux/spdx.h" || { echo "FAIL comment kept"; fail=1; }
grep -q 'OVERRIDE 1' "$T/x/include/linux/override.h" || { echo "FAIL objtree did not override"; fail=1; }
[ ! -e "$T/x/include/generated/utsversion.h" ] || { echo "FAIL utsversion.h archived"; fail=1; }
! tar -tf "$T/kheaders_data.tar" | grep -E '\.nfs|\.__afs' || { echo "FAIL silly-rename file archived"; fail=1; }
[ "$(readlink "$T/x/include/dt-bindings/input/linux-event-codes.h")" = ../../uapi/linux/input-event-codes.h ] || { echo "FAIL symlink"; fail=1; }
cmp -s "$T/x/include/linux/empty.h" /dev/null || { echo "FAIL empty.h"; fail=1; }
exit $fail
