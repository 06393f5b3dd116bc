/* kh_xverify: check an extraction against a manifest.
 *
 * Plugs into kh_extract as its verifier: every entry written must be
 * in the manifest (kh_manifest, BSD mtree) with the same type, mode,
 * size, mtime, SHA-256 and link target, as far as the manifest records
 * them; when the last entry is written, nothing the manifest lists may
 * be missing. The archive's own SHA-256 and size are checked first,
 * when the manifest records them. A hard link is checked as the
 * content it shares with its target (as mtree(8) and bsdtar list a
 * tree), or, when the archive's digest matched, also as the empty tar
 * entry it is. Any difference fails the extraction, so nothing
 * unverified is ever left at DIR.
 */
#ifndef KH_XVERIFY_H
#define KH_XVERIFY_H

#include <stddef.h>

#include "extract/kh_extract.h"
#include "lib/kh_error.h"

struct kh_xverify;

/* Read and parse the manifest at path. */
int kh_xverify_new(const char *path, struct kh_xverify **out,
		   struct kh_error *err);

/* The verifier to put in kh_extract_opts; lives as long as xv. */
const struct kh_extract_verifier *kh_xverify_verifier(struct kh_xverify *xv);

/* Check the .tar.xz bytes against the manifest's archive digest. */
int kh_xverify_archive(struct kh_xverify *xv, const void *xz, size_t len,
		       struct kh_error *err);

void kh_xverify_free(struct kh_xverify *xv);

#endif
