/* kh_bcache_dir: the directory the block cache lives in.
 *
 * The half of kh_bcache that decides which directory may hold the
 * cache and touches it by name (kh_bcache.h says why each rule is
 * there): the trust checks on one descriptor opened without following
 * a symlink, the CACHEDIR.TAG and the adoption of an untagged
 * directory, the lock, the exact shapes of the names the cache may
 * remove or replace, and the atomic write of one of them through a
 * temporary the signal handler can remove. What the entries hold, and
 * which ones to keep, is kh_bcache.c's.
 */
#ifndef KH_BCACHE_DIR_H
#define KH_BCACHE_DIR_H

#include <dirent.h>
#include <stddef.h>

#include "gen/kh_bcache.h"
#include "lib/kh_error.h"
#include "lib/kh_hash.h"

#define KH_BCACHE_INDEX_MAGIC "kheaders-bcache 1"
#define KH_BCACHE_INDEX "index"
#define KH_BCACHE_LOCK "lock"
#define KH_BCACHE_SUFFIX ".xzb"
#define KH_BCACHE_HEX_LEN (2 * KH_XXH128_LEN)
#define KH_BCACHE_NAME_LEN (KH_BCACHE_HEX_LEN + sizeof(KH_BCACHE_SUFFIX) - 1)

/* Make dir (mode 0700) if missing, check that it may hold the cache,
 * take its lock, and tag it if it was adoptable. 0 with *dfd and
 * *lockfd open; 1 when another run holds the lock (nothing left open);
 * or a negative code (KH_EINVAL: refused, see kh_bcache_open). dir has
 * no trailing slash. */
int kh_bcache_dir_open(const char *dir, int *dfd, int *lockfd,
		       struct kh_error *err);

/* A directory stream over dfd, from its start; dfd stays open (the
 * stream has a duplicate). */
int kh_bcache_dir_stream(int dfd, const char *dir, DIR **dp,
			 struct kh_error *err);

/* Are s[0..n) lower-case hex digits? */
int kh_bcache_dir_is_hex(const char *s, size_t n);

/* "<32 lower-case hex>.xzb", exactly what kh_bcache_dir_entry_name
 * makes. */
int kh_bcache_dir_is_entry(const char *name, size_t len);

/* ".TARGET.XXXXXX": a temporary of kh_bcache_dir_write (and of
 * kh_afile, which kheaders 0.1.0 wrote its cache with). */
int kh_bcache_dir_is_tmp(const char *name);

/* The entry file's name for key. */
void kh_bcache_dir_entry_name(const unsigned char *key,
			      char name[KH_BCACHE_NAME_LEN + 1]);

/* "DIR/NAME" for messages. */
const char *kh_bcache_dir_where(const char *dir, const char *name, char *buf,
				size_t size);

/* Write a then b as dfd/name, atomically: a temporary of the exact
 * shape the sweep knows, renamed over name. No fsync (see kh_bcache.h:
 * every entry is verified when read, and a lost one is only work). */
int kh_bcache_dir_write(int dfd, const char *dir, const char *name,
			const void *a, size_t alen, const void *b, size_t blen,
			struct kh_error *err);

#endif
