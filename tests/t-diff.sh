#!/bin/bash
# kheaders diff on the golden sample against an edited copy of it.
#
# The copy adds, removes (a file and a whole directory tree), changes
# content (a name with spaces, a file without a final newline), turns
# a file into a symlink and retargets a symlink; a tar rewritten with
# Python changes a mode. Checked:
# - the report, line for line, and the summary line; --stat; -q;
# - --json is valid JSON whose added/removed/changed sets equal what
#   `diff -rq --no-dereference` says of the two extracted trees
#   (tests/lib/diff-sets.py), with counts matching the list;
# - manifests and archives give the same report, in any combination,
#   and standard input works;
# - -u equals GNU `diff -u` file by file, and `patch -p1` turns the
#   first tree's changed headers into the second's;
# - exit statuses: 0 same, 1 different, 2 trouble (a missing file, -u
#   with a manifest, bad options).
set -u
. "$TOP/tests/golden-args.sh"
T=$TEST_TMP
K=$KHEADERS
S=$TOP/$GOLDEN_SAMPLE
fail=0

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

gen() {   # srctree objtree name
	"$K" gen -q --no-state --srctree "$1" --objtree "$2" --arch x86 \
		--mtime "$GOLDEN_MTIME" -o "$T/$3.tar.xz" --manifest "$T/$3.mtree" ||
		bad "gen $3"
}

gen "$S/src" "$S/obj" a
cp -a "$S/src" "$T/src" && cp -a "$S/obj" "$T/obj"
(
	cd "$T/src/include" || exit 1
	printf '#define NEW 1\n' >linux/new.h
	rm linux/a.h
	sed -i 's/PLAIN_MAX 16/PLAIN_MAX 32/' linux/plain.h
	ln -sfn other-missing.h linux/dangling.h
	rm linux/empty.h && ln -s plain.h linux/empty.h
	mkdir -p newdir/sub && printf '#define N 1\n' >newdir/sub/n.h
	rm -rf deep
	printf '#define SPACES 2\n' >"linux/name with spaces.h"
	printf 'int x;\nint y;' >linux/no-newline.h
) || bad "cannot edit the copy"
gen "$T/src" "$T/obj" b

cat >"$T/want" <<'EOF'
removed  ./include/deep/
removed  ./include/deep/a/
removed  ./include/deep/a/b/
removed  ./include/deep/a/b/c/
removed  ./include/deep/a/b/c/d/
removed  ./include/deep/a/b/c/d/e/
removed  ./include/deep/a/b/c/d/e/f/
removed  ./include/deep/a/b/c/d/e/f/g/
removed  ./include/deep/a/b/c/d/e/f/g/h/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/l/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/l/m/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/
removed  ./include/deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.h
removed  ./include/linux/a.h
link     ./include/linux/dangling.h does-not-exist.h -> other-missing.h
type     ./include/linux/empty.h file -> link
changed  ./include/linux/name\040with\040spaces.h
added    ./include/linux/new.h
changed  ./include/linux/no-newline.h
changed  ./include/linux/plain.h
added    ./include/newdir/
added    ./include/newdir/sub/
added    ./include/newdir/sub/n.h
4 added, 19 removed, 3 changed, 0 mode, 1 type, 1 link
EOF

# report STATUS NAME command...: output must be $T/want, status STATUS.
report() {
	local want=$1 name=$2; shift 2
	"$@" >"$T/got" 2>"$T/err"
	local rc=$?
	if [ $rc = "$want" ] && cmp -s "$T/want" "$T/got"; then
		ok "$name"
	else
		bad "$name (exit $rc, want $want)"; diff "$T/want" "$T/got" | head; cat "$T/err"
	fi
}
report 1 "archives: the report, line for line" "$K" diff "$T/a.tar.xz" "$T/b.tar.xz"
report 1 "manifests: the same report" "$K" diff "$T/a.mtree" "$T/b.mtree"
report 1 "manifest and archive: the same report" "$K" diff "$T/a.mtree" "$T/b.tar.xz"
report 1 "archive from standard input: the same report" sh -c '"$0" diff - "$1" <"$2"' "$K" "$T/b.mtree" "$T/a.tar.xz"
tail -n 1 "$T/want" >"$T/want.stat" && cp "$T/want.stat" "$T/want"
report 1 "--stat: the summary line only" "$K" diff --stat "$T/a.mtree" "$T/b.mtree"
echo "0 added, 0 removed, 0 changed, 0 mode, 0 type, 0 link" >"$T/want"
report 0 "same archive: status 0" "$K" diff "$T/a.tar.xz" "$T/a.mtree"
"$K" diff -q "$T/a.mtree" "$T/b.mtree" >"$T/got" 2>&1
[ $? = 1 ] && [ ! -s "$T/got" ] && ok "-q: status 1, silent" || bad "-q"

# --json against diff -rq of the extracted trees.
mkdir "$T/A" "$T/B"
tar -xf "$T/a.tar.xz" -C "$T/A" && tar -xf "$T/b.tar.xz" -C "$T/B" || bad "cannot extract"
"$K" diff --json "$T/a.mtree" "$T/b.mtree" >"$T/d.json"
[ $? = 1 ] || bad "--json: status"
if python3 "$TOP/tests/lib/diff-sets.py" "$T/d.json" "$T/A" "$T/B" --nonempty; then
	ok "--json: added, removed and changed sets are those of diff -rq"
else
	bad "--json disagrees with diff -rq"
fi
python3 - "$T/d.json" <<'PY' && ok "--json: types, links and digests" || bad "--json content"
import json, sys
d = json.load(open(sys.argv[1]))
c = {(x['kind'], x['path']): x for x in d['changes']}
assert d['same'] is False and d['a'].endswith('a.mtree')
assert c[('removed', './include/deep')]['type'] == 'dir'
assert c[('type', './include/linux/empty.h')]['a'] == 'file'
assert c[('link', './include/linux/dangling.h')]['b'] == 'other-missing.h'
ch = c[('changed', './include/linux/name with spaces.h')]
assert ch['a']['size'] == 18 and len(ch['b']['sha256']) == 64
PY
"$K" diff --json --stat "$T/a.mtree" "$T/a.mtree" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["same"] is True and "changes" not in d and sum(d["counts"].values()) == 0' &&
	ok "--json --stat: counts only" || bad "--json --stat"

# A mode change (kheaders never writes one; Python's tarfile does).
xz -dc "$T/a.tar.xz" >"$T/a.tar"
python3 - "$T/a.tar" "$T/mode.tar" <<'PY' || bad "cannot build mode.tar"
import io, sys, tarfile
with tarfile.open(sys.argv[1]) as t, tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT) as w:
    for m in t.getmembers():
        if m.name == './include/linux/spdx.h':
            m.mode = 0o755
        w.addfile(m, t.extractfile(m) if m.isfile() else None)
PY
printf 'mode     ./include/linux/spdx.h 0644 -> 0755\n0 added, 0 removed, 0 changed, 1 mode, 0 type, 0 link\n' >"$T/want"
report 1 "a mode change" "$K" diff "$T/a.mtree" "$T/mode.tar"

# -u: GNU diff -u, file by file, and patch -p1 applies it.
"$K" diff -u "$T/a.tar.xz" "$T/b.tar.xz" >"$T/u.out"
[ $? = 1 ] || bad "-u: status"
sed -n '/^--- "\{0,1\}a\//,$p' "$T/u.out" | sed '$d' >"$T/u.patch"
: >"$T/gnu.patch"
python3 -c '
import json, sys
for c in json.load(open(sys.argv[1]))["changes"]:
    if c["kind"] == "changed":
        print(c["path"][2:])' "$T/d.json" | while IFS= read -r p; do
	# Names with blanks are quoted, so that patch reads them whole.
	q=; case $p in *' '*) q='"' ;; esac
	diff -u --label "${q}a/$p$q" --label "${q}b/$p$q" "$T/A/$p" "$T/B/$p" >>"$T/gnu.patch"
done
if [ -s "$T/u.patch" ] && cmp -s "$T/gnu.patch" "$T/u.patch"; then
	ok "-u: byte for byte what GNU diff -u prints ($(grep -c '^@@' "$T/u.patch") hunks)"
else
	bad "-u differs from GNU diff -u"; diff "$T/gnu.patch" "$T/u.patch" | head -20
fi
cp -a "$T/A" "$T/P"
if (cd "$T/P" && patch -p1 -s --no-backup-if-mismatch <"$T/u.patch") &&
	cmp -s "$T/P/include/linux/plain.h" "$T/B/include/linux/plain.h" &&
	cmp -s "$T/P/include/linux/no-newline.h" "$T/B/include/linux/no-newline.h" &&
	cmp -s "$T/P/include/linux/name with spaces.h" "$T/B/include/linux/name with spaces.h"; then
	ok "-u: patch -p1 turns A's changed headers into B's"
else
	bad "-u: the patch does not apply or gives other bytes"
fi
"$K" diff -U 0 "$T/a.tar.xz" "$T/b.tar.xz" | grep -q '^@@ -12 +12 @@$' && ok "-U 0" || bad "-U 0"

# Trouble: 2.
"$K" diff "$T/a.mtree" "$T/nope.tar.xz" >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "nope.tar.xz: cannot open: No such file or directory" "$T/err" &&
	ok "a missing file: 2" || bad "a missing file"
"$K" diff -u "$T/a.mtree" "$T/b.tar.xz" >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "a manifest holds no contents: -u needs two archives" "$T/err" &&
	ok "-u with a manifest: 2" || bad "-u with a manifest"
for args in "--bogus a b" "only-one" "a b c" "-u --json a b" "-U x a b" "- -"; do
	# shellcheck disable=SC2086
	"$K" diff $args >/dev/null 2>&1 </dev/null
	[ $? = 2 ] && ok "diff $args: 2" || bad "diff $args: not 2"
done
"$K" diff --help | grep -q '^Usage: kheaders diff' && ok "--help" || bad "--help"

exit $fail
