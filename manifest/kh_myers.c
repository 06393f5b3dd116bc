/* kh_myers: shortest edit script, linear space (see kh_myers.h).
 *
 * The bisection follows the structure of diff-match-patch's
 * diff_bisect (itself Myers 1986, section 4b): forward and backward
 * searches advance one edit at a time until they overlap, diagonals
 * that run off the edit graph are dropped, and the problem is split at
 * the overlap. Each half then has a strictly smaller edit distance, so
 * the recursion ends; common prefixes and suffixes are peeled first,
 * which also makes the usual case (a few changed lines) nearly linear.
 *
 * The search has a cost cap (KH_MYERS_MAX_D, see kh_myers.h): when the
 * two searches have not met after that many steps each, the section is
 * split at the point the forward search got furthest along, as GNU
 * diff does when a search is "too expensive". The script stays a
 * correct one, only perhaps not the shortest, and the cost stays near
 * O((N + M) * KH_MYERS_MAX_D) instead of O((N + M) * D): 20,000 distinct
 * lines against 20,000 others took 2 s, and four times that per
 * doubling.
 */
#include "manifest/kh_myers.h"

#include <stdlib.h>
#include <string.h>

struct kh_myers {
	const uint32_t *a, *b;
	unsigned char *del, *ins;
	long *v1, *v2;          /* scratch, 2 * dmax + 2 each */
	long dmax;              /* steps each search may take */
};

static void kh_myers_run(struct kh_myers *c, long ao, long n, long bo,
			 long m);

/* Mark a[ao..ao+n) deleted and b[bo..bo+m) inserted. */
static void kh_myers_replace(struct kh_myers *c, long ao, long n, long bo,
			     long m)
{
	memset(c->del + ao, 1, (size_t)n);
	memset(c->ins + bo, 1, (size_t)m);
}

/* The search met its cap: split where the forward search got furthest
 * (largest x + y on a diagonal still inside the graph). Each half is
 * smaller, and the first one is within the cap, so this ends. 0 when
 * there is no such point. */
static int kh_myers_split(struct kh_myers *c, long ao, long n, long bo,
			  long m, long d, long k1start, long k1end)
{
	long best = -1, bx = 0, by = 0;

	for (long k = -(d - 1) + k1start; k <= (d - 1) - k1end; k += 2) {
		long x = c->v1[d + k], y = x - k;

		if (x >= 0 && x <= n && y >= 0 && y <= m && x + y > best &&
		    x + y < n + m) {
			best = x + y;
			bx = x;
			by = y;
		}
	}
	if (best <= 0)
		return 0;
	kh_myers_run(c, ao, bx, bo, by);
	kh_myers_run(c, ao + bx, n - bx, bo + by, m - by);
	return 1;
}

static void kh_myers_bisect(struct kh_myers *c, long ao, long n, long bo,
			    long m)
{
	const uint32_t *a = c->a + ao, *b = c->b + bo;
	long max_d = (n + m + 1) / 2, lim = max_d < c->dmax ? max_d : c->dmax;
	long off = lim, len = 2 * lim + 2;
	long *v1 = c->v1, *v2 = c->v2;
	long delta = n - m;
	int front = delta % 2 != 0;
	long k1start = 0, k1end = 0, k2start = 0, k2end = 0;

	for (long i = 0; i < len; i++)
		v1[i] = v2[i] = -1;
	v1[off + 1] = 0;
	v2[off + 1] = 0;
	for (long d = 0; d < lim; d++) {
		for (long k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
			long k1o = off + k1, x1, y1;

			if (k1 == -d || (k1 != d && v1[k1o - 1] < v1[k1o + 1]))
				x1 = v1[k1o + 1];
			else
				x1 = v1[k1o - 1] + 1;
			y1 = x1 - k1;
			while (x1 < n && y1 < m && a[x1] == b[y1]) {
				x1++;
				y1++;
			}
			v1[k1o] = x1;
			if (x1 > n) {
				k1end += 2;      /* off the right edge */
			} else if (y1 > m) {
				k1start += 2;    /* off the bottom edge */
			} else if (front) {
				long k2o = off + delta - k1;

				if (k2o >= 0 && k2o < len && v2[k2o] != -1 &&
				    x1 >= n - v2[k2o]) {
					kh_myers_run(c, ao, x1, bo, y1);
					kh_myers_run(c, ao + x1, n - x1,
						     bo + y1, m - y1);
					return;
				}
			}
		}
		for (long k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
			long k2o = off + k2, x2, y2;

			if (k2 == -d || (k2 != d && v2[k2o - 1] < v2[k2o + 1]))
				x2 = v2[k2o + 1];
			else
				x2 = v2[k2o - 1] + 1;
			y2 = x2 - k2;
			while (x2 < n && y2 < m &&
			       a[n - x2 - 1] == b[m - y2 - 1]) {
				x2++;
				y2++;
			}
			v2[k2o] = x2;
			if (x2 > n) {
				k2end += 2;
			} else if (y2 > m) {
				k2start += 2;
			} else if (!front) {
				long k1o = off + delta - k2;

				if (k1o >= 0 && k1o < len && v1[k1o] != -1) {
					long x1 = v1[k1o];
					long y1 = x1 - (k1o - off);

					if (x1 >= n - x2) {
						kh_myers_run(c, ao, x1, bo, y1);
						kh_myers_run(c, ao + x1,
							     n - x1, bo + y1,
							     m - y1);
						return;
					}
				}
			}
		}
	}
	if (lim < max_d && kh_myers_split(c, ao, n, bo, m, lim, k1start,
					  k1end))
		return;
	/* Not reached for a consistent search; still a valid script. */
	kh_myers_replace(c, ao, n, bo, m);
}

static void kh_myers_run(struct kh_myers *c, long ao, long n, long bo,
			 long m)
{
	while (n > 0 && m > 0 && c->a[ao] == c->b[bo]) {
		ao++;
		bo++;
		n--;
		m--;
	}
	while (n > 0 && m > 0 && c->a[ao + n - 1] == c->b[bo + m - 1]) {
		n--;
		m--;
	}
	if (n == 0 || m == 0) {
		kh_myers_replace(c, ao, n, bo, m);
		return;
	}
	kh_myers_bisect(c, ao, n, bo, m);
}

int kh_myers(const uint32_t *a, size_t n, const uint32_t *b, size_t m,
	     unsigned char *del, unsigned char *ins, struct kh_error *err)
{
	struct kh_myers c = { .a = a, .b = b, .del = del, .ins = ins,
			      .dmax = KH_MYERS_MAX_D };
	size_t half = (n + m + 1) / 2;
	size_t len = (half < KH_MYERS_MAX_D ? half : KH_MYERS_MAX_D) * 2 + 2;

	memset(del, 0, n);
	memset(ins, 0, m);
	c.v1 = malloc(len * sizeof(long));
	c.v2 = malloc(len * sizeof(long));
	if (!c.v1 || !c.v2) {
		free(c.v1);
		free(c.v2);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	kh_myers_run(&c, 0, (long)n, 0, (long)m);
	free(c.v1);
	free(c.v2);
	return 0;
}
