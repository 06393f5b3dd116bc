# tests/lib/busybox-arch.sh: Debian's busybox-static for another architecture.
#
# Source this file from bash (after nothing: it sources kernel-trees.sh);
# it defines functions and sets no options.
#
#   bba_busybox DEBARCH   echo the path of a static busybox for the Debian
#                         architecture DEBARCH (arm64, ...), fetching it once.
#   bba_initramfs DEBARCH INIT
#                         echo the path of a cached initramfs (newc cpio)
#                         with that busybox and INIT (a file) as /init,
#                         the layout of boot.sh's kb_initramfs, built once
#                         into $KHEADERS_CACHE/boot/, keyed by busybox
#                         version, INIT's text and BBA_RECIPE.
#
# The host's own busybox-static (scripts/deps boot) only runs on the host's
# architecture; a guest of another one needs that architecture's package.
# It is fetched without installing anything and without touching the
# machine's dpkg architectures: a private apt directory ($KHEADERS_CACHE/
# apt-arch) whose one source line reuses the URI and Signed-By of the
# machine's own Debian entry (kt__apt_uris, so no host name is written
# here) and its release's suite, with APT::Architectures naming DEBARCH;
# then `apt-get download busybox-static:DEBARCH` and `dpkg -x` into
# $KHEADERS_CACHE/src/busybox-static_PKGVER_DEBARCH/ (bin/busybox and a
# .kt-stamp inside), under the same src/.lock as kernel-trees' fetches,
# unpacked under a temporary name and renamed into place, so a directory
# that exists is complete. A later call reuses the newest finished fetch.
# Returns non-zero and says why on stderr on failure.

. "${TOP:-.}/tests/lib/kernel-trees.sh"

BBA_RECIPE=1

bba__die() {
	echo "busybox-arch: $*" >&2
	return 1
}

# bba__fetched DEBARCH: echo the newest finished fetch's directory.
bba__fetched() {
	local d best= bv= v
	for d in "$KT_CACHE/src/busybox-static_"*"_$1"/; do
		[ -f "$d.kt-stamp" ] || continue
		v=$(sed -n 's/^version=//p' "$d.kt-stamp")
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bv"; then
			best=${d%/}
			bv=$v
		fi
	done
	[ -n "$best" ] && echo "$best"
}

# bba__suite: the machine's release codename (the suite of its Debian entry).
bba__suite() {
	local c
	c=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME-}")
	[ -n "$c" ] || { bba__die "no VERSION_CODENAME in /etc/os-release"; return 1; }
	echo "$c"
}

bba__fetch_locked() {
	local arch=$1 apt suite kind uri signed line= deb pv final tmp
	apt=$KT_CACHE/apt-arch
	suite=$(bba__suite) || return 1
	while read -r kind uri signed; do
		[ "$kind" = debian ] || continue
		line="deb [arch=$arch${signed:+ signed-by=$signed}] $uri $suite main"
	done < <(kt__apt_uris)
	[ -n "$line" ] || { bba__die "no Debian entry in the machine's apt sources (deb822 *.sources) to fetch busybox-static:$arch from"; return 1; }
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/dl" || return 1
	rm -f "$apt/parts/"* "$apt/dl/"*
	printf '%s\n' "$line" >"$apt/sources.list"
	local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
		-o "APT::Architectures::=$(dpkg --print-architecture)" -o "APT::Architectures::=$arch"
		-o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root -q)
	echo "busybox-arch: fetching busybox-static:$arch from $suite" >&2
	apt-get "${opts[@]}" update >&2 ||
		{ bba__die "apt-get update of $suite for $arch failed (line: $line)"; return 1; }
	( cd "$apt/dl" && apt-get "${opts[@]}" download "busybox-static:$arch" >&2 ) ||
		{ bba__die "apt-get download busybox-static:$arch from $suite failed"; return 1; }
	deb=$(ls "$apt/dl/busybox-static_"*"_$arch.deb" 2>/dev/null | head -n1)
	[ -f "$deb" ] || { bba__die "apt-get download left no busybox-static $arch .deb"; return 1; }
	pv=$(dpkg-deb -f "$deb" Version) || { bba__die "$deb: no version"; return 1; }
	final=$KT_CACHE/src/busybox-static_$(kt__file_safe "$pv")_$arch
	tmp=$KT_CACHE/src/.tmp.${final##*/}.$BASHPID
	rm -rf "$KT_CACHE/src/.tmp.${final##*/}."* "$final"
	mkdir -p "$tmp/bin" && dpkg -x "$deb" "$tmp/x" &&
		mv "$tmp/x/bin/busybox" "$tmp/bin/busybox" && rm -rf "$tmp/x" &&
		printf 'package=busybox-static:%s\nversion=%s\nsuite=%s\nfetched=%s\n' \
			"$arch" "$pv" "$suite" "$(date -u '+%F %T')" >"$tmp/.kt-stamp" &&
		sync -f "$tmp" && mv -T "$tmp" "$final" ||
		{ rm -rf "$tmp" "$deb"; bba__die "unpacking $deb failed (no bin/busybox?)"; return 1; }
	rm -f "$deb"
	echo "$final"
}

bba_busybox() {
	[ $# = 1 ] || { bba__die "usage: bba_busybox DEBARCH"; return 1; }
	local d
	d=$(bba__fetched "$1") || {
		mkdir -p "$KT_CACHE/src" || { bba__die "cannot create $KT_CACHE/src"; return 1; }
		d=$(
			exec 9>"$KT_CACHE/src/.lock" || exit 1
			flock 9 || exit 1
			bba__fetched "$1" && exit 0
			bba__fetch_locked "$1"
		) || return 1
	}
	[ -x "$d/bin/busybox" ] || { bba__die "$d/bin/busybox: missing"; return 1; }
	echo "$d/bin/busybox"
}

bba_initramfs() {
	[ $# = 2 ] || { bba__die "usage: bba_initramfs DEBARCH INIT"; return 1; }
	local arch=$1 init=$2 bb key dir out tmp
	bb=$(bba_busybox "$arch") || return 1
	key=$( { sed -n 's/^version=//p' "${bb%/bin/busybox}/.kt-stamp"; cat "$init"; echo "$BBA_RECIPE"; } |
		sha256sum | cut -c1-16)
	dir=$KT_CACHE/boot
	out=$dir/initramfs-$arch-$key.cpio
	if [ ! -f "$out" ]; then
		mkdir -p "$dir" || { bba__die "cannot create $dir"; return 1; }
		tmp=$(mktemp -d "$dir/.tmp.XXXXXX") || return 1
		mkdir -p "$tmp/root/bin" "$tmp/root/dev" "$tmp/root/proc" \
			"$tmp/root/sys" "$tmp/root/tmp" &&
			cp "$bb" "$tmp/root/bin/busybox" &&
			ln -s busybox "$tmp/root/bin/sh" &&
			install -m 0755 "$init" "$tmp/root/init" &&
			( cd "$tmp/root" && find . | LC_ALL=C sort |
				cpio --quiet -o -H newc -R 0:0 ) >"$tmp/base.cpio" &&
			mv "$tmp/base.cpio" "$out" ||
			{ rm -rf "$tmp"; bba__die "cannot build the $arch initramfs"; return 1; }
		rm -rf "$tmp"
	fi
	echo "$out"
}
