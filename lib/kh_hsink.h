/* kh_hsink: a stage of the output chain that hashes what goes through.
 *
 * Put between two stages (tar writer -> hsink -> xz, or xz -> hsink ->
 * file), it hashes the bytes on their way and hands them on unchanged:
 * the digests of an output come from the bytes as they are written,
 * never from reading the file back. With no next stage it only hashes.
 */
#ifndef KH_HSINK_H
#define KH_HSINK_H

#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_hash.h"
#include "lib/kh_sink.h"

/* Which digests to make. */
#define KH_HSINK_SHA256 1u
#define KH_HSINK_XXH128 2u

/* What went through: the digests asked for, and the byte count. */
struct kh_hsink_sum {
	unsigned char sha256[KH_SHA256_LEN];
	unsigned char xxh128[KH_XXH128_LEN];
	uint64_t size;
};

struct kh_hsink;

/* next.write may be NULL (nothing is handed on). name is for messages
 * (the output these bytes go to). */
int kh_hsink_new(struct kh_sink next, unsigned what, const char *name,
		 struct kh_hsink **hs, struct kh_error *err);

/* This stage as a sink, for the stage before it. */
struct kh_sink kh_hsink_sink(struct kh_hsink *hs);

/* The digests of everything written so far; ends the stage (a write
 * after this fails). */
int kh_hsink_end(struct kh_hsink *hs, struct kh_hsink_sum *sum,
		 struct kh_error *err);

void kh_hsink_free(struct kh_hsink *hs);

#endif
