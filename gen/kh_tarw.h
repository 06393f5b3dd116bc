/* kh_tarw: write the GNU-format tar stream that upstream's tar writes.
 *
 * libarchive's gnutar writer does the headers; this module fixes the
 * metadata (uid/gid 0, no names, fixed modes, one mtime) and pads the
 * stream to GNU tar's 10240-byte records. One difference from GNU tar
 * is patched on the way out: libarchive gives the "././@LongLink"
 * pseudo-header (names over 100 bytes) mode 0 and root/wheel names,
 * while GNU tar under --numeric-owner writes mode 0644 and no names;
 * for a long symlink target libarchive also repeats the target's first
 * 100 bytes in the pseudo-header's link name, which GNU tar leaves empty.
 */
#ifndef KH_TARW_H
#define KH_TARW_H

#include <stddef.h>
#include <stdint.h>

#include "gen/kh_record.h"
#include "lib/kh_error.h"
#include "lib/kh_sink.h"

/* GNU tar's default record: 20 blocks of 512 bytes. */
#define KH_TAR_BLOCK 512
#define KH_TAR_RECORD (20 * KH_TAR_BLOCK)

/* The modes upstream's --mode=u=rw,go=r,a+X yields. */
#define KH_TAR_MODE_FILE 0644
#define KH_TAR_MODE_DIR 0755
#define KH_TAR_MODE_SYMLINK 0644

struct kh_tarw;

int kh_tarw_new(struct kh_sink out, int64_t mtime, struct kh_tarw **tw,
		struct kh_error *err);

/* Paths are archive paths including the "./" prefix; directories end
 * in "/". */
int kh_tarw_dir(struct kh_tarw *tw, const char *path, struct kh_error *err);
int kh_tarw_file(struct kh_tarw *tw, const char *path, const void *data,
		 size_t len, struct kh_error *err);
int kh_tarw_symlink(struct kh_tarw *tw, const char *path, const char *target,
		    struct kh_error *err);

/* Told, in stream order and before the sink receives those bytes,
 * where each entry starts (at its LongLink pseudo-header if it has one)
 * and, with end set, where the end-of-archive blocks start. The writer
 * knows these offsets as it writes (libarchive's byte count); it never
 * parses its own output. */
typedef void kh_tarw_entry_fn(void *ctx, uint64_t off, int end);

void kh_tarw_on_entry(struct kh_tarw *tw, kh_tarw_entry_fn *fn, void *ctx);

/* Add every entry written from now on to rec (which must outlive the
 * writing), files with the SHA-256 of the content handed over. */
void kh_tarw_record(struct kh_tarw *tw, struct kh_record *rec);

/* Write the end-of-archive blocks and the record padding. */
int kh_tarw_finish(struct kh_tarw *tw, struct kh_error *err);

/* Bytes of tar produced so far. */
uint64_t kh_tarw_size(const struct kh_tarw *tw);

void kh_tarw_free(struct kh_tarw *tw);

/* Rewrite a 512-byte header in place if it is a GNU LongLink header
 * as libarchive writes it (exposed for tests). */
void kh_tarw_fix_longlink(unsigned char *hdr);

#endif
