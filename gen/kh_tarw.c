/* kh_tarw: GNU tar stream through libarchive (see kh_tarw.h). */
#include "gen/kh_tarw.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_dl.h"

/* Offsets in a ustar/GNU header block. */
#define KH_TAR_NAME 0
#define KH_TAR_MODE 100
#define KH_TAR_SIZE 124
#define KH_TAR_CHKSUM 148
#define KH_TAR_TYPEFLAG 156
#define KH_TAR_LINKNAME 157
#define KH_TAR_LINKNAMELEN 100
#define KH_TAR_UNAME 265
#define KH_TAR_GNAME 297
#define KH_TAR_NAMELEN 32

_Static_assert(KH_TAR_RECORD % KH_TAR_BLOCK == 0,
	       "records hold whole blocks");

struct kh_tarw {
	struct archive *a;
	struct archive_entry *e;
	struct kh_sink out;
	int64_t mtime;
	uint64_t size;          /* bytes passed to out */
	uint64_t skip;          /* data bytes before the next header */
	uint64_t scanned;       /* stream offset kh_tarw_scan got to */
	int in_long;            /* the last header was a LongLink one */
	int ended;              /* end-of-archive seen */
	kh_tarw_entry_fn *on_entry;
	void *on_entry_ctx;
	struct kh_error cb_err; /* an error from the sink, seen in callback */
	unsigned char buf[KH_TAR_RECORD];
};

static const char kh_tarw_longlink[] = "././@LongLink";

void kh_tarw_fix_longlink(unsigned char *hdr)
{
	unsigned sum = 0;

	if (memcmp(hdr + KH_TAR_NAME, kh_tarw_longlink,
		   sizeof(kh_tarw_longlink)) ||
	    (hdr[KH_TAR_TYPEFLAG] != 'L' && hdr[KH_TAR_TYPEFLAG] != 'K'))
		return;
	/* GNU tar: mode 0644 (7 octal digits and NUL), names empty under
	 * --numeric-owner, and no link name (libarchive copies the first
	 * 100 bytes of a long symlink target there). */
	memcpy(hdr + KH_TAR_MODE, "0000644", 8);
	memset(hdr + KH_TAR_LINKNAME, 0, KH_TAR_LINKNAMELEN);
	memset(hdr + KH_TAR_UNAME, 0, KH_TAR_NAMELEN);
	memset(hdr + KH_TAR_GNAME, 0, KH_TAR_NAMELEN);
	memset(hdr + KH_TAR_CHKSUM, ' ', 8);
	for (int i = 0; i < KH_TAR_BLOCK; i++)
		sum += hdr[i];
	/* GNU tar writes six octal digits, NUL, space. */
	for (int i = 5; i >= 0; i--, sum >>= 3)
		hdr[KH_TAR_CHKSUM + i] = (unsigned char)('0' + (sum & 7));
	hdr[KH_TAR_CHKSUM + 6] = '\0';
	hdr[KH_TAR_CHKSUM + 7] = ' ';
}

static uint64_t kh_tarw_octal(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (p[i] - '0');
	return v;
}

static int kh_tarw_zero(const unsigned char *p)
{
	for (int i = 0; i < KH_TAR_BLOCK; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Walk the header/data structure of the outgoing stream so that only
 * real headers are ever looked at, never file data; tell the entry
 * hook where entries start. */
static void kh_tarw_scan(struct kh_tarw *tw, unsigned char *p, size_t len)
{
	while (len > 0) {
		uint64_t size;
		int isl;

		if (tw->skip || tw->ended) {
			size_t n = tw->ended ? len : tw->skip < len ?
				   (size_t)tw->skip : len;

			if (!tw->ended)
				tw->skip -= n;
			p += n;
			len -= n;
			tw->scanned += n;
			continue;
		}
		if (len < KH_TAR_BLOCK)
			return;   /* cannot happen: records hold whole blocks */
		if (kh_tarw_zero(p)) {
			/* Entries never have an all-zero header: this is
			 * the end-of-archive marker; the rest is padding. */
			tw->ended = 1;
			if (tw->on_entry)
				tw->on_entry(tw->on_entry_ctx, tw->scanned, 1);
			continue;
		}
		isl = !memcmp(p + KH_TAR_NAME, kh_tarw_longlink,
			      sizeof(kh_tarw_longlink)) &&
		      (p[KH_TAR_TYPEFLAG] == 'L' || p[KH_TAR_TYPEFLAG] == 'K');
		if (!tw->in_long && tw->on_entry)
			tw->on_entry(tw->on_entry_ctx, tw->scanned, 0);
		tw->in_long = isl;
		kh_tarw_fix_longlink(p);
		size = kh_tarw_octal(p + KH_TAR_SIZE, 12);
		tw->skip = (size + KH_TAR_BLOCK - 1) / KH_TAR_BLOCK *
			   KH_TAR_BLOCK;
		p += KH_TAR_BLOCK;
		len -= KH_TAR_BLOCK;
		tw->scanned += KH_TAR_BLOCK;
	}
}

static la_ssize_t kh_tarw_cb(struct archive *a, void *ctx, const void *buf,
			     size_t len)
{
	struct kh_tarw *tw = ctx;
	const unsigned char *p = buf;
	size_t done = 0;

	(void)a;
	while (done < len) {
		size_t n = len - done < sizeof(tw->buf) ? len - done
							: sizeof(tw->buf);

		memcpy(tw->buf, p + done, n);
		kh_tarw_scan(tw, tw->buf, n);
		if (tw->out.write(tw->out.ctx, tw->buf, n, &tw->cb_err) < 0)
			return -1;
		done += n;
	}
	tw->size += len;
	return (la_ssize_t)len;
}

static int kh_tarw_fail(struct kh_tarw *tw, const char *path,
			struct kh_error *err)
{
	const char *why;

	/* A sink failure carries its own, better message. */
	if (tw->cb_err.code) {
		*err = tw->cb_err;
		return err->code;
	}
	why = archive_error_string(tw->a);
	return kh_error_set(err, KH_ELIB, path, "cannot write tar entry: %s",
			    why ? why : "unknown libarchive error");
}

int kh_tarw_new(struct kh_sink out, int64_t mtime, struct kh_tarw **twp,
		struct kh_error *err)
{
	struct kh_tarw *tw;
	int ret;

	*twp = NULL;
	ret = kh_dl_archive(err);
	if (ret < 0)
		return ret;
	tw = calloc(1, sizeof(*tw));
	if (!tw || !(tw->a = archive_write_new()) ||
	    !(tw->e = archive_entry_new())) {
		kh_tarw_free(tw);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	tw->out = out;
	tw->mtime = mtime;
	if (archive_write_set_format_gnutar(tw->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(tw->a, KH_TAR_RECORD) !=
		    ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(tw->a, KH_TAR_RECORD) !=
		    ARCHIVE_OK ||
	    archive_write_open2(tw->a, tw, NULL, kh_tarw_cb, NULL, NULL) !=
		    ARCHIVE_OK) {
		ret = kh_tarw_fail(tw, NULL, err);
		kh_tarw_free(tw);
		return ret;
	}
	*twp = tw;
	return 0;
}

static void kh_tarw_entry(struct kh_tarw *tw, const char *path,
			  unsigned type, unsigned perm)
{
	struct archive_entry *e = tw->e;

	archive_entry_clear(e);
	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, tw->mtime, 0);
	archive_entry_set_size(e, 0);
}

int kh_tarw_dir(struct kh_tarw *tw, const char *path, struct kh_error *err)
{
	kh_tarw_entry(tw, path, AE_IFDIR, KH_TAR_MODE_DIR);
	if (archive_write_header(tw->a, tw->e) != ARCHIVE_OK)
		return kh_tarw_fail(tw, path, err);
	return 0;
}

int kh_tarw_symlink(struct kh_tarw *tw, const char *path, const char *target,
		    struct kh_error *err)
{
	kh_tarw_entry(tw, path, AE_IFLNK, KH_TAR_MODE_SYMLINK);
	archive_entry_copy_symlink(tw->e, target);
	if (archive_write_header(tw->a, tw->e) != ARCHIVE_OK)
		return kh_tarw_fail(tw, path, err);
	return 0;
}

int kh_tarw_file(struct kh_tarw *tw, const char *path, const void *data,
		 size_t len, struct kh_error *err)
{
	kh_tarw_entry(tw, path, AE_IFREG, KH_TAR_MODE_FILE);
	archive_entry_set_size(tw->e, (la_int64_t)len);
	if (archive_write_header(tw->a, tw->e) != ARCHIVE_OK)
		return kh_tarw_fail(tw, path, err);
	if (len && archive_write_data(tw->a, data, len) != (la_ssize_t)len)
		return kh_tarw_fail(tw, path, err);
	return 0;
}

void kh_tarw_on_entry(struct kh_tarw *tw, kh_tarw_entry_fn *fn, void *ctx)
{
	tw->on_entry = fn;
	tw->on_entry_ctx = ctx;
}

int kh_tarw_finish(struct kh_tarw *tw, struct kh_error *err)
{
	if (archive_write_close(tw->a) != ARCHIVE_OK)
		return kh_tarw_fail(tw, NULL, err);
	return 0;
}

uint64_t kh_tarw_size(const struct kh_tarw *tw)
{
	return tw->size;
}

void kh_tarw_free(struct kh_tarw *tw)
{
	if (!tw)
		return;
	if (tw->a)
		archive_write_free(tw->a);
	if (tw->e)
		archive_entry_free(tw->e);
	free(tw);
}
