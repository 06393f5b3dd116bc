/* kh_file: the one way kheaders opens and reads a file it did not
 * create.
 *
 * The state, the block cache's index, a manifest, an archive or an
 * image may sit in a directory that others can write, or be a FIFO or a
 * device that a user named. Every such read goes through here so that
 * the same rules hold everywhere: a symlink is not followed where the
 * caller says so, only regular files are read where the caller says so,
 * an open never blocks on a FIFO, the owner is checked where it
 * matters, and a whole-file read is bounded before memory is spent.
 * Messages name the file and the reason, and the limit when it is one.
 */
#ifndef KH_FILE_H
#define KH_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lib/kh_error.h"

enum {
	KH_FILE_NOFOLLOW = 1 << 0,   /* refuse a symlink as the last component */
	KH_FILE_REGULAR = 1 << 1,    /* refuse FIFOs, devices, directories, sockets */
	KH_FILE_OWNED = 1 << 2,      /* refuse a file owned by another user (root's are fine) */
	KH_FILE_PRIVATE = 1 << 3,    /* refuse a file group or other may write */
	KH_FILE_MISSING_OK = 1 << 4, /* a missing file is no error: return 1, fd -1 */
};

/* The limits of every whole-file reader, one place to read them from
 * (the man page's BAD INPUT AND FAULTS lists them). */
#define KH_FILE_MAX_STATE ((size_t)64 << 20)     /* OUTPUT.state */
#define KH_FILE_MAX_INDEX ((size_t)16 << 20)     /* the block cache's index */
#define KH_FILE_MAX_TAG ((size_t)4096)          /* the block cache's CACHEDIR.TAG */
#define KH_FILE_MAX_MANIFEST ((size_t)256 << 20) /* an mtree manifest */
/* A .tar.xz (or a plain tar) read whole: a kernel's is 4 to 8 MB
 * compressed, 30 to 60 MB as a plain tar; 256 MiB leaves room for
 * four times that, and keeps `manifest /dev/zero` from taking 1 GiB
 * before it is refused. */
#define KH_FILE_MAX_ARCHIVE ((size_t)256 << 20)
#define KH_FILE_MAX_SMALL ((size_t)1 << 20)      /* Makefile, version.h, ... */
/* extract's SOURCE, read whole into private memory (a vmlinux with its
 * debug info is large), and the decompressed size of an xz-compressed
 * ELF file (kheaders.ko.xz: a few MB), checked from the xz index before
 * anything is decoded. (4 GiB; on 32-bit systems, 2 GiB less a byte.) */
#define KH_FILE_MAX_IMAGE ((size_t)(SIZE_MAX / 2 < 0x100000000ULL ? \
				     SIZE_MAX / 2 : 0x100000000ULL))
#define KH_FILE_MAX_MODULE ((size_t)256 << 20)

/* Open dirfd/path (AT_FDCWD for a plain path) for reading under flags
 * (KH_FILE_*). name is what messages blame (NULL: path). On success *fd
 * is open with O_CLOEXEC and in blocking mode, and *st (if not NULL)
 * holds its fstat. Returns 0, 1 for a missing file under
 * KH_FILE_MISSING_OK, or a negative code with err set. */
int kh_file_open(int dirfd, const char *path, const char *name,
		 unsigned flags, int *fd, struct stat *st,
		 struct kh_error *err);

/* Read all of fd, at most max bytes: a longer input is refused before
 * more than max + 1 bytes are held, with "over the LIMIT limit for
 * WHAT" in the message. *buf is malloc'ed, NUL-terminated (len does not
 * count the NUL). Works on pipes and standard input too. */
int kh_file_read_fd(int fd, const char *name, size_t max, const char *what,
		    char **buf, size_t *len, struct kh_error *err);

/* Read from fd until n bytes are in buf or the input ends, retrying
 * short reads and EINTR: the bytes read, or -1 with errno set. For a
 * caller that wants a file's first bytes, or exactly its known size. */
ssize_t kh_file_read_upto(int fd, void *buf, size_t n);

/* kh_file_open, then kh_file_read_fd, then close. Returns 1 (with *buf
 * NULL) for a missing file under KH_FILE_MISSING_OK. */
int kh_file_read(int dirfd, const char *path, const char *name,
		 unsigned flags, size_t max, const char *what, char **buf,
		 size_t *len, struct kh_error *err);

/* "64 MiB", "1 GiB", "512 KiB" or "N bytes" for a limit, into buf. */
const char *kh_file_size_str(size_t n, char *buf, size_t size);

/* What a file of this mode is, for messages: "a symbolic link", "a
 * FIFO", "a character device", ... ("a regular file" for one). */
const char *kh_file_type(mode_t mode);

#endif
