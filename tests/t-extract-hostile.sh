#!/bin/bash
# Hostile archives (made here with python3's tarfile) are refused by
# `kheaders extract` with a message naming the entry and the reason;
# nothing is written outside the target, and no target or temporary
# directory is left, even when good entries came before the bad one.
# Symlinks that point outside are fine as symlinks, never as paths.
# Also: --sha256 refuses a mismatch the same way, and --replace swaps a
# complete tree in (t-extract-manifest.sh does --manifest).
set -u
T=$TEST_TMP
cd "$T"
fail=0
bad() { echo "FAIL $*"; fail=1; }

mkdir outside work
echo secret > outside/secret
OUT=$T/outside
python3 - "$OUT" <<'PY' || { echo "FAIL cannot build the archives"; exit 1; }
import io, sys, tarfile
out = sys.argv[1]

def entry(name, typ=tarfile.REGTYPE, data=b'', link='', mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode, ti.mtime = typ, link, mode, 1700000000
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    if typ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        ti.devmajor, ti.devminor = 1, 3
    return ti, (data if typ == tarfile.REGTYPE else None)

# A good start, so that a refusal comes after files were written.
good = [entry('./', tarfile.DIRTYPE, mode=0o755),
        entry('./include/', tarfile.DIRTYPE, mode=0o755),
        entry('./include/ok.h', data=b'#define OK 1\n')]
cases = {
    'absolute':        [entry(out + '/abs', data=b'pwned\n')],
    'dotdot':          [entry('../outside/dotdot', data=b'pwned\n')],
    'dotdot-inner':    [entry('./include/../../outside/inner', data=b'pwned\n')],
    'through-symlink': [entry('./include/lnk', tarfile.SYMTYPE, link='.'),
                        entry('./include/lnk/through.h', data=b'pwned\n')],
    'symlink-out-abs': [entry('./esc', tarfile.SYMTYPE, link=out),
                        entry('./esc/abs-through', data=b'pwned\n')],
    'symlink-out-rel': [entry('./include/up', tarfile.SYMTYPE,
                              link='../../outside'),
                        entry('./include/up/rel-through', data=b'pwned\n')],
    'symlink-replace': [entry('./include/s', tarfile.SYMTYPE,
                              link=out + '/secret'),
                        entry('./include/s', data=b'pwned\n')],
    'chardev':         [entry('./include/null', tarfile.CHRTYPE)],
    'blockdev':        [entry('./include/sda', tarfile.BLKTYPE)],
    'fifo':            [entry('./include/fifo', tarfile.FIFOTYPE)],
    'hardlink-abs':    [entry('./include/hl', tarfile.LNKTYPE,
                              link=out + '/secret')],
    'hardlink-dotdot': [entry('./include/hl', tarfile.LNKTYPE,
                              link='../outside/secret')],
    'hardlink-later':  [entry('./include/hl', tarfile.LNKTYPE,
                              link='include/later.h'),
                        entry('./include/later.h', data=b'x\n')],
    'hardlink-symlink': [entry('./include/s', tarfile.SYMTYPE, link=out),
                        entry('./include/hl', tarfile.LNKTYPE,
                              link='include/s')],
    'file-as-parent':  [entry('./include/ok.h/x.h', data=b'x\n')],
}
for name, extra in cases.items():
    with tarfile.open(name + '.tar.xz', 'w:xz', format=tarfile.GNU_FORMAT) as t:
        for ti, d in good + extra:
            t.addfile(ti, None if d is None else io.BytesIO(d))
# Fine: symlinks pointing anywhere are kept as symlinks; a hard link to
# a file of the archive is fine.
with tarfile.open('benign.tar.xz', 'w:xz', format=tarfile.GNU_FORMAT) as t:
    for ti, f in good + [
            entry('./include/abs', tarfile.SYMTYPE, link=out + '/secret'),
            entry('./include/rel', tarfile.SYMTYPE, link='../../outside'),
            entry('./include/hl.h', tarfile.LNKTYPE, link='./include/ok.h')]:
        t.addfile(ti, None if f is None else io.BytesIO(f))
PY
# A truncated stream: the xz data ends early.
head -c 200 benign.tar.xz > truncated.tar.xz

snapshot() { (cd outside && find . -printf '%p %y %s %T@\n' | sort; cat secret); }
snapshot > outside.before

# refused CASE MESSAGE: extraction fails with MESSAGE and leaves nothing.
refused() {
	local c=$1 msg=$2
	if "$KHEADERS" extract "$c.tar.xz" work/dest 2> "$c.err"; then
		bad "$c: accepted"
	elif ! grep -qF -- "$msg" "$c.err"; then
		bad "$c: message: '$(cat "$c.err")', wanted '$msg'"
	else
		echo "ok  $c: $(cat "$c.err")"
	fi
	[ ! -e work/dest ] && [ ! -L work/dest ] || bad "$c: target left"
	[ -z "$(ls -A work)" ] || bad "$c: left in work/: $(ls -A work)"
	snapshot | cmp -s outside.before - || bad "$c: something changed outside"
	[ ! -e "$T/abs" ] && [ ! -e "$T/outside/abs" ] || bad "$c: wrote an absolute path"
	rm -rf work/dest work/.dest.kheaders-*
}

refused absolute        "absolute.tar.xz: $OUT/abs: refusing an absolute path"
refused dotdot          "dotdot.tar.xz: ../outside/dotdot: refusing a '..' component"
refused dotdot-inner    "./include/../../outside/inner: refusing a '..' component"
refused through-symlink "./include/lnk/through.h: refusing to write through the symlink include/lnk"
refused symlink-out-abs "./esc/abs-through: refusing to write through the symlink esc"
refused symlink-out-rel "./include/up/rel-through: refusing to write through the symlink include/up"
refused symlink-replace "./include/s: refusing a path that appears twice"
refused chardev         "./include/null: refusing a device node"
refused blockdev        "./include/sda: refusing a device node"
refused fifo            "./include/fifo: refusing a FIFO"
refused hardlink-abs    "./include/hl: refusing a hard link to $OUT/secret: an absolute path"
refused hardlink-dotdot "./include/hl: refusing a hard link to ../outside/secret: a '..' component"
refused hardlink-later  "./include/hl: refusing a hard link to include/later.h, not a file extracted before it"
refused hardlink-symlink "./include/hl: refusing a hard link to include/s, not a file extracted before it"
refused file-as-parent  "./include/ok.h/x.h: refusing a path below the file include/ok.h"
refused truncated       "truncated.tar.xz: "

# The benign archive extracts; its symlinks stay symlinks.
if "$KHEADERS" extract benign.tar.xz work/dest 2> err; then
	[ "$(readlink work/dest/include/abs)" = "$OUT/secret" ] &&
	[ "$(readlink work/dest/include/rel)" = "../../outside" ] &&
	[ "$(stat -c %h work/dest/include/hl.h)" = 2 ] &&
	cmp -s work/dest/include/hl.h work/dest/include/ok.h &&
		echo "ok  benign: symlinks kept as symlinks, hard link made" ||
		bad "benign: wrong tree"
else
	bad "benign refused: $(cat err)"
fi
snapshot | cmp -s outside.before - || bad "benign: something changed outside"

# --sha256: checked before anything is written.
sum=$(sha256sum < benign.tar.xz | cut -d' ' -f1)
wrong=$(printf '%s' "$sum" | tr 0-9a-f 1-9a-f0)
"$KHEADERS" extract --sha256 "$sum" benign.tar.xz work/s1 2> err &&
	echo "ok  --sha256 match" || bad "--sha256 match: $(cat err)"
if "$KHEADERS" extract --sha256 "$wrong" benign.tar.xz work/s2 2> err; then
	bad "--sha256 mismatch accepted"
else
	grep -q "benign.tar.xz: SHA-256 is $sum, not the one expected" err ||
		bad "--sha256 mismatch: $(cat err)"
	[ ! -e work/s2 ] || bad "--sha256 mismatch: target left"
fi
"$KHEADERS" extract --sha256 xyz benign.tar.xz work/s3 2> /dev/null
[ $? = 2 ] || bad "--sha256 xyz is not a usage error"

# --replace: an existing tree is swapped for a complete new one.
mkdir work/r && echo stale > work/r/stale.h
"$KHEADERS" extract --replace benign.tar.xz work/r 2> err || bad "--replace: $(cat err)"
[ -f work/r/include/ok.h ] && [ ! -e work/r/stale.h ] &&
	[ -z "$(ls -A work | grep kheaders-)" ] && echo "ok  --replace" ||
	bad "--replace: wrong tree"
# ...but a refused archive leaves the old tree as it was.
"$KHEADERS" extract --replace fifo.tar.xz work/r 2> /dev/null && bad "--replace: fifo accepted"
[ -f work/r/include/ok.h ] || bad "--replace: refused archive damaged the old tree"

[ $fail = 0 ] && echo "every hostile archive refused; nothing written outside"
exit $fail
