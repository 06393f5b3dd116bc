/* kh_decomp: one compressed stream decoded into memory, bounded (see
 * kh_decomp.h). One decoder per compression library; the streaming ones
 * (zlib, libbz2, liblzma, libzstd) differ only in one step, run by
 * kh_dc_stream's shared loop; lz4 legacy frames and lzop are walked
 * block by block here. */
#define ZLIB_CONST
#include "extract/kh_decomp.h"

#include <bzlib.h>
#include <inttypes.h>
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

#include "lib/kh_dl.h"
#include "lib/kh_file.h"

/* lz4 legacy frames (lz4 -l): a magic, then blocks of at most 8 MiB
 * uncompressed, each behind its little-endian compressed size. */
#define KH_DC_LZ4_LEGACY_MAGIC 0x184c2102u
#define KH_DC_LZ4_LEGACY_BLOCK (8 << 20)

/* lzop's header flags (lzop's conf.h) and its block size limit. */
enum {
	KH_DC_LZOP_ADLER32_D = 0x1, KH_DC_LZOP_ADLER32_C = 0x2,
	KH_DC_LZOP_EXTRA_FIELD = 0x40, KH_DC_LZOP_CRC32_D = 0x100,
	KH_DC_LZOP_CRC32_C = 0x200, KH_DC_LZOP_FILTER = 0x800,
	KH_DC_LZOP_H_CRC32 = 0x1000,
};
#define KH_DC_LZOP_MAX_BLOCK ((size_t)64 << 20)

/* Output grows from this, doubling, to at most max_out + 1. */
#define KH_DC_OUT_FIRST ((size_t)64 << 10)
/* Streaming decoders get at most this much room per call. */
#define KH_DC_STEP ((size_t)1 << 20)
/* zlib and libbz2 count in unsigned int. */
#define KH_DC_UINT_CHUNK ((size_t)1 << 30)

static const unsigned char kh_dc_lzop_magic[9] = { 0x89, 'L', 'Z', 'O', 0x00,
						0x0d, 0x0a, 0x1a, 0x0a };

static uint32_t kh_dc_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int kh_decomp_plausible(enum kh_payload_comp comp, const unsigned char *p,
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
		    ((kh_dc_le32(p + 5) != UINT32_MAX ||
		      kh_dc_le32(p + 9) != UINT32_MAX) && kh_dc_le32(p + 9) >= 64))
			return 0;
		/* The dictionary: 2^n or 2^n + 2^(n-1), as lzma writes it. */
		d = kh_dc_le32(p + 1);
		for (int b = 12; b < 32; b++)
			if (d == 1u << b || (b < 31 && d == (3u << (b - 1))))
				return 1;
		return 0;
	case KH_PAYLOAD_LZO:
		return n >= sizeof(kh_dc_lzop_magic) + 30 &&
		       !memcmp(p, kh_dc_lzop_magic, sizeof(kh_dc_lzop_magic));
	case KH_PAYLOAD_LZ4:
		return n >= 8 && kh_dc_le32(p + 4) > 0 &&
		       kh_dc_le32(p + 4) <= (uint32_t)LZ4_COMPRESSBOUND(
						KH_DC_LZ4_LEGACY_BLOCK);
	case KH_PAYLOAD_ZSTD:   /* frame header descriptor: reserved bit */
		return n >= 6 && !(p[4] & 0x08);
	}
	return 0;
}

/* ---- The job: growing output, messages. */

static int kh_dc_fail(struct kh_decomp_job *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kh_dc_fail(struct kh_decomp_job *j, int code, const char *fmt, ...)
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

static int kh_dc_limit(struct kh_decomp_job *j)
{
	char lim[32];

	j->hard = 1;
	return kh_dc_fail(j, KH_EINVAL, "decompresses to more than the %s "
			  "limit; refused",
			  kh_file_size_str(j->max, lim, sizeof(lim)));
}

/* Make room for want more bytes of output (fewer at the limit: the
 * buffer never exceeds max + 1 bytes, the one byte that shows a bomb). */
static int kh_dc_grow(struct kh_decomp_job *j, size_t want)
{
	size_t lim = j->max + 1, ncap;
	unsigned char *p;

	if (want > lim - j->olen)
		want = lim - j->olen;
	if (j->ocap - j->olen >= want)
		return 0;
	ncap = j->ocap < KH_DC_OUT_FIRST ? KH_DC_OUT_FIRST : j->ocap;
	while (ncap < lim && ncap - j->olen < want)
		ncap = ncap > lim / 2 ? lim : 2 * ncap;
	if (ncap > lim)
		ncap = lim;
	p = realloc(j->out, ncap);
	if (!p)
		return kh_dc_fail(j, KH_ENOMEM, "out of memory");
	j->out = p;
	j->ocap = ncap;
	return 0;
}

/* Before each streaming step: refuse past the limit, else make room. */
static int kh_dc_room(struct kh_decomp_job *j)
{
	if (j->olen > j->max)
		return kh_dc_limit(j);
	return kh_dc_grow(j, KH_DC_STEP);
}

static size_t kh_dc_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* After a step that consumed nothing and produced nothing. */
static int kh_dc_stalled(struct kh_decomp_job *j, size_t consumed)
{
	if (consumed >= j->len)
		return kh_dc_fail(j, KH_EINVAL, "truncated: the data ends "
				  "inside the stream");
	return kh_dc_fail(j, KH_ELIB, "the decoder made no progress");
}

/* ---- The streaming decoders: one loop, one step per library. */

/* What one step may take and give, and what it did. */
struct kh_dc_io {
	const unsigned char *in;
	size_t in_len;
	unsigned char *out;
	size_t out_len;
	size_t took, gave;
};

/* One call into a library: 1 at the stream's end, 0 to go on, or a
 * negative code (kh_dc_fail'ed). s is the library's stream. */
typedef int kh_dc_step_fn(void *s, struct kh_decomp_job *j, struct kh_dc_io *io);

/* Step until the stream ends; every step must move input or output
 * (time stays linear in the bytes), and output never passes j->max + 1. */
static int kh_dc_stream(struct kh_decomp_job *j, void *s, kh_dc_step_fn *step)
{
	size_t consumed = 0;
	int ret;

	for (;;) {
		struct kh_dc_io io;

		if ((ret = kh_dc_room(j)) < 0)
			break;
		io.in = j->in + consumed;
		io.in_len = j->len - consumed;
		io.out = j->out + j->olen;
		io.out_len = j->ocap - j->olen;
		io.took = io.gave = 0;
		ret = step(s, j, &io);
		consumed += io.took;
		j->olen += io.gave;
		if (ret != 0)
			break;
		if (!io.took && !io.gave) {
			ret = kh_dc_stalled(j, consumed);
			break;
		}
	}
	j->used = consumed;
	return ret < 0 ? ret : 0;
}

static int kh_dc_gzip_step(void *s, struct kh_decomp_job *j, struct kh_dc_io *io)
{
	z_stream *z = s;
	size_t in0 = kh_dc_min(io->in_len, KH_DC_UINT_CHUNK);
	size_t out0 = kh_dc_min(io->out_len, KH_DC_UINT_CHUNK);
	int zr;

	z->next_in = io->in;
	z->avail_in = (uInt)in0;
	z->next_out = io->out;
	z->avail_out = (uInt)out0;
	zr = inflate(z, Z_NO_FLUSH);
	io->took = in0 - z->avail_in;
	io->gave = out0 - z->avail_out;
	if (zr == Z_STREAM_END)
		return 1;
	if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT)
		return kh_dc_fail(j, KH_EINVAL, "corrupt data (zlib: %s)",
				  z->msg ? z->msg : "needs a dictionary");
	if (zr == Z_MEM_ERROR)
		return kh_dc_fail(j, KH_ENOMEM, "out of memory");
	return 0;
}

static int kh_dc_gzip(struct kh_decomp_job *j)
{
	z_stream z;
	int ret;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return kh_dc_fail(j, KH_ENOMEM, "cannot start zlib");
	ret = kh_dc_stream(j, &z, kh_dc_gzip_step);
	inflateEnd(&z);
	return ret;
}

static int kh_dc_bzip2_step(void *s, struct kh_decomp_job *j, struct kh_dc_io *io)
{
	bz_stream *b = s;
	size_t in0 = kh_dc_min(io->in_len, KH_DC_UINT_CHUNK);
	size_t out0 = kh_dc_min(io->out_len, KH_DC_UINT_CHUNK);
	int br;

	/* libbz2 does not write through next_in. */
	b->next_in = (char *)(uintptr_t)io->in;
	b->avail_in = (unsigned)in0;
	b->next_out = (char *)io->out;
	b->avail_out = (unsigned)out0;
	br = BZ2_bzDecompress(b);
	io->took = in0 - b->avail_in;
	io->gave = out0 - b->avail_out;
	if (br == BZ_STREAM_END)
		return 1;
	if (br == BZ_MEM_ERROR)
		return kh_dc_fail(j, KH_ENOMEM, "out of memory");
	if (br != BZ_OK)
		return kh_dc_fail(j, KH_EINVAL, "corrupt data (libbz2 error %d)",
				  br);
	return 0;
}

static int kh_dc_bzip2(struct kh_decomp_job *j)
{
	bz_stream s;
	int ret;

	memset(&s, 0, sizeof(s));
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
		return kh_dc_fail(j, KH_ENOMEM, "cannot start libbz2");
	ret = kh_dc_stream(j, &s, kh_dc_bzip2_step);
	BZ2_bzDecompressEnd(&s);
	return ret;
}

static int kh_dc_lzma_fail(struct kh_decomp_job *j, lzma_ret lr)
{
	char lim[32];

	switch (lr) {
	case LZMA_MEM_ERROR:
		return kh_dc_fail(j, KH_ENOMEM, "out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return kh_dc_fail(j, KH_EINVAL, "needs more than the %s limit "
				  "of memory to decompress",
				  kh_file_size_str(KH_PAYLOAD_DICT_MAX, lim,
						   sizeof(lim)));
	case LZMA_FORMAT_ERROR:
		return kh_dc_fail(j, KH_EINVAL, "not in the format its magic "
				  "says");
	case LZMA_OPTIONS_ERROR:
		return kh_dc_fail(j, KH_EINVAL, "unsupported compression "
				  "options");
	case LZMA_BUF_ERROR:
		return kh_dc_fail(j, KH_EINVAL, "truncated: the data ends "
				  "inside the stream");
	default:
		return kh_dc_fail(j, KH_EINVAL, "corrupt data (liblzma error "
				  "%d)", (int)lr);
	}
}

static int kh_dc_lzma_step(void *s, struct kh_decomp_job *j, struct kh_dc_io *io)
{
	lzma_stream *l = s;
	lzma_ret lr;

	l->next_in = io->in;
	l->avail_in = io->in_len;
	l->next_out = io->out;
	l->avail_out = io->out_len;
	/* All the input is there: FINISH makes a cut stream an
	 * LZMA_BUF_ERROR instead of a wait for more. */
	lr = lzma_code(l, LZMA_FINISH);
	io->took = io->in_len - l->avail_in;
	io->gave = io->out_len - l->avail_out;
	if (lr == LZMA_STREAM_END)
		return 1;
	return lr == LZMA_OK ? 0 : kh_dc_lzma_fail(j, lr);
}

/* xz and the legacy .lzma format, both through liblzma. */
static int kh_dc_liblzma(struct kh_decomp_job *j, int alone)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;
	int ret;

	lr = alone ? lzma_alone_decoder(&s, KH_PAYLOAD_DICT_MAX)
		   : lzma_stream_decoder(&s, KH_PAYLOAD_DICT_MAX, 0);
	if (lr != LZMA_OK)
		return kh_dc_lzma_fail(j, lr);
	ret = kh_dc_stream(j, &s, kh_dc_lzma_step);
	lzma_end(&s);
	return ret;
}

static int kh_dc_zstd_step(void *s, struct kh_decomp_job *j, struct kh_dc_io *io)
{
	ZSTD_inBuffer in = { io->in, io->in_len, 0 };
	ZSTD_outBuffer o = { io->out, io->out_len, 0 };
	size_t r = ZSTD_decompressStream(s, &o, &in);

	io->took = in.pos;
	io->gave = o.pos;
	if (!ZSTD_isError(r))
		return r == 0;          /* 0: the frame is whole and flushed */
	if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
		return kh_dc_fail(j, KH_EINVAL, "its window is over the limit "
				  "of 2^%d bytes", KH_PAYLOAD_ZSTD_WINDOWLOG_MAX);
	if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
		return kh_dc_fail(j, KH_ENOMEM, "out of memory");
	return kh_dc_fail(j, KH_EINVAL, "corrupt data (zstd: %s)",
			  ZSTD_getErrorName(r));
}

static int kh_dc_zstd(struct kh_decomp_job *j)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	int ret;

	if (!dc)
		return kh_dc_fail(j, KH_ENOMEM, "out of memory");
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax,
						KH_PAYLOAD_ZSTD_WINDOWLOG_MAX)))
		ret = kh_dc_fail(j, KH_ELIB, "cannot bound zstd's window");
	else
		ret = kh_dc_stream(j, dc, kh_dc_zstd_step);
	ZSTD_freeDCtx(dc);
	return ret;
}

/* ---- The block formats, walked here. */

/* One lz4 block of c bytes at src into the output. */
static int kh_dc_lz4_block(struct kh_decomp_job *j, const unsigned char *src,
			   uint32_t c)
{
	size_t cap = kh_dc_min(KH_DC_LZ4_LEGACY_BLOCK, j->max + 1 - j->olen);
	int ret, n;

	if ((ret = kh_dc_grow(j, cap)) < 0)
		return ret;
	n = LZ4_decompress_safe((const char *)src, (char *)j->out + j->olen,
				(int)c, (int)cap);
	if (n < 0) {
		/* Short of room at the limit, or corrupt? A partial
		 * decode that fills the room says which. */
		if (cap < KH_DC_LZ4_LEGACY_BLOCK &&
		    LZ4_decompress_safe_partial((const char *)src,
						(char *)j->out + j->olen,
						(int)c, (int)cap,
						(int)cap) == (int)cap) {
			j->olen += cap;
			return kh_dc_limit(j);
		}
		return kh_dc_fail(j, KH_EINVAL, "corrupt data (an lz4 block "
				  "does not decode)");
	}
	j->olen += (size_t)n;
	return j->olen > j->max ? kh_dc_limit(j) : 0;
}

/* The legacy frames the kernel writes (lz4 -l): blocks until the data
 * ends, a zero size, or (bzImage) the appended le32 output size. */
static int kh_dc_lz4(struct kh_decomp_job *j)
{
	const uint32_t bound = (uint32_t)LZ4_COMPRESSBOUND(KH_DC_LZ4_LEGACY_BLOCK);
	size_t pos = 4, blocks = 0;
	int ret = 0;

	if (j->len < 4 || kh_dc_le32(j->in) != KH_DC_LZ4_LEGACY_MAGIC)
		return kh_dc_fail(j, KH_EINVAL, "not lz4 legacy data: no "
				  "magic");
	for (;;) {
		size_t left = j->len - pos;
		uint32_t c;

		if (left == 0)
			break;
		if (left < 4) {
			if (j->open_end)
				break;
			ret = kh_dc_fail(j, KH_EINVAL, "truncated: %zu stray "
					 "bytes after the last block", left);
			break;
		}
		c = kh_dc_le32(j->in + pos);
		if (c == KH_DC_LZ4_LEGACY_MAGIC) {         /* lz4 -l concatenated */
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
				? kh_dc_fail(j, KH_EINVAL, "corrupt data (an lz4 "
					     "block of %" PRIu32 " bytes)", c)
				: kh_dc_fail(j, KH_EINVAL, "truncated: an lz4 "
					     "block of %" PRIu32 " bytes, %zu "
					     "left", c, left - 4);
			break;
		}
		if ((ret = kh_dc_lz4_block(j, j->in + pos + 4, c)) < 0)
			break;
		pos += 4 + (size_t)c;
		blocks++;
	}
	j->used = pos;
	return ret;
}

/* A bounds-checked big-endian reader for lzop's headers. */
struct kh_dc_rd {
	const unsigned char *p;
	size_t len, pos;
	int short_;
};

static uint32_t kh_dc_rd_get(struct kh_dc_rd *r, int n)
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

static void kh_dc_rd_skip(struct kh_dc_rd *r, size_t n)
{
	if (r->short_ || n > r->len - r->pos) {
		r->short_ = 1;
		r->pos = r->len;
		return;
	}
	r->pos += n;
}

static uint32_t kh_dc_lzop_sum(int crc, const unsigned char *p, size_t n)
{
	return crc ? (uint32_t)crc32(0, p, (uInt)n)
		   : (uint32_t)adler32(1, p, (uInt)n);
}

/* lzop's header (lzop.c read_header), up to the first block. */
static int kh_dc_lzop_header(struct kh_decomp_job *j, struct kh_dc_rd *r,
			     uint32_t *flags)
{
	uint32_t version, method, sum;
	size_t start;

	kh_dc_rd_skip(r, sizeof(kh_dc_lzop_magic));
	start = r->pos;
	version = kh_dc_rd_get(r, 2);
	kh_dc_rd_get(r, 2);                        /* library version */
	if (version >= 0x0940)
		kh_dc_rd_get(r, 2);                /* version to extract */
	method = kh_dc_rd_get(r, 1);
	if (version >= 0x0940)
		kh_dc_rd_get(r, 1);                /* level */
	*flags = kh_dc_rd_get(r, 4);
	if (*flags & KH_DC_LZOP_FILTER)
		kh_dc_rd_get(r, 4);
	kh_dc_rd_skip(r, 8);                       /* mode, mtime */
	if (version >= 0x0940)
		kh_dc_rd_skip(r, 4);               /* mtime, high half */
	kh_dc_rd_skip(r, kh_dc_rd_get(r, 1));         /* file name */
	if (r->short_)
		return kh_dc_fail(j, KH_EINVAL, "truncated lzop header");
	sum = kh_dc_lzop_sum(*flags & KH_DC_LZOP_H_CRC32, r->p + start,
			  r->pos - start);
	if (kh_dc_rd_get(r, 4) != sum && !r->short_)
		return kh_dc_fail(j, KH_EINVAL, "lzop header checksum "
				  "mismatch");
	if (*flags & KH_DC_LZOP_EXTRA_FIELD) {
		kh_dc_rd_skip(r, kh_dc_rd_get(r, 4));
		kh_dc_rd_get(r, 4);
	}
	if (r->short_)
		return kh_dc_fail(j, KH_EINVAL, "truncated lzop header");
	if (version < 0x0900)
		return kh_dc_fail(j, KH_EINVAL, "lzop version %#x is too old",
				  version);
	if (method < 1 || method > 3)
		return kh_dc_fail(j, KH_EINVAL, "lzop method %u is not LZO1X",
				  method);
	if (*flags & KH_DC_LZOP_FILTER)
		return kh_dc_fail(j, KH_EINVAL, "lzop filters are not "
				  "supported");
	return 0;
}

/* One lzop block: d bytes out of c at the reader's position. */
static int kh_dc_lzop_block(struct kh_decomp_job *j, const unsigned char *src,
			    uint32_t c, uint32_t d)
{
	unsigned char *dst;
	int ret;

	if (d > j->max - j->olen)
		return kh_dc_limit(j);
	if ((ret = kh_dc_grow(j, d)) < 0)
		return ret;
	dst = j->out + j->olen;
	if (c == d) {                           /* stored */
		memcpy(dst, src, d);
	} else {
		lzo_uint n = d;

		if (lzo1x_decompress_safe(src, c, dst, &n, NULL) != LZO_E_OK ||
		    n != d)
			return kh_dc_fail(j, KH_EINVAL, "corrupt data (an lzo "
					  "block does not decode)");
	}
	return 0;
}

/* lzop's format as the kernel writes it (lzop -9), checksums kept. */
static int kh_dc_lzo(struct kh_decomp_job *j)
{
	struct kh_dc_rd r = { j->in, j->len, 0, 0 };
	uint32_t flags;
	int ret;

	if (lzo_init() != LZO_E_OK)
		return kh_dc_fail(j, KH_ELIB, "cannot start liblzo2");
	if (j->len < sizeof(kh_dc_lzop_magic) ||
	    memcmp(j->in, kh_dc_lzop_magic, sizeof(kh_dc_lzop_magic)))
		return kh_dc_fail(j, KH_EINVAL, "not lzop data: its magic is "
				  "cut short");
	if ((ret = kh_dc_lzop_header(j, &r, &flags)) < 0)
		goto out;
	for (;;) {
		uint32_t d, c, sum_d[2] = { 0, 0 }, sum_c[2] = { 0, 0 };
		const unsigned char *src;

		d = kh_dc_rd_get(&r, 4);
		if (r.short_) {
			ret = kh_dc_fail(j, KH_EINVAL, "truncated: no end "
					 "marker");
			goto out;
		}
		if (d == 0)
			break;
		c = kh_dc_rd_get(&r, 4);
		if (flags & KH_DC_LZOP_ADLER32_D)
			sum_d[0] = kh_dc_rd_get(&r, 4);
		if (flags & KH_DC_LZOP_CRC32_D)
			sum_d[1] = kh_dc_rd_get(&r, 4);
		if (c < d && (flags & KH_DC_LZOP_ADLER32_C))
			sum_c[0] = kh_dc_rd_get(&r, 4);
		if (c < d && (flags & KH_DC_LZOP_CRC32_C))
			sum_c[1] = kh_dc_rd_get(&r, 4);
		if (d > KH_DC_LZOP_MAX_BLOCK || c == 0 || c > d) {
			ret = kh_dc_fail(j, KH_EINVAL, "corrupt data (an lzo "
					 "block of %" PRIu32 " bytes to %" PRIu32
					 ")", c, d);
			goto out;
		}
		if (r.short_ || c > r.len - r.pos) {
			ret = kh_dc_fail(j, KH_EINVAL, "truncated: the data "
					 "ends inside a block");
			goto out;
		}
		src = r.p + r.pos;
		if (((flags & KH_DC_LZOP_ADLER32_C) && c < d &&
		     kh_dc_lzop_sum(0, src, c) != sum_c[0]) ||
		    ((flags & KH_DC_LZOP_CRC32_C) && c < d &&
		     kh_dc_lzop_sum(1, src, c) != sum_c[1])) {
			ret = kh_dc_fail(j, KH_EINVAL, "corrupt data (lzo "
					 "block checksum mismatch)");
			goto out;
		}
		if ((ret = kh_dc_lzop_block(j, src, c, d)) < 0)
			goto out;
		if (((flags & KH_DC_LZOP_ADLER32_D) &&
		     kh_dc_lzop_sum(0, j->out + j->olen, d) != sum_d[0]) ||
		    ((flags & KH_DC_LZOP_CRC32_D) &&
		     kh_dc_lzop_sum(1, j->out + j->olen, d) != sum_d[1])) {
			ret = kh_dc_fail(j, KH_EINVAL, "corrupt data (lzo "
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
static int kh_dc_run(struct kh_decomp_job *j, enum kh_payload_comp comp)
{
	switch (comp) {
	case KH_PAYLOAD_GZIP: return kh_dc_gzip(j);
	case KH_PAYLOAD_BZIP2: return kh_dc_bzip2(j);
	case KH_PAYLOAD_LZMA: return kh_dc_liblzma(j, 1);
	case KH_PAYLOAD_XZ: return kh_dc_liblzma(j, 0);
	case KH_PAYLOAD_LZO: return kh_dc_lzo(j);
	case KH_PAYLOAD_LZ4: return kh_dc_lz4(j);
	case KH_PAYLOAD_ZSTD: return kh_dc_zstd(j);
	}
	return kh_dc_fail(j, KH_EINVAL, "unknown compression");
}

/* Load the libraries comp's decoder calls (liblzma is linked). A
 * failure is the machine's, not the data's: a scan must not pass over
 * it. */
static int kh_dc_load(struct kh_decomp_job *j, enum kh_payload_comp comp)
{
	int ret = 0;

	switch (comp) {
	case KH_PAYLOAD_GZIP: ret = kh_dl_zlib(j->err); break;
	case KH_PAYLOAD_BZIP2: ret = kh_dl_bz2(j->err); break;
	case KH_PAYLOAD_LZ4: ret = kh_dl_lz4(j->err); break;
	case KH_PAYLOAD_ZSTD: ret = kh_dl_zstd(j->err); break;
	case KH_PAYLOAD_LZO:    /* lzop's checksums are zlib's */
		if ((ret = kh_dl_lzo(j->err)) == 0)
			ret = kh_dl_zlib(j->err);
		break;
	case KH_PAYLOAD_LZMA:
	case KH_PAYLOAD_XZ:
		break;
	}
	if (ret < 0)
		j->hard = 1;
	return ret;
}

int kh_decomp_run(struct kh_decomp_job *j, enum kh_payload_comp comp)
{
	int ret = kh_dc_load(j, comp);

	if (ret < 0)
		return ret;
	ret = kh_dc_run(j, comp);

	if (ret == 0 && j->olen > j->max)
		ret = kh_dc_limit(j);
	return ret;
}
