/* fuzz_strip: the comment stripper (gen/kh_strip.c), differentially.
 *
 * kh_strip is a linear, cached-look-ahead rendering of upstream's
 *     s/\/\*((?!SPDX).)*?\*\///smg
 * The reference below is the regular expression transcribed as a
 * backtracking engine would run it, with no cleverness: at each
 * position, try to match; the lazy body first tries to end ("*" "/"),
 * else the look-ahead must not see "SPDX" and one byte (any byte,
 * /s) is consumed; a failed match emits one byte and moves on by one;
 * a match is deleted and the scan goes on after it (/g). Quadratic,
 * obviously right. The two must agree on every input.
 */
#include <string.h>

#include "fuzz.h"
#include "gen/kh_strip.h"

static size_t ref_strip(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (len - i >= 2 && in[i] == '/' && in[i + 1] == '*') {
			size_t q = i + 2;
			int matched = 0;

			for (;;) {
				if (len - q >= 2 && in[q] == '*' &&
				    in[q + 1] == '/') {
					matched = 1;      /* the lazy end */
					break;
				}
				if (q >= len)
					break;            /* '.' needs a byte */
				if (len - q >= 4 && !memcmp(in + q, "SPDX", 4))
					break;            /* (?!SPDX) fails */
				q++;
			}
			if (matched) {
				i = q + 2;
				continue;
			}
		}
		out[o++] = in[i++];
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = malloc(size ? size : 1), *b = malloc(size ? size : 1);
	size_t na, nb;

	if (!a || !b) {
		free(a);
		free(b);
		return 0;
	}
	if (size)
		memcpy(a, data, size);
	na = kh_strip(a, size);
	nb = ref_strip((const char *)data, size, b);
	if (na != nb || memcmp(a, b, na))
		fprintf(stderr, "kh_strip gave %zu bytes, the reference %zu\n",
			na, nb);
	FUZZ_CHECK(na == nb && !memcmp(a, b, na));
	/* And it never grows its input. */
	FUZZ_CHECK(na <= size);
	free(a);
	free(b);
	return 0;
}
