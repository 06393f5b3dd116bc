/* kh_payload: the compressed payloads of kernel images, decompressed
 * in-process.
 *
 * A built-in archive sits (between its IKHD markers) in the kernel
 * image, and the images people have are compressed. Given a whole file
 * in memory, this module finds every payload the file's format says is
 * there and decompresses it, never spawning a program:
 *
 *   - x86 bzImage (vmlinuz): the real-mode header's payload_offset and
 *     payload_length (boot protocol 2.08+); the payload is gzip, bzip2,
 *     lzma, xz, lzo (lzop), lz4 (legacy frames, lz4 -l) or zstd, told
 *     by its magic. An older protocol has no payload fields: scanned.
 *   - EFI zboot (vmlinuz.efi of arm64, riscv, loongarch): "MZ", "zimg"
 *     at 4, payload offset and size at 8 and 12, the compression's
 *     name at 24 ("gzip", "zstd"; 6.1-era kernels also "lzma",
 *     "xzkern", "lzo", "lz4", "zstd22").
 *   - a file that is compressed as a whole (Image.gz, .ko.xz, .ko.zst,
 *     .ko.gz): one of the magics below at offset 0, with a plausible
 *     header (the same cheap checks as the scan's).
 *   - anything else: a scan for the magics, as the kernel's
 *     scripts/extract-ikconfig does (gzip 1f8b08, xz fd377a585a00,
 *     bzip2 "BZh", lzma 5d0000, lzo 894c5a, lz4 02214c18, zstd
 *     28b52ffd), each family in that order, candidates in file order,
 *     a candidate tried only when its header is plausible.
 *
 * A header's payload must decode whole (a truncated or corrupt one is
 * refused with a message); a scan candidate that does not decode is
 * passed over. The decoding itself, one decoder per library, is
 * kh_decomp's (extract/kh_decomp.h). The caller looks for the IKHD markers or an ELF in what
 * comes out.
 *
 * Bounds (struct kh_payload_limits, KH_PAYLOAD_LIMITS_INIT):
 *   - max_out: one payload decompresses to at most this many bytes; a
 *     bomb is refused as soon as it passes the limit, with a message
 *     naming it. Memory held: max_out + 1 bytes of output, plus the
 *     decoder's state: at most 256 MiB for xz and lzma (their
 *     dictionary, refused above), 128 MiB for zstd (windows above 2^27
 *     are refused), a few MiB for the others.
 *   - max_candidates, max_scan: a scan tries at most this many
 *     candidates, and stops when the bytes read plus the bytes written
 *     by all its candidates pass max_scan; either is an error that
 *     names the limit.
 * Every decoder step consumes input or produces output (no progress is
 * a refusal), so time is linear in those bytes.
 */
#ifndef KH_PAYLOAD_H
#define KH_PAYLOAD_H

#include <stddef.h>

#include "lib/kh_error.h"

#define KH_PAYLOAD_MAX_OUT ((size_t)1 << 30)    /* one decompressed payload */
#define KH_PAYLOAD_MAX_SCAN ((size_t)2 << 30)   /* bytes in+out over a scan */
#define KH_PAYLOAD_MAX_CANDIDATES 64u           /* scan candidates tried */
/* Decoder state refused above this (xz and lzma dictionaries). */
#define KH_PAYLOAD_DICT_MAX ((size_t)256 << 20)
/* zstd windows above 2^27 (128 MiB, what zstd -22 --ultra uses) refused. */
#define KH_PAYLOAD_ZSTD_WINDOWLOG_MAX 27

enum kh_payload_comp {
	KH_PAYLOAD_GZIP,
	KH_PAYLOAD_BZIP2,
	KH_PAYLOAD_LZMA,
	KH_PAYLOAD_XZ,
	KH_PAYLOAD_LZO,
	KH_PAYLOAD_LZ4,
	KH_PAYLOAD_ZSTD,
};
#define KH_PAYLOAD_NCOMP 7

enum kh_payload_where {
	KH_PAYLOAD_WHOLE,     /* the file is compressed as a whole */
	KH_PAYLOAD_BZIMAGE,   /* the bzImage header's payload */
	KH_PAYLOAD_ZBOOT,     /* the EFI zboot header's payload */
	KH_PAYLOAD_SCAN,      /* found by its magic */
};

struct kh_payload_limits {
	size_t max_out;
	size_t max_scan;
	unsigned max_candidates;
};

#define KH_PAYLOAD_LIMITS_INIT { .max_out = KH_PAYLOAD_MAX_OUT, \
				 .max_scan = KH_PAYLOAD_MAX_SCAN, \
				 .max_candidates = KH_PAYLOAD_MAX_CANDIDATES }

/* One decompressed payload; data is malloc'ed and owned by the holder. */
struct kh_payload {
	unsigned char *data;
	size_t len;
	enum kh_payload_comp comp;
	enum kh_payload_where where;
	size_t offset;   /* of the compressed payload in the file */
	size_t in_len;   /* compressed bytes it took (scan) or was given */
};

#define KH_PAYLOAD_INIT { .data = NULL, .comp = KH_PAYLOAD_GZIP, \
			  .where = KH_PAYLOAD_WHOLE }

/* Free p->data and reset *p to KH_PAYLOAD_INIT. */
void kh_payload_release(struct kh_payload *p);

/* "gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd". */
const char *kh_payload_comp_name(enum kh_payload_comp comp);

/* "whole file", "bzImage header", "EFI zboot header", "magic scan". */
const char *kh_payload_where_name(enum kh_payload_where where);

/* What the file's format says: BZIMAGE, ZBOOT or WHOLE, or SCAN when
 * no header names a payload. Looks at magics (and for WHOLE the
 * stream header's plausibility); validates no offset or length. */
enum kh_payload_where kh_payload_kind(const unsigned char *buf, size_t len);

struct kh_payload_iter;

/* Start reading the payloads of buf (len bytes, kept by the caller
 * until kh_payload_iter_free). name is what messages blame; lim NULL
 * means KH_PAYLOAD_LIMITS_INIT. */
int kh_payload_iter_new(const unsigned char *buf, size_t len,
			const char *name, const struct kh_payload_limits *lim,
			struct kh_payload_iter **out, struct kh_error *err);

/* The next payload into *p (released first). Returns 1 with *p set, 0
 * when there is none (more), or a negative code with err set: a lying
 * header, a truncated or corrupt header payload, an unknown
 * compression, a limit passed. After 0 or an error, it returns 0. */
int kh_payload_next(struct kh_payload_iter *it, struct kh_payload *p,
		    struct kh_error *err);

void kh_payload_iter_free(struct kh_payload_iter *it);

/* Decompress one stream of comp at buf (len bytes, the payload alone:
 * an lz4 legacy stream must end there, or 4 bytes before it with the
 * kernel's appended size) into *p, at most max_out bytes. name and
 * where are for messages and *p. */
int kh_payload_decompress(enum kh_payload_comp comp, const unsigned char *buf,
			  size_t len, const char *name, size_t max_out,
			  struct kh_payload *p, struct kh_error *err);

#endif
