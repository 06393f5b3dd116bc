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
#include "gen/kh_strip.h"

#include <string.h>

/* First occurrence of needle (2 or 4 bytes) at or after from, or len.
 * memchr on the first byte, not memmem: sanitizers check memmem's whole
 * haystack on every call, which made a 100 MB header quadratic. */
static size_t kh_strip_find(const char *buf, size_t len, size_t from,
			    const char *needle, size_t nlen)
{
	while (from < len && len - from >= nlen) {
		const char *hit = memchr(buf + from, needle[0],
					 len - from - nlen + 1);

		if (!hit)
			break;
		from = (size_t)(hit - buf);
		if (!memcmp(hit + 1, needle + 1, nlen - 1))
			return from;
		from++;
	}
	return len;
}

size_t kh_strip(char *buf, size_t len)
{
	size_t in = 0, out = 0;
	size_t close = 0, spdx = 0;   /* cached look-aheads; len = none */
	int have_close = 0, have_spdx = 0;

	while (in < len) {
		size_t p = kh_strip_find(buf, len, in, "/*", 2);

		if (p == len)
			break;
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
