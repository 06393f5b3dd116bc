/* kh_file: opening and reading files kheaders did not create (see
 * kh_file.h). */
#include "lib/kh_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *kh_file_size_str(size_t n, char *buf, size_t size)
{
	if (n >= ((size_t)1 << 30) && n % ((size_t)1 << 30) == 0)
		snprintf(buf, size, "%zu GiB", n >> 30);
	else if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
		snprintf(buf, size, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, size, "%zu KiB", n >> 10);
	else
		snprintf(buf, size, "%zu bytes", n);
	return buf;
}

const char *kh_file_type(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a regular file";
}

/* The checks that need the open file's stat data. */
static int kh_file_check(const struct stat *st, const char *name,
			 unsigned flags, struct kh_error *err)
{
	if ((flags & KH_FILE_REGULAR) && !S_ISREG(st->st_mode))
		return kh_error_set(err, KH_EINVAL, name,
				    "is %s, not a regular file; refusing to read it",
				    kh_file_type(st->st_mode));
	if ((flags & KH_FILE_OWNED) && st->st_uid != geteuid() &&
	    st->st_uid != 0)
		return kh_error_set(err, KH_EINVAL, name,
				    "owned by uid %lu, not by this user (uid %lu); refusing to trust it",
				    (unsigned long)st->st_uid,
				    (unsigned long)geteuid());
	if ((flags & KH_FILE_PRIVATE) && (st->st_mode & 022))
		return kh_error_set(err, KH_EINVAL, name,
				    "writable by %s; refusing to trust it",
				    (st->st_mode & 002) ? "others" : "its group");
	return 0;
}

int kh_file_open(int dirfd, const char *path, const char *name,
		 unsigned flags, int *fd, struct stat *st,
		 struct kh_error *err)
{
	int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat sb;
	int ret, fl;

	*fd = -1;
	if (!name)
		name = path;
	if (!st)
		st = &sb;
	if (flags & KH_FILE_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is
	 * cleared again below for a file we go on to read. */
	*fd = openat(dirfd, path, oflags);
	if (*fd < 0) {
		int e = errno;

		if (e == ENOENT && (flags & KH_FILE_MISSING_OK))
			return 1;
		if (e == ELOOP && (flags & KH_FILE_NOFOLLOW))
			return kh_error_set(err, KH_EINVAL, name,
					    "is a symbolic link; refusing to follow it");
		return kh_error_sys(err, e, name, "cannot open");
	}
	if (fstat(*fd, st) < 0) {
		ret = kh_error_sys(err, errno, name, "cannot stat");
		goto fail;
	}
	ret = kh_file_check(st, name, flags, err);
	if (ret < 0)
		goto fail;
	fl = fcntl(*fd, F_GETFL);
	if (fl < 0 || fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		ret = kh_error_sys(err, errno, name, "cannot open");
		goto fail;
	}
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return ret;
}

int kh_file_read_fd(int fd, const char *name, size_t max, const char *what,
		    char **buf, size_t *len, struct kh_error *err)
{
	size_t cap = 0, n = 0, first = 65536;
	char *p = NULL, lim[32];
	struct stat st;

	*buf = NULL;
	*len = 0;
	/* A regular file's size sizes the buffer at once (and refuses a
	 * too large one before reading); a pipe grows it as it comes. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if ((unsigned long long)st.st_size > max)
			goto too_big;
		first = (size_t)st.st_size + 2;
	}
	for (;;) {
		ssize_t got;

		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : first;
			char *q;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= n + 1)
				goto too_big;
			q = realloc(p, ncap);
			if (!q) {
				free(p);
				return kh_error_set(err, KH_ENOMEM, name,
						    "out of memory");
			}
			p = q;
			cap = ncap;
		}
		got = read(fd, p + n, cap - n - 1);
		if (got < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			free(p);
			return kh_error_sys(err, e, name, "cannot read");
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > max) {
			free(p);
			goto too_big;
		}
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
too_big:
	return kh_error_set(err, KH_EINVAL, name,
			    "over the %s limit for %s; refusing to read it",
			    kh_file_size_str(max, lim, sizeof(lim)), what);
}

ssize_t kh_file_read_upto(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int kh_file_read(int dirfd, const char *path, const char *name,
		 unsigned flags, size_t max, const char *what, char **buf,
		 size_t *len, struct kh_error *err)
{
	int fd, ret;

	*buf = NULL;
	*len = 0;
	if (!name)
		name = path;
	ret = kh_file_open(dirfd, path, name, flags, &fd, NULL, err);
	if (ret != 0)
		return ret;
	ret = kh_file_read_fd(fd, name, max, what, buf, len, err);
	close(fd);
	return ret;
}
