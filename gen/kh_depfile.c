/* kh_depfile: Make dependency files (see kh_depfile.h). */
#include "kh_depfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kh_afile.h"

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

/* Is path's content exactly buf? */
static int kh_depfile_same(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), same = 0;
	struct stat st;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == len) {
		char *old = malloc(len + 1);

		same = old && read(fd, old, len + 1) == (ssize_t)len &&
		       !memcmp(old, buf, len);
		free(old);
	}
	close(fd);
	return same;
}

int kh_depfile_write(const char *path, const char *target,
		     const char *const *inputs, size_t n,
		     struct kh_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct kh_afile *af;
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
	if (!kh_depfile_same(path, buf, len)) {
		ret = kh_afile_open(path, &af, err);
		if (ret == 0)
			ret = kh_afile_write(af, buf, len, err);
		if (ret == 0)
			ret = kh_afile_commit(af, err);
		else
			kh_afile_abort(af);
	}
	free(buf);
	return ret;
}
