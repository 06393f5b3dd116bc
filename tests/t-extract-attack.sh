#!/bin/bash
# `kheaders extract` under attack (issue 12), one class per block:
#   M1  the source is rewritten or truncated after its digest was
#       checked (--sha256, a manifest's archive digest): the tree holds
#       the checked bytes or nothing, never a signal death;
#   M2  a pax hard link that carries data, and a hard link to another
#       file than the manifest lists, with a manifest that has no
#       archive digest (mtree(8) or bsdtar style): refused;
#   M3  sparse entries (GNU, pax 0.1, pax 1.0): one byte at 2^60 or
#       5 GiB of holes from a few hundred bytes: refused at once;
#   M4  --replace: a user who owns a directory inside the old tree
#       swaps in a symlink while root removes it, or moves the
#       directory out first: nothing outside goes, the removal ends;
#       a refused archive's tree with a name near PATH_MAX goes too;
#   L4  archive names with escape sequences never reach the terminal;
#   .ko.xz whose xz index declares more than 256 MiB: refused before
#       it is decompressed; a device (named or on standard input) too.
# Moments are chosen with tests/tools/shim-fault.so (KH_FAULT=stall),
# never with sleeps; the attacker runs as uid 65534 through setpriv.
set -u
T=$TEST_TMP
K=$KHEADERS
fail=0
. "$TOP/tests/lib/robust.sh"
cd "$T"

# No temporary tree beside DIR.
no_xtmp() { [ -z "$(ls -A "$(dirname "$1")" | grep -F ".$(basename "$1").kheaders-")" ]; }

python3 - <<'PY' || { echo "FAIL cannot build the archives"; exit 1; }
import hashlib, io, lzma, tarfile

def ti(name, typ=tarfile.REGTYPE, data=b'', link='', mode=0o644):
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.mode, t.mtime = typ, link, mode, 1700000000
    t.size = len(data) if typ == tarfile.REGTYPE else 0
    return t

def archive(path, entries, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(path, 'w:xz', format=fmt) as t:
        for e in entries:
            x, d = e if isinstance(e, tuple) else (e, None)
            t.addfile(x, io.BytesIO(d) if d is not None else None)

def f(name, data, **kw):
    return (ti(name, data=data, **kw), data)

root = [ti('./', tarfile.DIRTYPE, mode=0o755), ti('./include/', tarfile.DIRTYPE, mode=0o755)]

# M1: two archives of one size, different content.
for n, v in (('1', b'1'), ('2', b'2')):
    archive('m1-%s.tar.xz' % n, root + [f('./include/a.h', b'#define A ' + v + b'\n'),
                                        f('./include/b.h', b'#define B ' + v + b'\n')])

# M2: a pax hard link carrying data (zeros) over ./a; a hard link to
# ./c where the manifest says ./b holds ./a's content.
hello, world = b'hello\n', b'world\n'
carry = ti('./b', tarfile.LNKTYPE, link='./a')
carry.size = 6
carry.pax_headers = {'comment': 'pax, so that the link keeps its data'}
archive('m2-carry.tar.xz', [root[0], f('./a', hello), (carry, b'\0' * 6)])
archive('m2-relink.tar.xz', [root[0], f('./a', hello), f('./c', world),
                             ti('./b', tarfile.LNKTYPE, link='./c')])
archive('m2-good.tar.xz', [root[0], f('./a', hello), f('./c', world),
                           ti('./b', tarfile.LNKTYPE, link='./a')])
def sha(b): return hashlib.sha256(b).hexdigest()
with open('m2.mtree', 'w') as m:   # as mtree(8) lists a tree: no archive digest
    m.write('#mtree\n. type=dir mode=0755\n')
    for n, d in (('./a', hello), ('./b', hello), ('./c', world)):
        m.write('%s type=file mode=0644 size=%d sha256digest=%s\n' % (n, len(d), sha(d)))
with open('m2-carry.mtree', 'w') as m:
    m.write('#mtree\n. type=dir mode=0755\n')
    m.write('./a type=file mode=0644 size=6 sha256digest=%s\n' % sha(hello))
    m.write('./b type=file mode=0644 size=6 sha256digest=%s\n' % sha(b'\0' * 6))

# M3: sparse entries whose size is 1 but whose one byte sits far away.
def b256(n): return bytes([0x80]) + n.to_bytes(11, 'big')
def gnu_sparse(off, realsize):
    t = ti('./big', data=b'x')
    h = bytearray(t.tobuf(format=tarfile.GNU_FORMAT))
    h[156:157] = b'S'
    h[386:398] = b256(off)              # sp[0].offset
    h[398:410] = b'%011o\0' % 1         # sp[0].numbytes
    h[483:495] = b256(realsize)
    h[148:156] = b' ' * 8
    h[148:156] = b'%06o\0 ' % sum(h)
    return bytes(h) + b'x'.ljust(512, b'\0')
def raw(path, body):
    body += b'\0' * 1024
    body += b'\0' * (-len(body) % 10240)
    open(path, 'wb').write(lzma.compress(body, check=lzma.CHECK_CRC64))
top = ti('./', tarfile.DIRTYPE, mode=0o755).tobuf(format=tarfile.GNU_FORMAT)
raw('m3-gnu-2e60.tar.xz', top + gnu_sparse(1 << 60, 1))
raw('m3-gnu-5g.tar.xz', top + gnu_sparse(5 << 30, 1))
raw('m3-gnu-tail.tar.xz', top + gnu_sparse(0, 4096))
p01 = ti('./big', data=b'x')
p01.pax_headers = {'GNU.sparse.size': '1', 'GNU.sparse.numblocks': '1',
                   'GNU.sparse.map': '%d,1' % (1 << 60)}
archive('m3-pax01.tar.xz', [root[0], (p01, b'x')])
m10 = ('1\n%d\n1\n' % (1 << 60)).encode().ljust(512, b'\0') + b'x'
p10 = ti('./GNUSparseFile.0/big', data=m10)
p10.pax_headers = {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0',
                   'GNU.sparse.name': './big', 'GNU.sparse.realsize': '1'}
archive('m3-pax10.tar.xz', [root[0], (p10, m10)])

# M4: a tree to replace, and a refused archive with a name near PATH_MAX.
archive('m4-new.tar.xz', root + [f('./include/new.h', b'#define NEW 1\n')])
parts = ['d%03d' % i + 'x' * 195 for i in range(20)]
deep = [ti('./' + '/'.join(parts[:i]) + '/', tarfile.DIRTYPE, mode=0o755)
        for i in range(1, len(parts) + 1)]
archive('m4-deep.tar.xz', [root[0]] + deep +
        [f('./' + '/'.join(parts) + '/' + 'f' * 70, b'x\n'),
         ti('./fifo', tarfile.FIFOTYPE)])

# L4: names that would drive a terminal.
esc = './include/\x1b]0;pwned\x07\x1b[2J'
archive('l4-fifo.tar.xz', root + [ti(esc, tarfile.FIFOTYPE)], tarfile.GNU_FORMAT)
archive('l4-link.tar.xz', root + [ti('./include/hl', tarfile.LNKTYPE, link=esc + '.h')],
        tarfile.GNU_FORMAT)
archive('l4-extra.tar.xz', root + [f(esc + '.h', b'x\n')], tarfile.GNU_FORMAT)
with open('l4.mtree', 'w') as m:
    m.write('#mtree\n. type=dir mode=0755\n./include type=dir mode=0755\n')
PY

# ---- M1: the source changes after its digest was checked. The run is
# held when it opens its temporary tree, after every check.
[ "$(stat -c %s m1-1.tar.xz)" = "$(stat -c %s m1-2.tar.xz)" ] || rb_bad "M1: archives differ in size"
"$K" extract m1-1.tar.xz "$T/ref1" || rb_bad "M1: reference extraction"
# Only the archive's digest: no entry's size or digest to catch a change.
"$K" manifest m1-1.tar.xz | sed -E 's/ (size|sha256digest)=[^ ]*//g' > m1.mtree &&
	grep -q '^# archive-sha256: ' m1.mtree && ! grep -q sha256digest= m1.mtree ||
	rb_bad "M1: manifest"
sum1=$(sha256sum < m1-1.tar.xz | cut -d' ' -f1)
# m1_case LABEL CHANGE CHECK...: CHANGE is "rewrite" (same inode, other
# bytes) or "truncate".
m1_case() {
	local label=$1 change=$2 rc
	shift 2
	cp m1-1.tar.xz src.tar.xz
	rm -rf "$T/x"
	rb_held KH_FAULT_PATH=.x.kheaders- "$K" extract "$@" src.tar.xz "$T/x" || return
	if [ "$change" = rewrite ]; then
		dd if=m1-2.tar.xz of=src.tar.xz conv=notrunc status=none
	else
		: > src.tar.xz
	fi
	rb_release
	rc=$RC
	if [ "$rc" = 0 ] && diff -r "$T/x" "$T/ref1" >/dev/null && no_xtmp "$T/x"; then
		rb_ok "M1 $label: exit 0, the tree holds the checked bytes"
	elif [ "$rc" = 1 ] && [ ! -e "$T/x" ] && no_xtmp "$T/x"; then
		rb_ok "M1 $label: refused, nothing extracted: $(head -n 1 "$T/held.err")"
	else
		rb_bad "M1 $label: exit $rc, tree $( [ -e "$T/x" ] && (diff -r "$T/x" "$T/ref1" >/dev/null && echo checked || echo CHANGED) || echo absent), temporaries: $(ls -A "$T" | grep -F .x.kheaders- | tr '\n' ' ')"
		sed 's/^/     | /' "$T/held.err"
	fi
	rm -rf "$T"/.x.kheaders-*
}
m1_case "--sha256, rewritten" rewrite --sha256 "$sum1"
m1_case "--sha256, truncated" truncate --sha256 "$sum1"
m1_case "--manifest (archive digest), rewritten" rewrite --manifest m1.mtree

# ---- M2: hard links.
for c in "m2-carry.tar.xz:m2-carry.mtree:./b: refusing a hard link that carries data" \
	 "m2-carry.tar.xz::./b: refusing a hard link that carries data" \
	 "m2-relink.tar.xz:m2.mtree:./b: content (sha256) differs from the manifest m2.mtree"; do
	a=${c%%:*} rest=${c#*:} m=${rest%%:*} msg=${rest#*:}
	rm -rf "$T/x"
	rb_expect 1 "$msg" "$K" extract ${m:+--manifest "$m"} "$a" "$T/x"
	[ ! -e "$T/x" ] && no_xtmp "$T/x" || rb_bad "M2 $a: something left"
done
rb_expect 0 "" "$K" extract --manifest m2.mtree m2-good.tar.xz "$T/m2good"
[ "$(stat -c %h "$T/m2good/b")" = 2 ] && cmp -s "$T/m2good/a" "$T/m2good/b" &&
	rb_ok "M2: a hard link to the file the manifest says is extracted and verified" ||
	rb_bad "M2: the good hard link"
# A manifest of the tar itself lists the link as an empty file: fine when
# its archive digest pins these very bytes, a difference otherwise.
{ echo '#mtree'
  echo "# archive-sha256: $(sha256sum < m2-good.tar.xz | cut -d' ' -f1)"
  echo "# archive-size: $(stat -c %s m2-good.tar.xz)"
  grep -v '^\./b ' m2.mtree | grep -v '^#'
  echo "./b type=file mode=0644 size=0 sha256digest=$(sha256sum < /dev/null | cut -d' ' -f1)"
} > m2-tar.mtree
rb_expect 0 "" "$K" extract --manifest m2-tar.mtree m2-good.tar.xz "$T/m2tar"
grep -v '^# archive-' m2-tar.mtree > m2-tar-nodigest.mtree
rb_expect 1 "./b: size differs from the manifest m2-tar-nodigest.mtree" \
	"$K" extract --manifest m2-tar-nodigest.mtree m2-good.tar.xz "$T/m2tar2"
# verify --manifest and manifest read the tar, not a tree: the same
# rules. A link carrying data is refused (0.1.0 said OK while extraction
# would leave zeros in both files); a link without data is described by
# what it holds, its target's content, as mtree(8) lists a tree.
rb_expect 2 "./b: hard link that carries data; refusing it" \
	"$K" verify --manifest m2-carry.mtree m2-carry.tar.xz
rb_expect 1 "./b: hard link that carries data; refusing it" "$K" manifest m2-carry.tar.xz
# (verify also checks the order: this manifest lists the archive's.)
grep -v '^\./b ' m2.mtree > m2-order.mtree && grep '^\./b ' m2.mtree >> m2-order.mtree
rb_expect 0 "OK" "$K" verify --manifest m2-order.mtree m2-good.tar.xz
rb_expect 1 "" "$K" verify --manifest m2-order.mtree m2-relink.tar.xz
grep -q '^\./b: content differs' "$T/rb.out" "$T/rb.err" ||
	rb_bad "verify: the relinked ./b is not named as differing"
"$K" manifest m2-good.tar.xz > m2-from-tar.mtree &&
	grep -q "^\./b type=file .*size=6 .*sha256digest=$(sha256sum <<<hello | cut -d' ' -f1)" m2-from-tar.mtree &&
	rb_ok "manifest lists a hard link as its target's content" ||
	rb_bad "manifest of a tar with a hard link: $(grep '^\./b' m2-from-tar.mtree)"

# ---- M3: sparse entries, refused at once (a run that spins is killed
# by timeout and fails here).
for a in m3-gnu-2e60 m3-gnu-5g m3-gnu-tail m3-pax01 m3-pax10; do
	rm -rf "$T/x"
	rb_expect 1 "$a.tar.xz: ./big: refusing a sparse file" timeout -k 5 60 "$K" extract "$a.tar.xz" "$T/x"
	[ ! -e "$T/x" ] && no_xtmp "$T/x" || { rb_bad "M3 $a: something left"; rm -rf "$T"/.x.kheaders-*; }
done

# ---- M4: --replace while another user swaps a symlink into the old tree.
P=$(rb_priv)
mkdir "$P/victim"
echo precious > "$P/victim/kh-victim-x"
"$K" extract m1-1.tar.xz "$P/dest" || rb_bad "M4: first extraction"
mkdir "$P/dest/sub"
rb_own "$P/dest/sub"
rb_nobody mkdir "$P/dest/sub/d" && rb_nobody sh -c "echo mine > '$P/dest/sub/d/kh-victim-x'" ||
	rb_bad "M4: the attacker cannot write its directory"
# Held just before the old tree's kh-victim-x is unlinked: the old tree
# then sits at the temporary name, and the attacker swaps its directory.
if rb_held KH_FAULT_CALL=unlink KH_FAULT_PATH=kh-victim-x "$K" extract --replace m4-new.tar.xz "$P/dest"; then
	old=$(ls -d "$P"/.dest.kheaders-* | head -n 1)
	rb_nobody mv "$old/sub/d" "$old/sub/d.moved" && rb_nobody ln -s "$P/victim" "$old/sub/d" ||
		rb_bad "M4: the attacker could not swap"
	rb_release
	rc=$RC
	[ "$(cat "$P/victim/kh-victim-x" 2>/dev/null)" = precious ] &&
		rb_ok "M4: the symlink swapped in during removal was not followed" ||
		rb_bad "M4: root deleted $P/victim/kh-victim-x through the attacker's symlink"
	[ "$rc" = 0 ] && [ -f "$P/dest/include/new.h" ] && no_xtmp "$P/dest" &&
		rb_ok "M4: exit 0, the new tree in place, the old one gone" ||
		{ rb_bad "M4: exit $rc, left: $(ls -A "$P")"; sed 's/^/     | /' "$T/held.err"; }
fi
# The same one level deeper, with the attacker's directory moved out of
# the tree (to one the attacker owns) before the symlink goes in: the
# walk, back from a directory whose ".." is no longer where it came
# from, starts again from the top instead of following "..".
mkdir -p "$P/victim2/e" "$P/att"
echo precious > "$P/victim2/e/kh-victim-y"
rb_own "$P/att"
"$K" extract m1-1.tar.xz "$P/dest2" || rb_bad "M4 moved: first extraction"
mkdir "$P/dest2/sub"
rb_own "$P/dest2/sub"
rb_nobody mkdir -p "$P/dest2/sub/d/e" && rb_nobody sh -c "echo mine > '$P/dest2/sub/d/e/kh-victim-y'" ||
	rb_bad "M4 moved: the attacker cannot write its directory"
if rb_held KH_FAULT_CALL=unlink KH_FAULT_PATH=kh-victim-y "$K" extract --replace m4-new.tar.xz "$P/dest2"; then
	old=$(ls -d "$P"/.dest2.kheaders-* | head -n 1)
	rb_nobody mv "$old/sub/d" "$P/att/d" && rb_nobody ln -s "$P/victim2" "$old/sub/d" ||
		rb_bad "M4 moved: the attacker could not swap"
	rb_release
	rc=$RC
	[ "$(cat "$P/victim2/e/kh-victim-y" 2>/dev/null)" = precious ] && [ -d "$P/att/d" ] &&
		rb_ok "M4 moved: nothing followed, the moved directory left where it went" ||
		rb_bad "M4 moved: root deleted $P/victim2/e/kh-victim-y or the moved directory"
	[ "$rc" = 0 ] && [ -f "$P/dest2/include/new.h" ] && no_xtmp "$P/dest2" &&
		rb_ok "M4 moved: exit 0, the new tree in place, the old one gone" ||
		{ rb_bad "M4 moved: exit $rc, left: $(ls -A "$P")"; sed 's/^/     | /' "$T/held.err"; }
fi
# A refused archive whose tree holds a name near PATH_MAX: removed too.
mkdir "$T/w"
rb_expect 1 "./fifo: refusing a FIFO" "$K" extract m4-deep.tar.xz "$T/w/dest"
[ -z "$(ls -A "$T/w")" ] && rb_ok "M4: the refused tree with a 4,070-byte name is gone" ||
	{ rb_bad "M4: left behind: $(ls -A "$T/w")"; rm -rf "$T/w"/.dest.kheaders-*; }

# ---- L4: escape sequences in names.
l4() {
	local label=$1 want=$2
	shift 2
	rm -rf "$T/x"
	"$@" 2> l4.err
	if grep -q $'\x1b\|\x07' l4.err; then
		rb_bad "L4 $label: raw control bytes on stderr"
	elif ! grep -qF -- "$want" l4.err; then
		rb_bad "L4 $label: '$(cat l4.err)', wanted '$want'"
	else
		rb_ok "L4 $label: $(cat l4.err)"
	fi
	[ ! -e "$T/x" ] || rb_bad "L4 $label: DIR left"
}
l4 "a refused entry" './include/\033]0;pwned\007\033[2J: refusing a FIFO' "$K" extract l4-fifo.tar.xz "$T/x"
l4 "a hard link's target" 'refusing a hard link to ./include/\033]0;pwned\007\033[2J.h, not a file' \
	"$K" extract l4-link.tar.xz "$T/x"
l4 "an entry not in the manifest" './include/\033]0;pwned\007\033[2J.h: not in the manifest l4.mtree' \
	"$K" extract --manifest l4.mtree l4-extra.tar.xz "$T/x"

# ---- Bounds: a .ko.xz whose index declares 260 MiB (an ELF header and
# zeros: 40 KB of xz), and a named device.
{ printf '\177ELF\2\1\1'; head -c $((260 << 20)) /dev/zero; } | xz -0 -T1 > big.ko.xz
rm -rf "$T/x"
rb_maxrss_mb rss "$K" extract big.ko.xz "$T/x" 2> big.err
rc=$?
if [ "$rc" = 1 ] && grep -qF "big.ko.xz: decompresses to 272629767 bytes, over the 256 MiB limit for an xz-compressed module" big.err &&
	[ "$(cat rss)" -lt 64 ]; then
	rb_ok "a $(stat -c %s big.ko.xz)-byte .ko.xz of 260 MiB refused before decompressing ($(cat rss) MiB peak): $(cat big.err)"
else
	rb_bad "big .ko.xz: exit $rc, peak $(cat rss) MiB: $(cat big.err)"
fi
# (Address space capped so that a binary that reads it anyway fails
# fast; ASan's shadow memory needs no cap and cannot live with one.)
vlim='ulimit -v 1000000;'
grep -qa __asan_init "$K" && vlim=
rb_expect 1 "/dev/zero: is a device, not a file; refusing to read it" \
	bash -c "$vlim"' exec "$@"' _ "$K" extract /dev/zero "$T/x"
rb_expect 1 "standard input: is a device, not a file; refusing to read it" \
	bash -c "$vlim"' exec "$@" < /dev/zero' _ "$K" extract - "$T/x"
[ ! -e "$T/x" ] || rb_bad "/dev/zero: DIR left"

exit $fail
