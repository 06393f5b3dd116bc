/* test_extract: kh_extract_run's limits and stops leave nothing behind:
 * too many entries, too many bytes, a cancel flag raised (as a signal
 * handler raises it), a verifier that objects, an existing DIR; and a
 * good run makes exactly the tree, with the archive root's mode and
 * mtime on DIR, and the counts. The hostile-archive cases are in
 * tests/t-extract-hostile.sh, against the real binary.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract/kh_extract.h"
#include "kh_test.h"

static char top[256];

/* ./, ./a.h (100 bytes), ./sub/, ./sub/b.h (100 bytes), as .tar.xz. */
static unsigned char *make_archive(size_t *len)
{
	static const char *const names[] = { "./", "./a.h", "./sub/",
					      "./sub/b.h" };
	size_t cap = 1 << 16;
	unsigned char *buf = malloc(cap);
	struct archive *a = archive_write_new();
	char data[100];

	memset(data, 'x', sizeof(data));
	archive_write_set_format_gnutar(a);
	archive_write_add_filter_xz(a);
	archive_write_open_memory(a, buf, cap, len);
	for (size_t i = 0; i < 4; i++) {
		struct archive_entry *e = archive_entry_new();
		int dir = names[i][strlen(names[i]) - 1] == '/';

		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
		archive_entry_set_perm(e, dir ? 0750 : 0644);
		archive_entry_set_size(e, dir ? 0 : sizeof(data));
		archive_entry_set_mtime(e, 1700000000, 0);
		archive_write_header(a, e);
		if (!dir)
			archive_write_data(a, data, sizeof(data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return buf;
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	return lstat(p, &st) == 0;
}

/* Nothing but what the test made in top: no DIR, no temporary. */
static int only_entries(size_t want)
{
	char cmd[600];
	FILE *f;
	size_t n = 0;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", top);
	f = popen(cmd, "r");
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		pclose(f);
	return n == want;
}

static int refuse_b(void *ctx, const struct kh_extract_entry *e,
		    struct kh_error *err)
{
	(*(int *)ctx)++;
	if (!strcmp(e->relpath, "sub/b.h"))
		return kh_error_set(err, KH_EINVAL, NULL, "%s: no", e->path);
	return 0;
}

static void test_limits(void)
{
	struct kh_extract_opts o = KH_EXTRACT_OPTS_INIT;
	struct kh_extract_result r;
	struct kh_error err = KH_ERROR_INIT;
	char dir[300];
	size_t len;
	unsigned char *xz = make_archive(&len);

	snprintf(dir, sizeof(dir), "%s/out", top);
	o.dir = dir;

	o.max_entries = 3;
	KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) < 0);
	KH_CHECK(strstr(err.msg, "more entries than the limit") != NULL);
	KH_CHECK(only_entries(0));
	o.max_entries = KH_EXTRACT_MAX_ENTRIES;

	o.max_bytes = 150;
	KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) < 0);
	KH_CHECK(strstr(err.msg, "./sub/b.h: refusing an archive that unpacks "
			"to more than the byte limit") != NULL);
	KH_CHECK(only_entries(0));
	o.max_bytes = KH_EXTRACT_MAX_BYTES;

	{
		volatile sig_atomic_t stop = 1;

		o.cancel = &stop;
		KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) < 0);
		KH_CHECK(strstr(err.msg, "interrupted") != NULL);
		KH_CHECK(only_entries(0));
		o.cancel = NULL;
	}
	{
		int calls = 0;
		struct kh_extract_verifier v = { refuse_b, NULL, &calls };

		o.verify = &v;
		KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) < 0);
		KH_CHECK_STR(err.msg, "./sub/b.h: no");
		KH_CHECK(calls == 3);
		KH_CHECK(only_entries(0));
		o.verify = NULL;
	}
	free(xz);
}

static void test_good(void)
{
	struct kh_extract_opts o = KH_EXTRACT_OPTS_INIT;
	struct kh_extract_result r;
	struct kh_error err = KH_ERROR_INIT;
	char dir[300];
	struct stat st;
	size_t len;
	unsigned char *xz = make_archive(&len);
	mode_t um = umask(022);

	snprintf(dir, sizeof(dir), "%s/out", top);
	o.dir = dir;
	KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) == 0);
	KH_CHECK(r.files == 2 && r.dirs == 1 && r.bytes == 200);
	KH_CHECK(exists("out/a.h") && exists("out/sub/b.h"));
	KH_CHECK(only_entries(1));
	/* DIR takes the root entry's mode and mtime, as tar's target. */
	KH_CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0750 &&
		 st.st_mtime == 1700000000);
	/* The working directory is where it was. */
	{
		char cwd[512];

		KH_CHECK(getcwd(cwd, sizeof(cwd)) && strcmp(cwd, top));
	}
	/* Not again over it... */
	KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) < 0);
	KH_CHECK(strstr(err.msg, "already exists") != NULL);
	/* ...unless replacing, which leaves no old tree behind. */
	o.replace = 1;
	KH_CHECK(kh_extract_run(xz, len, "t", &o, &r, &err) == 0);
	KH_CHECK(only_entries(1));
	umask(um);
	free(xz);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[300];
	void (*tests[])(void) = { test_limits, test_good };

	snprintf(top, sizeof(top), "%s/kh-test-extract.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		return 1;
	}
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		tests[i]();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", top);
	printf("%d passed, %d failed\n", kh_test_pass, kh_test_fail);
	return kh_test_fail ? 1 : 0;
}
