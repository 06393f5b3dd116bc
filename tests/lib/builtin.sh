# tests/lib/builtin.sh: small kernels with CONFIG_IKHEADERS=y built in,
# built by Kbuild through scripts/kbuild-install, cached machine-wide.
#
# Source this file from bash (after nothing: it sources kernel-trees.sh,
# tree-copy.sh and images.sh); it defines functions and sets no options.
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
#                      KBI_ALLOW="xz" leaves that tool visible (the
#                      payload compressors bzip2, lzma, lzop, lz4 and
#                      zstd are never hidden).
#   kbi_hidden_run LOG true if LOG shows that a hidden tool was run.
#   kbi_images         x86_64: make sure the cached bzImages of every
#                      payload in KBI_COMP exist (the first is the
#                      tree's own; the others built from a copy of
#                      KBI_TREE by switching CONFIG_KERNEL_* and `make
#                      bzImage`), set KBI_IMAGES to their directory (see
#                      kbi__images_build for what it holds).
#   kbi_compress COMP IN OUT
#                      x86_64: OUT is IN compressed as Kbuild's
#                      scripts/Makefile.lib compresses a boot image's
#                      payload with COMP (one of KBI_COMP_CMD), the size
#                      appended; fails if the tree's Makefile.lib no
#                      longer has that command.
#   kbi_qemu IMAGE INITRD SERIAL_LOG TIMEOUT [APPEND...]
#                      boot IMAGE with INITRD under QEMU TCG (no KVM),
#                      -nographic, serial console to SERIAL_LOG, under
#                      timeout(1); returns qemu's (or timeout's) status.
#                      The guest ends the run with `reboot -f` (-no-reboot
#                      makes that exit qemu; no ACPI/PSCI driver needed).
#
# Variables: KBI_TS, the KBUILD_BUILD_TIMESTAMP every build uses (verify
# needs it as --mtime); KBI_COMP (x86_64: "gzip xz zstd"), the payloads
# kbi_images has Kbuild build, the first being the tree's own; KBI_COMP_CMD
# (x86_64: "bzip2 lzma lzo lz4"), the other four the kernel offers, made
# by kbi_compress from the tree's vmlinux.bin. Each Kbuild switch
# regenerates the archive (autoconf.h changes) and relinks vmlinux, about
# a CPU-minute each, so only the issue's three go through Kbuild.
#
# Cache layout (under $KHEADERS_CACHE, beside kernel-trees.sh's):
#   KEY/            finished tree (KEY/.kbi-stamp inside): the 7.3 source
#                   from kt_tarball, `make tinyconfig`, the fragment,
#                   `olddefconfig`, scripts/kbuild-install, `make all`.
#   KEY.images-H/   kbi_images' bzImages (.kbi-stamp inside); H hashes
#                   KBI_COMP, so another list of payloads is built anew
#   KEY.lock KEY.images-H.lock   flock(1) held while building
#   KEY.log KEY.images-H.log     output of the last build
#   .tmp.KEY.PID/   a build in progress (or left by a killed one)
# A build runs under the temporary name, gets its stamp, and is renamed
# into place (absolute paths rewritten first), so a tree that exists is
# complete.

. "${TOP:-.}/tests/lib/kernel-trees.sh"
. "${TOP:-.}/tests/lib/tree-copy.sh"
. "${TOP:-.}/tests/lib/images.sh"   # size_le32, Kbuild's size_append

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
# image is gzip: tinyconfig's xz would need xz(1) in Kbuild. What
# tinyconfig turns on and a serial boot with an uncompressed initramfs
# does not use is turned off (the VT console and input layer, the
# initramfs decompressors): fewer objects to compile on a cold cache.
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
CONFIG_MULTIUSER=y
# CONFIG_VT is not set
# CONFIG_INPUT is not set
# CONFIG_RD_GZIP is not set
# CONFIG_RD_BZIP2 is not set
# CONFIG_RD_LZMA is not set
# CONFIG_RD_XZ is not set
# CONFIG_RD_LZO is not set
# CONFIG_RD_LZ4 is not set
# CONFIG_RD_ZSTD is not set'

kbi_arch() {
	case ${1-} in
	x86_64)
		KBI_SRCARCH=x86
		KBI_CROSS=
		KBI_IMAGE=arch/x86/boot/bzImage
		KBI_CONSOLE=ttyS0
		KBI_QEMU=qemu-system-x86_64
		KBI_COMP="gzip xz zstd"
		KBI_COMP_CMD="bzip2 lzma lzo lz4"
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
		KBI_COMP_CMD=
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
	# KT_PROBED (kernel-trees.sh): the tools Kconfig probes besides cc.
	printf 'builtin-%s_%s-%s-%s-cc%s-t%s-r%s\n' "$KBI_VERSION" "$pv" "$KBI_ARCH" "$h" "$cc" \
		"$KT_PROBED" "$KBI_RECIPE"
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

# kbi__stamp START: the tree's .kbi-stamp (kt__build_locked's key).
kbi__stamp() {
	echo "key=$key"
	echo "package=linux-source-$KBI_VERSION $(kt_pkgver "$KBI_VERSION")"
	echo "arch=$KBI_ARCH recipe=$KBI_RECIPE cc=$("$KBI_CC" --version | head -n 1)"
	echo "timestamp=$KBI_TS"
	echo "built=$(date -u '+%F %T') seconds=$(($(date +%s) - $1))"
}

kbi__images_stamp() {
	echo "payloads=$KBI_COMP"
	echo "built=$(date -u '+%F %T') seconds=$(($(date +%s) - $1))"
}

kbi_tree() {
	local key
	key=$(kbi_key) || return 1
	kt__build_locked "$KBI_CACHE" "$key" .kbi-stamp builtin "tens of minutes" kbi__stamp \
		kbi__build || return
	KBI_TREE=$KBI_CACHE/$key
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

# kbi__images_build TMP FINAL LOG: in a private copy of KBI_TREE, switch the
# payload to each of $KBI_COMP after the first, in order, and run `make
# bzImage`; keep per payload COMP, in TMP:
#   bzImage.COMP          the image (the first's: the tree's own)
#   archive.COMP          kernel/kheaders_data.tar.xz after that make
#   make.COMP.log         that make's output (what it rebuilt)
#   kheaders.o.COMP       `stat -c '%i %Y'` of kernel/kheaders.o before
#                         and after that make (two lines)
# (make.FIRST.log and kheaders.o.FIRST do not exist.)
kbi__images_build() {
	local tmp=$1 log=$3 first c
	first=${KBI_COMP%% *}
	{
		echo "== $(date -u '+%F %T') copy of $KBI_TREE"
		mkdir -p "$tmp" && kbi_copy "$tmp/tree" || exit 1
		cp "$tmp/tree/$KBI_IMAGE" "$tmp/bzImage.$first" &&
			cp "$tmp/tree/kernel/kheaders_data.tar.xz" "$tmp/archive.$first" || exit 1
		for c in ${KBI_COMP#"$first"}; do
			echo "== CONFIG_KERNEL_$c, make bzImage (xz allowed: Kbuild's compressor of the payload)"
			kbi__switch "$tmp/tree" "$tmp/cfg.log" "$c" || { cat "$tmp/cfg.log"; exit 1; }
			stat -c '%i %Y' "$tmp/tree/kernel/kheaders.o" >"$tmp/kheaders.o.$c" || exit 1
			KBI_ALLOW="xz" kbi_make "$tmp/tree" "$tmp/make.$c.log" bzImage ||
				{ cat "$tmp/make.$c.log"; exit 1; }
			cat "$tmp/make.$c.log"
			stat -c '%i %Y' "$tmp/tree/kernel/kheaders.o" >>"$tmp/kheaders.o.$c" &&
				cp "$tmp/tree/$KBI_IMAGE" "$tmp/bzImage.$c" &&
				cp "$tmp/tree/kernel/kheaders_data.tar.xz" "$tmp/archive.$c" || exit 1
		done
		rm -rf "$tmp/tree" "$tmp/cfg.log"
		echo "== done $(date -u '+%F %T')"
	} >"$log" 2>&1
}

# kbi_compress COMP IN OUT: Kbuild's cmd_COMP_with_size of the tree's
# scripts/Makefile.lib, run as it runs it (the tools named as the
# tree's Makefile names them: KBZIP2=bzip2, LZMA=lzma, KLZOP=lzop,
# LZ4=lz4). The command's text must still be in KBI_TREE's
# Makefile.lib, so a kernel that changes how it compresses is noticed,
# not silently imitated.
kbi_compress() {
	local comp=$1 in=$2 out=$3 want cmd
	case $comp in
	bzip2) want='$(KBZIP2) -9' cmd=(bzip2 -9) ;;
	lzma) want='$(LZMA) -9' cmd=(lzma -9) ;;
	lzo) want='$(KLZOP) -9' cmd=(lzop -9) ;;
	lz4) want='$(LZ4) -l -9 - -' cmd=(lz4 -l -9 - -) ;;
	*) kbi__die "kbi_compress: no Kbuild command for '$comp'"; return 1 ;;
	esac
	grep -qF "cmd_${comp}_with_size = { cat \$(real-prereqs) | $want" "$KBI_TREE/scripts/Makefile.lib" ||
		{ kbi__die "$KBI_TREE/scripts/Makefile.lib: no cmd_${comp}_with_size running '$want'"; return 1; }
	{ "${cmd[@]}" <"$in" && size_le32 "$in"; } >"$out.tmp" &&
		mv "$out.tmp" "$out" || { rm -f "$out.tmp"; kbi__die "kbi_compress $comp $in failed"; return 1; }
}

kbi_images() {
	[ -n "$KBI_COMP" ] || { kbi__die "kbi_images: no payload variants for $KBI_ARCH"; return 1; }
	[ -n "${KBI_TREE-}" ] || { kbi__die "kbi_images: call kbi_tree first"; return 1; }
	local key
	key=${KBI_TREE##*/}.images-$(printf '%s' "$KBI_COMP" | sha256sum | cut -c1-8)
	kt__build_locked "$KBI_CACHE" "$key" .kbi-stamp builtin minutes kbi__images_stamp \
		kbi__images_build || return
	KBI_IMAGES=$KBI_CACHE/$key
}

# The checks t-builtin-x86.sh and t-builtin-arm64.sh share. They run in
# the test's shell and use its reporters ok, bad (sets fail) and die, and
# the variables kbi_t_start sets; each prints its "ok"/"FAIL" lines.
#
#   kbi_t_start ARCH HINT
#                        kbi_arch ARCH, the built tree (kbi_tree) and a
#                        private copy of it; sets T ($TEST_TMP), K
#                        ($KHEADERS), TIMEOUT (the boot's, seconds:
#                        $KH_BOOT_TIMEOUT or 600), fail=0, san (1 when
#                        KH_BUILD ends in /san: no relink, no boot), W
#                        (the copy), IMG (its $KBI_IMAGE) and A (its
#                        kernel/kheaders_data.tar.xz). HINT: how to get
#                        the missing qemu.
#   kbi_t_others LOG     echo what LOG compiled or assembled besides
#                        kheaders.o and what the link and boot image make
#   kbi_t_relink_hidden  FAIL if the relink ($T/relink.log) ran a hidden tool
#   kbi_t_rodata         vmlinux's .rodata holds, between the IKHD markers,
#                        the bytes of A
#   kbi_t_expect         unpack A into $T/ref and write $T/expect, what the
#                        guest must see (sets KBI_NONCE, KBI_PIECES)
#   kbi_t_boot BASE WHAT boot IMG with the initramfs BASE plus $T/expect
#                        and check what the guest reports (WHAT: the ok
#                        line's words between "booted " and "TCG")
#   kbi_t_same_tree A B  true if trees A and B are the same: names,
#                        types, link targets and file bytes
#   kbi_t_extract_tar    `kheaders extract` of A = GNU tar's $T/ref
#   kbi_t_verify WANT PATTERN SOURCE
#                        `verify --rebuild` of SOURCE against W exits WANT
#                        and prints PATTERN (if not empty); else says why
#   kbi_t_edit FILE      edit FILE in W (replacing it: the hard link to the
#                        cache is broken, not written through); dies if the
#                        cached tree's FILE changed
#   kbi_t_untouched FILE the cached tree's FILE has no trace of kbi_t_edit

kbi_t_start() {
	local s
	T=$TEST_TMP
	K=$KHEADERS
	TIMEOUT=${KH_BOOT_TIMEOUT:-600}
	fail=0
	san=
	case $KH_BUILD in */san) san=1 ;; esac
	kbi_arch "$1" || die "kbi_arch $1"
	[ -n "$san" ] || command -v "$KBI_QEMU" >/dev/null || die "no $KBI_QEMU ($2)"
	s=$(date +%s)
	kbi_tree || die "no built tree"
	echo "note: built tree $KBI_TREE ($(($(date +%s) - s)) s to get)"
	s=$(date +%s)
	kbi_copy "$T/tree" || die "copy of $KBI_TREE"
	echo "note: private copy in $(($(date +%s) - s)) s"
	W=$T/tree
	IMG=$W/$KBI_IMAGE
	A=$W/kernel/kheaders_data.tar.xz
}

kbi_t_others() {
	grep -E '^  (CC|AS|HOSTCC|HOSTLD|CPP)  ' "$1" |
		grep -vE " (kernel/kheaders\\.o|init/version-timestamp\\.o|\\.tmp_vmlinux.*|arch/$KBI_SRCARCH/boot/.*)\$"
}

kbi_t_relink_hidden() {
	! kbi_hidden_run "$T/relink.log" ||
		bad "relink: a hidden tool was run: $(grep 'was run$' "$T/relink.log" | sort -u | tr '\n' ' ')"
}

kbi_t_rodata() {
	"${KBI_CROSS}objcopy" -O binary -j .rodata "$W/vmlinux" "$T/rodata.bin" &&
		python3 - "$T/rodata.bin" "$T/blob" <<'PY' || bad "no IKHD markers in vmlinux's .rodata"
import sys
d = open(sys.argv[1], 'rb').read()
s, e = d.find(b'IKHD_ST'), d.rfind(b'IKHD_ED')
assert s >= 0 and e > s, "markers not found"
open(sys.argv[2], 'wb').write(d[s + 7:e])
PY
	cmp -s "$T/blob" "$A" && ok "vmlinux's .rodata holds the archive Kbuild built ($(stat -c %s "$A") bytes)" ||
		bad "the blob in vmlinux is not kernel/kheaders_data.tar.xz"
}

kbi_t_expect() {
	local size p bs r skip count psha=
	mkdir "$T/ref" && tar -xJf "$A" -C "$T/ref" || return 1
	size=$(stat -c %s "$A")
	KBI_PIECES="1:0:1 1:4095:2 3:1365:3 511:7:9 1000:3:7 4093:1:2 4097:2:3 65537:1: 7:$((size / 7 - 3)): 4093:$((size / 4093)): 1:$((size - 1)):5 1:$size:1 13:$((size / 13 + 5)):2"
	for p in $KBI_PIECES; do
		bs=${p%%:*}; r=${p#*:}; skip=${r%%:*}; count=${r#*:}
		psha="$psha $(dd if="$A" iflag=fullblock bs="$bs" skip="$skip" ${count:+count=$count} 2>/dev/null |
			sha256sum | cut -d' ' -f1)"
	done
	KBI_NONCE=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
	{
		echo "N=$KBI_NONCE"
		echo "SHA=$(sha256sum < "$A" | cut -d' ' -f1)"
		echo "SIZE=$size"
		echo "PIECES='$KBI_PIECES'"
		echo "PIECE_SHAS='${psha# }'"
		echo "LIST_SHA=$(cd "$T/ref" && find . | LC_ALL=C sort | sha256sum | cut -d' ' -f1)"
		echo "FILES_SHA=$(cd "$T/ref" && find . -type f | LC_ALL=C sort |
			xargs sha256sum | sha256sum | cut -d' ' -f1)"
	} > "$T/expect"
}

kbi_t_boot() {
	local base=$1 what=$2 rc n c i f want s npieces nonce=$KBI_NONCE
	npieces=$(echo $KBI_PIECES | wc -w)
	mkdir "$T/run" && cp "$T/expect" "$T/run/" &&
		( cd "$T/run" && find . -mindepth 1 | cpio --quiet -o -H newc -R 0:0 ) > "$T/run.cpio" &&
		cat "$base" "$T/run.cpio" > "$T/initrd.cpio" || { bad "initramfs for this run"; return; }
	s=$(date +%s)
	kbi_qemu "$IMG" "$T/initrd.cpio" "$T/serial.log" "$TIMEOUT" >"$T/qemu.log" 2>&1
	rc=$?
	echo "note: $KBI_QEMU: exit $rc after $(($(date +%s) - s)) s"
	tr -d '\r' < "$T/serial.log" > "$T/console"
	case $rc in
	0) ;;
	124|137) tail -n 30 "$T/console"; bad "boot timed out after ${TIMEOUT} s"; return ;;
	*) cat "$T/qemu.log"; tail -n 30 "$T/console"; bad "qemu exited $rc"; return ;;
	esac
	grep "^KHE2E $nonce " "$T/console" > "$T/report"
	sed 's/^/     guest: /' "$T/report"
	n=0
	grep -q "^KHE2E $nonce FAIL" "$T/report" && n=1
	# Not anchored: on x86 SeaBIOS' escapes precede the first line.
	grep -q "KHE2E $nonce START ${KBI_VERSION//./\\.}" "$T/console" ||
		{ echo "FAIL the guest did not start a $KBI_VERSION kernel"; n=1; }
	want="busybox-tar x1-list x1-files dmesg"
	for f in sys proc; do
		want="$want $f-sha256 $f-size $f-readonly"
		for i in $(seq 1 "$npieces"); do want="$want $f-dd-$i"; done
	done
	for c in $want; do
		grep -qx "KHE2E $nonce OK $c" "$T/report" || { echo "FAIL missing from the guest: $c"; n=1; }
	done
	grep -qx "KHE2E $nonce DONE" "$T/report" || { echo "FAIL no DONE from the guest"; n=1; }
	if [ $n != 0 ]; then
		fail=1
		echo "--- console (last 40 lines)"
		tail -n 40 "$T/console"
	else
		ok "booted ${what}TCG, $(($(date +%s) - s)) s): /sys and /proc serve the archive's bytes; $npieces dd pieces each; busybox tar unpacks it"
	fi
}

kbi_t_same_tree() {
	[ "$(cd "$1" && find . -printf '%y %p %l\n' | LC_ALL=C sort)" = \
		"$(cd "$2" && find . -printf '%y %p %l\n' | LC_ALL=C sort)" ] &&
		diff -r --no-dereference "$1" "$2" >/dev/null
}

kbi_t_extract_tar() {
	"$K" extract "$A" "$T/x-tar" 2>"$T/err" || { cat "$T/err"; die "extract of the .tar.xz"; }
	kbi_t_same_tree "$T/x-tar" "$T/ref" && ok "extract of the .tar.xz = GNU tar's tree" ||
		bad "extract of the .tar.xz differs from GNU tar's tree"
}

kbi_t_verify() {
	local want=$1 pat=$2 rc
	"$K" verify --rebuild --srctree "$W" --objtree "$W" --arch "$KBI_SRCARCH" --mtime "$KBI_TS" "$3" \
		>"$T/v.out" 2>&1
	rc=$?
	[ $rc = "$want" ] && { [ -z "$pat" ] || grep -q -- "$pat" "$T/v.out"; } && return 0
	echo "     verify $3: exit $rc, want $want${pat:+ and '$pat'}:"; sed 's/^/     /' "$T/v.out" | head -n 20
	return 1
}

kbi_t_edit() {
	local pristine
	pristine=$(sha256sum < "$KBI_TREE/$1")
	sed -i '$a #define KH_BUILTIN_EDIT 1' "$W/$1" || die "edit $1"
	[ "$(sha256sum < "$KBI_TREE/$1")" = "$pristine" ] || die "the edit reached the cached tree's $1"
}

kbi_t_untouched() {
	grep -q KH_BUILTIN_EDIT "$KBI_TREE/$1" && bad "the cached tree was edited" ||
		ok "the cached tree is untouched"
}
