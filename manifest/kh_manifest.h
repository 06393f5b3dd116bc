/* kh_manifest: what an archive holds, as BSD mtree text.
 *
 * A manifest is a list of entries in archive order plus a few facts
 * about how the archive was made. Its text form is mtree, so that
 * libarchive (`bsdtar -tvf FILE`) and the BSD mtree tools read it:
 *
 *   #mtree
 *   # kheaders-manifest: 1
 *   # tool: kheaders 0.1.0
 *   # ...more "# key: value" facts...
 *   # entries: 3
 *   # tar-sha256: <hex>           the tar stream inside the archive
 *   # tar-size: 10240
 *   # archive-sha256: <hex>       the archive file (the .tar.xz)
 *   # archive-size: 312
 *   . type=dir mode=0755 uid=0 gid=0 time=0.0
 *   ./include type=dir mode=0755 uid=0 gid=0 time=0.0
 *   ./include/a.h type=file mode=0644 uid=0 gid=0 size=3 time=0.0 \
 *       sha256digest=<hex>        (one line in the file)
 *
 * Paths are archive paths normalised to "./x/y" (no trailing slash;
 * "." is the archive's root), escaped as libarchive's mtree writer
 * escapes them: every byte outside '!'..'~', and '#', '=', '\', as a
 * backslash and three octal digits ("name\040with\040spaces.h").
 *
 * The parser reads this format and the usual mtree variants (/set and
 * /unset, classic relative entries, continuation lines), so manifests
 * from bsdtar or mtree(8) can be verified and diffed too; keywords an
 * entry lacks are simply not compared.
 */
#ifndef KH_MANIFEST_H
#define KH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_hash.h"

#define KH_MANIFEST_MAGIC "#mtree"
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

/* Fill the facts: tool, kernel version and release from the tree (when
 * known and present), SRCARCH and the options. Deterministic: no
 * paths, no clock. Reads srctree/Makefile and objtree's (else
 * srctree's) include/generated/utsrelease.h and
 * include/generated/uapi/linux/version.h. */
int kh_manifest_describe(struct kh_manifest *m,
			 const struct kh_manifest_origin *o,
			 struct kh_error *err);

/* Does the manifest at path still state the facts describe() would
 * write for o? Only its leading comment lines are read. The facts that
 * come from gen's options are not compared: a changed option rebuilds
 * the archive, and so the manifest, anyway. A missing or unreadable
 * file is simply not fresh (*fresh = 0). */
int kh_manifest_facts_fresh(const char *path,
			    const struct kh_manifest_origin *o, int *fresh,
			    struct kh_error *err);

/* The mtree text (malloc'ed, not NUL-terminated in len). */
int kh_manifest_format(const struct kh_manifest *m, char **text,
		       size_t *len, struct kh_error *err);

/* Parse mtree text; name (the file) goes into error messages. */
int kh_manifest_parse(const char *text, size_t len, const char *name,
		      struct kh_manifest **out, struct kh_error *err);

/* Does this buffer start like mtree text? */
int kh_manifest_is_mtree(const void *buf, size_t len);

/* Helpers, exposed for the archive reader, diff and tests. All return
 * malloc'ed strings or NULL when out of memory (unescape: or invalid). */
char *kh_manifest_escape(const char *s);
char *kh_manifest_unescape(const char *s);
/* "include/x.h", "./include/x.h", "/include/x.h/" -> "./include/x.h";
 * "./", ".", "" -> ".". */
char *kh_manifest_normpath(const char *archive_path);
const char *kh_manifest_type_name(enum kh_manifest_type t);
void kh_manifest_entry_release(struct kh_manifest_entry *e);

#endif
