/* kh_xzw: liblzma stream encoder as a sink (see kh_xzw.h). */
#include "gen/kh_xzw.h"

#include <lzma.h>
#include <stdlib.h>

#define KH_XZW_CHUNK (64 * 1024)

struct kh_xzw {
	lzma_stream strm;
	struct kh_sink out;
	uint64_t size;
	uint8_t buf[KH_XZW_CHUNK];
};

static int kh_xzw_error(lzma_ret r, struct kh_error *err)
{
	const char *why = r == LZMA_MEM_ERROR ? "out of memory"
			: r == LZMA_OPTIONS_ERROR ? "unsupported options"
			: "internal error";

	return kh_error_set(err, KH_ELIB, NULL, "xz compression failed: %s",
			    why);
}

/* Run the encoder until it wants more input (or, at the end, until the
 * stream is complete), passing every full buffer on. */
static int kh_xzw_pump(struct kh_xzw *xw, lzma_action action,
		       struct kh_error *err)
{
	for (;;) {
		lzma_ret r = lzma_code(&xw->strm, action);
		size_t n = KH_XZW_CHUNK - xw->strm.avail_out;

		if (r != LZMA_OK && r != LZMA_STREAM_END)
			return kh_xzw_error(r, err);
		if (n && (xw->strm.avail_out == 0 || r == LZMA_STREAM_END)) {
			if (xw->out.write(xw->out.ctx, xw->buf, n, err) < 0)
				return err->code;
			xw->size += n;
			xw->strm.next_out = xw->buf;
			xw->strm.avail_out = KH_XZW_CHUNK;
		}
		if (r == LZMA_STREAM_END)
			return 0;
		if (action == LZMA_RUN && xw->strm.avail_in == 0)
			return 0;
	}
}

static int kh_xzw_write(void *ctx, const void *buf, size_t len,
			struct kh_error *err)
{
	struct kh_xzw *xw = ctx;

	xw->strm.next_in = buf;
	xw->strm.avail_in = len;
	return kh_xzw_pump(xw, LZMA_RUN, err);
}

int kh_xzw_new(struct kh_sink out, uint32_t preset, struct kh_xzw **xwp,
	       struct kh_error *err)
{
	struct kh_xzw *xw = calloc(1, sizeof(*xw));
	lzma_stream init = LZMA_STREAM_INIT;
	lzma_ret r;

	*xwp = NULL;
	if (!xw)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	xw->strm = init;
	xw->out = out;
	r = lzma_easy_encoder(&xw->strm, preset, LZMA_CHECK_CRC64);
	if (r != LZMA_OK) {
		free(xw);
		return kh_xzw_error(r, err);
	}
	xw->strm.next_out = xw->buf;
	xw->strm.avail_out = KH_XZW_CHUNK;
	*xwp = xw;
	return 0;
}

struct kh_sink kh_xzw_sink(struct kh_xzw *xw)
{
	struct kh_sink s = { .write = kh_xzw_write, .ctx = xw };

	return s;
}

int kh_xzw_finish(struct kh_xzw *xw, struct kh_error *err)
{
	xw->strm.next_in = NULL;
	xw->strm.avail_in = 0;
	return kh_xzw_pump(xw, LZMA_FINISH, err);
}

uint64_t kh_xzw_size(const struct kh_xzw *xw)
{
	return xw->size;
}

void kh_xzw_free(struct kh_xzw *xw)
{
	if (!xw)
		return;
	lzma_end(&xw->strm);
	free(xw);
}
