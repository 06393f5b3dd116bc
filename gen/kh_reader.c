/* kh_reader: parallel reading and stripping (see kh_reader.h). */
#include "gen/kh_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/kh_strip.h"
#include "lib/kh_file.h"
#include "lib/kh_time.h"

/* How far workers may run ahead of the writer, in entries: enough to
 * keep them busy while the compressor catches up, bounded memory. */
#define KH_READER_WINDOW 4096
/* ...and in bytes: a tree of large headers must not all sit in memory
 * at once. The entry the writer waits for is always read, whatever its
 * size. (A whole 6.x tree is about 55 MB.) */
#define KH_READER_WINDOW_BYTES (64ULL << 20)
#define KH_READER_MAX_THREADS 64

struct kh_reader_item {
	char *data;
	size_t len;
	unsigned char hash[KH_XXH128_LEN];
	int ready;
	struct kh_error err;
};

struct kh_reader {
	const struct kh_walk_list *list;
	int strip;
	int nthreads;
	pthread_t threads[KH_READER_MAX_THREADS];
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* an item became ready or the window moved */
	size_t next;              /* next entry a worker takes */
	size_t taken;             /* entries the writer has consumed */
	unsigned long long inflight;   /* bytes taken by workers, not consumed */
	int stop;
	struct kh_reader_item *items;
};

static int kh_reader_changed(const struct kh_walk_entry *e,
			     struct kh_error *err)
{
	return kh_error_set(err, KH_EIO, e->path,
			    "changed while kheaders was reading it; "
			    "run again once the tree is quiet");
}

static int kh_reader_symlink(const struct kh_walk_entry *e, char **data,
			     size_t *len, struct kh_error *err)
{
	size_t cap = (size_t)e->size + 1;
	char *buf = malloc(cap);
	ssize_t n;

	if (!buf)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	n = readlink(e->path, buf, cap);
	if (n < 0) {
		int saved = errno;

		free(buf);
		if (saved == ENOENT || saved == EINVAL)
			return kh_reader_changed(e, err);
		return kh_error_sys(err, saved, e->path, "cannot read symlink");
	}
	if ((size_t)n != (size_t)e->size) {
		free(buf);
		return kh_reader_changed(e, err);
	}
	buf[n] = '\0';
	*data = buf;
	*len = (size_t)n;
	return 0;
}

/* Read the whole file; one byte more than expected proves growth. */
static int kh_reader_file(const struct kh_walk_entry *e, char **data,
			  size_t *len, struct kh_error *err)
{
	size_t want = (size_t)e->size;
	struct stat st, after;
	ssize_t got;
	char *buf = NULL;
	int fd, ret = 0;

	fd = open(e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			return kh_reader_changed(e, err);
		return kh_error_sys(err, errno, e->path, "cannot open");
	}
	if (fstat(fd, &st) < 0) {
		ret = kh_error_sys(err, errno, e->path, "cannot stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != e->size ||
	    st.st_ino != e->ino ||
	    kh_time_ns(st.st_mtim) != e->mtime_ns) {
		ret = kh_reader_changed(e, err);
		goto out;
	}
	buf = malloc(want + 1);
	if (!buf) {
		ret = kh_error_set(err, KH_ENOMEM, e->path, "out of memory");
		goto out;
	}
	/* One byte more than expected shows a file that grew. */
	got = kh_file_read_upto(fd, buf, want + 1);
	if (got < 0) {
		ret = kh_error_sys(err, errno, e->path, "cannot read");
		goto out;
	}
	if ((size_t)got != want)
		ret = kh_reader_changed(e, err);
	/* A write during the read (same size, in place) moves mtime and
	 * ctime: checked after it too, so the bytes read are those of one
	 * version of the file. */
	else if (fstat(fd, &after) < 0)
		ret = kh_error_sys(err, errno, e->path, "cannot stat");
	else if (after.st_size != st.st_size ||
		 kh_time_ns(after.st_mtim) != kh_time_ns(st.st_mtim) ||
		 kh_time_ns(after.st_ctim) != kh_time_ns(st.st_ctim))
		ret = kh_reader_changed(e, err);
out:
	close(fd);
	if (ret < 0) {
		free(buf);
		return ret;
	}
	*data = buf;
	*len = want;
	return 0;
}

int kh_reader_load(const struct kh_walk_entry *e, int strip, char **data,
		   size_t *len, unsigned char *hash, struct kh_error *err)
{
	int ret;

	*data = NULL;
	*len = 0;
	if (hash)
		memset(hash, 0, KH_XXH128_LEN);
	if (e->type == KH_WALK_PARENTS)
		return 0;
	if (e->type == KH_WALK_SYMLINK)
		return kh_reader_symlink(e, data, len, err);
	ret = kh_reader_file(e, data, len, err);
	if (ret == 0 && hash)
		kh_hash_xxh128(*data, *len, hash);
	if (ret == 0 && strip)
		*len = kh_strip(*data, *len);
	return ret;
}

/* What reading entry i costs in memory, for the byte window. */
static unsigned long long kh_reader_cost(const struct kh_reader *r, size_t i)
{
	const struct kh_walk_entry *e = &r->list->v[i];

	return e->type == KH_WALK_FILE ? (unsigned long long)e->size : 0;
}

/* May a worker take the next entry? Not too far ahead of the writer,
 * in entries or bytes; the entry the writer needs next, always. */
static int kh_reader_may_take(const struct kh_reader *r)
{
	if (r->next >= r->taken + KH_READER_WINDOW)
		return 0;
	return r->next == r->taken ||
	       r->inflight + kh_reader_cost(r, r->next) <=
		       KH_READER_WINDOW_BYTES;
}

static void *kh_reader_worker(void *arg)
{
	struct kh_reader *r = arg;

	for (;;) {
		struct kh_reader_item *it;
		size_t i;

		pthread_mutex_lock(&r->lock);
		while (!r->stop && r->next < r->list->n &&
		       !kh_reader_may_take(r))
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stop || r->next >= r->list->n) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		i = r->next++;
		r->inflight += kh_reader_cost(r, i);
		pthread_mutex_unlock(&r->lock);

		it = &r->items[i];
		kh_reader_load(&r->list->v[i], r->strip, &it->data, &it->len,
			       it->hash, &it->err);
		pthread_mutex_lock(&r->lock);
		it->ready = 1;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
}

int kh_reader_new(const struct kh_walk_list *list, int strip, int threads,
		  struct kh_reader **rp, struct kh_error *err)
{
	struct kh_reader *r = calloc(1, sizeof(*r));

	*rp = NULL;
	if (!r || !(r->items = calloc(list->n + 1, sizeof(*r->items)))) {
		free(r);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	r->list = list;
	r->strip = strip;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (threads < 1)
		threads = 1;
	if (threads > KH_READER_MAX_THREADS)
		threads = KH_READER_MAX_THREADS;
	for (int t = 0; t < threads; t++) {
		int e = pthread_create(&r->threads[t], NULL,
				       kh_reader_worker, r);

		if (e) {
			kh_reader_free(r);
			return kh_error_sys(err, e, NULL,
					    "cannot start reader thread");
		}
		r->nthreads++;
	}
	*rp = r;
	return 0;
}

int kh_reader_get(struct kh_reader *r, size_t i, const char **data,
		  size_t *len, unsigned char hash[KH_XXH128_LEN],
		  struct kh_error *err)
{
	struct kh_reader_item *it = &r->items[i];

	pthread_mutex_lock(&r->lock);
	while (!it->ready)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	if (it->err.code) {
		*err = it->err;
		return err->code;
	}
	*data = it->data;
	*len = it->len;
	memcpy(hash, it->hash, KH_XXH128_LEN);
	return 0;
}

void kh_reader_done(struct kh_reader *r, size_t i)
{
	free(r->items[i].data);
	r->items[i].data = NULL;
	pthread_mutex_lock(&r->lock);
	r->taken = i + 1;
	r->inflight -= kh_reader_cost(r, i);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void kh_reader_free(struct kh_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (int t = 0; t < r->nthreads; t++)
		pthread_join(r->threads[t], NULL);
	for (size_t i = 0; i < r->list->n; i++)
		free(r->items[i].data);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->items);
	free(r);
}
