/* kh-time: print what kh_time_parse makes of each argument, one line
 * each: the seconds since the epoch, or "error: <message>". Exits 1 if
 * any argument failed to parse, 0 otherwise. Lets shell tests hold the
 * parser against GNU date on any string. */
#include <inttypes.h>
#include <stdio.h>

#include "lib/kh_time.h"

int main(int argc, char **argv)
{
	int status = 0;

	for (int i = 1; i < argc; i++) {
		struct kh_error err = KH_ERROR_INIT;
		int64_t t;

		if (kh_time_parse(argv[i], "kh-time", &t, &err) < 0) {
			printf("error: %s\n", err.msg);
			status = 1;
		} else {
			printf("%" PRId64 "\n", t);
		}
	}
	if (fflush(stdout) || ferror(stdout))
		return 2;
	return status;
}
