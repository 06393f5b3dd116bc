#!/bin/bash
# Bad input gets a clear message and the documented exit status (1
# error, 2 usage), and a failed run leaves the previous outputs exactly
# as they were, with no temporary file behind.
set -u
T=$TEST_TMP
S=$TOP/golden/sample
fail=0

expect() {   # status message-substring command...
	local want=$1 msg=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL exit $got, want $want: $*"; cat "$T/err"; fail=1
	elif ! grep -qF -- "$msg" "$T/err" "$T/out"; then
		echo "FAIL no '$msg' in output of: $*"; cat "$T/err"; fail=1
	else
		echo "ok   $want $(head -n 1 "$T/err" "$T/out" | grep -v '^==>' | grep . | head -n 1)"
	fi
}
K=$KHEADERS
G=(gen -q --srctree "$S/src" --objtree "$S/obj" --arch x86 --mtime @0)

# Usage errors: 2.
expect 2 "no command given" "$K"
expect 2 "unknown command 'frobnicate'" "$K" frobnicate
expect 2 "no output" "$K" gen --srctree "$S/src" --arch x86
expect 2 "unknown option '--bogus'" "$K" gen --bogus -o "$T/x.tar.xz"
expect 2 "needs an argument" "$K" gen -o "$T/x.tar.xz" --mtime
expect 2 "--threads wants a number" "$K" "${G[@]}" -o "$T/x.tar.xz" -j 0
expect 2 "unexpected argument 'extra'" "$K" "${G[@]}" -o "$T/x.tar.xz" extra
# Help and version: 0, on stdout.
expect 0 "Usage: kheaders COMMAND" "$K" --help
expect 0 "Usage: kheaders gen" "$K" gen --help
expect 0 "kheaders 0." "$K" --version

# Errors: 1, naming what and why.
expect 1 "--mtime: cannot parse timestamp 'last tuesday'" "$K" "${G[@]}" -o "$T/x.tar.xz" --mtime "last tuesday"
expect 1 "KBUILD_BUILD_TIMESTAMP: cannot parse timestamp '2024-13-01': no such date" \
	env KBUILD_BUILD_TIMESTAMP=2024-13-01 "$K" gen -q --srctree "$S/src" --arch x86 -o "$T/x.tar.xz"
expect 1 "SOURCE_DATE_EPOCH: '12x' is not a number of seconds" \
	env -u KBUILD_BUILD_TIMESTAMP SOURCE_DATE_EPOCH=12x "$K" gen -q --srctree "$S/src" --arch x86 -o "$T/x.tar.xz"
expect 1 "$T/nope: cannot use srctree: No such file or directory" "$K" gen -q --srctree "$T/nope" --arch x86 -o "$T/x.tar.xz"
expect 1 "$S/src/arch/mips/include: cannot read directory: No such file or directory" \
	"$K" gen -q --srctree "$S/src" --objtree "$S/obj" --arch mips -o "$T/x.tar.xz"
expect 1 "no architecture: pass --arch or set SRCARCH" env -u SRCARCH "$K" gen -q --srctree "$S/src" -o "$T/x.tar.xz"
expect 1 "bad architecture name '../x86'" "$K" gen -q --srctree "$S/src" --arch ../x86 -o "$T/x.tar.xz"
expect 1 "$T/missing/x.tar.xz: cannot open its directory: No such file or directory" \
	"$K" "${G[@]}" -o "$T/missing/x.tar.xz"
expect 1 "cannot .incbin a path with a line break" "$K" "${G[@]}" -o "$T/x.tar.xz" --stub "$T/x.S" --incbin "$(printf 'a\nb')"

# A failed run keeps the previous outputs and leaves no temporaries.
mkdir -p "$T/out1"
"$K" "${G[@]}" -o "$T/out1/k.tar.xz" --stub "$T/out1/k.S"
cp "$T/out1/k.tar.xz" "$T/prev.tar.xz"; cp "$T/out1/k.S" "$T/prev.S"
before=$(ls -A "$T/out1")
keeps() {   # label: outputs unchanged, nothing new in the directory
	if cmp -s "$T/out1/k.tar.xz" "$T/prev.tar.xz" && cmp -s "$T/out1/k.S" "$T/prev.S" &&
	   [ "$(ls -A "$T/out1")" = "$before" ]; then
		echo "ok   previous outputs intact after: $1"
	else
		echo "FAIL outputs changed or temporaries left after: $1"; ls -A "$T/out1"; fail=1
	fi
}
# 1. The walk fails (a directory named like a header).
cp -a "$S/src" "$T/bad"; mkdir "$T/bad/include/linux/dir.h"
expect 1 "$T/bad/include/linux/dir.h: is a directory named like a header" \
	"$K" gen -q --srctree "$T/bad" --arch x86 --mtime @5 -o "$T/out1/k.tar.xz" --stub "$T/out1/k.S"
keeps "a directory named dir.h"
rmdir "$T/bad/include/linux/dir.h"
# 2. A FIFO named like a header.
mkfifo "$T/bad/include/linux/fifo.h"
expect 1 "$T/bad/include/linux/fifo.h: is neither a regular file nor a symlink" \
	"$K" gen -q --srctree "$T/bad" --arch x86 --mtime @5 -o "$T/out1/k.tar.xz" --stub "$T/out1/k.S"
keeps "a FIFO named fifo.h"
rm "$T/bad/include/linux/fifo.h"
# 3. Writing fails half-way (file size limit; kheaders ignores SIGXFSZ
#    itself, so the write returns EFBIG as on a full disk).
expect 1 "$T/out1/k.tar.xz: cannot write: File too large" \
	bash -c 'ulimit -f 1; exec "$@"' _ "$K" gen -q --srctree "$T/bad" \
	--arch x86 --mtime @5 -o "$T/out1/k.tar.xz" --stub "$T/out1/k.S"
keeps "a write error (RLIMIT_FSIZE)"
# And a good run then replaces both.
"$K" gen -q --srctree "$T/bad" --arch x86 --mtime @5 -o "$T/out1/k.tar.xz" --stub "$T/out1/k.S"
cmp -s "$T/out1/k.tar.xz" "$T/prev.tar.xz" && { echo "FAIL good run did not replace"; fail=1; }
[ "$(ls -A "$T/out1")" = "$before" ] || { echo "FAIL temporaries after success"; fail=1; }
# The output's mode follows the umask like any new file, not mkstemp's 0600.
[ "$(stat -c %a "$T/out1/k.tar.xz")" = "$(umask -S >/dev/null; printf '%o' $((0666 & ~$(umask))))" ] ||
	{ echo "FAIL output mode $(stat -c %a "$T/out1/k.tar.xz")"; fail=1; }
exit $fail
