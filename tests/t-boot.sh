#!/bin/bash
# End to end, in a booted kernel: Debian's current 6.1 kernel (the
# linux-image package unpacked, never installed) boots under QEMU/TCG
# with a busybox initramfs, loads kheaders.ko built here against
# Debian's linux-headers for the same ABI around the archive `kheaders
# gen` makes of those very headers, and checks (tests/boot/init):
#   - /sys/kernel/kheaders.tar.xz and /proc/kheaders.tar.xz have the
#     host archive's SHA-256 and size, mode 0444, refuse writes, read
#     right from an unaligned offset and return nothing past the end;
#   - busybox tar unpacks the archive into the tree the host's GNU tar
#     makes, and so does `kheaders extract` run in the guest from its
#     default source (sysfs); with the module gone it says so;
#   - no BUG, WARNING or FORTIFY report in dmesg; rmmod removes both.
# The guest reports on the serial console, each line tagged with a
# per-run nonce; anything but every expected OK and the final DONE
# fails. QEMU runs under timeout(1) and is killed if it hangs.
set -u
. "$TOP/tests/lib/boot.sh"
T=$TEST_TMP
TIMEOUT=${KH_BOOT_TIMEOUT:-300}
fail() { echo "FAIL $*"; exit 1; }

command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 (scripts/deps boot)"
kb_kernel || fail "no kernel to boot"
echo "kernel $KB_REL ($KB_VER), headers $KB_KDIR + $KB_SRCTREE"
# Unsigned modules load (with a taint) unless the kernel forces
# signatures; lockdown only comes with EFI secure boot, not here.
grep -qx 'CONFIG_MODULE_SIG_FORCE=y' "$KB_CONFIG" &&
	fail "$KB_REL enforces module signatures"

# The archive: the kernel's own headers, as Debian ships them (xz preset
# 0: five times faster to make than 6, still 5 MB of pages to serve).
s=$(date +%s)
"$KHEADERS" gen -q --no-state --srctree "$KB_SRCTREE" --objtree "$KB_KDIR/" \
	--arch x86 --mtime @1700000000 --xz-preset 0 \
	-o "$T/kheaders_data.tar.xz" ||
	fail "kheaders gen"
echo "archive: $(stat -c %s "$T/kheaders_data.tar.xz") bytes in $(($(date +%s) - s))s"

s=$(date +%s)
make -s -C "$TOP/kernel" KDIR="$KB_KDIR" ARCHIVE="$T/kheaders_data.tar.xz" \
	MODBUILD="$T/mod" KO="$T/kheaders.ko" >"$T/make.log" 2>&1 ||
	{ cat "$T/make.log"; fail "module build"; }
grep -E 'warning:|error:' "$T/make.log" && fail "module build warnings"
echo "module: $(stat -c %s "$T/kheaders.ko") bytes in $(($(date +%s) - s))s"
vermagic=$(grep -a -o 'vermagic=[[:print:]]*' "$T/kheaders.ko" | head -n 1)
case $vermagic in
"vermagic=$KB_REL "*) ;;
*) fail "module's $vermagic does not match $KB_REL" ;;
esac

# What the guest must see, computed here with GNU tar.
a=$T/kheaders_data.tar.xz
mkdir "$T/ref" && tar -xJf "$a" -C "$T/ref" || fail "host tar"
nonce=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
tail_off=5000
{
	echo "N=$nonce"
	echo "SHA=$(sha256sum < "$a" | cut -d' ' -f1)"
	echo "SIZE=$(stat -c %s "$a")"
	echo "TAIL_OFF=$tail_off"
	echo "TAIL_SHA=$(tail -c +$((tail_off + 1)) "$a" | sha256sum | cut -d' ' -f1)"
	echo "LIST_SHA=$(cd "$T/ref" && find . | LC_ALL=C sort | sha256sum | cut -d' ' -f1)"
	echo "FILES_SHA=$(cd "$T/ref" && find . -type f | LC_ALL=C sort |
		xargs sha256sum | sha256sum | cut -d' ' -f1)"
} > "$T/expect"

base=$(kb_initramfs "$TOP/tests/boot/init") || fail "initramfs"
# This run's files: the module, the expectations, and kheaders itself
# with the shared libraries it loads (run through their loader).
mkdir -p "$T/run/kh" && cp "$T/kheaders.ko" "$T/expect" "$T/run/" &&
	cp "$KHEADERS" "$T/run/kh/kheaders" || fail "initramfs for this run"
# libarchive and libcrypto are dlopen'ed: --version names them, ldconfig
# finds them, and ldd lists what they load in turn.
dl=$("$KHEADERS" --version | sed -n 's/^loads when needed: //p')
[ -n "$dl" ] || fail "kheaders --version names no dlopen'ed library"
objs=("$KHEADERS")
for so in $dl; do
	p=$(/sbin/ldconfig -p | awk -v so="$so" '$1 == so && $NF ~ /^\// { print $NF; exit }')
	[ -n "$p" ] || fail "$so: not found by ldconfig"
	objs+=("$p")
done
for o in "${objs[@]}"; do
	[ "$o" = "$KHEADERS" ] || echo "$o"
	ldd "$o" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' ||
		fail "ldd $o"
done | sort -u > "$T/libs" || fail "ldd"
while read -r lib; do
	case $lib in
	*/ld-linux*) cp -L "$lib" "$T/run/kh/ld.so" ;;
	*) cp -L "$lib" "$T/run/kh/" ;;
	esac || fail "copy $lib"
done < "$T/libs"
[ -f "$T/run/kh/ld.so" ] || fail "no dynamic loader in: $(cat "$T/libs")"
( cd "$T/run" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 ) > "$T/run.cpio" ||
	fail "initramfs for this run"
# The kernel unpacks concatenated cpio archives in order.
cat "$base" "$T/run.cpio" > "$T/initrd.cpio"

s=$(date +%s)
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp 1 \
	-nodefaults -nographic -monitor none -no-reboot -nic none \
	-serial "file:$T/serial.log" \
	-kernel "$KB_VMLINUZ" -initrd "$T/initrd.cpio" \
	-append "console=ttyS0 panic=-1 oops=panic loglevel=4" \
	</dev/null >"$T/qemu.log" 2>&1
rc=$?
echo "qemu: exit $rc after $(($(date +%s) - s))s"
tr -d '\r' < "$T/serial.log" > "$T/console"
[ $rc = 124 ] || [ $rc = 137 ] && { tail -n 30 "$T/console"; fail "timed out after ${TIMEOUT}s"; }
[ $rc = 0 ] || { cat "$T/qemu.log"; tail -n 30 "$T/console"; fail "qemu exited $rc"; }

grep "^KHE2E $nonce " "$T/console" > "$T/report"
cat "$T/report"
bad=0
grep -q "^KHE2E $nonce FAIL" "$T/report" && bad=1
for c in insmod sys-sha256 sys-size sys-mode sys-offset-read sys-past-end \
	sys-readonly proc-sha256 proc-size proc-mode proc-offset-read \
	proc-past-end proc-readonly busybox-tar kh-default-source x1-list \
	x1-files x2-list x2-files dmesg rmmod gone kh-no-source; do
	grep -qx "KHE2E $nonce OK $c" "$T/report" || { echo "FAIL missing: $c"; bad=1; }
done
grep -qx "KHE2E $nonce DONE" "$T/report" || { echo "FAIL no DONE from the guest"; bad=1; }
if [ $bad != 0 ]; then
	echo "--- console (last 40 lines)"
	tail -n 40 "$T/console"
	exit 1
fi
echo "ok   booted $KB_REL: both files serve the archive; busybox tar unpacks it"
