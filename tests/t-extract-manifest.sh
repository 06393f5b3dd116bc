#!/bin/bash
# `kheaders extract --manifest FILE` checks every entry it writes
# against the manifest `kheaders manifest` makes: the archive's own
# manifest passes (from the .tar.xz and from a kheaders.ko-like object);
# a changed file digest, a mode, an entry missing from the archive, an
# entry the manifest lacks, and another archive's bytes each refuse the
# whole extraction with a message naming the entry, leaving nothing.
set -u
T=$TEST_TMP
cd "$T"
fail=0
bad() { echo "FAIL $*"; fail=1; }

"$KHEADERS" gen -q --no-state --srctree "$TOP/golden/sample/src" \
	--objtree "$TOP/golden/sample/obj" --arch x86 --mtime @1700000000 \
	-o a.tar.xz --stub stub.S --incbin a.tar.xz || { echo "FAIL gen"; exit 1; }
"$KHEADERS" manifest a.tar.xz > m.mtree || { echo "FAIL kheaders manifest"; exit 1; }
as -o stub.o stub.S || { echo "FAIL as"; exit 1; }

"$KHEADERS" extract --manifest m.mtree a.tar.xz ok1 2> err &&
	echo "ok  the archive matches its manifest" || bad "match: $(cat err)"
"$KHEADERS" extract -v --manifest m.mtree stub.o ok2 2> err &&
	grep -q 'matches the manifest' err &&
	echo "ok  the object's archive matches too" || bad "object: $(cat err)"

# A file in the sample and one symlink, to edit the manifest around.
file=$(grep -m1 ' type=file .*sha256digest=' m.mtree | cut -d' ' -f1)
link=$(grep -m1 ' type=link ' m.mtree | cut -d' ' -f1)
[ -n "$file" ] && [ -n "$link" ] || { echo "FAIL sample has no file or link"; exit 1; }
q=$(printf '%s' "$file" | sed 's/[.[\*^$/]/\\&/g')
ql=$(printf '%s' "$link" | sed 's/[.[\*^$/]/\\&/g')
entries=$(sed -n 's/^# entries: //p' m.mtree)
zeros=0000000000000000000000000000000000000000000000000000000000000000
sed -E "/^$q /s/sha256digest=[0-9a-f]{64}/sha256digest=$zeros/" m.mtree > m.content
sed -E "/^$q /s/mode=0644/mode=0600/" m.mtree > m.mode
grep -v "^$ql " m.mtree | sed "s/^# entries: .*/# entries: $((entries - 1))/" > m.extra
{ cat m.mtree; echo './include/gone.h type=file mode=0644 size=0'; } |
	sed "s/^# entries: .*/# entries: $((entries + 1))/" > m.missing

for c in "content:$file: content (sha256) differs from the manifest m.content" \
	 "mode:$file: mode differs from the manifest m.mode" \
	 "extra:$link: not in the manifest m.extra" \
	 "missing:./include/gone.h: in the manifest m.missing but not in the archive"; do
	f=m.${c%%:*} msg=${c#*:}
	cmp -s m.mtree "$f" && { bad "$f: the edit did nothing"; continue; }
	if "$KHEADERS" extract --manifest "$f" a.tar.xz out 2> err; then
		bad "$f accepted"
	else
		grep -qF -- "$msg" err || bad "$f: '$(cat err)', wanted '$msg'"
		echo "ok  $f: $(cat err)"
	fi
	[ ! -e out ] && [ -z "$(ls -A | grep kheaders-)" ] || bad "$f: output left"
	rm -rf out
done

# The manifest's archive digest: other bytes with the same content.
{ cat a.tar.xz; printf '\0\0\0\0'; } > padded.tar.xz
if "$KHEADERS" extract --manifest m.mtree padded.tar.xz out 2> err; then
	bad "another archive's bytes accepted"
else
	grep -qF "the archive has $(stat -c %s padded.tar.xz) bytes, the manifest m.mtree says" err ||
		bad "archive digest: $(cat err)"
	echo "ok  archive digest: $(cat err)"
fi
[ ! -e out ] || bad "archive digest: output left"
"$KHEADERS" extract --manifest nonexistent a.tar.xz out 2> err && bad "missing manifest accepted"
grep -q 'nonexistent: cannot open' err || bad "missing manifest: $(cat err)"

[ $fail = 0 ] && echo "extraction is checked entry by entry against the manifest"
exit $fail
