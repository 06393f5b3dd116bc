# tests/lib/builtin.sh: small kernels with CONFIG_IKHEADERS=y built in,
# built by Kbuild through scripts/kbuild-install, cached machine-wide.
#
# Source this file from bash after tests/lib/kernel-trees.sh; it defines
# functions and sets no options.
#
#   kbi_arch ARCH      select the architecture: x86_64 or arm64. Sets
#                      KBI_ARCH, KBI_SRCARCH (x86, arm64), KBI_CROSS
#                      (CROSS_COMPILE: empty, aarch64-linux-gnu-),
#                      KBI_CC, KBI_IMAGE (arch/x86/boot/bzImage,
#                      arch/arm64/boot/Image.gz), KBI_CONSOLE (ttyS0,
#                      ttyAMA0), KBI_QEMU (the qemu program) and
#                      KBI_FRAGMENT (the config fragment's text).
#   kbi_key            echo the cache key of the selected ARCH: source
#                      package version, fragment + recipe hash, compiler.
#   kbi_tree           make sure the cached built tree exists (building it,
#                      tens of minutes, under a lock), set KBI_TREE to it.
#                      Call directly, not in $(...). The tree is pristine
#                      and shared: never build or edit in it; copy it.
#   kbi_copy DST       DST becomes a private copy of KBI_TREE to build or
#                      edit in (tests/lib/tree-copy.sh: source files are
#                      hard links, every build output a real copy; edit a
#                      header by replacing it, e.g. sed -i, never in place).
#   kbi_make TREE LOG ARGS...
#                      run Kbuild in TREE for the selected ARCH with cpio,
#                      perl, tar and xz hidden from PATH (each is a stub
#                      that fails and says "TOOL was run"), KHEADERS set
#                      to $KHEADERS and the cache entry's
#                      KBUILD_BUILD_TIMESTAMP; output to LOG.
#                      KBI_ALLOW="xz zstd" leaves those tools visible.
#   kbi_hidden_run LOG true if LOG shows that a hidden tool was run.
#   kbi_images         x86_64: make sure the cached bzImages of every
#                      payload in KBI_COMP exist (built from a copy of
#                      KBI_TREE by switching CONFIG_KERNEL_* and `make
#                      bzImage`), set KBI_IMAGES to their directory (see
#                      kbi__images_build for what it holds).
#   kbi_qemu IMAGE INITRD SERIAL_LOG TIMEOUT [APPEND...]
#                      boot IMAGE with INITRD under QEMU TCG (no KVM),
#                      -nographic, serial console to SERIAL_LOG, under
#                      timeout(1); returns qemu's (or timeout's) status.
#                      The guest ends the run with `reboot -f` (-no-reboot
#                      makes that exit qemu; no ACPI/PSCI driver needed).
#
# Variables: KBI_TS, the KBUILD_BUILD_TIMESTAMP every build uses (verify
# needs it as --mtime); KBI_COMP (x86_64: "gzip xz zstd"), the payloads
# kbi_images builds, the first being the tree's own.
#
# Cache layout (under $KHEADERS_CACHE, beside kernel-trees.sh's):
#   KEY/            finished tree (KEY/.kbi-stamp inside): the 7.3 source
#                   from kt_tarball, `make tinyconfig`, the fragment,
#                   `olddefconfig`, scripts/kbuild-install, `make all`.
#   KEY.images/     kbi_images' bzImages (.kbi-stamp inside)
#   KEY.lock KEY.images.lock   flock(1) held while building
#   KEY.log KEY.images.log     output of the last build
#   .tmp.KEY.PID/   a build in progress (or left by a killed one)
# A build runs under the temporary name, gets its stamp, and is renamed
# into place (absolute paths rewritten first), so a tree that exists is
# complete.

KBI_RECIPE=1
KBI_VERSION=7.3
KBI_TS="Sat Nov 21 12:00:00 UTC 2026"
KBI_CACHE=${KHEADERS_CACHE:-/var/tmp/kheaders-cache}

kbi__die() {
	echo "builtin: $*" >&2
	return 1
}

# The fragment: what booting from an initramfs on a serial console and
# serving the archive need on top of tinyconfig, and no more. The boot
# image is gzip: tinyconfig's xz would need xz(1) in Kbuild.
KBI_FRAGMENT_COMMON='CONFIG_64BIT=y
CONFIG_IKHEADERS=y
CONFIG_SYSFS=y
CONFIG_PROC_FS=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_PRINTK=y
CONFIG_TTY=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_DEVTMPFS=y
CONFIG_FUTEX=y
CONFIG_MULTIUSER=y'

kbi_arch() {
	case ${1-} in
	x86_64)
		KBI_SRCARCH=x86
		KBI_CROSS=
		KBI_IMAGE=arch/x86/boot/bzImage
		KBI_CONSOLE=ttyS0
		KBI_QEMU=qemu-system-x86_64
		KBI_COMP="gzip xz zstd"
		KBI_FRAGMENT="$KBI_FRAGMENT_COMMON
CONFIG_KERNEL_GZIP=y
# CONFIG_KERNEL_XZ is not set
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y"
		;;
	arm64)
		KBI_SRCARCH=arm64
		KBI_CROSS=aarch64-linux-gnu-
		KBI_IMAGE=arch/arm64/boot/Image.gz
		KBI_CONSOLE=ttyAMA0
		KBI_QEMU=qemu-system-aarch64
		KBI_COMP=
		KBI_FRAGMENT="$KBI_FRAGMENT_COMMON
CONFIG_ARM_AMBA=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_ARM_PSCI_FW=y"
		;;
	*) kbi__die "kbi_arch: x86_64 or arm64, not '${1-}'"; return 1 ;;
	esac
	KBI_ARCH=$1
	KBI_CC=${KBI_CROSS}gcc
	command -v "$KBI_CC" >/dev/null || { kbi__die "no $KBI_CC (scripts/deps boot)"; return 1; }
}

kbi_key() {
	[ -n "${KBI_ARCH-}" ] || { kbi__die "kbi_key: call kbi_arch first"; return 1; }
	local pv h cc
	pv=$(kt__pkgver "$KBI_VERSION") || return 1
	h=$(printf '%s\nrecipe=%s\nts=%s\n' "$KBI_FRAGMENT" "$KBI_RECIPE" "$KBI_TS" |
		sha256sum | cut -c1-12)
	cc=$("$KBI_CC" --version | head -n 1 | sha256sum | cut -c1-8)
	printf 'builtin-%s_%s-%s-%s-cc%s-r%s\n' "$KBI_VERSION" "$pv" "$KBI_ARCH" "$h" "$cc" "$KBI_RECIPE"
}

# kbi__nobin DIR: stubs of the tools Kbuild must not need.
kbi__nobin() {
	local tool
	mkdir -p "$1" || return 1
	for tool in cpio perl tar xz; do
		case " ${KBI_ALLOW-} " in *" $tool "*) continue ;; esac
		printf '#!/bin/sh\necho "%s was run" >&2; exit 1\n' "$tool" >"$1/$tool" &&
			chmod +x "$1/$tool" || return 1
	done
}

kbi_make() {
	local tree=$1 log=$2 nobin rc
	shift 2
	nobin=$(mktemp -d "${TMPDIR:-/tmp}/kbi-nobin.XXXXXX") || return 1
	kbi__nobin "$nobin" || { rm -rf "$nobin"; return 1; }
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u GNUMAKEFLAGS \
		-u srctree -u objtree -u O -u KBUILD_OUTPUT -u KBUILD_EXTMOD \
		-u SRCARCH -u KCONFIG_CONFIG -u building_out_of_srctree \
		PATH="$nobin:$PATH" LC_ALL=C KBUILD_BUILD_TIMESTAMP="$KBI_TS" \
		KBUILD_BUILD_USER=kheaders KBUILD_BUILD_HOST=kheaders \
		make -C "$tree" ARCH="$KBI_ARCH" CROSS_COMPILE="$KBI_CROSS" \
		KHEADERS="$KHEADERS" -j"$(nproc 2>/dev/null || echo 2)" "$@" >"$log" 2>&1
	rc=$?
	rm -rf "$nobin"
	return $rc
}

kbi_hidden_run() {
	grep -q '^[a-z]* was run$' "$1"
}

# kbi__config TREE LOG: tinyconfig + the fragment; every line of the
# fragment must survive olddefconfig (else a dependency is missing).
kbi__config() {
	local tree=$1 log=$2 line
	kbi_make "$tree" "$log" tinyconfig || return 1
	printf '%s\n' "$KBI_FRAGMENT" >>"$tree/.config" || return 1
	kbi_make "$tree" "$log" olddefconfig || return 1
	while IFS= read -r line; do
		grep -qxF "$line" "$tree/.config" ||
			{ kbi__die "$line: not in .config after olddefconfig (a dependency is off)"; return 1; }
	done <<<"$KBI_FRAGMENT"
}

# kbi__build TMP FINAL LOG
kbi__build() {
	local tmp=$1 final=$2 log=$3
	{
		echo "== $(date -u '+%F %T') linux-source-$KBI_VERSION $(kt_pkgver "$KBI_VERSION") $KBI_ARCH"
		echo "== $("$KBI_CC" --version | head -n 1)"
		echo "== unpack" && kt__unpack "$KBI_VERSION" "$tmp" &&
			echo "== tinyconfig + fragment" && kbi__config "$tmp" "$tmp/.kbi-cfg.log" &&
			echo "== kbuild-install" && "$TOP/scripts/kbuild-install" "$tmp" &&
			echo "== make all (cpio perl tar xz hidden)" &&
			kbi_make "$tmp" "$tmp/.kbi-all.log" all; local rc=$?
		[ -f "$tmp/.kbi-all.log" ] && cat "$tmp/.kbi-all.log"
		[ $rc = 0 ] && ! kbi_hidden_run "$tmp/.kbi-all.log" ||
			{ echo "== make all failed or ran a hidden tool"; exit 1; }
		[ -f "$tmp/$KBI_IMAGE" ] || { echo "== no $KBI_IMAGE"; exit 1; }
		rm -f "$tmp"/.kbi-*.log*
		echo "== relocate $tmp -> $final" && kt__relocate "$tmp" "$final" "$tmp" &&
			echo "== done $(date -u '+%F %T')"
	} >"$log" 2>&1
}

kbi_tree() {
	local key final lock log tmp start rc
	key=$(kbi_key) || return 1
	final=$KBI_CACHE/$key
	if [ ! -f "$final/.kbi-stamp" ]; then
		mkdir -p "$KBI_CACHE" || { kbi__die "cannot create $KBI_CACHE"; return 1; }
		lock=$KBI_CACHE/$key.lock
		log=$KBI_CACHE/$key.log
		(
			exec 9>"$lock" || exit 1
			if ! flock -n 9; then
				echo "builtin: waiting for another run building $key" >&2
				flock 9 || exit 1
			fi
			[ -f "$final/.kbi-stamp" ] && exit 0
			# Leftovers of killed builds; we hold the lock.
			rm -rf "$KBI_CACHE/.tmp.$key".* "$final"
			tmp=$KBI_CACHE/.tmp.$key.$BASHPID
			echo "builtin: building $key (tens of minutes; log: $log)" >&2
			start=$(date +%s)
			if ! ( kbi__build "$tmp" "$final" "$log" ); then
				echo "builtin: building $key failed; last lines of $log:" >&2
				tail -n 30 "$log" >&2
				rm -rf "$tmp"
				exit 1
			fi
			{
				echo "key=$key"
				echo "package=linux-source-$KBI_VERSION $(kt_pkgver "$KBI_VERSION")"
				echo "arch=$KBI_ARCH recipe=$KBI_RECIPE cc=$("$KBI_CC" --version | head -n 1)"
				echo "timestamp=$KBI_TS"
				echo "built=$(date -u '+%F %T') seconds=$(($(date +%s) - start))"
			} >"$tmp/.kbi-stamp" && sync -f "$tmp" && mv -T "$tmp" "$final" ||
				{ rm -rf "$tmp"; exit 1; }
			echo "builtin: built $key in $(($(date +%s) - start)) s" >&2
		)
		rc=$?
		[ $rc = 0 ] || return $rc
	fi
	KBI_TREE=$final
}

kbi_copy() {
	[ -n "${KBI_TREE-}" ] || { kbi__die "kbi_copy: call kbi_tree first"; return 1; }
	tc_copy "$KBI_TREE" "$1"
}

kbi_qemu() {
	local image=$1 initrd=$2 serial=$3 timeout=$4 append
	shift 4
	append="console=$KBI_CONSOLE panic=-1 oops=panic loglevel=4 $*"
	local m=()
	case $KBI_ARCH in
	x86_64) m=(-accel tcg -m 512) ;;
	arm64) m=(-M virt -cpu cortex-a57 -accel tcg -m 512) ;;
	esac
	timeout -k 10 "$timeout" "$KBI_QEMU" "${m[@]}" -smp 1 \
		-nodefaults -nographic -monitor none -no-reboot -nic none \
		-serial "file:$serial" -kernel "$image" -initrd "$initrd" \
		-append "$append" </dev/null
}

# kbi__switch TREE LOG COMP: select the x86 payload COMP (CONFIG_KERNEL_*).
kbi__switch() {
	local tree=$1 log=$2 sym c
	sym=$(echo "$3" | tr a-z A-Z)
	for c in GZIP BZIP2 LZMA XZ LZO LZ4 ZSTD; do
		[ "$c" = "$sym" ] && continue
		"$tree/scripts/config" --file "$tree/.config" --disable "KERNEL_$c" || return 1
	done
	"$tree/scripts/config" --file "$tree/.config" --enable "KERNEL_$sym" &&
		kbi_make "$tree" "$log" olddefconfig &&
		grep -qx "CONFIG_KERNEL_$sym=y" "$tree/.config" ||
		{ kbi__die "CONFIG_KERNEL_$sym=y did not take"; return 1; }
}

# kbi__images_build TMP LOG: in a private copy of KBI_TREE, switch the
# payload to each of $KBI_COMP after the first (then back to the first)
# and run `make bzImage`; keep per payload COMP, in TMP:
#   bzImage.COMP          the image
#   archive.COMP          kernel/kheaders_data.tar.xz after that make
#   make.COMP.log         that make's output (what it rebuilt)
#   kheaders.o.COMP       `stat -c '%i %Y'` of kernel/kheaders.o before
#                         and after that make (two lines)
kbi__images_build() {
	local tmp=$1 log=$2 first c
	first=${KBI_COMP%% *}
	{
		echo "== $(date -u '+%F %T') copy of $KBI_TREE"
		mkdir -p "$tmp" && kbi_copy "$tmp/tree" || exit 1
		cp "$tmp/tree/$KBI_IMAGE" "$tmp/bzImage.$first" &&
			cp "$tmp/tree/kernel/kheaders_data.tar.xz" "$tmp/archive.$first" || exit 1
		for c in ${KBI_COMP#"$first"} "$first"; do
			echo "== CONFIG_KERNEL_$c, make bzImage (xz and zstd allowed: Kbuild's compressors)"
			kbi__switch "$tmp/tree" "$tmp/cfg.log" "$c" || { cat "$tmp/cfg.log"; exit 1; }
			stat -c '%i %Y' "$tmp/tree/kernel/kheaders.o" >"$tmp/kheaders.o.$c" || exit 1
			KBI_ALLOW="xz zstd" kbi_make "$tmp/tree" "$tmp/make.$c.log" bzImage ||
				{ cat "$tmp/make.$c.log"; exit 1; }
			cat "$tmp/make.$c.log"
			stat -c '%i %Y' "$tmp/tree/kernel/kheaders.o" >>"$tmp/kheaders.o.$c" &&
				cp "$tmp/tree/$KBI_IMAGE" "$tmp/bzImage.$c" &&
				cp "$tmp/tree/kernel/kheaders_data.tar.xz" "$tmp/archive.$c" || exit 1
		done
		# The first payload's make rebuilt the same image again: it is
		# kept (bzImage.FIRST), the one of the pristine tree is not.
		rm -rf "$tmp/tree" "$tmp/cfg.log"
		echo "== done $(date -u '+%F %T')"
	} >"$log" 2>&1
}

kbi_images() {
	[ -n "$KBI_COMP" ] || { kbi__die "kbi_images: no payload variants for $KBI_ARCH"; return 1; }
	[ -n "${KBI_TREE-}" ] || { kbi__die "kbi_images: call kbi_tree first"; return 1; }
	local key final lock log tmp start rc
	key=${KBI_TREE##*/}.images
	final=$KBI_CACHE/$key
	if [ ! -f "$final/.kbi-stamp" ]; then
		lock=$KBI_CACHE/$key.lock
		log=$KBI_CACHE/$key.log
		(
			exec 9>"$lock" || exit 1
			if ! flock -n 9; then
				echo "builtin: waiting for another run building $key" >&2
				flock 9 || exit 1
			fi
			[ -f "$final/.kbi-stamp" ] && exit 0
			rm -rf "$KBI_CACHE/.tmp.$key".* "$final"
			tmp=$KBI_CACHE/.tmp.$key.$BASHPID
			echo "builtin: building $key (minutes; log: $log)" >&2
			start=$(date +%s)
			if ! ( kbi__images_build "$tmp" "$log" ); then
				echo "builtin: building $key failed; last lines of $log:" >&2
				tail -n 30 "$log" >&2
				rm -rf "$tmp"
				exit 1
			fi
			echo "built=$(date -u '+%F %T') seconds=$(($(date +%s) - start))" >"$tmp/.kbi-stamp" &&
				sync -f "$tmp" && mv -T "$tmp" "$final" || { rm -rf "$tmp"; exit 1; }
			echo "builtin: built $key in $(($(date +%s) - start)) s" >&2
		)
		rc=$?
		[ $rc = 0 ] || return $rc
	fi
	KBI_IMAGES=$final
}
