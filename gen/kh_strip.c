/* kh_strip: upstream-identical comment stripping (see kh_strip.h).
 *
 * How the perl expression behaves, and so what this code does: at each
 * position p holding a slash-star, the lazy body ends at the first
 * star-slash at or after p + 2 (call it q). The match succeeds iff such
 * a q exists and no "SPDX" starts inside [p + 2, q). On success the
 * bytes [p, q + 2) go and the scan resumes at q + 2; on failure it
 * resumes at p + 1. Both q and the next "SPDX" only move forward as p
 * does, so one pass with two cached look-aheads is linear.
 */
#include "kh_strip.h"

#include <string.h>

/* First occurrence of the 2-byte or 4-byte needle at or after from. */
static size_t kh_strip_find(const char *buf, size_t len, size_t from,
			    const char *needle, size_t nlen)
{
	const char *hit;

	if (from >= len || len - from < nlen)
		return len;
	hit = memmem(buf + from, len - from, needle, nlen);
	return hit ? (size_t)(hit - buf) : len;
}

size_t kh_strip(char *buf, size_t len)
{
	size_t in = 0, out = 0;
	size_t close = 0, spdx = 0;   /* cached look-aheads; len = none */
	int have_close = 0, have_spdx = 0;

	while (in < len) {
		const char *open = memmem(buf + in, len - in, "/*", 2);
		size_t p;

		if (!open)
			break;
		p = (size_t)(open - buf);
		if (!have_close || close < p + 2) {
			close = kh_strip_find(buf, len, p + 2, "*/", 2);
			have_close = 1;
		}
		if (close == len)
			break;            /* no later comment can close either */
		if (!have_spdx || spdx < p + 2) {
			spdx = kh_strip_find(buf, len, p + 2, "SPDX", 4);
			have_spdx = 1;
		}
		/* Keep the bytes before p, since they are not a comment. */
		memmove(buf + out, buf + in, p - in);
		out += p - in;
		if (spdx < close) {
			/* Protected comment: keep "/" and retry at p + 1. */
			buf[out++] = buf[p];
			in = p + 1;
			continue;
		}
		in = close + 2;
	}
	memmove(buf + out, buf + in, len - in);
	return out + (len - in);
}
