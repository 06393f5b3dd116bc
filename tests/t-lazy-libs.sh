#!/bin/bash
# libarchive and libcrypto are loaded only when a run needs them
# (lib/kh_dl.h): a no-op `gen` loads neither, a build loads both, and a
# library that cannot be loaded is an error that names it, with the
# previous outputs left as they were. The decompressors of kernel
# images too: a no-op maps none, an image compressed with gzip loads
# zlib alone.
set -u
. "$TOP/tests/lib/robust.sh"
T=$TEST_TMP
S=$TOP/golden/sample
K=$KHEADERS
fail=0
G=(gen -q --srctree "$S/src" --objtree "$S/obj" --arch x86 --mtime @0 -o "$T/out/k.tar.xz")
mkdir -p "$T/out"
bad() { echo "FAIL $*"; fail=1; }

dl=$("$K" --version | sed -n 's/^loads when needed: //p')
[ "$(echo $dl | wc -w)" = 7 ] || bad "--version names '$dl', want seven sonames"
all=$dl
dc=$(echo $all | cut -d' ' -f3-)   # zlib, libbz2, liblz4, libzstd, liblzo2
dl=$(echo $all | cut -d' ' -f1-2)  # libarchive, libcrypto
for so in $all; do
	case $so in lib*.so.*) ;; *) bad "not a soname: $so" ;; esac
	if ldd "$K" | grep -q "^[[:space:]]*$so "; then
		bad "$so is linked, not loaded when needed"
	else
		echo "ok   $so is not in ldd's list"
	fi
done

# loaded LOGFILE: the sonames that ld.so's LD_DEBUG=files says were loaded.
loaded() { sed -n 's/.*file=\([^ ]*\) \[0\];  dynamically loaded by.*/\1/p' "$1" | sort -u | tr '\n' ' '; }

LD_DEBUG=files "$K" "${G[@]}" 2>"$T/build.log" || { cat "$T/build.log"; bad "build failed"; }
for so in $dl; do
	grep -q "file=$so \[0\];  dynamically loaded" "$T/build.log" &&
		echo "ok   a build loads $so" || bad "a build did not load $so"
done
sha=$(sha256sum < "$T/out/k.tar.xz")
# Past the second in which the outputs were written, they are trusted
# by their stat data and nothing is hashed (kheaders(1), SKIPPING WORK).
sleep 1.1
"$K" "${G[@]}" || bad "first no-op failed"
LD_DEBUG=files "$K" "${G[@]}" 2>"$T/noop.log" || { cat "$T/noop.log"; bad "no-op failed"; }
l=$(loaded "$T/noop.log")
[ -z "$l" ] && echo "ok   a no-op loads no library at run time" ||
	bad "a no-op loaded: $l"
# (A build may: libarchive needs zlib, libbz2, liblz4 and libzstd.)
n=0
for so in $dc; do
	grep -q "file=$so " "$T/noop.log" && { bad "a no-op loaded $so"; n=1; }
done
[ $n = 0 ] && echo "ok   a no-op maps no decompressor ($dc)"
{ seq 1 4000; printf IKHD_ST; cat "$T/out/k.tar.xz"; printf IKHD_ED; } | gzip -n > "$T/img.gz"
LD_DEBUG=files "$K" manifest "$T/img.gz" >"$T/m.gz" 2>"$T/gz.log" || bad "manifest of a gzip image failed"
l=" $(loaded "$T/gz.log")"
got=$(for so in $dc; do case $l in *" $so "*) echo $so ;; esac; done)
[ "$got" = "$(echo $dc | cut -d' ' -f1)" ] && echo "ok   a gzip image loads $got alone" ||
	bad "a gzip image loaded the decompressors '$got'"
# A manifest request needs both again, even when nothing changed.
LD_DEBUG=files "$K" manifest "$T/out/k.tar.xz" >"$T/m" 2>"$T/man.log" || bad "manifest failed"
[ "$(loaded "$T/man.log")" = "$(echo $dl | tr ' ' '\n' | sort | tr '\n' ' ')" ] &&
	echo "ok   manifest loads both" || bad "manifest loaded: $(loaded "$T/man.log")"

# A libarchive without libarchive's functions: a clear error, exit 1,
# and the archive of the last run untouched.
so=$(echo $dl | tr ' ' '\n' | grep '^libarchive')
mkdir -p "$T/fake"
echo 'int kh_not_libarchive;' > "$T/fake/f.c"
cc -shared -fPIC -Wl,-soname,"$so" -o "$T/fake/$so" "$T/fake/f.c" || bad "cannot build a fake $so"
echo '#define KH_T_CHANGED 1' > "$T/extra.h"
mkdir -p "$T/src" && cp -a "$S/src/." "$T/src/" && cp "$T/extra.h" "$T/src/include/"
G2=("${G[@]}")
G2[3]=$T/src
LD_LIBRARY_PATH=$T/fake "$K" "${G2[@]}" 2>"$T/err"
rc=$?
if [ $rc = 1 ] && grep -q "^kheaders: cannot find archive_[a-z_]* in $so: " "$T/err"; then
	echo "ok   1 $(head -n 1 "$T/err")"
else
	bad "fake $so: exit $rc: $(cat "$T/err")"
fi
[ "$(sha256sum < "$T/out/k.tar.xz")" = "$sha" ] && echo "ok   the previous archive is intact" ||
	bad "the archive changed after a failed run"
rb_quiet_dir "$T/out" k.tar.xz k.tar.xz.state && echo "ok   no temporary left" ||
	bad "left behind in $T/out"
# Not loadable at all: its name and dlerror's reason.
: > "$T/fake/$so"
LD_LIBRARY_PATH=$T/fake "$K" "${G2[@]}" 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^kheaders: cannot load $so: " "$T/err" &&
	echo "ok   1 $(head -n 1 "$T/err")" || bad "empty $so: exit $rc: $(cat "$T/err")"
# A decompressor that cannot be loaded: an error that names it, not a
# payload passed over.
zso=$(echo $dc | cut -d' ' -f1)
mkdir -p "$T/fakez"
cc -shared -fPIC -Wl,-soname,"$zso" -o "$T/fakez/$zso" "$T/fake/f.c" || bad "cannot build a fake $zso"
LD_LIBRARY_PATH=$T/fakez "$K" manifest "$T/img.gz" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] && grep -q "^kheaders: cannot find [a-z0-9_]* in $zso: " "$T/err" &&
	echo "ok   1 $(head -n 1 "$T/err")" || bad "fake $zso: exit $rc: $(cat "$T/err")"
exit $fail
