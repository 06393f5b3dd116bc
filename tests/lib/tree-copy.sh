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
# tc_retarget OBJ OLDSRC NEWSRC
#                   points an O= objtree copy at another source tree
#                   (its Makefile and `source` link name the srctree).
tc_copy() {
	local src=$1 dst=$2
	cp -al "$src" "$dst" 2>/dev/null || cp -a "$src" "$dst" || return 1
	( cd "$dst" && find . -type f -newer "$src/Makefile" -print0 |
		while IFS= read -r -d '' f; do
			cp -p "$f" "$f.tc-tmp" && mv "$f.tc-tmp" "$f" || exit 1
		done )
}

tc_retarget() {
	local obj=$1 old=$2 new=$3
	sed "s|$old|$new|g" "$obj/Makefile" > "$obj/Makefile.tc-tmp" &&
		mv "$obj/Makefile.tc-tmp" "$obj/Makefile" || return 1
	if [ -L "$obj/source" ]; then
		ln -sfn "$new" "$obj/source" || return 1
	fi
}
