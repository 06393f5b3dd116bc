/* kh_bcache: the compressed block cache (see kh_bcache.h). */
#include "gen/kh_bcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/kh_file.h"

#define KH_BCACHE_INDEX_MAGIC "kheaders-bcache 1"
#define KH_BCACHE_INDEX "index"
#define KH_BCACHE_LOCK "lock"
#define KH_BCACHE_SUFFIX ".xzb"
#define KH_BCACHE_HEX_LEN (2 * KH_XXH128_LEN)
#define KH_BCACHE_NAME_LEN (KH_BCACHE_HEX_LEN + sizeof(KH_BCACHE_SUFFIX) - 1)
/* A temporary: "." NAME "." and this many letters or digits. */
#define KH_BCACHE_TMP_RAND 6
#define KH_BCACHE_TMP_MAX (KH_BCACHE_NAME_LEN + KH_BCACHE_TMP_RAND + 3)
/* Longest index line: run, key, bytes. */
#define KH_BCACHE_LINE_MAX (20 + 1 + KH_BCACHE_HEX_LEN + 1 + 20 + 1)
_Static_assert(sizeof(KH_BCACHE_TAG_TEXT) - 1 < KH_FILE_MAX_TAG,
	       "tag text within its read limit");

struct kh_bcache_ent {
	unsigned char key[KH_XXH128_LEN];
	uint64_t run;           /* last run that used it; 0 unknown */
	uint64_t size;          /* bytes of its file */
};

struct kh_bcache {
	char *dir;              /* for messages only; dfd is what is used */
	int dfd;
	int lockfd;
	uint64_t max;
	uint64_t run;           /* this run's number */
	pthread_mutex_t lock;   /* guards v */
	struct kh_bcache_ent *v;
	size_t n, cap;
};

/* The temporary being written, for the signal handler: fd -1 none, -2
 * being set up. One writer at a time registers (kh_bcache_put is not
 * called concurrently); another still cleans up after itself, and the
 * next run sweeps what a signal left. */
static atomic_int kh_bcache_live_fd = -1;
static char kh_bcache_live_name[KH_BCACHE_TMP_MAX + 1];

static void kh_bcache_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t kh_bcache_get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- Names: the only ones the cache ever removes or replaces. ---- */

static int kh_bcache_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* "<32 lower-case hex>.xzb", exactly what kh_bcache_entry_name makes. */
static int kh_bcache_is_entry(const char *name, size_t len)
{
	return len == KH_BCACHE_NAME_LEN &&
	       kh_bcache_is_hex(name, KH_BCACHE_HEX_LEN) &&
	       !memcmp(name + KH_BCACHE_HEX_LEN, KH_BCACHE_SUFFIX,
		       sizeof(KH_BCACHE_SUFFIX) - 1);
}

/* A name the cache writes by renaming a temporary over it. */
static int kh_bcache_is_target(const char *name, size_t len)
{
	return kh_bcache_is_entry(name, len) ||
	       (len == strlen(KH_BCACHE_INDEX) &&
		!memcmp(name, KH_BCACHE_INDEX, len)) ||
	       (len == strlen(KH_BCACHE_TAG_NAME) &&
		!memcmp(name, KH_BCACHE_TAG_NAME, len));
}

/* ".TARGET.XXXXXX": a temporary of kh_bcache_write (and of kh_afile,
 * which kheaders 0.1.0 wrote its cache with). */
static int kh_bcache_is_tmp(const char *name)
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
	       !strcmp(name, KH_BCACHE_LOCK) || kh_bcache_is_tmp(name);
}

static void kh_bcache_entry_name(const unsigned char *key,
				 char name[KH_BCACHE_NAME_LEN + 1])
{
	kh_hash_hex(key, KH_XXH128_LEN, name);
	memcpy(name + KH_BCACHE_HEX_LEN, KH_BCACHE_SUFFIX,
	       sizeof(KH_BCACHE_SUFFIX));
}

/* "DIR/NAME" for messages. */
static const char *kh_bcache_where(const char *dir, const char *name,
				   char *buf, size_t size)
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

static int kh_bcache_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write a then b as dfd/name, atomically: a temporary of the exact
 * shape the sweep knows, renamed over name. No fsync (see kh_bcache.h:
 * every entry is verified when read, and a lost one is only work). */
static int kh_bcache_write(int dfd, const char *dir, const char *name,
			   const void *a, size_t alen, const void *b,
			   size_t blen, struct kh_error *err)
{
	char tmp[KH_BCACHE_TMP_MAX + 1], where[KH_ERROR_MAX];
	int fd = -1, watched, ret = 0;

	kh_bcache_where(dir, name, where, sizeof(where));
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
	if (kh_bcache_write_all(fd, a, alen) < 0 ||
	    (blen && kh_bcache_write_all(fd, b, blen) < 0))
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
	size_t got = 0;
	int fd;

	if (kh_file_open(dfd, KH_BCACHE_INDEX, NULL, KH_FILE_NOFOLLOW |
			 KH_FILE_REGULAR, &fd, NULL, NULL) != 0)
		return 0;
	while (got < sizeof(head)) {
		ssize_t n = read(fd, head + got, sizeof(head) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return got == sizeof(head) &&
	       !memcmp(head, KH_BCACHE_INDEX_MAGIC "\n", sizeof(head));
}

/* A directory stream over dfd, from its start; dfd stays open (the
 * stream has a duplicate). */
static int kh_bcache_opendir(int dfd, const char *dir, DIR **dp,
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

	if (kh_bcache_opendir(dfd, dir, &dp, err) < 0)
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

	kh_bcache_where(dir, KH_BCACHE_TAG_NAME, where, sizeof(where));
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
static int kh_bcache_lock_dir(struct kh_bcache *bc, struct kh_error *err)
{
	char where[KH_ERROR_MAX];
	struct stat st;

	kh_bcache_where(bc->dir, KH_BCACHE_LOCK, where, sizeof(where));
	bc->lockfd = openat(bc->dfd, KH_BCACHE_LOCK, O_RDWR | O_CREAT |
			    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
			    0600);
	if (bc->lockfd < 0) {
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
	if (fstat(bc->lockfd, &st) < 0)
		return kh_error_sys(err, errno, where, "cannot stat");
	if (!S_ISREG(st.st_mode))
		return kh_error_set(err, KH_EINVAL, where,
				    "is not a regular file; refusing to use "
				    "the block cache");
	if (flock(bc->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return 1;
		return kh_error_sys(err, errno, bc->dir, "cannot lock cache");
	}
	return 0;
}

/* ---- Records: what is in the cache and when it was last used. ---- */

/* The record for key, added (run 0, size 0) if new; NULL if no memory.
 * Caller holds bc->lock or is alone. */
static struct kh_bcache_ent *kh_bcache_find(struct kh_bcache *bc,
					    const unsigned char *key, int add)
{
	for (size_t i = 0; i < bc->n; i++)
		if (!memcmp(bc->v[i].key, key, KH_XXH128_LEN))
			return &bc->v[i];
	if (!add)
		return NULL;
	if (bc->n == bc->cap) {
		size_t cap = bc->cap ? 2 * bc->cap : 64;
		void *p = realloc(bc->v, cap * sizeof(*bc->v));

		if (!p)
			return NULL;
		bc->v = p;
		bc->cap = cap;
	}
	memset(&bc->v[bc->n], 0, sizeof(bc->v[0]));
	memcpy(bc->v[bc->n].key, key, KH_XXH128_LEN);
	return &bc->v[bc->n++];
}

static int kh_bcache_by_key(const void *pa, const void *pb)
{
	const struct kh_bcache_ent *a = pa, *b = pb;

	return memcmp(a->key, b->key, KH_XXH128_LEN);
}

/* Record the entries in the directory (run 0: unknown), sorted by key,
 * and remove temporaries that a killed run left: only those, and only
 * of the exact shape kh_bcache_write makes. */
static int kh_bcache_scan(struct kh_bcache *bc, struct kh_error *err)
{
	int ret = 0;
	struct dirent *d;
	DIR *dp;

	if (kh_bcache_opendir(bc->dfd, bc->dir, &dp, err) < 0)
		return KH_EIO;
	while ((d = readdir(dp))) {
		unsigned char key[KH_XXH128_LEN];
		char hex[KH_BCACHE_HEX_LEN + 1];
		struct kh_bcache_ent *e;
		struct stat st;

		if (kh_bcache_is_tmp(d->d_name)) {
			unlinkat(bc->dfd, d->d_name, 0);
			continue;
		}
		if (!kh_bcache_is_entry(d->d_name, strlen(d->d_name)))
			continue;
		memcpy(hex, d->d_name, KH_BCACHE_HEX_LEN);
		hex[KH_BCACHE_HEX_LEN] = '\0';
		if (kh_hash_unhex(hex, key, KH_XXH128_LEN) < 0 ||
		    fstatat(bc->dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* Names are unique: append without searching. */
		if (bc->n == bc->cap) {
			size_t cap = bc->cap ? 2 * bc->cap : 64;
			void *p = realloc(bc->v, cap * sizeof(*bc->v));

			if (!p) {
				ret = kh_error_set(err, KH_ENOMEM, NULL,
						   "out of memory");
				break;
			}
			bc->v = p;
			bc->cap = cap;
		}
		e = &bc->v[bc->n++];
		memcpy(e->key, key, KH_XXH128_LEN);
		e->run = 0;
		e->size = (uint64_t)st.st_size;
	}
	closedir(dp);
	if (ret == 0 && bc->n)
		qsort(bc->v, bc->n, sizeof(*bc->v), kh_bcache_by_key);
	return ret;
}

/* A decimal number ending at a space or newline; NULL if not one. */
static const char *kh_bcache_num(const char *p, uint64_t *v)
{
	*v = 0;
	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (*v > (UINT64_MAX - 9) / 10)
			return NULL;
		*v = *v * 10 + (uint64_t)(*p - '0');
	}
	return *p == ' ' || *p == '\n' ? p : NULL;
}

/* One "<run> <key hex> <bytes>" line: the rank of an entry found by
 * the scan (lines for entries not there are dropped). */
static void kh_bcache_index_line(struct kh_bcache *bc, const char *p,
				 uint64_t last_run)
{
	struct kh_bcache_ent want, *e;
	uint64_t size;

	if (!(p = kh_bcache_num(p, &want.run)) || *p++ != ' ' ||
	    !kh_bcache_is_hex(p, KH_BCACHE_HEX_LEN) ||
	    p[KH_BCACHE_HEX_LEN] != ' ' ||
	    kh_hash_unhex(p, want.key, KH_XXH128_LEN) < 0 ||
	    !(p = kh_bcache_num(p + KH_BCACHE_HEX_LEN + 1, &size)) ||
	    *p != '\n' || want.run > last_run)
		return;
	e = bc->n ? bsearch(&want, bc->v, bc->n, sizeof(*bc->v),
			    kh_bcache_by_key) : NULL;
	if (e && want.run > e->run)
		e->run = want.run;
}

/* Read the index: the last run's number and each entry's rank. The
 * index is read as a file kheaders may not have written: no symlink,
 * no FIFO or device, bounded. A damaged or refused one only loses the
 * ranks; kh_bcache_close writes a new one over it. */
static void kh_bcache_load_index(struct kh_bcache *bc, uint64_t *last_run)
{
	struct kh_error ferr = KH_ERROR_INIT;
	char where[KH_ERROR_MAX], *buf, *p, *nl;
	size_t len;

	*last_run = 0;
	kh_bcache_where(bc->dir, KH_BCACHE_INDEX, where, sizeof(where));
	if (kh_file_read(bc->dfd, KH_BCACHE_INDEX, where,
			 KH_FILE_NOFOLLOW | KH_FILE_REGULAR |
			 KH_FILE_MISSING_OK, KH_FILE_MAX_INDEX,
			 "the block cache index", &buf, &len, &ferr) != 0)
		return;
	p = buf;
	nl = strchr(p, '\n');
	if (!nl || (size_t)(nl - p) != strlen(KH_BCACHE_INDEX_MAGIC) ||
	    memcmp(p, KH_BCACHE_INDEX_MAGIC, (size_t)(nl - p)) ||
	    strncmp(nl + 1, "run ", 4) ||
	    !(p = (char *)kh_bcache_num(nl + 5, last_run)) || *p != '\n') {
		*last_run = 0;
		free(buf);
		return;
	}
	for (p++; (nl = strchr(p, '\n')); p = nl + 1)
		kh_bcache_index_line(bc, p, *last_run);
	free(buf);
}

int kh_bcache_open(const char *dir, uint64_t max, struct kh_bcache **bcp,
		   struct kh_error *err)
{
	struct kh_bcache *bc;
	uint64_t last_run;
	size_t len;
	int ret, marked;

	*bcp = NULL;
	bc = calloc(1, sizeof(*bc));
	if (!bc || !(bc->dir = strdup(dir))) {
		free(bc);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	bc->dfd = -1;
	bc->lockfd = -1;
	bc->max = max;
	pthread_mutex_init(&bc->lock, NULL);
	/* "cache/" would follow a symlink "cache" whatever the flags. */
	len = strlen(bc->dir);
	while (len > 1 && bc->dir[len - 1] == '/')
		bc->dir[--len] = '\0';
	if (mkdir(bc->dir, 0700) < 0 && errno != EEXIST) {
		ret = kh_error_sys(err, errno, bc->dir,
				   "cannot create cache directory");
		goto fail;
	}
	marked = kh_bcache_trust(bc->dir, &bc->dfd, err);
	if (marked < 0) {
		ret = marked;
		goto fail;
	}
	/* Marked or adoptable: "lock" is one of the cache's own names. */
	ret = kh_bcache_lock_dir(bc, err);
	if (ret == 1) {
		kh_bcache_abort(bc);
		return 0;
	}
	if (ret == 0 && !marked)
		ret = kh_bcache_write(bc->dfd, bc->dir, KH_BCACHE_TAG_NAME,
				      KH_BCACHE_TAG_TEXT,
				      sizeof(KH_BCACHE_TAG_TEXT) - 1, NULL, 0,
				      err);
	if (ret < 0)
		goto fail;
	ret = kh_bcache_scan(bc, err);
	if (ret < 0)
		goto fail;
	kh_bcache_load_index(bc, &last_run);
	bc->run = last_run + 1;
	*bcp = bc;
	return 0;
fail:
	kh_bcache_abort(bc);
	return ret;
}

void kh_bcache_key(const char *settings, const void *data, size_t len,
		   unsigned char key[KH_XXH128_LEN])
{
	unsigned char buf[KH_XZBLK_DESCRIBE_MAX + 2 * KH_XXH128_LEN + 32];
	size_t n = strlen(settings);

	if (n > KH_XZBLK_DESCRIBE_MAX)
		n = KH_XZBLK_DESCRIBE_MAX;
	memcpy(buf, settings, n);
	buf[n++] = '\0';
	kh_bcache_put64(buf + n, (uint64_t)len);
	n += 8;
	kh_hash_xxh128(data, len, buf + n);
	n += KH_XXH128_LEN;
	kh_hash_xxh128(buf, n, key);
}

/* Read the entry name (at most max bytes) if it is a regular file:
 * 0 read, -1 no such entry, -2 something unusable is in its place. */
static int kh_bcache_slurp(struct kh_bcache *bc, const char *name,
			   size_t max, unsigned char **buf, size_t *len)
{
	struct kh_error ferr = KH_ERROR_INIT;
	struct stat st;
	char *p;
	int fd, ret;

	*buf = NULL;
	ret = kh_file_open(bc->dfd, name, name, KH_FILE_NOFOLLOW |
			   KH_FILE_REGULAR | KH_FILE_MISSING_OK, &fd, &st,
			   &ferr);
	if (ret == 1)
		return -1;
	if (ret < 0)
		return -2;
	if (st.st_size < KH_BCACHE_HDR || (uint64_t)st.st_size > max) {
		close(fd);
		return -2;
	}
	ret = kh_file_read_fd(fd, name, max, "a cache entry", &p, len, &ferr);
	close(fd);
	if (ret < 0)
		return -2;
	*buf = (unsigned char *)p;
	return 0;
}

int kh_bcache_get(struct kh_bcache *bc, const unsigned char *key,
		  uint32_t preset, const void *data, size_t len,
		  struct kh_xzblk *out)
{
	unsigned char *buf = NULL, hash[KH_XXH128_LEN];
	struct kh_xzblk b = KH_XZBLK_INIT;
	struct kh_bcache_ent *e;
	char name[KH_BCACHE_NAME_LEN + 1];
	size_t bound = kh_xzblk_bound(len), blen;
	int ok = 0;

	memset(out, 0, sizeof(*out));
	if (!bound || bound > SIZE_MAX - KH_BCACHE_HDR)
		return 0;
	kh_bcache_entry_name(key, name);
	switch (kh_bcache_slurp(bc, name, KH_BCACHE_HDR + bound, &buf,
				&blen)) {
	case -1:
		goto out;
	case -2:
		goto bad;
	}
	b.size = (size_t)kh_bcache_get64(buf + KH_BCACHE_OFF_SIZE);
	b.unpadded = kh_bcache_get64(buf + KH_BCACHE_OFF_UNPADDED);
	b.uncompressed = kh_bcache_get64(buf + KH_BCACHE_OFF_UNCOMPRESSED);
	if (memcmp(buf, KH_BCACHE_MAGIC, KH_BCACHE_MAGIC_LEN) ||
	    memcmp(buf + KH_BCACHE_OFF_KEY, key, KH_XXH128_LEN) ||
	    b.size != blen - KH_BCACHE_HDR)
		goto bad;
	/* A cheap first check against torn writes and flipped bits. */
	kh_hash_xxh128(buf + KH_BCACHE_HDR, b.size, hash);
	if (memcmp(hash, buf + KH_BCACHE_OFF_HASH, KH_XXH128_LEN))
		goto bad;
	/* Keep the Block alone: move it to the front of the buffer. */
	memmove(buf, buf + KH_BCACHE_HDR, b.size);
	b.buf = buf;
	buf = NULL;
	/* The one that matters: it decodes to the very data asked for, so
	 * whoever wrote the entry, the archive holds the right bytes. */
	if (kh_xzblk_verify(preset, &b, data, len) < 0)
		goto bad;
	pthread_mutex_lock(&bc->lock);
	e = kh_bcache_find(bc, key, 1);
	if (e) {
		e->run = bc->run;
		e->size = blen;
	}
	pthread_mutex_unlock(&bc->lock);
	*out = b;
	b.buf = NULL;
	ok = 1;
	goto out;
bad:
	/* Never trusted again; the fresh block will replace it. The name
	 * is an entry's, which only the cache writes. */
	unlinkat(bc->dfd, name, 0);
	pthread_mutex_lock(&bc->lock);
	e = kh_bcache_find(bc, key, 0);
	if (e)
		*e = bc->v[--bc->n];
	pthread_mutex_unlock(&bc->lock);
out:
	kh_xzblk_release(&b);
	free(buf);
	return ok;
}

int kh_bcache_put(struct kh_bcache *bc, const unsigned char *key,
		  const struct kh_xzblk *b, struct kh_error *err)
{
	unsigned char hdr[KH_BCACHE_HDR];
	struct kh_bcache_ent *e;
	char name[KH_BCACHE_NAME_LEN + 1];
	int ret;

	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, KH_BCACHE_MAGIC, KH_BCACHE_MAGIC_LEN);
	memcpy(hdr + KH_BCACHE_OFF_KEY, key, KH_XXH128_LEN);
	kh_bcache_put64(hdr + KH_BCACHE_OFF_UNCOMPRESSED, b->uncompressed);
	kh_bcache_put64(hdr + KH_BCACHE_OFF_UNPADDED, b->unpadded);
	kh_bcache_put64(hdr + KH_BCACHE_OFF_SIZE, b->size);
	kh_hash_xxh128(b->buf, b->size, hdr + KH_BCACHE_OFF_HASH);
	kh_bcache_entry_name(key, name);
	ret = kh_bcache_write(bc->dfd, bc->dir, name, hdr, sizeof(hdr),
			      b->buf, b->size, err);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&bc->lock);
	e = kh_bcache_find(bc, key, 1);
	if (e) {
		e->run = bc->run;
		e->size = KH_BCACHE_HDR + b->size;
	}
	pthread_mutex_unlock(&bc->lock);
	return e ? 0 : kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
}

/* Most recently used first, then by key: a total order. */
static int kh_bcache_rank(const void *pa, const void *pb)
{
	const struct kh_bcache_ent *a = pa, *b = pb;

	if (a->run != b->run)
		return a->run > b->run ? -1 : 1;
	return memcmp(a->key, b->key, KH_XXH128_LEN);
}

static int kh_bcache_save_index(struct kh_bcache *bc, size_t keep,
				struct kh_error *err)
{
	size_t cap = sizeof(KH_BCACHE_INDEX_MAGIC) + 32 +
		     keep * KH_BCACHE_LINE_MAX, n;
	char *buf = malloc(cap);
	int ret;

	if (!buf)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	n = (size_t)snprintf(buf, cap, "%s\nrun %" PRIu64 "\n",
			     KH_BCACHE_INDEX_MAGIC, bc->run);
	for (size_t i = 0; i < keep; i++) {
		char hex[KH_BCACHE_HEX_LEN + 1];

		kh_hash_hex(bc->v[i].key, KH_XXH128_LEN, hex);
		n += (size_t)snprintf(buf + n, cap - n,
				      "%" PRIu64 " %s %" PRIu64 "\n",
				      bc->v[i].run, hex, bc->v[i].size);
	}
	ret = kh_bcache_write(bc->dfd, bc->dir, KH_BCACHE_INDEX, buf, n, NULL,
			      0, err);
	free(buf);
	return ret;
}

int kh_bcache_close(struct kh_bcache *bc, struct kh_error *err)
{
	uint64_t total = 0;
	size_t keep = 0;
	int ret = 0;

	if (!bc)
		return 0;
	if (bc->n)
		qsort(bc->v, bc->n, sizeof(*bc->v), kh_bcache_rank);
	/* The longest prefix of the ranking that fits. */
	while (keep < bc->n && bc->v[keep].size <= bc->max - total) {
		total += bc->v[keep].size;
		keep++;
	}
	for (size_t i = keep; i < bc->n; i++) {
		char name[KH_BCACHE_NAME_LEN + 1], where[KH_ERROR_MAX];

		kh_bcache_entry_name(bc->v[i].key, name);
		if (unlinkat(bc->dfd, name, 0) < 0 && errno != ENOENT &&
		    ret == 0)
			ret = kh_error_sys(err, errno,
					   kh_bcache_where(bc->dir, name, where,
							   sizeof(where)),
					   "cannot remove cache entry");
	}
	if (ret == 0)
		ret = kh_bcache_save_index(bc, keep, err);
	kh_bcache_abort(bc);
	return ret;
}

void kh_bcache_abort(struct kh_bcache *bc)
{
	if (!bc)
		return;
	if (bc->lockfd >= 0)
		close(bc->lockfd);
	if (bc->dfd >= 0)
		close(bc->dfd);
	pthread_mutex_destroy(&bc->lock);
	free(bc->v);
	free(bc->dir);
	free(bc);
}
