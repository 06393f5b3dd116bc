/* kh_sink: where a stage of the output pipeline sends its bytes.
 *
 * The archive is produced by a chain (tar writer -> xz encoder -> atomic
 * file); each stage pushes bytes to the next through this interface, so
 * stages can be tested alone and composed freely.
 */
#ifndef KH_SINK_H
#define KH_SINK_H

#include <stddef.h>

#include "lib/kh_error.h"

struct kh_sink {
	/* Consume len bytes; return 0 or a negative code with err set. */
	int (*write)(void *ctx, const void *buf, size_t len,
		     struct kh_error *err);
	void *ctx;
};

#endif
