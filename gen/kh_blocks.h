/* kh_blocks: where the tar stream is cut into independent xz blocks.
 *
 * Cuts fall only at entry boundaries (a tar header, or the LongLink
 * pseudo-header before it) and depend only on the stream's content, so
 * that the blocks of two runs over slightly different trees are mostly
 * the same bytes, and a cache of compressed blocks can serve them.
 *
 * The rule: a block starting at offset c ends at the entry start, among
 * those in [c + min, c + max], whose entry has the smallest hash (the
 * first one on a tie). A block is thus between min and max bytes long,
 * and each cut is the "strongest" entry of a wide window: an edit or an
 * insertion changes the choice only if it creates a new minimum in the
 * one or two windows that contain it, or removes the old one (chance
 * about 1 in the few hundred entries of a window). Once a cut lands on
 * the same entry as before, every later block is the same again, so a
 * change moves at most one or two boundaries, almost always none.
 *
 * Edge cases, decided by content alone too: near the end the window
 * stops at end - min so that the last block is not a sliver; when no
 * entry starts in the window (huge entries) the block ends at the last
 * entry start before it, else at the first after it; a stream shorter
 * than max + 1 bytes is one block.
 *
 * The caller feeds entries in stream order and polls for decided
 * blocks; a decision needs min + max bytes of lookahead (or the end).
 */
#ifndef KH_BLOCKS_H
#define KH_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"

/* The window around the target block size T: [T - T/4, T + T/4]. */
#define KH_BLOCKS_MIN(t) ((t) - (t) / 4)
#define KH_BLOCKS_MAX(t) ((t) + (t) / 4)

/* Smallest target accepted: below this, xz block overhead dominates. */
#define KH_BLOCKS_TARGET_MIN (64 * 1024)

struct kh_blocks;

/* A cutter aiming at blocks of target bytes. */
int kh_blocks_new(uint64_t target, struct kh_blocks **b,
		  struct kh_error *err);

/* The next entry: len bytes of stream, identified by hash (a hash of
 * those bytes). */
int kh_blocks_add(struct kh_blocks *b, uint64_t len, uint64_t hash,
		  struct kh_error *err);

/* The stream ends after tail more bytes that belong to no entry (the
 * end-of-archive blocks and record padding). */
void kh_blocks_end(struct kh_blocks *b, uint64_t tail);

/* 1 and *end (the stream offset where the next block ends) when the
 * next block is decided, 0 when more input is needed. Blocks come in
 * order, each starting where the previous one ended. */
int kh_blocks_next(struct kh_blocks *b, uint64_t *end);

void kh_blocks_free(struct kh_blocks *b);

#endif
