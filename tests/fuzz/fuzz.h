/* fuzz.h: what the fuzz targets in tests/fuzz/ share.
 *
 * Each fuzz_NAME.c defines LLVMFuzzerTestOneInput. Built with clang
 * -fsanitize=fuzzer it is a libFuzzer binary (`make fuzz`); linked with
 * replay.c instead it is a plain program that runs every file of its
 * corpus through the same function (test_fuzz_NAME, part of `make
 * check`), so corpora and crash reproducers keep being exercised by
 * any compiler, with or without sanitizers.
 *
 * Targets check properties, not just "no crash": FUZZ_CHECK aborts
 * with the failed condition, which libFuzzer reports as a crash and
 * the replay driver as a failed test.
 */
#ifndef KH_FUZZ_H
#define KH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: property failed: %s\n", \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

#endif
