/* test_bcache: the compressed block cache (kh_bcache) never hands out a
 * wrong block and stays within its bound:
 *   - a stored block comes back byte for byte, under its key only;
 *   - a corrupt entry (a flipped bit, a truncation, a block filed under
 *     another key, garbage, a stray symlink) is ignored and removed;
 *   - eviction keeps the most recently used entries, then the smallest
 *     keys, so two caches with the same history hold the same entries
 *     and the same index, whatever order files were made in;
 *   - the bytes kept never exceed the bound;
 *   - a second user of a busy cache goes without; a killed run's
 *     temporaries are removed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kh_bcache.h"
#include "kh_test.h"
#include "kh_xzblk.h"

#define NBLK 6
#define SETTINGS "preset0,lc4,pb0,crc64,liblzma-test"

static char top[4096];
static unsigned char data[NBLK][20000];
static struct kh_xzblk blk[NBLK];
static unsigned char key[NBLK][KH_XXH128_LEN];

static void path_of(const char *dir, int i, char *buf, size_t size)
{
	char hex[2 * KH_XXH128_LEN + 1];

	kh_hash_hex(key[i], KH_XXH128_LEN, hex);
	snprintf(buf, size, "%.4000s/%s.xzb", dir, hex);
}

static void subdir(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", top, name);
}

/* Entry files in dir and the bytes they take. */
static size_t entries(const char *dir, uint64_t *bytes)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	size_t n = 0;

	*bytes = 0;
	while (dp && (d = readdir(dp))) {
		struct stat st;
		char p[8192];

		if (!strstr(d->d_name, ".xzb"))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, d->d_name);
		if (stat(p, &st) == 0)
			*bytes += (uint64_t)st.st_size;
		n++;
	}
	if (dp)
		closedir(dp);
	return n;
}

static int has(const char *dir, int i)
{
	char p[8192];

	path_of(dir, i, p, sizeof(p));
	return access(p, F_OK) == 0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = malloc(1 << 20);

	*len = fp ? fread(buf, 1, 1 << 20, fp) : 0;
	if (fp)
		fclose(fp);
	return buf;
}

static void setup(void)
{
	struct kh_error err = KH_ERROR_INIT;
	const char *t = getenv("TEST_TMP");
	uint64_t x = 12345;

	snprintf(top, sizeof(top), "%s/bcache.XXXXXX", t ? t : "/tmp");
	KH_CHECK(mkdtemp(top) != NULL);
	for (int i = 0; i < NBLK; i++) {
		/* Compressible but distinct: text-like runs plus noise. */
		for (size_t j = 0; j < sizeof(data[i]); j++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			data[i][j] = (unsigned char)("abcdefgh"[(x >> 60) & 7] +
						     (j % 97 == 0 ? i : 0));
		}
		KH_CHECK(kh_xzblk_encode(0, data[i], sizeof(data[i]), &blk[i],
					 &err) == 0);
		KH_CHECK(kh_xzblk_check(&blk[i]) == 0);
		kh_bcache_key(SETTINGS, data[i], sizeof(data[i]), key[i]);
	}
}

static void test_roundtrip(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_bcache *bc;
	struct kh_xzblk got;
	unsigned char other[KH_XXH128_LEN];
	char dir[4200];

	subdir("rt", dir, sizeof(dir));
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(kh_bcache_get(bc, key[0], &got) == 0);
	KH_CHECK(kh_bcache_put(bc, key[0], &blk[0], &err) == 0);
	KH_CHECK(kh_bcache_get(bc, key[0], &got) == 1);
	KH_CHECK(got.size == blk[0].size && got.unpadded == blk[0].unpadded &&
		 got.uncompressed == blk[0].uncompressed &&
		 !memcmp(got.buf, blk[0].buf, got.size));
	kh_xzblk_release(&got);
	/* The key covers settings and data. */
	kh_bcache_key("preset6,lc4,pb0,crc64,liblzma-test", data[0],
		      sizeof(data[0]), other);
	KH_CHECK(memcmp(other, key[0], KH_XXH128_LEN));
	KH_CHECK(kh_bcache_get(bc, other, &got) == 0);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);

	/* Another run finds it. */
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(kh_bcache_get(bc, key[0], &got) == 1);
	kh_xzblk_release(&got);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);
}

/* Damage entry 0's file with fn, then it must be a miss and be gone. */
static void corrupt_case(const char *name, void (*fn)(const char *path))
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_bcache *bc;
	struct kh_xzblk got;
	char dir[4200], p[8192];

	subdir(name, dir, sizeof(dir));
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(kh_bcache_put(bc, key[0], &blk[0], &err) == 0);
	KH_CHECK(kh_bcache_put(bc, key[1], &blk[1], &err) == 0);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);
	path_of(dir, 0, p, sizeof(p));
	fn(p);
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(kh_bcache_get(bc, key[0], &got) == 0);
	KH_CHECK(got.buf == NULL);
	KH_CHECK(!has(dir, 0));
	/* The healthy neighbour is still served. */
	KH_CHECK(kh_bcache_get(bc, key[1], &got) == 1);
	kh_xzblk_release(&got);
	/* And a fresh put replaces the bad one. */
	KH_CHECK(kh_bcache_put(bc, key[0], &blk[0], &err) == 0);
	KH_CHECK(kh_bcache_get(bc, key[0], &got) == 1 &&
		 !memcmp(got.buf, blk[0].buf, blk[0].size));
	kh_xzblk_release(&got);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);
	printf("test_bcache: corrupt entry ignored: %s\n", name);
}

static void flip_block_byte(const char *path)
{
	size_t len;
	char *buf = slurp(path, &len);
	FILE *fp = fopen(path, "wb");

	buf[KH_BCACHE_HDR + (len - KH_BCACHE_HDR) / 2] ^= 0x10;
	fwrite(buf, 1, len, fp);
	fclose(fp);
	free(buf);
}

static void flip_size(const char *path)
{
	size_t len;
	char *buf = slurp(path, &len);
	FILE *fp = fopen(path, "wb");

	buf[KH_BCACHE_OFF_UNCOMPRESSED] ^= 1;
	fwrite(buf, 1, len, fp);
	fclose(fp);
	free(buf);
}

static void truncate_half(const char *path)
{
	struct stat st;

	stat(path, &st);
	KH_CHECK(truncate(path, st.st_size / 2) == 0);
}

static void other_key(const char *path)
{
	/* A valid entry of block 1, filed under block 0's name. */
	char d[8192], p1[8192];
	size_t len;
	char *buf, *slash = strrchr(path, '/');
	FILE *fp;

	snprintf(d, sizeof(d), "%.*s", (int)(slash - path), path);
	path_of(d, 1, p1, sizeof(p1));
	buf = slurp(p1, &len);
	fp = fopen(path, "wb");
	fwrite(buf, 1, len, fp);
	fclose(fp);
	free(buf);
}

static void garbage(const char *path)
{
	FILE *fp = fopen(path, "wb");

	fputs("not a cache entry at all, just text that is long enough to "
	      "cover the header of sixty-four bytes\n", fp);
	fclose(fp);
}

static void symlinked(const char *path)
{
	unlink(path);
	KH_CHECK(symlink("/etc/passwd", path) == 0);
}

static void test_corrupt(void)
{
	corrupt_case("flip", flip_block_byte);
	corrupt_case("size", flip_size);
	corrupt_case("trunc", truncate_half);
	corrupt_case("otherkey", other_key);
	corrupt_case("garbage", garbage);
	corrupt_case("symlink", symlinked);
}

/* The same history in two caches, files made in opposite orders. */
static void history(const char *name, int reverse, uint64_t max)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_bcache *bc;
	struct kh_xzblk got;
	char dir[4200];

	subdir(name, dir, sizeof(dir));
	/* Run 1: all six blocks are made. */
	KH_CHECK(kh_bcache_open(dir, max, &bc, &err) == 0 && bc);
	for (int k = 0; k < NBLK; k++) {
		int i = reverse ? NBLK - 1 - k : k;

		KH_CHECK(kh_bcache_put(bc, key[i], &blk[i], &err) == 0);
	}
	KH_CHECK(kh_bcache_close(bc, &err) == 0);
	/* Run 2 uses blocks 4 and 5 (if still there) and makes 2. */
	KH_CHECK(kh_bcache_open(dir, max, &bc, &err) == 0 && bc);
	for (int k = 0; k < 2; k++) {
		int i = reverse ? 5 - k : 4 + k;

		if (kh_bcache_get(bc, key[i], &got))
			kh_xzblk_release(&got);
		else
			KH_CHECK(kh_bcache_put(bc, key[i], &blk[i], &err) == 0);
	}
	KH_CHECK(kh_bcache_put(bc, key[2], &blk[2], &err) == 0);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);
}

static void test_eviction(void)
{
	char a[4200], b[4200], pa[8192], pb[8192];
	uint64_t bytes, one = KH_BCACHE_HDR + blk[0].size, max;
	char *ia, *ib;
	size_t la, lb, n;

	/* Entries are of similar size; room for about three. */
	for (int i = 0; i < NBLK; i++)
		if (KH_BCACHE_HDR + blk[i].size > one)
			one = KH_BCACHE_HDR + blk[i].size;
	max = 3 * one + one / 2;
	history("ev-fwd", 0, max);
	history("ev-rev", 1, max);
	subdir("ev-fwd", a, sizeof(a));
	subdir("ev-rev", b, sizeof(b));
	n = entries(a, &bytes);
	KH_CHECK(bytes <= max);
	KH_CHECK(n == 3);
	/* The last run used 2, 4 and 5: those stay, nothing else. */
	KH_CHECK(has(a, 2) && has(a, 4) && has(a, 5));
	for (int i = 0; i < NBLK; i++)
		KH_CHECK(has(a, i) == has(b, i));
	snprintf(pa, sizeof(pa), "%s/index", a);
	snprintf(pb, sizeof(pb), "%s/index", b);
	ia = slurp(pa, &la);
	ib = slurp(pb, &lb);
	KH_CHECK(la > 0 && la == lb && !memcmp(ia, ib, la));
	free(ia);
	free(ib);

	/* A tighter bound: within the last run, the smallest keys win. */
	history("ev-tight", 0, 2 * one);
	subdir("ev-tight", a, sizeof(a));
	n = entries(a, &bytes);
	KH_CHECK(bytes <= 2 * one && n >= 1 && n <= 2);
	{
		int used[3] = { 2, 4, 5 }, keep = 0;

		for (int k = 0; k < 3; k++) {
			int smaller = 0;

			for (int m = 0; m < 3; m++)
				smaller += memcmp(key[used[m]], key[used[k]],
						  KH_XXH128_LEN) < 0;
			if (smaller < (int)n)
				KH_CHECK(has(a, used[k]));
			keep += has(a, used[k]);
		}
		KH_CHECK(keep == (int)n);
	}
	printf("test_bcache: eviction: %zu entries kept under %llu bytes\n",
	       n, (unsigned long long)(2 * one));
}

static void test_lock_and_temps(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_bcache *bc, *bc2;
	char dir[4200], tmp[8192];
	int fd;

	subdir("lock", dir, sizeof(dir));
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc2, &err) == 0 && !bc2);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);
	/* A temporary left by a killed run goes at the next open. */
	snprintf(tmp, sizeof(tmp), "%s/.0123.xzb.AbCdEf", dir);
	fd = open(tmp, O_CREAT | O_WRONLY, 0644);
	KH_CHECK(fd >= 0);
	close(fd);
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(access(tmp, F_OK) != 0);
	kh_bcache_abort(bc);
	/* A directory that cannot be made is an error, not a crash. */
	snprintf(tmp, sizeof(tmp), "%s/no/such/dir", top);
	KH_CHECK(kh_bcache_open(tmp, 1 << 20, &bc, &err) < 0 && !bc);
	KH_CHECK(strstr(err.msg, "cannot create cache directory") != NULL);
}

static void teardown(void)
{
	char cmd[4200];

	for (int i = 0; i < NBLK; i++)
		kh_xzblk_release(&blk[i]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	KH_CHECK(system(cmd) == 0);
}

KH_TEST_MAIN(setup, test_roundtrip, test_corrupt, test_eviction,
	     test_lock_and_temps, teardown)
