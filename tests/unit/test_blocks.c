/* test_blocks: the block cutter (kh_blocks) on synthetic streams shaped
 * like a kernel's headers tar (about 7000 entries, mostly a few KiB,
 * some large): blocks tile the stream and stay within [min, max]; the
 * answer does not depend on when the caller asks; and the property the
 * cache relies on, stability: an insertion, a deletion or an edit of
 * one entry anywhere moves at most two boundaries (in practice almost
 * always none: only the block holding the change is new), and never
 * every later one: a rare cascade (a cut that sat at the very edge of
 * its window) dies out within a few blocks. Plus the edge cases: a tiny
 * stream, entries larger than a block, an empty stream.
 *
 * The trials are random but seeded: the same every run.
 */
#include <stdint.h>
#include <stdlib.h>

#include "gen/kh_blocks.h"
#include "kh_test.h"

#define TARGET (6u << 20)
#define NENT 40000
#define TRIALS 300

struct ent {
	uint64_t id;            /* identity: same id, same content */
	uint64_t len;
	uint64_t hash;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* splitmix64: deterministic, good enough for shapes and hashes. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A tar entry's length: a 512-byte header and data in 512-byte units,
 * a few KiB typically, sometimes tens or hundreds of KiB. */
static uint64_t ent_len(void)
{
	uint64_t r = rng() % 1000, data;

	if (r < 40)
		data = 0;                           /* a directory */
	else if (r < 990)
		data = 1 + rng() % 8192;
	else
		data = 8192 + rng() % (256 * 1024);
	return 512 + (data + 511) / 512 * 512;
}

static struct ent make_ent(uint64_t id)
{
	struct ent e = { id, ent_len(), rng() };

	return e;
}

/* Cut a stream; cuts[k] is the index of the entry starting block k+1.
 * poll_each: ask after every entry (as the pipeline does) or only at
 * the end. Returns the number of blocks; checks the tiling. */
static size_t cut(const struct ent *v, size_t n, uint64_t tail,
		  int poll_each, size_t *cuts)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_blocks *b;
	uint64_t *starts = malloc((n + 1) * sizeof(*starts)), off = 0, end;
	uint64_t prev = 0, total;
	size_t nblocks = 0, ncuts = 0;

	for (size_t i = 0; i < n; i++) {
		starts[i] = off;
		off += v[i].len;
	}
	total = off + tail;
	KH_CHECK(kh_blocks_new(TARGET, &b, &err) == 0);
	for (size_t i = 0; i < n; i++) {
		KH_CHECK(kh_blocks_add(b, v[i].len, v[i].hash, &err) == 0);
		while (poll_each && kh_blocks_next(b, &end)) {
			KH_CHECK(end > prev);
			prev = end;
			nblocks++;
			for (size_t k = 0; k < n; k++)
				if (starts[k] == end)
					cuts[ncuts++] = k;
		}
	}
	kh_blocks_end(b, tail);
	while (kh_blocks_next(b, &end)) {
		uint64_t len = end - prev;

		KH_CHECK(end > prev);
		/* Every block but the last within [min, max] (entries here
		 * are far smaller than a block). */
		if (end != total)
			KH_CHECK(len >= KH_BLOCKS_MIN(TARGET) &&
				 len <= KH_BLOCKS_MAX(TARGET));
		else
			KH_CHECK(len <= KH_BLOCKS_MAX(TARGET));
		prev = end;
		nblocks++;
		if (end != total) {
			size_t k = 0;

			while (k < n && starts[k] != end)
				k++;
			KH_CHECK(k < n);   /* cuts fall on entry starts */
			cuts[ncuts++] = k;
		}
	}
	KH_CHECK(prev == total);
	KH_CHECK(ncuts + 1 == nblocks);
	kh_blocks_free(b);
	free(starts);
	return nblocks;
}

/* Boundaries (by the id of the entry that starts a block) present in
 * one layout and not the other: the larger of the two counts. */
static size_t moved(const struct ent *a, const size_t *ca, size_t na,
		    const struct ent *b, const size_t *cb, size_t nb)
{
	size_t gone = 0, came = 0;

	for (size_t i = 0; i < na; i++) {
		size_t j = 0;

		while (j < nb && b[cb[j]].id != a[ca[i]].id)
			j++;
		gone += j == nb;
	}
	for (size_t j = 0; j < nb; j++) {
		size_t i = 0;

		while (i < na && a[ca[i]].id != b[cb[j]].id)
			i++;
		came += i == na;
	}
	return gone > came ? gone : came;
}

static struct ent base[NENT + 1], work[NENT + 1];
static size_t cbase[NENT], cwork[NENT], cpoll[NENT];

static void test_tiling_and_polling(void)
{
	size_t n1, n2;

	for (size_t i = 0; i < NENT; i++)
		base[i] = make_ent(i);
	n1 = cut(base, NENT, 1024, 1, cpoll);
	n2 = cut(base, NENT, 1024, 0, cbase);
	KH_CHECK(n1 == n2);
	KH_CHECK(!memcmp(cpoll, cbase, (n1 - 1) * sizeof(*cbase)));
	KH_CHECK(n1 > 10);
	printf("test_blocks: %zu entries, %zu blocks\n", (size_t)NENT, n1);
}

/* One change per trial, at a random place; boundaries moved counted. */
static void test_stability(void)
{
	size_t nb = cut(base, NENT, 1024, 0, cbase);
	size_t hist[3][4] = { { 0 } };
	const char *what[3] = { "insert", "delete", "edit" };
	size_t worst = 0;

	for (int t = 0; t < 3 * TRIALS; t++) {
		int kind = t % 3;
		size_t at = rng() % NENT, n = NENT, nw, m;

		memcpy(work, base, sizeof(base));
		if (kind == 0) {
			memmove(work + at + 1, work + at,
				(NENT - at) * sizeof(*work));
			work[at] = make_ent(1000000 + t);
			n++;
		} else if (kind == 1) {
			memmove(work + at, work + at + 1,
				(NENT - at - 1) * sizeof(*work));
			n--;
		} else {
			/* Same entry, new content, a little longer. */
			work[at].hash = rng();
			work[at].len += 512 * (rng() % 3);
		}
		nw = cut(work, n, 1024, 0, cwork);
		m = moved(base, cbase, nb - 1, work, cwork, nw - 1);
		/* Never every later one: the layouts agree again soon. */
		KH_CHECK(m <= 8);
		if (m > worst)
			worst = m;
		hist[kind][m > 3 ? 3 : m]++;
	}
	for (int k = 0; k < 3; k++) {
		printf("test_blocks: %s: of %d, %zu moved no boundary, %zu one, "
		       "%zu two, %zu more\n", what[k], TRIALS, hist[k][0],
		       hist[k][1], hist[k][2], hist[k][3]);
		/* Almost always only the block holding the change is new,
		 * and at most two boundaries move. */
		KH_CHECK(hist[k][0] >= TRIALS * 96 / 100);
		KH_CHECK(hist[k][3] <= TRIALS / 100);
	}
	printf("test_blocks: at most %zu boundaries moved\n", worst);
}

static void test_edges(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_blocks *b;
	uint64_t end;

	/* Too small a target is refused. */
	KH_CHECK(kh_blocks_new(1000, &b, &err) == KH_EINVAL);

	/* A stream shorter than max is one block. */
	KH_CHECK(kh_blocks_new(TARGET, &b, &err) == 0);
	KH_CHECK(kh_blocks_add(b, 512, 1, &err) == 0);
	KH_CHECK(kh_blocks_add(b, 4096, 2, &err) == 0);
	KH_CHECK(kh_blocks_next(b, &end) == 0);
	kh_blocks_end(b, 10240 - 4608);
	KH_CHECK(kh_blocks_next(b, &end) == 1 && end == 10240);
	KH_CHECK(kh_blocks_next(b, &end) == 0);
	kh_blocks_free(b);

	/* Entries larger than max: one entry per block. */
	KH_CHECK(kh_blocks_new(TARGET, &b, &err) == 0);
	for (int i = 0; i < 4; i++)
		KH_CHECK(kh_blocks_add(b, 3 * TARGET, (uint64_t)(9 - i),
				       &err) == 0);
	kh_blocks_end(b, 1024);
	for (uint64_t k = 1; k <= 3; k++)
		KH_CHECK(kh_blocks_next(b, &end) == 1 &&
			 end == k * 3 * TARGET);
	KH_CHECK(kh_blocks_next(b, &end) == 1 && end == 12 * TARGET + 1024);
	KH_CHECK(kh_blocks_next(b, &end) == 0);
	kh_blocks_free(b);

	/* Nothing but a tail: one block. */
	KH_CHECK(kh_blocks_new(TARGET, &b, &err) == 0);
	kh_blocks_end(b, 10240);
	KH_CHECK(kh_blocks_next(b, &end) == 1 && end == 10240);
	kh_blocks_free(b);

	/* The last two blocks share what is left within max when less
	 * than 2 * min remains: 1.3 T of small entries. */
	KH_CHECK(kh_blocks_new(TARGET, &b, &err) == 0);
	for (uint64_t off = 0; off < TARGET + 3 * TARGET / 10; off += 4096)
		KH_CHECK(kh_blocks_add(b, 4096, rng(), &err) == 0);
	kh_blocks_end(b, 0);
	KH_CHECK(kh_blocks_next(b, &end) == 1);
	KH_CHECK(end <= KH_BLOCKS_MAX(TARGET) &&
		 TARGET + 3 * TARGET / 10 - end <= KH_BLOCKS_MAX(TARGET));
	kh_blocks_free(b);
}

KH_TEST_MAIN(test_tiling_and_polling, test_stability, test_edges)
