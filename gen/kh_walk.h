/* kh_walk: find the headers that go into the archive.
 *
 * Selection is upstream's: `find include/ arch/$SRCARCH/include/ -name
 * '*.h'` in srctree, then in objtree, where an objtree path replaces
 * the srctree one. Symlinks are never followed, only recorded. Left
 * out on purpose: include/generated/utsversion.h (generated after the
 * archive, so it made builds differ) and NFS/AFS silly-rename files
 * (any path component starting with ".nfs" or ".__afs").
 *
 * kh_walk.c walks; the list it fills, its order and kh_walk_finish are
 * kh_walk_list.c's (gen/kh_walk_list.h has the operations the walk uses).
 */
#ifndef KH_WALK_H
#define KH_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/kh_error.h"

enum kh_walk_type {
	KH_WALK_FILE = 1,
	KH_WALK_SYMLINK = 2,
	/* Nothing to archive but the parent directories: a silly-rename
	 * file or directory, whose parents upstream's tar still lists. */
	KH_WALK_PARENTS = 3,
};

struct kh_walk_entry {
	char *rel;            /* archive path without "./": include/x.h */
	char *path;           /* where to read it: TREE/include/x.h */
	size_t rlen;          /* strlen(rel) */
	enum kh_walk_type type;
	int tree;             /* 0 srctree, 1 objtree */
	off_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;     /* shows a same-size edit whose mtime was put back */
	ino_t ino;
};

/* A directory as a walk read it: its change time and inode when it was
 * read, and the names the walk looked at (subdirectories, headers, and
 * names of unknown type; nothing else can matter), each as 'd' (a
 * directory) or 'u' (a name to stat) then the name and a NUL, back to
 * back in names[0..nlen).
 *
 * A later walk that finds the directory with the same ctime and inode
 * uses the names instead of reading it again: no entry can be added,
 * removed or renamed without changing the directory's ctime, which no
 * one can set back. A record is only as good as the clock tick it was
 * taken in, so the caller offers only records whose ctime is well
 * before the walk that took them began (the racy case again; see
 * KH_SKIP_RACY_NS). Reading directories is about a quarter of a no-op's
 * system time (ext4 builds a hash tree per listing); stat is the rest. */
struct kh_walk_dirrec {
	const char *rel;      /* "include/linux" */
	size_t rlen;
	int tree;
	int64_t ctime_ns;
	unsigned long long ino;
	const char *names;
	size_t nlen;
};

/* Where a walk finds earlier records (all optional). */
struct kh_walk_cache {
	/* The record for tree/rel, or NULL. Called from any walk thread.
	 * *known is 0 while the records are not ready yet (the walk then
	 * reads the directory and counts nothing), else 1. */
	const struct kh_walk_dirrec *(*find)(void *ctx, int tree,
					     const char *rel, size_t rlen,
					     int *known);
	void *ctx;
	/* Set (by any thread) when a walk that fails listed a directory
	 * from a record that no longer holds although the directory did
	 * not change: a damaged record, not a changing tree. */
	int *stale;
};

struct kh_walk_chunk;

/* The strings of the entries live in the list's arena: path, with rel
 * its tail, in one allocation per many entries; so do the strings of
 * the directory records. */
struct kh_walk_list {
	struct kh_walk_entry *v;
	size_t n, cap;
	struct kh_walk_chunk *arena;
	/* Filled by kh_walk_trees_cached: every directory read. */
	struct kh_walk_dirrec *dirs;
	size_t ndirs, dcap;
	size_t replayed;      /* directories listed from a record */
	size_t reread;        /* read although find() had answered */
};

#define KH_WALK_LIST_INIT { .v = NULL }

/* Add every selected header below root/sub to list. A missing root/sub
 * is an error only when required is set. */
int kh_walk_tree(const char *root, const char *sub, int tree, int required,
		 struct kh_walk_list *list, struct kh_error *err);

#define KH_WALK_MAX_THREADS 64

/* A place to walk: root/sub, from tree 0 (srctree) or 1 (objtree). */
struct kh_walk_root {
	const char *root;
	const char *sub;
	int tree;
	int required;
};

/* kh_walk_tree over several roots, with their directories shared among
 * threads (stat calls dominate a no-op run, and they parallelise): a
 * thread that reads a directory hands its subdirectories out. The
 * list's order is unspecified until kh_walk_finish. An error is the
 * first one in this order, whatever the timing: the top level of each
 * root, the roots in order; then the directories below, depth first,
 * each directory in the order it lists its names. */
int kh_walk_trees(const struct kh_walk_root *roots, size_t nroots,
		  int threads, struct kh_walk_list *list,
		  struct kh_error *err);

/* kh_walk_trees that also records every directory it reads in
 * list->dirs, and lists a directory from cache's record instead of
 * reading it when the record's ctime and inode are the directory's.
 * cache may be NULL. */
int kh_walk_trees_cached(const struct kh_walk_root *roots, size_t nroots,
			 int threads, const struct kh_walk_cache *cache,
			 struct kh_walk_list *list, struct kh_error *err);

/* Sort by archive path and drop srctree entries shadowed by objtree;
 * sort the directory records by tree, then path. */
void kh_walk_finish(struct kh_walk_list *list);

/* Is this relative path left out of the archive? (exposed for tests) */
int kh_walk_excluded(const char *rel);

/* Length of rel up to the end of its first silly-rename component, or 0
 * when it has none. */
size_t kh_walk_silly_end(const char *rel);

/* Does a file name match find's -name '*.h'? */
int kh_walk_is_header(const char *name);

void kh_walk_list_release(struct kh_walk_list *list);

#endif
