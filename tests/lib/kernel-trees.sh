# tests/lib/kernel-trees.sh: a machine-wide cache of prepared kernel trees.
#
# Source this file from bash; it defines functions and sets no options.
#
# Tests that compare with the real world need real kernel trees: a Debian
# linux-source-VERSION tarball unpacked and prepared for x86 with
# `make ARCH=x86_64 defconfig prepare`.  That takes minutes, so the trees
# are kept in ${KHEADERS_CACHE:-/var/tmp/kheaders-cache} and reused across
# test runs and across clones of the repository on the same machine.
#
#   kt_src VERSION   echo the path of an in-tree build (srctree == objtree);
#                    also sets KT_SRCTREE and KT_OBJTREE to that path.
#   kt_obj VERSION   sets KT_SRCTREE (a clean, never-configured source tree)
#                    and KT_OBJTREE (its `make O=` objtree); prints nothing.
#                    Call it directly, not in $(...), or the globals are lost.
#   kt_key VERSION FLAVOUR   echo the cache key (FLAVOUR: intree or O).
#   kt_prune         remove cache entries that no current key names (keys of
#                    the installed /usr/src/linux-source-*.tar.xz).
#
# VERSION is 6.1 or 6.12 (any version with /usr/src/linux-source-VERSION.tar.xz).
# All functions return non-zero and say why on stderr on failure.
#
# Cache layout (all under $KHEADERS_CACHE):
#   KEY/                    finished in-tree build (KEY/.kt-stamp inside)
#   KEY/src KEY/obj         finished O= build (KEY/.kt-stamp inside)
#   KEY.lock                flock(1) lock held while KEY is being built
#   KEY.log                 make output of the last build of KEY
#   .tmp.KEY.PID/           a build in progress (or left by a killed one)
#
# The key holds the exact Debian version of linux-source-VERSION, so a
# package upgrade builds a new tree, and KT_RECIPE, to be bumped whenever the
# way trees are prepared changes.  A build runs under a temporary name, gets
# its stamp, and is renamed into place, so a tree that exists is complete.
# The lock makes a second concurrent run wait for the first build instead of
# repeating it.  Absolute paths the build recorded (the O= objtree's Makefile
# and `source` link, .cmd files of host tools) are rewritten to the final
# name before the rename, so `make` keeps working in the cached trees.
#
# Trees are shared: tests may run scripts that write into an objtree (the
# upstream gen_kheaders.sh writes kernel/), but must not change headers.
# Tests that write into a tree should hold `kt_use_lock` (below) meanwhile.

KT_CACHE=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}
KT_RECIPE=1
KT_ARCH=x86_64
KT_CONFIG=defconfig

kt__die() {
	echo "kernel-trees: $*" >&2
	return 1
}

# kt__pkgver VERSION: the installed linux-source-VERSION version, file-name safe.
kt__pkgver() {
	local v
	v=$(dpkg-query -W -f='${Version}' "linux-source-$1" 2>/dev/null) ||
		{ kt__die "package linux-source-$1 is not installed (scripts/deps test)"; return 1; }
	[ -n "$v" ] || { kt__die "package linux-source-$1 has no version"; return 1; }
	printf '%s\n' "$v" | tr -c 'A-Za-z0-9.+_\n-' '_'
}

kt_key() {
	local ver=$1 flavour=$2 pv
	case $flavour in
	intree|O) ;;
	*) kt__die "kt_key: flavour must be intree or O, not '$flavour'"; return 1 ;;
	esac
	pv=$(kt__pkgver "$ver") || return 1
	printf 'linux-%s_%s-%s-%s-%s-r%s\n' "$ver" "$pv" "$KT_ARCH" "$KT_CONFIG" "$flavour" "$KT_RECIPE"
}

# kt__make DIR ARGS...: run the kernel's make in DIR with a clean environment.
# Variables a caller (or a surrounding `make check`) may have exported would
# otherwise leak into Kbuild: MAKEFLAGS carries jobserver fds and -j, and
# srctree, O, ARCH, KBUILD_OUTPUT and friends change what Kbuild does.
kt__make() {
	local dir=$1
	shift
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u GNUMAKEFLAGS \
		-u srctree -u objtree -u O -u KBUILD_OUTPUT -u KBUILD_EXTMOD \
		-u ARCH -u SRCARCH -u CROSS_COMPILE -u KCONFIG_CONFIG \
		-u KBUILD_BUILD_TIMESTAMP -u building_out_of_srctree \
		LC_ALL=C make -C "$dir" ARCH="$KT_ARCH" "$@"
}

# kt__unpack VERSION DIR: unpack the Debian source tarball into DIR.
kt__unpack() {
	local tarball=/usr/src/linux-source-$1.tar.xz
	[ -r "$tarball" ] || { kt__die "$tarball: not found (scripts/deps test)"; return 1; }
	mkdir -p "$2" &&
		xz -T0 -dc "$tarball" | tar -x -C "$2" --strip-components=1 &&
		[ "${PIPESTATUS[0]}" = 0 ] &&
		[ -f "$2/Makefile" ] && [ -f "$2/kernel/gen_kheaders.sh" ]
}

# kt__relocate FROM TO DIR: rewrite absolute paths FROM... recorded in the
# text files and symlinks under DIR so they name TO... instead.
kt__relocate() {
	local from=$1 to=$2 dir=$3 f t
	grep -rlIZF -- "$from" "$dir" 2>/dev/null |
		xargs -0 -r sed -i "s|$from|$to|g" || return 1
	while IFS= read -r -d '' f; do
		t=$(readlink "$f")
		ln -sfn "${t//"$from"/"$to"}" "$f" || return 1
	done < <(find "$dir" -type l -lname "$from*" -print0)
}

# kt__build VERSION FLAVOUR TMP FINAL LOG: build a tree in TMP that will live at FINAL.
kt__build() {
	local ver=$1 flavour=$2 tmp=$3 final=$4 log=$5 jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	{
		echo "== $(date -u '+%F %T') linux-source-$ver $(dpkg-query -W -f='${Version}' "linux-source-$ver") $flavour"
		if [ "$flavour" = intree ]; then
			echo "== unpack" && kt__unpack "$ver" "$tmp" &&
				echo "== make $KT_CONFIG" && kt__make "$tmp" "$KT_CONFIG" &&
				echo "== make -j$jobs prepare" && kt__make "$tmp" -j"$jobs" prepare
		else
			echo "== unpack" && kt__unpack "$ver" "$tmp/src" && mkdir -p "$tmp/obj" &&
				echo "== make O=obj $KT_CONFIG" &&
				kt__make "$tmp/src" O="$tmp/obj" "$KT_CONFIG" &&
				echo "== make O=obj -j$jobs prepare" &&
				kt__make "$tmp/src" O="$tmp/obj" -j"$jobs" prepare
		fi &&
			echo "== relocate $tmp -> $final" && kt__relocate "$tmp" "$final" "$tmp" &&
			echo "== done $(date -u '+%F %T')"
	} >"$log" 2>&1
}

# kt__ensure VERSION FLAVOUR: echo the path of the finished tree, building it if needed.
kt__ensure() {
	local ver=$1 flavour=$2 key final lock log tmp start rc
	key=$(kt_key "$ver" "$flavour") || return 1
	final=$KT_CACHE/$key
	[ -f "$final/.kt-stamp" ] && { echo "$final"; return 0; }

	mkdir -p "$KT_CACHE" || { kt__die "cannot create $KT_CACHE"; return 1; }
	lock=$KT_CACHE/$key.lock
	log=$KT_CACHE/$key.log
	(
		exec 9>"$lock" || exit 1
		if ! flock -n 9; then
			echo "kernel-trees: waiting for another run building $key" >&2
			flock 9 || exit 1
		fi
		[ -f "$final/.kt-stamp" ] && exit 0
		# Leftovers of killed builds; we hold the lock, so none is running.
		rm -rf "$KT_CACHE/.tmp.$key".* "$final"
		tmp=$KT_CACHE/.tmp.$key.$BASHPID
		echo "kernel-trees: building $key (minutes; log: $log)" >&2
		start=$(date +%s)
		if ! kt__build "$ver" "$flavour" "$tmp" "$final" "$log"; then
			echo "kernel-trees: building $key failed; last lines of $log:" >&2
			tail -n 30 "$log" >&2
			rm -rf "$tmp"
			exit 1
		fi
		{
			echo "key=$key"
			echo "package=linux-source-$ver $(dpkg-query -W -f='${Version}' "linux-source-$ver")"
			echo "arch=$KT_ARCH config=$KT_CONFIG flavour=$flavour recipe=$KT_RECIPE"
			echo "built=$(date -u '+%F %T') seconds=$(($(date +%s) - start))"
		} >"$tmp/.kt-stamp" && sync -f "$tmp" && mv -T "$tmp" "$final" ||
			{ rm -rf "$tmp"; exit 1; }
		echo "kernel-trees: built $key in $(($(date +%s) - start)) s" >&2
	)
	rc=$?
	[ $rc = 0 ] || return $rc
	echo "$final"
}

kt_src() {
	[ $# = 1 ] || { kt__die "usage: kt_src VERSION"; return 1; }
	local d
	d=$(kt__ensure "$1" intree) || return 1
	KT_SRCTREE=$d
	KT_OBJTREE=$d
	echo "$d"
}

kt_obj() {
	[ $# = 1 ] || { kt__die "usage: kt_obj VERSION"; return 1; }
	local d
	d=$(kt__ensure "$1" O) || return 1
	KT_SRCTREE=$d/src
	KT_OBJTREE=$d/obj
}

# kt_use_lock TREE: print the lock file a test should hold (flock) while it
# writes into TREE, the path of a cached tree (an O= entry's src or obj).
kt_use_lock() {
	local d=${1%/}
	case $d in */src|*/obj) [ -f "${d%/*}/.kt-stamp" ] && d=${d%/*} ;; esac
	echo "$KT_CACHE/${d##*/}.use.lock"
}

kt_prune() {
	local keep=() e k v f
	for v in /usr/src/linux-source-*.tar.xz; do
		v=${v#/usr/src/linux-source-}
		v=${v%.tar.xz}
		for f in intree O; do
			k=$(kt_key "$v" "$f" 2>/dev/null) && keep+=("$k")
		done
	done
	for e in "$KT_CACHE"/linux-*; do
		[ -e "$e" ] || continue
		k=$(basename "$e")
		k=${k%.log}
		k=${k%.use.lock}
		k=${k%.lock}
		[[ " ${keep[*]} " == *" $k "* ]] && continue
		echo "kernel-trees: removing $e" >&2
		rm -rf "$e"
	done
}
