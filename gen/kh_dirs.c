/* kh_dirs: the previous run's directory records (see kh_dirs.h). */
#include "gen/kh_dirs.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct kh_dirs {
	struct kh_walk_dirrec *recs;
	size_t n;
	size_t *slots;     /* open addressing: index + 1, 0 for empty */
	size_t mask;
	char *text;        /* every record's rel and names */
};

static size_t kh_dirs_hash(int tree, const char *rel, size_t rlen)
{
	return (size_t)(XXH3_64bits(rel, rlen) ^ (uint64_t)tree);
}

struct kh_dirs *kh_dirs_build(const struct kh_state *st, int64_t before_ns)
{
	struct kh_dirs *d = calloc(1, sizeof(*d));
	size_t bytes = 0, size = 16, ndirs = kh_state_ndirs(st);
	char *p;

	if (!d)
		return NULL;
	for (size_t i = 0; i < ndirs; i++)
		bytes += strlen(kh_state_dir(st, i)->rel) + 1 +
			 kh_state_dir(st, i)->nlen;
	while (size < 2 * ndirs)
		size *= 2;
	d->recs = malloc((ndirs ? ndirs : 1) * sizeof(*d->recs));
	d->slots = calloc(size, sizeof(*d->slots));
	d->text = p = malloc(bytes ? bytes : 1);
	if (!d->recs || !d->slots || !d->text) {
		kh_dirs_free(d);
		return NULL;
	}
	d->mask = size - 1;
	for (size_t i = 0; i < ndirs; i++) {
		const struct kh_state_dir *s = kh_state_dir(st, i);
		struct kh_walk_dirrec *r;
		size_t rlen = strlen(s->rel), h;

		if (s->ctime_ns >= before_ns)
			continue;
		r = &d->recs[d->n];
		r->rel = memcpy(p, s->rel, rlen + 1);
		r->rlen = rlen;
		p += rlen + 1;
		r->names = s->nlen ? memcpy(p, s->names, s->nlen) : p;
		r->nlen = s->nlen;
		p += s->nlen;
		r->tree = s->tree;
		r->ctime_ns = s->ctime_ns;
		r->ino = s->ino;
		/* A path twice (a state edited by hand): the first stays. */
		for (h = kh_dirs_hash(r->tree, r->rel, rlen) & d->mask;
		     d->slots[h]; h = (h + 1) & d->mask) {
			const struct kh_walk_dirrec *o = &d->recs[d->slots[h] - 1];

			if (o->tree == r->tree && o->rlen == rlen &&
			    !memcmp(o->rel, r->rel, rlen))
				break;
		}
		if (!d->slots[h])
			d->slots[h] = ++d->n;
	}
	return d;
}

const struct kh_walk_dirrec *kh_dirs_find(const struct kh_dirs *d, int tree,
					  const char *rel, size_t rlen)
{
	for (size_t h = kh_dirs_hash(tree, rel, rlen) & d->mask; d->slots[h];
	     h = (h + 1) & d->mask) {
		const struct kh_walk_dirrec *r = &d->recs[d->slots[h] - 1];

		if (r->tree == tree && r->rlen == rlen &&
		    !memcmp(r->rel, rel, rlen))
			return r;
	}
	return NULL;
}

void kh_dirs_free(struct kh_dirs *d)
{
	if (!d)
		return;
	free(d->recs);
	free(d->slots);
	free(d->text);
	free(d);
}
