/* kh_archive_read: describe an existing archive as a manifest.
 *
 * Reads a .tar.xz (or a plain tar, or another compression libarchive
 * reads in-process) from a file, /sys/kernel/kheaders.tar.xz,
 * /proc/kheaders.tar.xz, a descriptor or standard input ("-"). The
 * whole input is read into memory first: such files cannot always be
 * read twice (stdin, a pipe) and a headers archive is a few MB. Then
 * two passes, both through libarchive:
 *
 *   1. the raw "format" undoes the compression: the tar stream, whose
 *      SHA-256 and size the manifest records next to the file's own;
 *   2. the tar reader walks that stream's entries, hashing each file's
 *      content with SHA-256 (libcrypto).
 *
 * So the xz data is decompressed once.
 *
 * Everything is bounded before memory is spent: the input by
 * KH_FILE_MAX_ARCHIVE (lib/kh_file.h), the tar it decompresses to by
 * KH_ARCHIVE_MAX_TAR, and an entry's copy by what the tar holds, never
 * by what its header declares. Decompressors run in process only: one
 * that this libarchive would run as an external program is not
 * enabled. Sparse entries are refused (their holes are not in their
 * digest).
 */
#ifndef KH_ARCHIVE_READ_H
#define KH_ARCHIVE_READ_H

#include <stddef.h>

#include "lib/kh_error.h"
#include "manifest/kh_manifest.h"

/* The largest tar an archive may decompress to: a kernel's headers
 * make 30 to 60 MB of tar; a small .tar.xz of a huge tar (a bomb) is
 * refused here, before it takes more memory than this. */
#define KH_ARCHIVE_MAX_TAR ((size_t)1 << 30)

/* Keep every regular file's content in the manifest's entries (for
 * unified diffs); otherwise only its digest. */
#define KH_ARCHIVE_READ_DATA 1u

/* The archive in buf (len bytes); name is used in messages. The facts
 * ("# key: value") are left for kh_facts_describe. */
int kh_archive_read_mem(const void *buf, size_t len, const char *name,
			unsigned flags, struct kh_manifest **out,
			struct kh_error *err);

/* Read all of path ("-": standard input) into *buf (malloc'ed,
 * NUL-terminated), at most max bytes (lib/kh_file.h); a longer input is
 * refused, naming the limit and what (such as "a manifest"). A FIFO or
 * a device is read like standard input. */
int kh_archive_load(const char *path, size_t max, const char *what,
		    unsigned char **buf, size_t *len, struct kh_error *err);

/* kh_archive_load of an archive: KH_FILE_MAX_ARCHIVE. */
int kh_archive_slurp(const char *path, unsigned char **buf, size_t *len,
		     struct kh_error *err);

/* The manifest text of the archive in fd (read from offset 0),
 * described by origin: *text is malloc'ed, *len bytes. */
int kh_archive_read_manifest(int fd, const char *name,
			     const struct kh_manifest_origin *origin,
			     char **text, size_t *len, struct kh_error *err);

#endif
