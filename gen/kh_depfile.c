/* kh_depfile: Make dependency files (see kh_depfile.h). */
#include "gen/kh_depfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/kh_afile.h"
#include "lib/kh_file.h"

/* Characters Make splits or comments at: written after a backslash. */
static int kh_depfile_special(char c)
{
	return c == ' ' || c == '\t' || c == '#' || c == ':';
}

/* Escape a path for a Make rule: spaces, tabs, '#' and ':' with a
 * backslash, '$' doubled. A backslash is literal to Make, except in a
 * run that ends before one of those characters or at the end of the
 * name, which Make halves: such a run is doubled. A line break cannot
 * be written at all. */
static int kh_depfile_put(FILE *fp, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n' || *s == '\r')
			return -1;
		if (*s == '\\') {
			size_t k = strspn(s, "\\");
			size_t n = !s[k] || kh_depfile_special(s[k]) ? 2 * k : k;

			for (size_t i = 0; i < n; i++)
				fputc('\\', fp);
			s += k - 1;
			continue;
		}
		if (kh_depfile_special(*s))
			fputc('\\', fp);
		if (*s == '$')
			fputc('$', fp);
		fputc(*s, fp);
	}
	return 0;
}

/* Is path's content exactly buf? Read as any file we did not just
 * write: the regular file itself, and no more than len bytes. */
static int kh_depfile_same(const char *path, const char *buf, size_t len)
{
	struct kh_error e = KH_ERROR_INIT;
	char *old = NULL;
	size_t olen = 0;
	int same;

	if (kh_file_read(AT_FDCWD, path, NULL, KH_FILE_NOFOLLOW |
			 KH_FILE_REGULAR | KH_FILE_MISSING_OK, len,
			 "the depfile as it would be written", &old, &olen,
			 &e) != 0)
		return 0;
	same = olen == len && !memcmp(old, buf, len);
	free(old);
	return same;
}

int kh_depfile_write(const char *path, const char *target,
		     const char *const *inputs, size_t n,
		     struct kh_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	int bad = 0, ret;

	if (!fp)
		return kh_error_set(err, KH_ENOMEM, path, "out of memory");
	bad |= kh_depfile_put(fp, target);
	fputs(":", fp);
	for (size_t i = 0; i < n; i++) {
		fputs(" \\\n ", fp);
		bad |= kh_depfile_put(fp, inputs[i]);
	}
	fputs("\n", fp);
	for (size_t i = 0; i < n; i++) {
		fputs("\n", fp);
		bad |= kh_depfile_put(fp, inputs[i]);
		fputs(":\n", fp);
	}
	if (fclose(fp) != 0 || !buf) {
		free(buf);
		return kh_error_set(err, KH_ENOMEM, path, "out of memory");
	}
	if (bad) {
		free(buf);
		return kh_error_set(err, KH_EINVAL, path,
				    "cannot write a depfile: a path has a "
				    "line break");
	}
	ret = 0;
	if (!kh_depfile_same(path, buf, len))
		ret = kh_afile_put(path, buf, len, err);
	free(buf);
	return ret;
}
