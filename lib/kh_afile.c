/* kh_afile: atomic output files (see kh_afile.h). */
#include "kh_afile.h"

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

int kh_afile_open(const char *path, struct kh_afile **out,
		  struct kh_error *err)
{
	struct kh_afile *af = calloc(1, sizeof(*af));

	*out = NULL;
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

int kh_afile_write(struct kh_afile *af, const void *buf, size_t len,
		   struct kh_error *err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(af->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kh_error_sys(err, errno, af->path, "cannot write");
		}
		p += n;
		len -= (size_t)n;
	}
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

int kh_afile_lock(const char *path, int *fd, struct kh_error *err)
{
	char *dir = kh_afile_dir(path);
	int ret = 0;

	*fd = -1;
	if (!dir)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		ret = kh_error_sys(err, errno, path, "cannot open its directory");
	else {
		while (flock(*fd, LOCK_EX) < 0) {
			if (errno == EINTR)
				continue;
			ret = kh_error_sys(err, errno, dir, "cannot lock");
			close(*fd);
			*fd = -1;
			break;
		}
	}
	free(dir);
	return ret;
}

void kh_afile_unlock(int fd)
{
	if (fd >= 0)
		close(fd);   /* closing drops the flock */
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

void kh_afile_sweep(const char *path)
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
