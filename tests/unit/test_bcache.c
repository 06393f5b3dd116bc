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
 *     temporaries are removed, and no other name ever is;
 *   - a block that is well formed, under the right key, with a matching
 *     hash, but of other data (a poisoned cache) is never handed out;
 *   - only a directory kheaders made, or an empty one, or a cache of
 *     0.1.0, is used: a symlink, someone else's, one writable by
 *     others, one with other files or another tag is refused with
 *     nothing written there; a planted lock symlink is not followed; an
 *     index that is a FIFO or a symlink is neither read nor followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/kh_bcache.h"
#include "kh_test.h"
#include "gen/kh_xzblk.h"

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
	KH_CHECK(kh_bcache_get(bc, key[0], 0, data[0], sizeof(data[0]), &got) == 0);
	KH_CHECK(kh_bcache_put(bc, key[0], &blk[0], &err) == 0);
	KH_CHECK(kh_bcache_get(bc, key[0], 0, data[0], sizeof(data[0]), &got) == 1);
	KH_CHECK(got.size == blk[0].size && got.unpadded == blk[0].unpadded &&
		 got.uncompressed == blk[0].uncompressed &&
		 !memcmp(got.buf, blk[0].buf, got.size));
	kh_xzblk_release(&got);
	/* The key covers settings and data. */
	kh_bcache_key("preset6,lc4,pb0,crc64,liblzma-test", data[0],
		      sizeof(data[0]), other);
	KH_CHECK(memcmp(other, key[0], KH_XXH128_LEN));
	KH_CHECK(kh_bcache_get(bc, other, 0, data[0], sizeof(data[0]), &got) == 0);
	KH_CHECK(kh_bcache_close(bc, &err) == 0);

	/* Another run finds it. */
	KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
	KH_CHECK(kh_bcache_get(bc, key[0], 0, data[0], sizeof(data[0]), &got) == 1);
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
	KH_CHECK(kh_bcache_get(bc, key[0], 0, data[0], sizeof(data[0]), &got) == 0);
	KH_CHECK(got.buf == NULL);
	KH_CHECK(!has(dir, 0));
	/* The healthy neighbour is still served. */
	KH_CHECK(kh_bcache_get(bc, key[1], 0, data[1], sizeof(data[1]), &got) == 1);
	kh_xzblk_release(&got);
	/* And a fresh put replaces the bad one. */
	KH_CHECK(kh_bcache_put(bc, key[0], &blk[0], &err) == 0);
	KH_CHECK(kh_bcache_get(bc, key[0], 0, data[0], sizeof(data[0]), &got) == 1 &&
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

static void poisoned(const char *path)
{
	/* Block 1's entry (same length of data, other bytes) with its
	 * header rewritten to say key 0: magic, key, sizes and the hash of
	 * the Block all agree. Only decoding tells. */
	char d[8192], p1[8192];
	size_t len;
	char *buf, *slash = strrchr(path, '/');
	FILE *fp;

	snprintf(d, sizeof(d), "%.*s", (int)(slash - path), path);
	path_of(d, 1, p1, sizeof(p1));
	buf = slurp(p1, &len);
	memcpy(buf + KH_BCACHE_OFF_KEY, key[0], KH_XXH128_LEN);
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
	corrupt_case("poisoned", poisoned);
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

		if (kh_bcache_get(bc, key[i], 0, data[i], sizeof(data[i]), &got))
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
	/* Temporaries left by a killed run go at the next open: those of
	 * the exact shapes the cache writes, and nothing else. */
	{
		char hex[2 * KH_XXH128_LEN + 1];
		char gone[3][200], kept[6][200];

		kh_hash_hex(key[0], KH_XXH128_LEN, hex);
		snprintf(gone[0], 200, ".%s.xzb.AbCdEf", hex);
		snprintf(gone[1], 200, ".index.Q1w2e3");
		snprintf(gone[2], 200, ".CACHEDIR.TAG.zzzzzz");
		snprintf(kept[0], 200, ".config");
		snprintf(kept[1], 200, ".0123.xzb.AbCdEf");
		snprintf(kept[2], 200, ".%s.xzb.AbCdE", hex);
		snprintf(kept[3], 200, ".%s.xzb.AbCd-f", hex);
		snprintf(kept[4], 200, ".bashrc");
		snprintf(kept[5], 200, "notes.txt");
		for (int i = 0; i < 9; i++) {
			snprintf(tmp, sizeof(tmp), "%s/%s", dir,
				 i < 3 ? gone[i] : kept[i - 3]);
			fd = open(tmp, O_CREAT | O_WRONLY, 0644);
			KH_CHECK(fd >= 0);
			close(fd);
		}
		KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
		KH_CHECK(kh_bcache_close(bc, &err) == 0);
		for (int i = 0; i < 9; i++) {
			snprintf(tmp, sizeof(tmp), "%s/%s", dir,
				 i < 3 ? gone[i] : kept[i - 3]);
			KH_CHECK((access(tmp, F_OK) == 0) == (i >= 3));
		}
	}
	/* A directory that cannot be made is an error, not a crash. */
	snprintf(tmp, sizeof(tmp), "%s/no/such/dir", top);
	KH_CHECK(kh_bcache_open(tmp, 1 << 20, &bc, &err) < 0 && !bc);
	KH_CHECK(strstr(err.msg, "cannot create cache directory") != NULL);
}

/* kh_bcache_open(dir) must refuse with why in the message and leave
 * the directory's listing as it was. */
static int refused(const char *dir, const char *why)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_bcache *bc = NULL;
	int ret = kh_bcache_open(dir, 1 << 20, &bc, &err);

	if (ret == KH_EINVAL && !bc && strstr(err.msg, why))
		return 1;
	fprintf(stderr, "test_bcache: %s: want a refusal with '%s', got %d "
		"'%s'\n", dir, why, ret, err.msg);
	kh_bcache_abort(bc);
	return 0;
}

static int opens(const char *dir)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_bcache *bc = NULL;
	int ret = kh_bcache_open(dir, 1 << 20, &bc, &err);

	if (ret == 0 && bc)
		return kh_bcache_close(bc, &err) == 0;
	fprintf(stderr, "test_bcache: %s: %d '%s'\n", dir, ret, err.msg);
	kh_bcache_abort(bc);
	return 0;
}

static void touch(const char *dir, const char *name, const char *text)
{
	char p[8192];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fp = fopen(p, "w");
	KH_CHECK(fp != NULL);
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static int exists(const char *dir, const char *name)
{
	char p[8192];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static int nnames(const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int n = 0;

	while (dp && (d = readdir(dp)))
		n += strcmp(d->d_name, ".") && strcmp(d->d_name, "..");
	if (dp)
		closedir(dp);
	return n;
}

static void test_trust(void)
{
	char dir[4200], link[4200], p[8192];

	/* Someone's directory with files: refused, all left as they were. */
	subdir("home", dir, sizeof(dir));
	KH_CHECK(mkdir(dir, 0755) == 0);
	touch(dir, ".config", "CONFIG_X=y\n");
	touch(dir, ".bashrc", "alias x=y\n");
	touch(dir, "index", "my index\n");
	KH_CHECK(refused(dir, "not a block cache of kheaders"));
	KH_CHECK(nnames(dir) == 3 && exists(dir, ".config") &&
		 exists(dir, ".bashrc"));
	/* Only cache-like names, but an index that is not the cache's. */
	unlink(strcat(strcpy(p, dir), "/.config"));
	unlink(strcat(strcpy(p, dir), "/.bashrc"));
	KH_CHECK(refused(dir, "not a block cache of kheaders"));
	KH_CHECK(nnames(dir) == 1);

	/* Another tool's tag. */
	subdir("othertag", dir, sizeof(dir));
	KH_CHECK(mkdir(dir, 0700) == 0);
	touch(dir, "CACHEDIR.TAG",
	      "Signature: 8a477f597d28d172789f06886806bc55\n# ccache\n");
	KH_CHECK(refused(dir, "was not written by kheaders"));
	KH_CHECK(nnames(dir) == 1);

	/* An empty directory of ours is adopted and marked. */
	subdir("empty", dir, sizeof(dir));
	KH_CHECK(mkdir(dir, 0755) == 0);
	KH_CHECK(opens(dir));
	KH_CHECK(exists(dir, "CACHEDIR.TAG"));
	KH_CHECK(opens(dir));

	/* One that another run is creating: a lock and its tag's
	 * temporary so far. Adopted, not refused. */
	subdir("young", dir, sizeof(dir));
	KH_CHECK(mkdir(dir, 0700) == 0);
	touch(dir, "lock", "");
	touch(dir, ".CACHEDIR.TAG.a1B2c3", "Signature");
	KH_CHECK(opens(dir));
	KH_CHECK(exists(dir, "CACHEDIR.TAG"));

	/* A cache of kheaders 0.1.0: entries, lock, index, no tag. */
	subdir("old", dir, sizeof(dir));
	{
		struct kh_error err = KH_ERROR_INIT;
		struct kh_bcache *bc;
		struct kh_xzblk got;

		KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
		KH_CHECK(kh_bcache_put(bc, key[3], &blk[3], &err) == 0);
		KH_CHECK(kh_bcache_close(bc, &err) == 0);
		KH_CHECK(unlink(strcat(strcpy(p, dir), "/CACHEDIR.TAG")) == 0);
		KH_CHECK(chmod(dir, 0755) == 0);
		KH_CHECK(kh_bcache_open(dir, 1 << 20, &bc, &err) == 0 && bc);
		KH_CHECK(kh_bcache_get(bc, key[3], 0, data[3], sizeof(data[3]),
				       &got) == 1);
		kh_xzblk_release(&got);
		KH_CHECK(kh_bcache_close(bc, &err) == 0);
		KH_CHECK(exists(dir, "CACHEDIR.TAG"));
	}

	/* A symlink to a good cache: refused, nothing written behind it. */
	subdir("good", dir, sizeof(dir));
	KH_CHECK(opens(dir));
	subdir("link", link, sizeof(link));
	KH_CHECK(symlink(dir, link) == 0);
	unlink(strcat(strcpy(p, dir), "/lock"));
	KH_CHECK(refused(link, "is a symbolic link"));
	snprintf(p, sizeof(p), "%s/", link);
	KH_CHECK(refused(p, "is a symbolic link"));
	KH_CHECK(!exists(dir, "lock"));

	/* Writable by others or the group: refused, nothing written. */
	KH_CHECK(chmod(dir, 0777) == 0);
	KH_CHECK(refused(dir, "writable by others"));
	KH_CHECK(chmod(dir, 0770) == 0);
	KH_CHECK(refused(dir, "writable by its group"));
	KH_CHECK(!exists(dir, "lock"));
	KH_CHECK(chmod(dir, 0700) == 0);
	/* Someone else's (only root can make one here). */
	if (geteuid() == 0) {
		KH_CHECK(chown(dir, 65534, 65534) == 0);
		KH_CHECK(refused(dir, "owned by uid 65534"));
		KH_CHECK(chown(dir, 0, 0) == 0);
	}
	/* Not a directory at all. */
	subdir("file", p, sizeof(p));
	touch(top, "file", "x");
	KH_CHECK(refused(p, "is not a directory"));

	/* A planted lock symlink is not followed, its target not made. */
	KH_CHECK(symlink("victim", strcat(strcpy(p, dir), "/lock")) == 0);
	KH_CHECK(refused(dir, "lock: is a symbolic link"));
	KH_CHECK(!exists(dir, "victim"));
	KH_CHECK(unlink(p) == 0);

	/* An index that is a FIFO or an endless file: not read (no hang),
	 * not followed, and replaced by a real index on close. */
	snprintf(p, sizeof(p), "%s/index", dir);
	KH_CHECK(unlink(p) == 0 && mkfifo(p, 0600) == 0);
	KH_CHECK(opens(dir));
	{
		struct stat st;

		KH_CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
		KH_CHECK(unlink(p) == 0 && symlink("/dev/zero", p) == 0);
		KH_CHECK(opens(dir));
		KH_CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
	}
	printf("test_bcache: untrusted cache directories refused\n");
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
	     test_lock_and_temps, test_trust, teardown)
