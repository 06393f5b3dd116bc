/* kh_walk: header selection (see kh_walk.h). */
#include "kh_walk.h"

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

static int kh_walk_push(struct kh_walk_list *list, const char *root,
			const char *rel, const struct stat *st, int tree,
			struct kh_error *err)
{
	struct kh_walk_entry *e;

	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 1024;
		void *v = realloc(list->v, cap * sizeof(*list->v));

		if (!v)
			return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
		list->v = v;
		list->cap = cap;
	}
	e = &list->v[list->n];
	memset(e, 0, sizeof(*e));
	e->rel = strdup(rel);
	e->path = kh_walk_join(root, rel);
	if (!e->rel || !e->path) {
		free(e->rel);
		free(e->path);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	e->type = !st ? KH_WALK_PARENTS
		: S_ISLNK(st->st_mode) ? KH_WALK_SYMLINK : KH_WALK_FILE;
	e->tree = tree;
	if (!st)
		return list->n++, 0;
	e->size = st->st_size;
	e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
		      st->st_mtim.tv_nsec;
	e->ino = st->st_ino;
	list->n++;
	return 0;
}

/* One walk in progress: a tree, where entries go, and whether
 * subdirectories are walked now or handed out as units to threads. */
struct kh_walk_ctx {
	const char *root;
	int tree;
	struct kh_walk_list *list;
	struct kh_walk_units *defer;   /* NULL: descend at once */
	struct kh_error *err;
};

/* Subdirectories of the top levels, walked in parallel. */
struct kh_walk_unit {
	const char *root;
	int tree;
	char *rel;
	struct kh_walk_list list;
	struct kh_error err;
};

struct kh_walk_units {
	struct kh_walk_unit *v;
	size_t n, cap;
	size_t next;                  /* next unit a thread takes */
	pthread_mutex_t lock;
};

static int kh_walk_defer(struct kh_walk_ctx *c, const char *rel)
{
	struct kh_walk_units *u = c->defer;

	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		void *v = realloc(u->v, cap * sizeof(*u->v));

		if (!v)
			return kh_error_set(c->err, KH_ENOMEM, NULL,
					    "out of memory");
		u->v = v;
		u->cap = cap;
	}
	memset(&u->v[u->n], 0, sizeof(u->v[0]));
	u->v[u->n].root = c->root;
	u->v[u->n].tree = c->tree;
	u->v[u->n].rel = strdup(rel);
	if (!u->v[u->n].rel)
		return kh_error_set(c->err, KH_ENOMEM, NULL, "out of memory");
	u->n++;
	return 0;
}

static int kh_walk_dir(struct kh_walk_ctx *c, int pfd, char *rel,
		       size_t rlen, int nofollow);

static int kh_walk_fail(struct kh_walk_ctx *c, int errnum, const char *rel,
			const char *what)
{
	char *path = kh_walk_join(c->root, rel);
	int ret;

	if (errnum)
		ret = kh_error_sys(c->err, errnum, path ? path : rel, "%s",
				   what);
	else
		ret = kh_error_set(c->err, KH_EINVAL, path ? path : rel, "%s",
				   what);
	free(path);
	return ret;
}

/* Consider one directory entry; descend into real directories. */
static int kh_walk_one(struct kh_walk_ctx *c, int dfd, char *rel,
		       size_t rlen, const struct dirent *d)
{
	size_t nlen = strlen(d->d_name);
	int header = kh_walk_is_header(d->d_name);
	size_t silly;
	struct stat st;
	int ret = 0;

	if (d->d_type != DT_UNKNOWN && d->d_type != DT_DIR && !header)
		return 0;
	if (rlen + 1 + nlen >= PATH_MAX)
		return kh_error_set(c->err, KH_EINVAL, c->root,
				    "path too long below %s", rel);
	rel[rlen] = '/';
	memcpy(rel + rlen + 1, d->d_name, nlen + 1);
	if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		/* Listed a moment ago: someone is changing the tree. */
		ret = errno == ENOENT ?
			kh_walk_fail(c, 0, rel, "changed while kheaders was "
				     "reading it; run again once the tree is "
				     "quiet") :
			kh_walk_fail(c, errno, rel, "cannot stat");
		goto out;
	}
	/* A silly-rename directory is excluded, not an error, whatever
	 * its name: descend to find what upstream would have copied. */
	if (S_ISDIR(st.st_mode) && header && !kh_walk_silly_end(rel)) {
		ret = kh_walk_fail(c, 0, rel, "is a directory named like a "
				   "header; upstream would archive it empty");
	} else if (S_ISDIR(st.st_mode)) {
		ret = c->defer ? kh_walk_defer(c, rel)
			       : kh_walk_dir(c, dfd, rel, rlen + 1 + nlen,
					     O_NOFOLLOW);
	} else if (!header ||
		   !strcmp(rel, "include/generated/utsversion.h")) {
		ret = 0;
	} else if ((silly = kh_walk_silly_end(rel)) != 0) {
		/* Upstream copies silly-rename files and excludes them only
		 * when archiving, so their directories stay listed. */
		char saved = rel[silly];

		rel[silly] = '\0';
		ret = kh_walk_push(c->list, c->root, rel, NULL, c->tree,
				   c->err);
		rel[silly] = saved;
	} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		ret = kh_walk_push(c->list, c->root, rel, &st, c->tree, c->err);
	} else {
		ret = kh_walk_fail(c, 0, rel,
				   "is neither a regular file nor a symlink");
	}
out:
	rel[rlen] = '\0';
	return ret;
}

/* Read directory rel (its last component opened relative to pfd). */
static int kh_walk_dir(struct kh_walk_ctx *c, int pfd, char *rel,
		       size_t rlen, int nofollow)
{
	const char *name = strrchr(rel, '/');
	int dfd, ret = 0;
	struct dirent *d;
	DIR *dir;

	name = name ? name + 1 : rel;
	dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC);
	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		int e = errno;

		if (dfd >= 0)
			close(dfd);
		return kh_walk_fail(c, e, rel, "cannot read directory");
	}
	while (ret == 0) {
		errno = 0;
		d = readdir(dir);
		if (!d) {
			if (errno)
				ret = kh_walk_fail(c, errno, rel,
						   "cannot read directory");
			break;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		ret = kh_walk_one(c, dirfd(dir), rel, rlen, d);
	}
	closedir(dir);
	return ret;
}

/* Walk root/sub; with c->defer set, only its top level. */
static int kh_walk_start(struct kh_walk_ctx *c, const char *sub,
			 int required)
{
	char rel[PATH_MAX];
	struct stat st;
	int rfd, pfd, ret;
	char *path, *slash;
	size_t n = strlen(sub);

	if (n >= sizeof(rel))
		return kh_error_set(c->err, KH_EINVAL, sub, "path too long");
	memcpy(rel, sub, n + 1);
	while (n > 1 && rel[n - 1] == '/')
		rel[--n] = '\0';
	path = kh_walk_join(c->root, rel);
	if (!path)
		return kh_error_set(c->err, KH_ENOMEM, NULL, "out of memory");
	/* Like find, follow a symlink given as the starting point. */
	ret = 0;
	if (stat(path, &st) < 0) {
		if (required || errno != ENOENT)
			ret = kh_error_sys(c->err, errno, path,
					   "cannot read directory");
		free(path);
		return ret;
	}
	if (!S_ISDIR(st.st_mode))
		ret = kh_error_set(c->err, KH_EINVAL, path, "not a directory");
	free(path);
	if (ret < 0)
		return ret;
	rfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return kh_error_sys(c->err, errno, c->root, "cannot open tree");
	/* Descend through the intermediate components of sub ("arch/x86"). */
	pfd = rfd;
	slash = strrchr(rel, '/');
	if (slash) {
		*slash = '\0';
		pfd = openat(rfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
		if (pfd < 0) {
			ret = kh_error_sys(c->err, errno, c->root,
					   "cannot open %s", rel);
			close(rfd);
			return ret;
		}
	}
	ret = kh_walk_dir(c, pfd, rel, n, 0);
	if (pfd != rfd)
		close(pfd);
	close(rfd);
	return ret;
}

int kh_walk_tree(const char *root, const char *sub, int tree, int required,
		 struct kh_walk_list *list, struct kh_error *err)
{
	struct kh_walk_ctx c = { root, tree, list, NULL, err };

	return kh_walk_start(&c, sub, required);
}

/* Walk one unit: a subdirectory found at a top level. */
static void kh_walk_unit_run(struct kh_walk_unit *u)
{
	struct kh_walk_ctx c = { u->root, u->tree, &u->list, NULL, &u->err };
	char rel[PATH_MAX];
	char *slash;
	int pfd;

	/* Units are below a top level, so rel always has a parent. */
	snprintf(rel, sizeof(rel), "%s", u->rel);
	slash = strrchr(rel, '/');
	*slash = '\0';
	pfd = openat(AT_FDCWD, c.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0) {
		int dfd = openat(pfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(pfd);
		pfd = dfd;
	}
	*slash = '/';
	if (pfd < 0) {
		kh_walk_fail(&c, errno, rel, "cannot read directory");
		return;
	}
	kh_walk_dir(&c, pfd, rel, strlen(rel), O_NOFOLLOW);
	close(pfd);
}

static void *kh_walk_worker(void *arg)
{
	struct kh_walk_units *u = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&u->lock);
		i = u->next++;
		pthread_mutex_unlock(&u->lock);
		if (i >= u->n)
			return NULL;
		kh_walk_unit_run(&u->v[i]);
	}
}

/* Move every entry of from to the end of to. */
static int kh_walk_append(struct kh_walk_list *to, struct kh_walk_list *from,
			  struct kh_error *err)
{
	if (to->n + from->n > to->cap) {
		size_t cap = to->n + from->n + 1024;
		void *v = realloc(to->v, cap * sizeof(*to->v));

		if (!v)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		to->v = v;
		to->cap = cap;
	}
	if (from->n)
		memcpy(to->v + to->n, from->v, from->n * sizeof(*from->v));
	to->n += from->n;
	free(from->v);
	from->v = NULL;
	from->n = from->cap = 0;
	return 0;
}

int kh_walk_trees(const struct kh_walk_root *roots, size_t nroots,
		  int threads, struct kh_walk_list *list, struct kh_error *err)
{
	struct kh_walk_units u = { 0 };
	pthread_t tid[KH_WALK_MAX_THREADS];
	int started = 0, ret = 0;

	pthread_mutex_init(&u.lock, NULL);
	/* The top levels, sequentially; their subdirectories are units. */
	for (size_t i = 0; ret == 0 && i < nroots; i++) {
		struct kh_walk_ctx c = { roots[i].root, roots[i].tree, list,
					 &u, err };

		ret = kh_walk_start(&c, roots[i].sub, roots[i].required);
	}
	if (threads > KH_WALK_MAX_THREADS)
		threads = KH_WALK_MAX_THREADS;
	/* The calling thread works too. */
	for (int t = 0; ret == 0 && t < threads - 1 && (size_t)t + 1 < u.n;
	     t++) {
		if (pthread_create(&tid[t], NULL, kh_walk_worker, &u))
			break;   /* fewer threads is slower, never wrong */
		started++;
	}
	if (ret == 0)
		kh_walk_worker(&u);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	/* Report the first failing unit in walk order, so that the
	 * message does not depend on thread timing. */
	for (size_t i = 0; i < u.n; i++) {
		if (ret == 0 && u.v[i].err.code) {
			*err = u.v[i].err;
			ret = err->code;
		}
		if (ret == 0)
			ret = kh_walk_append(list, &u.v[i].list, err);
		kh_walk_list_release(&u.v[i].list);
		free(u.v[i].rel);
	}
	free(u.v);
	pthread_mutex_destroy(&u.lock);
	return ret;
}

int kh_walk_pathcmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca != cb) {
			if (!ca || !cb)
				return ca ? 1 : -1;
			if (ca == '/')
				return -1;
			if (cb == '/')
				return 1;
			return ca < cb ? -1 : 1;
		}
		if (!ca)
			return 0;
	}
}

static int kh_walk_cmp(const void *pa, const void *pb)
{
	const struct kh_walk_entry *a = pa, *b = pb;
	int c = kh_walk_pathcmp(a->rel, b->rel);

	return c ? c : a->tree - b->tree;
}

void kh_walk_finish(struct kh_walk_list *list)
{
	size_t out = 0;

	/* An empty walk has no array: qsort(NULL, 0) is undefined. */
	if (list->n)
		qsort(list->v, list->n, sizeof(*list->v), kh_walk_cmp);
	for (size_t i = 0; i < list->n; i++) {
		/* Equal paths are adjacent, srctree first: keep the last. */
		if (i + 1 < list->n && !strcmp(list->v[i].rel,
					       list->v[i + 1].rel)) {
			free(list->v[i].rel);
			free(list->v[i].path);
			continue;
		}
		list->v[out++] = list->v[i];
	}
	list->n = out;
}

void kh_walk_list_release(struct kh_walk_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].rel);
		free(list->v[i].path);
	}
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
}
