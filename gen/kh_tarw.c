/* kh_tarw: GNU tar stream through libarchive (see kh_tarw.h). */
#include "gen/kh_tarw.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_dl.h"
#include "lib/kh_hash.h"

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

/* Names and link targets longer than this get a LongLink pseudo-header
 * (libarchive's GNUTAR_name_size and GNUTAR_linkname_size). */
#define KH_TAR_NAMEMAX 100

_Static_assert(KH_TAR_RECORD % KH_TAR_BLOCK == 0,
	       "records hold whole blocks");

struct kh_tarw {
	struct archive *a;
	struct archive_entry *e;
	struct kh_sink out;
	int64_t mtime;
	uint64_t size;          /* bytes passed to out */
	/* Where the LongLink pseudo-headers still to patch start, in
	 * stream order: fix[fhead..fn). Known when their entry is
	 * written; patched when their bytes go by. */
	uint64_t *fix;
	size_t fhead, fn, fcap;
	kh_tarw_entry_fn *on_entry;
	void *on_entry_ctx;
	struct kh_record *rec;  /* or NULL */
	struct kh_error cb_err; /* an error from the sink, seen in callback */
	unsigned char blk[KH_TAR_BLOCK];
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

/* Hand len bytes on, at stream offset tw->size. */
static int kh_tarw_put(struct kh_tarw *tw, const void *buf, size_t len)
{
	if (!len)
		return 0;
	if (tw->out.write(tw->out.ctx, buf, len, &tw->cb_err) < 0)
		return -1;
	tw->size += len;
	return 0;
}

/* libarchive's output, on its way to the sink: the pseudo-headers
 * whose offsets kh_tarw_header noted are patched in a copy of their
 * block, everything else goes as it is. libarchive writes whole
 * records, so a header block never straddles two calls. */
static la_ssize_t kh_tarw_cb(struct archive *a, void *ctx, const void *buf,
			     size_t len)
{
	struct kh_tarw *tw = ctx;
	const unsigned char *p = buf;
	uint64_t end = tw->size + len;

	(void)a;
	while (tw->fhead < tw->fn && tw->fix[tw->fhead] < end) {
		uint64_t at = tw->fix[tw->fhead++];
		size_t skip;

		if (at < tw->size || at + KH_TAR_BLOCK > end) {
			kh_error_set(&tw->cb_err, KH_ELIB, NULL, "tar header "
				     "at %llu split across writes (internal "
				     "error)", (unsigned long long)at);
			return -1;
		}
		skip = (size_t)(at - tw->size);
		if (kh_tarw_put(tw, p, skip) < 0)
			return -1;
		memcpy(tw->blk, p + skip, KH_TAR_BLOCK);
		kh_tarw_fix_longlink(tw->blk);
		if (kh_tarw_put(tw, tw->blk, KH_TAR_BLOCK) < 0)
			return -1;
		p += skip + KH_TAR_BLOCK;
	}
	if (kh_tarw_put(tw, p, (size_t)(end - tw->size)) < 0)
		return -1;
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

/* Bytes of tar libarchive has taken so far, written out or still in
 * its record buffer: the stream offset of what comes next. */
static uint64_t kh_tarw_offset(struct kh_tarw *tw)
{
	la_int64_t n = archive_filter_bytes(tw->a, 0);

	return n < 0 ? 0 : (uint64_t)n;
}

static uint64_t kh_tarw_blocks(size_t len)
{
	return (len + KH_TAR_BLOCK - 1) / KH_TAR_BLOCK * KH_TAR_BLOCK;
}

static int kh_tarw_note_fix(struct kh_tarw *tw, uint64_t at)
{
	if (tw->fhead == tw->fn)
		tw->fhead = tw->fn = 0;
	if (tw->fn == tw->fcap) {
		size_t cap = tw->fcap ? 2 * tw->fcap : 16;
		uint64_t *p = realloc(tw->fix, cap * sizeof(*p));

		if (!p)
			return -1;
		tw->fix = p;
		tw->fcap = cap;
	}
	tw->fix[tw->fn++] = at;
	return 0;
}

/* Write the header of the entry set up in tw->e, telling the entry hook
 * where it starts, and noting its LongLink pseudo-headers: libarchive
 * writes one for a link target ('K') then one for a name ('L') when
 * they are longer than 100 bytes, each a header block and the string
 * with its NUL in whole blocks. The size of what it wrote is checked
 * against that, so a libarchive that lays headers out otherwise fails
 * the run instead of leaving a header unpatched. */
static int kh_tarw_header(struct kh_tarw *tw, const char *path,
			  const char *target, struct kh_error *err)
{
	size_t plen = strlen(path), tlen = target ? strlen(target) : 0;
	uint64_t start, at;

	/* The last entry's padding goes out first: then the count is
	 * where this entry starts. */
	if (archive_write_finish_entry(tw->a) != ARCHIVE_OK)
		return kh_tarw_fail(tw, path, err);
	start = at = kh_tarw_offset(tw);
	if (tw->on_entry)
		tw->on_entry(tw->on_entry_ctx, start, 0);
	if (tlen > KH_TAR_NAMEMAX) {
		if (kh_tarw_note_fix(tw, at) < 0)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		at += KH_TAR_BLOCK + kh_tarw_blocks(tlen + 1);
	}
	if (plen > KH_TAR_NAMEMAX) {
		if (kh_tarw_note_fix(tw, at) < 0)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		at += KH_TAR_BLOCK + kh_tarw_blocks(plen + 1);
	}
	if (archive_write_header(tw->a, tw->e) != ARCHIVE_OK)
		return kh_tarw_fail(tw, path, err);
	if (kh_tarw_offset(tw) != at + KH_TAR_BLOCK)
		return kh_error_set(err, KH_ELIB, path, "libarchive wrote "
				    "%llu bytes of header, not the %llu "
				    "expected",
				    (unsigned long long)(kh_tarw_offset(tw) -
							 start),
				    (unsigned long long)(at + KH_TAR_BLOCK -
							 start));
	return 0;
}

/* Note the entry as written, for whoever describes the archive. */
static int kh_tarw_note(struct kh_tarw *tw, const char *path,
			enum kh_record_type type, unsigned mode,
			const void *data, size_t len, const char *target,
			struct kh_error *err)
{
	struct kh_record_entry e = {
		.path = (char *)path, .type = type, .mode = mode,
		.uid = 0, .gid = 0, .mtime = tw->mtime, .size = len,
		.link = (char *)target,
	};
	int ret;

	if (!tw->rec)
		return 0;
	if (type == KH_RECORD_FILE) {
		ret = kh_hash_sha256(data, len, e.sha256, err);
		if (ret < 0)
			return ret;
	}
	return kh_record_add(tw->rec, &e, err);
}

int kh_tarw_dir(struct kh_tarw *tw, const char *path, struct kh_error *err)
{
	int ret;

	kh_tarw_entry(tw, path, AE_IFDIR, KH_TAR_MODE_DIR);
	ret = kh_tarw_header(tw, path, NULL, err);
	return ret ? ret : kh_tarw_note(tw, path, KH_RECORD_DIR,
					KH_TAR_MODE_DIR, NULL, 0, NULL, err);
}

int kh_tarw_symlink(struct kh_tarw *tw, const char *path, const char *target,
		    struct kh_error *err)
{
	int ret;

	kh_tarw_entry(tw, path, AE_IFLNK, KH_TAR_MODE_SYMLINK);
	archive_entry_copy_symlink(tw->e, target);
	ret = kh_tarw_header(tw, path, target, err);
	return ret ? ret : kh_tarw_note(tw, path, KH_RECORD_SYMLINK,
					KH_TAR_MODE_SYMLINK, NULL, 0, target,
					err);
}

int kh_tarw_file(struct kh_tarw *tw, const char *path, const void *data,
		 size_t len, struct kh_error *err)
{
	int ret;

	kh_tarw_entry(tw, path, AE_IFREG, KH_TAR_MODE_FILE);
	archive_entry_set_size(tw->e, (la_int64_t)len);
	ret = kh_tarw_header(tw, path, NULL, err);
	if (ret < 0)
		return ret;
	if (len && archive_write_data(tw->a, data, len) != (la_ssize_t)len)
		return kh_tarw_fail(tw, path, err);
	return kh_tarw_note(tw, path, KH_RECORD_FILE, KH_TAR_MODE_FILE, data,
			    len, NULL, err);
}

void kh_tarw_record(struct kh_tarw *tw, struct kh_record *rec)
{
	tw->rec = rec;
}

void kh_tarw_on_entry(struct kh_tarw *tw, kh_tarw_entry_fn *fn, void *ctx)
{
	tw->on_entry = fn;
	tw->on_entry_ctx = ctx;
}

int kh_tarw_finish(struct kh_tarw *tw, struct kh_error *err)
{
	if (archive_write_finish_entry(tw->a) != ARCHIVE_OK)
		return kh_tarw_fail(tw, NULL, err);
	if (tw->on_entry)
		tw->on_entry(tw->on_entry_ctx, kh_tarw_offset(tw), 1);
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
	free(tw->fix);
	free(tw);
}
