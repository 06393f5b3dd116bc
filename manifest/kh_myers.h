/* kh_myers: a shortest edit script between two sequences.
 *
 * Myers' O((N+M)D) algorithm in its linear-space form (find the middle
 * snake, recurse on both halves), on sequences of integers: callers
 * map lines (or anything else) to numbers so that equal means equal.
 * The result marks which elements of a are deleted and which of b are
 * inserted; what is left unmarked in both is a longest common
 * subsequence. Used for `kheaders diff -u`; no external diff is run.
 */
#ifndef KH_MYERS_H
#define KH_MYERS_H

#include <stddef.h>
#include <stdint.h>

#include "kh_error.h"

/* del[i] = 1 when a[i] is deleted, ins[j] = 1 when b[j] is inserted
 * (both arrays zeroed by the callee). */
int kh_myers(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
	     unsigned char *del, unsigned char *ins, struct kh_error *err);

#endif
