# Sourced by tests: cheap private copies of cached kernel trees.
#
# tc_copy SRC DST   makes DST a copy of the prepared tree SRC that a test
#                   may configure and build in: source files are hard
#                   links (make never writes them), while every file the
#                   preparation generated (newer than SRC/Makefile) is a
#                   real copy, so that make's in-place writes (.cmd files,
#                   objects) never reach the shared cache. Files a test
#                   edits itself must be replaced, not written in place
#                   (scripts/kbuild-install and Kconfig do that).
#                   Absolute paths of SRC recorded in those generated files
#                   are rewritten to DST.
# tc_unshare DST DIR...
#                   makes every file under DST/DIR a file of DST's own
#                   (no hard link to the cache): for a test that needs
#                   what `ls -l` prints of them to stay put while other
#                   tests copy and remove the same cached tree (each
#                   copy adds to the link count of the shared inodes).
# tc_retarget OBJ OLDSRC NEWSRC
#                   points an O= objtree copy at another source tree
#                   (its Makefile and `source` link name the srctree).
tc_copy() {
	# Under the tree's use lock (tests/lib/kernel-trees.sh, when sourced):
	# another test may be running upstream's script in the cached tree,
	# whose temporary copy would change under tar.
	if declare -F kt_use_lock >/dev/null; then
		( exec 8>"$(kt_use_lock "$1")" && flock 8 && tc__copy "$@" )
	else
		tc__copy "$@"
	fi
}

tc__copy() {
	local src=$1 dst=$2
	[ ! -e "$dst" ] || { echo "tc_copy: $dst already exists" >&2; return 1; }
	# Hard links need SRC and DST on one mount: a tmpfs /tmp, or a cache
	# bind-mounted from elsewhere, refuses them after cp has made DST's
	# directories. The half-made DST goes first, or the full copy would
	# land inside it, as DST/<name of SRC>.
	if ! cp -al "$src" "$dst" 2>/dev/null; then
		rm -rf "$dst" && cp -a "$src" "$dst" || return 1
	fi
	# One tar pipe, not a cp per file: a 5.10 tree has thousands of
	# generated include/config/*.h. The links are removed first: unlinking
	# one while tar reads its twin would change the twin's ctime under it.
	local list
	list=$(mktemp) || return 1
	( cd "$src" && find . -type f -newer "$src/Makefile" -print0 > "$list" ) &&
		( cd "$dst" && xargs -0 -r rm -f < "$list" ) &&
		( cd "$src" && tar --null -T "$list" -cf - ) | ( cd "$dst" && tar -xf - ) &&
		[ "${PIPESTATUS[0]}" = 0 ] &&
		tc__relocate "$src" "$dst" "$list"
	local rc=$?
	rm -f "$list"
	return $rc
}

tc_unshare() {
	local dst=$1 d
	shift
	for d; do
		mv "$dst/$d" "$dst/$d.tc-shared" &&
			cp -a "$dst/$d.tc-shared" "$dst/$d" &&
			rm -rf "$dst/$d.tc-shared" || return 1
	done
}

# tc__relocate OLD NEW LIST: in DST (cwd of NEW) rewrite the absolute
# path OLD that the generated files of LIST (NUL-separated, relative)
# recorded (.cmd files of host tools and objtool), so make sees the same
# commands and does not rebuild them in the copy.
tc__relocate() {
	local old=$1 new=$2 list=$3
	( cd "$new" && xargs -0 -r grep -lIZF -- "$old" < "$list" |
		xargs -0 -r sed -i "s|$old|$new|g" )
}

tc_retarget() {
	local obj=$1 old=$2 new=$3
	sed "s|$old|$new|g" "$obj/Makefile" > "$obj/Makefile.tc-tmp" &&
		mv "$obj/Makefile.tc-tmp" "$obj/Makefile" || return 1
	if [ -L "$obj/source" ]; then
		ln -sfn "$new" "$obj/source" || return 1
	fi
}

# tc_copy_obj OBJ DST OLDSRC NEWSRC: a full copy of the O= objtree OBJ at
# DST pointing at the source tree NEWSRC (a copy of OLDSRC); every path
# of OBJ and OLDSRC the build recorded (Makefile, `source`, .cmd files of
# host tools and objtool) names the copies, so make rebuilds nothing.
tc_copy_obj() {
	local obj=$1 dst=$2 old=$3 new=$4
	if declare -F kt_use_lock >/dev/null; then
		( exec 8>"$(kt_use_lock "$obj")" && flock 8 && cp -a "$obj" "$dst" ) || return 1
	else
		cp -a "$obj" "$dst" || return 1
	fi
	tc_retarget "$dst" "$old" "$new" || return 1
	grep -rlIZF -e "$obj" -e "$old" "$dst" |
		xargs -0 -r sed -i -e "s|$obj|$dst|g" -e "s|$old|$new|g"
}
