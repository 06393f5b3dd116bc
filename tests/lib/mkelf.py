#!/usr/bin/env python3
"""tests/lib/mkelf.py: a minimal ELF holding the archive as the stub does.

    mkelf.py CLASS ORDER TYPE SIZED ARCHIVE OUTPUT

CLASS 32 or 64, ORDER le or be, TYPE rel (a .ko-like object: symbol
values relative to the section) or exec (a vmlinux-like image: section
at an address, absolute symbol values), SIZED 1 (kernel_headers_data
has st_size, as our stub sets it) or 0 (upstream's asm() leaves it 0,
only kernel_headers_data_end tells). binutils here cannot write
big-endian objects from x86 ones; this can, for s390 and powerpc style
modules.
"""
import struct
import sys


def main():
    cls, order, typ, sized, archive, output = sys.argv[1:7]
    is64 = cls == '64'
    e = '<' if order == 'le' else '>'
    blob = open(archive, 'rb').read()
    rodata = b'IKHD_ST' + blob + b'IKHD_ED'
    addr = 0xffffffff81000000 if is64 else 0xc1000000
    if typ == 'rel':
        addr = 0
    strtab = b'\0kernel_headers_data\0kernel_headers_data_end\0'
    n_start, n_end = 1, strtab.index(b'kernel_headers_data_end')
    shstr = b'\0.rodata\0.symtab\0.strtab\0.shstrtab\0'

    def sym(name, value, size, shndx):
        if is64:
            return struct.pack(e + 'IBBHQQ', name, 0x11, 0, shndx, value, size)
        return struct.pack(e + 'IIIBBH', name, value, size, 0x11, 0, shndx)

    symsz = 24 if is64 else 16
    symtab = (b'\0' * symsz +
              sym(n_start, addr + 7, len(blob) if sized == '1' else 0, 1) +
              sym(n_end, addr + 7 + len(blob), 0, 1))
    ehsz = 64 if is64 else 52
    shsz = 64 if is64 else 40
    body = b''
    offs = []
    for data in (rodata, symtab, strtab, shstr):
        while (ehsz + len(body)) % 8:
            body += b'\0'
        offs.append(ehsz + len(body))
        body += data
    while (ehsz + len(body)) % 8:
        body += b'\0'
    shoff = ehsz + len(body)

    def shdr(name, stype, flags, a, off, size, link, info, align, entsize):
        if is64:
            return struct.pack(e + 'IIQQQQIIQQ', name, stype, flags, a, off,
                               size, link, info, align, entsize)
        return struct.pack(e + 'IIIIIIIIII', name, stype, flags, a, off,
                           size, link, info, align, entsize)

    shdrs = (shdr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0) +
             shdr(shstr.index(b'.rodata'), 1, 2, addr, offs[0], len(rodata),
                  0, 0, 1, 0) +
             shdr(shstr.index(b'.symtab'), 2, 0, 0, offs[1], len(symtab),
                  3, 1, 8, symsz) +
             shdr(shstr.index(b'.strtab'), 3, 0, 0, offs[2], len(strtab),
                  0, 0, 1, 0) +
             shdr(shstr.index(b'.shstrtab'), 3, 0, 0, offs[3], len(shstr),
                  0, 0, 1, 0))
    ident = b'\x7fELF' + bytes([2 if is64 else 1, 1 if order == 'le' else 2,
                                1, 0]) + b'\0' * 8
    etype = 1 if typ == 'rel' else 2
    machine = 22 if order == 'be' else 62   # s390 or x86-64: any will do
    if is64:
        hdr = ident + struct.pack(e + 'HHIQQQIHHHHHH', etype, machine, 1, 0,
                                  0, shoff, 0, ehsz, 0, 0, shsz, 5, 4)
    else:
        hdr = ident + struct.pack(e + 'HHIIIIIHHHHHH', etype, machine, 1, 0,
                                  0, shoff, 0, ehsz, 0, 0, shsz, 5, 4)
    assert len(hdr) == ehsz
    with open(output, 'wb') as f:
        f.write(hdr + body + shdrs)


if __name__ == '__main__':
    main()
