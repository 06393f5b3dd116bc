/* kh_afile: atomic output files (see kh_afile.h). */
#include "lib/kh_afile.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/kh_file.h"

/* Few outputs exist at once (archive, stub, later state and manifest). */
#define KH_AFILE_SLOTS 16

struct kh_afile {
	int fd;
	int slot;
	char *path;
	char *tmp;
};

/* Temp names visible to the signal handler; a NULL slot is free. */
static char *volatile kh_afile_live[KH_AFILE_SLOTS];

static mode_t kh_afile_mode(void)
{
	static int known;
	static mode_t mode;

	/* umask can only be read by setting it; do it once, early. */
	if (!known) {
		mode_t old = umask(022);

		umask(old);
		mode = 0666 & ~old;
		known = 1;
	}
	return mode;
}

static int kh_afile_register(char *tmp)
{
	sigset_t all, old;
	int slot = -1;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < KH_AFILE_SLOTS; i++) {
		if (!kh_afile_live[i]) {
			kh_afile_live[i] = tmp;
			slot = i;
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return slot;
}

static void kh_afile_unregister(int slot)
{
	sigset_t all, old;

	if (slot < 0)
		return;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	kh_afile_live[slot] = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void kh_afile_unlink_all(void)
{
	for (int i = 0; i < KH_AFILE_SLOTS; i++) {
		char *tmp = kh_afile_live[i];

		if (tmp)
			unlink(tmp);
	}
}

static char *kh_afile_tmpname(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	const char *base = path + dirlen;
	size_t len = strlen(path) + 16;
	char *tmp = malloc(len);

	/* A dot-name in the same directory: same filesystem for rename(),
	 * and hidden from globs such as "*.tar.xz". */
	if (tmp)
		snprintf(tmp, len, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
	return tmp;
}

int kh_afile_check(const char *path, struct kh_error *err)
{
	struct stat st;

	/* lstat: the name itself, whatever it points to. Any other
	 * failure (a missing directory, no search permission) is left
	 * to creating the temporary, whose message says it. */
	if (lstat(path, &st) < 0 || S_ISREG(st.st_mode))
		return 0;
	return kh_error_set(err, KH_EINVAL, path,
			    "is %s; kheaders replaces only regular files",
			    kh_file_type(st.st_mode));
}

int kh_afile_open(const char *path, struct kh_afile **out,
		  struct kh_error *err)
{
	struct kh_afile *af;
	int ret;

	*out = NULL;
	ret = kh_afile_check(path, err);
	if (ret < 0)
		return ret;
	af = calloc(1, sizeof(*af));
	kh_afile_mode();
	if (af) {
		af->fd = -1;
		af->slot = -1;
	}
	if (!af || !(af->path = strdup(path)) ||
	    !(af->tmp = kh_afile_tmpname(path))) {
		kh_afile_abort(af);
		return kh_error_set(err, KH_ENOMEM, path, "out of memory");
	}
	af->fd = mkstemp(af->tmp);
	if (af->fd < 0) {
		int e = errno;

		free(af->tmp);
		af->tmp = NULL;
		kh_afile_abort(af);
		return kh_error_sys(err, e, path, "cannot create temporary file");
	}
	af->slot = kh_afile_register(af->tmp);
	*out = af;
	return 0;
}

int kh_afile_fd(const struct kh_afile *af)
{
	return af->fd;
}

const char *kh_afile_path(const struct kh_afile *af)
{
	return af->path;
}

int kh_afile_write_fd(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int kh_afile_write(struct kh_afile *af, const void *buf, size_t len,
		   struct kh_error *err)
{
	if (kh_afile_write_fd(af->fd, buf, len) < 0)
		return kh_error_sys(err, errno, af->path, "cannot write");
	return 0;
}

int kh_afile_commit(struct kh_afile *af, struct kh_error *err)
{
	int ret = 0;

	if (fchmod(af->fd, kh_afile_mode()) < 0)
		ret = kh_error_sys(err, errno, af->path, "cannot set mode");
	else if (fsync(af->fd) < 0)
		ret = kh_error_sys(err, errno, af->path, "cannot write");
	if (close(af->fd) < 0 && ret == 0)
		ret = kh_error_sys(err, errno, af->path, "cannot write");
	af->fd = -1;
	/* Again right before the rename: the name may have been made a
	 * symlink or a FIFO (by someone who can write the directory)
	 * while the output was being written. */
	if (ret == 0)
		ret = kh_afile_check(af->path, err);
	if (ret == 0 && rename(af->tmp, af->path) < 0)
		ret = kh_error_sys(err, errno, af->path, "cannot replace");
	if (ret == 0) {
		kh_afile_unregister(af->slot);
		af->slot = -1;
		free(af->tmp);
		af->tmp = NULL;
	}
	kh_afile_abort(af);
	return ret;
}

void kh_afile_abort(struct kh_afile *af)
{
	if (!af)
		return;
	if (af->fd >= 0)
		close(af->fd);
	if (af->tmp) {
		unlink(af->tmp);
		kh_afile_unregister(af->slot);
		free(af->tmp);
	}
	free(af->path);
	free(af);
}

/* The directory part of path ("." when it has none), malloc'ed. */
static char *kh_afile_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* The last component of path ("" for "dir/"). */
static const char *kh_afile_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int kh_afile_same(const char *a, const char *b)
{
	const char *ba = kh_afile_base(a), *bb = kh_afile_base(b);
	char *da = NULL, *db = NULL;
	struct stat sa, sb;
	int same;

	if (!strcmp(a, b))
		return 1;
	if (strcmp(ba, bb) || !*ba || !strcmp(ba, ".") || !strcmp(ba, ".."))
		return 0;
	da = kh_afile_dir(a);
	db = kh_afile_dir(b);
	/* The directories as the kernel resolves them ("d/.." through a
	 * symlinked d included); where one cannot be found, its output
	 * fails anyway, and the spellings decide. */
	if (da && db && stat(da, &sa) == 0 && stat(db, &sb) == 0)
		same = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	else
		same = da && db && !strcmp(da, db);
	free(da);
	free(db);
	return same;
}

/* Is name ".BASE.XXXXXX", the temporary name kh_afile_tmpname makes? */
static int kh_afile_is_tmp(const char *name, const char *base)
{
	size_t n = strlen(base), len = strlen(name);

	if (len != n + 8 || name[0] != '.' || strncmp(name + 1, base, n) ||
	    name[n + 1] != '.')
		return 0;
	for (size_t i = n + 2; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return 0;
	return 1;
}

static void kh_afile_sweep(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *dir = kh_afile_dir(path);
	struct dirent *d;
	DIR *dp;
	int dfd;

	if (!dir)
		return;
	dp = opendir(dir);
	free(dir);
	if (!dp)
		return;
	dfd = dirfd(dp);
	while ((d = readdir(dp)) != NULL)
		if (kh_afile_is_tmp(d->d_name, base))
			unlinkat(dfd, d->d_name, 0);
	closedir(dp);
}

/* Open path's directory for locking; -1 (errno set) if it cannot be. */
static int kh_afile_open_dir(const char *path)
{
	char *dir = kh_afile_dir(path);
	int fd;

	if (!dir) {
		errno = ENOMEM;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

/* Add fd to g in (st_dev, st_ino) order, or close it if g has its
 * directory already (a second flock of one directory through another
 * descriptor would wait for ourselves). */
static void kh_afile_guard_add(struct kh_afile_guard *g, int fd,
			       const struct stat *st, struct stat *sts)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		if (sts[i].st_dev == st->st_dev && sts[i].st_ino == st->st_ino) {
			close(fd);
			return;
		}
		if (sts[i].st_dev > st->st_dev ||
		    (sts[i].st_dev == st->st_dev && sts[i].st_ino > st->st_ino))
			break;
	}
	if (g->n == KH_AFILE_GUARD_MAX) {
		close(fd);
		return;
	}
	memmove(&g->fd[i + 1], &g->fd[i], (g->n - i) * sizeof(g->fd[0]));
	memmove(&sts[i + 1], &sts[i], (g->n - i) * sizeof(sts[0]));
	g->fd[i] = fd;
	sts[i] = *st;
	g->n++;
}

int kh_afile_guard(const char *const *paths, size_t n,
		   struct kh_afile_guard *g, struct kh_error *err)
{
	struct stat sts[KH_AFILE_GUARD_MAX], st, first;
	int ret = 0, have_first = 0;

	g->n = 0;
	for (size_t i = 0; i < n; i++) {
		int fd;

		if (!paths[i])
			continue;
		fd = kh_afile_open_dir(paths[i]);
		if (fd >= 0 && fstat(fd, &st) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0) {
			if (i == 0)
				ret = kh_error_sys(err, errno, paths[0],
						   "cannot open its directory");
			continue;
		}
		if (i == 0) {
			first = st;
			have_first = 1;
		}
		kh_afile_guard_add(g, fd, &st, sts);
	}
	/* In order: two runs that share directories take them in the
	 * same order, so neither holds one the other waits for first. A
	 * directory that cannot be locked is dropped: not swept. */
	for (size_t i = 0; i < g->n;) {
		int r;

		while ((r = flock(g->fd[i], LOCK_EX)) < 0 && errno == EINTR)
			;
		if (r == 0) {
			i++;
			continue;
		}
		if (have_first && sts[i].st_dev == first.st_dev &&
		    sts[i].st_ino == first.st_ino && ret == 0)
			ret = kh_error_sys(err, errno, paths[0],
					   "cannot lock its directory");
		close(g->fd[i]);
		g->n--;
		memmove(&g->fd[i], &g->fd[i + 1], (g->n - i) * sizeof(g->fd[0]));
		memmove(&sts[i], &sts[i + 1], (g->n - i) * sizeof(sts[0]));
	}
	for (size_t i = 0; i < n; i++) {
		int fd = paths[i] ? kh_afile_open_dir(paths[i]) : -1;
		int held = 0;

		/* Only where we hold the lock. */
		if (fd >= 0 && fstat(fd, &st) == 0)
			for (size_t j = 0; j < g->n; j++)
				held |= sts[j].st_dev == st.st_dev &&
					sts[j].st_ino == st.st_ino;
		if (fd >= 0)
			close(fd);
		if (held)
			kh_afile_sweep(paths[i]);
	}
	return ret;
}

void kh_afile_unguard(struct kh_afile_guard *g)
{
	for (size_t i = 0; i < g->n; i++)
		close(g->fd[i]);   /* closing drops the flock */
	g->n = 0;
}

int kh_afile_put(const char *path, const void *buf, size_t len,
		 struct kh_error *err)
{
	struct kh_afile *af = NULL;
	int ret;

	ret = kh_afile_open(path, &af, err);
	if (ret == 0)
		ret = kh_afile_write(af, buf, len, err);
	if (ret == 0)
		return kh_afile_commit(af, err);
	kh_afile_abort(af);
	return ret;
}

int kh_afile_replace(const char *path, const void *buf, size_t len,
		     struct kh_error *err)
{
	struct kh_afile_guard g;
	struct kh_error lerr = KH_ERROR_INIT;
	int ret;

	/* Without the lock (an unreadable or missing directory), no
	 * sweep; creating the file then says what is wrong. */
	kh_afile_guard(&path, 1, &g, &lerr);
	ret = kh_afile_put(path, buf, len, err);
	kh_afile_unguard(&g);
	return ret;
}
