# tests/lib/images.sh: synthetic kernel images around a payload, for
# the tests of extract/kh_payload (t-payload) and of extract reading
# compressed images (t-extract-images). Source from bash.
#
#   wrap KIND PAYLOAD OUT [ZBOOT-TYPE]   KIND bzimage or zboot
#   size_le32 FILE                       the le32 of FILE's size

# wrap KIND PAYLOAD OUT [ZBOOT-TYPE]: a synthetic bzImage or zboot
# image around PAYLOAD, laid out as tests/unit/test_payload.c does.
wrap() {
	python3 - "$@" <<'EOF'
import struct, sys
kind, src, out = sys.argv[1:4]
pl = open(src, 'rb').read()
if kind == 'bzimage':
    pm, off = 3 * 512, 0x180
    b = bytearray(pm + off) + pl + b'\xcc' * 300
    b[0:2] = b'MZ'; b[0x1f1] = 2; b[0x1fe:0x200] = b'\x55\xaa'
    b[0x202:0x206] = b'HdrS'; b[0x206:0x208] = struct.pack('<H', 0x020f)
    b[0x248:0x250] = struct.pack('<II', off, len(pl))
else:
    # zboot's size excludes the appended le32, gzip's has none.
    size = len(pl) - (0 if sys.argv[4] == 'gzip' else 4)
    b = bytearray(0x400) + pl + b'\x90' * 500
    b[0:8] = b'MZ\0\0zimg'; b[8:16] = struct.pack('<II', 0x400, size)
    t = sys.argv[4].encode(); b[24:24 + len(t)] = t
open(out, 'wb').write(b)
EOF
}

# size_append: the le32 of FILE's size, as the kernel's Makefile.lib.
size_le32() {
	python3 -c 'import os, struct, sys; sys.stdout.buffer.write(struct.pack("<I", os.path.getsize(sys.argv[1])))' "$1"
}

