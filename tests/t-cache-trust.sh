#!/bin/bash
# The block cache is a private directory that kheaders made and owns
# (issue 12). Each case here deleted files, wrote where it should not,
# hung, or built the wrong archive on kheaders 0.1.0:
#   - a --cache DIR holding other files (dot files included), --cache .
#     in a tree: refused, every file left as it was;
#   - --cache as a symlink; OUTPUT.cache planted as a symlink, or as a
#     directory, by another user in a shared sticky directory; a cache
#     writable by its group or by others: refused, nothing written or
#     removed there (the other user acts through setpriv);
#   - a poisoned block (valid xz, other content, the right key and name,
#     a matching hash) in a cache the tool accepts: the archive is still
#     the one a build without a cache makes, now and in later runs;
#   - lock planted as a symlink: its target is not created;
#   - index as a FIFO, or a symlink to /dev/zero: no hang (timeout is
#     only a guard), not followed, rewritten as a real index;
#   - SIGINT while an entry is written: its temporary is removed.
# And what must keep working: a new directory, an empty one, and a
# cache of kheaders 0.1.0 (no tag) are used.
set -u
T=$TEST_TMP
K=$KHEADERS
. "$TOP/tests/lib/robust.sh"
ok() { rb_ok "$@"; }
bad() { rb_bad "$@"; }

# A tree whose tar is one block at --xz-block-size 64K (under 80K).
mk_tree() {
	mkdir -p "$1/include/linux" "$1/arch/x86/include/asm"
	for i in $(seq -w 1 24); do
		for j in $(seq 1 40); do
			printf '#define KH_%s_%s_AAAA 0x%08x\n' "$i" "$j" $((10#$i * j))
		done > "$1/include/linux/h$i.h"
	done
	echo '#define A 1' > "$1/arch/x86/include/asm/a.h"
}
mk_tree "$T/src"
G=(gen -q --srctree "$T/src" --arch x86 --mtime @1 --xz-block-size 64K)
"$K" "${G[@]}" --no-state --no-cache -o "$T/ref.tar.xz" || bad "reference build"

# What a directory holds: names, types, modes, owners, sizes, contents.
snap() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %u %s %l\n' | sort &&
		find . -mindepth 1 -type f -exec md5sum {} + | sort)
}

# refused LABEL WHY DIR-TO-WATCH CMD...: exit 1, WHY in stderr, the
# watched directory exactly as before.
refused() {
	local label=$1 why=$2 watch=$3 before rc
	shift 3
	before=$(snap "$watch")
	timeout 120 "$@" > "$T/out.log" 2> "$T/err.log"
	rc=$?
	if [ $rc != 1 ]; then
		bad "$label: exit $rc, want 1"
	elif ! grep -qF -- "$why" "$T/err.log"; then
		bad "$label: no '$why' in: $(cat "$T/err.log")"
	elif [ "$before" != "$(snap "$watch")" ]; then
		bad "$label: $watch changed"
		diff <(echo "$before") <(snap "$watch") | sed 's/^/     | /'
	else
		ok "$label: $(head -n 1 "$T/err.log")"
		return 0
	fi
	[ -s "$T/err.log" ] && sed 's/^/     | /' "$T/err.log"
	diff <(echo "$before") <(snap "$watch") | sed 's/^/     | /'
	return 1
}

# A home-like directory: dot files, other files, a subdirectory.
mk_home() {
	mkdir -p "$1/sub"
	echo 'CONFIG_IKHEADERS=y' > "$1/.config"
	echo 'alias ll="ls -l"' > "$1/.bashrc"
	echo notes > "$1/notes.txt"
	echo deep > "$1/sub/.hidden"
	echo 'my own index' > "$1/index"
}

# 1. --cache naming a directory with other files, and --cache . in one.
mk_home "$T/home"
refused "--cache DIR with other files" "not a block cache of kheaders" "$T/home" \
	"$K" "${G[@]}" --no-state --cache "$T/home" -o "$T/o1.tar.xz"
[ ! -e "$T/o1.tar.xz" ] || bad "--cache DIR: an archive was written anyway"
refused "--cache . in a directory with .config" "not a block cache of kheaders" "$T/home" \
	env -C "$T/home" "$K" "${G[@]}" --no-state --cache . -o "$T/o1.tar.xz"

# 2. --cache as a symlink: to a good cache, and to someone's home.
"$K" "${G[@]}" --no-state --cache "$T/good" -o "$T/o2.tar.xz" || bad "fresh cache"
if [ -d "$T/good" ] && [ "$(stat -c %a "$T/good")" = 700 ] &&
	grep -qx 'Signature: 8a477f597d28d172789f06886806bc55' "$T/good/CACHEDIR.TAG"; then
	ok "a new cache is made 0700 and tagged"
else
	bad "new cache: $(stat -c %a "$T/good" 2>&1), tag: $(head -n 1 "$T/good/CACHEDIR.TAG" 2>&1)"
fi
ln -s "$T/good" "$T/link"
refused "--cache as a symlink to a cache" "is a symbolic link" "$T/good" \
	"$K" "${G[@]}" --no-state --cache "$T/link" -o "$T/o2.tar.xz"
refused "--cache as a symlink, trailing slash" "is a symbolic link" "$T/good" \
	"$K" "${G[@]}" --no-state --cache "$T/link/" -o "$T/o2.tar.xz"
ln -s "$T/home" "$T/homelink"
refused "--cache as a symlink to a home" "is a symbolic link" "$T/home" \
	"$K" "${G[@]}" --no-state --cache "$T/homelink" -o "$T/o2.tar.xz"

# 3. Group- or other-writable: refused even with the right tag.
cp -a "$T/good" "$T/open"
chmod 0777 "$T/open"
refused "cache writable by others" "writable by others" "$T/open" \
	"$K" "${G[@]}" --no-state --cache "$T/open" -o "$T/o3.tar.xz"
chmod 0770 "$T/open"
refused "cache writable by its group" "writable by its group" "$T/open" \
	"$K" "${G[@]}" --no-state --cache "$T/open" -o "$T/o3.tar.xz"

# 4. A shared sticky directory (like /tmp) where another user plants
# OUTPUT.cache: as a symlink to a victim directory, or as a directory of
# their own carrying kheaders' tag. The build runs as root or as us.
if [ "$(id -u)" = 0 ]; then
	S=$(rb_priv)
	chmod 1777 "$S"
	mk_home "$T/victim"
	cp "$T/good/CACHEDIR.TAG" "$S/tag"
	chmod 644 "$S/tag"
	rb_nobody ln -s "$T/victim" "$S/k.tar.xz.cache" || bad "nobody: cannot plant a symlink"
	refused "planted OUTPUT.cache symlink (another user)" "is a symbolic link" "$T/victim" \
		"$K" "${G[@]}" -o "$S/k.tar.xz"
	[ "$(ls -A "$S" | sort | tr '\n' ' ')" = "k.tar.xz.cache tag " ] &&
		ok "planted symlink: nothing written in the shared directory" ||
		bad "planted symlink: the shared directory holds $(ls -A "$S")"
	rb_nobody sh -c "mkdir '$S/j.tar.xz.cache' && cp '$S/tag' '$S/j.tar.xz.cache/CACHEDIR.TAG' &&
		echo x > '$S/j.tar.xz.cache/.keep' && echo y > '$S/j.tar.xz.cache/notes'" ||
		bad "nobody: cannot plant a directory"
	refused "planted OUTPUT.cache directory (another user)" "owned by uid 65534" "$S/j.tar.xz.cache" \
		"$K" "${G[@]}" -o "$S/j.tar.xz"
	[ ! -e "$S/j.tar.xz" ] && [ ! -e "$S/j.tar.xz.state" ] &&
		ok "planted directory: no archive, no state written" ||
		bad "planted directory: outputs written: $(ls -A "$S")"
else
	ok "not root: the two-user cases need setpriv as root (skipped here)"
fi

# 5. A poisoned block: tree 2 differs from tree 1 by a same-size edit,
# so its one block has the same length. Its cache entry, with the key in
# its header rewritten to tree 1's, filed under tree 1's name: magic,
# key, sizes and the hash of the block all agree; only decoding tells.
cp -a "$T/src" "$T/src2"
sed -i 's/AAAA/BBBB/' "$T/src2/include/linux/h07.h"
G2=(gen -q --srctree "$T/src2" --arch x86 --mtime @1 --xz-block-size 64K)
"$K" "${G[@]}" --no-state --cache "$T/c1" -o "$T/p.tar.xz" || bad "cache of tree 1"
"$K" "${G2[@]}" --no-state --cache "$T/c2" -o "$T/ref2.tar.xz" || bad "cache of tree 2"
cmp -s "$T/ref.tar.xz" "$T/ref2.tar.xz" && bad "the two trees give the same archive"
poison() {   # from-cache to-cache: file to's only block with from's
	local k1 k2
	k1=$(cd "$2" && ls *.xzb)
	k2=$(cd "$1" && ls *.xzb)
	k1=${k1%.xzb}
	k2=${k2%.xzb}
	cp "$1/$k2.xzb" "$2/$k1.xzb"
	printf "$(printf %s "$k1" | sed 's/../\\x&/g')" |
		dd of="$2/$k1.xzb" bs=1 seek=8 conv=notrunc status=none
}
n1=$(ls "$T/c1"/*.xzb | wc -l); n2=$(ls "$T/c2"/*.xzb | wc -l)
[ "$n1" = 1 ] && [ "$n2" = 1 ] || bad "want one block per tree, got $n1 and $n2"
poison "$T/c2" "$T/c1"
for run in 1 2; do
	"$K" "${G[@]}" -v --no-state --cache "$T/c1" -o "$T/p.tar.xz" 2> "$T/p.log"
	if cmp -s "$T/p.tar.xz" "$T/ref.tar.xz"; then
		ok "poisoned block, run $run: the archive a build without cache makes ($(grep -o '[0-9]* from the cache.*' "$T/p.log"))"
	else
		bad "poisoned block, run $run: archive differs from a build without cache"
		cmp -s "$T/p.tar.xz" "$T/ref2.tar.xz" && echo "     (it is tree 2's archive)"
	fi
done
grep -q ', 1 from the cache, 0 compressed' "$T/p.log" &&
	ok "the poisoned entry was replaced by a good one" ||
	bad "after the poisoned entry: $(grep blocks "$T/p.log")"

# The same with a state: the poisoned rebuild must not be recorded as
# up to date either. Build tree 1 (its block cached), edit, build, poison
# tree 1's entry, then go back to tree 1: the rebuild takes the block
# from the cache, and the next run finds it up to date.
D=$T/st
mkdir -p "$D"
cp -a "$T/src" "$T/src3"
G3=(gen -q --srctree "$T/src3" --arch x86 --mtime @1 --xz-block-size 64K -o "$D/k.tar.xz")
"$K" "${G3[@]}" || bad "state build 1"
cp "$T/src3/include/linux/h07.h" "$T/h07.orig"
echo '#define EDIT 1' >> "$T/src3/include/linux/h07.h"
"$K" "${G3[@]}" || bad "state build 2"
k1=$(cd "$T/c1" && ls *.xzb)
[ -e "$D/k.tar.xz.cache/$k1" ] || bad "tree 1's block is not in the state's cache"
cp "$T/c2"/*.xzb "$D/k.tar.xz.cache/$k1"
printf "$(printf %s "${k1%.xzb}" | sed 's/../\\x&/g')" |
	dd of="$D/k.tar.xz.cache/$k1" bs=1 seek=8 conv=notrunc status=none
cp "$T/h07.orig" "$T/src3/include/linux/h07.h"
"$K" "${G3[@]}" -v 2> "$T/s.log" || bad "state build 3"
"$K" "${G3[@]}" -v 2> "$T/s2.log" || bad "state build 4"
if cmp -s "$D/k.tar.xz" "$T/ref.tar.xz" && grep -q 'up to date' "$T/s2.log"; then
	ok "poisoned block with a state: right archive, then up to date"
else
	bad "poisoned block with a state: $(grep -h 'blocks\|up to date' "$T/s.log" "$T/s2.log")"
fi

# 6. lock planted as a symlink to a file that does not exist.
"$K" "${G[@]}" --no-state --cache "$T/c3" -o "$T/o6.tar.xz" || bad "cache c3"
rm -f "$T/c3/lock"
ln -s "$T/nologin" "$T/c3/lock"
refused "lock as a symlink" "lock: is a symbolic link" "$T/c3" \
	"$K" "${G[@]}" --no-state --cache "$T/c3" -o "$T/o6.tar.xz"
[ ! -e "$T/nologin" ] && ok "the lock symlink's target was not created" ||
	bad "the lock symlink's target was created"
rm -f "$T/c3/lock"

# 7. index as a FIFO, then as a symlink to /dev/zero. timeout turns a
# hang into a failure; nothing here depends on how long a run takes.
for kind in fifo zero; do
	rm -f "$T/c3/index"
	if [ $kind = fifo ]; then mkfifo "$T/c3/index"; else ln -s /dev/zero "$T/c3/index"; fi
	timeout 60 "$K" "${G[@]}" -v --no-state --cache "$T/c3" -o "$T/o7.tar.xz" 2> "$T/i.log"
	rc=$?
	if [ $rc = 0 ] && [ -f "$T/c3/index" ] && [ ! -L "$T/c3/index" ] &&
		head -n 1 "$T/c3/index" | grep -qx 'kheaders-bcache 1' &&
		cmp -s "$T/o7.tar.xz" "$T/ref.tar.xz"; then
		ok "index as a $kind: not read, rewritten ($(grep -o '[0-9]* from the cache.*' "$T/i.log"))"
	else
		bad "index as a $kind: exit $rc$([ $rc = 124 ] && echo ' (hung)'), index: $(stat -c %F "$T/c3/index" 2>&1)"
	fi
done
[ -c /dev/zero ] || bad "/dev/zero is no longer a device"

# 8. SIGINT while an entry is being renamed into place (the shim stalls
# the run there): the run dies of the signal and its temporary goes.
rc=$(rb_stall INT KH_FAULT_CALL=rename KH_FAULT_PATH=.xzb \
	"$K" "${G[@]}" --no-state --cache "$T/c5" -o "$T/o9.tar.xz")
left=$(ls -A "$T/c5" | grep '^\.')
[ "$rc" = 130 ] && [ -z "$left" ] && [ -f "$T/c5/CACHEDIR.TAG" ] &&
	ok "SIGINT while writing an entry: exit 130, no temporary left in the cache" ||
	bad "SIGINT while writing an entry: exit $rc, left: $left $(ls -A "$T/c5")"

# 9. What is accepted: an empty directory, and a cache of 0.1.0 (no tag).
mkdir "$T/empty"
"$K" "${G[@]}" --no-state --cache "$T/empty" -o "$T/o8.tar.xz" &&
	[ -f "$T/empty/CACHEDIR.TAG" ] && ok "an empty directory is adopted and tagged" ||
	bad "empty directory: $(ls -A "$T/empty")"
rm "$T/empty/CACHEDIR.TAG"
chmod 755 "$T/empty"
"$K" "${G[@]}" -v --no-state --cache "$T/empty" -o "$T/o8.tar.xz" 2> "$T/a.log"
if [ $? = 0 ] && [ -f "$T/empty/CACHEDIR.TAG" ] && grep -q ', 1 from the cache' "$T/a.log"; then
	ok "a cache of 0.1.0 (no tag) is adopted and served"
else
	bad "0.1.0 cache: $(cat "$T/a.log")"
fi
# Another tool's tag is not ours.
mkdir -m 700 "$T/ccache"
printf 'Signature: 8a477f597d28d172789f06886806bc55\n# ccache\n' > "$T/ccache/CACHEDIR.TAG"
refused "another tool's CACHEDIR.TAG" "was not written by kheaders" "$T/ccache" \
	"$K" "${G[@]}" --no-state --cache "$T/ccache" -o "$T/o8.tar.xz"
exit $fail
