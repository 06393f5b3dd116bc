/* kh_extract: unpack a headers archive into a new directory, safely.
 *
 * What bcc and bpftrace got wrong, and what this does instead:
 *   - They unpacked into a predictable, shared $TMPDIR/kheaders-RELEASE
 *     and reused whatever was there (CVE-2024-2313/2314, stale or half
 *     removed trees). Here the caller names the directory, it must not
 *     exist (or is replaced whole on request), and the tree is built in
 *     a fresh mkdtemp() directory beside it, then renamed into place
 *     with RENAME_NOREPLACE: DIR is absent or complete, never partial,
 *     and a directory or symlink planted at DIR is never used.
 *   - They ran tar(1). Here libarchive reads the xz stream in-process
 *     and writes with ARCHIVE_EXTRACT_SECURE_NODOTDOT, _SECURE_SYMLINKS
 *     and _SECURE_NOABSOLUTEPATHS; and every entry is also checked here
 *     first, so either layer alone refuses a hostile archive:
 *       - no absolute path and no ".." component;
 *       - only directories, regular files, symlinks and hard links;
 *         device nodes, FIFOs and sockets are refused;
 *       - a symlink is extracted as a symlink, whatever it points to,
 *         but nothing is ever written through one: no entry may sit
 *         below a symlink the archive made;
 *       - a hard link must name a regular file extracted earlier from
 *         the same archive, and a verifier sees it as that file's
 *         content;
 *       - only regular files carry data: a pax hard link with data
 *         would overwrite the file it links to, after that file was
 *         verified;
 *       - no sparse file: its holes are not in the archive, so neither
 *         the limits nor the time spent would be bounded by it;
 *       - no path twice (but a directory), no set-id bits, no owners;
 *       - at most max_entries entries and max_bytes of content.
 *   On any refusal or error the temporary tree is removed (by
 *   descriptors, kh_tmpdir_remove) and DIR is untouched. Names in
 *   messages are escaped as manifests escape them.
 */
#ifndef KH_EXTRACT_H
#define KH_EXTRACT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kh_error.h"
#include "lib/kh_hash.h"

/* A real 6.x archive: about 6,500 entries and 35 MB unpacked. */
#define KH_EXTRACT_MAX_ENTRIES 1000000ULL
#define KH_EXTRACT_MAX_BYTES (4ULL << 30)

/* One extracted entry, as a verifier sees it. */
struct kh_extract_entry {
	const char *path;         /* as archived, e.g. "./include/linux/x.h" */
	const char *relpath;      /* cleaned, relative to DIR: "include/linux/x.h" */
	char type;                /* 'f' file, 'd' directory, 'l' symlink, 'h' hard link */
	unsigned mode;            /* permission bits as archived */
	uint64_t size;            /* content bytes (files) */
	int64_t mtime;
	const char *link;         /* symlink target or hard link path */
	unsigned char sha256[KH_SHA256_LEN]; /* of the content (files) */
};

/* A verifier: called after each entry is written; nonzero refuses the
 * whole extraction with the message it leaves in err. done is called
 * once after the last entry (for "missing" checks). */
struct kh_extract_verifier {
	int (*entry)(void *ctx, const struct kh_extract_entry *e,
		     struct kh_error *err);
	int (*done)(void *ctx, struct kh_error *err);
	void *ctx;
};

struct kh_extract_opts {
	const char *dir;          /* the directory to create */
	int replace;              /* an existing DIR (a directory) is replaced */
	const unsigned char *sha256; /* if set, the .tar.xz must hash to it */
	uint64_t max_entries;
	uint64_t max_bytes;
	const struct kh_extract_verifier *verify; /* or NULL */
	/* Set asynchronously (a signal handler) to stop and clean up. */
	const volatile sig_atomic_t *cancel;
};

#define KH_EXTRACT_OPTS_INIT { .max_entries = KH_EXTRACT_MAX_ENTRIES, \
			       .max_bytes = KH_EXTRACT_MAX_BYTES }

struct kh_extract_result {
	size_t files, dirs, symlinks, hardlinks;
	uint64_t bytes;           /* of file content */
};

#define KH_EXTRACT_RESULT_INIT { .files = 0 }

/* Unpack the .tar.xz in xz[0..len) into o->dir; name is for messages.
 * xz is checked (o->sha256) and then read again: it must be memory of
 * the caller's own (kh_image reads the source into it), never a
 * mapping of a file that someone may rewrite or truncate meanwhile.
 * Changes the working directory during the call (libarchive writes
 * relative to it) and restores it before returning: not for use while
 * other threads resolve relative paths. */
int kh_extract_run(const void *xz, size_t len, const char *name,
		   const struct kh_extract_opts *o,
		   struct kh_extract_result *res, struct kh_error *err);

/* Clean an archive path: drop "." and empty components; refuse absolute
 * paths and "..". Writes the relative path ("" for the root) to out.
 * Returns 0, or -1 with *why set to a reason. */
int kh_extract_clean_path(const char *path, char *out, size_t size,
			  const char **why);

#endif
