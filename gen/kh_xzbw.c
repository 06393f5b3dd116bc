/* kh_xzbw: parallel, cached block compression (see kh_xzbw.h). */
#include "gen/kh_xzbw.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gen/kh_blocks.h"
#include "gen/kh_xzblk.h"
#include "lib/kh_buf.h"
#include "lib/kh_hash.h"

enum { KH_XZBW_QUEUED, KH_XZBW_RUNNING, KH_XZBW_DONE };

struct kh_xzbw_job {
	unsigned char *data;    /* the uncompressed block, until done */
	size_t len;
	int state;
	int cached;             /* blk came from the cache */
	unsigned char key[KH_XXH128_LEN];
	struct kh_xzblk blk;
	struct kh_error err;
};

struct kh_xzbw {
	struct kh_xzbw_opts o;
	char settings[KH_XZBLK_DESCRIBE_MAX];
	struct kh_xzblk_stream *stream;
	struct kh_blocks *cut;

	/* The tar stream from offset base on, not yet in any block. */
	unsigned char *buf;
	size_t len, cap;
	uint64_t base;
	uint64_t total;         /* bytes received */

	/* Entry starts not yet hashed: starts[head..n). */
	uint64_t *starts;
	size_t head, n, scap;
	uint64_t described;     /* stream bytes given to the cutter */
	int end_seen;
	uint64_t end_off;       /* where the end-of-archive blocks start */
	int hook_failed;        /* the entry hook ran out of memory */

	pthread_t threads[KH_XZBW_MAX_THREADS];
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t work;    /* a job was queued, or stop */
	pthread_cond_t done;    /* a job finished */
	struct kh_xzbw_job **jobs;
	size_t njobs, jcap;
	size_t written;         /* jobs whose block is in the stream */
	size_t undone;          /* jobs queued or running */
	size_t cached;
	int stop;
};

static int kh_xzbw_nomem(struct kh_error *err)
{
	return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
}

/* The queued job to run next: the largest, so that the last jobs to
 * finish are small ones and the threads end together. */
static struct kh_xzbw_job *kh_xzbw_pick(struct kh_xzbw *xw)
{
	struct kh_xzbw_job *best = NULL;

	for (size_t i = xw->written; i < xw->njobs; i++) {
		struct kh_xzbw_job *j = xw->jobs[i];

		if (j->state == KH_XZBW_QUEUED && (!best || j->len > best->len))
			best = j;
	}
	return best;
}

static void *kh_xzbw_worker(void *arg)
{
	struct kh_xzbw *xw = arg;

	for (;;) {
		struct kh_xzbw_job *j;

		pthread_mutex_lock(&xw->lock);
		while (!xw->stop && !(j = kh_xzbw_pick(xw)))
			pthread_cond_wait(&xw->work, &xw->lock);
		if (xw->stop) {
			pthread_mutex_unlock(&xw->lock);
			return NULL;
		}
		j->state = KH_XZBW_RUNNING;
		pthread_mutex_unlock(&xw->lock);

		kh_bcache_key(xw->settings, j->data, j->len, j->key);
		/* The cache hands out a block only after decoding it and
		 * finding exactly these bytes. */
		if (xw->o.cache && kh_bcache_get(xw->o.cache, j->key,
						 xw->o.preset, j->data,
						 j->len, &j->blk))
			j->cached = 1;
		else {
			kh_xzblk_release(&j->blk);
			kh_xzblk_encode(xw->o.preset, j->data, j->len, &j->blk,
					&j->err);
		}
		free(j->data);
		j->data = NULL;

		pthread_mutex_lock(&xw->lock);
		j->state = KH_XZBW_DONE;
		xw->undone--;
		pthread_cond_broadcast(&xw->done);
		pthread_mutex_unlock(&xw->lock);
	}
}

int kh_xzbw_new(struct kh_sink out, const struct kh_xzbw_opts *o,
		struct kh_xzbw **xwp, struct kh_error *err)
{
	struct kh_xzbw *xw = calloc(1, sizeof(*xw));
	int ret, threads = o->threads;

	*xwp = NULL;
	if (!xw)
		return kh_xzbw_nomem(err);
	xw->o = *o;
	kh_xzblk_describe(o->preset, xw->settings, sizeof(xw->settings));
	pthread_mutex_init(&xw->lock, NULL);
	pthread_cond_init(&xw->work, NULL);
	pthread_cond_init(&xw->done, NULL);
	ret = kh_blocks_new(o->block_size, &xw->cut, err);
	if (ret == 0)
		ret = kh_xzblk_stream_new(out, &xw->stream, err);
	if (threads < 1)
		threads = 1;
	if (threads > KH_XZBW_MAX_THREADS)
		threads = KH_XZBW_MAX_THREADS;
	for (int t = 0; ret == 0 && t < threads; t++) {
		int e = pthread_create(&xw->threads[t], NULL, kh_xzbw_worker,
				       xw);

		if (e)
			ret = kh_error_sys(err, e, NULL,
					   "cannot start compression thread");
		else
			xw->nthreads++;
	}
	if (ret < 0) {
		kh_xzbw_free(xw);
		return ret;
	}
	*xwp = xw;
	return 0;
}

void kh_xzbw_entry(void *ctx, uint64_t off, int end)
{
	struct kh_xzbw *xw = ctx;
	void *p;

	if (end) {
		xw->end_seen = 1;
		xw->end_off = off;
		return;
	}
	if (xw->n == xw->scap && xw->head) {
		size_t live = xw->n - xw->head;

		memmove(xw->starts, xw->starts + xw->head,
			live * sizeof(*xw->starts));
		xw->n = live;
		xw->head = 0;
	}
	p = kh_buf_grow_array(xw->starts, &xw->scap, xw->n + 1,
			      sizeof(*xw->starts), 256);
	if (!p) {
		xw->hook_failed = 1;
		return;
	}
	xw->starts = p;
	xw->starts[xw->n++] = off;
}

/* Write every finished block that is next in order; with wait, until
 * all jobs are written. Stores new blocks in the cache on the way. */
static int kh_xzbw_drain(struct kh_xzbw *xw, int wait, struct kh_error *err)
{
	for (;;) {
		struct kh_xzbw_job *j;
		int ret;

		pthread_mutex_lock(&xw->lock);
		while (wait && xw->written < xw->njobs &&
		       xw->jobs[xw->written]->state != KH_XZBW_DONE)
			pthread_cond_wait(&xw->done, &xw->lock);
		j = xw->written < xw->njobs &&
		    xw->jobs[xw->written]->state == KH_XZBW_DONE ?
			xw->jobs[xw->written] : NULL;
		pthread_mutex_unlock(&xw->lock);
		if (!j)
			return 0;
		if (j->err.code) {
			*err = j->err;
			return err->code;
		}
		ret = kh_xzblk_stream_add(xw->stream, &j->blk, err);
		if (ret < 0)
			return ret;
		if (j->cached) {
			xw->cached++;
		} else if (xw->o.cache) {
			struct kh_error ignored = KH_ERROR_INIT;

			/* A cache that cannot take it costs time only. */
			kh_bcache_put(xw->o.cache, j->key, &j->blk, &ignored);
		}
		kh_xzblk_release(&j->blk);
		pthread_mutex_lock(&xw->lock);
		xw->written++;
		pthread_mutex_unlock(&xw->lock);
	}
}

/* Queue the first len bytes of the buffer as the next block. */
static int kh_xzbw_submit(struct kh_xzbw *xw, size_t len,
			  struct kh_error *err)
{
	struct kh_xzbw_job *j = calloc(1, sizeof(*j));
	void *p;

	if (!j || !(j->data = malloc(len))) {
		free(j);
		return kh_xzbw_nomem(err);
	}
	memcpy(j->data, xw->buf, len);
	j->len = len;
	j->state = KH_XZBW_QUEUED;
	memmove(xw->buf, xw->buf + len, xw->len - len);
	xw->len -= len;
	xw->base += len;

	pthread_mutex_lock(&xw->lock);
	/* Bound memory: threads busy plus one waiting. */
	while (xw->undone >= (size_t)xw->nthreads + 1)
		pthread_cond_wait(&xw->done, &xw->lock);
	p = kh_buf_grow_array(xw->jobs, &xw->jcap, xw->njobs + 1,
			      sizeof(*xw->jobs), 16);
	if (!p) {
		pthread_mutex_unlock(&xw->lock);
		free(j->data);
		free(j);
		return kh_xzbw_nomem(err);
	}
	xw->jobs = p;
	xw->jobs[xw->njobs++] = j;
	xw->undone++;
	pthread_cond_signal(&xw->work);
	pthread_mutex_unlock(&xw->lock);
	return kh_xzbw_drain(xw, 0, err);
}

/* Hash the entries whose bytes are all here, then queue every block the
 * cutter can decide. */
static int kh_xzbw_process(struct kh_xzbw *xw, struct kh_error *err)
{
	uint64_t end;
	int ret;

	if (xw->hook_failed)
		return kh_xzbw_nomem(err);
	while (xw->head < xw->n) {
		uint64_t s = xw->starts[xw->head], e, h = 0;
		unsigned char d[KH_XXH128_LEN];

		if (xw->head + 1 < xw->n)
			e = xw->starts[xw->head + 1];
		else if (xw->end_seen)
			e = xw->end_off;
		else
			break;
		if (e > xw->base + xw->len)
			break;
		if (s != xw->described || s < xw->base || e < s)
			return kh_error_set(err, KH_ELIB, NULL, "tar entries "
					    "do not tile the stream");
		kh_hash_xxh128(xw->buf + (s - xw->base), (size_t)(e - s), d);
		for (int i = 0; i < 8; i++)
			h = h << 8 | d[i];
		ret = kh_blocks_add(xw->cut, e - s, h, err);
		if (ret < 0)
			return ret;
		xw->described = e;
		xw->head++;
	}
	while (kh_blocks_next(xw->cut, &end)) {
		if (end <= xw->base || end > xw->base + xw->len)
			return kh_error_set(err, KH_ELIB, NULL, "block cut "
					    "outside the buffered stream");
		ret = kh_xzbw_submit(xw, (size_t)(end - xw->base), err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int kh_xzbw_write(void *ctx, const void *buf, size_t len,
			 struct kh_error *err)
{
	struct kh_xzbw *xw = ctx;

	if (!len)
		return 0;
	if (xw->len + len > xw->cap) {
		size_t cap = xw->cap ? xw->cap : 1 << 20;
		void *p;

		while (cap < xw->len + len)
			cap *= 2;
		p = realloc(xw->buf, cap);
		if (!p)
			return kh_xzbw_nomem(err);
		xw->buf = p;
		xw->cap = cap;
	}
	memcpy(xw->buf + xw->len, buf, len);
	xw->len += len;
	xw->total += len;
	return kh_xzbw_process(xw, err);
}

struct kh_sink kh_xzbw_sink(struct kh_xzbw *xw)
{
	struct kh_sink s = { .write = kh_xzbw_write, .ctx = xw };

	return s;
}

int kh_xzbw_finish(struct kh_xzbw *xw, struct kh_error *err)
{
	int ret;

	if (!xw->end_seen)
		return kh_error_set(err, KH_ELIB, NULL,
				    "tar stream without an end");
	ret = kh_xzbw_process(xw, err);
	if (ret < 0)
		return ret;
	if (xw->described != xw->end_off)
		return kh_error_set(err, KH_ELIB, NULL, "tar entries do not "
				    "tile the stream");
	kh_blocks_end(xw->cut, xw->total - xw->end_off);
	ret = kh_xzbw_process(xw, err);
	if (ret == 0 && xw->len)
		ret = kh_error_set(err, KH_ELIB, NULL,
				   "tar stream left out of every block");
	if (ret == 0)
		ret = kh_xzbw_drain(xw, 1, err);
	if (ret == 0)
		ret = kh_xzblk_stream_finish(xw->stream, err);
	return ret;
}

uint64_t kh_xzbw_size(const struct kh_xzbw *xw)
{
	return kh_xzblk_stream_size(xw->stream);
}

void kh_xzbw_counts(const struct kh_xzbw *xw, size_t *blocks,
		    size_t *cached)
{
	*blocks = xw->written;
	*cached = xw->cached;
}

void kh_xzbw_free(struct kh_xzbw *xw)
{
	if (!xw)
		return;
	pthread_mutex_lock(&xw->lock);
	xw->stop = 1;
	pthread_cond_broadcast(&xw->work);
	pthread_mutex_unlock(&xw->lock);
	for (int t = 0; t < xw->nthreads; t++)
		pthread_join(xw->threads[t], NULL);
	for (size_t i = 0; i < xw->njobs; i++) {
		free(xw->jobs[i]->data);
		kh_xzblk_release(&xw->jobs[i]->blk);
		free(xw->jobs[i]);
	}
	free(xw->jobs);
	pthread_mutex_destroy(&xw->lock);
	pthread_cond_destroy(&xw->work);
	pthread_cond_destroy(&xw->done);
	kh_blocks_free(xw->cut);
	kh_xzblk_stream_free(xw->stream);
	free(xw->starts);
	free(xw->buf);
	free(xw);
}
