/* kh_record: what gen wrote, entry by entry, as it wrote it.
 *
 * The tar writer adds each entry as it emits it (kh_tarw_record), with
 * the SHA-256 of the content it was handed; the hashing stages of the
 * output chain (lib/kh_hsink) add the digests of the tar stream and of
 * the archive file. Whoever describes the archive (the manifest,
 * through the front end: gen never includes manifest/) takes it from
 * here, so nothing gen just wrote is read back.
 */
#ifndef KH_RECORD_H
#define KH_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_hash.h"

enum kh_record_type {
	KH_RECORD_DIR = 1,
	KH_RECORD_FILE,
	KH_RECORD_SYMLINK,
};

struct kh_record_entry {
	char *path;                /* as written: "./", "./include/x.h" */
	enum kh_record_type type;
	unsigned mode;             /* permission bits as in the header */
	int64_t uid, gid;
	int64_t mtime;             /* whole seconds */
	uint64_t size;             /* files: bytes of content */
	unsigned char sha256[KH_SHA256_LEN];   /* files: of the content */
	char *link;                /* symlinks: the target */
};

/* A stream's digest: the tar, or the archive file. */
struct kh_record_digest {
	int known;
	unsigned char sha256[KH_SHA256_LEN];
	uint64_t size;
};

struct kh_record {
	struct kh_record_entry *v;
	size_t n, cap;
	struct kh_record_digest tar, archive;
};

#define KH_RECORD_INIT { .n = 0 }

/* Append a copy of e (its strings are copied). */
int kh_record_add(struct kh_record *r, const struct kh_record_entry *e,
		  struct kh_error *err);

void kh_record_set_digest(struct kh_record_digest *d,
			  const unsigned char sha256[KH_SHA256_LEN],
			  uint64_t size);

void kh_record_release(struct kh_record *r);

#endif
