/* kh_bcache: compressed xz blocks kept between runs.
 *
 * A directory (by default OUTPUT.cache, next to the archive and its
 * state) holding one file per block, named by the block's key: the
 * XXH3-128 of the settings that decide a block's bytes (kh_xzblk_describe)
 * and of its uncompressed data. A rebuild after a small edit finds every
 * unchanged block here and compresses only the new ones.
 *
 * The cache never changes bytes: an entry is used only if its header
 * names the key asked for, its sizes agree with the block header inside
 * and its bytes have the XXH3-128 recorded when it was written; anything
 * else (a torn write, a flipped bit, a stray file) is ignored, removed,
 * and the block is compressed again. Entries are written to a temporary
 * and renamed, so readers see whole entries or none.
 *
 * The size is bounded: on close, entries are ranked by the last run that
 * used them (most recent first), then by key, and the tail beyond the
 * bound is removed. The ranking depends only on the sequence of runs,
 * never on clocks, so the same history leaves the same cache. The run
 * counter and the ranks live in an "index" file; entries it does not
 * know rank last.
 *
 * One run uses a cache at a time (flock on its "lock" file); a second
 * concurrent run simply goes without. Temporaries left by a killed run
 * are removed by the next one.
 *
 *   CACHE/lock                       flock(2) target
 *   CACHE/index                      "kheaders-bcache 1", "run N", then
 *                                    "<run> <key hex> <bytes>" lines
 *   CACHE/<key hex>.xzb              KH_BCACHE_HDR bytes, then the Block
 */
#ifndef KH_BCACHE_H
#define KH_BCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "kh_error.h"
#include "kh_hash.h"
#include "kh_xzblk.h"

/* Default bound on the bytes of entries kept. */
#define KH_BCACHE_DEFAULT_MAX (32ULL << 20)

/* An entry file: magic, key, sizes, hash of the Block, the Block. */
#define KH_BCACHE_MAGIC "KHXZBLK1"
#define KH_BCACHE_MAGIC_LEN 8
#define KH_BCACHE_OFF_KEY 8
#define KH_BCACHE_OFF_UNCOMPRESSED 24   /* u64 little-endian */
#define KH_BCACHE_OFF_UNPADDED 32       /* u64 little-endian */
#define KH_BCACHE_OFF_SIZE 40           /* u64 little-endian */
#define KH_BCACHE_OFF_HASH 48           /* XXH3-128 of the Block */
#define KH_BCACHE_HDR 64

_Static_assert(KH_BCACHE_OFF_HASH + KH_XXH128_LEN == KH_BCACHE_HDR,
	       "entry header layout");

struct kh_bcache;

/* Open dir as a cache bounded to max bytes, creating it if needed.
 * When another run holds it, *bc is NULL and the result 0: go without.
 * Errors (dir unusable) are returned; callers may go without too. */
int kh_bcache_open(const char *dir, uint64_t max, struct kh_bcache **bc,
		   struct kh_error *err);

/* The key of a block of data under the given settings text. */
void kh_bcache_key(const char *settings, const void *data, size_t len,
		   unsigned char key[KH_XXH128_LEN]);

/* 1 and *out filled if a valid entry for key exists, else 0 (a bad
 * entry is removed). Safe to call from several threads at once. */
int kh_bcache_get(struct kh_bcache *bc, const unsigned char *key,
		  struct kh_xzblk *out);

/* Store a block under key (atomically). Safe alongside kh_bcache_get
 * from other threads, but not alongside another kh_bcache_put. */
int kh_bcache_put(struct kh_bcache *bc, const unsigned char *key,
		  const struct kh_xzblk *b, struct kh_error *err);

/* Rank, evict down to the bound, save the index, unlock and free. On
 * error everything is still released. Safe with NULL. */
int kh_bcache_close(struct kh_bcache *bc, struct kh_error *err);

/* Forget the run: unlock and free without touching the directory. */
void kh_bcache_abort(struct kh_bcache *bc);

#endif
