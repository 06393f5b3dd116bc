/* kh_test: a one-header unit test harness.
 *
 * KH_CHECK(cond) records a failure with file:line and goes on;
 * KH_TEST_MAIN runs the listed tests and exits 0 only if none failed,
 * printing "N passed, N failed" over the checks. A binary that made no
 * check at all fails too (as xz's tuktest does): a test that silently
 * stopped checking must not pass.
 */
#ifndef KH_TEST_H
#define KH_TEST_H

#include <stdio.h>
#include <string.h>

static int kh_test_pass, kh_test_fail;

#define KH_CHECK(cond)                                                  \
	do {                                                            \
		if (cond) {                                             \
			kh_test_pass++;                                 \
		} else {                                                \
			kh_test_fail++;                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n",    \
				__FILE__, __LINE__, #cond);             \
		}                                                       \
	} while (0)

#define KH_CHECK_STR(a, b)                                              \
	do {                                                            \
		const char *kh_a_ = (a), *kh_b_ = (b);                  \
		if (kh_a_ && kh_b_ && !strcmp(kh_a_, kh_b_)) {          \
			kh_test_pass++;                                 \
		} else {                                                \
			kh_test_fail++;                                 \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n",    \
				__FILE__, __LINE__, kh_a_ ? kh_a_ : "(null)", \
				kh_b_ ? kh_b_ : "(null)");              \
		}                                                       \
	} while (0)

#define KH_TEST_MAIN(...)                                               \
	int main(void)                                                  \
	{                                                               \
		void (*tests[])(void) = { __VA_ARGS__ };                \
		for (size_t i = 0; i < sizeof(tests) / sizeof(*tests); i++) \
			tests[i]();                                     \
		printf("%d passed, %d failed\n", kh_test_pass, kh_test_fail); \
		if (kh_test_pass + kh_test_fail == 0) {                 \
			fprintf(stderr, "no check ran\n");              \
			return 1;                                       \
		}                                                       \
		return kh_test_fail ? 1 : 0;                            \
	}

#endif
