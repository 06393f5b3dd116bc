/* kh_tmpdir: private temporary directories a killed run cannot leak
 * for long.
 *
 * `extract` builds its tree in a temporary directory beside DIR and
 * `verify --rebuild` rebuilds in one under TMPDIR. A run holds an
 * flock on its directory for as long as it lives; SIGKILL gives no
 * chance to clean up, but it drops the lock, so the next run with the
 * same prefix sweeps every such directory that nobody holds. SIGINT and
 * friends are handled at once: the front end's handler removes the
 * directories registered with kh_tmpdir_watch.
 */
#ifndef KH_TMPDIR_H
#define KH_TMPDIR_H

#include "lib/kh_error.h"

/* Create "<prefix>XXXXXX" (mkdtemp: mode 0700) and lock it; name is
 * what messages blame ("DIR: cannot create temporary directory ...").
 * *path is malloc'ed; *fd holds the lock until closed. Safe against a
 * concurrent kh_tmpdir_sweep: a directory swept before it was locked
 * is made again. */
int kh_tmpdir_make(const char *prefix, const char *name, char **path,
		   int *fd, struct kh_error *err);

/* Remove every directory "<prefix>XXXXXX" that this user owns and no
 * live run holds, with all it contains. Best effort: errors are
 * ignored. Returns how many were removed. */
int kh_tmpdir_sweep(const char *prefix);

/* Remove path and everything below it, never following a symlink or
 * leaving path's filesystem, by descriptors alone (see kh_tmpdir.c):
 * the one way kheaders removes a tree. A directory moved out of it
 * meanwhile is left where it went (the walk starts again from the
 * top). Stops, leaving the rest, at a directory on another filesystem
 * (EXDEV), one over 4,096 levels deep (ENAMETOOLONG), or when
 * directories keep moving (ESTALE). 0, or -1 with errno set. */
int kh_tmpdir_remove(const char *path);

/* Remember path for kh_tmpdir_unlink_all, until kh_tmpdir_unwatch. Only
 * for shallow directories (a few levels): the handler's stack is small.
 * path must stay valid meanwhile. */
void kh_tmpdir_watch(const char *path);
void kh_tmpdir_unwatch(const char *path);

/* Async-signal-safe: remove every watched directory. */
void kh_tmpdir_unlink_all(void);

#endif
