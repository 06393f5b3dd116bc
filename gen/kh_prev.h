/* kh_prev: the last run's state, read while the trees are walked.
 *
 * On a no-op run the walk and this are nearly all the work, so the
 * state is parsed on a thread of its own, and its directory records are
 * published (atomically) as soon as they are parsed, before the inputs
 * are: the walk can replay unchanged directories meanwhile (kh_dirs).
 */
#ifndef KH_PREV_H
#define KH_PREV_H

#include <pthread.h>

#include "gen/kh_dirs.h"
#include "gen/kh_state.h"
#include "gen/kh_walk.h"
#include "lib/kh_error.h"

/* The fields are kh_prev.c's. */
struct kh_prev {
	const char *path;               /* while still to be read */
	struct kh_state st;
	int found, ret, started;
	struct kh_error err;
	pthread_t tid;
	struct kh_dirs *dirs;           /* published by the loader */
};

#define KH_PREV_INIT { .path = NULL }

/* Start reading the state at path (NULL: there is none to read), on a
 * thread when threads > 1; on one thread it is read now, so that the
 * walk can use its directory records. */
void kh_prev_start(struct kh_prev *p, const char *path, int threads);

/* The walk's view of the records (c->stale points to stale). 0 when
 * there are none to offer, and c is then not to be used. */
int kh_prev_walk_cache(struct kh_prev *p, int *stale,
		       struct kh_walk_cache *c);

/* Wait for the state: it, or NULL when there was none (*load_err then
 * NULL) or it could not be read (*load_err says why: unreadable,
 * corrupt, another version). Stays p's. */
struct kh_state *kh_prev_wait(struct kh_prev *p,
			      const struct kh_error **load_err);

void kh_prev_release(struct kh_prev *p);

#endif
