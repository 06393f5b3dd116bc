/* replay: run files through a fuzz target without libFuzzer.
 *
 *   test_fuzz_NAME [FILE|DIR]...
 *
 * With no argument, the target's corpus (KH_FUZZ_CORPUS, relative to
 * the top of the repository, where tests/run starts tests). Each file
 * is one input; directories are read in name order, not recursively.
 * A failed property aborts (the file being run is named first); a
 * clean run prints "N inputs replayed".
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef KH_FUZZ_CORPUS
#error "KH_FUZZ_CORPUS must name the target's corpus directory"
#endif

static size_t replay_count;

static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			unsigned char *p = realloc(buf, cap = cap ? 2 * cap
							       : 65536);

			if (!p) {
				fprintf(stderr, "replay: out of memory\n");
				exit(2);
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, fp);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	/* Say which input is running, so an abort names it. */
	fprintf(stderr, "replay: %s\n", path);
	/* An exact-size copy, so that ASan sees reads past the end. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (!exact) {
			fprintf(stderr, "replay: out of memory\n");
			exit(2);
		}
		if (len)
			memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	free(buf);
	replay_count++;
	return 0;
}

static int replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *d;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (!dp) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **p = realloc(names, (cap = cap ? 2 * cap : 256) *
						  sizeof(*names));

			if (!p) {
				fprintf(stderr, "replay: out of memory\n");
				exit(2);
			}
			names = p;
		}
		if (asprintf(&names[n], "%s/%s", dir, d->d_name) < 0) {
			fprintf(stderr, "replay: out of memory\n");
			exit(2);
		}
		n++;
	}
	closedir(dp);
	if (n)
		qsort(names, n, sizeof(*names), replay_name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(names[i]) < 0)
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	if (argc < 2) {
		ret = replay_dir(KH_FUZZ_CORPUS);
	} else {
		for (int i = 1; i < argc; i++) {
			struct stat st;

			if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
				ret |= replay_dir(argv[i]);
			else
				ret |= replay_file(argv[i]);
		}
	}
	if (ret == 0 && replay_count == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("%zu inputs replayed\n", replay_count);
	return ret ? 1 : 0;
}
