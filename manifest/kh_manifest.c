/* kh_manifest: the manifest model: entries in archive order, their
 * path index, the "# key: value" facts and the streams' digests (see
 * kh_manifest.h). Its text form is in kh_mtree.c, the facts read from
 * a kernel tree in kh_facts.c.
 */
#include "manifest/kh_manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int kh_manifest_type_parse(const char *s)
{
	for (size_t i = 1; i < KH_MANIFEST_NTYPES; i++)
		if (!strcmp(s, kh_manifest_types[i]))
			return (int)i;
	return -1;
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

size_t kh_manifest_nfields(const struct kh_manifest *m)
{
	return m->nfields;
}

void kh_manifest_field_at(const struct kh_manifest *m, size_t i,
			  const char **key, const char **value)
{
	*key = i < m->nfields ? m->fields[i].key : NULL;
	*value = i < m->nfields ? m->fields[i].value : NULL;
}

void kh_manifest_observed(const struct kh_manifest *m, const char **filter,
			  const char **format)
{
	*filter = m->filter;
	*format = m->format;
}
