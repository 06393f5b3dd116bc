/* kh_bcache: compressed xz blocks kept between runs.
 *
 * A directory (by default OUTPUT.cache, next to the archive and its
 * state) holding one file per block, named by the block's key: the
 * XXH3-128 of the settings that decide a block's bytes (kh_xzblk_describe)
 * and of its uncompressed data. A rebuild after a small edit finds every
 * unchanged block here and compresses only the new ones.
 *
 * The directory is kheaders' own, and nothing else's (kh_bcache_trust,
 * in kh_bcache_dir.c with everything else that touches the directory
 * by name, is the one place that decides):
 *   - kheaders makes it (mode 0700) and marks it with a CACHEDIR.TAG
 *     (the cachedir.org format, so backup tools skip it) whose text is
 *     kheaders' own. An existing directory is used only if it is a real
 *     directory (not a symlink), owned by the effective user, writable
 *     by nobody else, and carries that tag; one without a tag is adopted
 *     only if it holds nothing but names the cache writes (an empty
 *     directory, a cache of kheaders 0.1.0). Anything else is refused
 *     (KH_EINVAL): `--cache .` in a kernel tree, `--cache ~`, a
 *     directory or symlink another user planted as OUTPUT.cache.
 *   - Everything happens relative to one descriptor of the directory,
 *     opened without following a symlink, so swapping the path later
 *     redirects nothing; lock and entries are opened with O_NOFOLLOW and
 *     only regular files are read; the index is read through kh_file
 *     (no symlink, no FIFO, at most KH_FILE_MAX_INDEX bytes).
 *   - Only names of the exact shapes below are ever removed or replaced:
 *     an entry, index, CACHEDIR.TAG, or a temporary ".NAME.XXXXXX" of
 *     one of those. Other names in the directory are left alone.
 *
 * The cache never changes bytes, and does not rely on who wrote it for
 * that: an entry is used only if its header names the key asked for,
 * its sizes agree with the Block header inside, its bytes have the
 * XXH3-128 recorded when it was written, and the Block decodes to
 * exactly the data asked for (kh_xzblk_verify; decoding costs a small
 * fraction of compressing). Anything else (a torn write, a flipped bit,
 * a stray file, a planted block) is ignored, removed, and the block is
 * compressed again. Decoding proves the content; the exact compressed
 * bytes (which encoder settings made them) are vouched for by the
 * ownership rules above, which is what a later cache shared between
 * users would have to settle differently. Entries are written to a
 * temporary and renamed, without fsync: a block lost to a crash is only
 * compressed again, and one torn by it fails the checks.
 *
 * The size is bounded: on close, entries are ranked by the last run that
 * used them (most recent first), then by key, and the tail beyond the
 * bound is removed. The ranking depends only on the sequence of runs,
 * never on clocks, so the same history leaves the same cache. The run
 * counter and the ranks live in an "index" file; entries it does not
 * know rank last; a damaged index only loses the ranks and is rewritten.
 *
 * One run uses a cache at a time (flock on its "lock" file); a second
 * concurrent run simply goes without. Temporaries left by a killed run
 * are removed by the next one.
 *
 *   CACHE/CACHEDIR.TAG               KH_BCACHE_TAG_TEXT, exactly
 *   CACHE/lock                       flock(2) target
 *   CACHE/index                      "kheaders-bcache 1", "run N", then
 *                                    "<run> <key hex> <bytes>" lines
 *   CACHE/<key hex>.xzb              KH_BCACHE_HDR bytes, then the Block
 */
#ifndef KH_BCACHE_H
#define KH_BCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "gen/kh_xzblk.h"
#include "lib/kh_error.h"
#include "lib/kh_hash.h"

/* The mark of a directory kheaders made for its cache. */
#define KH_BCACHE_TAG_NAME "CACHEDIR.TAG"
#define KH_BCACHE_TAG_TEXT \
	"Signature: 8a477f597d28d172789f06886806bc55\n" \
	"# This file is a cache directory tag created by kheaders:\n" \
	"# the block cache of kheaders gen. See kheaders(1), --cache.\n" \
	"# For information about cache directory tags, see:\n" \
	"#\thttps://bford.info/cachedir/\n"

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
 * KH_EINVAL: dir is not one to trust (a symlink, someone else's,
 * writable by others, not made by kheaders, or tampered with inside);
 * nothing was written or removed there and the caller should stop, as
 * the user named the wrong directory or someone planted it. Other
 * errors (cannot create, out of memory): callers may go without. */
int kh_bcache_open(const char *dir, uint64_t max, struct kh_bcache **bc,
		   struct kh_error *err);

/* The key of a block of data under the given settings text. */
void kh_bcache_key(const char *settings, const void *data, size_t len,
		   unsigned char key[KH_XXH128_LEN]);

/* 1 and *out filled if the entry for key holds a Block that
 * kh_xzblk_verify accepts for data (len bytes) at preset, else 0 (a bad
 * entry is removed). Safe to call from several threads at once. */
int kh_bcache_get(struct kh_bcache *bc, const unsigned char *key,
		  uint32_t preset, const void *data, size_t len,
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

/* Async-signal-safe: remove the temporary an entry is being written to,
 * if any (for the signal handler, next to kh_afile_unlink_all). */
void kh_bcache_unlink_all(void);

#endif
