#!/bin/bash
# Manifests on the golden sample.
#
# - `gen --manifest` writes golden/sample/expected/NAME.mtree byte for
#   byte (regenerate with `make golden`; a new tool version changes the
#   "# tool:" line), and `kheaders manifest` on the archive gives the
#   same entry lines and digests;
# - bsdtar reads the manifest: `bsdtar -tvf FILE.mtree` lists what
#   `bsdtar -tvf FILE.tar.xz` lists (names, types, modes, sizes, times,
#   link targets), "name with spaces.h" included;
# - the same archive gives the same bytes: twice, from stdin, under
#   another TZ, locale, umask and working directory;
# - verify: OK on the archive; FAIL, naming the entry, on a flipped
#   byte, a missing file, an extra file, a changed mode and a reordered
#   archive; "compression only" and "tar headers only" verdicts; exit
#   statuses 0/1/2; a corrupt .tar.xz or manifest is trouble (2);
# - verify --rebuild: OK, then after an edit names exactly that header,
#   a comment-only edit is invisible (stripped), a wrong mtime is named;
# - gen's skip logic: a missing, edited or stale manifest is rewritten
#   without rebuilding the archive; an up-to-date one is not touched;
#   a failure to write it leaves the previous outputs.
set -u
. "$TOP/tests/golden-args.sh"
T=$TEST_TMP
K=$KHEADERS
S=$TOP/$GOLDEN_SAMPLE
exp=$S/expected
fail=0

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# expect STATUS OUTPUT-SUBSTRING command...: run, check status and text.
expect() {
	local want=$1 msg=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	local got=$?
	if [ "$got" != "$want" ]; then
		bad "exit $got, want $want: $*"; sed 's/^/      /' "$T/out" "$T/err" | head -20
	elif ! grep -qF -- "$msg" "$T/out" "$T/err"; then
		bad "no '$msg' from: $*"; sed 's/^/      /' "$T/out" "$T/err" | head -20
	else
		ok "$want: $(grep -hF -- "$msg" "$T/out" "$T/err" | head -n 1)"
	fi
}

# entry_lines FILE: the lines of verify's output that name entries (not
# the archive's own digests or the verdict).
entry_lines() { grep '^\./\|^\. ' "$1"; }

# --- golden and readers ----------------------------------------------------
while IFS='|' read -r name args; do
	# shellcheck disable=SC2086
	"$K" gen -q --no-state $args --mtime "$GOLDEN_MTIME" \
		-o "$T/$name.tar.xz" --manifest "$T/$name.mtree" || bad "gen $name"
	if cmp -s "$exp/$name.mtree" "$T/$name.mtree"; then
		ok "$name.mtree equals golden"
	else
		bad "$name.mtree differs from golden"; diff "$exp/$name.mtree" "$T/$name.mtree" | head
	fi
	# kheaders manifest: same entries and digests; only how-it-was-built
	# facts differ (unknown from an archive alone).
	"$K" manifest "$T/$name.tar.xz" >"$T/$name.any.mtree" || bad "manifest $name"
	if diff <(grep -v '^# \(source\|kernel-version\|kernel-release\|linux-version-code\|srcarch\|mtime\|strip\|format\|compression\):' "$T/$name.mtree") \
		<(grep -v '^# \(source\|kernel-version\|kernel-release\|linux-version-code\|srcarch\|mtime\|strip\|format\|compression\):' "$T/$name.any.mtree"); then
		ok "manifest $name.tar.xz has gen's entries and digests"
	else
		bad "manifest $name.tar.xz disagrees with gen --manifest"
	fi
	grep -q '^# srcarch: unknown (read from an existing archive)$' "$T/$name.any.mtree" ||
		bad "manifest ARCHIVE does not say the tree is unknown"
	# bsdtar: the manifest lists as the archive does. Archive dirs end
	# in '/', manifest paths never do; the root is "./" vs ".".
	TZ=UTC bsdtar -tvf "$T/$name.tar.xz" | sed 's,/$,,; s, \.$, .,' >"$T/$name.bsd-tar" || bad "bsdtar tar"
	TZ=UTC bsdtar -tvf "$T/$name.mtree" >"$T/$name.bsd-mtree" 2>"$T/err" || { bad "bsdtar cannot read $name.mtree"; cat "$T/err"; }
	if [ -s "$T/$name.bsd-mtree" ] && diff "$T/$name.bsd-tar" "$T/$name.bsd-mtree"; then
		ok "bsdtar -tvf $name.mtree lists what bsdtar -tvf $name.tar.xz lists ($(wc -l <"$T/$name.bsd-mtree") entries)"
	else
		bad "bsdtar listings of $name.mtree and $name.tar.xz differ"
	fi
done < <(golden_cases)
M=$T/kheaders_data.mtree
A=$T/kheaders_data.tar.xz
grep -q '^\./include/linux/name\\040with\\040spaces\.h type=file ' "$M" &&
	bsdtar -tf "$M" | grep -qx './include/linux/name with spaces.h' &&
	ok "name with spaces: \\040 in the manifest, a space in bsdtar's listing" ||
	bad "name with spaces is not escaped or not read back"
grep -q '^\./include/linux/long-target\.h type=link .* link=\.\./long/' "$M" &&
	ok "symlinks carry link=" || bad "no link= on a symlink"

# --- determinism -----------------------------------------------------------
"$K" manifest "$A" >"$T/m1" && "$K" manifest - <"$A" >"$T/m2" &&
	(cd / && TZ=Asia/Tokyo LC_ALL=C.UTF-8 umask 077 && "$K" manifest "$A" >"$T/m3") &&
	cat "$A" | "$K" manifest - >"$T/m4"
if cmp -s "$T/m1" "$T/m2" && cmp -s "$T/m1" "$T/m3" && cmp -s "$T/m1" "$T/m4" &&
	"$K" manifest "$A" | cmp -s - "$T/m1"; then
	ok "same archive, same manifest bytes (again, stdin, pipe, TZ/locale/umask/cwd)"
else
	bad "manifest bytes depend on how the archive is read"
fi
"$K" manifest -o "$T/m5" "$A" && cmp -s "$T/m1" "$T/m5" && ok "manifest -o FILE" || bad "manifest -o FILE"

# --- verify against the manifest -------------------------------------------
expect 0 "$A: OK" "$K" verify --manifest "$M" "$A"
expect 0 "(standard input): OK" sh -c '"$0" verify --manifest "$1" - <"$2"' "$K" "$M" "$A"
xz -dc "$A" >"$T/good.tar"
expect 1 "compression only" "$K" verify --manifest "$M" "$T/good.tar"

# Bad archives, built from the good tar with Python's tarfile (which
# writes other header bytes, hence "tar headers only" for a faithful
# copy), one mutation each.
python3 - "$T/good.tar" "$T" <<'PY' || bad "cannot build the bad archives"
import io, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
A = './include/linux/a.h'

def build(name, mutate):
    with tarfile.open(src) as t:
        items = [(m, t.extractfile(m).read() if m.isfile() else None)
                 for m in t.getmembers()]
    items = mutate(items)
    with tarfile.open('%s/%s.tar' % (out, name), 'w', format=tarfile.GNU_FORMAT) as w:
        for m, data in items:
            if data is None:
                w.addfile(m)
            else:
                m.size = len(data)
                w.addfile(m, io.BytesIO(data))

def flip(items):
    out = []
    for m, d in items:
        if m.name == A:
            d = bytes([d[0] ^ 0x01]) + d[1:]
        out.append((m, d))
    return out

def missing(items):
    return [(m, d) for m, d in items if m.name != A]

def extra(items):
    m = tarfile.TarInfo('./include/linux/extra.h')
    m.mtime, m.mode, m.uname, m.gname = items[0][0].mtime, 0o644, '', ''
    return items + [(m, b'#define EXTRA 1\n')]

def mode(items):
    for m, d in items:
        if m.name == A:
            m.mode = 0o600
    return items

def reorder(items):
    i = [k for k, (m, d) in enumerate(items) if m.name == A][0]
    return items[:i] + items[i + 1:] + [items[i]]

for name, f in (('same', lambda x: x), ('flip', flip), ('missing', missing),
                ('extra', extra), ('mode', mode), ('reorder', reorder)):
    build(name, f)
PY
expect 1 "FAIL (every entry matches; the tar headers or padding differ)" \
	"$K" verify --manifest "$M" "$T/same.tar"
# verify_bad CASE WANT-LINE: exit 1, the line, and no other entry named.
verify_bad() {
	local case=$1 want=$2
	expect 1 "$want" "$K" verify --manifest "$M" "$T/$case.tar"
	if [ "$(entry_lines "$T/out" | grep -vcF -- "$want")" != 0 ]; then
		bad "$case: other entries named too:"; entry_lines "$T/out" | sed 's/^/      /'
	fi
	grep -q "^$T/$case.tar: FAIL (1 entry differs)$" "$T/out" || bad "$case: no FAIL verdict"
}
verify_bad flip "./include/linux/a.h: content differs (manifest 18 bytes sha256 8697e005f2fb, archive 18 bytes sha256"
verify_bad missing "./include/linux/a.h: missing from the archive (in the manifest)"
verify_bad extra "./include/linux/extra.h: extra: in the archive, not in the manifest"
verify_bad mode "./include/linux/a.h: mode differs (manifest 0644, archive 0600)"
verify_bad reorder "./include/linux/a.h: order differs (manifest entry 41, archive entry 59)"
"$K" verify -q --manifest "$M" "$T/flip.tar" >"$T/out" 2>&1
[ $? = 1 ] && [ ! -s "$T/out" ] && ok "verify -q: status 1, silent" || bad "verify -q"
# Trouble is 2, never 1: a corrupt .tar.xz, a bad manifest, usage.
cp "$A" "$T/corrupt.tar.xz"
printf '\x00' | dd of="$T/corrupt.tar.xz" bs=1 seek=200 conv=notrunc 2>/dev/null
expect 2 "$T/corrupt.tar.xz: cannot decompress" "$K" verify --manifest "$M" "$T/corrupt.tar.xz"
head -n 30 "$M" >"$T/short.mtree"
expect 2 "$T/short.mtree: says 59 entries but has 13: truncated or edited?" "$K" verify --manifest "$T/short.mtree" "$A"
sed 's/mode=0644/mode=0x44/' "$M" >"$T/badmode.mtree"
expect 2 "$T/badmode.mtree:23: bad mode '0x44'" "$K" verify --manifest "$T/badmode.mtree" "$A"
expect 2 "$T/nope.tar.xz: cannot open: No such file or directory" "$K" verify --manifest "$M" "$T/nope.tar.xz"
expect 2 "--manifest FILE or --rebuild" "$K" verify "$A"
expect 2 "tree options go with --rebuild" "$K" verify --manifest "$M" --arch x86 "$A"
expect 2 "unknown option '--bogus'" "$K" verify --bogus "$A"
expect 0 "Usage: kheaders verify" "$K" verify --help
expect 0 "Usage: kheaders manifest" "$K" manifest --help
expect 1 "$M: not a tar archive" "$K" manifest "$M"
expect 1 "$T/none/m: cannot create temporary file" "$K" manifest -o "$T/none/m" "$A"
expect 2 "no archive given" "$K" manifest

# --- verify --rebuild on the sample ----------------------------------------
cp -a "$S/src" "$T/src" && cp -a "$S/obj" "$T/obj"
# Rebuilds go to a private temporary directory under $TMPDIR; it must
# be gone afterwards.
mkdir "$T/tmpdir"
export TMPDIR=$T/tmpdir
R=(--srctree "$T/src" --objtree "$T/obj" --arch x86 --mtime "$GOLDEN_MTIME")
expect 0 "$A: OK" "$K" verify --rebuild "${R[@]}" "$A"
# Comments are stripped, so rewording one changes nothing (adding a
# comment line would: the newline after it stays).
sed -i 's/a documented structure/a reworded comment/' "$T/src/include/linux/plain.h"
expect 0 "$A: OK" "$K" verify --rebuild "${R[@]}" "$A"
printf '#define EDITED 1\n' >>"$T/src/include/linux/plain.h"
expect 1 "./include/linux/plain.h: content differs (rebuild " "$K" verify --rebuild "${R[@]}" "$A"
[ "$(entry_lines "$T/out" | wc -l)" = 1 ] || { bad "rebuild after an edit named more than the edited header:"; cat "$T/out"; }
cp "$S/src/include/linux/plain.h" "$T/src/include/linux/plain.h"
expect 1 "FAIL (59 entries differ)" "$K" verify --rebuild "${R[@]}" --mtime @0 "$A"
# Every entry differs the same way: said once (issue 14), not per entry.
grep -q ': mtime differs on every entry (rebuild @0, archive @1234567890): .*pass --mtime @1234567890$' "$T/out" &&
	[ "$(entry_lines "$T/out" | wc -l)" = 0 ] || bad "no mtime summary, or entries listed one by one"
expect 1 "compression only" "$K" verify --rebuild "${R[@]}" --xz-single "$A"
[ "$(entry_lines "$T/out" | wc -l)" = 0 ] || bad "compression only, yet entries named"
expect 2 "$T/src/arch/mips/include: cannot read directory" "$K" verify --rebuild "${R[@]}" --arch mips "$A"
[ -z "$(ls -A "$TMPDIR")" ] && ok "no temporary left in \$TMPDIR" || bad "temporaries left: $(ls -A "$TMPDIR")"

# --- gen --manifest and the skip logic -------------------------------------
O=$T/out-skip
mkdir "$O"
G=(gen -q "${R[@]}" -o "$O/k.tar.xz" --manifest "$O/k.mtree")
stamp() { stat -c '%i %y' "$@"; }
"$K" "${G[@]}" || bad "gen --manifest"
grep -q '^output manifest .* '"$O"'/k\.mtree$' "$O/k.tar.xz.state" && ok "the state records the manifest" ||
	bad "no manifest output in the state"
cmp -s "$O/k.mtree" "$M" && ok "gen --manifest with a state writes the golden manifest too" || bad "gen --manifest (state) differs"
before=$(stamp "$O/k.tar.xz" "$O/k.mtree")
"$K" "${G[@]}" -v 2>"$T/v" || bad "gen (no-op)"
[ "$(stamp "$O/k.tar.xz" "$O/k.mtree")" = "$before" ] && grep -q 'up to date' "$T/v" &&
	ok "up to date: archive and manifest untouched" || bad "a no-op run touched its outputs"
archive=$(stamp "$O/k.tar.xz")
rm "$O/k.mtree"
"$K" "${G[@]}" && cmp -s "$O/k.mtree" "$M" && [ "$(stamp "$O/k.tar.xz")" = "$archive" ] &&
	ok "missing manifest rewritten, archive not rebuilt" || bad "missing manifest"
echo '# edited' >>"$O/k.mtree"
"$K" "${G[@]}" && cmp -s "$O/k.mtree" "$M" && [ "$(stamp "$O/k.tar.xz")" = "$archive" ] &&
	ok "edited manifest rewritten, archive not rebuilt" || bad "edited manifest"
# A tree fact that is no input: the Makefile's version.
printf 'VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 7\nEXTRAVERSION = -kh\n' >"$T/src/Makefile"
"$K" "${G[@]}" && grep -qx '# kernel-version: 6.1.7-kh' "$O/k.mtree" && [ "$(stamp "$O/k.tar.xz")" = "$archive" ] &&
	ok "stale facts (Makefile version) rewritten, archive not rebuilt" || bad "stale manifest facts"
rm "$T/src/Makefile"
"$K" "${G[@]}" && cmp -s "$O/k.mtree" "$M" || bad "facts back"
"$K" gen -q "${R[@]}" -o "$O/k.tar.xz" && [ "$(stamp "$O/k.tar.xz")" = "$archive" ] &&
	ok "dropping --manifest does not rebuild the archive" || bad "dropping --manifest rebuilt"
"$K" "${G[@]}" && [ "$(stamp "$O/k.tar.xz")" = "$archive" ] || bad "--manifest again rebuilt the archive"
before=$(stamp "$O/k.tar.xz" "$O/k.mtree")
printf '#define EDITED 1\n' >>"$T/src/include/linux/plain.h"
expect 1 "cannot create temporary file" "$K" "${G[@]:0:${#G[@]}-1}" "$T/none/k.mtree"
[ -n "$before" ] && [ "$(stamp "$O/k.tar.xz" "$O/k.mtree")" = "$before" ] && [ -z "$(ls -A "$O" | grep '^\.')" ] &&
	ok "a manifest that cannot be written leaves the previous outputs, no temporaries" ||
	bad "a failed manifest changed the outputs or left temporaries"
"$K" "${G[@]}" && [ "$(stamp "$O/k.tar.xz")" != "$archive" ] && "$K" verify --manifest "$O/k.mtree" "$O/k.tar.xz" >/dev/null &&
	ok "an edit rebuilds archive and manifest together, and they agree" || bad "rebuild with manifest"

exit $fail
