/* fuzz_state: the state-file reader (gen/kh_state.c kh_state_parse).
 *
 * Properties: a parse either fails with a message (and leaves nothing
 * allocated: LeakSanitizer checks) or succeeds; what succeeds formats
 * to text that parses again to the same text (format . parse is
 * idempotent), so a state gen wrote is always one gen can read.
 */
#include <string.h>

#include "fuzz.h"
#include "gen/kh_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_state st = KH_STATE_INIT, st2 = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;

	if (kh_state_parse((const char *)data, size, "fuzz", &st, &err) < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
		return 0;
	}
	FUZZ_CHECK(st.tool != NULL);
	FUZZ_CHECK(kh_state_format(&st, &t1, &n1, &err) == 0);
	if (kh_state_parse(t1, n1, "fuzz", &st2, &err) < 0) {
		fprintf(stderr, "reparse: %s\n", err.msg);
		FUZZ_CHECK(!"formatted state parses again");
	}
	FUZZ_CHECK(st2.nin == st.nin && st2.nout == st.nout &&
		   st2.noptions == st.noptions);
	FUZZ_CHECK(kh_state_format(&st2, &t2, &n2, &err) == 0);
	FUZZ_CHECK(n1 == n2 && !memcmp(t1, t2, n1));
	free(t1);
	free(t2);
	kh_state_release(&st);
	kh_state_release(&st2);
	return 0;
}
