/* kh_bcache: the compressed block cache (see kh_bcache.h): its records,
 * the index that ranks them, reading an entry back (verified) and
 * writing one, and the bound kept on close. The directory itself (trust,
 * lock, names, atomic writes) is kh_bcache_dir.c's. */
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

#include "gen/kh_bcache_dir.h"
#include "lib/kh_buf.h"
#include "lib/kh_file.h"

/* Longest index line: run, key, bytes. */
#define KH_BCACHE_LINE_MAX (20 + 1 + KH_BCACHE_HEX_LEN + 1 + 20 + 1)

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

/* ---- Records: what is in the cache and when it was last used. ---- */

/* The record for key, added (run 0, size 0) if new; NULL if no memory.
 * Caller holds bc->lock or is alone. */
static struct kh_bcache_ent *kh_bcache_find(struct kh_bcache *bc,
					    const unsigned char *key, int add)
{
	void *v;

	for (size_t i = 0; i < bc->n; i++)
		if (!memcmp(bc->v[i].key, key, KH_XXH128_LEN))
			return &bc->v[i];
	if (!add)
		return NULL;
	v = kh_buf_grow_array(bc->v, &bc->cap, bc->n + 1, sizeof(*bc->v), 64);
	if (!v)
		return NULL;
	bc->v = v;
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
 * of the exact shape kh_bcache_dir_write makes. */
static int kh_bcache_scan(struct kh_bcache *bc, struct kh_error *err)
{
	int ret = 0;
	struct dirent *d;
	DIR *dp;

	if (kh_bcache_dir_stream(bc->dfd, bc->dir, &dp, err) < 0)
		return KH_EIO;
	while ((d = readdir(dp))) {
		unsigned char key[KH_XXH128_LEN];
		char hex[KH_BCACHE_HEX_LEN + 1];
		struct kh_bcache_ent *e;
		struct stat st;

		if (kh_bcache_dir_is_tmp(d->d_name)) {
			unlinkat(bc->dfd, d->d_name, 0);
			continue;
		}
		if (!kh_bcache_dir_is_entry(d->d_name, strlen(d->d_name)))
			continue;
		memcpy(hex, d->d_name, KH_BCACHE_HEX_LEN);
		hex[KH_BCACHE_HEX_LEN] = '\0';
		if (kh_hash_unhex(hex, key, KH_XXH128_LEN) < 0 ||
		    fstatat(bc->dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* Names are unique: append without searching. */
		e = kh_buf_grow_array(bc->v, &bc->cap, bc->n + 1,
				      sizeof(*bc->v), 64);
		if (!e) {
			ret = kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
			break;
		}
		bc->v = e;
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
	    !kh_bcache_dir_is_hex(p, KH_BCACHE_HEX_LEN) ||
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
	kh_bcache_dir_where(bc->dir, KH_BCACHE_INDEX, where, sizeof(where));
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
	int ret;

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
	ret = kh_bcache_dir_open(bc->dir, &bc->dfd, &bc->lockfd, err);
	if (ret == 1) {
		kh_bcache_abort(bc);
		return 0;
	}
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
	kh_bcache_dir_entry_name(key, name);
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
	kh_bcache_dir_entry_name(key, name);
	ret = kh_bcache_dir_write(bc->dfd, bc->dir, name, hdr, sizeof(hdr),
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
	ret = kh_bcache_dir_write(bc->dfd, bc->dir, KH_BCACHE_INDEX, buf, n, NULL,
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

		kh_bcache_dir_entry_name(bc->v[i].key, name);
		if (unlinkat(bc->dfd, name, 0) < 0 && errno != ENOENT &&
		    ret == 0)
			ret = kh_error_sys(err, errno,
					   kh_bcache_dir_where(bc->dir, name, where,
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
