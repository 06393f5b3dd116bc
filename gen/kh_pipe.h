/* kh_pipe: a walk turned into archive bytes, in one pass.
 *
 * The entries of list are read (and stripped) by reader threads, written
 * as GNU tar in list order, compressed (o->xz_single: one xz stream;
 * else content-cut blocks, compressed in parallel or taken from o->cache)
 * into af. Each input's digest goes into cur as it is read; with rec,
 * each entry is recorded as written, with the tar's digest. The file's
 * digests (SHA-256 and XXH3-128 when there is a state; SHA-256 with rec)
 * come from a hashing stage in front of the file: *summed says whether
 * *sum holds them. Counts and sizes go into res.
 */
#ifndef KH_PIPE_H
#define KH_PIPE_H

#include <stdint.h>

#include "gen/kh_gen.h"
#include "gen/kh_record.h"
#include "gen/kh_state.h"
#include "gen/kh_walk.h"
#include "lib/kh_afile.h"
#include "lib/kh_error.h"
#include "lib/kh_hsink.h"

int kh_pipe_write(const struct kh_gen_opts *o, const struct kh_walk_list *list,
		  struct kh_afile *af, struct kh_state *cur,
		  struct kh_record *rec, struct kh_hsink_sum *sum,
		  int *summed, struct kh_gen_result *res, struct kh_error *err);

/* The xz block size o asks for, or the default. */
uint64_t kh_pipe_block_size(const struct kh_gen_opts *o);

#endif
