/* kh_source: the one way every subcommand takes its input.
 *
 * extract, manifest, verify and diff each name a SOURCE: a headers
 * archive (.tar.xz), the running kernel's /sys or /proc file, a module
 * or a kernel image (ELF, raw, compressed: extract/kh_image and
 * extract/kh_payload), or, where a subcommand compares, an mtree
 * manifest. A source is read once, whole, into private memory under
 * kh_image's rules, and what it is decided here, so a new input format
 * is added once (in kh_image or kh_payload) for every subcommand.
 */
#ifndef KH_SOURCE_H
#define KH_SOURCE_H

#include <stddef.h>

#include "extract/kh_image.h"
#include "lib/kh_error.h"
#include "manifest/kh_manifest.h"

struct kh_source;

/* Read path ("-": standard input). With manifest_ok, mtree text is
 * taken as a manifest (at most KH_FILE_MAX_MANIFEST); anything else
 * must hold a headers archive (at most KH_FILE_MAX_ARCHIVE of xz). */
int kh_source_open(const char *path, int manifest_ok,
		   struct kh_source **out, struct kh_error *err);

/* "standard input" for "-", else the path: what messages name. */
const char *kh_source_name(const struct kh_source *s);

/* 1 when the source is a manifest. */
int kh_source_is_manifest(const struct kh_source *s);

/* The archive's bytes (an .xz stream), or NULL for a manifest. */
const unsigned char *kh_source_archive(const struct kh_source *s,
				       size_t *len);

/* Where the archive was found, or NULL for a manifest. */
const struct kh_image *kh_source_image(const struct kh_source *s);

/* The source as a manifest model: the manifest parsed, or the archive
 * read (flags as kh_archive_read_mem's). *out is the caller's. */
int kh_source_manifest(const struct kh_source *s, unsigned flags,
		       struct kh_manifest **out, struct kh_error *err);

void kh_source_free(struct kh_source *s);

#endif
