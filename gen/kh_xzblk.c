/* kh_xzblk: .xz blocks and the stream around them (see kh_xzblk.h). */
#include "gen/kh_xzblk.h"

#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KH_XZBLK_CHECK LZMA_CHECK_CRC64
#define KH_XZBLK_LC 4
#define KH_XZBLK_PB 0
#define KH_XZBLK_DICT_MIN (4 * 1024)
/* Blocks lose the history before them, about 1.5% of size at 6 MiB. A
 * nice length of 128 instead of the preset's 64 wins back ~0.4% for ~3%
 * more time, which lets blocks be smaller (faster rebuilds after an
 * edit) within the same size bound: README has the measurements. Fast
 * presets (0-3) are left as they are. */
#define KH_XZBLK_NICE 128
/* Decoded bytes compared at a time by kh_xzblk_verify. */
#define KH_XZBLK_VERIFY_WINDOW (64 * 1024)

struct kh_xzblk_stream {
	struct kh_sink out;
	lzma_index *index;
	uint64_t size;
};

static int kh_xzblk_lzma_error(lzma_ret r, const char *what,
			       struct kh_error *err)
{
	const char *why = r == LZMA_MEM_ERROR ? "out of memory"
			: r == LZMA_OPTIONS_ERROR ? "unsupported options"
			: r == LZMA_DATA_ERROR ? "data too large"
			: "internal error";

	return kh_error_set(err, r == LZMA_MEM_ERROR ? KH_ENOMEM : KH_ELIB,
			    NULL, "xz %s failed: %s", what, why);
}

/* The preset's LZMA2 options, tuned for text as kh_xzblk.h says; the
 * dictionary is set per block. -1 for an unknown preset. */
static int kh_xzblk_options(uint32_t preset, lzma_options_lzma *opt)
{
	if (lzma_lzma_preset(opt, preset))
		return -1;
	opt->lc = KH_XZBLK_LC;
	opt->lp = 0;
	opt->pb = KH_XZBLK_PB;
	if (opt->mode == LZMA_MODE_NORMAL && opt->nice_len < KH_XZBLK_NICE)
		opt->nice_len = KH_XZBLK_NICE;
	return 0;
}

void kh_xzblk_describe(uint32_t preset, char *buf, size_t size)
{
	lzma_options_lzma opt;

	if (kh_xzblk_options(preset, &opt) < 0)
		opt.nice_len = 0;
	snprintf(buf, size, "preset%u,lc%d,pb%d,nice%u,crc64,liblzma-%s",
		 (unsigned)preset, KH_XZBLK_LC, KH_XZBLK_PB,
		 (unsigned)opt.nice_len, lzma_version_string());
}

/* The dictionary: the preset's, or less when the block is smaller. A
 * size of the form 2^n or 3 * 2^(n-1) is what the block header can
 * state exactly, so decoders allocate no more than the encoder used. */
static uint32_t kh_xzblk_dict(uint32_t preset_dict, size_t len)
{
	uint32_t d = KH_XZBLK_DICT_MIN;

	while (d < len && d < preset_dict) {
		if (d + d / 2 >= len)
			return d + d / 2;
		d *= 2;
	}
	return d < preset_dict ? d : preset_dict;
}

int kh_xzblk_encode(uint32_t preset, const void *data, size_t len,
		    struct kh_xzblk *out, struct kh_error *err)
{
	lzma_options_lzma opt;
	lzma_filter filters[2];
	lzma_block block;
	size_t cap, pos = 0;
	lzma_ret r;

	memset(out, 0, sizeof(*out));
	if (kh_xzblk_options(preset, &opt) < 0)
		return kh_error_set(err, KH_EINVAL, NULL,
				    "xz preset %u is not supported",
				    (unsigned)preset);
	opt.dict_size = kh_xzblk_dict(opt.dict_size, len);
	filters[0].id = LZMA_FILTER_LZMA2;
	filters[0].options = &opt;
	filters[1].id = LZMA_VLI_UNKNOWN;
	filters[1].options = NULL;
	memset(&block, 0, sizeof(block));
	block.version = 0;
	block.check = KH_XZBLK_CHECK;
	block.filters = filters;

	cap = lzma_block_buffer_bound(len);
	if (!cap || !(out->buf = malloc(cap)))
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	r = lzma_block_buffer_encode(&block, NULL, data, len, out->buf, &pos,
				     cap);
	if (r != LZMA_OK) {
		free(out->buf);
		out->buf = NULL;
		return kh_xzblk_lzma_error(r, "block compression", err);
	}
	/* Give back the slack of the worst-case bound. */
	{
		uint8_t *p = realloc(out->buf, pos);

		if (p)
			out->buf = p;
	}
	out->size = pos;
	out->unpadded = lzma_block_unpadded_size(&block);
	out->uncompressed = block.uncompressed_size;
	return 0;
}

/* Decode b's Block header into block and filters[] (freed by the
 * caller with kh_xzblk_filters_free) and check that its sizes agree
 * with b's and that the only filter is LZMA2. 0 or -1. */
static int kh_xzblk_header(const struct kh_xzblk *b, lzma_block *block,
			   lzma_filter *filters)
{
	filters[0].id = LZMA_VLI_UNKNOWN;
	if (!b->buf || b->size < LZMA_BLOCK_HEADER_SIZE_MIN)
		return -1;
	memset(block, 0, sizeof(*block));
	block->version = 1;
	block->check = KH_XZBLK_CHECK;
	block->filters = filters;
	block->header_size = lzma_block_header_size_decode(b->buf[0]);
	if (block->header_size > b->size ||
	    lzma_block_header_decode(block, NULL, b->buf) != LZMA_OK) {
		filters[0].id = LZMA_VLI_UNKNOWN;
		return -1;
	}
	if (block->compressed_size != LZMA_VLI_UNKNOWN &&
	    block->uncompressed_size == b->uncompressed &&
	    lzma_block_unpadded_size(block) == b->unpadded &&
	    lzma_block_total_size(block) == b->size &&
	    filters[0].id == LZMA_FILTER_LZMA2 &&
	    filters[1].id == LZMA_VLI_UNKNOWN)
		return 0;
	return -1;
}

static void kh_xzblk_filters_free(lzma_filter *filters)
{
	for (size_t i = 0; filters[i].id != LZMA_VLI_UNKNOWN; i++) {
		free(filters[i].options);
		filters[i].options = NULL;
	}
}

int kh_xzblk_check(const struct kh_xzblk *b)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	lzma_block block;
	int ret = kh_xzblk_header(b, &block, filters);

	kh_xzblk_filters_free(filters);
	return ret;
}

/* Decode the Block after its header and compare what comes out with
 * data, a window at a time: no buffer the size of the block. The Block's
 * CRC64 and its padding are checked by liblzma on the way. */
static int kh_xzblk_decode_cmp(const struct kh_xzblk *b, lzma_block *block,
			       const unsigned char *data, size_t len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	uint8_t out[KH_XZBLK_VERIFY_WINDOW];
	size_t done = 0;
	int ret = -1;
	lzma_ret r;

	if (lzma_block_decoder(&strm, block) != LZMA_OK)
		goto out;
	strm.next_in = b->buf + block->header_size;
	strm.avail_in = b->size - block->header_size;
	do {
		size_t got;

		strm.next_out = out;
		strm.avail_out = sizeof(out);
		r = lzma_code(&strm, LZMA_FINISH);
		got = sizeof(out) - strm.avail_out;
		if (got > len - done || memcmp(out, data + done, got))
			goto out;
		done += got;
	} while (r == LZMA_OK);
	/* All of the Block read, all of data matched, nothing more. */
	if (r == LZMA_STREAM_END && done == len && strm.avail_in == 0)
		ret = 0;
out:
	lzma_end(&strm);
	return ret;
}

int kh_xzblk_verify(uint32_t preset, const struct kh_xzblk *b,
		    const void *data, size_t len)
{
	lzma_filter filters[LZMA_FILTERS_MAX + 1];
	lzma_options_lzma want, *got;
	lzma_block block;
	int ret = -1;

	filters[0].id = LZMA_VLI_UNKNOWN;
	if (b->uncompressed != len || len == 0 ||
	    kh_xzblk_options(preset, &want) < 0 ||
	    kh_xzblk_header(b, &block, filters) < 0)
		goto out;
	/* The dictionary the encoder would have used, which the header
	 * states exactly: so the decoder allocates no more than that. */
	got = filters[0].options;
	if (got->dict_size != kh_xzblk_dict(want.dict_size, len))
		goto out;
	ret = kh_xzblk_decode_cmp(b, &block, data, len);
out:
	kh_xzblk_filters_free(filters);
	return ret;
}

size_t kh_xzblk_bound(size_t len)
{
	return lzma_block_buffer_bound(len);
}

void kh_xzblk_release(struct kh_xzblk *b)
{
	if (!b)
		return;
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

static int kh_xzblk_put(struct kh_xzblk_stream *s, const void *buf,
			size_t len, struct kh_error *err)
{
	int ret = s->out.write(s->out.ctx, buf, len, err);

	if (ret == 0)
		s->size += len;
	return ret;
}

int kh_xzblk_stream_new(struct kh_sink out, struct kh_xzblk_stream **sp,
			struct kh_error *err)
{
	lzma_stream_flags flags;
	uint8_t hdr[LZMA_STREAM_HEADER_SIZE];
	struct kh_xzblk_stream *s;
	int ret;

	*sp = NULL;
	memset(&flags, 0, sizeof(flags));
	flags.version = 0;
	flags.check = KH_XZBLK_CHECK;
	if (lzma_stream_header_encode(&flags, hdr) != LZMA_OK)
		return kh_error_set(err, KH_ELIB, NULL,
				    "xz stream header failed");
	s = calloc(1, sizeof(*s));
	if (!s || !(s->index = lzma_index_init(NULL))) {
		free(s);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	s->out = out;
	ret = kh_xzblk_put(s, hdr, sizeof(hdr), err);
	if (ret < 0) {
		kh_xzblk_stream_free(s);
		return ret;
	}
	*sp = s;
	return 0;
}

int kh_xzblk_stream_add(struct kh_xzblk_stream *s, const struct kh_xzblk *b,
			struct kh_error *err)
{
	lzma_ret r = lzma_index_append(s->index, NULL, b->unpadded,
				       b->uncompressed);

	if (r != LZMA_OK)
		return kh_xzblk_lzma_error(r, "index", err);
	return kh_xzblk_put(s, b->buf, b->size, err);
}

int kh_xzblk_stream_finish(struct kh_xzblk_stream *s, struct kh_error *err)
{
	lzma_stream_flags flags;
	uint8_t ftr[LZMA_STREAM_HEADER_SIZE];
	lzma_vli isize = lzma_index_size(s->index);
	size_t pos = 0;
	uint8_t *buf;
	lzma_ret r;
	int ret;

	buf = malloc(isize);
	if (!buf)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	r = lzma_index_buffer_encode(s->index, buf, &pos, isize);
	if (r != LZMA_OK) {
		free(buf);
		return kh_xzblk_lzma_error(r, "index", err);
	}
	memset(&flags, 0, sizeof(flags));
	flags.version = 0;
	flags.check = KH_XZBLK_CHECK;
	flags.backward_size = isize;
	if (lzma_stream_footer_encode(&flags, ftr) != LZMA_OK) {
		free(buf);
		return kh_error_set(err, KH_ELIB, NULL,
				    "xz stream footer failed");
	}
	ret = kh_xzblk_put(s, buf, pos, err);
	free(buf);
	return ret ? ret : kh_xzblk_put(s, ftr, sizeof(ftr), err);
}

uint64_t kh_xzblk_stream_size(const struct kh_xzblk_stream *s)
{
	return s->size;
}

void kh_xzblk_stream_free(struct kh_xzblk_stream *s)
{
	if (!s)
		return;
	lzma_index_end(s->index, NULL);
	free(s);
}
