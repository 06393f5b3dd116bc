/* kh-payload: the payloads extract/kh_payload.c finds in a file.
 *
 *   kh-payload [-m MAX_OUT] [-c MAX_CANDIDATES] FILE [OUTPREFIX]
 *
 * Prints one line per payload, "WHERE COMP offset=N in=N out=N", and
 * with OUTPREFIX writes payload i to OUTPREFIX.i. Exits 0 when at least
 * one payload came out, 3 when the file has none, 1 with "error: MSG"
 * on stdout when one was refused (after the lines of those before it).
 * Lets shell tests hold the module against the real compressors and
 * real kernel images. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "extract/kh_payload.h"
#include "lib/kh_file.h"

static int write_out(const char *prefix, unsigned n, const struct kh_payload *p)
{
	char path[4096];
	FILE *fp;
	int ok;

	snprintf(path, sizeof(path), "%s.%u", prefix, n);
	if (!(fp = fopen(path, "wb")))
		return -1;
	ok = fwrite(p->data, 1, p->len, fp) == p->len;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct kh_payload_limits lim = KH_PAYLOAD_LIMITS_INIT;
	struct kh_payload p = KH_PAYLOAD_INIT;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_payload_iter *it = NULL;
	char *buf = NULL;
	size_t len;
	unsigned n = 0;
	int c, ret, status;

	while ((c = getopt(argc, argv, "m:c:")) != -1) {
		if (c == 'm')
			lim.max_out = strtoull(optarg, NULL, 0);
		else if (c == 'c')
			lim.max_candidates = (unsigned)strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "usage: kh-payload [-m MAX] [-c N] FILE [OUTPREFIX]\n");
		return 2;
	}
	if (kh_file_read(AT_FDCWD, argv[optind], NULL, 0, (size_t)4 << 30,
			 "an image", &buf, &len, &err) < 0 ||
	    kh_payload_iter_new((unsigned char *)buf, len, argv[optind], &lim,
				&it, &err) < 0) {
		printf("error: %s\n", err.msg);
		free(buf);
		return 1;
	}
	while ((ret = kh_payload_next(it, &p, &err)) == 1) {
		printf("%s %s offset=%zu in=%zu out=%zu\n",
		       kh_payload_where_name(p.where),
		       kh_payload_comp_name(p.comp), p.offset, p.in_len, p.len);
		if (argc - optind == 2 && write_out(argv[optind + 1], n, &p) < 0) {
			perror("kh-payload: write");
			ret = -1;
			break;
		}
		n++;
	}
	if (ret < 0 && err.msg[0])
		printf("error: %s\n", err.msg);
	status = ret < 0 ? 1 : n ? 0 : 3;
	kh_payload_release(&p);
	kh_payload_iter_free(it);
	free(buf);
	if (fflush(stdout) || ferror(stdout))
		return 2;
	return status;
}
