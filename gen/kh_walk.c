/* kh_walk: header selection (see kh_walk.h). */
#include "gen/kh_walk.h"
#include "lib/kh_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kh_walk_is_header(const char *name)
{
	size_t n = strlen(name);

	return n >= 2 && name[n - 2] == '.' && name[n - 1] == 'h';
}

static int kh_walk_silly(const char *comp, size_t n)
{
	return (n >= 4 && !memcmp(comp, ".nfs", 4)) ||
	       (n >= 6 && !memcmp(comp, ".__afs", 6));
}

size_t kh_walk_silly_end(const char *rel)
{
	const char *c = rel;

	/* GNU tar's unanchored --exclude=".nfs*" matches any component. */
	while (*c) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (kh_walk_silly(c, n))
			return (size_t)(c - rel) + n;
		if (!slash)
			break;
		c = slash + 1;
	}
	return 0;
}

int kh_walk_excluded(const char *rel)
{
	return !strcmp(rel, "include/generated/utsversion.h") ||
	       kh_walk_silly_end(rel) != 0;
}

static char *kh_walk_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);

	if (!s)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

/* ---- the list and its arena ------------------------------------------ */

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

/* Array v (capacity *cap elements of size bytes) with room for need:
 * v itself, or v grown to at least twice its capacity (to first, the
 * first time). NULL when out of memory (v is then unchanged). */
static void *kh_walk_reserve(void *v, size_t *cap, size_t need, size_t size,
			     size_t first)
{
	size_t n;

	if (need <= *cap)
		return v;
	n = *cap ? *cap * 2 : first;
	if (n < need)
		n = need;
	v = realloc(v, n * size);
	if (v)
		*cap = n;
	return v;
}

/* Add root/rel[0..rlen) to list; st NULL for a KH_WALK_PARENTS entry. */
static int kh_walk_push(struct kh_walk_list *list, const char *root,
			size_t rootlen, const char *rel, size_t rlen,
			const struct stat *st, int tree, struct kh_error *err)
{
	struct kh_walk_entry *e;
	char *p;

	/* A kernel tree has some 6,400 headers: start big enough for them
	 * (untouched capacity costs no page). */
	e = kh_walk_reserve(list->v, &list->cap, list->n + 1, sizeof(*e), 8192);
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

/* Record directory rel[0..rlen) of tree as read: ctime and inode from
 * st, names[0..nlen) as in kh_walk_dirrec. */
static int kh_walk_push_dir(struct kh_walk_list *list, int tree,
			    const char *rel, size_t rlen, const struct stat *st,
			    const char *names, size_t nlen,
			    struct kh_error *err)
{
	struct kh_walk_dirrec *d;
	char *p;

	d = kh_walk_reserve(list->dirs, &list->dcap, list->ndirs + 1,
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
	v = kh_walk_reserve(to->dirs, &to->dcap, to->ndirs + from->ndirs,
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

/* Move every entry of from, and its strings, to the end of to. */
static int kh_walk_append(struct kh_walk_list *to, struct kh_walk_list *from,
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
	v = kh_walk_reserve(to->v, &to->cap, to->n + from->n, sizeof(*to->v),
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

/* ---- the walk --------------------------------------------------------- *
 *
 * Directories are read with getdents64 into a buffer per depth, and
 * only header names (and names of unknown type) are stat'ed: a name
 * the directory calls a directory is opened as one (O_NOFOLLOW, so a
 * symlink is never followed), which is also how a race that replaced
 * it is noticed.
 *
 * With more than one thread, a directory's subdirectories become units
 * on a shared stack; a thread that finds the stack full (each unit
 * holds an open descriptor) descends at once instead. To report the
 * first error in walk order whatever the timing, every position has a
 * key: the root's number, then the index of each name on the way in
 * its directory's listing, all plus one. The smallest key wins.
 */

#define KH_WALK_BUF (32 * 1024)
#define KH_WALK_MAX_PENDING 128
#define KH_WALK_MAX_DEPTH (PATH_MAX / 2 + 2)

struct kh_walk_rootx {
	const char *root;
	size_t rootlen;
	int tree;
};

/* A directory to read, already open. key[0..klen) is its position;
 * rel (its path in the archive) follows in the same allocation. */
struct kh_walk_unit {
	struct kh_walk_unit *next;
	const struct kh_walk_rootx *root;
	int fd;
	size_t rlen, klen;
	size_t *key;
	char *rel;
};

struct kh_walk_shared {
	const struct kh_walk_cache *cache;
	int record;                /* record directories in the lists */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct kh_walk_unit *stack;
	size_t pending;            /* units on the stack */
	int busy;                  /* threads running a unit */
	int defer;                 /* hand subdirectories out at all */
	int phased;                /* top levels' errors first */
};

/* One thread's walk. */
struct kh_walk_ctx {
	struct kh_walk_shared *sh;
	struct kh_walk_list list;
	const struct kh_walk_rootx *root;
	struct kh_error err;       /* the error being reported */
	int noted;                 /* err is in best already */
	struct kh_error best;      /* the first error in walk order */
	size_t *bkey, bklen;
	int bphase;
	size_t key[KH_WALK_MAX_DEPTH];
	char *bufs[KH_WALK_MAX_DEPTH];  /* getdents buffers, by depth */
	/* Names a directory's record gets, by depth, while it is read. */
	char *nbufs[KH_WALK_MAX_DEPTH];
	size_t nlens[KH_WALK_MAX_DEPTH], ncaps[KH_WALK_MAX_DEPTH];
	char rel[PATH_MAX];
};

static int kh_walk_keycmp(int pa, const size_t *a, size_t na, int pb,
			  const size_t *b, size_t nb)
{
	if (pa != pb)
		return pa < pb ? -1 : 1;
	for (size_t i = 0; i < na && i < nb; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return na < nb ? -1 : na > nb;
}

/* Keep c->err, found at position key[0..klen), if it is the first. */
static void kh_walk_note(struct kh_walk_ctx *c, const size_t *key,
			 size_t klen)
{
	/* kh_walk_trees reads the top level of every root before the
	 * directories below, and reports its errors first. */
	int phase = c->sh->phased && klen > 2;

	c->noted = 1;
	if (c->best.code && kh_walk_keycmp(phase, key, klen, c->bphase,
					   c->bkey, c->bklen) >= 0)
		return;
	if (c->bklen < klen || !c->bkey) {
		size_t *k = realloc(c->bkey, (klen ? klen : 1) * sizeof(*k));

		if (!k) {
			/* Cannot order it: keep the first we had. */
			if (!c->best.code)
				c->best = c->err;
			return;
		}
		c->bkey = k;
	}
	memcpy(c->bkey, key, klen * sizeof(*key));
	c->bklen = klen;
	c->bphase = phase;
	c->best = c->err;
}

static int kh_walk_fail(struct kh_walk_ctx *c, int errnum, const char *rel,
			const char *what)
{
	char *path = kh_walk_join(c->root->root, rel);
	int ret;

	if (errnum)
		ret = kh_error_sys(&c->err, errnum, path ? path : rel, "%s",
				   what);
	else
		ret = kh_error_set(&c->err, KH_EINVAL, path ? path : rel,
				   "%s", what);
	free(path);
	return ret;
}

static int kh_walk_dir(struct kh_walk_ctx *c, int dfd, size_t rlen,
		       size_t klen, size_t depth, int silly);

/* Put directory rel (open as fd, position key[0..klen)) on the stack.
 * 1 when it is there, 0 when the caller must walk it now. */
static int kh_walk_defer(struct kh_walk_ctx *c, int fd, size_t rlen,
			 size_t klen)
{
	struct kh_walk_shared *sh = c->sh;
	struct kh_walk_unit *u;

	if (!sh->defer)
		return 0;
	/* Unlocked: a stale count only moves the limit a little. */
	if (__atomic_load_n(&sh->pending, __ATOMIC_RELAXED) >=
	    KH_WALK_MAX_PENDING)
		return 0;
	u = malloc(sizeof(*u) + klen * sizeof(size_t) + rlen + 1);
	if (!u)
		return 0;    /* walking it now needs no memory */
	u->root = c->root;
	u->fd = fd;
	u->rlen = rlen;
	u->klen = klen;
	u->key = (size_t *)(u + 1);
	memcpy(u->key, c->key, klen * sizeof(size_t));
	u->rel = (char *)(u->key + klen);
	memcpy(u->rel, c->rel, rlen + 1);
	pthread_mutex_lock(&sh->lock);
	u->next = sh->stack;
	sh->stack = u;
	__atomic_add_fetch(&sh->pending, 1, __ATOMIC_RELAXED);
	pthread_cond_signal(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
	return 1;
}

/* Directory c->rel[0..rlen), open as fd: hand it out or walk it now.
 * Its position is key[0..klen); fd is closed either way. silly: a
 * component of its path is a silly-rename name. */
static int kh_walk_subdir(struct kh_walk_ctx *c, int fd, size_t rlen,
			  size_t klen, size_t depth, int silly)
{
	int ret;

	if (kh_walk_defer(c, fd, rlen, klen))
		return 0;
	ret = kh_walk_dir(c, fd, rlen, klen, depth + 1, silly);
	close(fd);
	return ret;
}

static int kh_walk_opendir(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		      O_CLOEXEC);
}

/* Directory c->rel, at position key[0..klen), cannot be opened: an
 * error at its own start, before anything inside it. */
static int kh_walk_opendir_fail(struct kh_walk_ctx *c, int errnum,
				size_t klen)
{
	int ret = kh_walk_fail(c, errnum, c->rel, "cannot read directory");

	c->key[klen] = 0;
	kh_walk_note(c, c->key, klen + 1);
	return ret;
}

/* What to do with a name that is not a directory. */
static int kh_walk_file(struct kh_walk_ctx *c, size_t rlen, int header,
			int silly, const struct stat *st)
{
	const struct kh_walk_rootx *r = c->root;
	char *rel = c->rel;

	if (!header || !strcmp(rel, "include/generated/utsversion.h"))
		return 0;
	if (silly && (silly = (int)kh_walk_silly_end(rel)) != 0)
		/* Upstream copies silly-rename files and excludes them only
		 * when archiving, so their directories stay listed. */
		return kh_walk_push(&c->list, r->root, r->rootlen, rel,
				    (size_t)silly, NULL, r->tree, &c->err);
	if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
		return kh_walk_push(&c->list, r->root, r->rootlen, rel, rlen,
				    st, r->tree, &c->err);
	return kh_walk_fail(c, 0, rel, "is neither a regular file nor a "
			    "symlink");
}

/* Consider one directory entry; descend into real directories. Its
 * position is key[0..klen); silly as for kh_walk_subdir, for rel's
 * directory. */
static int kh_walk_one(struct kh_walk_ctx *c, int dfd, size_t rlen,
		       const char *name, unsigned char type, size_t klen,
		       size_t depth, int silly)
{
	size_t nlen = strlen(name);
	int header = kh_walk_is_header(name);
	char *rel = c->rel;
	struct stat st;
	int fd, ret;

	if (rlen + 1 + nlen >= PATH_MAX)
		return kh_error_set(&c->err, KH_EINVAL, c->root->root,
				    "path too long below %s", rel);
	rel[rlen] = '/';
	memcpy(rel + rlen + 1, name, nlen + 1);
	/* From here on, for rel itself: is any component silly? */
	silly = silly || kh_walk_silly(name, nlen);
	if (type == DT_DIR) {
		/* A silly-rename directory is excluded, not an error,
		 * whatever its name: descend to find what upstream would
		 * have copied. */
		if (header && !silly) {
			ret = kh_walk_fail(c, 0, rel, "is a directory named "
					   "like a header; upstream would "
					   "archive it empty");
			goto out;
		}
		fd = kh_walk_opendir(dfd, name);
		if (fd >= 0) {
			ret = kh_walk_subdir(c, fd, rlen + 1 + nlen, klen,
					     depth, silly);
			goto out;
		}
		/* Gone or replaced since the listing: look again, to say
		 * what stat says, as for any other name. */
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) {
			ret = kh_walk_opendir_fail(c, errno, klen);
			goto out;
		}
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		/* Listed a moment ago: someone is changing the tree. */
		ret = errno == ENOENT ?
			kh_walk_fail(c, 0, rel, "changed while kheaders was "
				     "reading it; run again once the tree is "
				     "quiet") :
			kh_walk_fail(c, errno, rel, "cannot stat");
		goto out;
	}
	if (S_ISDIR(st.st_mode) && header && !silly) {
		ret = kh_walk_fail(c, 0, rel, "is a directory named like a "
				   "header; upstream would archive it empty");
	} else if (S_ISDIR(st.st_mode)) {
		fd = kh_walk_opendir(dfd, name);
		ret = fd < 0 ? kh_walk_opendir_fail(c, errno, klen)
			     : kh_walk_subdir(c, fd, rlen + 1 + nlen, klen,
					      depth, silly);
	} else {
		ret = kh_walk_file(c, rlen + 1 + nlen, header, silly, &st);
	}
out:
	rel[rlen] = '\0';
	return ret;
}

/* Does a name listed with this type matter? Only directories, headers,
 * and names of unknown type (which stat decides). */
static int kh_walk_wanted(const char *name, unsigned char type)
{
	return type == DT_UNKNOWN || type == DT_DIR || kh_walk_is_header(name);
}

/* Name number ++*index of directory c->rel[0..rlen) (open as dfd,
 * position key[0..klen)). 0 to go on with the next name, <0 to stop. */
static int kh_walk_name(struct kh_walk_ctx *c, int dfd, size_t rlen,
			const char *name, unsigned char type, size_t klen,
			size_t depth, int silly, size_t *index)
{
	int ret;

	c->key[klen] = ++*index;
	ret = kh_walk_one(c, dfd, rlen, name, type, klen + 1, depth, silly);
	if (ret < 0) {
		if (!c->noted)
			kh_walk_note(c, c->key, klen + 1);
		/* Walked at once, a subdirectory of a top level failed: the
		 * rest of the top level still comes first. */
		if (c->sh->phased && klen == 1 && c->bphase == 1) {
			c->noted = 0;
			return 0;
		}
	}
	return ret;
}

/* Keep name (listed as type) for the record of the directory being
 * read at depth; on no memory, that directory gets no record. */
static void kh_walk_keep_name(struct kh_walk_ctx *c, size_t depth,
			      const char *name, unsigned char type)
{
	size_t n = strlen(name) + 2;

	if (!c->ncaps[depth] && c->nlens[depth])
		return;   /* gave up on this one */
	if (c->nlens[depth] + n > c->ncaps[depth]) {
		size_t cap = (c->nlens[depth] + n) * 2 + 256;
		char *p = realloc(c->nbufs[depth], cap);

		if (!p) {
			free(c->nbufs[depth]);
			c->nbufs[depth] = NULL;
			c->ncaps[depth] = 0;
			c->nlens[depth] = 1;
			return;
		}
		c->nbufs[depth] = p;
		c->ncaps[depth] = cap;
	}
	c->nbufs[depth][c->nlens[depth]] = type == DT_DIR ? 'd' : 'u';
	memcpy(c->nbufs[depth] + c->nlens[depth] + 1, name, n - 1);
	c->nlens[depth] += n;
}

/* List directory c->rel[0..rlen) from its record rec. */
static int kh_walk_replay(struct kh_walk_ctx *c, int dfd, size_t rlen,
			  size_t klen, size_t depth, int silly,
			  const struct kh_walk_dirrec *rec)
{
	size_t index = 0;

	for (size_t off = 0; off < rec->nlen;) {
		const char *e = rec->names + off;
		int ret;

		off += strlen(e) + 1;
		ret = kh_walk_name(c, dfd, rlen, e + 1,
				   e[0] == 'd' ? DT_DIR : DT_UNKNOWN, klen,
				   depth, silly, &index);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Listing directory dfd from rec failed. If the directory did not change
 * meanwhile, blame the record (the caller may walk again without
 * records); if it did, the tree changed under us, as it can between a
 * getdents and a stat, and the error stands. */
static void kh_walk_replay_failed(struct kh_walk_ctx *c, int dfd,
				  const struct kh_walk_dirrec *rec)
{
	const struct kh_walk_cache *cache = c->sh->cache;
	struct stat st;

	if (cache->stale && fstat(dfd, &st) == 0 &&
	    kh_time_ns(st.st_ctim) == rec->ctime_ns &&
	    (unsigned long long)st.st_ino == rec->ino)
		__atomic_store_n(cache->stale, 1, __ATOMIC_RELAXED);
}

/* List directory c->rel[0..rlen) with getdents64; keep the names for
 * its record when keep is set. */
static int kh_walk_read(struct kh_walk_ctx *c, int dfd, size_t rlen,
			size_t klen, size_t depth, int silly, int keep)
{
	size_t index = 0;
	char *buf = c->bufs[depth];

	for (;;) {
		ssize_t n = getdents64(dfd, buf, KH_WALK_BUF);

		if (n < 0) {
			kh_walk_fail(c, errno, c->rel,
				     "cannot read directory");
			c->key[klen] = index + 1;
			kh_walk_note(c, c->key, klen + 1);
			return c->err.code;
		}
		if (n == 0)
			return 0;
		for (size_t off = 0; off < (size_t)n;) {
			const struct dirent64 *d = (const void *)(buf + off);
			const char *name = d->d_name;
			int ret;

			off += d->d_reclen;
			if (name[0] == '.' && (!name[1] ||
					       (name[1] == '.' && !name[2])))
				continue;
			if (!kh_walk_wanted(name, d->d_type))
				continue;
			if (keep)
				kh_walk_keep_name(c, depth, name, d->d_type);
			ret = kh_walk_name(c, dfd, rlen, name, d->d_type, klen,
					   depth, silly, &index);
			if (ret < 0)
				return ret;
		}
	}
}

/* Directory c->rel[0..rlen), open as dfd: its record, if the cache has
 * one that still holds (NULL otherwise); st is its stat data. */
static const struct kh_walk_dirrec *kh_walk_lookup(struct kh_walk_ctx *c,
						   size_t rlen,
						   const struct stat *st)
{
	const struct kh_walk_cache *cache = c->sh->cache;
	const struct kh_walk_dirrec *rec;
	int known = 0;

	if (!cache || !cache->find)
		return NULL;
	rec = cache->find(cache->ctx, c->root->tree, c->rel, rlen, &known);
	if (rec && rec->ctime_ns == kh_time_ns(st->st_ctim) &&
	    rec->ino == (unsigned long long)st->st_ino) {
		c->list.replayed++;
		return rec;
	}
	if (known)
		c->list.reread++;
	return NULL;
}

/* Read directory c->rel[0..rlen), open as dfd; its names' positions
 * are key[0..klen] with key[klen] their index plus one. */
static int kh_walk_dir(struct kh_walk_ctx *c, int dfd, size_t rlen,
		       size_t klen, size_t depth, int silly)
{
	const struct kh_walk_dirrec *rec = NULL;
	struct stat st;
	int keep = 0, ret;

	if (depth >= KH_WALK_MAX_DEPTH || klen + 1 >= KH_WALK_MAX_DEPTH) {
		kh_error_set(&c->err, KH_EINVAL, c->root->root,
			     "path too long below %s", c->rel);
		kh_walk_note(c, c->key, klen);
		return c->err.code;
	}
	if (!c->bufs[depth] && !(c->bufs[depth] = malloc(KH_WALK_BUF))) {
		kh_error_set(&c->err, KH_ENOMEM, NULL, "out of memory");
		kh_walk_note(c, c->key, klen);
		return c->err.code;
	}
	/* Stat before reading: a change after this shows in the ctime
	 * the next walk compares. Without it, no record either way. */
	if (c->sh->record && fstat(dfd, &st) == 0) {
		keep = 1;
		rec = kh_walk_lookup(c, rlen, &st);
	}
	c->nlens[depth] = 0;
	if (rec) {
		ret = kh_walk_replay(c, dfd, rlen, klen, depth, silly, rec);
		if (ret < 0)
			kh_walk_replay_failed(c, dfd, rec);
	} else
		ret = kh_walk_read(c, dfd, rlen, klen, depth, silly, keep);
	if (ret < 0 || !keep)
		return ret;
	if (!rec && !c->ncaps[depth] && c->nlens[depth])
		return 0;   /* no memory for the names: no record */
	/* Without memory for it, the directory only goes unrecorded: the
	 * next walk reads it. */
	{
		struct kh_error e = KH_ERROR_INIT;

		kh_walk_push_dir(&c->list, c->root->tree, c->rel, rlen, &st,
				 rec ? rec->names : c->nbufs[depth],
				 rec ? rec->nlen : c->nlens[depth], &e);
	}
	return 0;
}

static void kh_walk_unit_run(struct kh_walk_ctx *c, struct kh_walk_unit *u)
{
	c->root = u->root;
	memcpy(c->rel, u->rel, u->rlen + 1);
	memcpy(c->key, u->key, u->klen * sizeof(size_t));
	c->noted = 0;
	kh_walk_dir(c, u->fd, u->rlen, u->klen, 0,
		    kh_walk_silly_end(u->rel) != 0);
	close(u->fd);
	free(u);
}

static void kh_walk_run(struct kh_walk_ctx *c)
{
	struct kh_walk_shared *sh = c->sh;

	pthread_mutex_lock(&sh->lock);
	for (;;) {
		struct kh_walk_unit *u;

		while (!sh->stack && sh->busy)
			pthread_cond_wait(&sh->cond, &sh->lock);
		if (!sh->stack)
			break;
		u = sh->stack;
		sh->stack = u->next;
		__atomic_sub_fetch(&sh->pending, 1, __ATOMIC_RELAXED);
		sh->busy++;
		pthread_mutex_unlock(&sh->lock);
		kh_walk_unit_run(c, u);
		pthread_mutex_lock(&sh->lock);
		sh->busy--;
	}
	/* Nothing left, nobody to add more: wake the others to leave. */
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
}

static void kh_walk_sort(struct kh_walk_list *list);

/* A worker walks, then sorts what it found while the others do. */
static void *kh_walk_worker(void *arg)
{
	struct kh_walk_ctx *c = arg;

	kh_walk_run(c);
	if (!c->best.code)
		kh_walk_sort(&c->list);
	return NULL;
}

static struct kh_walk_ctx *kh_walk_ctx_new(struct kh_walk_shared *sh)
{
	struct kh_walk_ctx *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	/* Not all of it: key, bufs and rel are large, set as used. */
	memset(c, 0, offsetof(struct kh_walk_ctx, key));
	memset(c->bufs, 0, sizeof(c->bufs));
	memset(c->nbufs, 0, sizeof(c->nbufs));
	memset(c->ncaps, 0, sizeof(c->ncaps));
	c->sh = sh;
	return c;
}

static void kh_walk_ctx_free(struct kh_walk_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < KH_WALK_MAX_DEPTH && c->bufs[i]; i++)
		free(c->bufs[i]);
	/* Not contiguous, unlike bufs: a directory listed from its record
	 * keeps no names, so a depth below it can hold a buffer while its
	 * own depth holds none. */
	for (size_t i = 0; i < KH_WALK_MAX_DEPTH; i++)
		free(c->nbufs[i]);
	free(c->bkey);
	kh_walk_list_release(&c->list);
	free(c);
}

/* Check root/sub and put it on the stack as a unit at position
 * key[0..1); errors go to c->err. */
static int kh_walk_start(struct kh_walk_ctx *c, const char *sub,
			 int required)
{
	char *rel = c->rel;
	struct stat st;
	int rfd, pfd, fd, ret;
	char *path, *slash;
	const char *name;
	size_t n = strlen(sub);

	if (n >= sizeof(c->rel))
		return kh_error_set(&c->err, KH_EINVAL, sub, "path too long");
	memcpy(rel, sub, n + 1);
	while (n > 1 && rel[n - 1] == '/')
		rel[--n] = '\0';
	path = kh_walk_join(c->root->root, rel);
	if (!path)
		return kh_error_set(&c->err, KH_ENOMEM, NULL, "out of memory");
	/* Like find, follow a symlink given as the starting point. */
	ret = 0;
	if (stat(path, &st) < 0) {
		if (required || errno != ENOENT)
			ret = kh_error_sys(&c->err, errno, path,
					   "cannot read directory");
		free(path);
		return ret;
	}
	if (!S_ISDIR(st.st_mode))
		ret = kh_error_set(&c->err, KH_EINVAL, path,
				   "not a directory");
	free(path);
	if (ret < 0)
		return ret;
	rfd = open(c->root->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return kh_error_sys(&c->err, errno, c->root->root,
				    "cannot open tree");
	/* Descend through the intermediate components of sub ("arch/x86"). */
	pfd = rfd;
	slash = strrchr(rel, '/');
	if (slash) {
		*slash = '\0';
		pfd = openat(rfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
		if (pfd < 0) {
			ret = kh_error_sys(&c->err, errno, c->root->root,
					   "cannot open %s", rel);
			close(rfd);
			return ret;
		}
	}
	name = slash ? slash + 1 : rel;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		ret = kh_walk_fail(c, errno, rel, "cannot read directory");
	else if (!kh_walk_defer(c, fd, n, 1)) {
		ret = kh_walk_dir(c, fd, n, 1, 0,
				  kh_walk_silly_end(rel) != 0);
		close(fd);
	}
	if (pfd != rfd)
		close(pfd);
	close(rfd);
	return ret;
}

static int kh_walk_cmp(const void *pa, const void *pb);

/* Merge the sorted lists of the n threads into the empty list to. */
static int kh_walk_merge(struct kh_walk_list *to, struct kh_walk_ctx **ctx,
			 int n, struct kh_error *err)
{
	size_t pos[KH_WALK_MAX_THREADS] = { 0 }, total = 0, k = 0;
	struct kh_walk_entry *v;

	for (int t = 0; t < n; t++)
		total += ctx[t]->list.n;
	v = malloc((total ? total : 1) * sizeof(*v));
	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	while (k < total) {
		const struct kh_walk_entry *best = NULL;
		int bt = 0;

		for (int t = 0; t < n; t++) {
			const struct kh_walk_list *l = &ctx[t]->list;

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
		ctx[t]->list.n = 0;
	to->v = v;
	to->n = to->cap = total;
	return 0;
}

/* kh_walk_trees; phased: as kh_walk_trees reports errors, else in
 * plain depth-first order (kh_walk_tree). */
static int kh_walk_roots(const struct kh_walk_root *roots, size_t nroots,
			 int threads, int phased,
			 const struct kh_walk_cache *cache, int record,
			 struct kh_walk_list *list, struct kh_error *err)
{
	struct kh_walk_shared sh = { .defer = threads > 1, .phased = phased,
				     .cache = cache, .record = record };
	struct kh_walk_ctx *ctx[KH_WALK_MAX_THREADS] = { NULL };
	struct kh_walk_rootx *rx;
	pthread_t tid[KH_WALK_MAX_THREADS];
	int started = 0, ret = 0, more;
	struct kh_walk_ctx *c;

	if (threads > KH_WALK_MAX_THREADS)
		threads = KH_WALK_MAX_THREADS;
	if (threads < 1)
		threads = 1;
	rx = calloc(nroots ? nroots : 1, sizeof(*rx));
	c = ctx[0] = kh_walk_ctx_new(&sh);
	if (!rx || !c) {
		free(rx);
		kh_walk_ctx_free(c);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.cond, NULL);
	/* The roots' starts, in order; their directories are units (or,
	 * on one thread, walked at once). */
	for (size_t i = 0; i < nroots; i++) {
		rx[i].root = roots[i].root;
		rx[i].rootlen = strlen(roots[i].root);
		rx[i].tree = roots[i].tree;
		c->root = &rx[i];
		c->key[0] = i + 1;
		c->noted = 0;
		if (kh_walk_start(c, roots[i].sub, roots[i].required) < 0 &&
		    !c->noted) {
			c->key[1] = 0;
			kh_walk_note(c, c->key, 2);
		}
	}
	/* The calling thread works too. Whether there is work for more
	 * is read here, while this thread is still the only one: once a
	 * worker runs, the stack is read under its lock only. */
	more = sh.stack != NULL;
	for (int t = 1; t < threads && more; t++) {
		if (!(ctx[t] = kh_walk_ctx_new(&sh)))
			break;
		if (pthread_create(&tid[t - 1], NULL, kh_walk_worker,
				   ctx[t])) {
			kh_walk_ctx_free(ctx[t]);
			ctx[t] = NULL;
			break;   /* fewer threads is slower, never wrong */
		}
		started++;
	}
	kh_walk_run(c);
	if (!c->best.code)
		kh_walk_sort(&c->list);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	/* The first error in walk order, and every entry otherwise. */
	for (int t = 0; t <= started; t++) {
		struct kh_walk_ctx *w = ctx[t];

		if (w->best.code && (!c->best.code ||
				     kh_walk_keycmp(w->bphase, w->bkey,
						    w->bklen, c->bphase,
						    c->bkey, c->bklen) < 0)) {
			c->best = w->best;
			/* Only its order matters from now on. */
			free(c->bkey);
			c->bkey = w->bkey;
			c->bklen = w->bklen;
			c->bphase = w->bphase;
			w->bkey = NULL;
		}
	}
	if (c->best.code) {
		*err = c->best;
		ret = err->code;
	}
	/* Each thread's entries are sorted: into an empty list, merge
	 * them, and kh_walk_finish finds nothing left to sort. */
	if (ret == 0 && !list->v && !list->arena && started > 0)
		ret = kh_walk_merge(list, ctx, started + 1, err);
	for (int t = 0; t <= started; t++) {
		if (ret == 0)
			ret = kh_walk_append(list, &ctx[t]->list, err);
		kh_walk_ctx_free(ctx[t]);
	}
	pthread_cond_destroy(&sh.cond);
	pthread_mutex_destroy(&sh.lock);
	free(rx);
	return ret;
}

int kh_walk_trees(const struct kh_walk_root *roots, size_t nroots,
		  int threads, struct kh_walk_list *list, struct kh_error *err)
{
	return kh_walk_roots(roots, nroots, threads, 1, NULL, 0, list, err);
}

int kh_walk_trees_cached(const struct kh_walk_root *roots, size_t nroots,
			 int threads, const struct kh_walk_cache *cache,
			 struct kh_walk_list *list, struct kh_error *err)
{
	return kh_walk_roots(roots, nroots, threads, 1, cache, 1, list, err);
}

int kh_walk_tree(const char *root, const char *sub, int tree, int required,
		 struct kh_walk_list *list, struct kh_error *err)
{
	struct kh_walk_root r = { root, sub, tree, required };

	return kh_walk_roots(&r, 1, 1, 0, NULL, 0, list, err);
}

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

static void kh_walk_sort(struct kh_walk_list *list)
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
	kh_walk_sort(list);
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
