/* kh_archive_read: an archive's entries and digests (see
 * kh_archive_read.h). */
#include "manifest/kh_archive_read.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/kh_dl.h"
#include "lib/kh_file.h"
#include "manifest/kh_facts.h"
#include "manifest/kh_mtree.h"

/* "(standard input)" for "-": what messages call it. */
static const char *kh_archive_name(const char *path)
{
	return strcmp(path, "-") ? path : "(standard input)";
}

int kh_archive_load(const char *path, size_t max, const char *what,
		    unsigned char **buf, size_t *len, struct kh_error *err)
{
	int own = strcmp(path, "-") != 0, fd = 0, ret = 0;
	char *p = NULL;

	*buf = NULL;
	*len = 0;
	/* A named FIFO, /sys/kernel/kheaders.tar.xz or a device is read
	 * like standard input: the limit is what bounds it. */
	if (own)
		ret = kh_file_open(AT_FDCWD, path, NULL, 0, &fd, NULL, err);
	if (ret < 0)
		return ret;
	ret = kh_file_read_fd(fd, kh_archive_name(path), max, what, &p, len,
			      err);
	if (own)
		close(fd);
	*buf = (unsigned char *)p;
	return ret;
}

int kh_archive_slurp(const char *path, unsigned char **buf, size_t *len,
		     struct kh_error *err)
{
	return kh_archive_load(path, KH_FILE_MAX_ARCHIVE, "an archive", buf,
			       len, err);
}

/* An archive open at fd, from offset 0, the descriptor's offset left
 * as it was (bounded all the same). */
static int kh_archive_load_fd(int fd, const char *name, unsigned char **buf,
			      size_t *len, struct kh_error *err)
{
	off_t at = lseek(fd, 0, SEEK_CUR);
	char *p = NULL;
	int ret;

	if (at >= 0 && lseek(fd, 0, SEEK_SET) < 0)
		return kh_error_sys(err, errno, name, "cannot seek");
	ret = kh_file_read_fd(fd, name, KH_FILE_MAX_ARCHIVE, "an archive",
			      &p, len, err);
	if (at >= 0 && lseek(fd, at, SEEK_SET) < 0 && ret == 0)
		ret = kh_error_sys(err, errno, name, "cannot seek");
	if (ret < 0) {
		free(p);
		*len = 0;
		p = NULL;
	}
	*buf = (unsigned char *)p;
	return ret;
}

static int kh_archive_fail(struct archive *a, const char *name,
			   const char *what, struct kh_error *err)
{
	const char *why = archive_error_string(a);

	return kh_error_set(err, KH_EINVAL, name, "%s: %s", what,
			    why ? why : "unknown libarchive error");
}

/* The decompressors, enabled only where libarchive runs them in
 * process. When it was built without one of their libraries, its
 * support call registers an external program instead (xz, zstd -d...)
 * and returns ARCHIVE_WARN; a registration cannot be undone, so each
 * is first tried on a scratch handle, and only one that answers
 * ARCHIVE_OK is enabled on the real one. Such input then reaches the
 * tar reader still compressed and is refused there, naming what is
 * missing; kheaders never runs a program on what may be an untrusted
 * file. */
static int kh_archive_filters(struct archive *a, const char *name,
			      char *skipped, size_t size,
			      struct kh_error *err)
{
	static const char *const names[] = {
		"xz", "lzma", "gzip", "bzip2", "zstd",
	};
	int (*const support[])(struct archive *) = {
		archive_read_support_filter_xz,
		archive_read_support_filter_lzma,
		archive_read_support_filter_gzip,
		archive_read_support_filter_bzip2,
		archive_read_support_filter_zstd,
	};

	skipped[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct archive *probe = archive_read_new();
		int r;

		if (!probe)
			return kh_error_set(err, KH_ENOMEM, name,
					    "out of memory");
		r = support[i](probe);
		archive_read_free(probe);
		if (r == ARCHIVE_OK) {
			if (support[i](a) != ARCHIVE_OK)
				return kh_archive_fail(a, name, "cannot set up "
						       "the decompressors",
						       err);
			continue;
		}
		snprintf(skipped + strlen(skipped), size - strlen(skipped),
			 "%s%s", skipped[0] ? ", " : "", names[i]);
	}
	return 0;
}

/* Room for size more bytes of tar, within KH_ARCHIVE_MAX_TAR: the
 * bound holds before the memory is taken. */
static int kh_archive_grow(unsigned char **out, size_t *cap, size_t n,
			   size_t size, size_t len, const char *name,
			   struct kh_error *err)
{
	size_t ncap;
	unsigned char *q;
	char lim[32];

	if (size > KH_ARCHIVE_MAX_TAR - n)
		return kh_error_set(err, KH_EINVAL, name,
				    "decompresses to over the %s limit for "
				    "a tar; refusing to read it",
				    kh_file_size_str(KH_ARCHIVE_MAX_TAR, lim,
						     sizeof(lim)));
	if (n + size <= *cap)
		return 0;
	ncap = *cap ? *cap : (len < KH_ARCHIVE_MAX_TAR / 16 ?
			      8 * len + 4096 : KH_ARCHIVE_MAX_TAR);
	while (ncap < n + size)
		ncap = ncap > KH_ARCHIVE_MAX_TAR / 2 ? KH_ARCHIVE_MAX_TAR :
			2 * ncap;
	q = realloc(*out, ncap);
	if (!q)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	*out = q;
	*cap = ncap;
	return 0;
}

/* Pass 1: undo the compression into *tar; note the filter's name. */
static int kh_archive_decompress(const void *buf, size_t len,
				 const char *name, struct kh_manifest *m,
				 unsigned char **tar, size_t *tarlen,
				 char *skipped, size_t skipsize,
				 struct kh_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	unsigned char *out = NULL;
	size_t n = 0, cap = 0;
	int ret = 0, r;

	if (!a)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	ret = kh_archive_filters(a, name, skipped, skipsize, err);
	if (ret < 0)
		goto out;
	if (archive_read_support_format_raw(a) != ARCHIVE_OK) {
		ret = kh_archive_fail(a, name, "cannot set up the reader", err);
		goto out;
	}
	/* The raw format has nothing to misread: any failure up to the
	 * data is the decompressor's. */
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		ret = kh_archive_fail(a, name, "cannot decompress", err);
		goto out;
	}
	r = archive_read_next_header(a, &ae);
	if (r == ARCHIVE_EOF) {
		ret = kh_error_set(err, KH_EINVAL, name, "empty file");
		goto out;
	}
	if (r < ARCHIVE_WARN) {
		ret = kh_archive_fail(a, name, "cannot decompress", err);
		goto out;
	}
	for (;;) {
		const void *block;
		size_t size;
		la_int64_t off;

		r = archive_read_data_block(a, &block, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ret = kh_archive_fail(a, name, "cannot decompress",
					      err);
			goto out;
		}
		ret = kh_archive_grow(&out, &cap, n, size, len, name, err);
		if (ret < 0)
			goto out;
		if (size)
			memcpy(out + n, block, size);
		n += size;
	}
	ret = kh_manifest_set_observed(m, archive_filter_name(a, 0), NULL,
				       err);
	if (ret == 0) {
		*tar = out;
		*tarlen = n;
		out = NULL;
	}
out:
	free(out);
	archive_read_free(a);
	return ret;
}

/* A sparse entry's holes are not in its data: hashed as read, two
 * archives that differ only in their holes would be listed the same
 * (and diff would call them equal). A headers archive never holds one,
 * and extract refuses them; so does the manifest reader. */
static int kh_archive_sparse(const char *path, const char *name,
			     struct kh_error *err)
{
	return kh_error_set(err, KH_EINVAL, name,
			    "%s: sparse entry; refusing it (a headers "
			    "archive never holds one)", path);
}

static int kh_archive_type(struct archive_entry *ae)
{
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG: return KH_MANIFEST_FILE;
	case AE_IFDIR: return KH_MANIFEST_DIR;
	case AE_IFLNK: return KH_MANIFEST_LINK;
	case AE_IFCHR: return KH_MANIFEST_CHAR;
	case AE_IFBLK: return KH_MANIFEST_BLOCK;
	case AE_IFIFO: return KH_MANIFEST_FIFO;
	case AE_IFSOCK: return KH_MANIFEST_SOCKET;
	default: return 0;
	}
}

/* A regular file's content: digest, and a copy when asked. max is
 * what the tar holds: no entry has more data than that, whatever its
 * header declares, so the first allocation is never the header's
 * word alone. A block that does not follow the one before is a hole
 * (a sparse entry that libarchive did not flag): refused too. */
static int kh_archive_data(struct archive *a, EVP_MD_CTX *ctx,
			   struct kh_manifest_entry *e, unsigned flags,
			   size_t max, const char *name,
			   struct kh_error *err)
{
	size_t cap = 0;
	uint64_t at = 0;
	unsigned int dlen = 0;

	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		return kh_error_set(err, KH_ELIB, name, "SHA-256 failed");
	for (;;) {
		const void *block;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &block, &size, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			const char *why = archive_error_string(a);

			return kh_error_set(err, KH_EINVAL, name,
					    "%s: cannot read: %s", e->path,
					    why ? why :
					    "unknown libarchive error");
		}
		if (off < 0 || (uint64_t)off != at)
			return kh_archive_sparse(e->path, name, err);
		at += size;
		if (!EVP_DigestUpdate(ctx, block, size))
			return kh_error_set(err, KH_ELIB, name,
					    "SHA-256 failed");
		if (!(flags & KH_ARCHIVE_READ_DATA))
			continue;
		if (e->len + size > cap) {
			size_t ncap = cap ? cap : (e->size < max ?
						   (size_t)e->size : max) + 1;
			unsigned char *q;

			while (ncap < e->len + size)
				ncap *= 2;
			q = realloc(e->data, ncap);
			if (!q)
				return kh_error_set(err, KH_ENOMEM, name,
						    "out of memory");
			e->data = q;
			cap = ncap;
		}
		memcpy(e->data + e->len, block, size);
		e->len += size;
	}
	if (!EVP_DigestFinal_ex(ctx, e->sha256, &dlen) ||
	    dlen != KH_SHA256_LEN)
		return kh_error_set(err, KH_ELIB, name, "SHA-256 failed");
	e->keys |= KH_MK_SHA256;
	return 0;
}

/* A tar hard link names an entry read before it. One that carries data
 * of its own would, when extracted, overwrite the file it links to
 * after that was checked (issue 12, M2): refused, as extract refuses
 * it. One without data is listed as what it holds, its target's type,
 * size and digest, as mtree(8) and bsdtar describe a tree on disk. */
static int kh_archive_hardlink(struct archive_entry *ae, const char *path,
			       const char *target,
			       const struct kh_manifest *m,
			       struct kh_manifest_entry *e, const char *name,
			       struct kh_error *err)
{
	const struct kh_manifest_entry *t;
	char *tpath;
	long i;

	if (archive_entry_size(ae) > 0)
		return kh_error_set(err, KH_EINVAL, name,
				    "%s: hard link that carries data; refusing "
				    "it (extracting it would overwrite %s)",
				    path, target);
	tpath = kh_manifest_normpath(target);
	if (!tpath)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	i = kh_manifest_find(m, tpath);
	free(tpath);
	t = i < 0 ? NULL : kh_manifest_at(m, (size_t)i);
	if (!t || t->type != KH_MANIFEST_FILE)
		return kh_error_set(err, KH_EINVAL, name,
				    "%s: hard link to %s, which is not a file "
				    "before it in the archive", path, target);
	e->size = t->size;
	memcpy(e->sha256, t->sha256, sizeof(e->sha256));
	e->keys |= KH_MK_SIZE | (t->keys & KH_MK_SHA256);
	if (t->data && t->len) {
		e->data = malloc(t->len);
		if (!e->data)
			return kh_error_set(err, KH_ENOMEM, name,
					    "out of memory");
		memcpy(e->data, t->data, t->len);
		e->len = t->len;
	}
	return 0;
}

static int kh_archive_entry(struct archive *a, struct archive_entry *ae,
			    EVP_MD_CTX *ctx, struct kh_manifest *m,
			    unsigned flags, size_t max, const char *name,
			    struct kh_error *err)
{
	struct kh_manifest_entry e = KH_MANIFEST_ENTRY_INIT;
	const char *path = archive_entry_pathname(ae);
	const char *hard = archive_entry_hardlink(ae);
	int type = hard ? KH_MANIFEST_FILE : kh_archive_type(ae), ret = 0;

	if (!path)
		return kh_error_set(err, KH_EINVAL, name,
				    "entry %zu has no usable name",
				    kh_manifest_count(m) + 1);
	if (!type)
		return kh_error_set(err, KH_EINVAL, name,
				    "%s: unknown entry type", path);
	if (archive_entry_sparse_count(ae) > 0)
		return kh_archive_sparse(path, name, err);
	e.path = kh_manifest_normpath(path);
	if (!e.path)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	e.type = (enum kh_manifest_type)type;
	e.mode = (unsigned)archive_entry_perm(ae) & 07777;
	e.uid = archive_entry_uid(ae);
	e.gid = archive_entry_gid(ae);
	e.mtime = archive_entry_mtime(ae);
	e.mtime_ns = archive_entry_mtime_nsec(ae);
	e.keys = KH_MK_TYPE | KH_MK_MODE | KH_MK_UID | KH_MK_GID | KH_MK_TIME;
	if (type == KH_MANIFEST_LINK) {
		const char *t = archive_entry_symlink(ae);

		e.link = strdup(t ? t : "");
		e.keys |= KH_MK_LINK;
		if (!e.link)
			ret = kh_error_set(err, KH_ENOMEM, name,
					   "out of memory");
	} else if (hard) {
		e.keys |= KH_MK_SIZE;
		ret = kh_archive_hardlink(ae, path, hard, m, &e, name, err);
	} else if (type == KH_MANIFEST_FILE) {
		e.size = (uint64_t)archive_entry_size(ae);
		e.keys |= KH_MK_SIZE;
		ret = kh_archive_data(a, ctx, &e, flags, max, name, err);
		if (ret == 0 && e.len != e.size && (flags &
						     KH_ARCHIVE_READ_DATA))
			e.size = e.len;
	}
	if (ret == 0)
		ret = kh_manifest_add(m, &e, err);
	kh_manifest_entry_release(&e);
	return ret;
}

/* Not a tar; when a decompressor was left out (kh_archive_filters),
 * it is likely compressed with it: say why it was not undone. */
static int kh_archive_notar(struct archive *a, const char *name,
			    const char *skipped, struct kh_error *err)
{
	const char *why = archive_error_string(a);

	if (!skipped[0])
		return kh_archive_fail(a, name, "not a tar archive", err);
	return kh_error_set(err, KH_EINVAL, name, "not a tar archive: %s "
			    "(this libarchive decompresses %s only with an "
			    "external program, which kheaders never runs)",
			    why ? why : "unknown libarchive error", skipped);
}

/* Pass 2: the tar's entries. */
static int kh_archive_entries(const unsigned char *tar, size_t len,
			      const char *name, unsigned flags,
			      const char *skipped, struct kh_manifest *m,
			      struct kh_error *err)
{
	struct archive *a = archive_read_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct archive_entry *ae;
	int ret = 0, first = 1;

	if (!a || !ctx) {
		ret = kh_error_set(err, KH_ENOMEM, name, "out of memory");
		goto out;
	}
	if (archive_read_support_format_tar(a) != ARCHIVE_OK) {
		ret = kh_archive_fail(a, name, "cannot set up the reader", err);
		goto out;
	}
	if (archive_read_open_memory(a, tar, len) != ARCHIVE_OK) {
		ret = kh_archive_notar(a, name, skipped, err);
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &ae);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ret = first ? kh_archive_notar(a, name, skipped, err) :
				kh_archive_fail(a, name, "bad tar entry", err);
			goto out;
		}
		if (first) {
			/* The format as the first header shows it. */
			ret = kh_manifest_set_observed(m, NULL,
				archive_format_name(a), err);
			first = 0;
		}
		if (ret == 0)
			ret = kh_archive_entry(a, ae, ctx, m, flags, len, name,
					       err);
		if (ret < 0)
			goto out;
	}
out:
	EVP_MD_CTX_free(ctx);
	archive_read_free(a);
	return ret;
}

int kh_archive_read_mem(const void *buf, size_t len, const char *name,
			unsigned flags, struct kh_manifest **out,
			struct kh_error *err)
{
	unsigned char sha[KH_SHA256_LEN];
	struct kh_manifest *m = NULL;
	unsigned char *tar = NULL;
	char skipped[64];
	size_t tarlen = 0;
	int ret;

	*out = NULL;
	ret = kh_dl_archive(err);
	if (ret == 0)
		ret = kh_dl_crypto(err);
	if (ret == 0)
		ret = kh_manifest_new(&m, err);
	if (ret == 0)
		ret = kh_hash_sha256(buf, len, sha, err);
	if (ret == 0) {
		kh_manifest_set_digest(m, KH_MANIFEST_ARCHIVE, sha, len);
		ret = kh_archive_decompress(buf, len, name, m, &tar, &tarlen,
					    skipped, sizeof(skipped), err);
	}
	if (ret == 0)
		ret = kh_hash_sha256(tar, tarlen, sha, err);
	if (ret == 0) {
		kh_manifest_set_digest(m, KH_MANIFEST_TAR, sha, tarlen);
		ret = kh_archive_entries(tar, tarlen, name, flags, skipped,
					 m, err);
	}
	free(tar);
	if (ret < 0) {
		kh_manifest_free(m);
		return ret;
	}
	*out = m;
	return 0;
}

int kh_archive_read_manifest(int fd, const char *name,
			     const struct kh_manifest_origin *origin,
			     char **text, size_t *len, struct kh_error *err)
{
	struct kh_manifest *m = NULL;
	unsigned char *buf = NULL;
	size_t n = 0;
	int ret;

	*text = NULL;
	*len = 0;
	ret = kh_archive_load_fd(fd, name, &buf, &n, err);
	if (ret == 0)
		ret = kh_archive_read_mem(buf, n, name, 0, &m, err);
	if (ret == 0)
		ret = kh_facts_describe(m, origin, err);
	if (ret == 0)
		ret = kh_mtree_format(m, text, len, err);
	kh_manifest_free(m);
	free(buf);
	return ret;
}
