/* kh_diff: how two archives (or their manifests) differ.
 *
 * Entries are matched by archive path (normalised, so archives from
 * different trees, versions and tools compare cleanly). Reported:
 * entries added and removed; regular files whose content changed
 * (SHA-256, else size when a manifest has no digest); mode, type and
 * symlink-target changes. mtime, uid and gid are not compared: two
 * builds normally differ there, and `kheaders verify` checks them.
 * Changes come sorted in archive (GNU tar --sort=name) order of path.
 *
 * kh_diff_unified renders `diff -u` output for two texts, using
 * kh_myers; no external diff is run.
 */
#ifndef KH_DIFF_H
#define KH_DIFF_H

#include <stddef.h>

#include "lib/kh_error.h"
#include "manifest/kh_manifest.h"

enum kh_diff_kind {
	KH_DIFF_ADDED = 0,
	KH_DIFF_REMOVED,
	KH_DIFF_CHANGED,
	KH_DIFF_MODE,
	KH_DIFF_TYPE,
	KH_DIFF_LINK,
	KH_DIFF_NKINDS
};

struct kh_diff_change {
	enum kh_diff_kind kind;
	const char *path;
	const struct kh_manifest_entry *a;   /* NULL when added */
	const struct kh_manifest_entry *b;   /* NULL when removed */
};

struct kh_diff;

/* Compare a with b; the result points into both, which must outlive it. */
int kh_diff_new(const struct kh_manifest *a, const struct kh_manifest *b,
		struct kh_diff **out, struct kh_error *err);
void kh_diff_free(struct kh_diff *d);

size_t kh_diff_count(const struct kh_diff *d);
const struct kh_diff_change *kh_diff_at(const struct kh_diff *d, size_t i);
size_t kh_diff_count_kind(const struct kh_diff *d, enum kh_diff_kind k);

/* "added", "removed", "changed", "mode", "type", "link". */
const char *kh_diff_kind_name(enum kh_diff_kind k);

/* Unified diff of a (alen bytes) and b, GNU `diff -u` style, with
 * context lines of context and the given labels on the ---/+++ lines.
 * Empty when equal; "Binary files ... differ\n" when either holds a
 * NUL byte. *out is malloc'ed. */
int kh_diff_unified(const char *a, size_t alen, const char *b, size_t blen,
		    const char *label_a, const char *label_b, int context,
		    char **out, size_t *outlen, struct kh_error *err);

#endif
