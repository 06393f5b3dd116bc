/* test_payload: extract/kh_payload.c against each compression library.
 *
 * A known buffer holding fake IKHD markers is compressed in-process
 * with gzip (zlib), bzip2, lzma and xz (liblzma), lzo (liblzo2, in an
 * lzop container written here), lz4 (legacy frames) and zstd, then
 * wrapped in a synthetic bzImage, a synthetic EFI zboot image, a plain
 * file and junk without any header (the magic scan); each must give
 * the buffer back. Hostile inputs must be refused with a message and
 * never crash: bombs (refused at the bound, with the memory growth of
 * the decoding process measured), lying bzImage and zboot headers,
 * unknown compressions, truncated payloads of every compressor. The
 * real command-line compressors and real kernel images are
 * tests/t-payload.sh's.
 */
#define ZLIB_CONST
#include <bzlib.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo1x.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "extract/kh_payload.h"
#include "kh_test.h"

struct buf {
	unsigned char *p;
	size_t len;
};

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Text with fake markers and stretches of noise: compressible, but not
 * trivially, so streams have several blocks. */
static struct buf known(size_t n)
{
	struct buf b = { malloc(n), n };
	unsigned x = 2024;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b.p[i] = (i / 4096) % 3 ? (unsigned char)("kheaders "[i % 9])
					: (unsigned char)(x >> 16);
	}
	memcpy(b.p + 100, "IKHD_ST", 7);
	memcpy(b.p + n - 100, "IKHD_ED", 7);
	return b;
}

/* ---- Compressors. */

static struct buf gzip_of(const unsigned char *d, size_t n, int level)
{
	z_stream z;
	struct buf b;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
		     Z_DEFAULT_STRATEGY);
	b.p = malloc(deflateBound(&z, n) + 64);
	z.next_in = d;
	z.avail_in = (uInt)n;
	z.next_out = b.p;
	z.avail_out = (uInt)(deflateBound(&z, n) + 64);
	deflate(&z, Z_FINISH);
	b.len = z.total_out;
	deflateEnd(&z);
	return b;
}

static struct buf bzip2_of(const unsigned char *d, size_t n, int level)
{
	unsigned cap = (unsigned)(n + n / 50 + 1024);
	struct buf b = { malloc(cap), 0 };

	BZ2_bzBuffToBuffCompress((char *)b.p, &cap, (char *)(uintptr_t)d,
				 (unsigned)n, level, 0, 0);
	b.len = cap;
	return b;
}

static struct buf lzma_of(const unsigned char *d, size_t n, int preset)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	size_t cap = n + n / 2 + 4096;
	struct buf b = { malloc(cap), 0 };

	lzma_lzma_preset(&opt, (uint32_t)preset);
	if (lzma_alone_encoder(&s, &opt) != LZMA_OK)
		abort();
	s.next_in = d;
	s.avail_in = n;
	s.next_out = b.p;
	s.avail_out = cap;
	while (lzma_code(&s, LZMA_FINISH) == LZMA_OK)
		;
	b.len = cap - s.avail_out;
	lzma_end(&s);
	return b;
}

static struct buf xz_of(const unsigned char *d, size_t n, int preset)
{
	size_t cap = lzma_stream_buffer_bound(n);
	struct buf b = { malloc(cap), 0 };

	lzma_easy_buffer_encode((uint32_t)preset, LZMA_CHECK_CRC32, NULL, d, n,
				b.p, &b.len, cap);
	return b;
}

/* lzop's container (lzop.c write_header), version 0x1040, with both
 * adler32 checksums, around LZO1X-1 blocks of bs bytes. */
static struct buf lzo_of(const unsigned char *d, size_t n, size_t bs)
{
	static const unsigned char magic[9] = { 0x89, 'L', 'Z', 'O', 0,
						0x0d, 0x0a, 0x1a, 0x0a };
	size_t cap = 64 + n + n / 16 + (n / bs + 1) * (16 + 64 + bs / 16);
	struct buf b = { malloc(cap), 0 };
	unsigned char *p = b.p, *h;
	void *wrk = malloc(LZO1X_1_MEM_COMPRESS);

	lzo_init();
	memcpy(p, magic, 9);
	h = p += 9;
	*p++ = 0x10; *p++ = 0x40;                       /* version */
	*p++ = 0x20; *p++ = 0xa0;                       /* library */
	*p++ = 0x09; *p++ = 0x40;                       /* needed */
	*p++ = 1;                                       /* LZO1X-1 */
	*p++ = 5;                                       /* level */
	put_be32(p, 0x3 | 0x03000000); p += 4;          /* ADLER32_D|C, Unix */
	put_be32(p, 0100644); p += 4;
	put_be32(p, 0); p += 4;
	put_be32(p, 0); p += 4;
	*p++ = 0;                                       /* no name */
	put_be32(p, (uint32_t)adler32(1, h, (uInt)(p - h))); p += 4;
	for (size_t o = 0; o < n; o += bs) {
		size_t dl = n - o < bs ? n - o : bs;
		lzo_uint cl = 0;
		unsigned char *hdr = p;

		p += 16;
		lzo1x_1_compress(d + o, dl, p, &cl, wrk);
		put_be32(hdr, (uint32_t)dl);
		put_be32(hdr + 8, (uint32_t)adler32(1, d + o, (uInt)dl));
		if (cl >= dl) {                         /* stored */
			memcpy(hdr + 12, d + o, dl);
			put_be32(hdr + 4, (uint32_t)dl);
			p = hdr + 12 + dl;
		} else {
			put_be32(hdr + 4, (uint32_t)cl);
			put_be32(hdr + 12, (uint32_t)adler32(1, p, (uInt)cl));
			p += cl;
		}
	}
	put_be32(p, 0);
	p += 4;
	b.len = (size_t)(p - b.p);
	free(wrk);
	return b;
}

/* lz4 -l: the legacy magic, then blocks of at most bs bytes. */
static struct buf lz4_of(const unsigned char *d, size_t n, size_t bs)
{
	size_t cap = 4 + (n / bs + 1) * (4 + (size_t)LZ4_compressBound((int)bs));
	struct buf b = { malloc(cap), 4 };

	put_le32(b.p, 0x184c2102u);
	for (size_t o = 0; o < n; o += bs) {
		int dl = (int)(n - o < bs ? n - o : bs);
		int cl = LZ4_compress_default((const char *)d + o,
					      (char *)b.p + b.len + 4, dl,
					      LZ4_compressBound(dl));

		put_le32(b.p + b.len, (uint32_t)cl);
		b.len += 4 + (size_t)cl;
	}
	return b;
}

static struct buf zstd_of(const unsigned char *d, size_t n, int level)
{
	struct buf b = { malloc(ZSTD_compressBound(n)), 0 };

	b.len = ZSTD_compress(b.p, ZSTD_compressBound(n), d, n, level);
	return b;
}

static struct buf compress_as(enum kh_payload_comp c, const unsigned char *d,
			   size_t n)
{
	switch (c) {
	case KH_PAYLOAD_GZIP: return gzip_of(d, n, 9);
	case KH_PAYLOAD_BZIP2: return bzip2_of(d, n, 9);
	case KH_PAYLOAD_LZMA: return lzma_of(d, n, 6);
	case KH_PAYLOAD_XZ: return xz_of(d, n, 6);
	case KH_PAYLOAD_LZO: return lzo_of(d, n, 256 << 10);
	case KH_PAYLOAD_LZ4: return lz4_of(d, n, 64 << 10);
	case KH_PAYLOAD_ZSTD: return zstd_of(d, n, 3);
	}
	abort();
}

/* ---- Containers. */

#define BZ_SETUP_SECTS 2
#define BZ_PM ((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PAYLOAD_OFFSET 0x180

/* A bzImage as the kernel links it: setup, code, the payload with
 * (size_append) its le32 decompressed size, more code. */
static struct buf bzimage(const struct buf *pl, uint32_t out_size)
{
	size_t n = BZ_PM + BZ_PAYLOAD_OFFSET + pl->len + 4 + 300;
	struct buf b = { calloc(1, n), n };

	b.p[0] = 'M';
	b.p[1] = 'Z';
	b.p[0x1f1] = BZ_SETUP_SECTS;
	b.p[0x1fe] = 0x55;
	b.p[0x1ff] = 0xaa;
	memcpy(b.p + 0x202, "HdrS", 4);
	b.p[0x206] = 0x0f;
	b.p[0x207] = 0x02;                              /* protocol 2.15 */
	put_le32(b.p + 0x248, BZ_PAYLOAD_OFFSET);
	put_le32(b.p + 0x24c, (uint32_t)pl->len + 4);
	memcpy(b.p + BZ_PM + BZ_PAYLOAD_OFFSET, pl->p, pl->len);
	put_le32(b.p + BZ_PM + BZ_PAYLOAD_OFFSET + pl->len, out_size);
	memset(b.p + n - 300, 0xcc, 300);
	return b;
}

#define ZB_OFFSET 0x400

/* An EFI zboot image: the header, the payload (its size excludes the
 * appended le32), then the stub's code. */
static struct buf zboot(const struct buf *pl, const char *type,
			uint32_t out_size)
{
	size_t n = ZB_OFFSET + pl->len + 4 + 500;
	struct buf b = { calloc(1, n), n };

	memcpy(b.p, "MZ\0\0zimg", 8);
	put_le32(b.p + 8, ZB_OFFSET);
	put_le32(b.p + 12, (uint32_t)pl->len);
	memcpy(b.p + 24, type, strlen(type));
	put_le32(b.p + 0x38, 0x644d5241);
	put_le32(b.p + 0x3c, 0x40);
	memcpy(b.p + 0x40, "PE\0\0", 4);
	memcpy(b.p + ZB_OFFSET, pl->p, pl->len);
	put_le32(b.p + ZB_OFFSET + pl->len, out_size);
	memset(b.p + n - 500, 0x90, 500);
	return b;
}

/* No header: noise, the payload, noise. */
static struct buf in_junk(const struct buf *pl, size_t *at)
{
	size_t n = 5000 + pl->len + 3000;
	struct buf b = { malloc(n), n };
	unsigned x = 77;

	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		b.p[i] = (unsigned char)(x >> 24);
	}
	memcpy(b.p + 5000, pl->p, pl->len);
	*at = 5000;
	return b;
}

static const char *const zb_name[KH_PAYLOAD_NCOMP] = {
	[KH_PAYLOAD_GZIP] = "gzip", [KH_PAYLOAD_BZIP2] = "bzip2",
	[KH_PAYLOAD_LZMA] = "lzma", [KH_PAYLOAD_XZ] = "xzkern",
	[KH_PAYLOAD_LZO] = "lzo", [KH_PAYLOAD_LZ4] = "lz4",
	[KH_PAYLOAD_ZSTD] = "zstd22",
};

/* The first payload of b, or an error: returns kh_payload_next's. */
static int first(const struct buf *b, size_t max_out, struct kh_payload *p,
		 struct kh_error *err)
{
	struct kh_payload_limits lim = KH_PAYLOAD_LIMITS_INIT;
	struct kh_payload_iter *it;
	int ret;

	lim.max_out = max_out;
	if (kh_payload_iter_new(b->p, b->len, "img", &lim, &it, err) < 0)
		return -100;
	ret = kh_payload_next(it, p, err);
	kh_payload_iter_free(it);
	return ret;
}

static int has(const char *msg, const char *what)
{
	if (strstr(msg, what))
		return 1;
	fprintf(stderr, "message \"%s\" lacks \"%s\"\n", msg, what);
	return 0;
}

static struct buf plain_data;

/* Every compressor in every container gives the bytes back. */
static void test_roundtrip(void)
{
	for (int c = 0; c < KH_PAYLOAD_NCOMP; c++) {
		struct buf pl = compress_as((enum kh_payload_comp)c, plain_data.p,
					 plain_data.len);
		struct buf bz = bzimage(&pl, (uint32_t)plain_data.len);
		struct buf zb = zboot(&pl, zb_name[c], (uint32_t)plain_data.len);
		struct buf *forms[3] = { &bz, &zb, &pl };
		enum kh_payload_where where[3] = { KH_PAYLOAD_BZIMAGE,
						   KH_PAYLOAD_ZBOOT,
						   KH_PAYLOAD_WHOLE };
		size_t at;
		struct buf junk = in_junk(&pl, &at);
		struct kh_payload p = KH_PAYLOAD_INIT;
		struct kh_error err = KH_ERROR_INIT;

		fprintf(stderr, "%s: %zu -> %zu bytes\n",
			kh_payload_comp_name((enum kh_payload_comp)c),
			plain_data.len, pl.len);
		for (int f = 0; f < 3; f++) {
			int ret = first(forms[f], KH_PAYLOAD_MAX_OUT, &p, &err);

			if (ret != 1)
				fprintf(stderr, "%s in %s: %s\n",
					kh_payload_comp_name((enum kh_payload_comp)c),
					kh_payload_where_name(where[f]), err.msg);
			KH_CHECK(ret == 1);
			KH_CHECK(p.comp == (enum kh_payload_comp)c);
			KH_CHECK(p.where == where[f]);
			KH_CHECK(p.len == plain_data.len &&
				 !memcmp(p.data, plain_data.p, p.len));
			KH_CHECK(kh_payload_kind(forms[f]->p, forms[f]->len) ==
				 where[f]);
		}
		/* The scan: found at its offset, its end where it ends. */
		KH_CHECK(kh_payload_kind(junk.p, junk.len) == KH_PAYLOAD_SCAN);
		{
			struct kh_payload_iter *it;
			int ret, found = 0;

			kh_payload_iter_new(junk.p, junk.len, "junk", NULL, &it,
					    &err);
			while ((ret = kh_payload_next(it, &p, &err)) == 1)
				if (p.offset == at && (int)p.comp == c &&
				    p.len == plain_data.len &&
				    !memcmp(p.data, plain_data.p, p.len))
					found = 1;
			if (ret < 0)
				fprintf(stderr, "scan: %s\n", err.msg);
			KH_CHECK(ret == 0 && found);
			KH_CHECK(kh_payload_next(it, &p, &err) == 0);
			kh_payload_iter_free(it);
		}
		/* One call for one stream. */
		KH_CHECK(kh_payload_decompress((enum kh_payload_comp)c, pl.p,
					       pl.len, "x", plain_data.len, &p,
					       &err) == 0 &&
			 p.len == plain_data.len);
		KH_CHECK(kh_payload_decompress((enum kh_payload_comp)c, pl.p,
					       pl.len, "x", plain_data.len - 1,
					       &p, &err) < 0 &&
			 has(err.msg, "limit"));
		kh_payload_release(&p);
		KH_CHECK(p.data == NULL && p.len == 0);
		free(pl.p);
		free(bz.p);
		free(zb.p);
		free(junk.p);
	}
}

/* Every compressor's stream cut short, in a bzImage, in a zboot image
 * and alone: refused with "truncated" or "corrupt", never a crash. */
static void test_truncated(void)
{
	for (int c = 0; c < KH_PAYLOAD_NCOMP; c++) {
		struct buf pl = compress_as((enum kh_payload_comp)c, plain_data.p,
					 plain_data.len);
		size_t cuts[] = { 1, 5, 17, pl.len / 3, pl.len / 2,
				  pl.len - 9, pl.len - 1 };

		for (size_t k = 0; k < sizeof(cuts) / sizeof(*cuts); k++) {
			struct buf cut = { pl.p, cuts[k] };
			struct buf bz, zb;
			struct kh_payload p = KH_PAYLOAD_INIT;
			struct kh_error e1 = KH_ERROR_INIT, e2 = KH_ERROR_INIT,
					e3 = KH_ERROR_INIT;
			int r1, r2, r3;

			/* A cut header payload has no size appended. */
			bz = bzimage(&cut, 0);
			put_le32(bz.p + 0x24c, (uint32_t)cut.len);
			zb = zboot(&cut, zb_name[c], 0);
			r1 = first(&bz, KH_PAYLOAD_MAX_OUT, &p, &e1);
			r2 = first(&zb, KH_PAYLOAD_MAX_OUT, &p, &e2);
			r3 = kh_payload_decompress((enum kh_payload_comp)c,
						   cut.p, cut.len, "cut",
						   KH_PAYLOAD_MAX_OUT, &p, &e3);
			if (r1 >= 0 || r2 >= 0 || r3 >= 0)
				fprintf(stderr, "%s cut to %zu of %zu: %d %d %d\n",
					kh_payload_comp_name((enum kh_payload_comp)c),
					cut.len, pl.len, r1, r2, r3);
			KH_CHECK(r1 < 0 && e1.msg[0] && has(e1.msg, "img: "));
			KH_CHECK(r2 < 0 && e2.msg[0]);
			KH_CHECK(r3 < 0 && e3.msg[0]);
			kh_payload_release(&p);
			free(bz.p);
			free(zb.p);
		}
		free(pl.p);
	}
}

/* ---- Bombs. */

#define BOMB_SIZE ((size_t)24 << 20)
#define BOMB_LIMIT ((size_t)256 << 10)

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* 24 MiB of zeros, refused at a 256 KiB limit with the limit named, in
 * a child whose peak memory may not grow by the bomb's size: a decoder
 * that kept going would need 24 MiB. */
static void test_bombs(void)
{
	unsigned char *zeros = calloc(1, BOMB_SIZE);
	struct buf bombs[KH_PAYLOAD_NCOMP];
	pid_t pid;
	int status;

	memset(zeros, 0, BOMB_SIZE);    /* touched now, not in the child */
	for (int c = 0; c < KH_PAYLOAD_NCOMP; c++) {
		switch ((enum kh_payload_comp)c) {
		case KH_PAYLOAD_BZIP2:
			bombs[c] = bzip2_of(zeros, BOMB_SIZE, 1);
			break;
		case KH_PAYLOAD_LZMA:
			bombs[c] = lzma_of(zeros, BOMB_SIZE, 0);
			break;
		case KH_PAYLOAD_XZ:
			bombs[c] = xz_of(zeros, BOMB_SIZE, 0);
			break;
		case KH_PAYLOAD_ZSTD:
			bombs[c] = zstd_of(zeros, BOMB_SIZE, 1);
			break;
		case KH_PAYLOAD_LZ4:
			bombs[c] = lz4_of(zeros, BOMB_SIZE, 8 << 20);
			break;
		default:
			bombs[c] = compress_as((enum kh_payload_comp)c, zeros,
					    BOMB_SIZE);
		}
	}
	free(zeros);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int bad = 0;
		long before = maxrss_kib(), grew;

		for (int c = 0; c < KH_PAYLOAD_NCOMP; c++) {
			struct buf bz = bzimage(&bombs[c], (uint32_t)BOMB_SIZE);
			struct kh_payload p = KH_PAYLOAD_INIT;
			struct kh_error err = KH_ERROR_INIT;

			if (first(&bz, BOMB_LIMIT, &p, &err) >= 0 ||
			    !has(err.msg, "more than the 256 KiB limit")) {
				fprintf(stderr, "bomb %s not refused: %s\n",
					kh_payload_comp_name((enum kh_payload_comp)c),
					err.msg);
				bad = 1;
			}
			free(bz.p);
		}
		grew = maxrss_kib() - before;
		fprintf(stderr, "bombs: peak memory grew by %ld KiB\n", grew);
		if (grew > 8 << 10) {
			fprintf(stderr, "bombs: more than 8 MiB held\n");
			bad = 1;
		}
		_exit(bad);
	}
	KH_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		 WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Each bomb within a larger limit comes out whole. */
	for (int c = 0; c < KH_PAYLOAD_NCOMP; c++) {
		struct kh_payload p = KH_PAYLOAD_INIT;
		struct kh_error err = KH_ERROR_INIT;

		KH_CHECK(kh_payload_decompress((enum kh_payload_comp)c,
					       bombs[c].p, bombs[c].len, "b",
					       BOMB_SIZE, &p, &err) == 0 &&
			 p.len == BOMB_SIZE);
		kh_payload_release(&p);
		free(bombs[c].p);
	}
}

/* ---- Lying headers. */

static void expect_refusal(const struct buf *b, const char *what)
{
	struct kh_payload p = KH_PAYLOAD_INIT;
	struct kh_error err = KH_ERROR_INIT;

	KH_CHECK(first(b, KH_PAYLOAD_MAX_OUT, &p, &err) < 0 &&
		 has(err.msg, what));
	KH_CHECK(p.data == NULL);
}

static void test_lying_bzimage(void)
{
	struct buf pl = gzip_of(plain_data.p, 5000, 6);
	struct buf bz = bzimage(&pl, 5000);
	struct buf shorter = { bz.p, 0x230 };

	put_le32(bz.p + 0x248, (uint32_t)bz.len);       /* past the end */
	expect_refusal(&bz, "payload offset");
	put_le32(bz.p + 0x248, 0xfffffff0u);
	expect_refusal(&bz, "past the end of the file");
	put_le32(bz.p + 0x248, BZ_PAYLOAD_OFFSET);
	put_le32(bz.p + 0x24c, 0xffffffffu);            /* length overflow */
	expect_refusal(&bz, "does not fit in the file");
	put_le32(bz.p + 0x24c, (uint32_t)(bz.len - BZ_PM - BZ_PAYLOAD_OFFSET + 1));
	expect_refusal(&bz, "does not fit in the file");
	put_le32(bz.p + 0x24c, 0);
	expect_refusal(&bz, "does not fit in the file");
	put_le32(bz.p + 0x24c, (uint32_t)pl.len + 4);
	bz.p[0x1f1] = 255;                              /* setup too long */
	expect_refusal(&bz, "setup sectors run past the end");
	bz.p[0x1f1] = BZ_SETUP_SECTS;
	expect_refusal(&shorter, "bzImage header cut short");
	memcpy(bz.p + BZ_PM + BZ_PAYLOAD_OFFSET, "\x11\x22\x33\x44", 4);
	expect_refusal(&bz, "unknown compression in bzImage payload at offset "
		       "1920 (it starts with 11 22 33 44)");
	/* An old boot protocol has no payload fields: scanned instead. */
	memcpy(bz.p + BZ_PM + BZ_PAYLOAD_OFFSET, pl.p, 4);
	bz.p[0x206] = 0x04;
	{
		struct kh_payload p = KH_PAYLOAD_INIT;
		struct kh_error err = KH_ERROR_INIT;

		KH_CHECK(first(&bz, KH_PAYLOAD_MAX_OUT, &p, &err) == 1 &&
			 p.where == KH_PAYLOAD_SCAN && p.len == 5000);
		kh_payload_release(&p);
	}
	free(pl.p);
	free(bz.p);
}

static void test_lying_zboot(void)
{
	struct buf pl = zstd_of(plain_data.p, 5000, 3);
	struct buf zb = zboot(&pl, "zstd", 5000);
	struct buf shorter = { zb.p, 40 };

	put_le32(zb.p + 8, (uint32_t)zb.len + 10);      /* past the end */
	expect_refusal(&zb, "zboot header lies");
	put_le32(zb.p + 8, ZB_OFFSET);
	put_le32(zb.p + 12, 0xffffffffu);
	expect_refusal(&zb, "does not fit in the file");
	put_le32(zb.p + 12, (uint32_t)(zb.len - ZB_OFFSET + 1));
	expect_refusal(&zb, "does not fit in the file");
	put_le32(zb.p + 12, (uint32_t)pl.len);
	memcpy(zb.p + 24, "foo\0", 5);
	expect_refusal(&zb, "unknown compression 'foo' in zboot header");
	memcpy(zb.p + 24, "x\033y\0", 4);
	expect_refusal(&zb, "unknown compression 'x\\x1by' in zboot header");
	memset(zb.p + 24, 'A', 32);
	expect_refusal(&zb, "is not terminated");
	memcpy(zb.p + 24, "gzip\0", 5);
	expect_refusal(&zb, "says 'gzip', but the payload at offset 1024 "
		       "does not start with gzip's magic");
	expect_refusal(&shorter, "zboot header cut short");
	free(pl.p);
	free(zb.p);
}

/* A scan is bounded in candidates; junk has no payload. */
static void test_scan_bounds(void)
{
	struct buf gz = gzip_of((const unsigned char *)"x", 1, 6);
	size_t n = 100 * 64;
	struct buf many = { calloc(1, n), n };
	struct kh_payload_limits lim = KH_PAYLOAD_LIMITS_INIT;
	struct kh_payload_iter *it;
	struct kh_payload p = KH_PAYLOAD_INIT;
	struct kh_error err = KH_ERROR_INIT;
	int ret, got = 0;
	size_t at;

	/* 100 plausible gzip headers, each cut short, none at offset 0. */
	for (size_t i = 1; i < 100; i++)
		memcpy(many.p + i * 64, gz.p, 14);
	lim.max_candidates = 10;
	kh_payload_iter_new(many.p, many.len, "many", &lim, &it, &err);
	KH_CHECK(kh_payload_next(it, &p, &err) < 0 &&
		 has(err.msg, "more than 10 candidate payloads (the limit)"));
	KH_CHECK(kh_payload_next(it, &p, &err) == 0);
	kh_payload_iter_free(it);

	/* The bytes a scan reads and writes are bounded too. */
	lim.max_candidates = 1000;
	lim.max_scan = 1000;
	kh_payload_iter_new(many.p, many.len, "many", &lim, &it, &err);
	KH_CHECK(kh_payload_next(it, &p, &err) < 0 &&
		 has(err.msg, "more than the 1000 bytes limit read"));
	kh_payload_iter_free(it);

	/* Two real streams in junk: both found, in order. */
	memcpy(many.p + 64, gz.p, gz.len);
	memcpy(many.p + 64 * 50, gz.p, gz.len);
	lim.max_scan = KH_PAYLOAD_MAX_SCAN;
	kh_payload_iter_new(many.p, many.len, "many", &lim, &it, &err);
	while ((ret = kh_payload_next(it, &p, &err)) == 1)
		got += p.len == 1 && p.data[0] == 'x';
	KH_CHECK(ret == 0 && got == 2);
	kh_payload_iter_free(it);

	/* A text that starts like a bzip2 or lzma file is none. */
	{
		static const char t1[] = "BZh, said the text, not bzip2 data";
		static const char t2[] = "]\0\0 not lzma either, past its magic";
		struct buf b1 = { (unsigned char *)t1, sizeof(t1) };
		struct buf b2 = { (unsigned char *)t2, sizeof(t2) };

		KH_CHECK(kh_payload_kind(b1.p, b1.len) == KH_PAYLOAD_SCAN);
		KH_CHECK(kh_payload_kind(b2.p, b2.len) == KH_PAYLOAD_SCAN);
		KH_CHECK(first(&b1, KH_PAYLOAD_MAX_OUT, &p, &err) == 0);
		KH_CHECK(first(&b2, KH_PAYLOAD_MAX_OUT, &p, &err) == 0);
	}

	/* Pure noise: nothing, and no error. */
	{
		struct buf none = { (unsigned char *)"", 0 };
		struct buf noise = in_junk(&none, &at);

		KH_CHECK(first(&noise, KH_PAYLOAD_MAX_OUT, &p, &err) == 0);
		KH_CHECK(first(&none, KH_PAYLOAD_MAX_OUT, &p, &err) == 0);
		free(noise.p);
	}
	free(gz.p);
	free(many.p);
}

static void setup(void)
{
	plain_data = known(300000);
}

static void teardown(void)
{
	free(plain_data.p);
}

KH_TEST_MAIN(test_bombs, setup, test_roundtrip, test_truncated,
	     test_lying_bzimage, test_lying_zboot, test_scan_bounds, teardown)
