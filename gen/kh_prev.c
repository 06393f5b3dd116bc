/* kh_prev: the last run's state, read on its own thread (see kh_prev.h). */
#include "gen/kh_prev.h"

#include "gen/kh_skip.h"

static void kh_prev_dirs(const struct kh_state *st, void *ctx)
{
	struct kh_prev *p = ctx;
	struct kh_dirs *d = kh_dirs_build(st, kh_state_started(st) -
					  KH_SKIP_RACY_NS);

	__atomic_store_n(&p->dirs, d, __ATOMIC_RELEASE);
}

static void *kh_prev_load(void *arg)
{
	struct kh_prev *p = arg;

	kh_state_on_dirs(&p->st, kh_prev_dirs, p);
	p->ret = kh_state_load(p->path, &p->st, &p->found, &p->err);
	return NULL;
}

/* kh_walk_cache.find over the previous state's records. */
static const struct kh_walk_dirrec *kh_prev_find(void *ctx, int tree,
						 const char *rel, size_t rlen,
						 int *known)
{
	struct kh_prev *p = ctx;
	struct kh_dirs *d = __atomic_load_n(&p->dirs, __ATOMIC_ACQUIRE);

	*known = d != NULL;
	return d ? kh_dirs_find(d, tree, rel, rlen) : NULL;
}

/* Wait for the load (or do it now, without a thread). */
static void kh_prev_join(struct kh_prev *p)
{
	if (p->started)
		pthread_join(p->tid, NULL);
	else if (p->path)
		kh_prev_load(p);
	p->started = 0;
	p->path = NULL;
}

void kh_prev_start(struct kh_prev *p, const char *path, int threads)
{
	*p = (struct kh_prev)KH_PREV_INIT;
	p->err = (struct kh_error)KH_ERROR_INIT;
	p->path = path;
	if (path && threads > 1 &&
	    pthread_create(&p->tid, NULL, kh_prev_load, p) == 0)
		p->started = 1;
	else if (path)
		kh_prev_join(p);
}

int kh_prev_walk_cache(struct kh_prev *p, int *stale,
		       struct kh_walk_cache *c)
{
	*c = (struct kh_walk_cache){ .find = kh_prev_find, .ctx = p,
				     .stale = stale };
	return p->path || p->dirs;
}

struct kh_state *kh_prev_wait(struct kh_prev *p,
			      const struct kh_error **load_err)
{
	kh_prev_join(p);
	*load_err = p->ret < 0 ? &p->err : NULL;
	return p->ret == 0 && p->found ? &p->st : NULL;
}

void kh_prev_release(struct kh_prev *p)
{
	kh_prev_join(p);
	kh_state_release(&p->st);
	kh_dirs_free(p->dirs);
	p->dirs = NULL;
}
