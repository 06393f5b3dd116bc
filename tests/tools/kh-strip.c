/* kh-strip: stdin -> kh_strip -> stdout. Lets shell tests hold the
 * stripper against upstream's perl expression on any input. */
#include <stdio.h>
#include <stdlib.h>

#include "gen/kh_strip.h"

int main(void)
{
	size_t cap = 1 << 16, len = 0, n;
	char *buf = malloc(cap);

	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (!buf || ferror(stdin))
		return 2;
	len = kh_strip(buf, len);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout))
		return 2;
	free(buf);
	return 0;
}
