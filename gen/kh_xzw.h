/* kh_xzw: the xz stage of the pipeline, a sink that compresses.
 *
 * One .xz stream, preset 6, CRC64, single-threaded: the bytes `xz -6`
 * (and so upstream's `tar -I xz`) writes with xz 5.4. Output goes to
 * the next sink in chunks.
 */
#ifndef KH_XZW_H
#define KH_XZW_H

#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_sink.h"

#define KH_XZ_PRESET 6

struct kh_xzw;

int kh_xzw_new(struct kh_sink out, uint32_t preset, struct kh_xzw **xw,
	       struct kh_error *err);

/* This stage as a sink, to hand to the tar writer. */
struct kh_sink kh_xzw_sink(struct kh_xzw *xw);

/* Flush the stream's end (index and footer) to the next sink. */
int kh_xzw_finish(struct kh_xzw *xw, struct kh_error *err);

uint64_t kh_xzw_size(const struct kh_xzw *xw);

void kh_xzw_free(struct kh_xzw *xw);

#endif
