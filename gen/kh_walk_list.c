/* kh_walk_list: the entries and directory records a walk collects, and
 * their order (see kh_walk_list.h). */
#include "gen/kh_walk_list.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_buf.h"
#include "lib/kh_time.h"

#define KH_WALK_CHUNK (64 * 1024)

struct kh_walk_chunk {
	struct kh_walk_chunk *next;
	size_t used, cap;
	char data[];
};

static char *kh_walk_alloc(struct kh_walk_list *list, size_t n)
{
	struct kh_walk_chunk *c = list->arena;
	char *p;

	if (!c || c->cap - c->used < n) {
		size_t cap = n > KH_WALK_CHUNK ? n : KH_WALK_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = list->arena;
		c->used = 0;
		c->cap = cap;
		list->arena = c;
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

int kh_walk_list_push(struct kh_walk_list *list, const char *root,
		      size_t rootlen, const char *rel, size_t rlen,
		      const struct stat *st, int tree, struct kh_error *err)
{
	struct kh_walk_entry *e;
	char *p;

	/* A kernel tree has some 6,400 headers: start big enough for them
	 * (untouched capacity costs no page). */
	e = kh_buf_grow_array(list->v, &list->cap, list->n + 1, sizeof(*e), 8192);
	if (!e)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	list->v = e;
	p = kh_walk_alloc(list, rootlen + rlen + 2);
	if (!p)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	memcpy(p, root, rootlen);
	p[rootlen] = '/';
	memcpy(p + rootlen + 1, rel, rlen);
	p[rootlen + 1 + rlen] = '\0';
	e = &list->v[list->n++];
	memset(e, 0, sizeof(*e));
	e->path = p;
	e->rel = p + rootlen + 1;
	e->rlen = rlen;
	e->type = !st ? KH_WALK_PARENTS
		: S_ISLNK(st->st_mode) ? KH_WALK_SYMLINK : KH_WALK_FILE;
	e->tree = tree;
	if (!st)
		return 0;
	e->size = st->st_size;
	e->mtime_ns = kh_time_ns(st->st_mtim);
	e->ctime_ns = kh_time_ns(st->st_ctim);
	e->ino = st->st_ino;
	return 0;
}

int kh_walk_list_push_dir(struct kh_walk_list *list, int tree,
			  const char *rel, size_t rlen, const struct stat *st,
			  const char *names, size_t nlen,
			  struct kh_error *err)
{
	struct kh_walk_dirrec *d;
	char *p;

	d = kh_buf_grow_array(list->dirs, &list->dcap, list->ndirs + 1,
			    sizeof(*d), 64);
	if (!d)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	list->dirs = d;
	p = kh_walk_alloc(list, rlen + 1 + nlen);
	if (!p)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	memcpy(p, rel, rlen);
	p[rlen] = '\0';
	if (nlen)
		memcpy(p + rlen + 1, names, nlen);
	d = &list->dirs[list->ndirs++];
	d->rel = p;
	d->rlen = rlen;
	d->tree = tree;
	d->ctime_ns = kh_time_ns(st->st_ctim);
	d->ino = (unsigned long long)st->st_ino;
	d->names = p + rlen + 1;
	d->nlen = nlen;
	return 0;
}

/* Move from's directory records to the end of to's (strings move with
 * the arenas). */
static int kh_walk_append_dirs(struct kh_walk_list *to,
			       struct kh_walk_list *from, struct kh_error *err)
{
	struct kh_walk_dirrec *v;

	to->replayed += from->replayed;
	to->reread += from->reread;
	from->replayed = from->reread = 0;
	if (!from->ndirs)
		return 0;
	v = kh_buf_grow_array(to->dirs, &to->dcap, to->ndirs + from->ndirs,
			    sizeof(*to->dirs), 64);
	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	to->dirs = v;
	memcpy(to->dirs + to->ndirs, from->dirs,
	       from->ndirs * sizeof(*from->dirs));
	to->ndirs += from->ndirs;
	free(from->dirs);
	from->dirs = NULL;
	from->ndirs = from->dcap = 0;
	return 0;
}

int kh_walk_list_append(struct kh_walk_list *to, struct kh_walk_list *from,
			struct kh_error *err)
{
	struct kh_walk_chunk **tail;
	struct kh_walk_entry *v;

	if (!to->v && !to->arena && !to->dirs) {
		/* Nothing to keep: take from's arrays, copy nothing. */
		*to = *from;
		memset(from, 0, sizeof(*from));
		return 0;
	}
	if (kh_walk_append_dirs(to, from, err) < 0)
		return err->code;
	v = kh_buf_grow_array(to->v, &to->cap, to->n + from->n, sizeof(*to->v),
			    1024);
	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	to->v = v;
	if (from->n)
		memcpy(to->v + to->n, from->v, from->n * sizeof(*from->v));
	to->n += from->n;
	/* to's current chunk stays first: it may have room left. */
	for (tail = &from->arena; *tail; tail = &(*tail)->next)
		;
	if (to->arena) {
		*tail = to->arena->next;
		to->arena->next = from->arena;
	} else {
		to->arena = from->arena;
	}
	free(from->v);
	from->v = NULL;
	from->n = from->cap = 0;
	from->arena = NULL;
	return 0;
}

static int kh_walk_cmp(const void *pa, const void *pb);

int kh_walk_list_merge(struct kh_walk_list *to, struct kh_walk_list *const *from,
		       int n, struct kh_error *err)
{
	size_t pos[KH_WALK_MAX_THREADS] = { 0 }, total = 0, k = 0;
	struct kh_walk_entry *v;

	for (int t = 0; t < n; t++)
		total += from[t]->n;
	v = malloc((total ? total : 1) * sizeof(*v));
	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	while (k < total) {
		const struct kh_walk_entry *best = NULL;
		int bt = 0;

		for (int t = 0; t < n; t++) {
			const struct kh_walk_list *l = from[t];

			if (pos[t] < l->n && (!best ||
			    kh_walk_cmp(&l->v[pos[t]], best) < 0)) {
				best = &l->v[pos[t]];
				bt = t;
			}
		}
		v[k++] = *best;
		pos[bt]++;
	}
	/* The entries are in v; the strings move with the arenas. */
	for (int t = 0; t < n; t++)
		from[t]->n = 0;
	to->v = v;
	to->n = to->cap = total;
	return 0;
}

/* ---- directory records ------------------------------------------------ */

void kh_walk_list_keep_name(struct kh_walk_names *n, const char *name,
			    unsigned char type)
{
	size_t need = strlen(name) + 2;

	if (kh_walk_list_names_lost(n))
		return;
	if (n->len + need > n->cap) {
		size_t cap = (n->len + need) * 2 + 256;
		char *p = realloc(n->buf, cap);

		if (!p) {
			free(n->buf);
			n->buf = NULL;
			n->cap = 0;
			n->len = 1;
			return;
		}
		n->buf = p;
		n->cap = cap;
	}
	n->buf[n->len] = type == DT_DIR ? 'd' : 'u';
	memcpy(n->buf + n->len + 1, name, need - 1);
	n->len += need;
}

int kh_walk_list_names_lost(const struct kh_walk_names *n)
{
	return !n->cap && n->len;
}

const struct kh_walk_dirrec *
kh_walk_list_lookup(struct kh_walk_list *list, const struct kh_walk_cache *cache,
		    int tree, const char *rel, size_t rlen,
		    const struct stat *st)
{
	const struct kh_walk_dirrec *rec;
	int known = 0;

	if (!cache || !cache->find)
		return NULL;
	rec = cache->find(cache->ctx, tree, rel, rlen, &known);
	if (rec && rec->ctime_ns == kh_time_ns(st->st_ctim) &&
	    rec->ino == (unsigned long long)st->st_ino) {
		list->replayed++;
		return rec;
	}
	if (known)
		list->reread++;
	return NULL;
}

void kh_walk_list_replay_failed(const struct kh_walk_cache *cache, int dfd,
				const struct kh_walk_dirrec *rec)
{
	struct stat st;

	if (cache->stale && fstat(dfd, &st) == 0 &&
	    kh_time_ns(st.st_ctim) == rec->ctime_ns &&
	    (unsigned long long)st.st_ino == rec->ino)
		__atomic_store_n(cache->stale, 1, __ATOMIC_RELAXED);
}

/* ---- order --------------------------------------------------------- */

/* Index of the first byte where a and b differ, or n. Eight bytes at
 * a time: sorted paths share long prefixes. */
static size_t kh_walk_mismatch(const char *a, const char *b, size_t n)
{
	size_t i = 0;

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + (size_t)__builtin_ctzll(x ^ y) / 8;
	}
#endif
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* kh_tarorder_cmp (lib/kh_tarorder.c) on strings of known lengths. */
static int kh_walk_pathcmpn(const char *a, size_t la, const char *b,
			    size_t lb)
{
	size_t n = la < lb ? la : lb, i = kh_walk_mismatch(a, b, n);
	unsigned ca, cb;

	if (i == n)
		return la < lb ? -1 : la > lb;
	ca = (unsigned char)a[i];
	cb = (unsigned char)b[i];
	if (ca == '/')
		return -1;
	if (cb == '/')
		return 1;
	return ca < cb ? -1 : 1;
}

static int kh_walk_cmp(const void *pa, const void *pb)
{
	const struct kh_walk_entry *a = pa, *b = pb;
	int c = kh_walk_pathcmpn(a->rel, a->rlen, b->rel, b->rlen);

	return c ? c : a->tree - b->tree;
}

void kh_walk_list_sort(struct kh_walk_list *list)
{
	size_t i = 1;

	/* Sorted already (kh_walk_trees merges sorted runs): one pass. */
	while (i < list->n && kh_walk_cmp(&list->v[i - 1], &list->v[i]) <= 0)
		i++;
	/* An empty walk has no array: qsort(NULL, 0) is undefined. */
	if (i < list->n)
		qsort(list->v, list->n, sizeof(*list->v), kh_walk_cmp);
}

static int kh_walk_dircmp(const void *pa, const void *pb)
{
	const struct kh_walk_dirrec *a = pa, *b = pb;

	return a->tree != b->tree ? a->tree - b->tree : strcmp(a->rel, b->rel);
}

void kh_walk_finish(struct kh_walk_list *list)
{
	size_t out = 0;

	if (list->ndirs)
		qsort(list->dirs, list->ndirs, sizeof(*list->dirs),
		      kh_walk_dircmp);
	kh_walk_list_sort(list);
	for (size_t i = 0; i < list->n; i++) {
		/* Equal paths are adjacent, srctree first: keep the last. */
		if (i + 1 < list->n && list->v[i].rlen == list->v[i + 1].rlen &&
		    !memcmp(list->v[i].rel, list->v[i + 1].rel,
			    list->v[i].rlen))
			continue;   /* its strings go with the arena */
		list->v[out++] = list->v[i];
	}
	list->n = out;
}

void kh_walk_list_release(struct kh_walk_list *list)
{
	while (list->arena) {
		struct kh_walk_chunk *next = list->arena->next;

		free(list->arena);
		list->arena = next;
	}
	free(list->v);
	free(list->dirs);
	memset(list, 0, sizeof(*list));
}

