/* kh_xzblk: one .xz file out of independently compressed blocks.
 *
 * A block is a complete .xz Block (header with both sizes, LZMA2 data,
 * padding, CRC64), compressed alone by liblzma, so blocks can be made
 * on any thread, in any order, or taken from a cache. The stream puts
 * them together: stream header, the blocks in order, the index that
 * lists them, stream footer. Any xz decoder reads the result as one
 * stream. The bytes of a block are a function of its data, the preset
 * and liblzma's version only (kh_xzblk_describe names them all).
 *
 * The filter is LZMA2 at the preset with lc=4 and pb=0, which suit
 * text (tar of headers) better than the preset's lc=3, pb=2, a nice
 * length of at least 128 (presets 4-9) to win back some of what cutting
 * into blocks costs, and a dictionary no larger than the block (less
 * memory, same matches).
 */
#ifndef KH_XZBLK_H
#define KH_XZBLK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_sink.h"

/* Longest kh_xzblk_describe text. */
#define KH_XZBLK_DESCRIBE_MAX 112

struct kh_xzblk {
	uint8_t *buf;           /* the whole Block, malloc'ed */
	size_t size;            /* its length, padding and check included */
	uint64_t unpadded;      /* Unpadded Size, for the index */
	uint64_t uncompressed;  /* bytes of data in it */
};

#define KH_XZBLK_INIT { .buf = NULL }

/* The settings that decide a block's bytes, as text ("preset6,lc4,
 * pb0,nice128,crc64,liblzma-5.4.1"): recorded in the state and in cache
 * keys. */
void kh_xzblk_describe(uint32_t preset, char *buf, size_t size);

/* Compress len bytes (len > 0) into one Block. */
int kh_xzblk_encode(uint32_t preset, const void *data, size_t len,
		    struct kh_xzblk *out, struct kh_error *err);

/* 0 if buf is one well-formed Block header whose sizes agree with the
 * rest (for blocks read back from a cache), else -1. */
int kh_xzblk_check(const struct kh_xzblk *b);

/* 0 if b is a well-formed Block that kh_xzblk_encode at preset could
 * have made of data: its header states the dictionary the encoder uses
 * for len bytes, and it decodes (CRC64 included) to exactly the len
 * bytes of data. Else -1. Decoding is far cheaper than encoding; this
 * is how a block read back from a cache is known to hold what its key
 * says, whoever wrote it. */
int kh_xzblk_verify(uint32_t preset, const struct kh_xzblk *b,
		    const void *data, size_t len);

/* The largest Block len bytes of data can make (0 if too large). */
size_t kh_xzblk_bound(size_t len);

void kh_xzblk_release(struct kh_xzblk *b);

struct kh_xzblk_stream;

/* Start a stream into out (writes the stream header). */
int kh_xzblk_stream_new(struct kh_sink out, struct kh_xzblk_stream **s,
			struct kh_error *err);

/* Append the next block. */
int kh_xzblk_stream_add(struct kh_xzblk_stream *s, const struct kh_xzblk *b,
			struct kh_error *err);

/* Write the index and the stream footer. */
int kh_xzblk_stream_finish(struct kh_xzblk_stream *s, struct kh_error *err);

/* Bytes written so far. */
uint64_t kh_xzblk_stream_size(const struct kh_xzblk_stream *s);

void kh_xzblk_stream_free(struct kh_xzblk_stream *s);

#endif
