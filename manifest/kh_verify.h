/* kh_verify: does an archive match what it should be?
 *
 * Two questions, one answer format. kh_verify_manifest compares an
 * archive's entries and digests with a manifest; kh_verify_rebuild
 * regenerates the archive from the tree (the reproducible-build check)
 * and compares byte for byte, then entry by entry to say how they
 * differ: content, mode, mtime, order, or compression only.
 *
 * Findings are data (kind, path, expected, actual), never text: the
 * front end words them.
 */
#ifndef KH_VERIFY_H
#define KH_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "gen/kh_gen.h"
#include "lib/kh_error.h"
#include "manifest/kh_manifest.h"

enum kh_verify_kind {
	KH_VERIFY_MISSING = 0,   /* expected, not in the archive */
	KH_VERIFY_EXTRA,         /* in the archive, not expected */
	KH_VERIFY_DUPLICATE,     /* the archive lists the path again */
	KH_VERIFY_TYPE,
	KH_VERIFY_CONTENT,       /* SHA-256 or size */
	KH_VERIFY_LINK,
	KH_VERIFY_MODE,
	KH_VERIFY_UID,
	KH_VERIFY_GID,
	KH_VERIFY_MTIME,
	KH_VERIFY_ORDER,         /* present, but elsewhere in the order */
	KH_VERIFY_TAR,           /* the tar stream's SHA-256 or size */
	KH_VERIFY_ARCHIVE,       /* the archive file's SHA-256 or size */
	KH_VERIFY_NKINDS
};

/* The overall answer. */
enum kh_verify_verdict {
	KH_VERIFY_SAME = 0,         /* everything matches */
	KH_VERIFY_ENTRIES,          /* entries differ (see the findings) */
	KH_VERIFY_TAR_ONLY,         /* every entry matches, the tars do not */
	KH_VERIFY_COMPRESSION_ONLY, /* the tars match, the .tar.xz do not */
};

struct kh_verify_finding {
	enum kh_verify_kind kind;
	const char *path;        /* NULL for KH_VERIFY_TAR/ARCHIVE */
	char *expected;          /* as text: "0644", a hex digest... */
	char *actual;
};

struct kh_verify;

/* Compare got (read from the archive) with want (the manifest, or the
 * rebuilt archive). Only keywords both sides carry are compared, and
 * digests only when both know them. Paths point into want and got,
 * which must outlive the result. */
int kh_verify_compare(const struct kh_manifest *want,
		      const struct kh_manifest *got, struct kh_verify **out,
		      struct kh_error *err);

/* Rebuild with opts (tree options as for gen; output, stub, state,
 * depfile and manifest are ignored) into a private temporary directory
 * and compare with the archive's bytes have (named archive in
 * messages; the caller reads them from any source, extract/kh_source).
 * got: the archive already read (kh_source_manifest), borrowed, or NULL
 * to read it here when the bytes differ. The manifests kept in the
 * result are the rebuilt one and, when read here, the archive's.
 * tmpdir: where to make it (NULL: $TMPDIR, else /tmp). A difference
 * that every entry shares is folded into one summary
 * (kh_verify_uniform_at). */
int kh_verify_rebuild(const struct kh_gen_opts *opts,
		      const unsigned char *have, size_t nhave,
		      const struct kh_manifest *got,
		      const char *archive, const char *tmpdir,
		      struct kh_verify **out, struct kh_error *err);

/* The one timestamp an archive's entries carry, for a rebuild that was
 * given none: 1 and *mtime when every entry with a time has the same
 * whole second; 2 when they carry several (*first, *last: the earliest
 * and latest); 0 when no entry has one. */
int kh_verify_mtimes(const struct kh_manifest *m, int64_t *first,
		     int64_t *last);

/* A difference every compared entry of a class shares: an archive
 * built elsewhere (another timestamp, owner, modes or a setgid build
 * directory) would otherwise list every entry. Its findings are taken
 * out of the list (kh_verify_at); the entries still count in
 * kh_verify_entries and the verdict. */
enum kh_verify_class {
	KH_VERIFY_ALL_MTIME = 0,    /* every entry's mtime */
	KH_VERIFY_ALL_OWNER,        /* every entry's uid and gid */
	KH_VERIFY_ALL_FILE_MODE,    /* every regular file's mode */
	KH_VERIFY_ALL_DIR_MODE,     /* every directory's mode */
	KH_VERIFY_ALL_LINK_MODE,    /* every symlink's mode */
	KH_VERIFY_NCLASSES
};

struct kh_verify_uniform {
	enum kh_verify_class cls;
	size_t count;              /* entries it covers */
	int64_t want, got;         /* mtime (s), mode or uid */
	int64_t want_gid, got_gid; /* KH_VERIFY_ALL_OWNER */
	int64_t got_last;          /* KH_VERIFY_ALL_MTIME: the archive's
				    * latest, when it carries several */
	int several;               /* the archive's side is not one value
				    * (KH_VERIFY_ALL_MTIME only) */
};

size_t kh_verify_uniform_count(const struct kh_verify *v);
const struct kh_verify_uniform *kh_verify_uniform_at(
	const struct kh_verify *v, size_t i);

void kh_verify_free(struct kh_verify *v);

enum kh_verify_verdict kh_verify_verdict(const struct kh_verify *v);
size_t kh_verify_count(const struct kh_verify *v);
const struct kh_verify_finding *kh_verify_at(const struct kh_verify *v,
					     size_t i);

/* Entries that differ (distinct paths among the entry findings). */
size_t kh_verify_entries(const struct kh_verify *v);

#endif
