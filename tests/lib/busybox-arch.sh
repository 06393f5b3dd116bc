# tests/lib/busybox-arch.sh: Debian's busybox-static for another architecture.
#
# Source this file from bash (after nothing: it sources kernel-trees.sh
# and boot.sh);
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
. "${TOP:-.}/tests/lib/boot.sh"

BBA_RECIPE=1

bba__die() {
	echo "busybox-arch: $*" >&2
	return 1
}

# bba__fetched DEBARCH: echo the newest finished fetch's directory.
bba__fetched() {
	kt__newest "$KT_CACHE/src/busybox-static_"*"_$1"
}

# bba__suite: the machine's release codename (the suite of its Debian entry).
bba__suite() {
	local c
	c=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME-}")
	[ -n "$c" ] || { bba__die "no VERSION_CODENAME in /etc/os-release"; return 1; }
	echo "$c"
}

bba__fetch_locked() {
	local suite
	suite=$(bba__suite) || return 1
	kt__fetch_deb "$KT_CACHE/apt-arch" debian "$suite" busybox-static "$1" bin/busybox
}

bba_busybox() {
	[ $# = 1 ] || { bba__die "usage: bba_busybox DEBARCH"; return 1; }
	local d
	d=$(bba__fetched "$1") || d=$(kt__src_locked bba__fetched bba__fetch_locked "$1") || return 1
	[ -x "$d/bin/busybox" ] || { bba__die "$d/bin/busybox: missing"; return 1; }
	echo "$d/bin/busybox"
}

bba_initramfs() {
	[ $# = 2 ] || { bba__die "usage: bba_initramfs DEBARCH INIT"; return 1; }
	local arch=$1 init=$2 bb key out
	bb=$(bba_busybox "$arch") || return 1
	key=$( { sed -n 's/^version=//p' "${bb%/bin/busybox}/.kt-stamp"; cat "$init"; echo "$BBA_RECIPE"; } |
		sha256sum | cut -c1-16)
	out=$KT_CACHE/boot/initramfs-$arch-$key.cpio
	[ -f "$out" ] || kb_initramfs_build "$bb" "$init" "$out" ||
		{ bba__die "cannot build the $arch initramfs"; return 1; }
	echo "$out"
}
