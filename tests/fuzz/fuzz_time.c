/* fuzz_time: the timestamp parser (lib/kh_time.c).
 *
 * Properties: a parse either fails with a message or gives a time tar
 * can store; what kh_time_format prints for it parses back to the same
 * second; SOURCE_DATE_EPOCH parsing agrees with "@" parsing on plain
 * digit strings.
 */
#include <string.h>

#include "fuzz.h"
#include "lib/kh_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_error err = KH_ERROR_INIT;
	char *s = malloc(size + 2);
	int64_t t = -1, t2 = -1;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (kh_time_parse(s, "fuzz", &t, &err) == 0) {
		char buf[64];
		struct kh_error e2 = KH_ERROR_INIT;

		FUZZ_CHECK(t >= 0 && t <= KH_TIME_MAX);
		kh_time_format(t, buf, sizeof(buf));
		FUZZ_CHECK(kh_time_parse(buf, "fuzz", &t2, &e2) == 0);
		FUZZ_CHECK(t2 == t);
	} else {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
	}
	err = (struct kh_error)KH_ERROR_INIT;
	if (kh_time_parse_epoch(s, "fuzz", &t, &err) == 0) {
		/* "@" + the same digits must mean the same second. */
		struct kh_error e2 = KH_ERROR_INIT;

		memmove(s + 1, s, strlen(s) + 1);
		s[0] = '@';
		FUZZ_CHECK(kh_time_parse(s, "fuzz", &t2, &e2) == 0);
		FUZZ_CHECK(t2 == t);
	} else {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
	}
	free(s);
	return 0;
}
