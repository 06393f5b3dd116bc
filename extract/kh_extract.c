/* kh_extract: safe, atomic unpacking of a headers archive (see
 * kh_extract.h for the rules and why). */
#include "extract/kh_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/kh_dl.h"
#include "lib/kh_tmpdir.h"
#include "manifest/kh_manifest.h"
#include "manifest/kh_mtree.h"

/* libarchive's own checks, on top of ours. No OWNER, PERM, XATTR, ACL
 * or FFLAGS: nothing but modes (masked by umask) and times is restored. */
#define KH_EXTRACT_FLAGS (ARCHIVE_EXTRACT_TIME | \
			  ARCHIVE_EXTRACT_SECURE_NODOTDOT | \
			  ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
			  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* ---- Paths. */

int kh_extract_clean_path(const char *path, char *out, size_t size,
			  const char **why)
{
	size_t n = 0;
	const char *p = path;

	if (!path || !*path) {
		*why = "an empty name";
		return -1;
	}
	if (*path == '/') {
		*why = "an absolute path";
		return -1;
	}
	while (*p) {
		const char *c = p;
		size_t len;

		while (*p && *p != '/')
			p++;
		len = (size_t)(p - c);
		while (*p == '/')
			p++;
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			*why = "a '..' component";
			return -1;
		}
		if (n + (n > 0) + len + 1 > size) {
			*why = "a path too long";
			return -1;
		}
		if (n > 0)
			out[n++] = '/';
		memcpy(out + n, c, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}

/* ---- What the archive made so far: path -> kind ('f', 'd', 'l', 'h'),
 * and for files and hard links the content they hold, so that a hard
 * link is verified as what a reader finds at its name. */

struct kh_seen_content {
	uint64_t size;
	unsigned char sha256[KH_SHA256_LEN];
};

struct kh_seen_slot {
	char *path;
	struct kh_seen_content *content;   /* files and hard links */
	char kind;
};

struct kh_seen {
	struct kh_seen_slot *slots;
	size_t cap, used;
};

static size_t kh_seen_find(const struct kh_seen *s, const char *path)
{
	size_t i = (size_t)XXH3_64bits(path, strlen(path)) & (s->cap - 1);

	while (s->slots[i].path && strcmp(s->slots[i].path, path))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static char kh_seen_get(const struct kh_seen *s, const char *path)
{
	return s->cap ? s->slots[kh_seen_find(s, path)].kind : 0;
}

static const struct kh_seen_content *kh_seen_content(const struct kh_seen *s,
						     const char *path)
{
	return s->cap ? s->slots[kh_seen_find(s, path)].content : NULL;
}

static int kh_seen_grow(struct kh_seen *s)
{
	struct kh_seen old = *s;

	s->cap = old.cap ? old.cap * 2 : 1024;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots) {
		*s = old;
		return -1;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].path)
			s->slots[kh_seen_find(s, old.slots[i].path)] =
				old.slots[i];
	free(old.slots);
	return 0;
}

/* Record path as kind; for 'f' and 'h', also the content it holds. */
static int kh_seen_put(struct kh_seen *s, const char *path, char kind,
		       const struct kh_seen_content *content)
{
	size_t i;

	if ((s->used + 1) * 2 > s->cap && kh_seen_grow(s) < 0)
		return -1;
	i = kh_seen_find(s, path);
	if (!s->slots[i].path) {
		if (!(s->slots[i].path = strdup(path)))
			return -1;
		s->used++;
	}
	s->slots[i].kind = kind;
	if (content) {
		if (!s->slots[i].content &&
		    !(s->slots[i].content = malloc(sizeof(*content))))
			return -1;
		*s->slots[i].content = *content;
	}
	return 0;
}

static void kh_seen_free(struct kh_seen *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		free(s->slots[i].path);
		free(s->slots[i].content);
	}
	free(s->slots);
}

/* ---- One extraction. */

struct kh_x {
	const struct kh_extract_opts *o;
	const char *name;             /* the source, for messages */
	struct kh_extract_result *res;
	struct kh_error *err;
	struct kh_seen seen;
	struct archive *in, *out;
	EVP_MD_CTX *md;
	uint64_t entries;
	int has_root;                 /* the archive's "./": DIR's mode, mtime */
	unsigned root_perm;
	struct timespec root_mtime;
	char *esc[2];                 /* names escaped for messages */
	char rel[4096], lrel[4096];
};

/* An archive-supplied name as messages show it: escaped as manifests,
 * diff and verify escape names (\033 for ESC, \040 for a space), so
 * that no name puts control sequences on a terminal. Valid until the
 * next call with the same slot (0 or 1), at most until the run ends. */
static const char *kh_x_esc(struct kh_x *x, int slot, const char *name)
{
	free(x->esc[slot]);
	x->esc[slot] = kh_mtree_escape(name);
	return x->esc[slot] ? x->esc[slot] : "(a name: out of memory)";
}

/* A message from libarchive, which may quote an archive's names: every
 * byte outside printable ASCII as \ooo. NULL (no message) is said. */
static const char *kh_x_clean(const char *msg, char *buf, size_t size)
{
	size_t n = 0;

	if (!msg)
		return "unknown error";
	for (; *msg && n + 5 < size; msg++) {
		unsigned char c = (unsigned char)*msg;

		if (c >= 0x20 && c < 0x7f)
			buf[n++] = (char)c;
		else
			n += (size_t)snprintf(buf + n, size - n, "\\%03o", c);
	}
	buf[n] = '\0';
	return buf;
}

static int kh_x_cancelled(const struct kh_x *x)
{
	if (x->o->cancel && *x->o->cancel)
		return kh_error_set(x->err, KH_EIO, x->o->dir, "interrupted");
	return 0;
}

static int kh_x_refuse(struct kh_x *x, const char *path, const char *what)
{
	return kh_error_set(x->err, KH_EINVAL, x->name, "%s: refusing %s",
			    path ? kh_x_esc(x, 0, path) : "(unnamed entry)",
			    what);
}

/* libarchive's reason, NULL-safe and escaped, in buf. */
static const char *kh_x_aerr(struct archive *a, char *buf, size_t size)
{
	return kh_x_clean(archive_error_string(a), buf, size);
}

/* Decide whether an entry may be written, and how: our own checks,
 * independent of libarchive's. Sets x->rel (and x->lrel). Returns 1 to
 * write, 0 to skip (the root, a repeated directory), <0 refused. */
static int kh_x_check(struct kh_x *x, struct archive_entry *e, char *kind)
{
	const char *path = archive_entry_pathname(e);
	const char *hl = archive_entry_hardlink(e), *why;
	char *slash;

	if (!path)
		return kh_x_refuse(x, NULL, "an entry without "
				   "a name");
	if (kh_extract_clean_path(path, x->rel, sizeof(x->rel), &why) < 0)
		return kh_x_refuse(x, path, why);
	if (hl) {
		*kind = 'h';
	} else {
		switch (archive_entry_filetype(e)) {
		case AE_IFREG: *kind = 'f'; break;
		case AE_IFDIR: *kind = 'd'; break;
		case AE_IFLNK: *kind = 'l'; break;
		case AE_IFCHR:
		case AE_IFBLK:
			return kh_x_refuse(x, path, "a device node");
		case AE_IFIFO:
			return kh_x_refuse(x, path, "a FIFO");
		case AE_IFSOCK:
			return kh_x_refuse(x, path, "a socket");
		default:
			return kh_x_refuse(x, path, "an entry of unknown type");
		}
	}
	/* Only a file has data. A pax hard link may carry some, and
	 * writing it would replace the content of the file it links to,
	 * already written and verified; a directory's or a symlink's
	 * data would be skipped unread, unbounded and uninterruptible. */
	if (*kind != 'f' && archive_entry_size(e) > 0)
		return kh_x_refuse(x, path, *kind == 'h' ?
				   "a hard link that carries data (it would "
				   "overwrite the file it links to)" :
				   *kind == 'd' ? "a directory that carries data" :
				   "a symlink that carries data");
	if (!x->rel[0]) {
		if (*kind != 'd')
			return kh_x_refuse(x, path, "a root that is not a "
					   "directory");
		/* DIR is ours to make; it takes the entry's mode and time
		 * at the end, as tar gives them to its target. */
		x->has_root = 1;
		x->root_perm = (unsigned)archive_entry_perm(e) & 0777;
		x->root_mtime.tv_sec = archive_entry_mtime(e);
		x->root_mtime.tv_nsec = archive_entry_mtime_nsec(e);
		return 0;
	}
	/* Every parent must be a directory (an entry's or an implicit
	 * one), never a symlink: that is how archives write outside. */
	for (slash = strchr(x->rel, '/'); slash; slash = strchr(slash + 1, '/')) {
		char k;

		*slash = '\0';
		k = kh_seen_get(&x->seen, x->rel);
		if (k == 'l') {
			kh_error_set(x->err, KH_EINVAL, x->name, "%s: refusing "
				     "to write through the symlink %s",
				     kh_x_esc(x, 0, path), kh_x_esc(x, 1, x->rel));
			*slash = '/';
			return KH_EINVAL;
		}
		if (k == 'f' || k == 'h') {
			kh_error_set(x->err, KH_EINVAL, x->name, "%s: refusing "
				     "a path below the file %s",
				     kh_x_esc(x, 0, path), kh_x_esc(x, 1, x->rel));
			*slash = '/';
			return KH_EINVAL;
		}
		if (!k && kh_seen_put(&x->seen, x->rel, 'd', NULL) < 0) {
			*slash = '/';
			return kh_error_set(x->err, KH_ENOMEM, NULL,
					    "out of memory");
		}
		*slash = '/';
	}
	switch (kh_seen_get(&x->seen, x->rel)) {
	case 0:
		break;
	case 'd':
		if (*kind == 'd')
			return 0;
		/* fall through */
	default:
		return kh_x_refuse(x, path, "a path that appears twice");
	}
	if (*kind == 'h') {
		char k;

		if (kh_extract_clean_path(hl, x->lrel, sizeof(x->lrel),
					  &why) == 0 && !x->lrel[0])
			why = "the root";
		else if (x->lrel[0])
			why = NULL;
		if (why) {
			kh_error_set(x->err, KH_EINVAL, x->name, "%s: refusing "
				     "a hard link to %s: %s", kh_x_esc(x, 0, path),
				     kh_x_esc(x, 1, hl), why);
			return KH_EINVAL;
		}
		k = kh_seen_get(&x->seen, x->lrel);
		if (k != 'f' && k != 'h') {
			kh_error_set(x->err, KH_EINVAL, x->name, "%s: refusing "
				     "a hard link to %s, not a file extracted "
				     "before it", kh_x_esc(x, 0, path),
				     kh_x_esc(x, 1, hl));
			return KH_EINVAL;
		}
	}
	if (*kind == 'l') {
		const char *t = archive_entry_symlink(e);

		if (!t || !*t)
			return kh_x_refuse(x, path, "a symlink without a "
					   "target");
	}
	/* Files are recorded once their content is known (kh_x_write). */
	if (*kind != 'f' && *kind != 'h' &&
	    kh_seen_put(&x->seen, x->rel, *kind, NULL) < 0)
		return kh_error_set(x->err, KH_ENOMEM, NULL, "out of memory");
	return 1;
}

/* libarchive's message for a failed write, with the system's reason
 * when it has one and did not say it: "Write to restore size failed"
 * alone does not tell a full disk from a file size limit. */
static const char *kh_x_werr(struct archive *a, char *buf, size_t size)
{
	const char *msg = archive_error_string(a);
	char full[512];
	int e = archive_errno(a);

	if (msg && e > 0 && !strstr(msg, strerror(e))) {
		snprintf(full, sizeof(full), "%s: %s", msg, strerror(e));
		msg = full;
	}
	return kh_x_clean(msg, buf, size);
}

/* Copy a file's content to disk, hashing it and counting the budget.
 * Its data must be whole: a sparse entry (GNU or pax sparse formats)
 * has holes that are not in the archive, so neither the byte limit nor
 * the time it takes would be bounded by the archive's size (one byte
 * at offset 2^60). Headers archives never hold one: refused. */
static int kh_x_copy(struct kh_x *x, const char *path,
		     struct kh_extract_entry *ent)
{
	uint64_t pos = 0;
	unsigned int n = 0;
	char why[512];

	if (!EVP_DigestInit_ex(x->md, EVP_sha256(), NULL))
		return kh_error_set(x->err, KH_ELIB, NULL, "SHA-256 failed");
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(x->in, &buf, &size, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return kh_error_set(x->err, KH_EINVAL, x->name,
					    "%s: corrupt archive: %s",
					    kh_x_esc(x, 0, path),
					    kh_x_aerr(x->in, why, sizeof(why)));
		if (kh_x_cancelled(x) < 0)
			return KH_EIO;
		if (off < 0 || (uint64_t)off < pos)
			return kh_x_refuse(x, path, "data blocks out of order");
		if ((uint64_t)off > pos)
			return kh_x_refuse(x, path, "a sparse file (a hole in "
					   "its data)");
		x->res->bytes += size;
		if (x->res->bytes > x->o->max_bytes)
			return kh_x_refuse(x, path, "an archive that unpacks to "
					   "more than the byte limit");
		if (!EVP_DigestUpdate(x->md, buf, size))
			return kh_error_set(x->err, KH_ELIB, NULL,
					    "SHA-256 failed");
		pos += size;
		/* A failed write(2) (a full disk) is only ARCHIVE_WARN
		 * here; going on would leave a hole where the data was. */
		if (archive_write_data_block(x->out, buf, size, off) <
		    ARCHIVE_OK)
			return kh_error_set(x->err, KH_EIO, x->o->dir,
					    "%s: cannot write: %s",
					    kh_x_esc(x, 0, path),
					    kh_x_werr(x->out, why,
						      sizeof(why)));
	}
	if (pos != ent->size)
		return kh_x_refuse(x, path, "a sparse file (a hole at its "
				   "end)");
	if (!EVP_DigestFinal_ex(x->md, ent->sha256, &n) || n != KH_SHA256_LEN)
		return kh_error_set(x->err, KH_ELIB, NULL, "SHA-256 failed");
	return 0;
}

/* Write one checked entry (kh_x_check set x->rel, x->lrel). */
static int kh_x_write(struct kh_x *x, struct archive_entry *e, char kind,
		      const char *path)
{
	struct kh_extract_entry ent;
	struct kh_seen_content c;
	char why[512];
	int ret, r;

	memset(&ent, 0, sizeof(ent));
	ent.path = path;
	ent.relpath = x->rel;
	ent.type = kind;
	ent.mode = (unsigned)archive_entry_perm(e) & 07777;
	ent.size = kind == 'f' && archive_entry_size(e) > 0 ?
		(uint64_t)archive_entry_size(e) : 0;
	ent.mtime = (int64_t)archive_entry_mtime(e);
	ent.link = kind == 'l' ? archive_entry_symlink(e) :
		   kind == 'h' ? x->lrel : NULL;
	if (ent.size > x->o->max_bytes - (x->res->bytes < x->o->max_bytes ?
					  x->res->bytes : x->o->max_bytes))
		return kh_x_refuse(x, path, "an archive that unpacks to more "
				   "than the byte limit");
	if (kind == 'h') {
		/* A hard link holds its target's content: the verifier
		 * sees that, as a reader of DIR will. */
		const struct kh_seen_content *t =
			kh_seen_content(&x->seen, x->lrel);

		if (!t)
			return kh_x_refuse(x, path, "a hard link to a file "
					   "without content");
		ent.size = t->size;
		memcpy(ent.sha256, t->sha256, KH_SHA256_LEN);
	}

	/* What reaches the disk: our cleaned names, no set-id bits, no
	 * owners; directories stay writable so a failed run can clean up. */
	archive_entry_set_pathname(e, x->rel);
	if (kind == 'h')
		archive_entry_set_hardlink(e, x->lrel);
	archive_entry_set_perm(e, (archive_entry_perm(e) & 0777) |
			       (kind == 'd' ? 0700 : 0));
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	archive_entry_xattr_clear(e);
	archive_entry_acl_clear(e);
	archive_entry_set_fflags(e, 0, 0);

	r = archive_write_header(x->out, e);
	if (r < ARCHIVE_WARN)
		return kh_error_set(x->err, KH_EIO, x->name, "%s: cannot "
				    "extract: %s", kh_x_esc(x, 0, path),
				    kh_x_werr(x->out, why, sizeof(why)));
	if (kind == 'f' && (ret = kh_x_copy(x, path, &ent)) < 0)
		return ret;
	r = archive_write_finish_entry(x->out);
	if (r < ARCHIVE_WARN)
		return kh_error_set(x->err, KH_EIO, x->name, "%s: cannot "
				    "extract: %s", kh_x_esc(x, 0, path),
				    kh_x_werr(x->out, why, sizeof(why)));
	if (kind == 'f' || kind == 'h') {
		c.size = ent.size;
		memcpy(c.sha256, ent.sha256, KH_SHA256_LEN);
		if (kh_seen_put(&x->seen, x->rel, kind, &c) < 0)
			return kh_error_set(x->err, KH_ENOMEM, NULL,
					    "out of memory");
	}
	switch (kind) {
	case 'f': x->res->files++; break;
	case 'd': x->res->dirs++; break;
	case 'l': x->res->symlinks++; break;
	case 'h': x->res->hardlinks++; break;
	}
	if (x->o->verify && x->o->verify->entry)
		return x->o->verify->entry(x->o->verify->ctx, &ent, x->err);
	return 0;
}

static int kh_x_entry(struct kh_x *x, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);
	char kind = 0, *path;
	int ret;

	if (++x->entries > x->o->max_entries)
		return kh_x_refuse(x, name,
				   "an archive with more entries than the "
				   "limit");
	ret = kh_x_check(x, e, &kind);
	if (ret <= 0)
		return ret;
	/* The entry's own name is rewritten below; keep the archived one
	 * for messages and the verifier. */
	if (!(path = strdup(name)))
		return kh_error_set(x->err, KH_ENOMEM, NULL, "out of memory");
	ret = kh_x_write(x, e, kind, path);
	free(path);
	return ret;
}

/* Read every entry and write it below the current directory. */
static int kh_x_unpack(struct kh_x *x, const void *xz, size_t len)
{
	struct archive_entry *e;
	char why[512];
	int ret = 0, r;

	x->in = archive_read_new();
	x->out = archive_write_disk_new();
	x->md = EVP_MD_CTX_new();
	if (!x->in || !x->out || !x->md)
		return kh_error_set(x->err, KH_ENOMEM, NULL, "out of memory");
	if (archive_read_support_filter_xz(x->in) != ARCHIVE_OK ||
	    archive_read_support_format_tar(x->in) != ARCHIVE_OK)
		return kh_error_set(x->err, KH_ELIB, NULL, "libarchive: %s",
				    kh_x_aerr(x->in, why, sizeof(why)));
	if (archive_write_disk_set_options(x->out, KH_EXTRACT_FLAGS) !=
	    ARCHIVE_OK)
		return kh_error_set(x->err, KH_ELIB, NULL, "libarchive: %s",
				    kh_x_aerr(x->out, why, sizeof(why)));
	if (archive_read_open_memory(x->in, xz, len) != ARCHIVE_OK)
		return kh_error_set(x->err, KH_EINVAL, x->name, "not a tar.xz "
				    "archive: %s",
				    kh_x_aerr(x->in, why, sizeof(why)));
	while ((r = archive_read_next_header(x->in, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return kh_error_set(x->err, KH_EINVAL, x->name,
					    "corrupt archive: %s",
					    kh_x_aerr(x->in, why, sizeof(why)));
		if ((ret = kh_x_cancelled(x)) < 0 ||
		    (ret = kh_x_entry(x, e)) < 0)
			return ret;
	}
	if (x->o->verify && x->o->verify->done &&
	    (ret = x->o->verify->done(x->o->verify->ctx, x->err)) < 0)
		return ret;
	/* Directory times are set here, relative to the current directory. */
	if (archive_write_close(x->out) < ARCHIVE_WARN)
		return kh_error_set(x->err, KH_EIO, x->o->dir, "cannot "
				    "finish: %s", kh_x_werr(x->out, why,
							     sizeof(why)));
	return 0;
}

static int kh_x_check_sha256(const struct kh_x *x, const void *xz, size_t len)
{
	unsigned char got[KH_SHA256_LEN];
	char hex[2 * KH_SHA256_LEN + 1];
	int ret = kh_hash_sha256(xz, len, got, x->err);

	if (ret < 0)
		return ret;
	if (memcmp(got, x->o->sha256, KH_SHA256_LEN)) {
		kh_hash_hex(got, KH_SHA256_LEN, hex);
		return kh_error_set(x->err, KH_EINVAL, x->name, "SHA-256 is %s, "
				    "not the one expected", hex);
	}
	return 0;
}

static mode_t kh_x_umask(void)
{
	mode_t m = umask(022);

	umask(m);
	return m;
}

/* The prefix of temporary directories beside DIR (kh_tmpdir adds the
 * random part). */
static int kh_x_tmpname(const char *dir, char **tmp, struct kh_error *err)
{
	size_t len = strlen(dir);
	const char *base;
	int dirlen;

	while (len > 1 && dir[len - 1] == '/')
		len--;
	for (base = dir + len; base > dir && base[-1] != '/'; base--)
		;
	dirlen = (int)(base - dir);
	if (base == dir + len || (dir + len - base == 1 && base[0] == '.') ||
	    (dir + len - base == 2 && base[0] == '.' && base[1] == '.'))
		return kh_error_set(err, KH_EINVAL, dir, "not a name for a new "
				    "directory");
	if (asprintf(tmp, "%.*s.%.*s.kheaders-", dirlen, dir,
		     (int)(dir + len - base), base) < 0) {
		*tmp = NULL;
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	return 0;
}

/* Put the finished tree at DIR: never over anything that appeared
 * there meanwhile, unless replacing, then swapped in one step. */
static int kh_x_commit(const struct kh_extract_opts *o, const char *tmp,
		       struct kh_error *err)
{
	struct stat st;

	if (o->replace && lstat(o->dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return kh_error_set(err, KH_EINVAL, o->dir, "exists "
					    "and is not a directory: not "
					    "replacing it");
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, o->dir,
			      RENAME_EXCHANGE) < 0)
			return kh_error_sys(err, errno, o->dir, "cannot "
					    "replace");
		/* tmp now names the old tree. Removed by descriptors
		 * (kh_tmpdir_remove): a user who can write a directory
		 * in it may swap a symlink in meanwhile, and a walk by
		 * path would follow it and delete files elsewhere. */
		if (kh_tmpdir_remove(tmp) < 0)
			return kh_error_sys(err, errno, tmp, "replaced %s, but "
					    "cannot remove the old tree",
					    o->dir);
		return 0;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, o->dir, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST || errno == ENOTEMPTY)
		return kh_error_set(err, KH_EINVAL, o->dir, "appeared while "
				    "extracting: not replacing it");
	if (errno != EINVAL && errno != ENOSYS)
		return kh_error_sys(err, errno, o->dir, "cannot create");
	/* A filesystem without RENAME_NOREPLACE: rename(2) would replace
	 * an empty directory, so look first (a narrow race remains). */
	if (lstat(o->dir, &st) == 0)
		return kh_error_set(err, KH_EINVAL, o->dir, "appeared while "
				    "extracting: not replacing it");
	if (rename(tmp, o->dir) < 0)
		return kh_error_sys(err, errno, o->dir, "cannot create");
	return 0;
}

int kh_extract_run(const void *xz, size_t len, const char *name,
		   const struct kh_extract_opts *o,
		   struct kh_extract_result *res, struct kh_error *err)
{
	struct kh_x x;
	struct stat st;
	char *tmp = NULL, *prefix;
	int cwd = -1, tmpfd = -1, moved = 0, ret;

	memset(&x, 0, sizeof(x));
	x.o = o;
	x.name = name;
	x.res = res;
	x.err = err;
	*res = (struct kh_extract_result)KH_EXTRACT_RESULT_INIT;

	if (!o->dir || !*o->dir)
		return kh_error_set(err, KH_EINVAL, NULL, "no directory to "
				    "extract to");
	if ((ret = kh_dl_archive(err)) < 0 || (ret = kh_dl_crypto(err)) < 0)
		return ret;
	if (o->sha256 && (ret = kh_x_check_sha256(&x, xz, len)) < 0)
		return ret;
	if (lstat(o->dir, &st) == 0 && !o->replace)
		return kh_error_set(err, KH_EINVAL, o->dir, "already exists; "
				    "extract makes a new directory (--replace "
				    "replaces it)");
	if (lstat(o->dir, &st) == 0 && !S_ISDIR(st.st_mode))
		return kh_error_set(err, KH_EINVAL, o->dir, "exists and is not "
				    "a directory: not replacing it");
	if ((ret = kh_x_tmpname(o->dir, &prefix, err)) < 0)
		return ret;
	/* Trees that killed runs left beside DIR go first; ours stays
	 * locked (tmpfd) while we run, so no other run sweeps it. */
	kh_tmpdir_sweep(prefix);
	ret = kh_tmpdir_make(prefix, o->dir, &tmp, &tmpfd, err);
	free(prefix);
	if (ret < 0)
		return ret;
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0) {
		ret = kh_error_sys(err, errno, tmp, "cannot open");
		goto out;
	}
	if (fchdir(tmpfd) < 0) {
		ret = kh_error_sys(err, errno, tmp, "cannot enter");
		goto out;
	}
	moved = 1;
	ret = kh_x_unpack(&x, xz, len);
	/* Freeing the writer applies deferred directory times and modes,
	 * still relative to the temporary directory. */
	if (x.out)
		archive_write_free(x.out);
	x.out = NULL;
	if (fchdir(cwd) < 0) {
		/* Relative paths below would now go wrong. */
		ret = kh_error_sys(err, errno, NULL, "cannot return to the "
				   "working directory");
		goto out;
	}
	moved = 0;
	if (ret < 0)
		goto out;
	if ((ret = kh_x_cancelled(&x)) < 0)
		goto out;
	if (fchmod(tmpfd, (x.has_root ? x.root_perm | 0700 : 0777) &
		   ~kh_x_umask()) < 0) {
		ret = kh_error_sys(err, errno, tmp, "cannot set mode");
		goto out;
	}
	if (x.has_root) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
					  x.root_mtime };

		if (futimens(tmpfd, ts) < 0) {
			ret = kh_error_sys(err, errno, tmp, "cannot set time");
			goto out;
		}
	}
	/* The tree is complete on disk before its name appears. */
	if (syncfs(tmpfd) < 0) {
		ret = kh_error_sys(err, errno, tmp, "cannot sync");
		goto out;
	}
	ret = kh_x_commit(o, tmp, err);
out:
	if (moved && fchdir(cwd) < 0 && ret == 0)
		ret = kh_error_sys(err, errno, NULL, "cannot return to the "
				   "working directory");
	if (x.out)
		archive_write_free(x.out);
	if (x.in)
		archive_read_free(x.in);
	EVP_MD_CTX_free(x.md);
	kh_seen_free(&x.seen);
	if (tmpfd >= 0)
		close(tmpfd);
	if (cwd >= 0)
		close(cwd);
	/* On failure the temporary tree goes; after an exchange, tmp is
	 * already gone. */
	if (ret < 0 && tmp && lstat(tmp, &st) == 0 && !moved)
		kh_tmpdir_remove(tmp);
	free(x.esc[0]);
	free(x.esc[1]);
	free(tmp);
	return ret;
}
