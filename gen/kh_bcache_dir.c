/* kh_bcache_dir: the directory the block cache lives in (see
 * kh_bcache_dir.h and, for the rules, kh_bcache.h). */
#include "gen/kh_bcache_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/kh_afile.h"
#include "lib/kh_file.h"

/* A temporary: "." NAME "." and this many letters or digits. */
#define KH_BCACHE_TMP_RAND 6
#define KH_BCACHE_TMP_MAX (KH_BCACHE_NAME_LEN + KH_BCACHE_TMP_RAND + 3)
_Static_assert(sizeof(KH_BCACHE_TAG_TEXT) - 1 < KH_FILE_MAX_TAG,
	       "tag text within its read limit");

/* The temporary being written, for the signal handler: fd -1 none, -2
 * being set up. One writer at a time registers (kh_bcache_put is not
 * called concurrently); another still cleans up after itself, and the
 * next run sweeps what a signal left. */
static atomic_int kh_bcache_live_fd = -1;
static char kh_bcache_live_name[KH_BCACHE_TMP_MAX + 1];

/* ---- Names: the only ones the cache ever removes or replaces. ---- */

int kh_bcache_dir_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int kh_bcache_dir_is_entry(const char *name, size_t len)
{
	return len == KH_BCACHE_NAME_LEN &&
	       kh_bcache_dir_is_hex(name, KH_BCACHE_HEX_LEN) &&
	       !memcmp(name + KH_BCACHE_HEX_LEN, KH_BCACHE_SUFFIX,
		       sizeof(KH_BCACHE_SUFFIX) - 1);
}

/* A name the cache writes by renaming a temporary over it. */
static int kh_bcache_is_target(const char *name, size_t len)
{
	return kh_bcache_dir_is_entry(name, len) ||
	       (len == strlen(KH_BCACHE_INDEX) &&
		!memcmp(name, KH_BCACHE_INDEX, len)) ||
	       (len == strlen(KH_BCACHE_TAG_NAME) &&
		!memcmp(name, KH_BCACHE_TAG_NAME, len));
}

int kh_bcache_dir_is_tmp(const char *name)
{
	size_t len = strlen(name);

	if (len < KH_BCACHE_TMP_RAND + 3 || name[0] != '.' ||
	    name[len - KH_BCACHE_TMP_RAND - 1] != '.')
		return 0;
	for (size_t i = len - KH_BCACHE_TMP_RAND; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return 0;
	return kh_bcache_is_target(name + 1, len - KH_BCACHE_TMP_RAND - 2);
}

/* Every name the cache may create. */
static int kh_bcache_is_ours(const char *name)
{
	return kh_bcache_is_target(name, strlen(name)) ||
	       !strcmp(name, KH_BCACHE_LOCK) || kh_bcache_dir_is_tmp(name);
}

void kh_bcache_dir_entry_name(const unsigned char *key,
			      char name[KH_BCACHE_NAME_LEN + 1])
{
	kh_hash_hex(key, KH_XXH128_LEN, name);
	memcpy(name + KH_BCACHE_HEX_LEN, KH_BCACHE_SUFFIX,
	       sizeof(KH_BCACHE_SUFFIX));
}

const char *kh_bcache_dir_where(const char *dir, const char *name, char *buf,
				size_t size)
{
	snprintf(buf, size, "%s/%s", dir, name);
	return buf;
}

/* ---- Writing: a temporary in the directory, renamed over NAME. ---- */

static void kh_bcache_tmp_name(const char *name, char *tmp, size_t size)
{
	static const char digits[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static atomic_uint_fast64_t seq;
	struct timespec ts;
	uint64_t x;
	size_t n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^
	    (uint64_t)getpid() << 40 ^ atomic_fetch_add(&seq, 1) * 0x9e3779b97f4a7c15ULL;
	n = (size_t)snprintf(tmp, size, ".%s.", name);
	for (int i = 0; i < KH_BCACHE_TMP_RAND && n + 1 < size; i++) {
		tmp[n++] = digits[x % 62];
		x /= 62;
	}
	tmp[n] = '\0';
}

static int kh_bcache_watch(int dfd, const char *tmp)
{
	int none = -1;

	if (!atomic_compare_exchange_strong(&kh_bcache_live_fd, &none, -2))
		return 0;
	snprintf(kh_bcache_live_name, sizeof(kh_bcache_live_name), "%s", tmp);
	atomic_store(&kh_bcache_live_fd, dfd);
	return 1;
}

static void kh_bcache_unwatch(int watched)
{
	if (watched)
		atomic_store(&kh_bcache_live_fd, -1);
}

void kh_bcache_unlink_all(void)
{
	int fd = atomic_load(&kh_bcache_live_fd);

	if (fd >= 0)
		unlinkat(fd, kh_bcache_live_name, 0);
}

int kh_bcache_dir_write(int dfd, const char *dir, const char *name,
			const void *a, size_t alen, const void *b, size_t blen,
			struct kh_error *err)
{
	char tmp[KH_BCACHE_TMP_MAX + 1], where[KH_ERROR_MAX];
	int fd = -1, watched, ret = 0;

	kh_bcache_dir_where(dir, name, where, sizeof(where));
	for (int tries = 0; tries < 100; tries++) {
		kh_bcache_tmp_name(name, tmp, sizeof(tmp));
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return kh_error_sys(err, errno, where,
				    "cannot create temporary file");
	watched = kh_bcache_watch(dfd, tmp);
	if (kh_afile_write_fd(fd, a, alen) < 0 ||
	    (blen && kh_afile_write_fd(fd, b, blen) < 0))
		ret = kh_error_sys(err, errno, where, "cannot write");
	if (close(fd) < 0 && ret == 0)
		ret = kh_error_sys(err, errno, where, "cannot write");
	/* renameat2 without flags is renameat; the fault shim of the tests
	 * (tests/tools/shim-fault.c) hooks this one. */
	if (ret == 0 && renameat2(dfd, tmp, dfd, name, 0) < 0)
		ret = kh_error_sys(err, errno, where, "cannot replace");
	if (ret < 0)
		unlinkat(dfd, tmp, 0);
	kh_bcache_unwatch(watched);
	return ret;
}

/* ---- Trust: which directory the cache may live in. ---- */

static int kh_bcache_refuse(struct kh_error *err, const char *dir,
			    const char *why)
{
	return kh_error_set(err, KH_EINVAL, dir,
			    "%s; refusing to use it as the block cache", why);
}

/* Does dfd/index begin as kheaders' index does? */
static int kh_bcache_has_index(int dfd)
{
	char head[sizeof(KH_BCACHE_INDEX_MAGIC)];
	ssize_t got;
	int fd;

	if (kh_file_open(dfd, KH_BCACHE_INDEX, NULL, KH_FILE_NOFOLLOW |
			 KH_FILE_REGULAR, &fd, NULL, NULL) != 0)
		return 0;
	got = kh_file_read_upto(fd, head, sizeof(head));
	close(fd);
	return got == (ssize_t)sizeof(head) &&
	       !memcmp(head, KH_BCACHE_INDEX_MAGIC "\n", sizeof(head));
}

int kh_bcache_dir_stream(int dfd, const char *dir, DIR **dp,
			 struct kh_error *err)
{
	int fd = dup(dfd);

	if (fd < 0 || !(*dp = fdopendir(fd))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return kh_error_sys(err, e, dir, "cannot read cache directory");
	}
	rewinddir(*dp);
	return 0;
}

/* 1 if dfd may be adopted without a tag, else 0: it holds nothing but
 * names the cache writes, and its index, if any, is one (an empty
 * directory; a cache of kheaders 0.1.0, which made no tag; one that
 * another run is creating right now). The index is the one such name a
 * user could plausibly have, and it would be replaced. */
static int kh_bcache_adoptable(int dfd, const char *dir, struct kh_error *err)
{
	int ret = 1, index = 0;
	struct dirent *d;
	DIR *dp;

	if (kh_bcache_dir_stream(dfd, dir, &dp, err) < 0)
		return KH_EIO;
	while (ret == 1 && (d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (!strcmp(d->d_name, KH_BCACHE_INDEX))
			index = 1;
		else if (!kh_bcache_is_ours(d->d_name))
			ret = 0;
	}
	closedir(dp);
	if (ret == 1 && index)
		ret = kh_bcache_has_index(dfd);
	return ret;
}

/* Is dfd marked as a cache of kheaders? 1 yes, 0 no tag but adoptable
 * (the caller writes the tag), or a refusal. */
static int kh_bcache_marked(int dfd, const char *dir, struct kh_error *err)
{
	struct kh_error ferr = KH_ERROR_INIT;
	char where[KH_ERROR_MAX], *buf = NULL;
	size_t len;
	int ret, same;

	kh_bcache_dir_where(dir, KH_BCACHE_TAG_NAME, where, sizeof(where));
	ret = kh_file_read(dfd, KH_BCACHE_TAG_NAME, where,
			   KH_FILE_NOFOLLOW | KH_FILE_REGULAR |
			   KH_FILE_MISSING_OK, KH_FILE_MAX_TAG,
			   "a cache directory tag", &buf, &len, &ferr);
	if (ret < 0)
		return kh_error_set(err, KH_EINVAL, NULL,
				    "%s (so %s is not a block cache of "
				    "kheaders; refusing to use it)", ferr.msg,
				    dir);
	if (ret == 0) {
		same = len == sizeof(KH_BCACHE_TAG_TEXT) - 1 &&
		       !memcmp(buf, KH_BCACHE_TAG_TEXT, len);
		free(buf);
		if (!same)
			return kh_bcache_refuse(err, dir,
				"its " KH_BCACHE_TAG_NAME " was not written by "
				"kheaders");
		return 1;
	}
	ret = kh_bcache_adoptable(dfd, dir, err);
	if (ret == 0)
		return kh_error_set(err, KH_EINVAL, dir,
			"not a block cache of kheaders (not empty, and no "
			KH_BCACHE_TAG_NAME " of kheaders); refusing to use it "
			"as the block cache (name a new directory: kheaders "
			"makes it)");
	return ret < 0 ? ret : 0;
}

/* The one place that decides whether dir may hold the cache. It must
 * be a directory itself (not a symlink), owned by the effective user,
 * writable by nobody else, and marked as kheaders' (or adoptable).
 * *dfd is then the directory, opened without following a symlink, so
 * that the path cannot be swapped afterwards; the checks are made on
 * that descriptor. Returns 1 marked, 0 to be marked (the caller writes
 * the tag under the lock), or a negative code (KH_EINVAL: refused).
 * A cache shared between users would relax the owner and mode rules
 * here; kh_bcache_get's decoding is what would keep it safe. */
static int kh_bcache_trust(const char *dir, int *dfd, struct kh_error *err)
{
	struct stat st;
	uid_t me = geteuid();
	int ret;

	*dfd = -1;
	if (lstat(dir, &st) < 0)
		return kh_error_sys(err, errno, dir, "cannot use cache directory");
	if (S_ISLNK(st.st_mode))
		return kh_bcache_refuse(err, dir, "is a symbolic link");
	if (!S_ISDIR(st.st_mode))
		return kh_bcache_refuse(err, dir, "is not a directory");
	/* Checked before opening too: another user's private directory
	 * would only say "Permission denied". */
	if (st.st_uid != me)
		goto owner;
	*dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0) {
		int e = errno;

		if (e == ELOOP)
			return kh_bcache_refuse(err, dir, "is a symbolic link");
		if (e == ENOTDIR)
			return kh_bcache_refuse(err, dir, "is not a directory");
		return kh_error_sys(err, e, dir, "cannot open cache directory");
	}
	if (fstat(*dfd, &st) < 0) {
		ret = kh_error_sys(err, errno, dir, "cannot stat");
		goto fail;
	}
	if (st.st_uid != me)
		goto owner;
	if (st.st_mode & 022) {
		ret = kh_bcache_refuse(err, dir, (st.st_mode & 002) ?
				       "writable by others" :
				       "writable by its group");
		goto fail;
	}
	ret = kh_bcache_marked(*dfd, dir, err);
	if (ret < 0)
		goto fail;
	return ret;
owner:
	ret = kh_error_set(err, KH_EINVAL, dir,
			   "owned by uid %lu, not by this user (uid %lu); "
			   "refusing to use it as the block cache",
			   (unsigned long)st.st_uid, (unsigned long)me);
fail:
	if (*dfd >= 0)
		close(*dfd);
	*dfd = -1;
	return ret;
}

/* Take the cache's lock: 0, 1 if another run holds it, or an error. The
 * lock file is never followed through a symlink: one planted there
 * would make the run create or lock whatever it points to. */
static int kh_bcache_lock(int dfd, const char *dir, int *lockfd,
			  struct kh_error *err)
{
	char where[KH_ERROR_MAX];
	struct stat st;

	kh_bcache_dir_where(dir, KH_BCACHE_LOCK, where, sizeof(where));
	*lockfd = openat(dfd, KH_BCACHE_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW |
			 O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (*lockfd < 0) {
		int e = errno;

		if (e == ELOOP)
			return kh_error_set(err, KH_EINVAL, where,
					    "is a symbolic link; refusing to "
					    "use the block cache");
		if (e == EISDIR)
			return kh_error_set(err, KH_EINVAL, where,
					    "is a directory; refusing to use "
					    "the block cache");
		return kh_error_sys(err, e, where, "cannot open");
	}
	if (fstat(*lockfd, &st) < 0)
		return kh_error_sys(err, errno, where, "cannot stat");
	if (!S_ISREG(st.st_mode))
		return kh_error_set(err, KH_EINVAL, where,
				    "is not a regular file; refusing to use "
				    "the block cache");
	if (flock(*lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return 1;
		return kh_error_sys(err, errno, dir, "cannot lock cache");
	}
	return 0;
}

int kh_bcache_dir_open(const char *dir, int *dfd, int *lockfd,
		       struct kh_error *err)
{
	int ret, marked;

	*dfd = *lockfd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kh_error_sys(err, errno, dir,
				    "cannot create cache directory");
	marked = kh_bcache_trust(dir, dfd, err);
	if (marked < 0)
		return marked;
	/* Marked or adoptable: "lock" is one of the cache's own names. */
	ret = kh_bcache_lock(*dfd, dir, lockfd, err);
	if (ret == 0 && !marked)
		ret = kh_bcache_dir_write(*dfd, dir, KH_BCACHE_TAG_NAME,
					  KH_BCACHE_TAG_TEXT,
					  sizeof(KH_BCACHE_TAG_TEXT) - 1, NULL,
					  0, err);
	if (ret != 0) {
		if (*lockfd >= 0)
			close(*lockfd);
		close(*dfd);
		*dfd = *lockfd = -1;
	}
	return ret;
}
