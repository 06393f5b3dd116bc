/* kh_payload: compressed payloads of kernel images (see kh_payload.h). */
#define ZLIB_CONST
#include "extract/kh_payload.h"

#include <bzlib.h>
#include <inttypes.h>
#include <limits.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo1x.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

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

/* lz4 legacy frames (lz4 -l): a magic, then blocks of at most 8 MiB
 * uncompressed, each behind its little-endian compressed size. */
#define KH_LZ4_LEGACY_MAGIC 0x184c2102u
#define KH_LZ4_LEGACY_BLOCK (8 << 20)

/* lzop's header flags (lzop's conf.h) and its block size limit. */
enum {
	KH_LZOP_ADLER32_D = 0x1, KH_LZOP_ADLER32_C = 0x2,
	KH_LZOP_EXTRA_FIELD = 0x40, KH_LZOP_CRC32_D = 0x100,
	KH_LZOP_CRC32_C = 0x200, KH_LZOP_FILTER = 0x800,
	KH_LZOP_H_CRC32 = 0x1000,
};
#define KH_LZOP_MAX_BLOCK ((size_t)64 << 20)

/* Output grows from this, doubling, to at most max_out + 1. */
#define KH_PL_OUT_FIRST ((size_t)64 << 10)
/* Streaming decoders get at most this much room per call. */
#define KH_PL_STEP ((size_t)1 << 20)
/* zlib and libbz2 count in unsigned int. */
#define KH_PL_UINT_CHUNK ((size_t)1 << 30)

static const unsigned char kh_m_gzip[] = { 0x1f, 0x8b, 0x08 };
static const unsigned char kh_m_xz[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const unsigned char kh_m_bzip2[] = { 'B', 'Z', 'h' };
static const unsigned char kh_m_lzma[] = { 0x5d, 0x00, 0x00 };
static const unsigned char kh_m_lzo[] = { 0x89, 'L', 'Z' };
static const unsigned char kh_m_lz4[] = { 0x02, 0x21, 0x4c, 0x18 };
static const unsigned char kh_m_zstd[] = { 0x28, 0xb5, 0x2f, 0xfd };
static const unsigned char kh_lzop_magic[9] = { 0x89, 'L', 'Z', 'O', 0x00,
						0x0d, 0x0a, 0x1a, 0x0a };

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

/* Is a stream of comp at p plausible beyond its magic? Cheap checks
 * that keep the scan from trying every "BZh" or 5d 00 00 in an image. */
static int kh_pl_plausible(enum kh_payload_comp comp, const unsigned char *p,
			   size_t n)
{
	static const unsigned char bz_block[6] = { 0x31, 0x41, 0x59, 0x26,
						   0x53, 0x59 };
	static const unsigned char bz_end[6] = { 0x17, 0x72, 0x45, 0x38,
						 0x50, 0x90 };
	lzma_stream_flags fl;
	uint32_t d;

	switch (comp) {
	case KH_PAYLOAD_GZIP:   /* reserved flags clear, known XFL */
		return n >= 18 && !(p[3] & 0xe0) &&
		       (p[8] == 0 || p[8] == 2 || p[8] == 4);
	case KH_PAYLOAD_XZ:     /* the stream header's CRC32 */
		return n >= LZMA_STREAM_HEADER_SIZE &&
		       lzma_stream_header_decode(&fl, p) == LZMA_OK;
	case KH_PAYLOAD_BZIP2:  /* level digit, then a block or the end */
		return n >= 10 && p[3] >= '1' && p[3] <= '9' &&
		       (!memcmp(p + 4, bz_block, 6) || !memcmp(p + 4, bz_end, 6));
	case KH_PAYLOAD_LZMA:
		/* The size unknown (-1) or below liblzma's 256 GiB, and
		 * the range coder's first byte, always 0. */
		if (n < 14 || p[13] != 0 ||
		    ((kh_le32(p + 5) != UINT32_MAX ||
		      kh_le32(p + 9) != UINT32_MAX) && kh_le32(p + 9) >= 64))
			return 0;
		/* The dictionary: 2^n or 2^n + 2^(n-1), as lzma writes it. */
		d = kh_le32(p + 1);
		for (int b = 12; b < 32; b++)
			if (d == 1u << b || (b < 31 && d == (3u << (b - 1))))
				return 1;
		return 0;
	case KH_PAYLOAD_LZO:
		return n >= sizeof(kh_lzop_magic) + 30 &&
		       !memcmp(p, kh_lzop_magic, sizeof(kh_lzop_magic));
	case KH_PAYLOAD_LZ4:
		return n >= 8 && kh_le32(p + 4) > 0 &&
		       kh_le32(p + 4) <= (uint32_t)LZ4_compressBound(
						KH_LZ4_LEGACY_BLOCK);
	case KH_PAYLOAD_ZSTD:   /* frame header descriptor: reserved bit */
		return n >= 6 && !(p[4] & 0x08);
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
		    (!plausible || kh_pl_plausible(c, p, n)))
			return (int)c;
	}
	return -1;
}

/* ---- One decompression job: input, growing output, messages. */

struct kh_pl_job {
	const char *name;       /* the file, for messages */
	char what[96];          /* "bzImage xz payload at offset 16384" */
	const unsigned char *in;
	size_t len;             /* input bytes the payload may use */
	size_t used;            /* input bytes the decoder consumed */
	int open_end;           /* scan: the payload's end is not known */
	int hard;               /* a failure a scan must not pass over */
	unsigned char *out;
	size_t olen, ocap;
	size_t max;             /* refuse output past this */
	struct kh_error *err;
};

static int kh_pl_fail(struct kh_pl_job *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kh_pl_fail(struct kh_pl_job *j, int code, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (code == KH_ENOMEM)
		j->hard = 1;
	return kh_error_set(j->err, code, j->name, "%s: %s", j->what, why);
}

static int kh_pl_limit(struct kh_pl_job *j)
{
	char lim[32];

	j->hard = 1;
	return kh_pl_fail(j, KH_EINVAL, "decompresses to more than the %s "
			  "limit; refused",
			  kh_file_size_str(j->max, lim, sizeof(lim)));
}

/* Make room for want more bytes of output (fewer at the limit: the
 * buffer never exceeds max + 1 bytes, the one byte that shows a bomb). */
static int kh_pl_grow(struct kh_pl_job *j, size_t want)
{
	size_t lim = j->max + 1, ncap;
	unsigned char *p;

	if (want > lim - j->olen)
		want = lim - j->olen;
	if (j->ocap - j->olen >= want)
		return 0;
	ncap = j->ocap < KH_PL_OUT_FIRST ? KH_PL_OUT_FIRST : j->ocap;
	while (ncap < lim && ncap - j->olen < want)
		ncap = ncap > lim / 2 ? lim : 2 * ncap;
	if (ncap > lim)
		ncap = lim;
	p = realloc(j->out, ncap);
	if (!p)
		return kh_pl_fail(j, KH_ENOMEM, "out of memory");
	j->out = p;
	j->ocap = ncap;
	return 0;
}

/* Before each streaming step: refuse past the limit, else make room. */
static int kh_pl_room(struct kh_pl_job *j)
{
	if (j->olen > j->max)
		return kh_pl_limit(j);
	return kh_pl_grow(j, KH_PL_STEP);
}

static size_t kh_pl_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* After a step that consumed nothing and produced nothing. */
static int kh_pl_stalled(struct kh_pl_job *j, size_t consumed)
{
	if (consumed >= j->len)
		return kh_pl_fail(j, KH_EINVAL, "truncated: the data ends "
				  "inside the stream");
	return kh_pl_fail(j, KH_ELIB, "the decoder made no progress");
}

/* ---- The decoders. Each sets j->used and leaves the output in j. */

static int kh_pl_gzip(struct kh_pl_job *j)
{
	z_stream z;
	size_t consumed = 0;
	int ret, zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return kh_pl_fail(j, KH_ENOMEM, "cannot start zlib");
	for (;;) {
		size_t in0, out0;

		if ((ret = kh_pl_room(j)) < 0)
			goto out;
		z.next_in = j->in + consumed;
		z.avail_in = (uInt)kh_pl_min(j->len - consumed, KH_PL_UINT_CHUNK);
		z.next_out = j->out + j->olen;
		z.avail_out = (uInt)kh_pl_min(j->ocap - j->olen, KH_PL_UINT_CHUNK);
		in0 = z.avail_in;
		out0 = z.avail_out;
		zr = inflate(&z, Z_NO_FLUSH);
		consumed += in0 - z.avail_in;
		j->olen += out0 - z.avail_out;
		if (zr == Z_STREAM_END) {
			ret = 0;
			break;
		}
		if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT) {
			ret = kh_pl_fail(j, KH_EINVAL, "corrupt data (zlib: %s)",
					 z.msg ? z.msg : "needs a dictionary");
			goto out;
		}
		if (zr == Z_MEM_ERROR) {
			ret = kh_pl_fail(j, KH_ENOMEM, "out of memory");
			goto out;
		}
		if (in0 == z.avail_in && out0 == z.avail_out) {
			ret = kh_pl_stalled(j, consumed);
			goto out;
		}
	}
out:
	j->used = consumed;
	inflateEnd(&z);
	return ret;
}

static int kh_pl_bzip2(struct kh_pl_job *j)
{
	bz_stream s;
	size_t consumed = 0;
	int ret, br;

	memset(&s, 0, sizeof(s));
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
		return kh_pl_fail(j, KH_ENOMEM, "cannot start libbz2");
	for (;;) {
		size_t in0, out0;

		if ((ret = kh_pl_room(j)) < 0)
			goto out;
		/* libbz2 does not write through next_in. */
		s.next_in = (char *)(uintptr_t)(j->in + consumed);
		s.avail_in = (unsigned)kh_pl_min(j->len - consumed,
						 KH_PL_UINT_CHUNK);
		s.next_out = (char *)(j->out + j->olen);
		s.avail_out = (unsigned)kh_pl_min(j->ocap - j->olen,
						  KH_PL_UINT_CHUNK);
		in0 = s.avail_in;
		out0 = s.avail_out;
		br = BZ2_bzDecompress(&s);
		consumed += in0 - s.avail_in;
		j->olen += out0 - s.avail_out;
		if (br == BZ_STREAM_END) {
			ret = 0;
			break;
		}
		if (br == BZ_MEM_ERROR) {
			ret = kh_pl_fail(j, KH_ENOMEM, "out of memory");
			goto out;
		}
		if (br != BZ_OK) {
			ret = kh_pl_fail(j, KH_EINVAL, "corrupt data (libbz2 "
					 "error %d)", br);
			goto out;
		}
		if (in0 == s.avail_in && out0 == s.avail_out) {
			ret = kh_pl_stalled(j, consumed);
			goto out;
		}
	}
out:
	j->used = consumed;
	BZ2_bzDecompressEnd(&s);
	return ret;
}

static int kh_pl_lzma_fail(struct kh_pl_job *j, lzma_ret lr)
{
	char lim[32];

	switch (lr) {
	case LZMA_MEM_ERROR:
		return kh_pl_fail(j, KH_ENOMEM, "out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return kh_pl_fail(j, KH_EINVAL, "needs more than the %s limit "
				  "of memory to decompress",
				  kh_file_size_str(KH_PAYLOAD_DICT_MAX, lim,
						   sizeof(lim)));
	case LZMA_FORMAT_ERROR:
		return kh_pl_fail(j, KH_EINVAL, "not in the format its magic "
				  "says");
	case LZMA_OPTIONS_ERROR:
		return kh_pl_fail(j, KH_EINVAL, "unsupported compression "
				  "options");
	case LZMA_BUF_ERROR:
		return kh_pl_fail(j, KH_EINVAL, "truncated: the data ends "
				  "inside the stream");
	default:
		return kh_pl_fail(j, KH_EINVAL, "corrupt data (liblzma error "
				  "%d)", (int)lr);
	}
}

/* xz and the legacy .lzma format, both through liblzma. */
static int kh_pl_liblzma(struct kh_pl_job *j, int alone)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t consumed = 0;
	lzma_ret lr;
	int ret;

	lr = alone ? lzma_alone_decoder(&s, KH_PAYLOAD_DICT_MAX)
		   : lzma_stream_decoder(&s, KH_PAYLOAD_DICT_MAX, 0);
	if (lr != LZMA_OK)
		return kh_pl_lzma_fail(j, lr);
	for (;;) {
		size_t in0, out0;

		if ((ret = kh_pl_room(j)) < 0)
			goto out;
		s.next_in = j->in + consumed;
		s.avail_in = j->len - consumed;
		s.next_out = j->out + j->olen;
		s.avail_out = j->ocap - j->olen;
		in0 = s.avail_in;
		out0 = s.avail_out;
		/* All the input is there: FINISH makes a cut stream an
		 * LZMA_BUF_ERROR instead of a wait for more. */
		lr = lzma_code(&s, LZMA_FINISH);
		consumed += in0 - s.avail_in;
		j->olen += out0 - s.avail_out;
		if (lr == LZMA_STREAM_END) {
			ret = 0;
			break;
		}
		if (lr != LZMA_OK) {
			ret = kh_pl_lzma_fail(j, lr);
			goto out;
		}
		if (in0 == s.avail_in && out0 == s.avail_out) {
			ret = kh_pl_stalled(j, consumed);
			goto out;
		}
	}
out:
	j->used = consumed;
	lzma_end(&s);
	return ret;
}

static int kh_pl_zstd(struct kh_pl_job *j)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer in = { j->in, j->len, 0 };
	int ret;

	if (!dc)
		return kh_pl_fail(j, KH_ENOMEM, "out of memory");
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax,
						KH_PAYLOAD_ZSTD_WINDOWLOG_MAX))) {
		ret = kh_pl_fail(j, KH_ELIB, "cannot bound zstd's window");
		goto out;
	}
	for (;;) {
		ZSTD_outBuffer o;
		size_t in0 = in.pos, r;

		if ((ret = kh_pl_room(j)) < 0)
			goto out;
		o.dst = j->out + j->olen;
		o.size = j->ocap - j->olen;
		o.pos = 0;
		r = ZSTD_decompressStream(dc, &o, &in);
		j->olen += o.pos;
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) ==
			    ZSTD_error_frameParameter_windowTooLarge)
				ret = kh_pl_fail(j, KH_EINVAL, "its window is "
						 "over the limit of 2^%d bytes",
						 KH_PAYLOAD_ZSTD_WINDOWLOG_MAX);
			else if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
				ret = kh_pl_fail(j, KH_ENOMEM, "out of memory");
			else
				ret = kh_pl_fail(j, KH_EINVAL, "corrupt data "
						 "(zstd: %s)",
						 ZSTD_getErrorName(r));
			goto out;
		}
		if (r == 0) {           /* the frame is whole and flushed */
			ret = 0;
			break;
		}
		if (in.pos == in0 && o.pos == 0) {
			ret = kh_pl_stalled(j, in.pos);
			goto out;
		}
	}
out:
	j->used = in.pos;
	ZSTD_freeDCtx(dc);
	return ret;
}

/* One lz4 block of c bytes at src into the output. */
static int kh_pl_lz4_block(struct kh_pl_job *j, const unsigned char *src,
			   uint32_t c)
{
	size_t cap = kh_pl_min(KH_LZ4_LEGACY_BLOCK, j->max + 1 - j->olen);
	int ret, n;

	if ((ret = kh_pl_grow(j, cap)) < 0)
		return ret;
	n = LZ4_decompress_safe((const char *)src, (char *)j->out + j->olen,
				(int)c, (int)cap);
	if (n < 0) {
		/* Short of room at the limit, or corrupt? A partial
		 * decode that fills the room says which. */
		if (cap < KH_LZ4_LEGACY_BLOCK &&
		    LZ4_decompress_safe_partial((const char *)src,
						(char *)j->out + j->olen,
						(int)c, (int)cap,
						(int)cap) == (int)cap) {
			j->olen += cap;
			return kh_pl_limit(j);
		}
		return kh_pl_fail(j, KH_EINVAL, "corrupt data (an lz4 block "
				  "does not decode)");
	}
	j->olen += (size_t)n;
	return j->olen > j->max ? kh_pl_limit(j) : 0;
}

/* The legacy frames the kernel writes (lz4 -l): blocks until the data
 * ends, a zero size, or (bzImage) the appended le32 output size. */
static int kh_pl_lz4(struct kh_pl_job *j)
{
	const uint32_t bound = (uint32_t)LZ4_compressBound(KH_LZ4_LEGACY_BLOCK);
	size_t pos = 4, blocks = 0;
	int ret = 0;

	if (j->len < 4 || kh_le32(j->in) != KH_LZ4_LEGACY_MAGIC)
		return kh_pl_fail(j, KH_EINVAL, "not lz4 legacy data: no "
				  "magic");
	for (;;) {
		size_t left = j->len - pos;
		uint32_t c;

		if (left == 0)
			break;
		if (left < 4) {
			if (j->open_end)
				break;
			ret = kh_pl_fail(j, KH_EINVAL, "truncated: %zu stray "
					 "bytes after the last block", left);
			break;
		}
		c = kh_le32(j->in + pos);
		if (c == KH_LZ4_LEGACY_MAGIC) {         /* lz4 -l concatenated */
			pos += 4;
			continue;
		}
		if (c == 0 ||
		    (!j->open_end && left == 4 && c == (uint32_t)j->olen)) {
			pos += 4;
			break;
		}
		if (c > bound || c > left - 4) {
			if (j->open_end && blocks)
				break;
			ret = c > bound
				? kh_pl_fail(j, KH_EINVAL, "corrupt data (an lz4 "
					     "block of %" PRIu32 " bytes)", c)
				: kh_pl_fail(j, KH_EINVAL, "truncated: an lz4 "
					     "block of %" PRIu32 " bytes, %zu "
					     "left", c, left - 4);
			break;
		}
		if ((ret = kh_pl_lz4_block(j, j->in + pos + 4, c)) < 0)
			break;
		pos += 4 + (size_t)c;
		blocks++;
	}
	j->used = pos;
	return ret;
}

/* A bounds-checked big-endian reader for lzop's headers. */
struct kh_rd {
	const unsigned char *p;
	size_t len, pos;
	int short_;
};

static uint32_t kh_rd_get(struct kh_rd *r, int n)
{
	uint32_t v = 0;

	if (r->short_ || (size_t)n > r->len - r->pos) {
		r->short_ = 1;
		r->pos = r->len;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v = v << 8 | r->p[r->pos++];
	return v;
}

static void kh_rd_skip(struct kh_rd *r, size_t n)
{
	if (r->short_ || n > r->len - r->pos) {
		r->short_ = 1;
		r->pos = r->len;
		return;
	}
	r->pos += n;
}

static uint32_t kh_lzop_sum(int crc, const unsigned char *p, size_t n)
{
	return crc ? (uint32_t)crc32(0, p, (uInt)n)
		   : (uint32_t)adler32(1, p, (uInt)n);
}

/* lzop's header (lzop.c read_header), up to the first block. */
static int kh_pl_lzop_header(struct kh_pl_job *j, struct kh_rd *r,
			     uint32_t *flags)
{
	uint32_t version, method, sum;
	size_t start;

	kh_rd_skip(r, sizeof(kh_lzop_magic));
	start = r->pos;
	version = kh_rd_get(r, 2);
	kh_rd_get(r, 2);                        /* library version */
	if (version >= 0x0940)
		kh_rd_get(r, 2);                /* version to extract */
	method = kh_rd_get(r, 1);
	if (version >= 0x0940)
		kh_rd_get(r, 1);                /* level */
	*flags = kh_rd_get(r, 4);
	if (*flags & KH_LZOP_FILTER)
		kh_rd_get(r, 4);
	kh_rd_skip(r, 8);                       /* mode, mtime */
	if (version >= 0x0940)
		kh_rd_skip(r, 4);               /* mtime, high half */
	kh_rd_skip(r, kh_rd_get(r, 1));         /* file name */
	if (r->short_)
		return kh_pl_fail(j, KH_EINVAL, "truncated lzop header");
	sum = kh_lzop_sum(*flags & KH_LZOP_H_CRC32, r->p + start,
			  r->pos - start);
	if (kh_rd_get(r, 4) != sum && !r->short_)
		return kh_pl_fail(j, KH_EINVAL, "lzop header checksum "
				  "mismatch");
	if (*flags & KH_LZOP_EXTRA_FIELD) {
		kh_rd_skip(r, kh_rd_get(r, 4));
		kh_rd_get(r, 4);
	}
	if (r->short_)
		return kh_pl_fail(j, KH_EINVAL, "truncated lzop header");
	if (version < 0x0900)
		return kh_pl_fail(j, KH_EINVAL, "lzop version %#x is too old",
				  version);
	if (method < 1 || method > 3)
		return kh_pl_fail(j, KH_EINVAL, "lzop method %u is not LZO1X",
				  method);
	if (*flags & KH_LZOP_FILTER)
		return kh_pl_fail(j, KH_EINVAL, "lzop filters are not "
				  "supported");
	return 0;
}

/* One lzop block: d bytes out of c at the reader's position. */
static int kh_pl_lzop_block(struct kh_pl_job *j, const unsigned char *src,
			    uint32_t c, uint32_t d)
{
	unsigned char *dst;
	int ret;

	if (d > j->max - j->olen)
		return kh_pl_limit(j);
	if ((ret = kh_pl_grow(j, d)) < 0)
		return ret;
	dst = j->out + j->olen;
	if (c == d) {                           /* stored */
		memcpy(dst, src, d);
	} else {
		lzo_uint n = d;

		if (lzo1x_decompress_safe(src, c, dst, &n, NULL) != LZO_E_OK ||
		    n != d)
			return kh_pl_fail(j, KH_EINVAL, "corrupt data (an lzo "
					  "block does not decode)");
	}
	return 0;
}

/* lzop's format as the kernel writes it (lzop -9), checksums kept. */
static int kh_pl_lzo(struct kh_pl_job *j)
{
	struct kh_rd r = { j->in, j->len, 0, 0 };
	uint32_t flags;
	int ret;

	if (lzo_init() != LZO_E_OK)
		return kh_pl_fail(j, KH_ELIB, "cannot start liblzo2");
	if (j->len < sizeof(kh_lzop_magic) ||
	    memcmp(j->in, kh_lzop_magic, sizeof(kh_lzop_magic)))
		return kh_pl_fail(j, KH_EINVAL, "not lzop data: its magic is "
				  "cut short");
	if ((ret = kh_pl_lzop_header(j, &r, &flags)) < 0)
		goto out;
	for (;;) {
		uint32_t d, c, sum_d[2] = { 0, 0 }, sum_c[2] = { 0, 0 };
		const unsigned char *src;

		d = kh_rd_get(&r, 4);
		if (r.short_) {
			ret = kh_pl_fail(j, KH_EINVAL, "truncated: no end "
					 "marker");
			goto out;
		}
		if (d == 0)
			break;
		c = kh_rd_get(&r, 4);
		if (flags & KH_LZOP_ADLER32_D)
			sum_d[0] = kh_rd_get(&r, 4);
		if (flags & KH_LZOP_CRC32_D)
			sum_d[1] = kh_rd_get(&r, 4);
		if (c < d && (flags & KH_LZOP_ADLER32_C))
			sum_c[0] = kh_rd_get(&r, 4);
		if (c < d && (flags & KH_LZOP_CRC32_C))
			sum_c[1] = kh_rd_get(&r, 4);
		if (d > KH_LZOP_MAX_BLOCK || c == 0 || c > d) {
			ret = kh_pl_fail(j, KH_EINVAL, "corrupt data (an lzo "
					 "block of %" PRIu32 " bytes to %" PRIu32
					 ")", c, d);
			goto out;
		}
		if (r.short_ || c > r.len - r.pos) {
			ret = kh_pl_fail(j, KH_EINVAL, "truncated: the data "
					 "ends inside a block");
			goto out;
		}
		src = r.p + r.pos;
		if (((flags & KH_LZOP_ADLER32_C) && c < d &&
		     kh_lzop_sum(0, src, c) != sum_c[0]) ||
		    ((flags & KH_LZOP_CRC32_C) && c < d &&
		     kh_lzop_sum(1, src, c) != sum_c[1])) {
			ret = kh_pl_fail(j, KH_EINVAL, "corrupt data (lzo "
					 "block checksum mismatch)");
			goto out;
		}
		if ((ret = kh_pl_lzop_block(j, src, c, d)) < 0)
			goto out;
		if (((flags & KH_LZOP_ADLER32_D) &&
		     kh_lzop_sum(0, j->out + j->olen, d) != sum_d[0]) ||
		    ((flags & KH_LZOP_CRC32_D) &&
		     kh_lzop_sum(1, j->out + j->olen, d) != sum_d[1])) {
			ret = kh_pl_fail(j, KH_EINVAL, "corrupt data (lzo "
					 "data checksum mismatch)");
			goto out;
		}
		j->olen += d;
		r.pos += c;
	}
out:
	j->used = r.pos;
	return ret;
}

/* Run the decoder of comp over the job's input. */
static int kh_pl_run(struct kh_pl_job *j, enum kh_payload_comp comp)
{
	switch (comp) {
	case KH_PAYLOAD_GZIP: return kh_pl_gzip(j);
	case KH_PAYLOAD_BZIP2: return kh_pl_bzip2(j);
	case KH_PAYLOAD_LZMA: return kh_pl_liblzma(j, 1);
	case KH_PAYLOAD_XZ: return kh_pl_liblzma(j, 0);
	case KH_PAYLOAD_LZO: return kh_pl_lzo(j);
	case KH_PAYLOAD_LZ4: return kh_pl_lz4(j);
	case KH_PAYLOAD_ZSTD: return kh_pl_zstd(j);
	}
	return kh_pl_fail(j, KH_EINVAL, "unknown compression");
}

/* Decompress [off, off + len) of buf as comp into *p; *hard says
 * whether a failure is one a scan must not pass over. */
static int kh_pl_decode(const unsigned char *buf, size_t off, size_t len,
			enum kh_payload_comp comp, enum kh_payload_where where,
			const char *name, size_t max, int open_end,
			struct kh_payload *p, int *hard, size_t *spent,
			struct kh_error *err)
{
	struct kh_pl_job j;
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
	ret = kh_pl_run(&j, comp);
	if (ret == 0 && j.olen > j.max)
		ret = kh_pl_limit(&j);
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
		if (kh_pl_plausible(m->comp, hit, it->len - (it->pos - 1)) &&
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
