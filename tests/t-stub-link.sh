#!/bin/bash
# The stub is real: it assembles with `as`, links into a program that
# declares the symbols as arrays (as FORTIFY-safe kernel code does), and
# that program sees exactly the archive's bytes, with the IKHD_ST and
# IKHD_ED markers right around them and the symbol sized in the ELF.
set -eu
T=$TEST_TMP
cd "$T"
mkdir data
"$KHEADERS" gen -q --srctree "$TOP/golden/sample/src" \
	--objtree "$TOP/golden/sample/obj" --arch x86 --mtime @1700000000 \
	-o data/kheaders_data.tar.xz --stub kheaders_data.S \
	--incbin data/kheaders_data.tar.xz
size=$(stat -c %s data/kheaders_data.tar.xz)

as -o stub.o kheaders_data.S
cat > main.c <<'C'
#include <stdio.h>
extern const char kernel_headers_data[];
extern const char kernel_headers_data_end[];
int main(void)
{
	size_t n = (size_t)(kernel_headers_data_end - kernel_headers_data);
	fprintf(stderr, "%zu\n", n);
	return fwrite(kernel_headers_data, 1, n, stdout) == n ? 0 : 1;
}
C
cc -O2 -D_FORTIFY_SOURCE=2 -o prog main.c stub.o
./prog > out.bin 2> out.size
fail=0
[ "$(cat out.size)" = "$size" ] || { echo "FAIL end - start = $(cat out.size), archive is $size"; fail=1; }
cmp out.bin data/kheaders_data.tar.xz || { echo "FAIL embedded bytes differ"; fail=1; }

# The ELF symbol is an object of the archive's size.
readelf -sW stub.o | awk '$8 == "kernel_headers_data" { print $3, $4, $5 }' > sym
[ "$(cat sym)" = "$size OBJECT GLOBAL" ] || { echo "FAIL symbol: $(cat sym)"; fail=1; }
# Markers immediately before and after the data in .rodata.
objcopy -O binary -j .rodata stub.o rodata.bin
[ "$(head -c 7 rodata.bin)" = IKHD_ST ] || { echo "FAIL no IKHD_ST before the data"; fail=1; }
[ "$(tail -c 7 rodata.bin)" = IKHD_ED ] || { echo "FAIL no IKHD_ED after the data"; fail=1; }
[ "$(stat -c %s rodata.bin)" = $((size + 14)) ] || { echo "FAIL .rodata holds more than markers and data"; fail=1; }
tail -c +8 rodata.bin | head -c "$size" | cmp - data/kheaders_data.tar.xz || { echo "FAIL .rodata data"; fail=1; }
# No executable stack from our object.
readelf -SW stub.o | grep -q 'note.GNU-stack' || { echo "FAIL no .note.GNU-stack"; fail=1; }
# The same stub pulled into C with asm(".include"), the way the Kbuild
# integration uses it: the compiler's own sections must survive.
cat > inc.c <<'C'
#include <stdio.h>
asm(".include \"kheaders_data.S\"");
extern const char kernel_headers_data[], kernel_headers_data_end[];
static const char after[] = "compiler data after the asm";
int main(void)
{
	size_t n = (size_t)(kernel_headers_data_end - kernel_headers_data);
	fprintf(stderr, "%s\n", after);
	return fwrite(kernel_headers_data, 1, n, stdout) == n ? 0 : 1;
}
C
cc -O2 -o prog2 inc.c
./prog2 > out2.bin 2> out2.txt
cmp out2.bin data/kheaders_data.tar.xz || { echo "FAIL asm(.include) bytes differ"; fail=1; }
[ "$(cat out2.txt)" = "compiler data after the asm" ] || { echo "FAIL compiler data clobbered"; fail=1; }
[ $fail = 0 ] && echo "ok   stub links; $size bytes embedded and read back"
exit $fail
