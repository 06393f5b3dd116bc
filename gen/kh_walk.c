/* kh_walk: header selection (see kh_walk.h). */
#include "kh_walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static int kh_walk_dir_at(int pfd, const char *root, char *rel, size_t rlen,
			  int tree, int nofollow, struct kh_walk_list *list,
			  struct kh_error *err);

/* Consider one directory entry; descend into real directories. */
static int kh_walk_dir(int dfd, const char *root, char *rel, size_t rlen,
		       int tree, struct kh_walk_list *list,
		       struct kh_error *err);

static int kh_walk_one(int dfd, const char *root, char *rel, size_t rlen,
		       const struct dirent *d, int tree,
		       struct kh_walk_list *list, struct kh_error *err)
{
	size_t nlen = strlen(d->d_name);
	int header = kh_walk_is_header(d->d_name);
	size_t silly;
	struct stat st;
	char *path;
	int ret;

	if (d->d_type != DT_UNKNOWN && d->d_type != DT_DIR && !header)
		return 0;
	if (rlen + 1 + nlen >= PATH_MAX)
		return kh_error_set(err, KH_EINVAL, root,
				    "path too long below %s", rel);
	rel[rlen] = '/';
	memcpy(rel + rlen + 1, d->d_name, nlen + 1);
	if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		path = kh_walk_join(root, rel);
		ret = kh_error_sys(err, errno, path ? path : rel, "cannot stat");
		free(path);
		goto out;
	}
	ret = 0;
	/* A silly-rename directory is excluded, not an error, whatever
	 * its name: descend to find what upstream would have copied. */
	if (S_ISDIR(st.st_mode) && header && !kh_walk_silly_end(rel)) {
		path = kh_walk_join(root, rel);
		ret = kh_error_set(err, KH_EINVAL, path ? path : rel,
				   "is a directory named like a header; "
				   "upstream would archive it empty");
		free(path);
	} else if (S_ISDIR(st.st_mode)) {
		ret = kh_walk_dir(dfd, root, rel, rlen + 1 + nlen, tree, list,
				  err);
	} else if (!header ||
		   !strcmp(rel, "include/generated/utsversion.h")) {
		ret = 0;
	} else if ((silly = kh_walk_silly_end(rel)) != 0) {
		/* Upstream copies silly-rename files and excludes them only
		 * when archiving, so their directories stay listed. */
		char saved = rel[silly];

		rel[silly] = '\0';
		ret = kh_walk_push(list, root, rel, NULL, tree, err);
		rel[silly] = saved;
	} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		ret = kh_walk_push(list, root, rel, &st, tree, err);
	} else {
		path = kh_walk_join(root, rel);
		ret = kh_error_set(err, KH_EINVAL, path ? path : rel,
				   "is neither a regular file nor a symlink");
		free(path);
	}
out:
	rel[rlen] = '\0';
	return ret;
}

static int kh_walk_dir(int pfd, const char *root, char *rel, size_t rlen,
		       int tree, struct kh_walk_list *list,
		       struct kh_error *err)
{
	return kh_walk_dir_at(pfd, root, rel, rlen, tree, O_NOFOLLOW, list,
			      err);
}

static int kh_walk_dir_at(int pfd, const char *root, char *rel, size_t rlen,
			  int tree, int nofollow, struct kh_walk_list *list,
			  struct kh_error *err)
{
	const char *name = strrchr(rel, '/');
	int dfd, ret = 0;
	struct dirent *d;
	DIR *dir;

	name = name ? name + 1 : rel;
	dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | nofollow | O_CLOEXEC);
	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		int e = errno;
		char *path = kh_walk_join(root, rel);

		if (dfd >= 0)
			close(dfd);
		ret = kh_error_sys(err, e, path ? path : rel,
				   "cannot read directory");
		free(path);
		return ret;
	}
	while (ret == 0) {
		errno = 0;
		d = readdir(dir);
		if (!d) {
			if (errno) {
				char *path = kh_walk_join(root, rel);

				ret = kh_error_sys(err, errno,
						   path ? path : rel,
						   "cannot read directory");
				free(path);
			}
			break;
		}
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		ret = kh_walk_one(dirfd(dir), root, rel, rlen, d, tree, list,
				  err);
	}
	closedir(dir);
	return ret;
}

int kh_walk_tree(const char *root, const char *sub, int tree, int required,
		 struct kh_walk_list *list, struct kh_error *err)
{
	char rel[PATH_MAX];
	struct stat st;
	int rfd, ret;
	char *path;
	size_t n = strlen(sub);

	if (n >= sizeof(rel))
		return kh_error_set(err, KH_EINVAL, sub, "path too long");
	memcpy(rel, sub, n + 1);
	while (n > 1 && rel[n - 1] == '/')
		rel[--n] = '\0';
	path = kh_walk_join(root, rel);
	if (!path)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	/* Like find, follow a symlink given as the starting point. */
	if (stat(path, &st) < 0) {
		int e = errno;

		ret = 0;
		if (required || e != ENOENT)
			ret = kh_error_sys(err, e, path, "cannot read directory");
		free(path);
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		ret = kh_error_set(err, KH_EINVAL, path, "not a directory");
		free(path);
		return ret;
	}
	free(path);
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return kh_error_sys(err, errno, root, "cannot open tree");
	/* Descend through the intermediate components of sub ("arch/x86"). */
	{
		char *slash = strrchr(rel, '/');
		int pfd = rfd;

		if (slash) {
			*slash = '\0';
			pfd = openat(rfd, rel, O_RDONLY | O_DIRECTORY |
				     O_CLOEXEC);
			*slash = '/';
			if (pfd < 0) {
				ret = kh_error_sys(err, errno, root,
						   "cannot open %s", rel);
				close(rfd);
				return ret;
			}
		}
		ret = kh_walk_dir_at(pfd, root, rel, n, tree, 0, list, err);
		if (pfd != rfd)
			close(pfd);
	}
	close(rfd);
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
