/* kh_archive_read: an archive's entries and digests (see
 * kh_archive_read.h). */
#include "kh_archive_read.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kh_dl.h"

/* Read size for the slurp; sysfs hands out at most a page per read
 * anyway, so this only matters for files and pipes. */
#define KH_ARCHIVE_CHUNK (1u << 20)

int kh_archive_slurp_fd(int fd, const char *name, unsigned char **buf,
			size_t *len, struct kh_error *err)
{
	unsigned char *p = NULL;
	size_t n = 0, cap = 0;
	int seekable = 1, ret = 0;

	for (;;) {
		ssize_t r;

		if (cap - n < KH_ARCHIVE_CHUNK) {
			size_t ncap = cap ? cap * 2 : 4 * KH_ARCHIVE_CHUNK;
			unsigned char *q = realloc(p, ncap);

			if (!q) {
				ret = kh_error_set(err, KH_ENOMEM, name,
						   "out of memory");
				goto out;
			}
			p = q;
			cap = ncap;
		}
		r = seekable ? pread(fd, p + n, cap - n, (off_t)n)
			     : read(fd, p + n, cap - n);
		if (r < 0 && errno == ESPIPE && seekable && n == 0) {
			seekable = 0;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = kh_error_sys(err, errno, name, "cannot read");
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = p;
	*len = n;
	p = NULL;
out:
	free(p);
	return ret;
}

int kh_archive_slurp(const char *path, unsigned char **buf, size_t *len,
		     struct kh_error *err)
{
	int fd, ret;

	if (!strcmp(path, "-"))
		return kh_archive_slurp_fd(0, "(standard input)", buf, len,
					   err);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kh_error_sys(err, errno, path, "cannot open");
	ret = kh_archive_slurp_fd(fd, path, buf, len, err);
	close(fd);
	return ret;
}

static int kh_archive_fail(struct archive *a, const char *name,
			   const char *what, struct kh_error *err)
{
	const char *why = archive_error_string(a);

	return kh_error_set(err, KH_EINVAL, name, "%s: %s", what,
			    why ? why : "unknown libarchive error");
}

/* Pass 1: undo the compression into *tar; note the filter's name. */
static int kh_archive_decompress(const void *buf, size_t len,
				 const char *name, struct kh_manifest *m,
				 unsigned char **tar, size_t *tarlen,
				 struct kh_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	unsigned char *out = NULL;
	size_t n = 0, cap = 0;
	int ret = 0, r;

	if (!a)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	/* In-process decoders only: never spawn an external program on
	 * what may be an untrusted file. */
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
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
		if (n + size > cap) {
			size_t ncap = cap ? cap : 8 * len + 4096;
			unsigned char *q;

			while (ncap < n + size)
				ncap *= 2;
			q = realloc(out, ncap);
			if (!q) {
				ret = kh_error_set(err, KH_ENOMEM, name,
						   "out of memory");
				goto out;
			}
			out = q;
			cap = ncap;
		}
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

/* A regular file's content: digest, and a copy when asked. */
static int kh_archive_data(struct archive *a, EVP_MD_CTX *ctx,
			   struct kh_manifest_entry *e, unsigned flags,
			   const char *name, struct kh_error *err)
{
	size_t cap = 0;
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
		if (r < ARCHIVE_WARN)
			return kh_error_set(err, KH_EINVAL, name,
					    "%s: cannot read: %s", e->path,
					    archive_error_string(a));
		if (!EVP_DigestUpdate(ctx, block, size))
			return kh_error_set(err, KH_ELIB, name,
					    "SHA-256 failed");
		if (!(flags & KH_ARCHIVE_READ_DATA))
			continue;
		if (e->len + size > cap) {
			size_t ncap = cap ? cap : e->size + 1;
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

static int kh_archive_entry(struct archive *a, struct archive_entry *ae,
			    EVP_MD_CTX *ctx, struct kh_manifest *m,
			    unsigned flags, const char *name,
			    struct kh_error *err)
{
	struct kh_manifest_entry e = KH_MANIFEST_ENTRY_INIT;
	const char *path = archive_entry_pathname(ae);
	int type = kh_archive_type(ae), ret = 0;

	if (!path)
		return kh_error_set(err, KH_EINVAL, name,
				    "entry %zu has no usable name",
				    kh_manifest_count(m) + 1);
	if (!type)
		return kh_error_set(err, KH_EINVAL, name,
				    "%s: unknown entry type", path);
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
	} else if (type == KH_MANIFEST_FILE) {
		/* A tar hard link is a file with no data of its own;
		 * mtree cannot say more, so it is listed as what it
		 * holds: nothing. */
		e.size = (uint64_t)archive_entry_size(ae);
		e.keys |= KH_MK_SIZE;
		ret = kh_archive_data(a, ctx, &e, flags, name, err);
		if (ret == 0 && e.len != e.size && (flags &
						     KH_ARCHIVE_READ_DATA))
			e.size = e.len;
	}
	if (ret == 0)
		ret = kh_manifest_add(m, &e, err);
	kh_manifest_entry_release(&e);
	return ret;
}

/* Pass 2: the tar's entries. */
static int kh_archive_entries(const unsigned char *tar, size_t len,
			      const char *name, unsigned flags,
			      struct kh_manifest *m, struct kh_error *err)
{
	struct archive *a = archive_read_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct archive_entry *ae;
	int ret = 0, first = 1;

	if (!a || !ctx) {
		ret = kh_error_set(err, KH_ENOMEM, name, "out of memory");
		goto out;
	}
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar, len) != ARCHIVE_OK) {
		ret = kh_archive_fail(a, name, "not a tar archive", err);
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &ae);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			ret = kh_archive_fail(a, name, first ?
					      "not a tar archive" :
					      "bad tar entry", err);
			goto out;
		}
		if (first) {
			/* The format as the first header shows it. */
			ret = kh_manifest_set_observed(m, NULL,
				archive_format_name(a), err);
			first = 0;
		}
		if (ret == 0)
			ret = kh_archive_entry(a, ae, ctx, m, flags, name, err);
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
					    err);
	}
	if (ret == 0)
		ret = kh_hash_sha256(tar, tarlen, sha, err);
	if (ret == 0) {
		kh_manifest_set_digest(m, KH_MANIFEST_TAR, sha, tarlen);
		ret = kh_archive_entries(tar, tarlen, name, flags, m, err);
	}
	free(tar);
	if (ret < 0) {
		kh_manifest_free(m);
		return ret;
	}
	*out = m;
	return 0;
}

int kh_archive_read_path(const char *path, unsigned flags,
			 struct kh_manifest **out, struct kh_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = kh_archive_slurp(path, &buf, &len, err);
	if (ret == 0)
		ret = kh_archive_read_mem(buf, len, path, flags, out, err);
	free(buf);
	return ret;
}

int kh_archive_read_any(const char *path, unsigned flags,
			struct kh_manifest **out, int *is_archive,
			struct kh_error *err)
{
	const char *name = strcmp(path, "-") ? path : "(standard input)";
	unsigned char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = kh_archive_slurp(path, &buf, &len, err);
	if (ret < 0)
		return ret;
	*is_archive = !kh_manifest_is_mtree(buf, len);
	if (*is_archive)
		ret = kh_archive_read_mem(buf, len, name, flags, out, err);
	else
		ret = kh_manifest_parse((const char *)buf, len, name, out,
					err);
	free(buf);
	return ret;
}

int kh_archive_read_manifest(int fd, const char *name,
			     const struct kh_manifest_origin *origin,
			     const char *path, struct kh_afile **out,
			     struct kh_error *err)
{
	struct kh_manifest *m = NULL;
	struct kh_afile *af = NULL;
	unsigned char *buf = NULL;
	char *text = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = kh_archive_slurp_fd(fd, name, &buf, &len, err);
	if (ret == 0)
		ret = kh_archive_read_mem(buf, len, name, 0, &m, err);
	if (ret == 0)
		ret = kh_manifest_describe(m, origin, err);
	if (ret == 0)
		ret = kh_manifest_format(m, &text, &len, err);
	if (ret == 0)
		ret = kh_afile_open(path, &af, err);
	if (ret == 0)
		ret = kh_afile_write(af, text, len, err);
	if (ret == 0) {
		*out = af;
		af = NULL;
	}
	kh_afile_abort(af);
	kh_manifest_free(m);
	free(buf);
	free(text);
	return ret;
}
