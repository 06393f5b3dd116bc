/* kh_xverify: an extraction verifier backed by a manifest (see
 * kh_xverify.h). */
#include "extract/kh_xverify.h"

#include <stdlib.h>
#include <string.h>

#include "lib/kh_file.h"
#include "lib/kh_hash.h"
#include "manifest/kh_archive_read.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

struct kh_xverify {
	char *path;                  /* the manifest, for messages */
	struct kh_manifest *m;
	unsigned char *seen;         /* one flag per manifest entry */
	int pinned;                  /* the archive matched the manifest's digest */
	struct kh_extract_verifier v;
};

/* SHA-256 of nothing: how a manifest made from the tar lists a hard
 * link, whose tar entry holds no data. */
static const unsigned char kh_xverify_empty[KH_SHA256_LEN] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* Names come from the archive or the manifest: escaped as manifests
 * escape them, so that none puts control sequences on a terminal. */
static int kh_xverify_fail(const char *path, const char *fmt,
			   const char *what, const char *manifest,
			   struct kh_error *err)
{
	char *e = kh_mtree_escape(path);
	int ret;

	if (!e)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	ret = what ? kh_error_set(err, KH_EINVAL, NULL, fmt, e, what, manifest)
		   : kh_error_set(err, KH_EINVAL, NULL, fmt, e, manifest);
	free(e);
	return ret;
}

static int kh_xverify_diff(const struct kh_xverify *xv, const char *path,
			   const char *what, struct kh_error *err)
{
	return kh_xverify_fail(path, "%s: %s differs from the manifest %s",
			       what, xv->path, err);
}

static enum kh_manifest_type kh_xverify_type(char kind)
{
	switch (kind) {
	case 'd': return KH_MANIFEST_DIR;
	case 'l': return KH_MANIFEST_LINK;
	default: return KH_MANIFEST_FILE;   /* files and hard links */
	}
}

/* Is the entry's content to be compared? A file's, always. A hard
 * link's is its target's (what a reader finds at its name, and what
 * mtree(8) or bsdtar lists for a tree), except where the manifest
 * lists the tar entry itself, empty, and the archive's digest already
 * proved these are the very bytes the manifest was made from. */
static int kh_xverify_has_content(const struct kh_xverify *xv,
				  const struct kh_manifest_entry *me,
				  const struct kh_extract_entry *e)
{
	if (e->type == 'f')
		return 1;
	if (e->type != 'h')
		return 0;
	return !(xv->pinned &&
		 (!(me->keys & KH_MK_SIZE) || me->size == 0) &&
		 (!(me->keys & KH_MK_SHA256) ||
		  !memcmp(me->sha256, kh_xverify_empty, KH_SHA256_LEN)));
}

static int kh_xverify_entry(void *ctx, const struct kh_extract_entry *e,
			    struct kh_error *err)
{
	struct kh_xverify *xv = ctx;
	const struct kh_manifest_entry *me;
	char *norm = kh_manifest_normpath(e->path);
	long i;
	int ret = 0;

	if (!norm)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	i = kh_manifest_find(xv->m, norm);
	if (i < 0) {
		ret = kh_xverify_fail(e->path, "%s: not in the manifest %s",
				      NULL, xv->path, err);
		goto out;
	}
	xv->seen[i] = 1;
	me = kh_manifest_at(xv->m, (size_t)i);
	if ((me->keys & KH_MK_TYPE) && me->type != kh_xverify_type(e->type))
		ret = kh_xverify_diff(xv, e->path, "type", err);
	else if ((me->keys & KH_MK_MODE) && me->mode != e->mode)
		ret = kh_xverify_diff(xv, e->path, "mode", err);
	else if ((me->keys & KH_MK_TIME) && me->mtime != e->mtime)
		ret = kh_xverify_diff(xv, e->path, "mtime", err);
	else if (kh_xverify_has_content(xv, me, e) &&
		 (me->keys & KH_MK_SIZE) && me->size != e->size)
		ret = kh_xverify_diff(xv, e->path, "size", err);
	else if (kh_xverify_has_content(xv, me, e) &&
		 (me->keys & KH_MK_SHA256) &&
		 memcmp(me->sha256, e->sha256, KH_SHA256_LEN))
		ret = kh_xverify_diff(xv, e->path, "content (sha256)", err);
	else if (e->type == 'l' && (me->keys & KH_MK_LINK) &&
		 strcmp(me->link ? me->link : "", e->link ? e->link : ""))
		ret = kh_xverify_diff(xv, e->path, "link target", err);
out:
	free(norm);
	return ret;
}

static int kh_xverify_done(void *ctx, struct kh_error *err)
{
	struct kh_xverify *xv = ctx;
	size_t n = kh_manifest_count(xv->m);

	for (size_t i = 0; i < n; i++) {
		const struct kh_manifest_entry *me = kh_manifest_at(xv->m, i);

		/* The root is DIR itself, made by us, not from the entry. */
		if (!xv->seen[i] && strcmp(me->path, "."))
			return kh_xverify_fail(me->path, "%s: in the manifest "
					       "%s but not in the archive",
					       NULL, xv->path, err);
	}
	return 0;
}

int kh_xverify_new(const char *path, struct kh_xverify **out,
		   struct kh_error *err)
{
	struct kh_xverify *xv = calloc(1, sizeof(*xv));
	unsigned char *text = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (!xv || !(xv->path = strdup(path))) {
		free(xv);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	ret = kh_archive_load(path, KH_FILE_MAX_MANIFEST, "a manifest", &text,
			      &len, err);
	if (ret == 0 && !kh_mtree_is_text(text, len))
		ret = kh_error_set(err, KH_EINVAL, path, "not a manifest "
				   "(no #mtree line)");
	if (ret == 0)
		ret = kh_mtree_parse((const char *)text, len, path, &xv->m,
					err);
	free(text);
	if (ret == 0 && !(xv->seen = calloc(kh_manifest_count(xv->m) + 1, 1)))
		ret = kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	if (ret < 0) {
		kh_xverify_free(xv);
		return ret;
	}
	xv->v.entry = kh_xverify_entry;
	xv->v.done = kh_xverify_done;
	xv->v.ctx = xv;
	*out = xv;
	return 0;
}

const struct kh_extract_verifier *kh_xverify_verifier(struct kh_xverify *xv)
{
	return &xv->v;
}

int kh_xverify_archive(struct kh_xverify *xv, const void *xz, size_t len,
		       struct kh_error *err)
{
	const struct kh_manifest_digest *d =
		kh_manifest_digest(xv->m, KH_MANIFEST_ARCHIVE);
	unsigned char h[KH_SHA256_LEN];
	int ret;

	if (!d || !d->known)
		return 0;
	if (d->size != len)
		return kh_error_set(err, KH_EINVAL, NULL, "the archive has %zu "
				    "bytes, the manifest %s says %llu", len,
				    xv->path, (unsigned long long)d->size);
	ret = kh_hash_sha256(xz, len, h, err);
	if (ret == 0 && memcmp(h, d->sha256, KH_SHA256_LEN))
		ret = kh_error_set(err, KH_EINVAL, NULL, "the archive's "
				   "SHA-256 differs from the manifest %s",
				   xv->path);
	xv->pinned = ret == 0;
	return ret;
}

void kh_xverify_free(struct kh_xverify *xv)
{
	if (!xv)
		return;
	kh_manifest_free(xv->m);
	free(xv->seen);
	free(xv->path);
	free(xv);
}
