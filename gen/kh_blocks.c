/* kh_blocks: content-defined block boundaries (see kh_blocks.h). */
#include "gen/kh_blocks.h"

#include <stdlib.h>
#include <string.h>

#include "lib/kh_buf.h"

struct kh_blocks_entry {
	uint64_t off;           /* where the entry starts in the stream */
	uint64_t hash;
};

struct kh_blocks {
	uint64_t min, max;
	uint64_t start;         /* where the next block starts */
	uint64_t known;         /* bytes of stream described so far */
	uint64_t end;           /* total length, once ended */
	int ended, done;
	/* Entries from the one starting the next block on, v[head..n). */
	struct kh_blocks_entry *v;
	size_t head, n, cap;
};

int kh_blocks_new(uint64_t target, struct kh_blocks **bp,
		  struct kh_error *err)
{
	struct kh_blocks *b;

	*bp = NULL;
	if (target < KH_BLOCKS_TARGET_MIN || target > UINT64_MAX / 4)
		return kh_error_set(err, KH_EINVAL, NULL,
				    "block size %llu is out of range",
				    (unsigned long long)target);
	b = calloc(1, sizeof(*b));
	if (!b)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	b->min = KH_BLOCKS_MIN(target);
	b->max = KH_BLOCKS_MAX(target);
	*bp = b;
	return 0;
}

int kh_blocks_add(struct kh_blocks *b, uint64_t len, uint64_t hash,
		  struct kh_error *err)
{
	if (b->n == b->cap) {
		void *v;

		/* Drop what earlier blocks consumed before growing. */
		if (b->head > 0) {
			memmove(b->v, b->v + b->head,
				(b->n - b->head) * sizeof(*b->v));
			b->n -= b->head;
			b->head = 0;
		}
		v = kh_buf_grow_array(b->v, &b->cap, b->n + 1, sizeof(*b->v),
				      1024);
		if (!v)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		b->v = v;
	}
	b->v[b->n].off = b->known;
	b->v[b->n].hash = hash;
	b->n++;
	b->known += len;
	return 0;
}

void kh_blocks_end(struct kh_blocks *b, uint64_t tail)
{
	b->known += tail;
	b->end = b->known;
	b->ended = 1;
}

/* Cut the next block at entry i (i > head). */
static int kh_blocks_cut(struct kh_blocks *b, size_t i, uint64_t *end)
{
	*end = b->v[i].off;
	b->start = *end;
	b->head = i;
	return 1;
}

int kh_blocks_next(struct kh_blocks *b, uint64_t *end)
{
	uint64_t c = b->start, lo, hi;
	size_t best = 0, last = 0;

	if (b->done || (b->ended && b->end == c))
		return 0;
	if (b->ended && b->end - c <= b->max) {
		b->done = 1;
		*end = b->end;
		return 1;
	}
	/* Not ended: wait until every entry that could matter is known. */
	if (!b->ended && b->known - c < b->min + b->max)
		return 0;
	lo = c + b->min;
	hi = c + b->max;
	if (b->ended && b->end - c < 2 * b->min) {
		/* Two blocks are left: keep both within max. */
		lo = b->end - b->max;
	} else if (b->ended && b->end - b->min < hi) {
		hi = b->end - b->min;
	}
	for (size_t i = b->head + 1; i < b->n && b->v[i].off <= hi; i++) {
		if (b->v[i].off < lo) {
			last = i;
			continue;
		}
		if (!best || b->v[i].hash < b->v[best].hash)
			best = i;
	}
	if (best)
		return kh_blocks_cut(b, best, end);
	if (last)
		return kh_blocks_cut(b, last, end);
	/* No entry starts at or before hi: one (huge) entry. */
	for (size_t i = b->head + 1; i < b->n; i++)
		return kh_blocks_cut(b, i, end);
	if (!b->ended)
		return 0;
	b->done = 1;
	*end = b->end;
	return 1;
}

void kh_blocks_free(struct kh_blocks *b)
{
	if (!b)
		return;
	free(b->v);
	free(b);
}
