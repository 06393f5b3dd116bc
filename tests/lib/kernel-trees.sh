# tests/lib/kernel-trees.sh: a machine-wide cache of prepared kernel trees.
#
# Source this file from bash; it defines functions and sets no options.
#
# Tests that compare with the real world need real kernel trees: a Debian
# linux-source-VERSION tarball unpacked and prepared for x86 with
# `make ARCH=x86_64 defconfig`, CONFIG_IKHEADERS=y (scripts/config, then
# olddefconfig) and `make prepare`.  That takes a minute, so the trees
# are kept in ${KHEADERS_CACHE:-/var/tmp/kheaders-cache} and reused across
# test runs and across clones of the repository on the same machine.
# IKHEADERS is on in every tree so that the one reference of a tree
# that costs most, the tree's own rules run on it (about 150 CPU-seconds:
# a perl per header), serves both t-kbuild-* (=y, through Make) and
# t-upstream-identity (tests/lib/upstream.sh up_ref_y).
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
#   kt_tarball VERSION   echo the path of linux-source-VERSION's tarball,
#                    fetching it first if the package is not installed.
#   kt_pkgver VERSION    echo the Debian version of that tarball's package.
#
# VERSION is a line with a Debian linux-source-VERSION package: 6.1 and 6.12
# come installed (scripts/deps test); 5.10, 7.2 and 7.3 live in other suites
# of the same mirror and are fetched (kt_fetch, below) without installing
# anything: a private apt directory whose sources reuse the URI and
# Signed-By of the machine's own Debian entry with the suite changed, then
# `apt-get download` and `dpkg -x` into $KHEADERS_CACHE/src/.  No host name
# is written here: it is read from the apt configuration at run time.
# All functions return non-zero and say why on stderr on failure.
#
# Cache layout (all under $KHEADERS_CACHE):
#   KEY/                    finished in-tree build (KEY/.kt-stamp inside)
#   KEY/src KEY/obj         finished O= build (KEY/.kt-stamp inside)
#   KEY.lock                flock(1) lock held while KEY is being built
#   KEY.log                 make output of the last build of KEY
#   src/linux-source-VERSION_PKGVER/   a fetched package, `dpkg -x`ed
#                           (.kt-stamp inside; src/.lock while fetching)
#   apt/                    the private apt directory of the fetches
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
KT_RECIPE=2
KT_ARCH=x86_64
KT_CONFIG=defconfig

# Kconfig asks tools it finds on PATH for their versions and writes the
# answers into .config and autoconf.h (7.3: CONFIG_RUSTC_VERSION, the
# RUSTC_HAS_* probes; CONFIG_PAHOLE_VERSION), which the archive holds. A
# tree prepared where rustup's rustc is on PATH has other headers than
# one prepared without, and a test's make in a copy re-runs Kconfig: so
# the keys name these tools, and a cache made in one environment is not
# used in another (seen: a chroot without rustc reusing this machine's
# cache, whose upstream references then differed in autoconf.h).
kt__probed() {
	local t
	for t in rustc bindgen pahole; do
		printf '%s=%s\n' "$t" "$(timeout 20 "$t" --version 2>/dev/null | head -n 1)"
	done | sha256sum | cut -c1-6
}
KT_PROBED=$(kt__probed)

kt__die() {
	echo "kernel-trees: $*" >&2
	return 1
}

# Lines that are not in the machine's suites: the suite that carries each,
# and which of the machine's Debian URIs serves it (debian or security).
declare -A KT_SUITE=([5.10]=bullseye-security [7.2]=sid [7.3]=trixie-backports)
declare -A KT_ARCHIVE=([5.10]=security [7.2]=debian [7.3]=debian)

# kt__file_safe STRING: STRING with characters unsafe in a file name replaced.
kt__file_safe() {
	printf '%s\n' "$1" | tr -c 'A-Za-z0-9.+_~\n-' '_'
}

# kt__newest DIR...: echo the DIR (a finished fetch: .kt-stamp inside)
# whose stamp has the highest Debian version, or fail if none is finished.
kt__newest() {
	local d best= bv= v
	for d in "$@"; do
		[ -f "$d/.kt-stamp" ] || continue
		v=$(sed -n 's/^version=//p' "$d/.kt-stamp")
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bv"; then
			best=$d
			bv=$v
		fi
	done
	[ -n "$best" ] && echo "$best"
}

# kt__fetched VERSION: echo the directory of the newest finished fetch of
# linux-source-VERSION, or fail if there is none.
kt__fetched() {
	kt__newest "$KT_CACHE/src/linux-source-$1_"*
}

# kt__src_locked FETCHED FETCH ARG: under src/.lock (one fetch at a time
# machine-wide), echo `FETCHED ARG`, the finished fetch another run may
# have made meanwhile, else run `FETCH ARG` (it echoes its directory).
kt__src_locked() {
	mkdir -p "$KT_CACHE/src" || { kt__die "cannot create $KT_CACHE/src"; return 1; }
	(
		exec 9>"$KT_CACHE/src/.lock" || exit 1
		flock 9 || exit 1
		"$1" "$3" && exit 0
		"$2" "$3"
	)
}

# kt_pkgver VERSION: the Debian version of linux-source-VERSION: the
# installed package's, else the fetched one's (fetching it if needed).
kt_pkgver() {
	local v d
	if v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "linux-source-$1" 2>/dev/null) &&
		[ "${v:0:3}" = "ii " ]; then
		echo "${v#ii  }"
		return 0
	fi
	d=$(kt__fetched "$1") || d=$(kt_fetch "$1") || return 1
	sed -n 's/^version=//p' "$d/.kt-stamp"
}

# kt__pkgver VERSION: kt_pkgver, file-name safe (the key's part).
kt__pkgver() {
	local v
	v=$(kt_pkgver "$1") || return 1
	[ -n "$v" ] || { kt__die "package linux-source-$1 has no version"; return 1; }
	printf '%s\n' "$v" | tr -c 'A-Za-z0-9.+_\n-' '_'
}

kt_tarball() {
	local d
	if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "linux-source-$1" 2>/dev/null)" = "ii " ]; then
		echo "/usr/src/linux-source-$1.tar.xz"
		return 0
	fi
	d=$(kt__fetched "$1") || d=$(kt_fetch "$1") || return 1
	echo "$d/usr/src/linux-source-$1.tar.xz"
}

# kt__apt_uris: print "debian URI SIGNED-BY" and "security URI SIGNED-BY"
# (SIGNED-BY may be empty) for the machine's own Debian entries, read from
# its deb822 sources (the main suite's entry, and the -security one).
kt__apt_uris() {
	local parts
	parts=$(apt-config shell D Dir::Etc::sourceparts/d | sed -n "s/^D='\(.*\)'$/\1/p")
	[ -n "$parts" ] || parts=/etc/apt/sources.list.d/
	awk '
	function flush() {
		if (uris != "" && types ~ /(^| )deb( |$)/ && enabled != "no") {
			n = split(suites, s, " ")
			for (i = 1; i <= n; i++) {
				kind = s[i] ~ /-security$/ ? "security" : \
					s[i] ~ /-(updates|backports|proposed-updates)$/ ? "" : "debian"
				if (kind != "" && !(kind in seen)) {
					split(uris, u, " ")
					print kind, u[1], signed
					seen[kind] = 1
				}
			}
		}
		uris = suites = signed = types = enabled = ""
	}
	/^[ \t]*#/ { next }
	/^[ \t]*$/ { flush(); next }
	{
		key = tolower($1); sub(/:$/, "", key)
		val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		if (key == "uris") uris = val
		else if (key == "suites") suites = val
		else if (key == "signed-by") signed = val
		else if (key == "types") types = val
		else if (key == "enabled") enabled = tolower(val)
	}
	END { flush() }' "$parts"*.sources 2>/dev/null
}

# kt_fetch VERSION: download linux-source-VERSION from the suite of
# KT_SUITE and unpack it into $KT_CACHE/src/linux-source-VERSION_PKGVER;
# echo that directory.  Under src/.lock; tmp + stamp + rename.
kt_fetch() {
	local ver=$1
	[ -n "${KT_SUITE[$ver]+x}" ] ||
		{ kt__die "linux-source-$ver: not installed, and no known suite carries it (known: ${!KT_SUITE[*]})"; return 1; }
	kt__src_locked kt__fetched kt__fetch_locked "$ver"
}

# kt__apt_download APT KIND SUITE PKG DEBARCH: download PKG (the DEBARCH
# one if DEBARCH is not empty) from SUITE of the machine's KIND entry
# (debian or security, kt__apt_uris) with the private apt directory APT
# into APT/dl; echo the .deb's path.  Installs nothing; DEBARCH needs no
# dpkg architecture added (APT::Architectures names it for this apt only).
kt__apt_download() {
	local apt=$1 want=$2 suite=$3 pkg=$4 arch=$5 kind uri signed o line= deb
	while read -r kind uri signed; do
		[ "$kind" = "$want" ] || continue
		o=${arch:+arch=$arch}
		[ -z "$signed" ] || o="${o:+$o }signed-by=$signed"
		line="deb${o:+ [$o]} $uri $suite main"
	done < <(kt__apt_uris)
	[ -n "$line" ] || { kt__die "no $want entry in the machine's apt sources (deb822 *.sources) to fetch $pkg${arch:+:$arch} from $suite"; return 1; }
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/dl" || return 1
	rm -f "$apt/parts/"* "$apt/dl/"*
	printf '%s\n' "$line" >"$apt/$suite.list"
	local opts=(-o "Dir::Etc::SourceList=$apt/$suite.list" -o "Dir::Etc::SourceParts=$apt/parts"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
	[ -z "$arch" ] || opts+=(-o "APT::Architectures::=$(dpkg --print-architecture)"
		-o "APT::Architectures::=$arch")
	opts+=(-o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root -q)
	echo "kernel-trees: fetching $pkg${arch:+:$arch} from $suite" >&2
	apt-get "${opts[@]}" update >&2 ||
		{ kt__die "apt-get update of $suite${arch:+ for $arch} failed (line: $line)"; return 1; }
	( cd "$apt/dl" && apt-get "${opts[@]}" download "$pkg${arch:+:$arch}" >&2 ) ||
		{ kt__die "apt-get download $pkg${arch:+:$arch} from $suite failed"; return 1; }
	# Unquoted * for "any architecture": a quoted ${arch:-*} is no glob.
	if [ -n "$arch" ]; then
		deb=$(ls "$apt/dl/${pkg}_"*"_$arch.deb" 2>/dev/null | head -n1)
	else
		deb=$(ls "$apt/dl/${pkg}_"*.deb 2>/dev/null | head -n1)
	fi
	[ -f "$deb" ] || { kt__die "apt-get download left no $pkg${arch:+ $arch} .deb"; return 1; }
	echo "$deb"
}

# kt__fetch_deb APT KIND SUITE PKG DEBARCH FILE: kt__apt_download, then
# keep the package's FILE (a path in it) as
# $KT_CACHE/src/PKG_PKGVER[_DEBARCH]/FILE with a .kt-stamp beside; echo
# that directory.  Call it under src/.lock (kt__src_locked); unpacked
# under a temporary name, stamped and renamed into place, so a directory
# that exists is complete.
kt__fetch_deb() {
	local suite=$3 pkg=$4 arch=$5 file=$6 deb pv final tmp
	deb=$(kt__apt_download "$@") || return 1
	pv=$(dpkg-deb -f "$deb" Version) || { kt__die "$deb: no version"; return 1; }
	final=$KT_CACHE/src/${pkg}_$(kt__file_safe "$pv")${arch:+_$arch}
	tmp=$KT_CACHE/src/.tmp.${final##*/}.$BASHPID
	rm -rf "$KT_CACHE/src/.tmp.${final##*/}."* "$final"
	mkdir -p "$tmp/${file%/*}" && dpkg -x "$deb" "$tmp/x" &&
		mv "$tmp/x/$file" "$tmp/$file" && rm -rf "$tmp/x" &&
		printf 'package=%s\nversion=%s\nsuite=%s\nfetched=%s\n' \
			"$pkg${arch:+:$arch}" "$pv" "$suite" "$(date -u '+%F %T')" >"$tmp/.kt-stamp" &&
		sync -f "$tmp" && mv -T "$tmp" "$final" ||
		{ rm -rf "$tmp" "$deb"; kt__die "unpacking $deb failed (no $file?)"; return 1; }
	rm -f "$deb"
	echo "$final"
}

kt__fetch_locked() {
	kt__fetch_deb "$KT_CACHE/apt" "${KT_ARCHIVE[$1]}" "${KT_SUITE[$1]}" "linux-source-$1" "" \
		"usr/src/linux-source-$1.tar.xz"
}

kt_key() {
	local ver=$1 flavour=$2 pv
	case $flavour in
	intree|O) ;;
	*) kt__die "kt_key: flavour must be intree or O, not '$flavour'"; return 1 ;;
	esac
	pv=$(kt__pkgver "$ver") || return 1
	printf 'linux-%s_%s-%s-%s-%s-t%s-r%s\n' "$ver" "$pv" "$KT_ARCH" "$KT_CONFIG" "$flavour" \
		"$KT_PROBED" "$KT_RECIPE"
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
	local tarball
	tarball=$(kt_tarball "$1") || return 1
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
		echo "== $(date -u '+%F %T') linux-source-$ver $(kt_pkgver "$ver") $flavour"
		if [ "$flavour" = intree ]; then
			echo "== unpack" && kt__unpack "$ver" "$tmp" &&
				echo "== make $KT_CONFIG, CONFIG_IKHEADERS=y" && kt__make "$tmp" "$KT_CONFIG" &&
				"$tmp/scripts/config" --file "$tmp/.config" --enable IKHEADERS &&
				kt__make "$tmp" olddefconfig &&
				echo "== make -j$jobs prepare" && kt__make "$tmp" -j"$jobs" prepare
		else
			echo "== unpack" && kt__unpack "$ver" "$tmp/src" && mkdir -p "$tmp/obj" &&
				echo "== make O=obj $KT_CONFIG, CONFIG_IKHEADERS=y" &&
				kt__make "$tmp/src" O="$tmp/obj" "$KT_CONFIG" &&
				"$tmp/src/scripts/config" --file "$tmp/obj/.config" --enable IKHEADERS &&
				kt__make "$tmp/src" O="$tmp/obj" olddefconfig &&
				echo "== make O=obj -j$jobs prepare" &&
				kt__make "$tmp/src" O="$tmp/obj" -j"$jobs" prepare
		fi && { grep -qx 'CONFIG_IKHEADERS=y' "$tmp/.config" "$tmp/obj/.config" 2>/dev/null ||
			{ echo "== CONFIG_IKHEADERS=y did not take"; false; }; } &&
			echo "== relocate $tmp -> $final" && kt__relocate "$tmp" "$final" "$tmp" &&
			echo "== done $(date -u '+%F %T')"
	} >"$log" 2>&1
}

# kt__build_locked DIR KEY STAMP WHO WHEN STAMPER BUILD ARGS...: make sure
# DIR/KEY exists with its STAMP file inside, building it if needed.  Under
# DIR/KEY.lock (a second run waits for the first instead of repeating it),
# unless that run finished it meanwhile: run `BUILD ARGS... TMP FINAL LOG`
# in a subshell (TMP the temporary name DIR/.tmp.KEY.PID, FINAL = DIR/KEY,
# LOG = DIR/KEY.log), write `STAMPER START` (START: the build's start,
# seconds since the epoch) to TMP/STAMP and rename TMP to FINAL, so a tree
# that exists is complete.  WHO starts the messages on stderr, WHEN says
# how long a build takes.  The one lock / temporary / stamp / rename
# discipline of kernel-trees.sh's and builtin.sh's caches.
kt__build_locked() {
	local dir=$1 key=$2 stamp=$3 who=$4 when=$5 stamper=$6
	shift 6
	local final=$dir/$key log=$dir/$key.log
	[ -f "$final/$stamp" ] && return 0
	mkdir -p "$dir" || { echo "$who: cannot create $dir" >&2; return 1; }
	(
		exec 9>"$dir/$key.lock" || exit 1
		if ! flock -n 9; then
			echo "$who: waiting for another run building $key" >&2
			flock 9 || exit 1
		fi
		[ -f "$final/$stamp" ] && exit 0
		# Leftovers of killed builds; we hold the lock, so none is running.
		rm -rf "$dir/.tmp.$key".* "$final"
		tmp=$dir/.tmp.$key.$BASHPID
		echo "$who: building $key ($when; log: $log)" >&2
		start=$(date +%s)
		if ! ( "$@" "$tmp" "$final" "$log" ); then
			echo "$who: building $key failed; last lines of $log:" >&2
			tail -n 30 "$log" >&2
			rm -rf "$tmp"
			exit 1
		fi
		"$stamper" "$start" >"$tmp/$stamp" && sync -f "$tmp" && mv -T "$tmp" "$final" ||
			{ rm -rf "$tmp"; exit 1; }
		echo "$who: built $key in $(($(date +%s) - start)) s" >&2
	)
}

# kt__stamp START: the .kt-stamp of kt__ensure's build (its key, ver and
# flavour, seen through bash's dynamic scope).
kt__stamp() {
	echo "key=$key"
	echo "package=linux-source-$ver $(kt_pkgver "$ver")"
	echo "arch=$KT_ARCH config=$KT_CONFIG+IKHEADERS=y flavour=$flavour recipe=$KT_RECIPE"
	echo "built=$(date -u '+%F %T') seconds=$(($(date +%s) - $1))"
}

# kt__ensure VERSION FLAVOUR: echo the path of the finished tree, building it if needed.
kt__ensure() {
	local ver=$1 flavour=$2 key
	key=$(kt_key "$ver" "$flavour") || return 1
	kt__build_locked "$KT_CACHE" "$key" .kt-stamp kernel-trees minutes kt__stamp \
		kt__build "$ver" "$flavour" || return
	echo "$KT_CACHE/$key"
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
	for v in /usr/src/linux-source-*.tar.xz "$KT_CACHE"/src/linux-source-*_*/.kt-stamp; do
		[ -e "$v" ] || continue
		case $v in
		/usr/src/*) v=${v#/usr/src/linux-source-}; v=${v%.tar.xz} ;;
		*) v=${v#"$KT_CACHE"/src/linux-source-}; v=${v%%_*} ;;
		esac
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
