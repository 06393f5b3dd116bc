# tests/lib/boot.sh: a Debian kernel to boot, and what to boot it with.
#
# Source this file from bash; it defines functions and sets no options.
#
#   kb_kernel     pick the kernel: the ABI of the installed
#                 linux-headers-amd64 (the current 6.1 package, pulled in
#                 by `scripts/deps boot`), its headers as KDIR and the
#                 matching linux-image unpacked, never installed. Sets
#                 KB_REL (6.1.0-N-amd64), KB_VER (package version),
#                 KB_KDIR, KB_SRCTREE (the headers' common tree),
#                 KB_VMLINUZ and KB_CONFIG.
#   kb_initramfs  echo the path of a cached initramfs with busybox-static
#                 and the given /init (argument: a file), built once.
#   kb_initramfs_build BUSYBOX INIT OUT
#                 write OUT (atomically: a temporary beside it, renamed),
#                 a newc cpio of BUSYBOX as /bin/busybox and /bin/sh,
#                 INIT as /init and empty /dev /proc /sys /tmp; owned by
#                 root, names sorted (tests/lib/busybox-arch.sh uses it too).
#
# The image package is fetched with `apt-get download` and unpacked with
# `dpkg -x` into ${KHEADERS_CACHE:-/var/tmp/kheaders-cache}/boot/, keyed
# by ABI and version, built under a temporary name and renamed into
# place under flock(1), so concurrent runs share one download and a
# cached kernel is always complete.

KB_CACHE=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}/boot
KB_RECIPE=1

kb__die() {
	echo "boot: $*" >&2
	return 1
}

kb_kernel() {
	local dep dir tmp
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null) ||
		{ kb__die "linux-headers-amd64 is not installed (scripts/deps boot)"; return 1; }
	KB_REL=$(printf '%s\n' "$dep" | grep -o 'linux-headers-[0-9][^ ,]*-amd64' | head -n 1)
	KB_REL=${KB_REL#linux-headers-}
	[ -n "$KB_REL" ] || { kb__die "cannot read the ABI from linux-headers-amd64's Depends: $dep"; return 1; }
	KB_VER=$(dpkg-query -W -f='${Version}' "linux-headers-$KB_REL" 2>/dev/null) ||
		{ kb__die "linux-headers-$KB_REL is not installed"; return 1; }
	KB_KDIR=/lib/modules/$KB_REL/build
	[ -f "$KB_KDIR/Makefile" ] || { kb__die "no kernel build tree at $KB_KDIR"; return 1; }
	# Debian's arch headers include the common tree's Makefile.
	KB_SRCTREE=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$KB_KDIR/Makefile" | head -n 1)
	[ -d "$KB_SRCTREE/include" ] || { kb__die "cannot find the common headers of $KB_KDIR"; return 1; }

	dir=$KB_CACHE/linux-image-${KB_REL}_$(printf '%s' "$KB_VER" | tr -c 'A-Za-z0-9.+_-' _)-r$KB_RECIPE
	KB_VMLINUZ=$dir/vmlinuz
	KB_CONFIG=$dir/config
	[ -f "$dir/.kb-stamp" ] && return 0
	mkdir -p "$KB_CACHE" || { kb__die "cannot create $KB_CACHE"; return 1; }
	(
		flock 9 || exit 1
		[ -f "$dir/.kb-stamp" ] && exit 0
		tmp=$(mktemp -d "$KB_CACHE/.tmp.XXXXXX") || exit 1
		trap 'rm -rf "$tmp"' EXIT
		chmod 755 "$tmp"
		# The exact version of the headers first; an older one may have
		# left the archive, and the same ABI is what modules need.
		( cd "$tmp" && { apt-get download -q "linux-image-$KB_REL=$KB_VER" ||
			apt-get download -q "linux-image-$KB_REL"; } ) >"$tmp/log" 2>&1 ||
			{ cat "$tmp/log" >&2
			  kb__die "cannot download linux-image-$KB_REL; if a newer ABI replaced it," \
				"run: apt-get update && apt-get install linux-headers-amd64"
			  exit 1; }
		dpkg -x "$tmp"/linux-image-*.deb "$tmp/x" ||
			{ kb__die "cannot unpack linux-image-$KB_REL"; exit 1; }
		mkdir "$tmp/out" &&
			cp "$tmp/x/boot/vmlinuz-$KB_REL" "$tmp/out/vmlinuz" &&
			cp "$tmp/x/boot/config-$KB_REL" "$tmp/out/config" &&
			touch "$tmp/out/.kb-stamp" ||
			{ kb__die "linux-image-$KB_REL has no /boot/vmlinuz-$KB_REL"; exit 1; }
		rm -rf "$dir"
		mv "$tmp/out" "$dir"
	) 9>"$KB_CACHE/.lock" || return 1
	[ -f "$dir/.kb-stamp" ]
}

kb_initramfs() {
	local init=$1 bb key out
	bb=/bin/busybox
	[ -x "$bb" ] && "$bb" --list | grep -qx tar ||
		{ kb__die "no busybox at $bb (scripts/deps boot: busybox-static)"; return 1; }
	# The dynamic busybox package installs the same path.
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' busybox-static 2>/dev/null)" = "ii " ] ||
		{ kb__die "busybox-static is not installed (scripts/deps boot)"; return 1; }
	key=$( { dpkg-query -W -f='${Version}' busybox-static; cat "$init"; echo "$KB_RECIPE"; } |
		sha256sum | cut -c1-16)
	out=$KB_CACHE/initramfs-base-$key.cpio
	[ -f "$out" ] || kb_initramfs_build "$bb" "$init" "$out" ||
		{ kb__die "cannot build the initramfs"; return 1; }
	echo "$out"
}

kb_initramfs_build() {
	local bb=$1 init=$2 out=$3 tmp
	mkdir -p "${out%/*}" || return 1
	tmp=$(mktemp -d "${out%/*}/.tmp.XXXXXX") || return 1
	mkdir -p "$tmp/root/bin" "$tmp/root/dev" "$tmp/root/proc" \
		"$tmp/root/sys" "$tmp/root/tmp" &&
		cp "$bb" "$tmp/root/bin/busybox" &&
		ln -s busybox "$tmp/root/bin/sh" &&
		install -m 0755 "$init" "$tmp/root/init" &&
		( cd "$tmp/root" && find . | LC_ALL=C sort |
			cpio --quiet -o -H newc -R 0:0 ) >"$tmp/base.cpio" &&
		mv "$tmp/base.cpio" "$out" ||
		{ rm -rf "$tmp"; return 1; }
	rm -rf "$tmp"
}
