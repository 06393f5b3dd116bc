/* kh_xzbw: the xz stage in block mode, a sink that compresses in
 * parallel and incrementally.
 *
 * The tar stream comes in as bytes, and, from the tar writer's entry
 * hook, where each entry starts. Each finished entry is hashed and given
 * to the cutter (kh_blocks); each block the cutter decides is handed to
 * a pool of threads, which look it up in the cache (kh_bcache) and
 * compress it only on a miss (kh_xzblk). Finished blocks are written in
 * order as soon as their predecessors are, new ones are stored in the
 * cache, and the index and footer close the stream (kh_xzblk_stream).
 *
 * Reading and tar writing go on while blocks compress; at most threads
 * + 1 uncompressed blocks wait or run at once, which bounds memory. The
 * output depends on the data, preset and block size only: never on the
 * thread count, the cache or the order in which threads finish.
 */
#ifndef KH_XZBW_H
#define KH_XZBW_H

#include <stddef.h>
#include <stdint.h>

#include "gen/kh_bcache.h"
#include "lib/kh_error.h"
#include "lib/kh_sink.h"

#define KH_XZBW_MAX_THREADS 64

struct kh_xzbw_opts {
	uint32_t preset;
	uint64_t block_size;      /* the cutter's target */
	int threads;              /* compression threads */
	struct kh_bcache *cache;  /* or NULL; owned by the caller */
};

struct kh_xzbw;

int kh_xzbw_new(struct kh_sink out, const struct kh_xzbw_opts *o,
		struct kh_xzbw **xw, struct kh_error *err);

/* This stage as a sink, to hand to the tar writer. */
struct kh_sink kh_xzbw_sink(struct kh_xzbw *xw);

/* The tar writer's entry hook (kh_tarw_on_entry), ctx is the kh_xzbw. */
void kh_xzbw_entry(void *ctx, uint64_t off, int end);

/* Cut, compress and write what is left, then the index and footer. */
int kh_xzbw_finish(struct kh_xzbw *xw, struct kh_error *err);

uint64_t kh_xzbw_size(const struct kh_xzbw *xw);

/* Blocks written, and how many of them came from the cache. */
void kh_xzbw_counts(const struct kh_xzbw *xw, size_t *blocks,
		    size_t *cached);

/* Stop the threads and free everything; safe at any point. */
void kh_xzbw_free(struct kh_xzbw *xw);

#endif
