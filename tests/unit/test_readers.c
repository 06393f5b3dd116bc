/* test_readers: the manifest layer's readers under hostile input.
 *
 * - a decompressor whose libarchive support call answers ARCHIVE_WARN
 *   (it would run an external program) is not used: zstd input is
 *   refused, naming zstd; with the real answer it is read;
 * - a tar header that declares 8 GiB of data over one block is a
 *   truncated archive, not an 8 GiB allocation ("out of memory");
 * - a relative mtree entry nested past the path limit is refused with
 *   the limit in the message;
 * - Myers' capped search: unrelated sequences far past the cap give a
 *   correct script (every element deleted and inserted), and sequences
 *   with matches past the cap give a valid common subsequence.
 */
#include <archive.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "kh_test.h"
#include "lib/kh_buf.h"
#include "lib/kh_dl.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"
#include "manifest/kh_myers.h"

#include <archive_entry.h>

/* The test links libarchive directly to write its input: kh_dl.h is
 * included before <archive_entry.h>, so it leaves the plain names
 * alone; the loader's pointer for zstd support is patched. */
extern int (*kh_dl_archive_read_support_filter_zstd)(struct archive *);
static int (*kh_real_zstd)(struct archive *);

static int kh_warn_zstd(struct archive *a)
{
	int r = kh_real_zstd(a);

	/* What a libarchive without libzstd answers: it has registered
	 * `zstd -d` as an external program. */
	return r == ARCHIVE_OK ? ARCHIVE_WARN : r;
}

static la_ssize_t kh_collect(struct archive *a, void *p, const void *buf,
			     size_t n)
{
	(void)a;
	kh_buf_add(p, buf, n);
	return (la_ssize_t)n;
}

/* A one-file tar, compressed with zstd, in *out. */
static int kh_zstd_tar(struct kh_buf *out)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int ok;

	ok = a && e && archive_write_set_format_gnutar(a) == ARCHIVE_OK &&
	     archive_write_add_filter_zstd(a) == ARCHIVE_OK &&
	     /* No zero padding after the zstd frame. */
	     archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK &&
	     archive_write_open(a, out, NULL, kh_collect, NULL) == ARCHIVE_OK;
	if (ok) {
		archive_entry_set_pathname(e, "./a.h");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 3);
		ok = archive_write_header(a, e) == ARCHIVE_OK &&
		     archive_write_data(a, "hi\n", 3) == 3 &&
		     archive_write_close(a) == ARCHIVE_OK;
	}
	archive_entry_free(e);
	archive_write_free(a);
	return ok ? 0 : -1;
}

static void test_external_filter(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_buf z = KH_BUF_INIT;
	struct kh_manifest *m = NULL;

	KH_CHECK(kh_dl_archive(&err) == 0);
	KH_CHECK(kh_zstd_tar(&z) == 0 && !kh_buf_failed(&z));
	if (!z.p)
		return;
	kh_real_zstd = kh_dl_archive_read_support_filter_zstd;
	kh_dl_archive_read_support_filter_zstd = kh_warn_zstd;
	KH_CHECK(kh_archive_read_mem(z.p, z.len, "z.tar.zst", 0, &m,
				     &err) < 0);
	KH_CHECK(m == NULL);
	KH_CHECK(strstr(err.msg, "z.tar.zst: not a tar archive") != NULL);
	KH_CHECK(strstr(err.msg, "decompresses zstd only with an external "
			"program, which kheaders never runs") != NULL);
	kh_dl_archive_read_support_filter_zstd = kh_real_zstd;
	/* With libarchive's own answer the same bytes are read. */
	err = (struct kh_error)KH_ERROR_INIT;
	KH_CHECK(kh_archive_read_mem(z.p, z.len, "z.tar.zst", 0, &m,
				     &err) == 0);
	KH_CHECK(m && kh_manifest_count(m) == 1);
	kh_manifest_free(m);
	kh_buf_free(&z);
}

/* A ustar header for "f" declaring size bytes, then one data block. */
static void kh_tar_header(unsigned char *t, const char *size)
{
	unsigned sum = 0;

	memset(t, 0, 3 * 512);
	strcpy((char *)t, "f");
	strcpy((char *)t + 100, "0000644");
	strcpy((char *)t + 108, "0000000");
	strcpy((char *)t + 116, "0000000");
	strcpy((char *)t + 124, size);
	strcpy((char *)t + 136, "00000000000");
	t[156] = '0';
	memcpy(t + 257, "ustar\0" "00", 8);
	memset(t + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += t[i];
	snprintf((char *)t + 148, 8, "%06o", sum);
	memset(t + 512, 'x', 512);
}

static void test_declared_size(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *m = NULL;
	unsigned char tar[3 * 512];
	struct rlimit old;
	int limited = 0;

	kh_tar_header(tar, "77777777777");   /* 8 GiB - 1 */
	KH_CHECK(kh_dl_archive(&err) == 0 && kh_dl_crypto(&err) == 0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* Below the declared size, so that allocating it fails even
	 * where memory is overcommitted (sanitizers need the address
	 * space for their shadow: not under them). */
	if (getrlimit(RLIMIT_AS, &old) == 0) {
		struct rlimit lim = old;

		lim.rlim_cur = (rlim_t)4 << 30;
		limited = setrlimit(RLIMIT_AS, &lim) == 0;
	}
#endif
	KH_CHECK(kh_archive_read_mem(tar, sizeof(tar), "big.tar",
				     KH_ARCHIVE_READ_DATA, &m, &err) < 0);
	if (limited)
		setrlimit(RLIMIT_AS, &old);
	KH_CHECK(err.code != KH_ENOMEM);
	KH_CHECK(strstr(err.msg, "out of memory") == NULL);
	KH_CHECK(strstr(err.msg, "big.tar: ./f: cannot read") != NULL);
	kh_manifest_free(m);
}

static void test_relative_limit(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_manifest *m = NULL;
	struct kh_buf t = KH_BUF_INIT;

	kh_buf_str(&t, "#mtree\n/set type=dir mode=0755\n");
	for (int i = 0; i < 3000; i++)
		kh_buf_str(&t, "d\n");
	KH_CHECK(!kh_buf_failed(&t));
	KH_CHECK(kh_mtree_parse(t.p, t.len, "deep.mtree", &m, &err) < 0);
	KH_CHECK(m == NULL);
	KH_CHECK(strstr(err.msg, "deep.mtree:2050: relative entry's path "
			"over the 4 KiB limit") != NULL);
	/* Up and down again: as many lines, each path short. */
	t.len = 0;
	kh_buf_str(&t, "#mtree\n/set type=dir mode=0755\n");
	for (int i = 0; i < 3000; i++)
		kh_buf_str(&t, "d\nd\n..\n..\n");
	KH_CHECK(kh_mtree_parse(t.p, t.len, "wide.mtree", &m, &err) == 0);
	KH_CHECK(m && kh_manifest_count(m) == 6000);
	kh_manifest_free(m);
	kh_buf_free(&t);
}

/* The marks leave a common subsequence: what a correct script needs. */
static int kh_common(const uint32_t *a, size_t n, const uint32_t *b,
		     size_t m, const unsigned char *del,
		     const unsigned char *ins, size_t *kept)
{
	size_t i = 0, j = 0;

	*kept = 0;
	for (;;) {
		while (i < n && del[i])
			i++;
		while (j < m && ins[j])
			j++;
		if (i == n || j == m)
			return i == n && j == m;
		if (a[i++] != b[j++])
			return 0;
		(*kept)++;
	}
}

static void test_myers_cap(void)
{
	struct kh_error err = KH_ERROR_INIT;
	size_t n = 20000, kept = 0;
	uint32_t *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b));
	unsigned char *del = malloc(n), *ins = malloc(n);
	unsigned seed = 7;

	KH_CHECK(a && b && del && ins);
	if (!a || !b || !del || !ins)
		goto out;
	/* Unrelated: 40,000 edits, far past the cap. */
	for (size_t i = 0; i < n; i++) {
		a[i] = (uint32_t)i;
		b[i] = (uint32_t)(n + i);
	}
	KH_CHECK(kh_myers(a, n, b, n, del, ins, &err) == 0);
	KH_CHECK(kh_common(a, n, b, n, del, ins, &kept) && kept == 0);
	/* Reversed over a small alphabet: many matches, a long script. */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		a[i] = (seed >> 16) % 50;
	}
	for (size_t i = 0; i < n; i++)
		b[i] = a[n - 1 - i];
	KH_CHECK(kh_myers(a, n, b, n, del, ins, &err) == 0);
	KH_CHECK(kh_common(a, n, b, n, del, ins, &kept));
	/* Within the cap: one change in the middle stays minimal. */
	for (size_t i = 0; i < n; i++)
		b[i] = a[i];
	b[n / 2] = 999;
	KH_CHECK(kh_myers(a, n, b, n, del, ins, &err) == 0);
	KH_CHECK(kh_common(a, n, b, n, del, ins, &kept) && kept == n - 1);
out:
	free(a);
	free(b);
	free(del);
	free(ins);
}

KH_TEST_MAIN(test_external_filter, test_declared_size, test_relative_limit,
	     test_myers_cap)
