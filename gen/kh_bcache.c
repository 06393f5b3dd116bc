/* kh_bcache: the compressed block cache (see kh_bcache.h). */
#include "kh_bcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kh_afile.h"

#define KH_BCACHE_INDEX_MAGIC "kheaders-bcache 1"
#define KH_BCACHE_SUFFIX ".xzb"
#define KH_BCACHE_NAME_LEN (2 * KH_XXH128_LEN + sizeof(KH_BCACHE_SUFFIX) - 1)
/* No block is this large; a bigger file is not an entry. */
#define KH_BCACHE_ENTRY_MAX (1ULL << 31)

struct kh_bcache_ent {
	unsigned char key[KH_XXH128_LEN];
	uint64_t run;           /* last run that used it; 0 unknown */
	uint64_t size;          /* bytes of its file */
};

struct kh_bcache {
	char *dir;
	int lockfd;
	uint64_t max;
	uint64_t run;           /* this run's number */
	pthread_mutex_t lock;   /* guards v */
	struct kh_bcache_ent *v;
	size_t n, cap;
};

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

static char *kh_bcache_path(const struct kh_bcache *bc, const char *name)
{
	size_t len = strlen(bc->dir) + strlen(name) + 2;
	char *p = malloc(len);

	if (p)
		snprintf(p, len, "%s/%s", bc->dir, name);
	return p;
}

static char *kh_bcache_entry_path(const struct kh_bcache *bc,
				  const unsigned char *key)
{
	char name[KH_BCACHE_NAME_LEN + 1];

	kh_hash_hex(key, KH_XXH128_LEN, name);
	strcat(name, KH_BCACHE_SUFFIX);
	return kh_bcache_path(bc, name);
}

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

/* Read the index: the last run's number and each entry's rank. A
 * damaged index only loses the ranks. */
static void kh_bcache_load_index(struct kh_bcache *bc, uint64_t *last_run)
{
	char *path = kh_bcache_path(bc, "index");
	char line[256];
	FILE *fp = path ? fopen(path, "re") : NULL;

	*last_run = 0;
	free(path);
	if (!fp)
		return;
	if (!fgets(line, sizeof(line), fp) ||
	    strcmp(line, KH_BCACHE_INDEX_MAGIC "\n") ||
	    !fgets(line, sizeof(line), fp) ||
	    sscanf(line, "run %" SCNu64, last_run) != 1) {
		*last_run = 0;
		fclose(fp);
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		unsigned char key[KH_XXH128_LEN];
		char hex[2 * KH_XXH128_LEN + 1];
		struct kh_bcache_ent *e;
		uint64_t run, size;

		if (sscanf(line, "%" SCNu64 " %32s %" SCNu64, &run, hex,
			   &size) != 3 ||
		    kh_hash_unhex(hex, key, KH_XXH128_LEN) < 0 ||
		    run > *last_run)
			continue;
		e = kh_bcache_find(bc, key, 1);
		if (e && run > e->run)
			e->run = run;
	}
	fclose(fp);
}

/* Match the records with the files: drop records without a file, add
 * files without a record (rank 0), take sizes from the files, remove
 * temporaries that a killed run left. */
static int kh_bcache_scan(struct kh_bcache *bc, struct kh_error *err)
{
	struct kh_bcache_ent *found = NULL;
	size_t nfound = 0, cap = 0;
	struct dirent *d;
	DIR *dir = opendir(bc->dir);
	int ret = 0;

	if (!dir)
		return kh_error_sys(err, errno, bc->dir,
				    "cannot read cache directory");
	while ((d = readdir(dir))) {
		unsigned char key[KH_XXH128_LEN];
		char hex[2 * KH_XXH128_LEN + 1];
		struct kh_bcache_ent *e;
		struct stat st;

		if (d->d_name[0] == '.') {
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				unlinkat(dirfd(dir), d->d_name, 0);
			continue;
		}
		if (strlen(d->d_name) != KH_BCACHE_NAME_LEN ||
		    strcmp(d->d_name + 2 * KH_XXH128_LEN, KH_BCACHE_SUFFIX))
			continue;
		memcpy(hex, d->d_name, 2 * KH_XXH128_LEN);
		hex[2 * KH_XXH128_LEN] = '\0';
		if (kh_hash_unhex(hex, key, KH_XXH128_LEN) < 0 ||
		    fstatat(dirfd(dir), d->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (nfound == cap) {
			void *p;

			cap = cap ? 2 * cap : 64;
			p = realloc(found, cap * sizeof(*found));
			if (!p) {
				ret = kh_error_set(err, KH_ENOMEM, NULL,
						   "out of memory");
				goto out;
			}
			found = p;
		}
		e = kh_bcache_find(bc, key, 0);
		memcpy(found[nfound].key, key, KH_XXH128_LEN);
		found[nfound].run = e ? e->run : 0;
		found[nfound].size = (uint64_t)st.st_size;
		nfound++;
	}
	free(bc->v);
	bc->v = found;
	bc->n = nfound;
	bc->cap = cap;
	found = NULL;
out:
	free(found);
	closedir(dir);
	return ret;
}

int kh_bcache_open(const char *dir, uint64_t max, struct kh_bcache **bcp,
		   struct kh_error *err)
{
	struct kh_bcache *bc;
	uint64_t last_run;
	char *lockpath;
	int ret;

	*bcp = NULL;
	if (mkdir(dir, 0777) < 0 && errno != EEXIST)
		return kh_error_sys(err, errno, dir,
				    "cannot create cache directory");
	bc = calloc(1, sizeof(*bc));
	if (!bc || !(bc->dir = strdup(dir))) {
		free(bc);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	bc->lockfd = -1;
	bc->max = max;
	pthread_mutex_init(&bc->lock, NULL);
	lockpath = kh_bcache_path(bc, "lock");
	if (!lockpath) {
		kh_bcache_abort(bc);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	bc->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (bc->lockfd < 0) {
		ret = kh_error_sys(err, errno, lockpath, "cannot open");
		free(lockpath);
		kh_bcache_abort(bc);
		return ret;
	}
	free(lockpath);
	if (flock(bc->lockfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		kh_bcache_abort(bc);
		if (e == EWOULDBLOCK)
			return 0;
		return kh_error_sys(err, e, dir, "cannot lock cache");
	}
	kh_bcache_load_index(bc, &last_run);
	ret = kh_bcache_scan(bc, err);
	if (ret < 0) {
		kh_bcache_abort(bc);
		return ret;
	}
	bc->run = last_run + 1;
	*bcp = bc;
	return 0;
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

/* Read all of path into a malloc'ed buffer if it looks like an entry:
 * 0 read, -1 no such entry, -2 something unusable is in its place. */
static int kh_bcache_slurp(const char *path, unsigned char **buf,
			   size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	*buf = NULL;
	if (fd < 0)
		return errno == ENOENT ? -1 : -2;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < KH_BCACHE_HDR ||
	    (uint64_t)st.st_size > KH_BCACHE_ENTRY_MAX ||
	    !(*buf = malloc((size_t)st.st_size))) {
		close(fd);
		return -2;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(*buf);
		*buf = NULL;
		return -2;
	}
	*len = got;
	return 0;
}

int kh_bcache_get(struct kh_bcache *bc, const unsigned char *key,
		  struct kh_xzblk *out)
{
	unsigned char *buf = NULL, hash[KH_XXH128_LEN];
	struct kh_xzblk b = KH_XZBLK_INIT;
	struct kh_bcache_ent *e;
	char *path = kh_bcache_entry_path(bc, key);
	size_t len;
	int ok = 0;

	memset(out, 0, sizeof(*out));
	if (!path)
		return 0;
	switch (kh_bcache_slurp(path, &buf, &len)) {
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
	    b.size != len - KH_BCACHE_HDR)
		goto bad;
	kh_hash_xxh128(buf + KH_BCACHE_HDR, b.size, hash);
	if (memcmp(hash, buf + KH_BCACHE_OFF_HASH, KH_XXH128_LEN))
		goto bad;
	/* Keep the Block alone: move it to the front of the buffer. */
	memmove(buf, buf + KH_BCACHE_HDR, b.size);
	b.buf = buf;
	buf = NULL;
	if (kh_xzblk_check(&b) < 0)
		goto bad;
	pthread_mutex_lock(&bc->lock);
	e = kh_bcache_find(bc, key, 1);
	if (e) {
		e->run = bc->run;
		e->size = len;
	}
	pthread_mutex_unlock(&bc->lock);
	*out = b;
	b.buf = NULL;
	ok = 1;
	goto out;
bad:
	/* Never trusted again; the fresh block will replace it. */
	unlink(path);
	pthread_mutex_lock(&bc->lock);
	e = kh_bcache_find(bc, key, 0);
	if (e)
		*e = bc->v[--bc->n];
	pthread_mutex_unlock(&bc->lock);
out:
	kh_xzblk_release(&b);
	free(buf);
	free(path);
	return ok;
}

int kh_bcache_put(struct kh_bcache *bc, const unsigned char *key,
		  const struct kh_xzblk *b, struct kh_error *err)
{
	unsigned char hdr[KH_BCACHE_HDR];
	struct kh_afile *af = NULL;
	struct kh_bcache_ent *e;
	char *path = kh_bcache_entry_path(bc, key);
	int ret;

	if (!path)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, KH_BCACHE_MAGIC, KH_BCACHE_MAGIC_LEN);
	memcpy(hdr + KH_BCACHE_OFF_KEY, key, KH_XXH128_LEN);
	kh_bcache_put64(hdr + KH_BCACHE_OFF_UNCOMPRESSED, b->uncompressed);
	kh_bcache_put64(hdr + KH_BCACHE_OFF_UNPADDED, b->unpadded);
	kh_bcache_put64(hdr + KH_BCACHE_OFF_SIZE, b->size);
	kh_hash_xxh128(b->buf, b->size, hdr + KH_BCACHE_OFF_HASH);
	ret = kh_afile_open(path, &af, err);
	if (ret == 0)
		ret = kh_afile_write(af, hdr, sizeof(hdr), err);
	if (ret == 0)
		ret = kh_afile_write(af, b->buf, b->size, err);
	if (ret == 0) {
		ret = kh_afile_commit(af, err);
		af = NULL;
	}
	kh_afile_abort(af);
	free(path);
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
	struct kh_afile *af = NULL;
	char *path = kh_bcache_path(bc, "index");
	char line[128];
	int ret;

	if (!path)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	ret = kh_afile_open(path, &af, err);
	snprintf(line, sizeof(line), "%s\nrun %" PRIu64 "\n",
		 KH_BCACHE_INDEX_MAGIC, bc->run);
	if (ret == 0)
		ret = kh_afile_write(af, line, strlen(line), err);
	for (size_t i = 0; ret == 0 && i < keep; i++) {
		char hex[2 * KH_XXH128_LEN + 1];

		kh_hash_hex(bc->v[i].key, KH_XXH128_LEN, hex);
		snprintf(line, sizeof(line), "%" PRIu64 " %s %" PRIu64 "\n",
			 bc->v[i].run, hex, bc->v[i].size);
		ret = kh_afile_write(af, line, strlen(line), err);
	}
	if (ret == 0) {
		ret = kh_afile_commit(af, err);
		af = NULL;
	}
	kh_afile_abort(af);
	free(path);
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
		char *path = kh_bcache_entry_path(bc, bc->v[i].key);

		if (path && unlink(path) < 0 && errno != ENOENT && ret == 0)
			ret = kh_error_sys(err, errno, path,
					   "cannot remove cache entry");
		free(path);
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
	pthread_mutex_destroy(&bc->lock);
	free(bc->v);
	free(bc->dir);
	free(bc);
}
