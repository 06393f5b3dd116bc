/* kh_manifest: the manifest model, its mtree writer and parser (see
 * kh_manifest.h). */
#include "manifest/kh_manifest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_buf.h"
#include "lib/kh_file.h"
#include "lib/kh_time.h"

#ifndef KH_VERSION
#define KH_VERSION "unknown"
#endif

/* Tree facts are read from the first lines of small files; anything
 * longer than this is not the file we are looking for. */
#define KH_MANIFEST_FACT_MAX 65536
#define KH_MANIFEST_MAKEFILE_LINES 64

struct kh_manifest_field {
	char *key;
	char *value;
};

struct kh_manifest {
	struct kh_manifest_entry *v;
	size_t n, cap;
	struct kh_manifest_field *fields;
	size_t nfields;
	struct kh_manifest_digest digest[2];
	char *filter;           /* what the reader saw, or NULL */
	char *format;
	size_t *slots;          /* path index: entry index + 1, 0 empty */
	size_t nslots;          /* a power of two, or 0 */
};

/* Keys the writer produces itself from typed data; a parsed manifest
 * keeps them there, not among the free-form fields. */
static const char *const kh_manifest_reserved[] = {
	"kheaders-manifest", "entries", "tar-sha256", "tar-size",
	"archive-sha256", "archive-size",
};

static const char *const kh_manifest_types[] = {
	[KH_MANIFEST_FILE] = "file",
	[KH_MANIFEST_DIR] = "dir",
	[KH_MANIFEST_LINK] = "link",
	[KH_MANIFEST_CHAR] = "char",
	[KH_MANIFEST_BLOCK] = "block",
	[KH_MANIFEST_FIFO] = "fifo",
	[KH_MANIFEST_SOCKET] = "socket",
};

#define KH_MANIFEST_NTYPES \
	(sizeof(kh_manifest_types) / sizeof(kh_manifest_types[0]))

const char *kh_manifest_type_name(enum kh_manifest_type t)
{
	if ((size_t)t < KH_MANIFEST_NTYPES && kh_manifest_types[t])
		return kh_manifest_types[t];
	return "unknown";
}

static int kh_manifest_type_parse(const char *s)
{
	for (size_t i = 1; i < KH_MANIFEST_NTYPES; i++)
		if (!strcmp(s, kh_manifest_types[i]))
			return (int)i;
	return -1;
}

/* ---- paths ---- */

/* libarchive's mtree writer leaves these bytes alone (its safe_char
 * table): printable ASCII but space, '#', '=' and '\'. */
static int kh_manifest_safe(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#' && c != '=' && c != '\\';
}

char *kh_manifest_escape(const char *s)
{
	char *out = malloc(4 * strlen(s) + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (kh_manifest_safe(c)) {
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
char *kh_manifest_unescape(const char *s)
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

char *kh_manifest_normpath(const char *s)
{
	size_t len;
	char *out;

	for (;;) {
		if (s[0] == '/')
			s++;
		else if (s[0] == '.' && s[1] == '/')
			s += 2;
		else if (s[0] == '.' && s[1] == '\0')
			s++;
		else
			break;
	}
	len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		len--;
	if (len == 0)
		return strdup(".");
	out = malloc(len + 3);
	if (out) {
		memcpy(out, "./", 2);
		memcpy(out + 2, s, len);
		out[len + 2] = '\0';
	}
	return out;
}

/* ---- the model ---- */

int kh_manifest_new(struct kh_manifest **out, struct kh_error *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	return 0;
}

void kh_manifest_entry_release(struct kh_manifest_entry *e)
{
	free(e->path);
	free(e->link);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

void kh_manifest_free(struct kh_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		kh_manifest_entry_release(&m->v[i]);
	for (size_t i = 0; i < m->nfields; i++) {
		free(m->fields[i].key);
		free(m->fields[i].value);
	}
	free(m->v);
	free(m->fields);
	free(m->filter);
	free(m->format);
	free(m->slots);
	free(m);
}

/* FNV-1a: paths are short and this index is only for lookups. */
static size_t kh_manifest_hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return (size_t)(h ^ (h >> 32));
}

static void kh_manifest_index_put(size_t *slots, size_t nslots,
				  const struct kh_manifest_entry *v, size_t i)
{
	size_t mask = nslots - 1, h = kh_manifest_hash(v[i].path) & mask;

	while (slots[h]) {
		/* The first entry of a path wins, as in an extraction
		 * listing; duplicates stay reachable by index only. */
		if (!strcmp(v[slots[h] - 1].path, v[i].path))
			return;
		h = (h + 1) & mask;
	}
	slots[h] = i + 1;
}

static int kh_manifest_index_grow(struct kh_manifest *m)
{
	size_t nslots = m->nslots ? m->nslots * 2 : 64;
	size_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < m->n; i++)
		kh_manifest_index_put(slots, nslots, m->v, i);
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
	return 0;
}

int kh_manifest_add(struct kh_manifest *m, struct kh_manifest_entry *e,
		    struct kh_error *err)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		struct kh_manifest_entry *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		m->v = v;
		m->cap = cap;
	}
	if (2 * (m->n + 1) > m->nslots && kh_manifest_index_grow(m) < 0)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	m->v[m->n] = *e;
	memset(e, 0, sizeof(*e));
	kh_manifest_index_put(m->slots, m->nslots, m->v, m->n);
	m->n++;
	return 0;
}

size_t kh_manifest_count(const struct kh_manifest *m)
{
	return m->n;
}

const struct kh_manifest_entry *kh_manifest_at(const struct kh_manifest *m,
					       size_t i)
{
	return i < m->n ? &m->v[i] : NULL;
}

long kh_manifest_find(const struct kh_manifest *m, const char *path)
{
	size_t mask, h;

	if (!m->nslots)
		return -1;
	mask = m->nslots - 1;
	for (h = kh_manifest_hash(path) & mask; m->slots[h];
	     h = (h + 1) & mask)
		if (!strcmp(m->v[m->slots[h] - 1].path, path))
			return (long)(m->slots[h] - 1);
	return -1;
}

/* A fact value on one line: control bytes and DEL would break it. */
static char *kh_manifest_oneline(const char *s)
{
	char *out = strdup(s);

	for (char *p = out; p && *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	return out;
}

int kh_manifest_set_field(struct kh_manifest *m, const char *key,
			  const char *value, struct kh_error *err)
{
	struct kh_manifest_field *f;
	char *k = NULL, *v = kh_manifest_oneline(value);

	for (size_t i = 0; v && i < m->nfields; i++) {
		if (!strcmp(m->fields[i].key, key)) {
			free(m->fields[i].value);
			m->fields[i].value = v;
			return 0;
		}
	}
	f = v ? realloc(m->fields, (m->nfields + 1) * sizeof(*f)) : NULL;
	if (f)
		m->fields = f;
	if (!f || !(k = strdup(key))) {
		free(v);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	m->fields[m->nfields].key = k;
	m->fields[m->nfields].value = v;
	m->nfields++;
	return 0;
}

const char *kh_manifest_field(const struct kh_manifest *m, const char *key)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (!strcmp(m->fields[i].key, key))
			return m->fields[i].value;
	return NULL;
}

void kh_manifest_set_digest(struct kh_manifest *m,
			    enum kh_manifest_stream s,
			    const unsigned char sha256[KH_SHA256_LEN],
			    uint64_t size)
{
	m->digest[s].known = 1;
	memcpy(m->digest[s].sha256, sha256, KH_SHA256_LEN);
	m->digest[s].size = size;
}

const struct kh_manifest_digest *kh_manifest_digest(
	const struct kh_manifest *m, enum kh_manifest_stream s)
{
	return &m->digest[s];
}

int kh_manifest_set_observed(struct kh_manifest *m, const char *filter,
			     const char *format, struct kh_error *err)
{
	char *f = filter ? strdup(filter) : NULL;
	char *t = format ? strdup(format) : NULL;

	if ((filter && !f) || (format && !t)) {
		free(f);
		free(t);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	if (f) {
		free(m->filter);
		m->filter = f;
	}
	if (t) {
		free(m->format);
		m->format = t;
	}
	return 0;
}

/* ---- facts about the tree ---- */

/* The first bytes of root/rel as a string, or NULL when absent. */
static char *kh_manifest_slurp_small(const char *root, const char *rel)
{
	char path[4096];
	FILE *fp;
	char *buf;
	size_t n;

	if (!root)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fp = fopen(path, "re");
	if (!fp)
		return NULL;
	buf = malloc(KH_MANIFEST_FACT_MAX + 1);
	n = buf ? fread(buf, 1, KH_MANIFEST_FACT_MAX, fp) : 0;
	if (buf)
		buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* A generated header: objtree's copy, else srctree's (as the walk). */
static char *kh_manifest_slurp_gen(const struct kh_manifest_origin *o,
				   const char *rel)
{
	char *s = kh_manifest_slurp_small(o->objtree, rel);

	return s ? s : kh_manifest_slurp_small(o->srctree, rel);
}

/* "NAME = value" among the Makefile's first lines, as Make reads it
 * (spaces around '=' and at the end dropped); "" when absent. */
static void kh_manifest_make_var(const char *mk, const char *name,
				 char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *line = mk;

	out[0] = '\0';
	for (int i = 0; line && *line && i < KH_MANIFEST_MAKEFILE_LINES; i++) {
		const char *end = strchr(line, '\n');
		const char *p = line + nlen;
		size_t len;

		if (!end)
			end = line + strlen(line);
		if (!strncmp(line, name, nlen) &&
		    (*p == ' ' || *p == '\t' || *p == '=')) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '=') {
				p++;
				while (p < end && (*p == ' ' || *p == '\t'))
					p++;
				len = (size_t)(end - p);
				while (len && isspace((unsigned char)p[len - 1]))
					len--;
				snprintf(out, size, "%.*s", (int)len, p);
				return;
			}
		}
		line = *end ? end + 1 : NULL;
	}
}

/* `make kernelversion`: VERSION.PATCHLEVEL.SUBLEVEL EXTRAVERSION. */
static void kh_manifest_kernelversion(const char *mk, char *out, size_t size)
{
	char v[32], p[32], s[32], x[64];

	kh_manifest_make_var(mk, "VERSION", v, sizeof(v));
	kh_manifest_make_var(mk, "PATCHLEVEL", p, sizeof(p));
	kh_manifest_make_var(mk, "SUBLEVEL", s, sizeof(s));
	kh_manifest_make_var(mk, "EXTRAVERSION", x, sizeof(x));
	out[0] = '\0';
	if (!v[0])
		return;
	snprintf(out, size, "%s%s%s%s%s%s", v, p[0] ? "." : "", p,
		 p[0] && s[0] ? "." : "", p[0] ? s : "", x);
}

/* The value after "#define NAME" in a header, quotes removed. */
static void kh_manifest_define(const char *h, const char *name, char *out,
			       size_t size)
{
	size_t nlen = strlen(name);
	const char *p = h;

	out[0] = '\0';
	while (p && (p = strstr(p, "#define")) != NULL) {
		const char *q = p + 7, *end;

		p = q;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, name, nlen) || (q[nlen] != ' ' &&
					       q[nlen] != '\t'))
			continue;
		q += nlen;
		while (*q == ' ' || *q == '\t')
			q++;
		end = q;
		while (*end && *end != '\n')
			end++;
		while (end > q && isspace((unsigned char)end[-1]))
			end--;
		if (end - q >= 2 && *q == '"' && end[-1] == '"') {
			q++;
			end--;
		}
		snprintf(out, size, "%.*s", (int)(end - q), q);
		return;
	}
}

static int kh_manifest_tree_facts(struct kh_manifest *m,
				  const struct kh_manifest_origin *o,
				  struct kh_error *err)
{
	char *mk = kh_manifest_slurp_small(o->srctree, "Makefile");
	char *uts = kh_manifest_slurp_gen(o, "include/generated/utsrelease.h");
	char *ver = kh_manifest_slurp_gen(o,
			"include/generated/uapi/linux/version.h");
	char val[256], buf[320];
	int ret;

	kh_manifest_kernelversion(mk ? mk : "", val, sizeof(val));
	ret = kh_manifest_set_field(m, "kernel-version", val[0] ? val :
			"unknown (no VERSION in the srctree's Makefile)", err);
	kh_manifest_define(uts ? uts : "", "UTS_RELEASE", val, sizeof(val));
	if (ret == 0)
		ret = kh_manifest_set_field(m, "kernel-release", val[0] ? val :
			"unknown (no include/generated/utsrelease.h)", err);
	kh_manifest_define(ver ? ver : "", "LINUX_VERSION_CODE", val,
			   sizeof(val));
	if (val[0]) {
		char *end;
		unsigned long code = strtoul(val, &end, 0);

		/* KERNEL_VERSION(a, b, c): a << 16 | b << 8 | c. */
		if (*end == '\0')
			snprintf(buf, sizeof(buf), "%s (%lu.%lu.%lu)", val,
				 code >> 16, (code >> 8) & 255, code & 255);
		else
			snprintf(buf, sizeof(buf), "%s", val);
	}
	if (ret == 0)
		ret = kh_manifest_set_field(m, "linux-version-code", val[0] ?
			buf : "unknown (no include/generated/uapi/linux/"
			"version.h)", err);
	free(mk);
	free(uts);
	free(ver);
	return ret;
}

/* gen's options, under readable names; anything new is recorded as
 * "option" so that a manifest never silently omits a knob. */
static int kh_manifest_options(struct kh_manifest *m,
			       const struct kh_manifest_origin *o,
			       struct kh_error *err)
{
	const char *arch = "unknown", *strip = "unknown";
	const char *format = NULL, *xz = NULL;
	char mtime[96] = "unknown", buf[512];
	int ret;

	for (size_t i = 0; i < o->noptions; i++) {
		const char *kv = o->options[i];

		if (!strncmp(kv, "mtime=", 6)) {
			char when[64];

			kh_time_format(strtoll(kv + 6, NULL, 10), when,
				       sizeof(when));
			snprintf(mtime, sizeof(mtime), "@%s (%s)", kv + 6,
				 when);
		} else if (!strncmp(kv, "arch=", 5)) {
			arch = kv + 5;
		} else if (!strncmp(kv, "strip=", 6)) {
			strip = kv + 6;
		} else if (!strncmp(kv, "format=", 7)) {
			format = kv + 7;
		} else if (!strncmp(kv, "xz=", 3)) {
			xz = kv + 3;
		}
	}
	ret = kh_manifest_set_field(m, "srcarch", arch, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "mtime", mtime, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "strip", strip, err);
	snprintf(buf, sizeof(buf), "%s", format ? format : m->format ?
		 m->format : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "format", buf, err);
	if (xz)
		snprintf(buf, sizeof(buf), "xz %s", xz);
	else
		snprintf(buf, sizeof(buf), "%s", m->filter ? m->filter
			 : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "compression", buf, err);
	for (size_t i = 0; ret == 0 && i < o->noptions; i++) {
		const char *kv = o->options[i];

		/* stub-* describe the .S, not the archive. */
		if (!strncmp(kv, "mtime=", 6) || !strncmp(kv, "arch=", 5) ||
		    !strncmp(kv, "strip=", 6) || !strncmp(kv, "format=", 7) ||
		    !strncmp(kv, "xz=", 3) || !strncmp(kv, "stub-", 5))
			continue;
		ret = kh_manifest_set_field(m, "option", kv, err);
	}
	return ret;
}

int kh_manifest_describe(struct kh_manifest *m,
			 const struct kh_manifest_origin *o,
			 struct kh_error *err)
{
	static const char unknown[] = "unknown (read from an existing archive)";
	char buf[256];
	int ret;

	ret = kh_manifest_set_field(m, "tool", "kheaders " KH_VERSION, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "source", o && o->srctree ?
			"kernel tree (kheaders gen)" :
			"archive (kheaders manifest; how it was built is "
			"unknown)", err);
	if (ret == 0 && o && o->srctree) {
		ret = kh_manifest_tree_facts(m, o, err);
		return ret ? ret : kh_manifest_options(m, o, err);
	}
	if (ret == 0)
		ret = kh_manifest_set_field(m, "kernel-version", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "kernel-release", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "linux-version-code", unknown,
					    err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "srcarch", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "mtime", unknown, err);
	if (ret == 0)
		ret = kh_manifest_set_field(m, "strip", unknown, err);
	snprintf(buf, sizeof(buf), "%s (as read)",
		 m->format ? m->format : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "format", buf, err);
	snprintf(buf, sizeof(buf), "%s (as read)",
		 m->filter ? m->filter : "unknown");
	if (ret == 0)
		ret = kh_manifest_set_field(m, "compression", buf, err);
	return ret;
}

/* Facts that follow from gen's options, which the state covers. */
static int kh_manifest_from_options(const char *key)
{
	static const char *const keys[] = {
		"srcarch", "mtime", "strip", "format", "compression", "option",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

int kh_manifest_facts_fresh(const char *path,
			    const struct kh_manifest_origin *o, int *fresh,
			    struct kh_error *err)
{
	struct kh_manifest *want = NULL;
	char *line = NULL;
	size_t cap = 0, same = 0, n = 0;
	FILE *fp;
	int ret;

	*fresh = 0;
	fp = fopen(path, "re");
	if (!fp)
		return 0;
	ret = kh_manifest_new(&want, err);
	if (ret == 0)
		ret = kh_manifest_describe(want, o, err);
	for (size_t i = 0; ret == 0 && i < want->nfields; i++)
		n += !kh_manifest_from_options(want->fields[i].key);
	while (ret == 0 && getline(&line, &cap, fp) > 0 && line[0] == '#') {
		char *colon = strstr(line, ": ");
		size_t len = strlen(line);

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!colon || line[1] != ' ')
			continue;
		*colon = '\0';
		if (kh_manifest_from_options(line + 2))
			continue;
		for (size_t i = 0; i < want->nfields; i++)
			if (!strcmp(want->fields[i].key, line + 2) &&
			    !strcmp(want->fields[i].value, colon + 2))
				same++;
	}
	/* The writer puts each fact once: n matches mean all match. */
	*fresh = ret == 0 && same == n;
	free(line);
	fclose(fp);
	kh_manifest_free(want);
	return ret;
}

/* ---- writer ---- */

static void kh_manifest_put_digest(struct kh_buf *b, const char *name,
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

static void kh_manifest_put_entry(struct kh_buf *b,
				  const struct kh_manifest_entry *e)
{
	char *p = kh_manifest_escape(e->path);

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
		char *l = kh_manifest_escape(e->link);

		if (!l) {
			b->oom = 1;
			return;
		}
		kh_buf_printf(b, " link=%s", l);
		free(l);
	}
	kh_buf_str(b, "\n");
}

int kh_manifest_format(const struct kh_manifest *m, char **text,
		       size_t *len, struct kh_error *err)
{
	struct kh_buf b = KH_BUF_INIT;

	kh_buf_printf(&b, "%s\n# kheaders-manifest: %d\n", KH_MANIFEST_MAGIC,
		      KH_MANIFEST_VERSION);
	for (size_t i = 0; i < m->nfields; i++)
		kh_buf_printf(&b, "# %s: %s\n", m->fields[i].key,
			      m->fields[i].value);
	kh_buf_printf(&b, "# entries: %zu\n", m->n);
	kh_manifest_put_digest(&b, "tar", &m->digest[KH_MANIFEST_TAR]);
	kh_manifest_put_digest(&b, "archive", &m->digest[KH_MANIFEST_ARCHIVE]);
	for (size_t i = 0; i < m->n; i++)
		kh_manifest_put_entry(&b, &m->v[i]);
	*text = kh_buf_take(&b, len);
	if (!*text)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	return 0;
}

/* ---- parser ---- */

int kh_manifest_is_mtree(const void *buf, size_t len)
{
	size_t n = strlen(KH_MANIFEST_MAGIC);

	return len >= n && !memcmp(buf, KH_MANIFEST_MAGIC, n) &&
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
#define KH_MANIFEST_MAX_RELPATH 4096

struct kh_mparse {
	const char *name;
	size_t lineno;
	struct kh_manifest *m;
	struct kh_manifest_entry set;   /* /set defaults */
	char *cwd;                      /* classic relative entries */
	long declared;                  /* "# entries:", or -1 */
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
		char *l = kh_manifest_unescape(val);

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
		struct kh_manifest_digest *d = &m->digest[key[0] == 't' ?
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
		struct kh_manifest_digest *d = &m->digest[key[0] == 't' ?
			KH_MANIFEST_TAR : KH_MANIFEST_ARCHIVE];

		if (strcmp(v, "unknown")) {
			if (kh_mparse_unum(v, &d->size) < 0)
				return kh_mparse_fail(p, "bad %s '%s'", key, v);
			d->known |= 2;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(kh_manifest_reserved) /
	     sizeof(kh_manifest_reserved[0]); i++)
		if (!strcmp(key, kh_manifest_reserved[i]))
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

/* The bounds on a relative entry's path (see KH_MANIFEST_MAX_RELPATH),
 * checked before the path is made. */
static int kh_mparse_relpath(struct kh_mparse *p, const char *name)
{
	size_t len = strlen(p->cwd) + 1 + strlen(name);
	char lim[32];

	if (len >= KH_MANIFEST_MAX_RELPATH)
		return kh_mparse_fail(p, "relative entry's path over the %s "
				      "limit (directories nested too deep)",
				      kh_file_size_str(KH_MANIFEST_MAX_RELPATH,
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
	name = kh_manifest_unescape(tok[0]);
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

int kh_manifest_parse(const char *text, size_t len, const char *name,
		      struct kh_manifest **out, struct kh_error *err)
{
	struct kh_mparse p = { .name = name, .set = KH_MANIFEST_ENTRY_INIT,
			       .declared = -1, .err = err };
	struct kh_buf line = KH_BUF_INIT;
	size_t pos = 0;
	int ret;

	*out = NULL;
	if (!kh_manifest_is_mtree(text, len))
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
	if (ret == 0 && p.declared >= 0 && (size_t)p.declared != p.m->n)
		ret = kh_error_set(err, KH_EINVAL, name, "says %ld entries "
				   "but has %zu: truncated or edited?",
				   p.declared, p.m->n);
	for (int s = 0; ret == 0 && s < 2; s++) {
		/* Both halves of a digest, or it is not known. */
		p.m->digest[s].known = p.m->digest[s].known == 3;
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
