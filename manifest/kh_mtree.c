/* kh_mtree: a manifest as BSD mtree text: the writer, and a parser for
 * it and the usual mtree variants (see kh_mtree.h).
 */
#include "manifest/kh_mtree.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_buf.h"
#include "lib/kh_file.h"

/* Keys the writer produces itself from typed data; a parsed manifest
 * keeps them there, not among the free-form fields. */
static const char *const kh_mtree_reserved[] = {
	"kheaders-manifest", "entries", "tar-sha256", "tar-size",
	"archive-sha256", "archive-size",
};

/* ---- escaping ---- */

/* libarchive's mtree writer leaves these bytes alone (its safe_char
 * table): printable ASCII but space, '#', '=' and '\'. */
static int kh_mtree_safe(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#' && c != '=' && c != '\\';
}

char *kh_mtree_escape(const char *s)
{
	char *out = malloc(4 * strlen(s) + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (kh_mtree_safe(c)) {
			*p++ = (char)c;
		} else {
			*p++ = '\\';
			*p++ = (char)('0' + (c >> 6));
			*p++ = (char)('0' + ((c >> 3) & 7));
			*p++ = (char)('0' + (c & 7));
		}
	}
	*p = '\0';
	return out;
}

/* libarchive's reader also knows the C escapes and \s for space; a NUL
 * (\000) would end the name, so it is refused. */
char *kh_mtree_unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *p = out;

	if (!out)
		return NULL;
	while (*s) {
		unsigned char c = (unsigned char)*s++;

		if (c == '\\') {
			static const char from[] = "abfnrstv\\", to[] =
				"\a\b\f\n\r \t\v\\";
			const char *hit = *s ? strchr(from, *s) : NULL;

			if (s[0] >= '0' && s[0] <= '3' && s[1] >= '0' &&
			    s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
				c = (unsigned char)((s[0] - '0') << 6 |
						    (s[1] - '0') << 3 |
						    (s[2] - '0'));
				s += 3;
				if (c == 0) {
					free(out);
					return NULL;
				}
			} else if (hit) {
				c = (unsigned char)to[hit - from];
				s++;
			}
		}
		*p++ = (char)c;
	}
	*p = '\0';
	return out;
}

/* ---- writer ---- */

static void kh_mtree_put_digest(struct kh_buf *b, const char *name,
				const struct kh_manifest_digest *d)
{
	char hex[2 * KH_SHA256_LEN + 1];

	if (!d->known) {
		kh_buf_printf(b, "# %s-sha256: unknown\n# %s-size: unknown\n",
			      name, name);
		return;
	}
	kh_hash_hex(d->sha256, KH_SHA256_LEN, hex);
	kh_buf_printf(b, "# %s-sha256: %s\n# %s-size: %" PRIu64 "\n", name,
		      hex, name, d->size);
}

static void kh_mtree_put_entry(struct kh_buf *b,
			       const struct kh_manifest_entry *e)
{
	char *p = kh_mtree_escape(e->path);

	if (!p) {
		b->oom = 1;
		return;
	}
	kh_buf_str(b, p);
	free(p);
	/* The order the issue lists them in: type mode uid gid size time
	 * sha256digest link. */
	if (e->keys & KH_MK_TYPE)
		kh_buf_printf(b, " type=%s", kh_manifest_type_name(e->type));
	if (e->keys & KH_MK_MODE)
		kh_buf_printf(b, " mode=%04o", e->mode);
	if (e->keys & KH_MK_UID)
		kh_buf_printf(b, " uid=%" PRId64, e->uid);
	if (e->keys & KH_MK_GID)
		kh_buf_printf(b, " gid=%" PRId64, e->gid);
	if (e->keys & KH_MK_SIZE)
		kh_buf_printf(b, " size=%" PRIu64, e->size);
	/* "sec.nsec" with nsec unpadded, as libarchive writes and reads
	 * it (an mtree(8) quirk: "1.5" means 1 s and 5 ns). */
	if (e->keys & KH_MK_TIME)
		kh_buf_printf(b, " time=%" PRId64 ".%ld", e->mtime,
			      e->mtime_ns);
	if (e->keys & KH_MK_SHA256) {
		char hex[2 * KH_SHA256_LEN + 1];

		kh_hash_hex(e->sha256, KH_SHA256_LEN, hex);
		kh_buf_printf(b, " sha256digest=%s", hex);
	}
	if ((e->keys & KH_MK_LINK) && e->link) {
		char *l = kh_mtree_escape(e->link);

		if (!l) {
			b->oom = 1;
			return;
		}
		kh_buf_printf(b, " link=%s", l);
		free(l);
	}
	kh_buf_str(b, "\n");
}

int kh_mtree_format(const struct kh_manifest *m, char **text, size_t *len,
		    struct kh_error *err)
{
	struct kh_buf b = KH_BUF_INIT;

	kh_buf_printf(&b, "%s\n# kheaders-manifest: %d\n", KH_MTREE_MAGIC,
		      KH_MANIFEST_VERSION);
	for (size_t i = 0; i < kh_manifest_nfields(m); i++) {
		const char *k, *v;

		kh_manifest_field_at(m, i, &k, &v);
		kh_buf_printf(&b, "# %s: %s\n", k, v);
	}
	kh_buf_printf(&b, "# entries: %zu\n", kh_manifest_count(m));
	kh_mtree_put_digest(&b, "tar", kh_manifest_digest(m, KH_MANIFEST_TAR));
	kh_mtree_put_digest(&b, "archive",
			    kh_manifest_digest(m, KH_MANIFEST_ARCHIVE));
	for (size_t i = 0; i < kh_manifest_count(m); i++)
		kh_mtree_put_entry(&b, kh_manifest_at(m, i));
	*text = kh_buf_take(&b, len);
	if (!*text)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	return 0;
}

/* ---- parser ---- */

int kh_mtree_is_text(const void *buf, size_t len)
{
	size_t n = strlen(KH_MTREE_MAGIC);

	return len >= n && !memcmp(buf, KH_MTREE_MAGIC, n) &&
	       (len == n || ((const char *)buf)[n] == '\n' ||
		((const char *)buf)[n] == ' ' ||
		((const char *)buf)[n] == '\t' ||
		((const char *)buf)[n] == '\r');
}

/* Classic relative entries build their path from the current
 * directory, so a line of two bytes can make a path of any length, and
 * n nested directories cost n * n / 2 bytes of paths (20,000 lines
 * took 490 MB). Both are bounded: one such path by what a filesystem
 * takes (PATH_MAX), and all of them together by the manifest limit,
 * which is what the same entries written with full paths, as kheaders
 * writes them, may take. So the paths held stay linear in the limit,
 * whatever the nesting. */
#define KH_MTREE_MAX_RELPATH 4096

struct kh_mparse {
	const char *name;
	size_t lineno;
	struct kh_manifest *m;
	struct kh_manifest_entry set;   /* /set defaults */
	char *cwd;                      /* classic relative entries */
	long declared;                  /* "# entries:", or -1 */
	/* The streams' digests as read: known bit 1 the SHA-256, bit 2
	 * the size; only both make a digest. */
	struct kh_manifest_digest dg[2];
	struct kh_error *err;
	size_t relbytes;                /* paths made from cwd so far */
};

static int kh_mparse_fail(struct kh_mparse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int kh_mparse_fail(struct kh_mparse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kh_error_set(p->err, KH_EINVAL, NULL, "%s:%zu: %s", p->name,
			    p->lineno, msg);
}

static int kh_mparse_num(const char *s, int base, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, base);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static int kh_mparse_unum(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return -1;
	*out = v;
	return 0;
}

/* One "key=value" into e; unknown keywords are allowed and ignored. */
static int kh_mparse_keyword(struct kh_mparse *p, char *kw,
			     struct kh_manifest_entry *e)
{
	char *val = strchr(kw, '=');
	int64_t n;

	if (!val)
		return 0;   /* "optional", "nochange", "ignore"... */
	*val++ = '\0';
	if (!strcmp(kw, "type")) {
		int t = kh_manifest_type_parse(val);

		if (t < 0)
			return kh_mparse_fail(p, "unknown type '%s'", val);
		e->type = (enum kh_manifest_type)t;
		e->keys |= KH_MK_TYPE;
	} else if (!strcmp(kw, "mode")) {
		if (kh_mparse_num(val, 8, &n) < 0 || n < 0 || n > 07777)
			return kh_mparse_fail(p, "bad mode '%s'", val);
		e->mode = (unsigned)n;
		e->keys |= KH_MK_MODE;
	} else if (!strcmp(kw, "uid") || !strcmp(kw, "gid")) {
		if (kh_mparse_num(val, 10, &n) < 0)
			return kh_mparse_fail(p, "bad %s '%s'", kw, val);
		if (kw[0] == 'u') {
			e->uid = n;
			e->keys |= KH_MK_UID;
		} else {
			e->gid = n;
			e->keys |= KH_MK_GID;
		}
	} else if (!strcmp(kw, "size")) {
		if (kh_mparse_unum(val, &e->size) < 0)
			return kh_mparse_fail(p, "bad size '%s'", val);
		e->keys |= KH_MK_SIZE;
	} else if (!strcmp(kw, "time")) {
		char *dot = strchr(val, '.');
		int64_t ns = 0;

		if (dot)
			*dot = '\0';
		if (kh_mparse_num(val, 10, &n) < 0 ||
		    (dot && (kh_mparse_num(dot + 1, 10, &ns) < 0 || ns < 0 ||
			     ns > 999999999)))
			return kh_mparse_fail(p, "bad time '%s%s%s'", val,
					      dot ? "." : "", dot ? dot + 1
					      : "");
		e->mtime = n;
		e->mtime_ns = (long)ns;
		e->keys |= KH_MK_TIME;
	} else if (!strcmp(kw, "sha256digest") || !strcmp(kw, "sha256")) {
		if (strlen(val) != 2 * KH_SHA256_LEN ||
		    kh_hash_unhex(val, e->sha256, KH_SHA256_LEN) < 0)
			return kh_mparse_fail(p, "bad sha256digest '%s'", val);
		e->keys |= KH_MK_SHA256;
	} else if (!strcmp(kw, "link")) {
		char *l = kh_mtree_unescape(val);

		if (!l)
			return kh_mparse_fail(p, "bad link '%s'", val);
		free(e->link);
		e->link = l;
		e->keys |= KH_MK_LINK;
	}
	return 0;
}

static int kh_mparse_set(struct kh_mparse *p, char **tok, size_t ntok)
{
	for (size_t i = 1; i < ntok; i++) {
		int ret = kh_mparse_keyword(p, tok[i], &p->set);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static void kh_mparse_unset(struct kh_mparse *p, char **tok, size_t ntok)
{
	static const struct { const char *kw; unsigned bit; } map[] = {
		{ "type", KH_MK_TYPE }, { "mode", KH_MK_MODE },
		{ "uid", KH_MK_UID }, { "gid", KH_MK_GID },
		{ "size", KH_MK_SIZE }, { "time", KH_MK_TIME },
		{ "sha256digest", KH_MK_SHA256 }, { "sha256", KH_MK_SHA256 },
		{ "link", KH_MK_LINK },
	};

	for (size_t i = 1; i < ntok; i++) {
		if (!strcmp(tok[i], "all"))
			p->set.keys = 0;
		for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++)
			if (!strcmp(tok[i], map[j].kw))
				p->set.keys &= ~map[j].bit;
	}
}

static int kh_mparse_field(struct kh_mparse *p, const char *line)
{
	const char *k = line + 1, *v;
	char key[64];
	size_t klen;
	struct kh_manifest *m = p->m;

	while (*k == ' ')
		k++;
	for (v = k; *v && (islower((unsigned char)*v) ||
			   isdigit((unsigned char)*v) || *v == '-'); v++)
		;
	klen = (size_t)(v - k);
	if (!klen || klen >= sizeof(key) || v[0] != ':' || v[1] != ' ')
		return 0;   /* a plain comment */
	memcpy(key, k, klen);
	key[klen] = '\0';
	v += 2;
	if (!strcmp(key, "entries")) {
		uint64_t n;

		if (kh_mparse_unum(v, &n) == 0)
			p->declared = (long)n;
		return 0;
	}
	if (!strcmp(key, "tar-sha256") || !strcmp(key, "archive-sha256")) {
		struct kh_manifest_digest *d = &p->dg[key[0] == 't' ?
			KH_MANIFEST_TAR : KH_MANIFEST_ARCHIVE];

		if (strcmp(v, "unknown")) {
			if (strlen(v) != 2 * KH_SHA256_LEN ||
			    kh_hash_unhex(v, d->sha256, KH_SHA256_LEN) < 0)
				return kh_mparse_fail(p, "bad %s '%s'", key, v);
			d->known |= 1;
		}
		return 0;
	}
	if (!strcmp(key, "tar-size") || !strcmp(key, "archive-size")) {
		struct kh_manifest_digest *d = &p->dg[key[0] == 't' ?
			KH_MANIFEST_TAR : KH_MANIFEST_ARCHIVE];

		if (strcmp(v, "unknown")) {
			if (kh_mparse_unum(v, &d->size) < 0)
				return kh_mparse_fail(p, "bad %s '%s'", key, v);
			d->known |= 2;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(kh_mtree_reserved) /
	     sizeof(kh_mtree_reserved[0]); i++)
		if (!strcmp(key, kh_mtree_reserved[i]))
			return 0;
	return kh_manifest_set_field(m, key, v, p->err);
}

/* Split on blanks, in place; at most cap tokens (the rest is joined). */
static size_t kh_mparse_split(char *s, char **tok, size_t cap)
{
	size_t n = 0;

	while (*s && n < cap) {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (!*s)
			break;
		tok[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

/* The bounds on a relative entry's path (see KH_MTREE_MAX_RELPATH),
 * checked before the path is made. */
static int kh_mparse_relpath(struct kh_mparse *p, const char *name)
{
	size_t len = strlen(p->cwd) + 1 + strlen(name);
	char lim[32];

	if (len >= KH_MTREE_MAX_RELPATH)
		return kh_mparse_fail(p, "relative entry's path over the %s "
				      "limit (directories nested too deep)",
				      kh_file_size_str(KH_MTREE_MAX_RELPATH,
						       lim, sizeof(lim)));
	if (len > KH_FILE_MAX_MANIFEST - p->relbytes)
		return kh_mparse_fail(p, "relative entries' paths over the %s "
				      "limit for a manifest",
				      kh_file_size_str(KH_FILE_MAX_MANIFEST,
						       lim, sizeof(lim)));
	p->relbytes += len;
	return 0;
}

static int kh_mparse_entry(struct kh_mparse *p, char *line)
{
	struct kh_manifest_entry e = p->set;
	char *tok[64], *name = NULL, *path = NULL;
	size_t ntok = kh_mparse_split(line, tok, 64);
	int full, ret = 0;

	e.path = NULL;
	e.link = NULL;
	e.data = NULL;
	if (ntok == 0)
		return 0;
	if (ntok == 64)
		return kh_mparse_fail(p, "too many keywords");
	full = strchr(tok[0], '/') || !strcmp(tok[0], ".");
	if (!full && !strcmp(tok[0], "..")) {
		/* Classic mtree: leave the current directory. */
		char *slash = strrchr(p->cwd, '/');

		if (slash)
			*slash = '\0';
		return 0;
	}
	name = kh_mtree_unescape(tok[0]);
	if (!name) {
		ret = kh_mparse_fail(p, "bad name '%s'", tok[0]);
		goto out;
	}
	if (!full)
		ret = kh_mparse_relpath(p, name);
	if (ret == 0 && p->set.link && !(e.link = strdup(p->set.link)))
		ret = KH_ENOMEM;
	for (size_t i = 1; ret == 0 && i < ntok; i++)
		ret = kh_mparse_keyword(p, tok[i], &e);
	if (ret == 0 && !full && asprintf(&path, "%s/%s", p->cwd, name) < 0) {
		path = NULL;
		ret = KH_ENOMEM;
	}
	if (ret == 0 && !(e.path = kh_manifest_normpath(full ? name : path)))
		ret = KH_ENOMEM;
	/* A relative directory entry is also where the next ones live. */
	if (ret == 0 && !full && (e.keys & KH_MK_TYPE) &&
	    e.type == KH_MANIFEST_DIR) {
		char *cwd = strdup(e.path);

		if (cwd) {
			free(p->cwd);
			p->cwd = cwd;
		} else {
			ret = KH_ENOMEM;
		}
	}
	if (ret == 0)
		ret = kh_manifest_add(p->m, &e, p->err);
	else if (ret == KH_ENOMEM && p->err->code != KH_ENOMEM)
		kh_error_set(p->err, KH_ENOMEM, NULL, "out of memory");
out:
	kh_manifest_entry_release(&e);
	free(name);
	free(path);
	return ret;
}

static int kh_mparse_line(struct kh_mparse *p, char *line)
{
	char *tok[64];
	size_t ntok;

	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line)
		return 0;
	if (*line == '#')
		return kh_mparse_field(p, line);
	if (!strncmp(line, "/set", 4) && (line[4] == ' ' || line[4] == '\t' ||
					  !line[4])) {
		ntok = kh_mparse_split(line, tok, 64);
		return kh_mparse_set(p, tok, ntok);
	}
	if (!strncmp(line, "/unset", 6) && (line[6] == ' ' ||
					    line[6] == '\t' || !line[6])) {
		ntok = kh_mparse_split(line, tok, 64);
		kh_mparse_unset(p, tok, ntok);
		return 0;
	}
	return kh_mparse_entry(p, line);
}

int kh_mtree_parse(const char *text, size_t len, const char *name,
		   struct kh_manifest **out, struct kh_error *err)
{
	struct kh_mparse p = { .name = name, .set = KH_MANIFEST_ENTRY_INIT,
			       .declared = -1, .err = err };
	struct kh_buf line = KH_BUF_INIT;
	size_t pos = 0;
	int ret;

	*out = NULL;
	if (!kh_mtree_is_text(text, len))
		return kh_error_set(err, KH_EINVAL, name, "not an mtree "
				    "manifest (no #mtree line)");
	if (memchr(text, '\0', len))
		return kh_error_set(err, KH_EINVAL, name, "not an mtree "
				    "manifest (a NUL byte)");
	ret = kh_manifest_new(&p.m, err);
	if (ret == 0 && !(p.cwd = strdup(".")))
		ret = kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	while (ret == 0 && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.lineno++;
		if (n && text[pos + n - 1] == '\r')
			n--;
		/* A trailing backslash continues the line. */
		if (n && text[pos + n - 1] == '\\') {
			kh_buf_add(&line, text + pos, n - 1);
			kh_buf_add(&line, " ", 1);
		} else {
			kh_buf_add(&line, text + pos, n);
			if (kh_buf_failed(&line))
				ret = kh_error_set(err, KH_ENOMEM, NULL,
						   "out of memory");
			else if (p.lineno > 1)
				ret = kh_mparse_line(&p, line.p);
			line.len = 0;
		}
		pos += nl ? n + 1 + (text[pos + n] == '\r') : n;
		if (!nl)
			break;
	}
	if (ret == 0 && p.declared >= 0 &&
	    (size_t)p.declared != kh_manifest_count(p.m))
		ret = kh_error_set(err, KH_EINVAL, name, "says %ld entries "
				   "but has %zu: truncated or edited?",
				   p.declared, kh_manifest_count(p.m));
	for (int s = 0; ret == 0 && s < 2; s++) {
		/* Both halves of a digest, or it is not known. */
		if (p.dg[s].known == 3)
			kh_manifest_set_digest(p.m, (enum kh_manifest_stream)s,
					       p.dg[s].sha256, p.dg[s].size);
	}
	kh_manifest_entry_release(&p.set);
	free(p.cwd);
	kh_buf_free(&line);
	if (ret < 0) {
		kh_manifest_free(p.m);
		return ret;
	}
	*out = p.m;
	return 0;
}
