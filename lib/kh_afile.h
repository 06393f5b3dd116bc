/* kh_afile: atomic output files.
 *
 * Output is written to a temporary file in the destination's directory
 * and renamed over the destination only once complete and fsync'ed, so
 * readers (and Make) see the old file or the new one, never a torn one.
 * Every live temporary is remembered so that a signal handler can
 * remove it (kh_afile_unlink_all), keeping "no temp file left" true
 * even when the user presses ^C.
 *
 * This is also the one place that decides what an output may replace:
 * nothing, or a regular file. A symlink, a device, a FIFO, a socket or
 * a directory where an output goes is refused, never replaced (as
 * root, `-o /dev/null` must not turn the device into a file; a symlink
 * planted in a shared directory is not for us to remove), checked when
 * the temporary is made and again right before the rename.
 */
#ifndef KH_AFILE_H
#define KH_AFILE_H

#include <stddef.h>

#include "lib/kh_error.h"

struct kh_afile;

/* 0 if path may be replaced by an output (it is missing or a regular
 * file), else KH_EINVAL and "PATH: is a symbolic link; kheaders
 * replaces only regular files". kh_afile_open and kh_afile_commit
 * check it themselves; callers check early, before work is spent. */
int kh_afile_check(const char *path, struct kh_error *err);

/* 1 if outputs a and b are the same directory entry however spelt
 * ("x", "./x", "d/../x", a path through a symlinked directory): their
 * directories are the same directory and their last components are
 * equal. Hard links are different entries (each is replaced alone). */
int kh_afile_same(const char *a, const char *b);

/* Create a temporary beside path; *out owns it until commit or abort.
 * Refuses a path kh_afile_check refuses. */
int kh_afile_open(const char *path, struct kh_afile **out,
		  struct kh_error *err);

/* The descriptor of the temporary, for writers that stream. */
int kh_afile_fd(const struct kh_afile *af);

/* The destination path, for messages. */
const char *kh_afile_path(const struct kh_afile *af);

/* Write all of buf to fd, retrying short writes and EINTR: 0, or -1
 * with errno set. For a descriptor that is not a kh_afile (the block
 * cache writes its entries relative to its directory's descriptor). */
int kh_afile_write_fd(int fd, const void *buf, size_t len);

/* Append len bytes; on failure the message names the destination. */
int kh_afile_write(struct kh_afile *af, const void *buf, size_t len,
		   struct kh_error *err);

/* fsync, give the usual 0666 & ~umask mode, rename into place, free.
 * Refuses (and removes the temporary) if path became something
 * kh_afile_check refuses since the open. */
int kh_afile_commit(struct kh_afile *af, struct kh_error *err);

/* Remove the temporary and free; safe with NULL. */
void kh_afile_abort(struct kh_afile *af);

/* Async-signal-safe: unlink every temporary still open. */
void kh_afile_unlink_all(void);

/* The directory locks of a run's outputs. */
#define KH_AFILE_GUARD_MAX 8
struct kh_afile_guard {
	int fd[KH_AFILE_GUARD_MAX];
	size_t n;
};

/* Lock the directory of every output in paths (NULLs skipped; each
 * directory once, in one fixed order so that two runs never deadlock),
 * then sweep the temporaries killed runs left of each output: a sweep
 * never races with another kheaders writing there. A directory that
 * cannot be opened is neither locked nor swept (creating the output
 * then says what is wrong); for paths[0] that is an error, returned
 * after the rest is done. Release with kh_afile_unguard. */
int kh_afile_guard(const char *const *paths, size_t n,
		   struct kh_afile_guard *g, struct kh_error *err);
void kh_afile_unguard(struct kh_afile_guard *g);

/* Write len bytes to path through a temporary, atomically: open, write,
 * commit (abort on failure). For a caller that holds the output's
 * kh_afile_guard already (gen's depfile and state). */
int kh_afile_put(const char *path, const void *buf, size_t len,
		 struct kh_error *err);

/* kh_afile_put as one output of its own: under kh_afile_guard. */
int kh_afile_replace(const char *path, const void *buf, size_t len,
		     struct kh_error *err);

#endif
