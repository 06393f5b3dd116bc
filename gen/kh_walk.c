/* kh_walk: header selection (see kh_walk.h): which names count, and
 * the walk over the trees' directories, on several threads, with the
 * first error in walk order and listings replayed from directory
 * records. What it collects, and its order, is kh_walk_list.c's. */
#include "gen/kh_walk.h"

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

#include "gen/kh_walk_list.h"

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
	struct kh_walk_names names[KH_WALK_MAX_DEPTH];
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
		return kh_walk_list_push(&c->list, r->root, r->rootlen, rel,
					 (size_t)silly, NULL, r->tree, &c->err);
	if (S_ISREG(st->st_mode) || S_ISLNK(st->st_mode))
		return kh_walk_list_push(&c->list, r->root, r->rootlen, rel,
					 rlen, st, r->tree, &c->err);
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
				kh_walk_list_keep_name(&c->names[depth], name,
						       d->d_type);
			ret = kh_walk_name(c, dfd, rlen, name, d->d_type, klen,
					   depth, silly, &index);
			if (ret < 0)
				return ret;
		}
	}
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
		rec = kh_walk_list_lookup(&c->list, c->sh->cache,
					  c->root->tree, c->rel, rlen, &st);
	}
	c->names[depth].len = 0;
	if (rec) {
		ret = kh_walk_replay(c, dfd, rlen, klen, depth, silly, rec);
		if (ret < 0)
			kh_walk_list_replay_failed(c->sh->cache, dfd, rec);
	} else
		ret = kh_walk_read(c, dfd, rlen, klen, depth, silly, keep);
	if (ret < 0 || !keep)
		return ret;
	if (!rec && kh_walk_list_names_lost(&c->names[depth]))
		return 0;   /* no memory for the names: no record */
	/* Without memory for it, the directory only goes unrecorded: the
	 * next walk reads it. */
	{
		struct kh_error e = KH_ERROR_INIT;

		kh_walk_list_push_dir(&c->list, c->root->tree, c->rel, rlen,
				      &st, rec ? rec->names : c->names[depth].buf,
				      rec ? rec->nlen : c->names[depth].len, &e);
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

/* A worker walks, then sorts what it found while the others do. */
static void *kh_walk_worker(void *arg)
{
	struct kh_walk_ctx *c = arg;

	kh_walk_run(c);
	if (!c->best.code)
		kh_walk_list_sort(&c->list);
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
	memset(c->names, 0, sizeof(c->names));
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
		free(c->names[i].buf);
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
		kh_walk_list_sort(&c->list);
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
	if (ret == 0 && !list->v && !list->arena && started > 0) {
		struct kh_walk_list *lists[KH_WALK_MAX_THREADS];

		for (int t = 0; t <= started; t++)
			lists[t] = &ctx[t]->list;
		ret = kh_walk_list_merge(list, lists, started + 1, err);
	}
	for (int t = 0; t <= started; t++) {
		if (ret == 0)
			ret = kh_walk_list_append(list, &ctx[t]->list, err);
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

