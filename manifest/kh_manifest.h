/* kh_manifest: what an archive holds, the model.
 *
 * A manifest is a list of entries in archive order plus a few facts
 * about how the archive was made ("# key: value" lines) and the
 * digests of the tar stream and of the archive file. This module holds
 * them and finds entries by path; kh_mtree.h turns a manifest into BSD
 * mtree text and back, kh_facts.h fills the facts from a kernel tree.
 *
 * Paths are archive paths normalised to "./x/y" (no trailing slash;
 * "." is the archive's root).
 */
#ifndef KH_MANIFEST_H
#define KH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_hash.h"

#define KH_MANIFEST_VERSION 1

enum kh_manifest_type {
	KH_MANIFEST_FILE = 1,
	KH_MANIFEST_DIR,
	KH_MANIFEST_LINK,
	KH_MANIFEST_CHAR,
	KH_MANIFEST_BLOCK,
	KH_MANIFEST_FIFO,
	KH_MANIFEST_SOCKET,
};

/* The keywords an entry carries (bit set in kh_manifest_entry.keys). */
enum {
	KH_MK_TYPE = 1u << 0,
	KH_MK_MODE = 1u << 1,
	KH_MK_UID = 1u << 2,
	KH_MK_GID = 1u << 3,
	KH_MK_SIZE = 1u << 4,
	KH_MK_TIME = 1u << 5,
	KH_MK_SHA256 = 1u << 6,
	KH_MK_LINK = 1u << 7,
};

struct kh_manifest_entry {
	char *path;                  /* normalised: "./include/x.h", "." */
	unsigned keys;               /* KH_MK_* present */
	enum kh_manifest_type type;
	unsigned mode;               /* permission bits (07777) */
	int64_t uid, gid;
	uint64_t size;               /* regular files */
	int64_t mtime;
	long mtime_ns;
	unsigned char sha256[KH_SHA256_LEN];
	char *link;                  /* symlink target */
	unsigned char *data;         /* file content, only when kept */
	size_t len;
};

#define KH_MANIFEST_ENTRY_INIT { 0 }

/* A stream the manifest vouches for: the tar, or the archive file. */
enum kh_manifest_stream {
	KH_MANIFEST_TAR = 0,
	KH_MANIFEST_ARCHIVE = 1,
};

struct kh_manifest_digest {
	int known;
	unsigned char sha256[KH_SHA256_LEN];
	uint64_t size;
};

/* How an archive was made, for the comment lines. srctree NULL means
 * "not known" (an archive read from elsewhere): every tree fact and
 * option is then written as unknown. options are gen's "key=value"
 * reproducibility options, as recorded in its state. */
struct kh_manifest_origin {
	const char *srctree;
	const char *objtree;
	char *const *options;
	size_t noptions;
};

struct kh_manifest;

int kh_manifest_new(struct kh_manifest **out, struct kh_error *err);
void kh_manifest_free(struct kh_manifest *m);

/* Append e, taking over its strings and data (e is left empty). The
 * path must already be normalised. */
int kh_manifest_add(struct kh_manifest *m, struct kh_manifest_entry *e,
		    struct kh_error *err);

size_t kh_manifest_count(const struct kh_manifest *m);
const struct kh_manifest_entry *kh_manifest_at(const struct kh_manifest *m,
					       size_t i);

/* Index of the first entry with this normalised path, or -1. */
long kh_manifest_find(const struct kh_manifest *m, const char *path);

/* The "# key: value" facts, in the order they are written. Setting a
 * key again replaces its value; bytes that would break the line are
 * written as '?'. */
int kh_manifest_set_field(struct kh_manifest *m, const char *key,
			  const char *value, struct kh_error *err);
const char *kh_manifest_field(const struct kh_manifest *m, const char *key);
/* The facts in order: key and value of the i-th (NULL past the end). */
size_t kh_manifest_nfields(const struct kh_manifest *m);
void kh_manifest_field_at(const struct kh_manifest *m, size_t i,
			  const char **key, const char **value);

void kh_manifest_set_digest(struct kh_manifest *m,
			    enum kh_manifest_stream s,
			    const unsigned char sha256[KH_SHA256_LEN],
			    uint64_t size);
const struct kh_manifest_digest *kh_manifest_digest(
	const struct kh_manifest *m, enum kh_manifest_stream s);

/* What the archive reader saw: the compression filter ("xz", "none")
 * and the tar format's name. Copied; NULL leaves a value as it is. */
int kh_manifest_set_observed(struct kh_manifest *m, const char *filter,
			     const char *format, struct kh_error *err);
/* The values set there, NULL when not known. */
void kh_manifest_observed(const struct kh_manifest *m, const char **filter,
			  const char **format);

/* "include/x.h", "./include/x.h", "/include/x.h/" -> "./include/x.h";
 * "./", ".", "" -> ".". */
char *kh_manifest_normpath(const char *archive_path);
const char *kh_manifest_type_name(enum kh_manifest_type t);
/* The type named ("file", "dir"...), or -1. */
int kh_manifest_type_parse(const char *name);
void kh_manifest_entry_release(struct kh_manifest_entry *e);

#endif
