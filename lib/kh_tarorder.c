/* kh_tarorder: GNU tar --sort=name order on whole paths (see
 * kh_tarorder.h). gen/kh_walk_list.c keeps a word-at-a-time twin for its
 * sort of known-length names, checked against this one by test_walk. */
#include "lib/kh_tarorder.h"

int kh_tarorder_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca != cb) {
			if (!ca || !cb)
				return ca ? 1 : -1;
			if (ca == '/')
				return -1;
			if (cb == '/')
				return 1;
			return ca < cb ? -1 : 1;
		}
		if (!ca)
			return 0;
	}
}
