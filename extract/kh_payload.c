/* kh_payload: where the compressed payloads of kernel images are (see
 * kh_payload.h): the bzImage and EFI zboot headers, a file compressed
 * as a whole, the magic scan and its bounds. Decoding a stream, once
 * found, is kh_decomp's. */
#include "extract/kh_payload.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract/kh_decomp.h"
#include "lib/kh_file.h"

/* ---- Layouts. */

/* x86 boot protocol (Documentation/arch/x86/boot.rst): offsets in the
 * real-mode header, which starts the file. */
enum {
	KH_BZ_SETUP_SECTS = 0x1f1,   /* u8; 0 means 4 */
	KH_BZ_HEADER = 0x202,        /* "HdrS" */
	KH_BZ_VERSION = 0x206,       /* u16, 0x0208 = 2.08 */
	KH_BZ_PAYLOAD_OFFSET = 0x248, /* u32, from the protected-mode code */
	KH_BZ_PAYLOAD_LENGTH = 0x24c, /* u32 */
	KH_BZ_HEADER_END = 0x250,
	KH_BZ_SECTOR = 512,
	KH_BZ_PAYLOAD_PROTOCOL = 0x0208, /* payload fields from 2.08 on */
};

/* EFI zboot (drivers/firmware/efi/libstub/zboot-header.S). */
enum {
	KH_ZB_MAGIC = 4,        /* "zimg" after "MZ\0\0" */
	KH_ZB_OFFSET = 8,       /* u32 payload offset */
	KH_ZB_SIZE = 12,        /* u32 payload size */
	KH_ZB_TYPE = 24,        /* NUL-terminated compression name */
	KH_ZB_TYPE_END = 0x38,  /* the PE magic/offset follow */
};

static const unsigned char kh_m_gzip[] = { 0x1f, 0x8b, 0x08 };
static const unsigned char kh_m_xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const unsigned char kh_m_bzip2[] = { 'B', 'Z', 'h' };
static const unsigned char kh_m_lzma[] = { 0x5d, 0x00, 0x00 };
static const unsigned char kh_m_lzo[] = { 0x89, 'L', 'Z' };
static const unsigned char kh_m_lz4[] = { 0x02, 0x21, 0x4c, 0x18 };
static const unsigned char kh_m_zstd[] = { 0x28, 0xb5, 0x2f, 0xfd };

/* The scan's magics, in extract-ikconfig's order. */
static const struct kh_pl_magic {
	enum kh_payload_comp comp;
	const unsigned char *magic;
	size_t len;
} kh_pl_magics[KH_PAYLOAD_NCOMP] = {
	{ KH_PAYLOAD_GZIP, kh_m_gzip, sizeof(kh_m_gzip) },
	{ KH_PAYLOAD_XZ, kh_m_xz, sizeof(kh_m_xz) },
	{ KH_PAYLOAD_BZIP2, kh_m_bzip2, sizeof(kh_m_bzip2) },
	{ KH_PAYLOAD_LZMA, kh_m_lzma, sizeof(kh_m_lzma) },
	{ KH_PAYLOAD_LZO, kh_m_lzo, sizeof(kh_m_lzo) },
	{ KH_PAYLOAD_LZ4, kh_m_lz4, sizeof(kh_m_lz4) },
	{ KH_PAYLOAD_ZSTD, kh_m_zstd, sizeof(kh_m_zstd) },
};

/* zboot's compression names: today's "gzip" and "zstd", and the
 * Makefile targets 6.1-era kernels wrote there. */
static const struct {
	const char *name;
	enum kh_payload_comp comp;
} kh_zb_types[] = {
	{ "gzip", KH_PAYLOAD_GZIP }, { "bzip2", KH_PAYLOAD_BZIP2 },
	{ "lzma", KH_PAYLOAD_LZMA }, { "xz", KH_PAYLOAD_XZ },
	{ "xzkern", KH_PAYLOAD_XZ }, { "lzo", KH_PAYLOAD_LZO },
	{ "lz4", KH_PAYLOAD_LZ4 }, { "zstd", KH_PAYLOAD_ZSTD },
	{ "zstd22", KH_PAYLOAD_ZSTD },
};

static uint32_t kh_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

const char *kh_payload_comp_name(enum kh_payload_comp comp)
{
	switch (comp) {
	case KH_PAYLOAD_GZIP: return "gzip";
	case KH_PAYLOAD_BZIP2: return "bzip2";
	case KH_PAYLOAD_LZMA: return "lzma";
	case KH_PAYLOAD_XZ: return "xz";
	case KH_PAYLOAD_LZO: return "lzo";
	case KH_PAYLOAD_LZ4: return "lz4";
	case KH_PAYLOAD_ZSTD: return "zstd";
	}
	return "?";
}

const char *kh_payload_where_name(enum kh_payload_where where)
{
	switch (where) {
	case KH_PAYLOAD_WHOLE: return "whole file";
	case KH_PAYLOAD_BZIMAGE: return "bzImage header";
	case KH_PAYLOAD_ZBOOT: return "EFI zboot header";
	case KH_PAYLOAD_SCAN: return "magic scan";
	}
	return "?";
}

void kh_payload_release(struct kh_payload *p)
{
	struct kh_payload z = KH_PAYLOAD_INIT;

	free(p->data);
	*p = z;
}

/* ---- Magics. */

/* Does a payload of comp start at p? The magic only. */
static int kh_pl_has_magic(enum kh_payload_comp comp, const unsigned char *p,
			   size_t n)
{
	for (int i = 0; i < KH_PAYLOAD_NCOMP; i++) {
		const struct kh_pl_magic *m = &kh_pl_magics[i];

		if (m->comp == comp)
			return n >= m->len && !memcmp(p, m->magic, m->len);
	}
	return 0;
}

/* The compression whose magic starts p, or -1; with plausible, only
 * one whose header is plausible too. */
static int kh_pl_which(const unsigned char *p, size_t n, int plausible)
{
	for (int i = 0; i < KH_PAYLOAD_NCOMP; i++) {
		enum kh_payload_comp c = kh_pl_magics[i].comp;

		if (kh_pl_has_magic(c, p, n) &&
		    (!plausible || kh_decomp_plausible(c, p, n)))
			return (int)c;
	}
	return -1;
}

/* ---- Decoding one payload. */

/* Decompress [off, off + len) of buf as comp into *p; *hard says
 * whether a failure is one a scan must not pass over. */
static int kh_pl_decode(const unsigned char *buf, size_t off, size_t len,
			enum kh_payload_comp comp, enum kh_payload_where where,
			const char *name, size_t max, int open_end,
			struct kh_payload *p, int *hard, size_t *spent,
			struct kh_error *err)
{
	struct kh_decomp_job j;
	static const char *const prefix[] = {
		[KH_PAYLOAD_WHOLE] = "", [KH_PAYLOAD_BZIMAGE] = "bzImage ",
		[KH_PAYLOAD_ZBOOT] = "zboot ", [KH_PAYLOAD_SCAN] = "",
	};
	int ret;

	memset(&j, 0, sizeof(j));
	j.name = name;
	j.in = buf + off;
	j.len = len;
	j.open_end = open_end;
	j.max = max < SIZE_MAX - 1 ? max : SIZE_MAX - 2;
	j.err = err;
	snprintf(j.what, sizeof(j.what), "%s%s %s at offset %zu",
		 prefix[where], kh_payload_comp_name(comp),
		 where == KH_PAYLOAD_SCAN || where == KH_PAYLOAD_WHOLE
			 ? "data" : "payload", off);
	ret = kh_decomp_run(&j, comp);
	if (hard)
		*hard = j.hard;
	if (spent)
		*spent = j.used + j.olen;
	if (ret < 0) {
		free(j.out);
		return ret;
	}
	kh_payload_release(p);
	p->data = j.out;
	p->len = j.olen;
	p->comp = comp;
	p->where = where;
	p->offset = off;
	p->in_len = open_end ? j.used : len;
	return 0;
}

int kh_payload_decompress(enum kh_payload_comp comp, const unsigned char *buf,
			  size_t len, const char *name, size_t max_out,
			  struct kh_payload *p, struct kh_error *err)
{
	if ((unsigned)comp >= KH_PAYLOAD_NCOMP)
		return kh_error_set(err, KH_EINVAL, name, "unknown "
				    "compression %d", (int)comp);
	if (!kh_pl_has_magic(comp, buf, len))
		return kh_error_set(err, KH_EINVAL, name, "not %s data: it "
				    "does not start with %s's magic",
				    kh_payload_comp_name(comp),
				    kh_payload_comp_name(comp));
	return kh_pl_decode(buf, 0, len, comp, KH_PAYLOAD_WHOLE, name, max_out,
			    0, p, NULL, NULL, err);
}

/* ---- Containers. */

static int kh_pl_is_zboot(const unsigned char *buf, size_t len)
{
	return len >= 8 && buf[0] == 'M' && buf[1] == 'Z' &&
	       !memcmp(buf + KH_ZB_MAGIC, "zimg", 4);
}

static int kh_pl_is_bzimage(const unsigned char *buf, size_t len)
{
	return len >= KH_BZ_HEADER + 4 && !memcmp(buf + KH_BZ_HEADER, "HdrS", 4);
}

enum kh_payload_where kh_payload_kind(const unsigned char *buf, size_t len)
{
	if (kh_pl_is_zboot(buf, len))
		return KH_PAYLOAD_ZBOOT;
	if (kh_pl_is_bzimage(buf, len))
		return KH_PAYLOAD_BZIMAGE;
	/* Plausible too: a text file that starts "BZh" is no bzip2 file. */
	if (kh_pl_which(buf, len, 1) >= 0)
		return KH_PAYLOAD_WHOLE;
	return KH_PAYLOAD_SCAN;
}

struct kh_pl_range {
	size_t start, end;
};

struct kh_payload_iter {
	const unsigned char *buf;
	size_t len;
	char *name;
	struct kh_payload_limits lim;
	enum { KH_PL_START, KH_PL_SCANNING, KH_PL_DONE } state;
	int fam;                        /* kh_pl_magics index being scanned */
	size_t pos;                     /* where that magic's search goes on */
	unsigned tried;
	size_t spent;                   /* bytes in + out over the scan */
	struct kh_pl_range *found;      /* what earlier finds decompressed */
	size_t nfound;
};

/* The bytes of a hostile name, printable. */
static void kh_pl_printable(const unsigned char *s, size_t n, char *out,
			    size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && s[i] && o + 5 < size; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' && s[i] != '\\')
			out[o++] = (char)s[i];
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", s[i]);
	}
	out[o] = '\0';
}

static int kh_pl_bzimage(struct kh_payload_iter *it, struct kh_payload *p,
			 struct kh_error *err)
{
	const unsigned char *b = it->buf;
	unsigned version, sects;
	uint64_t pm, start, plen;
	int comp;

	if (it->len < KH_BZ_HEADER_END)
		return kh_error_set(err, KH_EINVAL, it->name, "bzImage header "
				    "cut short: %zu bytes, the header needs %d",
				    it->len, KH_BZ_HEADER_END);
	version = (unsigned)b[KH_BZ_VERSION] | (unsigned)b[KH_BZ_VERSION + 1] << 8;
	if (version < KH_BZ_PAYLOAD_PROTOCOL)
		return 2;       /* no payload fields: scan */
	sects = b[KH_BZ_SETUP_SECTS] ? b[KH_BZ_SETUP_SECTS] : 4;
	pm = ((uint64_t)sects + 1) * KH_BZ_SECTOR;
	start = pm + kh_le32(b + KH_BZ_PAYLOAD_OFFSET);
	plen = kh_le32(b + KH_BZ_PAYLOAD_LENGTH);
	if (pm > it->len)
		return kh_error_set(err, KH_EINVAL, it->name, "bzImage header "
				    "lies: %u setup sectors run past the end "
				    "of the file (%zu bytes)", sects, it->len);
	if (start >= it->len)
		return kh_error_set(err, KH_EINVAL, it->name, "bzImage header "
				    "lies: payload offset %" PRIu32 " (file "
				    "offset %" PRIu64 ") is past the end of "
				    "the file (%zu bytes)",
				    kh_le32(b + KH_BZ_PAYLOAD_OFFSET), start,
				    it->len);
	if (plen == 0 || plen > it->len - start)
		return kh_error_set(err, KH_EINVAL, it->name, "bzImage header "
				    "lies: a payload of %" PRIu64 " bytes at "
				    "offset %" PRIu64 " does not fit in the "
				    "file (%zu bytes)", plen, start, it->len);
	comp = kh_pl_which(b + start, (size_t)plen, 0);
	if (comp < 0)
		return kh_error_set(err, KH_EINVAL, it->name, "unknown "
				    "compression in bzImage payload at offset "
				    "%" PRIu64 " (it starts with %02x %02x "
				    "%02x %02x)", start, b[start],
				    plen > 1 ? b[start + 1] : 0,
				    plen > 2 ? b[start + 2] : 0,
				    plen > 3 ? b[start + 3] : 0);
	return kh_pl_decode(b, (size_t)start, (size_t)plen,
			    (enum kh_payload_comp)comp, KH_PAYLOAD_BZIMAGE,
			    it->name, it->lim.max_out, 0, p, NULL, NULL, err);
}

static int kh_pl_zboot(struct kh_payload_iter *it, struct kh_payload *p,
		       struct kh_error *err)
{
	const unsigned char *b = it->buf;
	const unsigned char *type = b + KH_ZB_TYPE, *nul;
	uint32_t off, size;
	char shown[4 * (KH_ZB_TYPE_END - KH_ZB_TYPE) + 1];
	int comp = -1;

	if (it->len < KH_ZB_TYPE_END)
		return kh_error_set(err, KH_EINVAL, it->name, "zboot header "
				    "cut short: %zu bytes, the header needs %d",
				    it->len, KH_ZB_TYPE_END);
	nul = memchr(type, 0, KH_ZB_TYPE_END - KH_ZB_TYPE);
	kh_pl_printable(type, nul ? (size_t)(nul - type)
				  : KH_ZB_TYPE_END - KH_ZB_TYPE,
			shown, sizeof(shown));
	if (!nul)
		return kh_error_set(err, KH_EINVAL, it->name, "zboot header: "
				    "compression name '%s' is not terminated",
				    shown);
	for (size_t i = 0; i < sizeof(kh_zb_types) / sizeof(*kh_zb_types); i++)
		if (!strcmp((const char *)type, kh_zb_types[i].name))
			comp = (int)kh_zb_types[i].comp;
	if (comp < 0)
		return kh_error_set(err, KH_EINVAL, it->name, "unknown "
				    "compression '%s' in zboot header", shown);
	off = kh_le32(b + KH_ZB_OFFSET);
	size = kh_le32(b + KH_ZB_SIZE);
	if (off >= it->len || size == 0 || size > it->len - off)
		return kh_error_set(err, KH_EINVAL, it->name, "zboot header "
				    "lies: a payload of %" PRIu32 " bytes at "
				    "offset %" PRIu32 " does not fit in the "
				    "file (%zu bytes)", size, off, it->len);
	if (!kh_pl_has_magic((enum kh_payload_comp)comp, b + off, size))
		return kh_error_set(err, KH_EINVAL, it->name, "zboot header "
				    "says '%s', but the payload at offset %"
				    PRIu32 " does not start with %s's magic",
				    shown, off,
				    kh_payload_comp_name((enum kh_payload_comp)comp));
	return kh_pl_decode(b, off, size, (enum kh_payload_comp)comp,
			    KH_PAYLOAD_ZBOOT, it->name, it->lim.max_out, 0, p,
			    NULL, NULL, err);
}

/* Was off inside a stream an earlier find decompressed? */
static int kh_pl_in_found(const struct kh_payload_iter *it, size_t off)
{
	for (size_t i = 0; i < it->nfound; i++)
		if (off >= it->found[i].start && off < it->found[i].end)
			return 1;
	return 0;
}

/* The next plausible candidate of the current magic, or -1 when the
 * families are done. */
static long long kh_pl_next_candidate(struct kh_payload_iter *it)
{
	while (it->fam < KH_PAYLOAD_NCOMP) {
		const struct kh_pl_magic *m = &kh_pl_magics[it->fam];
		const unsigned char *hit = NULL;

		if (it->pos < it->len)
			hit = memmem(it->buf + it->pos, it->len - it->pos,
				     m->magic, m->len);
		if (!hit) {
			it->fam++;
			it->pos = 0;
			continue;
		}
		it->pos = (size_t)(hit - it->buf) + 1;
		if (kh_decomp_plausible(m->comp, hit, it->len - (it->pos - 1)) &&
		    !kh_pl_in_found(it, it->pos - 1))
			return (long long)(it->pos - 1);
	}
	return -1;
}

static int kh_pl_scan(struct kh_payload_iter *it, struct kh_payload *p,
		      struct kh_error *err)
{
	char lim[32];
	long long c;

	while ((c = kh_pl_next_candidate(it)) >= 0) {
		size_t off = (size_t)c, spent = 0;
		enum kh_payload_comp comp = kh_pl_magics[it->fam].comp;
		struct kh_error skip = KH_ERROR_INIT;
		struct kh_pl_range *nf;
		int hard = 0, ret;

		if (it->tried >= it->lim.max_candidates)
			return kh_error_set(err, KH_EINVAL, it->name, "magic "
					    "scan: more than %u candidate "
					    "payloads (the limit)",
					    it->lim.max_candidates);
		if (it->spent > it->lim.max_scan)
			return kh_error_set(err, KH_EINVAL, it->name, "magic "
					    "scan: more than the %s limit read "
					    "and decompressed",
					    kh_file_size_str(it->lim.max_scan,
							     lim, sizeof(lim)));
		it->tried++;
		ret = kh_pl_decode(it->buf, off, it->len - off, comp,
				   KH_PAYLOAD_SCAN, it->name, it->lim.max_out,
				   1, p, &hard, &spent, &skip);
		it->spent += spent;
		if (ret < 0 && hard) {
			*err = skip;
			return ret;
		}
		if (ret < 0)            /* a false magic: pass over it */
			continue;
		nf = realloc(it->found, (it->nfound + 1) * sizeof(*nf));
		if (!nf) {
			kh_payload_release(p);
			return kh_error_set(err, KH_ENOMEM, it->name,
					    "out of memory");
		}
		it->found = nf;
		it->found[it->nfound].start = off;
		it->found[it->nfound++].end = off + p->in_len;
		return 1;
	}
	return 0;
}

int kh_payload_iter_new(const unsigned char *buf, size_t len,
			const char *name, const struct kh_payload_limits *lim,
			struct kh_payload_iter **out, struct kh_error *err)
{
	struct kh_payload_limits def = KH_PAYLOAD_LIMITS_INIT;
	struct kh_payload_iter *it = calloc(1, sizeof(*it));

	*out = NULL;
	if (!it || !(it->name = strdup(name ? name : "(image)"))) {
		free(it);
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	}
	it->buf = buf;
	it->len = len;
	it->lim = lim ? *lim : def;
	it->state = KH_PL_START;
	*out = it;
	return 0;
}

int kh_payload_next(struct kh_payload_iter *it, struct kh_payload *p,
		    struct kh_error *err)
{
	int ret = 0;

	kh_payload_release(p);
	if (it->state == KH_PL_START) {
		it->state = KH_PL_DONE;
		switch (kh_payload_kind(it->buf, it->len)) {
		case KH_PAYLOAD_BZIMAGE:
			ret = kh_pl_bzimage(it, p, err);
			break;
		case KH_PAYLOAD_ZBOOT:
			ret = kh_pl_zboot(it, p, err);
			break;
		case KH_PAYLOAD_WHOLE:
			ret = kh_pl_decode(it->buf, 0, it->len,
					   (enum kh_payload_comp)kh_pl_which(
						   it->buf, it->len, 1),
					   KH_PAYLOAD_WHOLE, it->name,
					   it->lim.max_out, 0, p, NULL, NULL,
					   err);
			break;
		case KH_PAYLOAD_SCAN:
			ret = 2;
			break;
		}
		if (ret == 0)
			return 1;
		if (ret < 0)
			return ret;
		it->state = KH_PL_SCANNING;
	}
	if (it->state != KH_PL_SCANNING)
		return 0;
	ret = kh_pl_scan(it, p, err);
	if (ret <= 0)
		it->state = KH_PL_DONE;
	return ret;
}

void kh_payload_iter_free(struct kh_payload_iter *it)
{
	if (!it)
		return;
	free(it->found);
	free(it->name);
	free(it);
}
