/* kh_walk_list: what a walk collects, and in which order.
 *
 * kh_walk.c reads directories; this is the storage it fills and the
 * order it is put in: header entries and directory records
 * (kh_walk_dirrec) with their strings in one arena, the lists of
 * several threads moved or merged into one, the tar order of archive
 * paths, the names a directory's record keeps while it is read, and the
 * question whether an earlier record of a directory still holds. The
 * list's public face (struct kh_walk_list, kh_walk_finish,
 * kh_walk_list_release) is in kh_walk.h; these are the operations the
 * walk itself uses.
 */
#ifndef KH_WALK_LIST_H
#define KH_WALK_LIST_H

#include <stddef.h>
#include <sys/stat.h>

#include "gen/kh_walk.h"
#include "lib/kh_error.h"

/* Add root/rel[0..rlen) to list; st NULL for a KH_WALK_PARENTS entry. */
int kh_walk_list_push(struct kh_walk_list *list, const char *root,
		      size_t rootlen, const char *rel, size_t rlen,
		      const struct stat *st, int tree, struct kh_error *err);

/* Record directory rel[0..rlen) of tree as read: ctime and inode from
 * st, names[0..nlen) as in kh_walk_dirrec. */
int kh_walk_list_push_dir(struct kh_walk_list *list, int tree,
			  const char *rel, size_t rlen, const struct stat *st,
			  const char *names, size_t nlen,
			  struct kh_error *err);

/* Move every entry and record of from, and their strings, to the end
 * of to. */
int kh_walk_list_append(struct kh_walk_list *to, struct kh_walk_list *from,
			struct kh_error *err);

/* Merge the entries of n sorted lists into the empty list to; the
 * strings stay in the arenas of from, to be appended after. */
int kh_walk_list_merge(struct kh_walk_list *to, struct kh_walk_list *const *from,
		       int n, struct kh_error *err);

/* Sort the entries by archive path (tar order), then tree. */
void kh_walk_list_sort(struct kh_walk_list *list);

/* The names of a directory being read, for its record: see
 * kh_walk_dirrec for the format. */
struct kh_walk_names {
	char *buf;
	size_t len, cap;
};

/* Keep name (listed as type); on no memory, n gives up: len stays
 * non-zero with cap 0, and the directory gets no record. */
void kh_walk_list_keep_name(struct kh_walk_names *n, const char *name,
			    unsigned char type);

/* Did n give up (see kh_walk_list_keep_name)? */
int kh_walk_list_names_lost(const struct kh_walk_names *n);

/* cache's record of directory tree/rel[0..rlen), whose stat data is st,
 * if it still holds (same ctime and inode), else NULL; counted in
 * list->replayed or list->reread. */
const struct kh_walk_dirrec *
kh_walk_list_lookup(struct kh_walk_list *list, const struct kh_walk_cache *cache,
		    int tree, const char *rel, size_t rlen,
		    const struct stat *st);

/* Listing directory dfd from rec failed. If the directory did not change
 * meanwhile, blame the record (set *cache->stale: the caller may walk
 * again without records); if it did, the tree changed under us, as it
 * can between a getdents and a stat, and the error stands. */
void kh_walk_list_replay_failed(const struct kh_walk_cache *cache, int dfd,
				const struct kh_walk_dirrec *rec);

#endif
