/* kh_mtree: a manifest as BSD mtree text.
 *
 * The text form of a manifest (kh_manifest.h) is mtree, so that
 * libarchive (`bsdtar -tvf FILE`) and the BSD mtree tools read it:
 *
 *   #mtree
 *   # kheaders-manifest: 1
 *   # tool: kheaders 0.1.0
 *   # ...more "# key: value" facts...
 *   # entries: 3
 *   # tar-sha256: <hex>           the tar stream inside the archive
 *   # tar-size: 10240
 *   # archive-sha256: <hex>       the archive file (the .tar.xz)
 *   # archive-size: 312
 *   . type=dir mode=0755 uid=0 gid=0 time=0.0
 *   ./include type=dir mode=0755 uid=0 gid=0 time=0.0
 *   ./include/a.h type=file mode=0644 uid=0 gid=0 size=3 time=0.0 \
 *       sha256digest=<hex>        (one line in the file)
 *
 * Paths are escaped as libarchive's mtree writer escapes them: every
 * byte outside '!'..'~', and '#', '=', '\', as a backslash and three
 * octal digits ("name\040with\040spaces.h").
 *
 * The parser reads this format and the usual mtree variants (/set and
 * /unset, classic relative entries, continuation lines), so manifests
 * from bsdtar or mtree(8) can be verified and diffed too; keywords an
 * entry lacks are simply not compared.
 */
#ifndef KH_MTREE_H
#define KH_MTREE_H

#include <stddef.h>

#include "lib/kh_error.h"
#include "manifest/kh_manifest.h"

#define KH_MTREE_MAGIC "#mtree"

/* The mtree text (malloc'ed, not NUL-terminated in len). */
int kh_mtree_format(const struct kh_manifest *m, char **text, size_t *len,
		    struct kh_error *err);

/* Parse mtree text; name (the file) goes into error messages. */
int kh_mtree_parse(const char *text, size_t len, const char *name,
		   struct kh_manifest **out, struct kh_error *err);

/* Does this buffer start like mtree text? */
int kh_mtree_is_text(const void *buf, size_t len);

/* A path or link target escaped as the writer writes it, and back.
 * malloc'ed, or NULL when out of memory (unescape: or invalid). */
char *kh_mtree_escape(const char *s);
char *kh_mtree_unescape(const char *s);

#endif
