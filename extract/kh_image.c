/* kh_image: locating the archive in files and images (see kh_image.h). */
#include "extract/kh_image.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract/kh_payload.h"
#include "lib/kh_file.h"
#include "lib/kh_ikhd.h"

/* The xz stream header starts with these six bytes; the footer ends
 * with "YZ" and is, like the header, twelve bytes long. */
static const unsigned char kh_xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
#define KH_XZ_HEADER_SIZE LZMA_STREAM_HEADER_SIZE
/* xz -9 needs 65 MiB to decode; a hostile header may ask for more. */
#define KH_IMAGE_XZ_MEMLIMIT (256ULL << 20)
_Static_assert(LZMA_STREAM_HEADER_SIZE == 12, "xz stream header size");

#define KH_MARKER_LEN (sizeof(KH_IKHD_START) - 1)
_Static_assert(sizeof(KH_IKHD_START) == sizeof(KH_IKHD_END),
	       "markers of one length");

static const char kh_sym_start[] = "kernel_headers_data";
static const char kh_sym_end[] = "kernel_headers_data_end";

/* ELF constants we need (elf.h has them, but spelling them out keeps
 * the layout this file relies on in one place). */
enum {
	KH_EI_CLASS = 4, KH_EI_DATA = 5,
	KH_ELFCLASS32 = 1, KH_ELFCLASS64 = 2,
	KH_ELFDATA2LSB = 1, KH_ELFDATA2MSB = 2,
	KH_ET_REL = 1,
	KH_SHT_SYMTAB = 2, KH_SHT_NOBITS = 8,
	KH_SHN_LORESERVE = 0xff00,
};

struct kh_image {
	unsigned char *buf;        /* malloc'ed contents */
	const unsigned char *data; /* the image: buf */
	size_t len;
	int compressed;
	struct kh_image_blob blob;
	/* Found in a compressed payload (a bzImage's, a zboot image's, a
	 * compressed file's or one found by its magic): what it was. */
	int from_payload;
	enum kh_payload_comp comp;
	enum kh_payload_where where;
};

const char *kh_image_how_name(enum kh_image_how how)
{
	switch (how) {
	case KH_IMAGE_RAW: return "the whole file";
	case KH_IMAGE_ELF_SYMBOLS: return "ELF symbols";
	case KH_IMAGE_MARKERS: return "IKHD markers";
	}
	return "?";
}

static int kh_is_xz(const unsigned char *p, size_t len)
{
	return len >= sizeof(kh_xz_magic) &&
	       !memcmp(p, kh_xz_magic, sizeof(kh_xz_magic));
}

/* ---- ELF: a bounds-checked reader for both classes and byte orders. */

struct kh_elf {
	const unsigned char *buf;
	size_t len;
	int is64, msb, rel;
	uint64_t shoff, shnum, shentsize;
};

static uint64_t kh_elf_get(const struct kh_elf *e, uint64_t off, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++) {
		int shift = e->msb ? 8 * (n - 1 - i) : 8 * i;

		v |= (uint64_t)e->buf[off + (uint64_t)i] << shift;
	}
	return v;
}

/* Is [off, off + n) inside the file? */
static int kh_elf_in(const struct kh_elf *e, uint64_t off, uint64_t n)
{
	return off <= e->len && n <= e->len - off;
}

struct kh_shdr {
	uint64_t type, addr, offset, size, link, entsize;
};

static int kh_elf_shdr(const struct kh_elf *e, uint64_t i, struct kh_shdr *s)
{
	uint64_t o = e->shoff + i * e->shentsize;

	if (i >= e->shnum || !kh_elf_in(e, o, e->is64 ? 64 : 40))
		return -1;
	s->type = kh_elf_get(e, o + 4, 4);
	if (e->is64) {
		s->addr = kh_elf_get(e, o + 16, 8);
		s->offset = kh_elf_get(e, o + 24, 8);
		s->size = kh_elf_get(e, o + 32, 8);
		s->link = kh_elf_get(e, o + 40, 4);
		s->entsize = kh_elf_get(e, o + 56, 8);
	} else {
		s->addr = kh_elf_get(e, o + 12, 4);
		s->offset = kh_elf_get(e, o + 16, 4);
		s->size = kh_elf_get(e, o + 20, 4);
		s->link = kh_elf_get(e, o + 24, 4);
		s->entsize = kh_elf_get(e, o + 36, 4);
	}
	return 0;
}

struct kh_sym {
	int found;
	uint64_t value, size, shndx;
};

/* Look both symbols up in one SHT_SYMTAB section. */
static void kh_elf_scan_symtab(const struct kh_elf *e,
			       const struct kh_shdr *symtab,
			       struct kh_sym *start, struct kh_sym *end)
{
	uint64_t ent = e->is64 ? 24 : 16, n;
	struct kh_shdr str;

	if (symtab->entsize != ent || kh_elf_shdr(e, symtab->link, &str) < 0 ||
	    !kh_elf_in(e, symtab->offset, symtab->size) ||
	    !kh_elf_in(e, str.offset, str.size))
		return;
	n = symtab->size / ent;
	for (uint64_t i = 1; i < n; i++) {
		uint64_t o = symtab->offset + i * ent;
		uint64_t name = kh_elf_get(e, o, 4);
		struct kh_sym s = { .found = 1 };
		const char *nm;
		size_t room;

		if (name >= str.size)
			continue;
		nm = (const char *)e->buf + str.offset + name;
		room = (size_t)(str.size - name);
		if (e->is64) {
			s.shndx = kh_elf_get(e, o + 6, 2);
			s.value = kh_elf_get(e, o + 8, 8);
			s.size = kh_elf_get(e, o + 16, 8);
		} else {
			s.value = kh_elf_get(e, o + 4, 4);
			s.size = kh_elf_get(e, o + 8, 4);
			s.shndx = kh_elf_get(e, o + 14, 2);
		}
		if (s.shndx == 0)           /* undefined: a reference */
			continue;
		if (room > sizeof(kh_sym_end) - 1 &&
		    !memcmp(nm, kh_sym_end, sizeof(kh_sym_end)))
			*end = s;
		else if (room > sizeof(kh_sym_start) - 1 &&
			 !memcmp(nm, kh_sym_start, sizeof(kh_sym_start)))
			*start = s;
	}
}

/* The file offset of a symbol's value. */
static int kh_elf_sym_offset(const struct kh_elf *e, const struct kh_sym *s,
			     uint64_t *off)
{
	struct kh_shdr sec;
	uint64_t rel;

	if (s->shndx >= KH_SHN_LORESERVE || kh_elf_shdr(e, s->shndx, &sec) < 0 ||
	    sec.type == KH_SHT_NOBITS)
		return -1;
	/* Relocatable objects (.ko) hold section-relative values. */
	if (e->rel)
		rel = s->value;
	else if (s->value >= sec.addr)
		rel = s->value - sec.addr;
	else
		return -1;
	if (rel > sec.size || !kh_elf_in(e, sec.offset, sec.size))
		return -1;
	*off = sec.offset + rel;
	return 0;
}

/* 1 found, 0 not an ELF with the symbols, <0 an error already set. */
static int kh_elf_locate(const unsigned char *buf, size_t len,
			 const char *name, struct kh_image_blob *out,
			 struct kh_error *err)
{
	struct kh_elf e = { .buf = buf, .len = len };
	struct kh_sym start = { .found = 0 }, end = { .found = 0 };
	uint64_t soff, eoff, size;

	if (len < 64 || memcmp(buf, "\177ELF", 4))
		return 0;
	if ((buf[KH_EI_CLASS] != KH_ELFCLASS32 &&
	     buf[KH_EI_CLASS] != KH_ELFCLASS64) ||
	    (buf[KH_EI_DATA] != KH_ELFDATA2LSB &&
	     buf[KH_EI_DATA] != KH_ELFDATA2MSB))
		return 0;
	e.is64 = buf[KH_EI_CLASS] == KH_ELFCLASS64;
	e.msb = buf[KH_EI_DATA] == KH_ELFDATA2MSB;
	e.rel = kh_elf_get(&e, 16, 2) == KH_ET_REL;
	e.shoff = kh_elf_get(&e, e.is64 ? 40 : 32, e.is64 ? 8 : 4);
	e.shentsize = kh_elf_get(&e, e.is64 ? 58 : 46, 2);
	e.shnum = kh_elf_get(&e, e.is64 ? 60 : 48, 2);
	if (e.shentsize < (e.is64 ? 64u : 40u) || e.shoff == 0)
		return 0;
	if (e.shnum == 0) {
		/* More than 0xff00 sections: the count is in section 0. */
		struct kh_shdr s0;

		e.shnum = 1;
		if (kh_elf_shdr(&e, 0, &s0) < 0)
			return 0;
		e.shnum = s0.size;
	}
	if (e.shnum > (len - (e.shoff < len ? e.shoff : len)) / e.shentsize)
		return 0;
	for (uint64_t i = 0; i < e.shnum; i++) {
		struct kh_shdr s;

		if (kh_elf_shdr(&e, i, &s) == 0 && s.type == KH_SHT_SYMTAB)
			kh_elf_scan_symtab(&e, &s, &start, &end);
	}
	if (!start.found)
		return 0;
	if (kh_elf_sym_offset(&e, &start, &soff) < 0)
		return kh_error_set(err, KH_EINVAL, name, "symbol %s points "
				    "outside its section", kh_sym_start);
	/* Our stub sizes the symbol; upstream's asm() leaves it 0, then
	 * only the end symbol tells. */
	if (end.found) {
		if (kh_elf_sym_offset(&e, &end, &eoff) < 0 || eoff < soff ||
		    end.shndx != start.shndx)
			return kh_error_set(err, KH_EINVAL, name, "symbols %s "
					    "and %s do not delimit data",
					    kh_sym_start, kh_sym_end);
		size = eoff - soff;
		if (start.size && start.size != size)
			return kh_error_set(err, KH_EINVAL, name, "symbol %s "
					    "has size %llu, but %s is %llu "
					    "bytes after it", kh_sym_start,
					    (unsigned long long)start.size,
					    kh_sym_end,
					    (unsigned long long)size);
	} else if (start.size) {
		size = start.size;
	} else {
		return kh_error_set(err, KH_EINVAL, name, "symbol %s has no "
				    "size and %s is missing", kh_sym_start,
				    kh_sym_end);
	}
	if (!kh_elf_in(&e, soff, size))
		return kh_error_set(err, KH_EINVAL, name, "symbol %s: %llu "
				    "bytes at offset %llu run past the end of "
				    "the file", kh_sym_start,
				    (unsigned long long)size,
				    (unsigned long long)soff);
	if (!kh_is_xz(buf + soff, size))
		return kh_error_set(err, KH_EINVAL, name, "symbol %s does not "
				    "point at an xz stream", kh_sym_start);
	out->offset = (size_t)soff;
	out->size = (size_t)size;
	out->how = KH_IMAGE_ELF_SYMBOLS;
	return 1;
}

/* ---- Markers. */

/* Does an xz stream footer end at buf + end, agreeing with the header
 * at buf + start? */
static int kh_xz_ends_at(const unsigned char *buf, size_t start, size_t end)
{
	lzma_stream_flags hdr, ftr;

	if (end - start < 2 * KH_XZ_HEADER_SIZE ||
	    (end - start) % 4 != 0)
		return 0;
	if (lzma_stream_header_decode(&hdr, buf + start) != LZMA_OK ||
	    lzma_stream_footer_decode(&ftr, buf + end - KH_XZ_HEADER_SIZE) !=
		    LZMA_OK ||
	    lzma_stream_flags_compare(&hdr, &ftr) != LZMA_OK)
		return 0;
	/* The index must fit between the header and the footer. */
	return ftr.backward_size <= end - start - 2 * KH_XZ_HEADER_SIZE;
}

/* Each candidate start scans the rest of the image for end markers:
 * bound their number so a crafted image cannot make that quadratic. */
#define KH_MARKERS_MAX_CANDIDATES 16

static int kh_markers_locate(const unsigned char *buf, size_t len,
			     struct kh_image_blob *out)
{
	const unsigned char *p = buf, *lim = buf + len;
	int candidates = 0;

	while ((p = memmem(p, (size_t)(lim - p), KH_IKHD_START,
			   KH_MARKER_LEN))) {
		size_t start = (size_t)(p - buf) + KH_MARKER_LEN;
		const unsigned char *q = buf + start;

		p += KH_MARKER_LEN;
		if (!kh_is_xz(buf + start, len - start))
			continue;
		if (++candidates > KH_MARKERS_MAX_CANDIDATES)
			return 0;
		while ((q = memmem(q, (size_t)(lim - q), KH_IKHD_END,
				   KH_MARKER_LEN))) {
			size_t end = (size_t)(q - buf);

			if (kh_xz_ends_at(buf, start, end)) {
				out->offset = start;
				out->size = end - start;
				out->how = KH_IMAGE_MARKERS;
				return 1;
			}
			q++;
		}
	}
	return 0;
}

/* Decode the first n bytes of the xz data in buf into head; 1 when
 * that many came out. */
static int kh_image_xz_head(const unsigned char *buf, size_t len,
			    unsigned char *head, size_t n)
{
	lzma_stream s = LZMA_STREAM_INIT;
	int ok;

	if (lzma_stream_decoder(&s, KH_IMAGE_XZ_MEMLIMIT, 0) != LZMA_OK)
		return 0;
	s.next_in = buf;
	s.avail_in = len;
	s.next_out = head;
	s.avail_out = n;
	while (s.avail_out > 0) {
		lzma_ret r = lzma_code(&s, LZMA_FINISH);

		if (r != LZMA_OK)
			break;
	}
	ok = s.avail_out == 0;
	lzma_end(&s);
	return ok;
}

static int kh_image_xz_is_elf(const unsigned char *buf, size_t len)
{
	unsigned char head[4];

	return kh_image_xz_head(buf, len, head, sizeof(head)) &&
	       !memcmp(head, "\177ELF", 4);
}

/* xz data that decodes to something other than a tar (an Image.xz, a
 * vmlinux.xz): its payload is to be searched, it is not the archive.
 * Data that does not decode this far is taken for the archive, and
 * reading it says what is wrong with it. */
static int kh_image_xz_not_tar(const unsigned char *buf, size_t len)
{
	unsigned char head[512];

	return kh_image_xz_head(buf, len, head, sizeof(head)) &&
	       memcmp(head + 257, "ustar", 5);
}

/* 1 and *out when buf is, or holds, the archive; 0 when it does not;
 * <0 when it is broken (an ELF whose symbols lie, say). */
static int kh_image_find(const unsigned char *buf, size_t len,
			 const char *name, struct kh_image_blob *out,
			 struct kh_error *err)
{
	int ret;

	if (kh_is_xz(buf, len) && !kh_image_xz_not_tar(buf, len)) {
		out->offset = 0;
		out->size = len;
		out->how = KH_IMAGE_RAW;
		return 1;
	}
	ret = kh_elf_locate(buf, len, name, out, err);
	if (ret != 0)
		return ret < 0 ? ret : 1;
	return kh_markers_locate(buf, len, out) ? 1 : 0;
}

/* Why an image holds no archive. A kernel (an ELF file or a compressed
 * image) without one was built without CONFIG_IKHEADERS=y. */
static int kh_image_none(const char *name, int kernel, struct kh_error *err)
{
	if (kernel)
		return kh_error_set(err, KH_EINVAL, NULL, "no headers archive "
				    "in %s: CONFIG_IKHEADERS was off, or it is "
				    "a module (kheaders.ko)", name);
	return kh_error_set(err, KH_EINVAL, name, "no headers archive: not "
			    "an .xz file, no %s symbol, no %s...%s markers "
			    "around an xz stream, no compressed payload "
			    "holding one", kh_sym_start,
			    KH_IKHD_START, KH_IKHD_END);
}

int kh_image_locate(const unsigned char *buf, size_t len, const char *name,
		    struct kh_image_blob *out, struct kh_error *err)
{
	int ret = kh_image_find(buf, len, name, out, err);

	if (ret != 0)
		return ret < 0 ? ret : 0;
	return kh_image_none(name, len >= 4 && !memcmp(buf, "\177ELF", 4),
			     err);
}

/* The archive was not in the file as it is: look in the payloads the
 * file's format declares (a bzImage's, a zboot image's, the file
 * itself compressed), else in the streams found by their magic, as
 * the kernel's scripts/extract-ikconfig does. The first payload that
 * holds the archive becomes the image: 1. None: 0, and *kernel says
 * whether the file looked like a kernel (it had payloads, or is ELF). */
static int kh_image_from_payloads(struct kh_image *img, const char *name,
				  int *kernel, struct kh_error *err)
{
	struct kh_payload p = KH_PAYLOAD_INIT;
	enum kh_payload_where kind = kh_payload_kind(img->data, img->len);
	struct kh_payload_iter *it;
	struct kh_error miss = KH_ERROR_INIT;
	int r, seen = 0;

	r = kh_payload_iter_new(img->data, img->len, name, NULL, &it, err);
	if (r < 0)
		return r;
	while ((r = kh_payload_next(it, &p, err)) == 1) {
		seen = 1;
		if (kh_image_find(p.data, p.len, name, &img->blob, &miss) == 1)
			break;
		kh_payload_release(&p);
	}
	kh_payload_iter_free(it);
	if (r < 0)
		return r;
	*kernel = seen || kind != KH_PAYLOAD_SCAN ||
		  (img->len >= 4 && !memcmp(img->data, "\177ELF", 4));
	if (r == 0)
		return 0;
	free(img->buf);
	img->buf = p.data;
	img->data = p.data;
	img->len = p.len;
	img->compressed = 1;
	img->from_payload = 1;
	img->comp = p.comp;
	img->where = p.where;
	return 1;
}

/* ---- Reading files. */

/* Read the whole source, once, into memory of our own. Not mapped: a
 * writer of the file could change what was checked before it is
 * extracted, and truncating it would kill us with SIGBUS. A device is
 * refused (/dev/zero has no end, a terminal holds no archive); pipes,
 * FIFOs, sysfs and procfs files are read like regular files. */
static int kh_image_read(const char *path, struct kh_image *img,
			 struct kh_error *err)
{
	int stdin_ = !strcmp(path, "-");
	const char *name = stdin_ ? "standard input" : path;
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd = 0, ret;

	if (!stdin_) {
		ret = kh_file_open(AT_FDCWD, path, name, 0, &fd, &st, err);
		if (ret < 0)
			return ret;
	} else if (fstat(fd, &st) < 0) {
		return kh_error_sys(err, errno, name, "cannot stat");
	}
	if (S_ISDIR(st.st_mode))
		ret = kh_error_set(err, KH_EINVAL, name, "is a directory");
	else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		ret = kh_error_set(err, KH_EINVAL, name, "is a device, not a "
				   "file; refusing to read it");
	else if (S_ISREG(st.st_mode))
		ret = kh_file_read_fd(fd, name, KH_FILE_MAX_IMAGE,
				      "a source", &buf, &len, err);
	else   /* a pipe: no size to trust, the archive's limit */
		ret = kh_file_read_fd(fd, name, KH_FILE_MAX_ARCHIVE,
				      "a source read from a pipe", &buf, &len,
				      err);
	if (!stdin_)
		close(fd);
	if (ret < 0)
		return ret;
	img->buf = (unsigned char *)buf;
	img->data = img->buf;
	img->len = len;
	if (len == 0)
		return kh_error_set(err, KH_EINVAL, name, "is empty");
	return 0;
}

/* Does the xz stream decompress to an ELF file? Decodes a few bytes. */
/* The size the xz streams in buf declare in their indexes, read
 * without decoding any block (liblzma's file info decoder). */
static int kh_image_xz_declared(const unsigned char *buf, size_t len,
				const char *name, uint64_t *size,
				struct kh_error *err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_index *idx = NULL;
	lzma_ret r;

	if (lzma_file_info_decoder(&s, &idx, KH_IMAGE_XZ_MEMLIMIT, len) !=
	    LZMA_OK)
		return kh_error_set(err, KH_ELIB, name, "cannot start the xz "
				    "decoder");
	s.next_in = buf;
	s.avail_in = len;
	/* The whole file is given: no seek is ever asked for. */
	do
		r = lzma_code(&s, LZMA_RUN);
	while (r == LZMA_OK && s.avail_in > 0);
	lzma_end(&s);
	if (r != LZMA_STREAM_END) {
		if (idx)
			lzma_index_end(idx, NULL);
		if (r == LZMA_MEMLIMIT_ERROR)
			return kh_error_set(err, KH_EINVAL, name, "the xz index "
					    "needs more than %llu MiB to read",
					    KH_IMAGE_XZ_MEMLIMIT >> 20);
		if (r == LZMA_MEM_ERROR)
			return kh_error_set(err, KH_ENOMEM, name,
					    "out of memory");
		return kh_error_set(err, KH_EINVAL, name, "corrupt xz data "
				    "(liblzma error %d)", (int)r);
	}
	*size = lzma_index_uncompressed_size(idx);
	lzma_index_end(idx, NULL);
	return 0;
}

/* Replace the image by its decompressed bytes (kheaders.ko.xz). The
 * size its index declares is checked against the limit before any
 * memory is spent, and the output buffer is exactly that size: a
 * stream that decodes to more is corrupt (liblzma checks the index
 * against the blocks, too). */
static int kh_image_unxz(struct kh_image *img, const char *name,
			 struct kh_error *err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	unsigned char *buf = NULL;
	uint64_t declared = 0;
	char lim[32];
	lzma_ret r;
	int ret;

	ret = kh_image_xz_declared(img->data, img->len, name, &declared, err);
	if (ret < 0)
		return ret;
	if (declared > KH_FILE_MAX_MODULE)
		return kh_error_set(err, KH_EINVAL, name, "decompresses to "
				    "%llu bytes, over the %s limit for an "
				    "xz-compressed module; refusing to "
				    "decompress it", (unsigned long long)declared,
				    kh_file_size_str(KH_FILE_MAX_MODULE, lim,
						     sizeof(lim)));
	buf = malloc(declared ? (size_t)declared : 1);
	if (!buf)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	if (lzma_stream_decoder(&s, KH_IMAGE_XZ_MEMLIMIT,
				LZMA_CONCATENATED) != LZMA_OK) {
		free(buf);
		return kh_error_set(err, KH_ELIB, name, "cannot start the xz "
				    "decoder");
	}
	s.next_in = img->data;
	s.avail_in = img->len;
	s.next_out = buf;
	s.avail_out = (size_t)declared;
	/* With the output full, liblzma still reads the rest (index,
	 * footer) and ends, or says LZMA_BUF_ERROR: more data is coming
	 * than declared. */
	do
		r = lzma_code(&s, LZMA_FINISH);
	while (r == LZMA_OK);
	lzma_end(&s);
	if (r != LZMA_STREAM_END || s.total_out != declared) {
		free(buf);
		if (r == LZMA_MEM_ERROR)
			return kh_error_set(err, KH_ENOMEM, name,
					    "out of memory");
		if (r == LZMA_MEMLIMIT_ERROR)
			return kh_error_set(err, KH_EINVAL, name, "xz data "
					    "needs more than %llu MiB to "
					    "decompress", KH_IMAGE_XZ_MEMLIMIT >> 20);
		if (r == LZMA_BUF_ERROR || r == LZMA_STREAM_END)
			return kh_error_set(err, KH_EINVAL, name, "corrupt xz "
					    "data (more than its index "
					    "declares)");
		return kh_error_set(err, KH_EINVAL, name, "corrupt xz data "
				    "(liblzma error %d)", (int)r);
	}
	free(img->buf);
	img->buf = buf;
	img->data = buf;
	img->len = (size_t)declared;
	img->compressed = 1;
	return 0;
}

int kh_image_load(const char *path, unsigned char **buf, size_t *len,
		  struct kh_error *err)
{
	struct kh_image img = { 0 };
	int ret = kh_image_read(path, &img, err);

	if (ret < 0) {
		free(img.buf);
		img.buf = NULL;
	}
	*buf = img.buf;
	*len = img.len;
	return ret;
}

int kh_image_open(const char *path, struct kh_image **out,
		  struct kh_error *err)
{
	unsigned char *buf;
	size_t len;
	int ret = kh_image_load(path, &buf, &len, err);

	*out = NULL;
	if (ret < 0)
		return ret;
	return kh_image_take(buf, len, strcmp(path, "-") ? path
				: "standard input", 0, out, err);
}

int kh_image_take(unsigned char *buf, size_t len, const char *name,
		  unsigned flags, struct kh_image **out, struct kh_error *err)
{
	struct kh_image *img = calloc(1, sizeof(*img));
	int ret = 0, kernel = 0;

	*out = NULL;
	if (!img) {
		free(buf);
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	}
	img->buf = buf;
	img->data = buf;
	img->len = len;
	if (ret == 0 && kh_is_xz(img->data, img->len) &&
	    kh_image_xz_is_elf(img->data, img->len))
		ret = kh_image_unxz(img, name, err);
	if (ret == 0)
		ret = kh_image_find(img->data, img->len, name, &img->blob,
				    err);
	if (ret == 0)
		ret = kh_image_from_payloads(img, name, &kernel, err);
	/* Nothing holds an archive. xz data (that is no tar) or, when
	 * asked, any file is taken whole: the archive reader says what is
	 * wrong with it. Otherwise say why there is none. */
	if (ret == 0 && (kh_is_xz(img->data, img->len) ||
			 (flags & KH_IMAGE_WHOLE_FALLBACK))) {
		img->blob.offset = 0;
		img->blob.size = img->len;
		img->blob.how = KH_IMAGE_RAW;
		ret = 1;
	}
	if (ret == 0)
		ret = kh_image_none(name, kernel, err);
	if (ret < 0) {
		kh_image_free(img);
		return ret;
	}
	*out = img;
	return 0;
}

const unsigned char *kh_image_data(const struct kh_image *img)
{
	return img->data + img->blob.offset;
}

size_t kh_image_size(const struct kh_image *img)
{
	return img->blob.size;
}

const struct kh_image_blob *kh_image_blob(const struct kh_image *img)
{
	return &img->blob;
}

int kh_image_was_compressed(const struct kh_image *img)
{
	return img->compressed;
}

int kh_image_payload(const struct kh_image *img, const char **comp,
		     const char **where)
{
	if (!img->from_payload)
		return 0;
	*comp = kh_payload_comp_name(img->comp);
	*where = kh_payload_where_name(img->where);
	return 1;
}

void kh_image_free(struct kh_image *img)
{
	if (!img)
		return;
	free(img->buf);
	free(img);
}
