/* kh_dirs: the previous run's directory records, found by path.
 *
 * The walk asks, for each directory it opens, whether the last run
 * recorded its listing (kh_walk_dirrec); this is the table it asks,
 * built from the state file's dir lines. It owns copies of what it
 * holds, so the state may go (or fail to parse further) while walks
 * still use it, and it is read-only once built: any thread may search.
 */
#ifndef KH_DIRS_H
#define KH_DIRS_H

#include <stdint.h>

#include "gen/kh_state.h"
#include "gen/kh_walk.h"

struct kh_dirs;

/* A table of st's dir records whose ctime is before before_ns (the
 * others could have changed within their clock tick; see
 * KH_SKIP_RACY_NS). NULL when out of memory: the walk then reads every
 * directory, which is slower, never wrong. */
struct kh_dirs *kh_dirs_build(const struct kh_state *st, int64_t before_ns);

const struct kh_walk_dirrec *kh_dirs_find(const struct kh_dirs *d, int tree,
					  const char *rel, size_t rlen);

void kh_dirs_free(struct kh_dirs *d);

#endif
