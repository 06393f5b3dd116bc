/* test_hsink: the hashing stage of the output chain hands every byte on
 * unchanged, in the same pieces, and its digests and count equal those
 * of the whole stream hashed at once, however the stream was cut; a
 * failure of the next stage comes back; a write after the end is
 * refused. */
#include <stdlib.h>

#include "kh_test.h"
#include "lib/kh_hash.h"
#include "lib/kh_hsink.h"

struct mem {
	unsigned char buf[1 << 16];
	size_t len, calls;
	int fail_at;           /* fail the nth call (1-based), 0 never */
};

static int mem_write(void *ctx, const void *buf, size_t len,
		     struct kh_error *err)
{
	struct mem *m = ctx;

	if (++m->calls == (size_t)m->fail_at)
		return kh_error_set(err, KH_EIO, "out", "disk full");
	if (m->len + len > sizeof(m->buf))
		return kh_error_set(err, KH_EIO, "out", "test buffer full");
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	return 0;
}

static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + (i >> 8));
}

/* Cut the stream at step-sized pieces (step 0: one piece, with an
 * empty write first). */
static void run(size_t step, unsigned what)
{
	static unsigned char data[40000];
	unsigned char sha[KH_SHA256_LEN], xxh[KH_XXH128_LEN];
	struct kh_error err = KH_ERROR_INIT;
	struct mem *m = calloc(1, sizeof(*m));
	struct kh_hsink *hs = NULL;
	struct kh_hsink_sum sum;
	struct kh_sink next = { mem_write, m }, s;
	size_t pieces = 0;
	int ok = 1;

	fill(data, sizeof(data));
	KH_CHECK(kh_hsink_new(next, what, "out", &hs, &err) == 0);
	if (!hs) {
		free(m);
		return;
	}
	s = kh_hsink_sink(hs);
	if (!step) {
		KH_CHECK(s.write(s.ctx, data, 0, &err) == 0);
		step = sizeof(data);
	}
	for (size_t at = 0; at < sizeof(data); at += step, pieces++) {
		size_t n = sizeof(data) - at < step ? sizeof(data) - at : step;

		ok &= s.write(s.ctx, data + at, n, &err) == 0;
	}
	KH_CHECK(ok);
	KH_CHECK(kh_hsink_end(hs, &sum, &err) == 0);
	/* Handed on whole and in the same pieces. */
	KH_CHECK(m->len == sizeof(data) && !memcmp(m->buf, data, m->len));
	KH_CHECK(m->calls >= pieces);
	KH_CHECK(sum.size == sizeof(data));
	kh_hash_xxh128(data, sizeof(data), xxh);
	KH_CHECK(kh_hash_sha256(data, sizeof(data), sha, &err) == 0);
	if (what & KH_HSINK_SHA256)
		KH_CHECK(!memcmp(sum.sha256, sha, sizeof(sha)));
	if (what & KH_HSINK_XXH128)
		KH_CHECK(!memcmp(sum.xxh128, xxh, sizeof(xxh)));
	/* Ended: a late write is an error, not a silent wrong digest. */
	KH_CHECK(s.write(s.ctx, data, 1, &err) < 0);
	KH_CHECK(kh_hsink_end(hs, &sum, &err) < 0);
	kh_hsink_free(hs);
	free(m);
}

static void test_hsink_pieces(void)
{
	unsigned both = KH_HSINK_SHA256 | KH_HSINK_XXH128;

	run(0, both);
	run(1, both);
	run(511, both);
	run(10240, both);
	run(7, KH_HSINK_SHA256);
	run(4096, KH_HSINK_XXH128);
}

/* With no next stage it only hashes; the known digests of "abc". */
static void test_hsink_alone(void)
{
	static const char want[] = "ba7816bf8f01cfea414140de5dae2223"
				   "b00361a396177a9cb410ff61f20015ad";
	struct kh_error err = KH_ERROR_INIT;
	struct kh_sink none = { NULL, NULL }, s;
	struct kh_hsink *hs = NULL;
	struct kh_hsink_sum sum;
	char hex[2 * KH_SHA256_LEN + 1];

	KH_CHECK(kh_hsink_new(none, KH_HSINK_SHA256, "x", &hs, &err) == 0);
	if (!hs)
		return;
	s = kh_hsink_sink(hs);
	KH_CHECK(s.write(s.ctx, "a", 1, &err) == 0);
	KH_CHECK(s.write(s.ctx, "bc", 2, &err) == 0);
	KH_CHECK(kh_hsink_end(hs, &sum, &err) == 0);
	kh_hash_hex(sum.sha256, KH_SHA256_LEN, hex);
	KH_CHECK_STR(hex, want);
	KH_CHECK(sum.size == 3);
	kh_hsink_free(hs);
}

/* The next stage's error comes back as it was. */
static void test_hsink_next_fails(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct mem *m = calloc(1, sizeof(*m));
	struct kh_sink next = { mem_write, m }, s;
	struct kh_hsink *hs = NULL;

	m->fail_at = 2;
	KH_CHECK(kh_hsink_new(next, KH_HSINK_XXH128, "out", &hs, &err) == 0);
	if (hs) {
		s = kh_hsink_sink(hs);
		KH_CHECK(s.write(s.ctx, "ab", 2, &err) == 0);
		KH_CHECK(s.write(s.ctx, "cd", 2, &err) == KH_EIO);
		KH_CHECK(strstr(err.msg, "disk full") != NULL);
		/* Freed without an end: nothing leaks (ASan). */
		kh_hsink_free(hs);
	}
	kh_hsink_free(NULL);
	free(m);
}

/* kh_hash_fd, rebuilt on the same run, agrees with the one-shot. */
static void test_hash_run_fd(void)
{
	unsigned char data[100000], a[KH_SHA256_LEN], b[KH_SHA256_LEN];
	unsigned char x[KH_XXH128_LEN], y[KH_XXH128_LEN];
	struct kh_error err = KH_ERROR_INIT;
	unsigned long long size = 0;
	FILE *fp = tmpfile();

	fill(data, sizeof(data));
	KH_CHECK(fp && fwrite(data, 1, sizeof(data), fp) == sizeof(data));
	if (!fp)
		return;
	fflush(fp);
	rewind(fp);
	KH_CHECK(kh_hash_fd(fileno(fp), "tmp", a, x, &size, &err) == 0);
	KH_CHECK(size == sizeof(data));
	KH_CHECK(kh_hash_sha256(data, sizeof(data), b, &err) == 0);
	kh_hash_xxh128(data, sizeof(data), y);
	KH_CHECK(!memcmp(a, b, sizeof(a)) && !memcmp(x, y, sizeof(x)));
	fclose(fp);
}

KH_TEST_MAIN(test_hsink_pieces, test_hsink_alone, test_hsink_next_fails,
	     test_hash_run_fd)
