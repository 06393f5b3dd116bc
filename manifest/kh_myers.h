/* kh_myers: a shortest edit script between two sequences.
 *
 * Myers' O((N+M)D) algorithm in its linear-space form (find the middle
 * snake, recurse on both halves), on sequences of integers: callers
 * map lines (or anything else) to numbers so that equal means equal.
 * The result marks which elements of a are deleted and which of b are
 * inserted; what is left unmarked in both is a longest common
 * subsequence. Used for `kheaders diff -u`; no external diff is run.
 *
 * Its cost is capped: the search for where two sections' scripts meet
 * takes at most KH_MYERS_MAX_D steps from each end. A section whose
 * shortest script has up to about twice that many edits gets it; a
 * longer one is split where the search got furthest, so its script is
 * correct but may be longer than the shortest (GNU diff's heuristic
 * for large inputs, without --minimal). 4096 keeps every header change
 * from Linux 6.1 to 6.12 minimal (the largest has about 5000 changed
 * lines; t-manifest-kernel compares with diff --minimal) and 160,000
 * distinct lines against 160,000 others at about a second.
 */
#ifndef KH_MYERS_H
#define KH_MYERS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"

#define KH_MYERS_MAX_D 4096

/* del[i] = 1 when a[i] is deleted, ins[j] = 1 when b[j] is inserted
 * (both arrays zeroed by the callee). */
int kh_myers(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
	     unsigned char *del, unsigned char *ins, struct kh_error *err);

#endif
