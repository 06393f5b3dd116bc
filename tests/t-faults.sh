#!/bin/bash
# Faults in every subcommand that writes: gen (archive, stub, manifest,
# state), manifest -o, stub -o, extract (its temporary tree) and verify
# --rebuild (its temporary directory). For each:
#   - a read-only output directory, without privileges (CI runs as
#     root, and root writes anywhere);
#   - a full disk: RLIMIT_FSIZE, and a small tmpfs (mounted here, or in
#     a user namespace; said so if neither is allowed);
#   - SIGINT and SIGKILL at a chosen moment (tests/tools/shim-fault.so
#     stalls the run right there: before a rename, in the middle of a
#     tree), not after a guessed sleep;
#   - two runs at once, one of them stalled while the other runs whole.
# Afterwards the previous outputs and gen's state are intact, or a
# rerun repairs them, and no temporary file or directory is left; a
# rerun after SIGKILL sweeps what the killed run left. Messages name
# the path, what failed and why; exit statuses are kheaders(1)'s.
# (t-gen-faults.sh has SIGINT, SIGKILL and concurrency for gen on a
# bigger tree, t-gen-errors.sh RLIMIT_FSIZE for gen's archive.)
set -u
T=$TEST_TMP
K=$KHEADERS
S=$TOP/golden/sample
fail=0
. "$TOP/tests/lib/robust.sh"
MT="Fri Feb 13 23:31:30 UTC 2009"
R=(--srctree "$T/src" --objtree "$T/obj" --arch x86 --mtime "$MT")

# tmpfs cases run here, or re-run this script in a user namespace.
if [ "${1:-}" = --tmpfs ]; then TMPFS_ONLY=1; else TMPFS_ONLY=0; fi

cp -a "$S/src" "$T/src"
cp -a "$S/obj" "$T/obj"
A=$T/ref.tar.xz
"$K" gen -q --no-state "${R[@]}" -o "$A" || rb_bad "reference archive"
"$K" manifest -o "$T/ref.mtree" "$A" || rb_bad "reference manifest"

# sums DIR NAMES...: content and inode of each, to prove "untouched".
sums() { local d=$1; shift; (cd "$d" && for f in "$@"; do echo "$(stat -c %i "$f") $(sha256sum < "$f")"; done); }
# No temporary directory beside an extraction target, none in a TMPDIR.
no_xtmp() { [ -z "$(ls -A "$(dirname "$1")" | grep -F ".$(basename "$1").kheaders-")" ]; }
extracted() { diff -r --no-dereference "$1" "$T/ref-x" >/dev/null; }
"$K" extract "$A" "$T/ref-x" || rb_bad "reference extraction"

tmpfs_cases() {
	local M=$1 free
	# gen: the disk fills up while the archive is written. Random text
	# compresses to more than the space left.
	G=(gen -q "${R[@]}" -o "$M/k.tar.xz" --stub "$M/k.S" --manifest "$M/k.mtree")
	"$K" "${G[@]}" || rb_bad "tmpfs: first gen"
	O=(k.tar.xz k.S k.mtree k.tar.xz.state)
	sums "$M" "${O[@]}" > "$T/tm.good"
	head -c 900000 /dev/urandom | base64 > "$T/src/include/linux/noise.h"
	rb_expect 1 "$M/k.tar.xz: cannot write: No space left on device" "$K" "${G[@]}"
	sums "$M" "${O[@]}" | cmp -s - "$T/tm.good" && rb_quiet_dir "$M" "${O[@]}" &&
		rb_ok "tmpfs full during gen: outputs and state intact, no temporary" ||
		rb_bad "tmpfs full during gen: outputs changed or temporaries left"
	# (and an archive that unpacks to more than the tmpfs holds)
	"$K" gen -q --no-state "${R[@]}" --xz-preset 0 -o "$T/noisy.tar.xz" || rb_bad "noisy archive"
	rm "$T/src/include/linux/noise.h"
	"$K" "${G[@]:0:1}" -v "${G[@]:2}" 2>&1 | grep -q "up to date" &&
		rb_ok "tmpfs: the next run on the old tree finds everything up to date" ||
		rb_bad "tmpfs: the next run is not up to date"
	# The rest: a disk already full (a filler takes what is left).
	"$K" manifest -o "$M/m.mtree" "$A" || rb_bad "tmpfs: manifest -o"
	sums "$M" m.mtree > "$T/tm.m"
	head -c 64M /dev/zero > "$M/filler" 2>/dev/null
	rb_expect 1 "$M/m.mtree: cannot write: No space left on device" "$K" manifest -o "$M/m.mtree" "$A"
	sums "$M" m.mtree | cmp -s - "$T/tm.m" && rb_quiet_dir "$M" filler m.mtree "${O[@]}" &&
		rb_ok "tmpfs full: manifest -o keeps the previous manifest, no temporary" ||
		rb_bad "tmpfs full: manifest -o changed it or left a temporary"
	mkdir "$M/tmp"
	rb_expect 2 "No space left on device" env TMPDIR="$M/tmp" "$K" verify --rebuild "${R[@]}" "$A"
	rb_quiet_dir "$M/tmp" && rb_ok "tmpfs full: verify --rebuild leaves nothing in TMPDIR" ||
		rb_bad "tmpfs full: verify --rebuild left a temporary"
	rm -f "$M/filler"
	# The disk fills up half-way through the tree.
	rb_expect 1 "No space left on device" "$K" extract "$T/noisy.tar.xz" "$M/x"
	[ ! -e "$M/x" ] && no_xtmp "$M/x" &&
		rb_ok "tmpfs full half-way through extract: no DIR, no temporary tree" ||
		rb_bad "tmpfs full during extract: left $(ls -A "$M")"
	"$K" extract "$A" "$M/x" && extracted "$M/x" && no_xtmp "$M/x" &&
		rb_ok "tmpfs with room again: extract works" || rb_bad "tmpfs: extract after the fault"
}

if [ $TMPFS_ONLY = 1 ]; then
	rb_tmpfs "$T/tmpfs" 512k || { echo "FAIL cannot mount a tmpfs in the namespace"; exit 1; }
	tmpfs_cases "$T/tmpfs"
	exit $fail
fi

# ---- A read-only output directory, without privileges.
P=$(rb_priv)
cp "$K" "$P/kheaders"
cp "$A" "$P/a.tar.xz"
cp -a "$S/src" "$P/src"
mkdir "$P/out" "$P/tmp"
rb_own "$P/out" "$P/tmp"
KP=$P/kheaders
PG=(gen -q --srctree "$P/src" --objtree "$P/src" --arch x86 --mtime @9 -o "$P/out/k.tar.xz"
    --stub "$P/out/k.S" --manifest "$P/out/k.mtree")
PO=(k.tar.xz k.S k.mtree k.tar.xz.state m.mtree s.S)
rb_nobody "$KP" "${PG[@]}" && rb_nobody "$KP" manifest -o "$P/out/m.mtree" "$P/a.tar.xz" &&
	rb_nobody "$KP" stub --incbin k.tar.xz -o "$P/out/s.S" || rb_bad "unprivileged first runs"
sums "$P/out" "${PO[@]}" > "$T/ro.good"
chmod 555 "$P/out" "$P/tmp"
rb_expect 0 "" rb_nobody "$KP" "${PG[@]}"
rb_ok "read-only directory, outputs up to date: gen has nothing to write and succeeds"
echo '#define RO 1' > "$P/src/include/linux/ro.h"
rb_expect 1 "$P/out/k.S: cannot create temporary file: Permission denied" rb_nobody "$KP" "${PG[@]}"
rb_expect 1 "$P/out/m.mtree: cannot create temporary file: Permission denied" \
	rb_nobody "$KP" manifest -o "$P/out/m.mtree" "$P/a.tar.xz"
rb_expect 1 "$P/out/s.S: cannot create temporary file: Permission denied" \
	rb_nobody "$KP" stub --incbin k.tar.xz -o "$P/out/s.S"
rb_expect 1 "$P/out/x: cannot create temporary directory $P/out/.x.kheaders-XXXXXX: Permission denied" \
	rb_nobody "$KP" extract "$P/a.tar.xz" "$P/out/x"
rb_expect 2 "$P/tmp: cannot create temporary directory $P/tmp/kheaders-verify.XXXXXX: Permission denied" \
	rb_nobody env TMPDIR="$P/tmp" "$KP" verify --rebuild --srctree "$P/src" --arch x86 --mtime @9 "$P/a.tar.xz"
sums "$P/out" "${PO[@]}" | cmp -s - "$T/ro.good" && rb_quiet_dir "$P/out" "${PO[@]}" &&
	rb_quiet_dir "$P/tmp" && rb_ok "read-only: every output intact, no temporary" ||
	rb_bad "read-only: outputs changed or temporaries left"
chmod 755 "$P/out"
rb_nobody "$KP" "${PG[@]}" && "$K" manifest "$P/out/k.tar.xz" | grep -q '^\./include/linux/ro\.h ' &&
	rb_ok "writable again: the rerun rebuilds" || rb_bad "rerun after read-only"

# ---- A full disk: RLIMIT_FSIZE. kheaders ignores SIGXFSZ itself, so
# writes fail with EFBIG as they would with ENOSPC; the shell here does
# not, so this is what a user sees.
# The limit holds for every file the process writes, stderr included
# when it is a file: messages go through a pipe to an unlimited cat.
fsize() {
	local kb=$1 rc
	shift
	{ bash -c 'ulimit -f '"$kb"'; exec "$@"' _ "$@" 2>&1 >&3 3>&- |
		cat >&2; rc=${PIPESTATUS[0]}; } 3>&1
	return "$rc"
}
O=$T/fs
mkdir "$O"
G=(gen -q "${R[@]}" -o "$O/k.tar.xz" --stub "$O/k.S")
"$K" "${G[@]}" && "$K" manifest -o "$O/m.mtree" "$A" && "$K" stub --incbin k.tar.xz -o "$O/s.S" ||
	rb_bad "RLIMIT_FSIZE: first runs"
FO=(k.tar.xz k.S k.tar.xz.state m.mtree s.S)
sums "$O" "${FO[@]}" > "$T/fs.good"
rb_expect 1 "$O/m.mtree: cannot write: File too large" fsize 1 "$K" manifest -o "$O/m.mtree" "$A"
rb_expect 1 "$O/s.S: cannot write: File too large" fsize 0 "$K" stub --incbin x -o "$O/s.S"
sums "$O" "${FO[@]}" | cmp -s - "$T/fs.good" && rb_quiet_dir "$O" "${FO[@]}" &&
	rb_ok "RLIMIT_FSIZE: manifest -o and stub -o keep the previous files, no temporary" ||
	rb_bad "RLIMIT_FSIZE: manifest -o or stub -o changed a file or left a temporary"
rb_expect 1 "File too large" fsize 0 "$K" extract "$A" "$T/fx"
[ ! -e "$T/fx" ] && no_xtmp "$T/fx" && rb_ok "RLIMIT_FSIZE: extract leaves no DIR and no temporary tree" ||
	rb_bad "RLIMIT_FSIZE: extract left something"
mkdir "$T/vtmp"
rb_expect 2 "rebuilt.tar.xz: cannot write: File too large" \
	fsize 1 env TMPDIR="$T/vtmp" "$K" verify --rebuild "${R[@]}" "$A"
rb_quiet_dir "$T/vtmp" && rb_ok "RLIMIT_FSIZE: verify --rebuild leaves nothing in TMPDIR" ||
	rb_bad "RLIMIT_FSIZE: verify --rebuild left a temporary"
# The state is written last: an archive that fits and a state that does
# not leave a new archive beside the old state. The next run sees the
# archive differ from its record, rebuilds, and all is consistent again.
printf '#define FS 1\n' > "$T/src/include/linux/fs.h"
rb_expect 1 "$O/k.tar.xz.state: cannot write: File too large" fsize 3 "$K" "${G[@]}"
rb_quiet_dir "$O" "${FO[@]}" || rb_bad "RLIMIT_FSIZE on the state left a temporary"
"$K" "${G[@]:0:1}" -v "${G[@]:2}" 2> "$T/v" >/dev/null && grep -q "rebuilt because .*k.tar.xz: differs from what was built" "$T/v" &&
	"$K" "${G[@]:0:1}" -v "${G[@]:2}" 2>&1 | grep -q "up to date" &&
	rb_ok "state not written: the next run rebuilds, the one after is up to date" ||
	{ rb_bad "state not written: no repair"; cat "$T/v"; }
rm "$T/src/include/linux/fs.h"

# ---- A small tmpfs: full for real.
if rb_tmpfs "$T/tmpfs" 512k; then
	tmpfs_cases "$T/tmpfs"
elif unshare --user --map-root-user --mount true 2>/dev/null; then
	echo "     (no mount here: the tmpfs cases run in a user namespace)"
	unshare --user --map-root-user --mount bash "$0" --tmpfs || fail=1
else
	echo "NOTE this machine allows no tmpfs mount (not root, no user namespaces):"
	echo "     full-disk cases ran with RLIMIT_FSIZE only"
fi

# ---- SIGINT and SIGKILL at chosen moments.
O=$T/sig
mkdir "$O"
G=(gen -q "${R[@]}" -o "$O/k.tar.xz" --stub "$O/k.S" --manifest "$O/k.mtree")
"$K" "${G[@]}" && "$K" manifest -o "$O/m.mtree" "$A" || rb_bad "signals: first runs"
SO=(k.tar.xz k.S k.mtree k.tar.xz.state m.mtree)
sums "$O" "${SO[@]}" > "$T/sig.good"
intact() {
	if sums "$O" "${SO[@]}" | cmp -s - "$T/sig.good" && rb_quiet_dir "$O" "${SO[@]}"; then
		rb_ok "$1: previous outputs intact, no temporary"
	else
		rb_bad "$1: outputs changed or temporaries left"
	fi
}
printf '#define SIG 1\n' > "$T/src/include/linux/sig.h"
# gen, stopped before the archive replaces the old one (stub and
# manifest temporaries written too).
rc=$(rb_stall INT KH_FAULT_CALL=rename KH_FAULT_PATH="$O/k.tar.xz" "$K" "${G[@]}")
[ "$rc" = 130 ] || rb_bad "gen, SIGINT before the rename: exit $rc, want 130"
intact "gen, SIGINT before the rename"
rc=$(rb_stall KILL KH_FAULT_CALL=rename KH_FAULT_PATH="$O/k.tar.xz" "$K" "${G[@]}")
[ "$rc" = 137 ] || rb_bad "gen, SIGKILL: exit $rc, want 137"
sums "$O" "${SO[@]}" | cmp -s - "$T/sig.good" && rb_ok "gen, SIGKILL before the rename: outputs intact ($(ls -A "$O" | grep -c '^\.') temporaries left)" ||
	rb_bad "gen, SIGKILL: outputs changed"
# Killed between the archive and its state: new archive, old state.
rc=$(rb_stall KILL KH_FAULT_CALL=rename KH_FAULT_PATH=k.tar.xz.state "$K" "${G[@]}")
[ "$rc" = 137 ] || rb_bad "gen, SIGKILL before the state: exit $rc"
"$K" "${G[@]:0:1}" -v "${G[@]:2}" 2>"$T/v" >/dev/null && grep -q "rebuilt because" "$T/v" &&
	rb_quiet_dir "$O" "${SO[@]}" && "$K" verify --manifest "$O/k.mtree" "$O/k.tar.xz" >/dev/null &&
	"$K" "${G[@]:0:1}" -v "${G[@]:2}" 2>&1 | grep -q "up to date" &&
	rb_ok "gen after SIGKILL: the rerun rebuilds, sweeps the temporaries, then is up to date" ||
	{ rb_bad "gen after SIGKILL: not repaired"; cat "$T/v"; ls -A "$O"; }
rm "$T/src/include/linux/sig.h"
"$K" "${G[@]}" || rb_bad "gen back"
sums "$O" "${SO[@]}" > "$T/sig.good"
# manifest -o, stopped before the rename.
rc=$(rb_stall INT KH_FAULT_CALL=rename KH_FAULT_PATH=m.mtree "$K" manifest -o "$O/m.mtree" "$O/k.tar.xz")
[ "$rc" = 130 ] || rb_bad "manifest -o, SIGINT: exit $rc, want 130"
intact "manifest -o, SIGINT before the rename"
rc=$(rb_stall KILL KH_FAULT_CALL=rename KH_FAULT_PATH=m.mtree "$K" manifest -o "$O/m.mtree" "$O/k.tar.xz")
[ "$rc" = 137 ] && [ "$(ls -A "$O" | grep -c '^\.m\.mtree\.')" = 1 ] ||
	rb_bad "manifest -o, SIGKILL: exit $rc (want 137), temporaries: $(ls -A "$O" | grep '^\.')"
"$K" manifest -o "$O/m.mtree" "$O/k.tar.xz" && rb_quiet_dir "$O" "${SO[@]}" &&
	rb_ok "manifest -o after SIGKILL: the rerun sweeps the temporary" || rb_bad "manifest -o: no sweep"
sums "$O" "${SO[@]}" > "$T/sig.good"
# extract, stopped in the middle of the tree.
X=$T/sx
rc=$(rb_stall INT KH_FAULT_PATH=include/linux/plain.h "$K" extract "$A" "$X")
[ "$rc" = 130 ] && [ ! -e "$X" ] && no_xtmp "$X" &&
	rb_ok "extract, SIGINT half-way: exit 130, no DIR, no temporary tree" ||
	rb_bad "extract, SIGINT: exit $rc, left $(ls -A "$T" | grep sx)"
rc=$(rb_stall KILL KH_FAULT_PATH=include/linux/plain.h "$K" extract "$A" "$X")
[ "$rc" = 137 ] && [ ! -e "$X" ] && ! no_xtmp "$X" ||
	rb_bad "extract, SIGKILL: exit $rc, want 137 and a temporary tree left"
"$K" extract "$A" "$X" && extracted "$X" && no_xtmp "$X" &&
	rb_ok "extract after SIGKILL: the rerun sweeps the dead tree and extracts" ||
	rb_bad "extract after SIGKILL: $(ls -A "$T" | grep sx)"
# verify --rebuild, stopped while rebuilding.
mkdir "$T/stmp"
V=(env TMPDIR="$T/stmp" "$K" verify --rebuild "${R[@]}" "$A")
rc=$(rb_stall INT KH_FAULT_PATH=include/linux/plain.h "${V[@]}")
[ "$rc" = 130 ] && rb_quiet_dir "$T/stmp" &&
	rb_ok "verify --rebuild, SIGINT while rebuilding: exit 130, nothing left in TMPDIR" ||
	rb_bad "verify --rebuild, SIGINT: exit $rc"
rc=$(rb_stall KILL KH_FAULT_PATH=include/linux/plain.h "${V[@]}")
[ "$rc" = 137 ] && [ -n "$(ls -A "$T/stmp")" ] || rb_bad "verify --rebuild, SIGKILL: exit $rc, want 137 and a leftover"
rb_expect 0 "$A: OK" "${V[@]}"
rb_quiet_dir "$T/stmp" && rb_ok "verify --rebuild after SIGKILL: the next run sweeps the dead directory" ||
	rb_bad "verify --rebuild: no sweep"

# ---- Two runs at once. One is held mid-way (shim stall) while the
# other runs whole: the second must not sweep the live run's
# temporaries, and the held one, released (SIGUSR1), must finish right.
X=$T/cx
rb_held KH_FAULT_PATH=include/linux/plain.h "$K" extract "$A" "$X"
"$K" extract "$A" "$X" && extracted "$X" || rb_bad "extract: the free run failed"
[ -n "$(ls -A "$T" | grep -F '.cx.kheaders-')" ] || rb_bad "extract: the free run swept a live run's tree"
rb_release; rc=$RC
[ "$rc" = 1 ] && grep -q "$X: appeared while extracting: not replacing it" "$T/held.err" &&
	no_xtmp "$X" && extracted "$X" &&
	rb_ok "two extracts into one DIR: one wins, the other says so and leaves nothing" ||
	{ rb_bad "two extracts: held one exit $rc"; cat "$T/held.err"; }
mkdir "$T/ctmp"
V=(env TMPDIR="$T/ctmp" "$K" verify --rebuild "${R[@]}" "$A")
rb_held KH_FAULT_PATH=include/linux/plain.h "${V[@]}"
"${V[@]}" >/dev/null || rb_bad "verify: the free run failed"
[ -n "$(ls -A "$T/ctmp")" ] || rb_bad "verify: the free run swept a live run's directory"
rb_release; rc=$RC
[ "$rc" = 0 ] && rb_quiet_dir "$T/ctmp" &&
	rb_ok "two verify --rebuild at once: both OK, nothing left in TMPDIR" ||
	{ rb_bad "two verify --rebuild: held one exit $rc"; cat "$T/held.err"; }
rb_held KH_FAULT_CALL=rename KH_FAULT_PATH=m.mtree "$K" manifest -o "$O/m.mtree" "$A"
"$K" manifest -o "$O/m.mtree" "$A" &
FREE=$!
sleep 1
kill -0 $FREE 2>/dev/null && rb_ok "manifest -o: a second writer waits for the directory's lock" ||
	rb_bad "manifest -o: the second writer did not wait"
rb_release; rc=$RC
wait $FREE; rc2=$?
[ "$rc/$rc2" = 0/0 ] && cmp -s "$O/m.mtree" "$T/ref.mtree" && rb_quiet_dir "$O" "${SO[@]}" &&
	rb_ok "two manifest -o at once: both succeed, one complete file, no temporary" ||
	rb_bad "two manifest -o: exits $rc and $rc2"
exit $fail
