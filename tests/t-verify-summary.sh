#!/bin/bash
# verify --rebuild of an archive built elsewhere (issue 14, item 3):
#   - no mtime given (no --mtime, KBUILD_BUILD_TIMESTAMP or
#     SOURCE_DATE_EPOCH): the rebuild takes the one timestamp the
#     archive's entries carry and says so; entries with several mtimes
#     are said too, and the rebuild keeps @0;
#   - a difference every entry shares is said once, with its likely
#     cause and the option that matches: another mtime (--mtime @N),
#     directories 02755 (a setgid build directory), a non-root owner
#     (made without --owner=0); the entries are not listed one by one;
#   - a real difference besides (an edited header) is still named alone;
#   - still a difference: exit 1 (-q too), and 0 once the option matches;
#   - the same from standard input and from a kernel image (Image.gz).
# The odd archives are the golden sample re-packed by GNU tar with
# upstream's flags, changed one at a time.
set -u
T=$TEST_TMP
K=$KHEADERS
S=$TOP/golden/sample
. "$TOP/tests/lib/robust.sh"   # rb_ok, rb_bad; fail=0
unset KBUILD_BUILD_TIMESTAMP SOURCE_DATE_EPOCH
export TMPDIR=$T/tmp
mkdir "$TMPDIR"

cp -a "$S/src" "$T/src"
R=(--srctree "$T/src" --objtree "$S/obj" --arch x86)
"$K" gen -q --no-state "${R[@]}" --mtime @1700000000 -o "$T/a.tar.xz" || rb_bad "gen"
N=$(bsdtar -tf "$T/a.tar.xz" | wc -l)
ND=$(bsdtar -tvf "$T/a.tar.xz" | grep -c '^d')

# entries FILE: the lines that name an entry (not the summaries, the
# archive's digests or the verdict).
entries() { grep -c '^\.\(/\|: \| \)' "$1"; }
# summary_only CASE: exit 1 and no entry listed one by one.
summary_only() {
	if [ "$(entries "$T/rb.out")" = 0 ]; then
		rb_ok "$1: no entry listed one by one"
	else
		rb_bad "$1: entries listed: $(entries "$T/rb.out")"; head -5 "$T/rb.out"
	fi
}

# --- the archive's own timestamp -------------------------------------------
rb_expect 0 "$T/a.tar.xz: using the archive's timestamp 2023-11-14 22:13:20 UTC (@1700000000): pass --mtime to check it" \
	"$K" verify --rebuild "${R[@]}" "$T/a.tar.xz"
grep -qx "$T/a.tar.xz: OK" "$T/rb.out" && rb_ok "taken, then OK" || rb_bad "no OK line"
rb_expect 0 "$T/a.tar.xz: OK" "$K" verify --rebuild "${R[@]}" --mtime @1700000000 "$T/a.tar.xz"
grep -q "using the archive's" "$T/rb.out" && rb_bad "--mtime given, yet the archive's timestamp was taken"
rb_expect 0 "" "$K" verify -q --rebuild "${R[@]}" "$T/a.tar.xz"
[ -s "$T/rb.out" ] && rb_bad "-q printed: $(head -1 "$T/rb.out")"

# --- another mtime: said once ----------------------------------------------
rb_expect 1 "$T/a.tar.xz: mtime differs on every entry (rebuild @0, archive @1700000000): built with KBUILD_BUILD_TIMESTAMP 2023-11-14 22:13:20 UTC: pass --mtime @1700000000" \
	"$K" verify --rebuild "${R[@]}" --mtime @0 "$T/a.tar.xz"
summary_only "--mtime @0"
grep -qF "FAIL ($N entries differ)" "$T/rb.out" && rb_ok "the verdict still counts every entry ($N)" ||
	rb_bad "verdict: $(tail -1 "$T/rb.out")"
rb_expect 1 "mtime differs on every entry (rebuild @5 from KBUILD_BUILD_TIMESTAMP, archive @1700000000)" \
	env KBUILD_BUILD_TIMESTAMP=@5 "$K" verify --rebuild "${R[@]}" "$T/a.tar.xz"
summary_only "KBUILD_BUILD_TIMESTAMP=@5"
rb_expect 1 "" "$K" verify -q --rebuild "${R[@]}" --mtime @0 "$T/a.tar.xz"
[ -s "$T/rb.out" ] && rb_bad "-q printed: $(head -1 "$T/rb.out")"

# --- re-packed by GNU tar with upstream's flags ----------------------------
# repack NAME TAR-OPTION...: the sample's tree from a.tar.xz, tarred again.
repack() {
	local name=$1; shift
	tar -cJf "$T/$name.tar.xz" --sort=name --numeric-owner --mode=u=rw,go=r,a+X \
		"$@" -C "$T/$name" . || rb_bad "tar $name"
}
unpack() { mkdir "$T/$1" && tar -xf "$T/a.tar.xz" -C "$T/$1" || rb_bad "unpack $1"; }

# The same flags: the same tar (only xz's stream differs from gen's blocks).
unpack same
repack same --mtime=@1700000000 --owner=0 --group=0
rb_expect 1 "FAIL (compression only: the tar inside matches" \
	"$K" verify --rebuild "${R[@]}" "$T/same.tar.xz"

# A setgid build directory: --mode keeps the bit on every directory.
unpack sg
find "$T/sg" -type d -exec chmod g+s {} +
repack sg --mtime=@1700000000 --owner=0 --group=0
rb_expect 1 "$T/sg.tar.xz: mode differs on every directory (rebuild 0755, archive 02755): the build directory was setgid" \
	"$K" verify --rebuild "${R[@]}" --mtime @1700000000 "$T/sg.tar.xz"
summary_only "setgid directories"
grep -qF "FAIL ($ND entries differ)" "$T/rb.out" && rb_ok "setgid: the verdict counts the $ND directories" ||
	rb_bad "setgid verdict: $(tail -1 "$T/rb.out")"
# Without --mtime too: the timestamp is taken, the mode summarised.
rb_expect 1 "mode differs on every directory (rebuild 0755, archive 02755)" \
	"$K" verify --rebuild "${R[@]}" "$T/sg.tar.xz"
grep -qF "using the archive's timestamp" "$T/rb.out" && rb_ok "setgid, no --mtime: timestamp taken" ||
	rb_bad "setgid, no --mtime: no timestamp taken"
summary_only "setgid, no --mtime"

# A builder's owner: made without --owner=0 --group=0.
unpack own
repack own --mtime=@1700000000 --owner=1000 --group=1000
rb_expect 1 "$T/own.tar.xz: owner differs on every entry (rebuild 0:0, archive 1000:1000): made without tar's --owner=0 --group=0" \
	"$K" verify --rebuild "${R[@]}" "$T/own.tar.xz"
summary_only "owner 1000:1000"
rb_expect 1 "(standard input): owner differs on every entry" \
	sh -c 'f=$1; shift; "$0" "$@" - <"$f"' "$K" "$T/own.tar.xz" verify --rebuild "${R[@]}"
summary_only "owner, from standard input"
# And from a kernel image: the archive between its markers in a raw
# image, gzip-compressed as arm64's Image.gz.
{ seq 1 20000; printf IKHD_ST; cat "$T/own.tar.xz"; printf IKHD_ED; seq 1 5000; } | gzip -n >"$T/Image.gz"
rb_expect 1 "$T/Image.gz: owner differs on every entry (rebuild 0:0, archive 1000:1000)" \
	"$K" verify --rebuild "${R[@]}" "$T/Image.gz"
grep -qF "$T/Image.gz: using the archive's timestamp" "$T/rb.out" && rb_ok "Image.gz: the timestamp taken too" ||
	rb_bad "Image.gz: no timestamp taken"
summary_only "owner, from an Image.gz"
rb_expect 1 "" "$K" verify -q --rebuild "${R[@]}" "$T/own.tar.xz"
[ -s "$T/rb.out" ] && rb_bad "-q printed: $(head -1 "$T/rb.out")"

# Several mtimes (no KBUILD_BUILD_TIMESTAMP upstream: the copy's times).
unpack many
find "$T/many" -exec touch -h -d @1700000000 {} +
touch -h -d @1700000100 "$T/many/include/linux/a.h"
repack many --owner=0 --group=0
rb_expect 1 "$T/many.tar.xz: the archive's entries carry several mtimes (@1700000000 to @1700000100): rebuilding with @0" \
	"$K" verify --rebuild "${R[@]}" "$T/many.tar.xz"
grep -qF "mtime differs on every entry (rebuild @0, archive @1700000000 to @1700000100): built without KBUILD_BUILD_TIMESTAMP" "$T/rb.out" &&
	rb_ok "several mtimes: summarised with their range" || { rb_bad "several mtimes: no summary"; head -3 "$T/rb.out"; }
summary_only "several mtimes"

# --- a real difference besides a shared one --------------------------------
cp -a "$S/src" "$T/edit"
printf '#define EDITED 1\n' >>"$T/edit/include/linux/plain.h"
"$K" gen -q --no-state --srctree "$T/edit" --objtree "$S/obj" --arch x86 --mtime @1700000000 \
	-o "$T/e.tar.xz" || rb_bad "gen edited"
rb_expect 1 "mtime differs on every entry (rebuild @0, archive @1700000000)" \
	"$K" verify --rebuild "${R[@]}" --mtime @0 "$T/e.tar.xz"
if [ "$(entries "$T/rb.out")" = 1 ] &&
	grep -q '^\./include/linux/plain\.h: content differs (rebuild ' "$T/rb.out"; then
	rb_ok "uniform mtime + an edit: the edited header alone is listed"
else
	rb_bad "uniform mtime + an edit:"; cat "$T/rb.out"
fi
rb_expect 1 "FAIL (1 entry differs)" "$K" verify --rebuild "${R[@]}" "$T/e.tar.xz"
[ "$(entries "$T/rb.out")" = 1 ] && grep -qF "using the archive's timestamp" "$T/rb.out" &&
	grep -q '^\./include/linux/plain\.h: content differs' "$T/rb.out" &&
	rb_ok "no --mtime + an edit: timestamp taken, the edit alone listed" ||
	{ rb_bad "no --mtime + an edit:"; cat "$T/rb.out"; }

[ -z "$(ls -A "$TMPDIR")" ] && rb_ok "nothing left in TMPDIR" || rb_bad "left in TMPDIR: $(ls -A "$TMPDIR")"
exit $fail
