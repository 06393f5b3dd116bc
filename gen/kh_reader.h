/* kh_reader: read (and strip) the selected headers on worker threads.
 *
 * Workers run ahead of the archive writer, which takes the results in
 * archive order; the output never depends on the thread count. Each
 * file is checked against what the walk saw (type, size, inode, mtime)
 * before it is read, and against itself (size, mtime, ctime) after, so
 * a header that changes or vanishes during the run is an error, not a
 * silently mixed archive. (A write that leaves all of these as they
 * were, within one timestamp tick, cannot be seen; the next run
 * rebuilds, since its content hash differs.) */
#ifndef KH_READER_H
#define KH_READER_H

#include <stddef.h>

#include "gen/kh_walk.h"
#include "lib/kh_error.h"
#include "lib/kh_hash.h"

/* Headers are read whole, so one larger than this is refused before
 * anything is built (real ones are under 2 MB, generated ones about
 * 10 MB; a 100 MB header still works). */
#define KH_READER_MAX_FILE (1ULL << 30)

struct kh_reader;

/* Start threads workers over list (which must outlive the reader). */
int kh_reader_new(const struct kh_walk_list *list, int strip, int threads,
		  struct kh_reader **r, struct kh_error *err);

/* Wait for entry i: file content (stripped) or symlink target, and
 * the XXH3-128 of the file as read, before stripping (zero for other
 * entries). The buffer stays valid until kh_reader_done(r, i). Entries
 * must be taken in increasing order. */
int kh_reader_get(struct kh_reader *r, size_t i, const char **data,
		  size_t *len, unsigned char hash[KH_XXH128_LEN],
		  struct kh_error *err);

void kh_reader_done(struct kh_reader *r, size_t i);

/* Stop the workers and free everything. */
void kh_reader_free(struct kh_reader *r);

/* Read one entry synchronously, as a worker does; hash may be NULL. */
int kh_reader_load(const struct kh_walk_entry *e, int strip, char **data,
		   size_t *len, unsigned char *hash, struct kh_error *err);

#endif
