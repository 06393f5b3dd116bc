#!/bin/bash
# Bad input trees for gen. Each refusal names the path, what and why,
# exits 1 (kheaders(1)), and loses nothing: the previous outputs and
# state stay byte for byte, and no temporary is left.
#   - an unreadable header, an unreadable directory (without privileges:
#     CI runs as root, and root reads anything);
#   - a header that vanishes, grows or is replaced between the walk and
#     the read, a symlink that vanishes, an entry that vanishes during
#     the walk (tests/tools/shim-fault.so makes it happen exactly then);
#   - a header over the size limit (1 GiB); an empty tree;
# and what is fine:
#   - names with a newline, spaces, invalid UTF-8 and other odd bytes
#     are archived exactly (read back with python's tarfile), survive the
#     state, the manifest and extract; only a depfile refuses a newline,
#     by name, before anything is written, and Make reads the escapes;
#   - a 100 MB header works, and memory stays within a few headers' size;
#   - symlinks that dangle, loop, point outside the tree, at a FIFO, at
#     /dev/zero or at a directory are archived as the symlinks they are,
#     never followed; a symlinked directory is not walked into.
set -u
T=$TEST_TMP
K=$KHEADERS
S=$TOP/golden/sample
fail=0
. "$TOP/tests/lib/robust.sh"

# ---- A good run whose outputs every failure below must keep.
cp -a "$S/src" "$T/src"
mkdir -p "$T/out"
G=(gen -q --srctree "$T/src" --objtree "$T/src" --arch x86 --mtime @7
   --xz-preset 0 -o "$T/out/k.tar.xz" --stub "$T/out/k.S"
   --manifest "$T/out/k.mtree")
"$K" "${G[@]}" || rb_bad "first run"
OUTS=(k.tar.xz k.S k.mtree k.tar.xz.state)
snap() { (cd "$1" && sha256sum "${OUTS[@]}"); }
snap "$T/out" > "$T/good"
keeps() {
	if snap "$T/out" | cmp -s - "$T/good" && rb_quiet_dir "$T/out" "${OUTS[@]}"; then
		rb_ok "outputs and state intact, no temporary: $1"
	else
		rb_bad "outputs changed or temporaries left: $1"
	fi
}

# ---- Unreadable header and directory, without privileges.
P=$(rb_priv)
cp -a "$S/src" "$P/src"
mkdir "$P/out"
cp "$K" "$P/kheaders"
rb_own "$P/src" "$P/out"
N=(gen -q --srctree "$P/src" --objtree "$P/src" --arch x86 --mtime @7
   --xz-preset 0 -o "$P/out/k.tar.xz")
rb_nobody "$P/kheaders" "${N[@]}" || rb_bad "unprivileged first run"
(cd "$P/out" && sha256sum k.tar.xz k.tar.xz.state) > "$T/pgood"
pkeeps() {
	if (cd "$P/out" && sha256sum k.tar.xz k.tar.xz.state) | cmp -s - "$T/pgood" &&
	   rb_quiet_dir "$P/out" k.tar.xz k.tar.xz.state; then
		rb_ok "outputs and state intact, no temporary: $1"
	else
		rb_bad "outputs changed or temporaries left: $1"
	fi
}
echo '#define SECRET 1' > "$P/src/include/linux/secret.h"
chmod 000 "$P/src/include/linux/secret.h"
rb_own "$P/src/include/linux/secret.h"
rb_expect 1 "$P/src/include/linux/secret.h: cannot open: Permission denied" \
	rb_nobody "$P/kheaders" "${N[@]}"
pkeeps "an unreadable header"
rm -f "$P/src/include/linux/secret.h"
mkdir "$P/src/include/hidden"
echo '#define HIDDEN 1' > "$P/src/include/hidden/x.h"
chmod 000 "$P/src/include/hidden"
rb_own "$P/src/include/hidden"
rb_expect 1 "$P/src/include/hidden: cannot read directory: Permission denied" \
	rb_nobody "$P/kheaders" "${N[@]}"
pkeeps "an unreadable directory"
chmod 755 "$P/src/include/hidden"

# ---- Inputs that change under our feet, at the worst moment.
V=include/linux/victim.h
for action in unlink append replace; do
	echo '#define VICTIM 1 /* to strip */' > "$T/src/$V"
	rb_expect 1 "$T/src/$V: changed while kheaders was reading it; run again once the tree is quiet" \
		rb_shim env KH_FAULT=$action KH_FAULT_PATH=$V "$K" "${G[@]}"
	keeps "a header that is ${action/%e/}ed between walk and read"
	rm -f "$T/src/$V"
done
ln -s victim-target.h "$T/src/include/linux/vlink.h"
rb_expect 1 "$T/src/include/linux/vlink.h: changed while kheaders was reading it" \
	rb_shim env KH_FAULT=unlink KH_FAULT_CALL=readlink KH_FAULT_PATH=vlink.h "$K" "${G[@]}"
keeps "a symlink removed between walk and read"
rm -f "$T/src/include/linux/vlink.h"
echo '#define VICTIM 1' > "$T/src/$V"
rb_expect 1 "$T/src/$V: changed while kheaders was reading it" \
	rb_shim env KH_FAULT=unlink KH_FAULT_CALL=stat KH_FAULT_PATH=victim.h "$K" "${G[@]}"
keeps "a header removed during the walk"
rm -f "$T/src/$V"
# Once the tree is quiet, the same run succeeds and the state follows.
"$K" "${G[@]}" && "$K" "${G[@]:0:1}" -v "${G[@]:2}" 2>&1 | grep -q "up to date" ||
	rb_bad "a quiet tree after the races: not rebuilt, or not up to date after"
snap "$T/out" > "$T/good"

# ---- Too large, and nothing at all.
truncate -s $((1024 * 1024 * 1024 + 1)) "$T/src/include/linux/huge.h"
rb_expect 1 "$T/src/include/linux/huge.h: 1073741825 bytes: a header may have 1024 MiB at most; is it one?" \
	"$K" "${G[@]}"
keeps "a header over 1 GiB"
rm -f "$T/src/include/linux/huge.h"
mkdir -p "$T/empty/include/linux" "$T/empty/arch/x86/include"
rb_expect 1 "$T/empty: no headers found below include/ or arch/x86/include/; wrong --srctree?" \
	"$K" gen -q --srctree "$T/empty" --objtree "$T/empty" --arch x86 -o "$T/out/k.tar.xz"
keeps "an empty tree"
touch "$T/empty/include/linux/.nfs000000000001"
mkdir -p "$T/emptyobj"
rb_expect 1 "$T/empty: no headers found below include/ or arch/x86/include/ (nor in objtree '$T/emptyobj'); wrong --srctree?" \
	"$K" gen -q --srctree "$T/empty" --objtree "$T/emptyobj" --arch x86 -o "$T/out/k.tar.xz"
keeps "a tree with only a silly-rename file"

# ---- Odd names: archived exactly, through state, manifest and extract.
O=$T/odd
cp -a "$S/src" "$O"
mkdir "$O/include/odd"
python3 - "$O" <<'PY' || rb_bad "cannot make the odd names"
import os, sys
root = os.fsencode(sys.argv[1])
names = [b'new\nline.h', b'with space.h', b'bad\xff\xfeutf8.h', b'tab\there.h',
         b'back\\slash.h', b'per%cent.h', b'hash#eq=colon:dollar$.h',
         b'-dash.h', 'ünïcödé.h'.encode(), b'cr\rx.h', b'bs\\ space.h',
         b'bs\\\\#hash.h', b'bs\\:colon.h']
with open(os.path.join(root, b'names'), 'wb') as f:
    for i, n in enumerate(names):
        p = os.path.join(root, b'include/odd', n)
        with open(p, 'wb') as h:
            h.write(b'#define ODD_%d 1 /* gone */\n' % i)
        f.write(n + b'\0')
os.symlink(b'with space.h', os.path.join(root, b'include/odd/link to\nspace.h'))
PY
rm -f "$O/names.list"
OG=(gen -q --srctree "$O" --objtree "$O" --arch x86 --mtime @7 --xz-preset 0
    -o "$T/odd.tar.xz" --manifest "$T/odd.mtree")
rb_expect 0 "" "$K" "${OG[@]}"
python3 - "$T/odd.tar.xz" "$O/names" <<'PY' && rb_ok "odd names archived byte for byte" || rb_bad "odd names not archived exactly"
import os, sys, tarfile
names = [n for n in open(sys.argv[2], 'rb').read().split(b'\0') if n]
t = tarfile.open(sys.argv[1], 'r:xz', encoding='utf-8', errors='surrogateescape')
got = {os.fsencode(m.name): m for m in t.getmembers()}
ok = True
for i, n in enumerate(names):
    m = got.get(b'./include/odd/' + n)
    if m is None or not m.isfile():
        print('missing', n); ok = False; continue
    if t.extractfile(m).read() != b'#define ODD_%d 1 \n' % i:
        print('content of', n); ok = False
l = got.get(b'./include/odd/link to\nspace.h')
if l is None or not l.issym() or l.linkname != 'with space.h':
    print('symlink', l and l.linkname); ok = False
sys.exit(0 if ok else 1)
PY
"$K" "${OG[@]:0:1}" -v "${OG[@]:2}" 2>&1 | grep -q "up to date" &&
	rb_ok "odd names: the state reads back, the next run is up to date" ||
	rb_bad "odd names: the next run is not up to date"
rb_expect 0 "$T/odd.tar.xz: OK" "$K" verify --manifest "$T/odd.mtree" "$T/odd.tar.xz"
"$K" extract "$T/odd.tar.xz" "$T/odd-x" >/dev/null 2>&1 &&
python3 - "$T/odd-x/include/odd" "$O/names" <<'PY' && rb_ok "odd names: extract writes every name exactly" || rb_bad "odd names: extract"
import os, sys
names = [n for n in open(sys.argv[2], 'rb').read().split(b'\0') if n]
have = set(os.listdir(os.fsencode(sys.argv[1])))
sys.exit(0 if set(names) | {b'link to\nspace.h'} == have else 1)
PY
# A depfile cannot name a newline: refused by name, nothing written.
cp "$T/odd.tar.xz" "$T/odd.prev"
rb_expect 1 "$T/odd.d: cannot list $O/include/odd/cr%0Dx.h (percent-encoded here): Make cannot name a file with a line break" \
	"$K" "${OG[@]}" --force --depfile "$T/odd.d"
cmp -s "$T/odd.tar.xz" "$T/odd.prev" && [ ! -e "$T/odd.d" ] &&
	rb_ok "depfile refusal: nothing written" || rb_bad "depfile refusal wrote something"
rm -f "$O/include/odd/"*$'\n'* "$O/include/odd/"*$'\r'*
# (Make takes a dangling symlink for a missing file, always out of date.)
rm -f "$O/include/linux/dangling.h"
rb_expect 0 "" "$K" "${OG[@]}" --depfile "$T/odd.d"
# Make reads every escaped name: up to date now; out of date once any
# one of them is newer than the archive.
printf 'include %s\n%s:\n\t@:\n' "$T/odd.d" "$T/odd.tar.xz" > "$T/odd.mk"
mk() { make -s -q -f "$T/odd.mk" "$T/odd.tar.xz" 2>"$T/mk.err"; echo $?; }
rcs=$(mk) want=0
touch -d '-1 day' "$T/odd.tar.xz"
while IFS= read -r -d '' n; do
	case $n in *$'\n'*|*$'\r'*) continue ;; esac
	touch -d '-2 days' "$O/include/odd/"*
	touch -d '-1 hour' "$O/include/odd/$n"
	rcs="$rcs $(mk)" want="$want 1"
done < "$O/names"
if [ "$rcs" = "$want" ]; then
	rb_ok "make reads the depfile's escaped names (up to date, then out of date for each odd name)"
else
	rb_bad "make and the depfile: want $want, got $rcs"; cat "$T/mk.err"
fi

# ---- A 100 MB header: works, memory stays near its size. A hard link
# to it doubles the input; the reader's byte window keeps the second
# copy from being read while the first is still in memory.
B=$T/big
mkdir -p "$B/include/linux" "$B/arch/x86/include"
python3 - "$B/include/linux/big.h" <<'PY'
import sys
line = b'#define KH_BIG_%07d 0x%08x /* a comment to strip */\n'
n = i = 0
with open(sys.argv[1], 'wb') as f:
    while n < 100 * 1024 * 1024:
        l = line % (i, n)
        f.write(l)
        n += len(l)
        i += 1
PY
ln "$B/include/linux/big.h" "$B/include/linux/big2.h"
rb_maxrss_mb "$T/rss" "$K" gen -q --no-state --srctree "$B" --objtree "$B" --arch x86 \
	--xz-preset 0 -j 2 -o "$T/big.tar.xz" || rb_bad "a 100 MB header: gen failed"
rss=$(cat "$T/rss")
python3 - "$T/big.tar.xz" "$B/include/linux/big.h" <<'PY' && rb_ok "a 100 MB header is archived whole ($(stat -c %s "$B/include/linux/big.h") bytes, stripped), peak RSS $rss MiB" || rb_bad "a 100 MB header: archive content"
import hashlib, sys, tarfile
want = open(sys.argv[2], 'rb').read().replace(b'/* a comment to strip */', b'')
h = hashlib.sha256(want).digest()
t = tarfile.open(sys.argv[1], 'r:xz')
n = 0
for m in t:
    if m.name in ('./include/linux/big.h', './include/linux/big2.h'):
        n += 1
        if m.size != len(want) or hashlib.sha256(t.extractfile(m).read()).digest() != h:
            sys.exit(1)
sys.exit(0 if n == 2 else 1)
PY
# In block mode (the default) a block of one entry is compressing while
# the next fills and the reader holds the one after: three headers'
# worth, plus compressor and slack. The sanitizers' shadow memory makes
# the figure meaningless there.
if [ "${KH_SAN:-}" != 1 ] && [ "$rss" -gt 360 ]; then
	rb_bad "a 100 MB header (and a link to it) took $rss MiB: more than three headers' worth"
fi
# A single stream holds one header in memory, plus the next.
rb_maxrss_mb "$T/rss1" "$K" gen -q --no-state --xz-single --srctree "$B" --objtree "$B" \
	--arch x86 --xz-preset 0 -j 2 -o "$T/big1.tar.xz" || rb_bad "a 100 MB header, --xz-single: gen failed"
rss1=$(cat "$T/rss1")
if xz -dc "$T/big1.tar.xz" | cmp -s - <(xz -dc "$T/big.tar.xz"); then
	rb_ok "a 100 MB header, --xz-single: the same tar, peak RSS $rss1 MiB"
else
	rb_bad "a 100 MB header, --xz-single: another tar"
fi
if [ "${KH_SAN:-}" != 1 ] && [ "$rss1" -gt 240 ]; then
	rb_bad "a 100 MB header, --xz-single, took $rss1 MiB: more than two headers' worth"
fi

# ---- Symlinks are content: archived as they are, never followed.
L=$T/ln/include/ln
cp -a "$S/src" "$T/ln"
mkdir "$L"
ln -s nowhere.h "$L/dangling.h"
ln -s self.h "$L/self.h"
ln -s b.h "$L/a.h"
ln -s a.h "$L/b.h"
ln -s ../../../../../../../../../etc/passwd "$L/up.h"
ln -s /etc/passwd "$L/abs.h"
mkfifo "$T/fifo"
ln -s "$T/fifo" "$L/fifo.h"
ln -s /dev/zero "$L/zero.h"
ln -s /etc "$L/dir.h"
ln -s /usr/include "$L/evil"
mkdir -p "$T/lnout"
# A followed FIFO would block forever, /dev/zero would never end.
rb_expect 0 "" timeout 120 "$K" gen -q --srctree "$T/ln" --objtree "$T/ln" --arch x86 \
	--mtime @7 --xz-preset 0 -o "$T/lnout/ln.tar.xz"
python3 - "$T/lnout/ln.tar.xz" "$T" <<'PY' && rb_ok "dangling, looping, outside, FIFO, /dev/zero and directory symlinks archived as symlinks; a symlinked directory not walked" || rb_bad "symlinks as content"
import sys, tarfile
want = {'dangling.h': 'nowhere.h', 'self.h': 'self.h', 'a.h': 'b.h', 'b.h': 'a.h',
        'up.h': '../../../../../../../../../etc/passwd', 'abs.h': '/etc/passwd',
        'fifo.h': sys.argv[2] + '/fifo', 'zero.h': '/dev/zero', 'dir.h': '/etc'}
t = tarfile.open(sys.argv[1], 'r:xz')
ms = {m.name: m for m in t.getmembers()}
ok = True
for n, target in want.items():
    m = ms.get('./include/ln/' + n)
    if m is None or not m.issym() or m.linkname != target or m.size != 0:
        print('bad', n, m and (m.type, m.linkname)); ok = False
for n in ms:
    if n.startswith('./include/ln/evil'):
        print('walked into', n); ok = False
sys.exit(0 if ok else 1)
PY
"$K" extract "$T/lnout/ln.tar.xz" "$T/ln-x" >/dev/null 2>&1 &&
	[ "$(readlink "$T/ln-x/include/ln/abs.h")" = /etc/passwd ] &&
	[ -L "$T/ln-x/include/ln/fifo.h" ] && [ -L "$T/ln-x/include/ln/self.h" ] &&
	rb_ok "extract puts them back as symlinks" || rb_bad "extract of the symlinks"
exit $fail
