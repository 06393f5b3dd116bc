/* kh_afile: atomic output files.
 *
 * Output is written to a temporary file in the destination's directory
 * and renamed over the destination only once complete and fsync'ed, so
 * readers (and Make) see the old file or the new one, never a torn one.
 * Every live temporary is remembered so that a signal handler can
 * remove it (kh_afile_unlink_all), keeping "no temp file left" true
 * even when the user presses ^C.
 */
#ifndef KH_AFILE_H
#define KH_AFILE_H

#include <stddef.h>

#include "kh_error.h"

struct kh_afile;

/* Create a temporary beside path; *out owns it until commit or abort. */
int kh_afile_open(const char *path, struct kh_afile **out,
		  struct kh_error *err);

/* The descriptor of the temporary, for writers that stream. */
int kh_afile_fd(const struct kh_afile *af);

/* The destination path, for messages. */
const char *kh_afile_path(const struct kh_afile *af);

/* Append len bytes; on failure the message names the destination. */
int kh_afile_write(struct kh_afile *af, const void *buf, size_t len,
		   struct kh_error *err);

/* fsync, give the usual 0666 & ~umask mode, rename into place, free. */
int kh_afile_commit(struct kh_afile *af, struct kh_error *err);

/* Remove the temporary and free; safe with NULL. */
void kh_afile_abort(struct kh_afile *af);

/* Async-signal-safe: unlink every temporary still open. */
void kh_afile_unlink_all(void);

/* Take an exclusive lock on the directory that will hold path, waiting
 * for any other holder: two runs writing the same outputs take turns.
 * Returns the descriptor to pass to kh_afile_unlock. */
int kh_afile_lock(const char *path, int *fd, struct kh_error *err);
void kh_afile_unlock(int fd);

/* Remove temporaries of path that a killed run left (SIGKILL gives no
 * chance to clean up). Only safe under kh_afile_lock. */
void kh_afile_sweep(const char *path);

#endif
