/* kh_tmpdir: locked temporary directories and their sweeping (see
 * kh_tmpdir.h).
 *
 * Removal works on descriptors (openat with O_NOFOLLOW, getdents64,
 * unlinkat), so a symlink inside is removed, never followed, whatever
 * another user who can write a directory inside swaps in meanwhile;
 * it never leaves the tree's filesystem, and the same code is safe in
 * a signal handler. It is the one way kheaders removes a tree.
 */
#include "lib/kh_tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* mkdtemp's suffix. */
#define KH_TMPDIR_SUFFIX "XXXXXX"
#define KH_TMPDIR_SUFFIX_LEN 6
/* How deep a tree is removed; deeper ones are left (and said so). An
 * extracted tree has at most 2,048 levels (a 4,096-byte name); the walk
 * keeps one (device, inode) pair per level, not a descriptor or a
 * buffer, so this costs 64 KiB of heap while removing. */
#define KH_TMPDIR_MAX_DEPTH 4096
/* A directory moved out of the tree while being removed sends the walk
 * back to the top; this many times, then it gives up (ESTALE). */
#define KH_TMPDIR_RESTARTS 64
/* The signal handler's removal: shallow, on the stack. */
#define KH_TMPDIR_SIGNAL_DEPTH 4
#define KH_TMPDIR_WATCH_SLOTS 4
/* A swept directory is made again at most this often before giving up. */
#define KH_TMPDIR_TRIES 16

struct kh_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* A directory the walk is in, to check that ".." leads back to it. */
struct kh_tmpdir_id {
	dev_t dev;
	ino_t ino;
};

static const char *volatile kh_tmpdir_watched[KH_TMPDIR_WATCH_SLOTS];

static int kh_tmpdir_dots(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* Remove what the directory open at dfd holds without entering any of
 * it: every name that is not a directory, and empty directories. 0
 * when dfd is empty; 1 with name set to a subdirectory that is not
 * (the caller goes in and comes back); -1 when something cannot be
 * removed. Only system calls, so async-signal-safe. */
static int kh_tmpdir_scan(int dfd, char *name, size_t size)
{
	char buf[1024] __attribute__((aligned(8)));
	int removed, left;

	/* Passes until one removes nothing: unlinking while reading a
	 * directory may make getdents skip names, so only a pass that
	 * removed nothing saw them all. */
	do {
		removed = left = 0;
		if (lseek(dfd, 0, SEEK_SET) < 0)
			return -1;
		for (;;) {
			long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));

			if (n <= 0) {
				if (n < 0)
					return -1;
				break;
			}
			for (long off = 0; off < n;) {
				struct kh_dirent64 *d = (void *)(buf + off);
				size_t len;

				off += d->d_reclen;
				if (kh_tmpdir_dots(d->d_name))
					continue;
				/* unlinkat never follows a symlink: a link
				 * planted here goes, its target stays. */
				if (d->d_type != DT_DIR &&
				    unlinkat(dfd, d->d_name, 0) == 0) {
					removed++;
					continue;
				}
				if (d->d_type != DT_DIR &&
				    d->d_type != DT_UNKNOWN &&
				    errno != EISDIR && errno != EPERM) {
					left++;
					continue;
				}
				if (unlinkat(dfd, d->d_name, AT_REMOVEDIR) == 0) {
					removed++;
					continue;
				}
				if (errno != ENOTEMPTY && errno != EEXIST) {
					left++;
					continue;
				}
				len = strlen(d->d_name);
				if (len >= size) {
					left++;
					continue;
				}
				memcpy(name, d->d_name, len + 1);
				return 1;
			}
		}
	} while (removed);
	return left ? -1 : 0;
}

/* Empty the directory open at top, maxdepth levels down at most, on
 * descriptors alone (async-signal-safe): a level is entered with
 * openat(O_NOFOLLOW | O_DIRECTORY) and only on top's filesystem, and
 * left through ".." only if that is the very directory it was entered
 * from; when a directory was moved away meanwhile, the walk starts
 * again from top (still open) rather than be led elsewhere. One
 * descriptor open besides top, whatever the depth. ids has room for
 * maxdepth + 1 entries. 0 when top is empty, else -1 with errno set
 * (ENAMETOOLONG: deeper than maxdepth; EXDEV: another filesystem;
 * ESTALE: directories kept moving). */
static int kh_tmpdir_walk(int top, int maxdepth, struct kh_tmpdir_id *ids)
{
	char name[256];
	struct stat st;
	int cur = top, depth = 0, ret = -1, saved, restarts = 0;

	if (fstat(top, &st) < 0)
		return -1;
	ids[0].dev = st.st_dev;
	ids[0].ino = st.st_ino;
	for (;;) {
		int r = kh_tmpdir_scan(cur, name, sizeof(name)), next;

		if (r < 0)
			break;
		if (r == 0 && depth == 0) {
			ret = 0;
			break;
		}
		if (r == 1) {
			if (depth == maxdepth) {
				errno = ENAMETOOLONG;
				break;
			}
			next = openat(cur, name, O_RDONLY | O_DIRECTORY |
				      O_NOFOLLOW | O_CLOEXEC);
			if (next < 0)
				break;
			if (fstat(next, &st) < 0 || st.st_dev != ids[0].dev) {
				close(next);
				errno = EXDEV;
				break;
			}
			depth++;
			ids[depth].dev = st.st_dev;
			ids[depth].ino = st.st_ino;
		} else if (depth == 1) {
			next = top;   /* still open: no ".." needed */
			depth--;
		} else {
			next = openat(cur, "..", O_RDONLY | O_DIRECTORY |
				      O_NOFOLLOW | O_CLOEXEC);
			if (next < 0)
				break;
			depth--;
			if (fstat(next, &st) < 0 ||
			    st.st_dev != ids[depth].dev ||
			    st.st_ino != ids[depth].ino) {
				close(next);
				if (++restarts > KH_TMPDIR_RESTARTS) {
					errno = ESTALE;
					break;
				}
				next = top;
				depth = 0;
			}
		}
		if (cur != top)
			close(cur);
		cur = next;
	}
	saved = errno;
	if (cur != top)
		close(cur);
	errno = saved;
	return ret;
}

/* kh_tmpdir_walk with the largest depth, its ids on the heap. */
static int kh_tmpdir_empty(int dfd)
{
	struct kh_tmpdir_id *ids = calloc(KH_TMPDIR_MAX_DEPTH + 1,
					  sizeof(*ids));
	int ret, saved;

	if (!ids)
		return -1;
	ret = kh_tmpdir_walk(dfd, KH_TMPDIR_MAX_DEPTH, ids);
	saved = errno;
	free(ids);
	errno = saved;
	return ret;
}

int kh_tmpdir_remove(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return errno == ENOTDIR ? unlink(path) : -1;
	ret = kh_tmpdir_empty(fd);
	saved = errno;
	close(fd);
	if (ret == 0)
		ret = rmdir(path);
	else
		errno = saved;
	return ret;
}

int kh_tmpdir_make(const char *prefix, const char *name, char **path,
		   int *fd, struct kh_error *err)
{
	struct stat st;

	*path = NULL;
	*fd = -1;
	for (int i = 0; i < KH_TMPDIR_TRIES; i++) {
		char *p;
		int d;

		if (asprintf(&p, "%s" KH_TMPDIR_SUFFIX, prefix) < 0)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		if (!mkdtemp(p)) {
			int e = errno;

			free(p);
			return kh_error_sys(err, e, name, "cannot create "
					    "temporary directory %s"
					    KH_TMPDIR_SUFFIX, prefix);
		}
		d = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d < 0 && errno == ENOENT) {
			free(p);   /* swept before we opened it */
			continue;
		}
		if (d < 0) {
			int e = errno;

			rmdir(p);
			free(p);
			return kh_error_sys(err, e, name, "cannot open "
					    "temporary directory %s"
					    KH_TMPDIR_SUFFIX, prefix);
		}
		while (flock(d, LOCK_EX) < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(d);
			rmdir(p);
			free(p);
			return kh_error_sys(err, e, name, "cannot lock "
					    "temporary directory %s"
					    KH_TMPDIR_SUFFIX, prefix);
		}
		/* A sweep that found it before our lock holds its own lock
		 * while removing, so once we have ours, a removed directory
		 * shows no links. Then make another. */
		if (fstat(d, &st) == 0 && st.st_nlink > 0) {
			*path = p;
			*fd = d;
			return 0;
		}
		close(d);
		free(p);
	}
	return kh_error_set(err, KH_EIO, name, "cannot keep a temporary "
			    "directory %s" KH_TMPDIR_SUFFIX ": something "
			    "removes them", prefix);
}

/* Is name "<base>" followed by mkdtemp's six characters? */
static int kh_tmpdir_match(const char *name, const char *base, size_t n)
{
	if (strncmp(name, base, n) || strlen(name) != n + KH_TMPDIR_SUFFIX_LEN)
		return 0;
	for (const char *c = name + n; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9')))
			return 0;
	return 1;
}

int kh_tmpdir_sweep(const char *prefix)
{
	const char *slash = strrchr(prefix, '/');
	const char *base = slash ? slash + 1 : prefix;
	size_t n = strlen(base);
	char *dir = slash ? strndup(prefix, (size_t)(slash - prefix) +
				    (slash == prefix)) : strdup(".");
	struct dirent *d;
	int count = 0;
	DIR *dp;

	if (!dir || !n)
		goto out;
	dp = opendir(dir);
	if (!dp)
		goto out;
	while ((d = readdir(dp)) != NULL) {
		struct stat st;
		int fd;

		if (!kh_tmpdir_match(d->d_name, base, n))
			continue;
		fd = openat(dirfd(dp), d->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Ours, and nobody's: a live run holds its lock. */
		if (fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
		    flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    kh_tmpdir_empty(fd) == 0 &&
		    unlinkat(dirfd(dp), d->d_name, AT_REMOVEDIR) == 0)
			count++;
		close(fd);
	}
	closedir(dp);
out:
	free(dir);
	return count;
}

static void kh_tmpdir_mask(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, old);
}

void kh_tmpdir_watch(const char *path)
{
	sigset_t old;

	kh_tmpdir_mask(&old);
	for (int i = 0; i < KH_TMPDIR_WATCH_SLOTS; i++) {
		if (!kh_tmpdir_watched[i]) {
			kh_tmpdir_watched[i] = path;
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void kh_tmpdir_unwatch(const char *path)
{
	sigset_t old;

	kh_tmpdir_mask(&old);
	for (int i = 0; i < KH_TMPDIR_WATCH_SLOTS; i++)
		if (kh_tmpdir_watched[i] == path)
			kh_tmpdir_watched[i] = NULL;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void kh_tmpdir_unlink_all(void)
{
	struct kh_tmpdir_id ids[KH_TMPDIR_SIGNAL_DEPTH + 1];

	for (int i = 0; i < KH_TMPDIR_WATCH_SLOTS; i++) {
		const char *p = kh_tmpdir_watched[i];
		int fd;

		if (!p)
			continue;
		fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		kh_tmpdir_walk(fd, KH_TMPDIR_SIGNAL_DEPTH, ids);
		close(fd);
		rmdir(p);
	}
}
