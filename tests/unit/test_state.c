/* test_state: numbers in the state file use their whole range.
 *
 * Device and inode numbers are unsigned 64-bit (overlayfs with xino
 * sets the top bits): a state gen writes with such numbers must read
 * back, or every later run would find it "corrupt" and rebuild. Sizes
 * and times must fit a long long; one more digit is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "kh_state.h"
#include "kh_test.h"

#define HEAD "kheaders-state 1\ntool t\nstarted 5\n"
#define HASH "00112233445566778899aabbccddeeff"
#define SHA "0011223344556677889900112233445566778899001122334455667788990011"

static int parses(const char *text, struct kh_state *st)
{
	struct kh_error err = KH_ERROR_INIT;

	return kh_state_parse(text, strlen(text), "t", st, &err);
}

static void test_full_range(void)
{
	const char *text = HEAD
		"output archive " SHA " " HASH " 7 a.tar.xz\n"
		"outstat 18446744073709551615 18446744073709551614 1 2 3\n"
		"input f 0 3 9223372036854775807 18446744073709551615 " HASH
		" include/a.h\n"
		"end 1\n";
	struct kh_state st = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char *out = NULL;
	size_t len = 0;

	KH_CHECK(parses(text, &st) == 0);
	KH_CHECK(st.nin == 1 && st.in[0].ino == 18446744073709551615ULL);
	KH_CHECK(st.in[0].mtime_ns == INT64_MAX);
	KH_CHECK(st.nout == 1 && st.out[0].stat.valid &&
		 st.out[0].stat.dev == 18446744073709551615ULL &&
		 st.out[0].stat.ino == 18446744073709551614ULL &&
		 st.out[0].stat.checked_ns == 3);
	/* What it writes is what it read. */
	KH_CHECK(kh_state_format(&st, &out, &len, &err) == 0);
	KH_CHECK(out && len == strlen(text) && !memcmp(out, text, len));
	free(out);
	kh_state_release(&st);
}

static void test_out_of_range(void)
{
	struct kh_state st = KH_STATE_INIT;

	KH_CHECK(parses(HEAD "input f 0 3 1 18446744073709551616 " HASH
			" include/a.h\nend 1\n", &st) < 0);
	kh_state_release(&st);
	st = (struct kh_state)KH_STATE_INIT;
	KH_CHECK(parses(HEAD "input f 0 3 9223372036854775808 1 " HASH
			" include/a.h\nend 1\n", &st) < 0);
	kh_state_release(&st);
	st = (struct kh_state)KH_STATE_INIT;
	/* An outstat line belongs to the output line before it. */
	KH_CHECK(parses(HEAD "outstat 1 2 3 4 5\nend 0\n", &st) < 0);
	kh_state_release(&st);
}

KH_TEST_MAIN(test_full_range, test_out_of_range)
