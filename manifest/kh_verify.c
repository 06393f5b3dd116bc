/* kh_verify: an archive against a manifest or a rebuild (see
 * kh_verify.h). */
#include "manifest/kh_verify.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/kh_tmpdir.h"
#include "manifest/kh_archive_read.h"

/* Digest prefix shown for an entry's content; the manifest has it all. */
#define KH_VERIFY_SHORT_HEX 12

struct kh_verify {
	struct kh_verify_finding *v;
	size_t n, cap;
	enum kh_verify_verdict verdict;
	size_t nentries;
	struct kh_manifest *own[2];   /* what a rebuild compared */
	struct kh_verify_uniform uni[KH_VERIFY_NCLASSES];
	size_t nuni;
};

static int kh_verify_add(struct kh_verify *v, enum kh_verify_kind kind,
			 const char *path, char *expected, char *actual,
			 struct kh_error *err)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 32;
		struct kh_verify_finding *f = realloc(v->v, cap * sizeof(*f));

		if (!f)
			goto oom;
		v->v = f;
		v->cap = cap;
	}
	if ((kind != KH_VERIFY_MISSING && kind != KH_VERIFY_EXTRA &&
	     kind != KH_VERIFY_DUPLICATE) && (!expected || !actual))
		goto oom;
	v->v[v->n].kind = kind;
	v->v[v->n].path = path;
	v->v[v->n].expected = expected;
	v->v[v->n].actual = actual;
	v->n++;
	return 0;
oom:
	free(expected);
	free(actual);
	return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
}

static char *kh_verify_fmt(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *kh_verify_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static char *kh_verify_content(const struct kh_manifest_entry *e)
{
	char hex[2 * KH_SHA256_LEN + 1] = "";

	if (e->keys & KH_MK_SHA256)
		kh_hash_hex(e->sha256, KH_SHA256_LEN, hex);
	if (!(e->keys & KH_MK_SIZE))
		return kh_verify_fmt("sha256 %.*s", KH_VERIFY_SHORT_HEX, hex);
	if (!hex[0])
		return kh_verify_fmt("%" PRIu64 " bytes", e->size);
	return kh_verify_fmt("%" PRIu64 " bytes sha256 %.*s", e->size,
			     KH_VERIFY_SHORT_HEX, hex);
}

static char *kh_verify_time(const struct kh_manifest_entry *e)
{
	if (e->mtime_ns)
		return kh_verify_fmt("@%" PRId64 ".%09ld", e->mtime,
				     e->mtime_ns);
	return kh_verify_fmt("@%" PRId64, e->mtime);
}

static int kh_verify_both(const struct kh_manifest_entry *w,
			  const struct kh_manifest_entry *g, unsigned key)
{
	return (w->keys & key) && (g->keys & key);
}

/* Every way two entries of the same path differ. */
static int kh_verify_pair(struct kh_verify *v,
			  const struct kh_manifest_entry *w,
			  const struct kh_manifest_entry *g,
			  struct kh_error *err)
{
	const char *p = w->path;
	int ret = 0;

	if (kh_verify_both(w, g, KH_MK_TYPE) && w->type != g->type)
		return kh_verify_add(v, KH_VERIFY_TYPE, p,
				     strdup(kh_manifest_type_name(w->type)),
				     strdup(kh_manifest_type_name(g->type)),
				     err);
	if ((kh_verify_both(w, g, KH_MK_SHA256) &&
	     memcmp(w->sha256, g->sha256, KH_SHA256_LEN)) ||
	    (kh_verify_both(w, g, KH_MK_SIZE) && w->size != g->size))
		ret = kh_verify_add(v, KH_VERIFY_CONTENT, p,
				    kh_verify_content(w),
				    kh_verify_content(g), err);
	if (ret == 0 && kh_verify_both(w, g, KH_MK_LINK) &&
	    strcmp(w->link, g->link))
		ret = kh_verify_add(v, KH_VERIFY_LINK, p, strdup(w->link),
				    strdup(g->link), err);
	if (ret == 0 && kh_verify_both(w, g, KH_MK_MODE) && w->mode != g->mode)
		ret = kh_verify_add(v, KH_VERIFY_MODE, p,
				    kh_verify_fmt("%04o", w->mode),
				    kh_verify_fmt("%04o", g->mode), err);
	if (ret == 0 && kh_verify_both(w, g, KH_MK_UID) && w->uid != g->uid)
		ret = kh_verify_add(v, KH_VERIFY_UID, p,
				    kh_verify_fmt("%" PRId64, w->uid),
				    kh_verify_fmt("%" PRId64, g->uid), err);
	if (ret == 0 && kh_verify_both(w, g, KH_MK_GID) && w->gid != g->gid)
		ret = kh_verify_add(v, KH_VERIFY_GID, p,
				    kh_verify_fmt("%" PRId64, w->gid),
				    kh_verify_fmt("%" PRId64, g->gid), err);
	if (ret == 0 && kh_verify_both(w, g, KH_MK_TIME) &&
	    (w->mtime != g->mtime || w->mtime_ns != g->mtime_ns))
		ret = kh_verify_add(v, KH_VERIFY_MTIME, p, kh_verify_time(w),
				    kh_verify_time(g), err);
	return ret;
}

/* Entries present on both sides but not in the same relative order:
 * those outside a longest increasing run of manifest positions, taken
 * in archive order (patience sorting, O(n log n)). Minimal: moving one
 * entry reports that entry only. */
static int kh_verify_order(struct kh_verify *v,
			   const struct kh_manifest *want,
			   const struct kh_manifest *got,
			   struct kh_error *err)
{
	size_t n = kh_manifest_count(got), k = 0, len = 0;
	long *pos = malloc((n + 1) * sizeof(*pos));
	size_t *gi = malloc((n + 1) * sizeof(*gi));
	size_t *tails = malloc((n + 1) * sizeof(*tails));
	long *prev = malloc((n + 1) * sizeof(*prev));
	unsigned char *keep = calloc(n + 1, 1);
	int ret = 0;

	if (!pos || !gi || !tails || !prev || !keep) {
		ret = kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		const char *path = kh_manifest_at(got, j)->path;
		long w = kh_manifest_find(want, path);

		if (w >= 0 && kh_manifest_find(got, path) == (long)j) {
			pos[k] = w;
			gi[k++] = j;
		}
	}
	for (size_t i = 0; i < k; i++) {
		size_t lo = 0, hi = len;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (pos[tails[mid]] < pos[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		prev[i] = lo ? (long)tails[lo - 1] : -1;
		tails[lo] = i;
		if (lo == len)
			len++;
	}
	for (long i = len ? (long)tails[len - 1] : -1; i >= 0; i = prev[i])
		keep[i] = 1;
	for (size_t i = 0; ret == 0 && i < k; i++)
		if (!keep[i])
			ret = kh_verify_add(v, KH_VERIFY_ORDER,
				kh_manifest_at(got, gi[i])->path,
				kh_verify_fmt("entry %ld", pos[i] + 1),
				kh_verify_fmt("entry %zu", gi[i] + 1), err);
out:
	free(pos);
	free(gi);
	free(tails);
	free(prev);
	free(keep);
	return ret;
}

static char *kh_verify_digest(const struct kh_manifest_digest *d)
{
	char hex[2 * KH_SHA256_LEN + 1];

	kh_hash_hex(d->sha256, KH_SHA256_LEN, hex);
	return kh_verify_fmt("%" PRIu64 " bytes sha256 %s", d->size, hex);
}

static int kh_verify_stream(struct kh_verify *v,
			    const struct kh_manifest *want,
			    const struct kh_manifest *got,
			    enum kh_manifest_stream s, enum kh_verify_kind kind,
			    struct kh_error *err)
{
	const struct kh_manifest_digest *w = kh_manifest_digest(want, s);
	const struct kh_manifest_digest *g = kh_manifest_digest(got, s);

	if (!w->known || !g->known || (w->size == g->size &&
	    !memcmp(w->sha256, g->sha256, KH_SHA256_LEN)))
		return 0;
	return kh_verify_add(v, kind, NULL, kh_verify_digest(w),
			     kh_verify_digest(g), err);
}

static int kh_verify_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int kh_verify_judge(struct kh_verify *v, struct kh_error *err)
{
	const char **paths = malloc((v->n + 1) * sizeof(*paths));
	int tar = 0, archive = 0;
	size_t n = 0;

	if (!paths)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	v->verdict = KH_VERIFY_SAME;
	for (size_t i = 0; i < v->n; i++) {
		if (v->v[i].kind == KH_VERIFY_TAR)
			tar = 1;
		else if (v->v[i].kind == KH_VERIFY_ARCHIVE)
			archive = 1;
		else
			paths[n++] = v->v[i].path;
	}
	/* One entry may differ in several ways: count paths, not findings. */
	if (n)
		qsort(paths, n, sizeof(*paths), kh_verify_strcmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(paths[i - 1], paths[i]))
			v->nentries++;
	free(paths);
	if (n)
		v->verdict = KH_VERIFY_ENTRIES;
	else if (tar)
		v->verdict = KH_VERIFY_TAR_ONLY;
	else if (archive)
		v->verdict = KH_VERIFY_COMPRESSION_ONLY;
	return 0;
}

int kh_verify_compare(const struct kh_manifest *want,
		      const struct kh_manifest *got, struct kh_verify **out,
		      struct kh_error *err)
{
	struct kh_verify *v = calloc(1, sizeof(*v));
	int ret = 0;

	*out = NULL;
	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; ret == 0 && i < kh_manifest_count(want); i++) {
		const struct kh_manifest_entry *w = kh_manifest_at(want, i);
		long j = kh_manifest_find(got, w->path);

		if (kh_manifest_find(want, w->path) != (long)i)
			continue;   /* a manifest listing a path twice */
		if (j < 0)
			ret = kh_verify_add(v, KH_VERIFY_MISSING, w->path,
					    NULL, NULL, err);
		else
			ret = kh_verify_pair(v, w, kh_manifest_at(got,
							(size_t)j), err);
	}
	for (size_t j = 0; ret == 0 && j < kh_manifest_count(got); j++) {
		const char *path = kh_manifest_at(got, j)->path;

		if (kh_manifest_find(got, path) != (long)j)
			ret = kh_verify_add(v, KH_VERIFY_DUPLICATE, path,
					    NULL, NULL, err);
		else if (kh_manifest_find(want, path) < 0)
			ret = kh_verify_add(v, KH_VERIFY_EXTRA, path, NULL,
					    NULL, err);
	}
	if (ret == 0)
		ret = kh_verify_order(v, want, got, err);
	if (ret == 0)
		ret = kh_verify_stream(v, want, got, KH_MANIFEST_TAR,
				       KH_VERIFY_TAR, err);
	if (ret == 0)
		ret = kh_verify_stream(v, want, got, KH_MANIFEST_ARCHIVE,
				       KH_VERIFY_ARCHIVE, err);
	if (ret == 0)
		ret = kh_verify_judge(v, err);
	if (ret < 0) {
		kh_verify_free(v);
		return ret;
	}
	*out = v;
	return 0;
}

/* The value a class compares on one entry: 0 when the entry has none
 * (not of the class, or the keyword unknown). */
static int kh_verify_value(enum kh_verify_class c,
			   const struct kh_manifest_entry *e, int64_t *a,
			   int64_t *b)
{
	static const enum kh_manifest_type type[KH_VERIFY_NCLASSES] = {
		[KH_VERIFY_ALL_FILE_MODE] = KH_MANIFEST_FILE,
		[KH_VERIFY_ALL_DIR_MODE] = KH_MANIFEST_DIR,
		[KH_VERIFY_ALL_LINK_MODE] = KH_MANIFEST_LINK,
	};
	const unsigned owner = KH_MK_UID | KH_MK_GID;

	*b = 0;
	switch (c) {
	case KH_VERIFY_ALL_MTIME:
		*a = e->mtime;
		*b = e->mtime_ns;
		return !!(e->keys & KH_MK_TIME);
	case KH_VERIFY_ALL_OWNER:
		*a = e->uid;
		*b = e->gid;
		return (e->keys & owner) == owner;
	default:
		*a = e->mode;
		return (e->keys & KH_MK_MODE) && (e->keys & KH_MK_TYPE) &&
		       e->type == type[c];
	}
}

/* Does every entry of class c that both sides hold differ, and the same
 * way? (The archive's mtimes may vary: the rebuild's is one.) */
static int kh_verify_tally(enum kh_verify_class c,
			   const struct kh_manifest *want,
			   const struct kh_manifest *got,
			   struct kh_verify_uniform *u)
{
	size_t n = 0;

	memset(u, 0, sizeof(*u));
	u->cls = c;
	for (size_t i = 0; i < kh_manifest_count(want); i++) {
		const struct kh_manifest_entry *w = kh_manifest_at(want, i);
		long j = kh_manifest_find(got, w->path);
		const struct kh_manifest_entry *g;
		int64_t wa, wb, ga, gb;

		if (j < 0 || kh_manifest_find(want, w->path) != (long)i)
			continue;
		g = kh_manifest_at(got, (size_t)j);
		if (kh_verify_both(w, g, KH_MK_TYPE) && w->type != g->type)
			continue;   /* a type finding says it all */
		if (!kh_verify_value(c, w, &wa, &wb) ||
		    !kh_verify_value(c, g, &ga, &gb))
			continue;
		if (wa == ga && wb == gb)
			return 0;   /* one entry agrees: not shared */
		if (n++ == 0) {
			u->want = wa;
			u->want_gid = wb;
			u->got = u->got_last = ga;
			u->got_gid = gb;
			u->several = c == KH_VERIFY_ALL_MTIME && gb;
			continue;
		}
		if (wa != u->want || wb != u->want_gid)
			return 0;
		if (ga == u->got && gb == u->got_gid)
			continue;
		if (c != KH_VERIFY_ALL_MTIME)
			return 0;
		u->several = 1;
		if (ga < u->got)
			u->got = ga;
		if (ga > u->got_last)
			u->got_last = ga;
	}
	u->count = n;
	return n >= 2;
}

/* Is finding f covered by a summary? */
static int kh_verify_folded(const struct kh_verify *v,
			    const struct kh_manifest *want,
			    const struct kh_verify_finding *f)
{
	enum kh_verify_class c;
	long i;

	switch (f->kind) {
	case KH_VERIFY_MTIME:
		c = KH_VERIFY_ALL_MTIME;
		break;
	case KH_VERIFY_UID:
	case KH_VERIFY_GID:
		c = KH_VERIFY_ALL_OWNER;
		break;
	case KH_VERIFY_MODE:
		i = kh_manifest_find(want, f->path);
		if (i < 0)
			return 0;
		switch (kh_manifest_at(want, (size_t)i)->type) {
		case KH_MANIFEST_FILE: c = KH_VERIFY_ALL_FILE_MODE; break;
		case KH_MANIFEST_DIR: c = KH_VERIFY_ALL_DIR_MODE; break;
		case KH_MANIFEST_LINK: c = KH_VERIFY_ALL_LINK_MODE; break;
		default: return 0;
		}
		break;
	default:
		return 0;
	}
	for (size_t k = 0; k < v->nuni; k++)
		if (v->uni[k].cls == c)
			return 1;
	return 0;
}

/* Fold what every entry shares into one summary per class; what is
 * left are the findings that say something about one entry. */
static void kh_verify_summarise(struct kh_verify *v,
				const struct kh_manifest *want,
				const struct kh_manifest *got)
{
	size_t k = 0;

	for (int c = 0; c < KH_VERIFY_NCLASSES; c++)
		if (kh_verify_tally((enum kh_verify_class)c, want, got,
				    &v->uni[v->nuni]))
			v->nuni++;
	if (!v->nuni)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (kh_verify_folded(v, want, &v->v[i])) {
			free(v->v[i].expected);
			free(v->v[i].actual);
			continue;
		}
		v->v[k++] = v->v[i];
	}
	v->n = k;
}

int kh_verify_mtimes(const struct kh_manifest *m, int64_t *first,
		     int64_t *last)
{
	int found = 0, fraction = 0;

	for (size_t i = 0; i < kh_manifest_count(m); i++) {
		const struct kh_manifest_entry *e = kh_manifest_at(m, i);

		if (!(e->keys & KH_MK_TIME))
			continue;
		if (e->mtime_ns)
			fraction = 1;
		if (!found++ || e->mtime < *first)
			*first = e->mtime;
		if (found == 1 || e->mtime > *last)
			*last = e->mtime;
	}
	if (!found)
		return 0;
	/* A fraction is what --mtime cannot give (it drops one). */
	return *first == *last && !fraction ? 1 : 2;
}

/* Build the archive again, as gen would, into dir/rebuilt.tar.xz. */
static int kh_verify_regen(const struct kh_gen_opts *opts, const char *path,
			   struct kh_error *err)
{
	struct kh_gen_result res = KH_GEN_RESULT_INIT;
	struct kh_gen_opts o = *opts;

	o.output = path;
	o.stub = NULL;
	o.incbin = NULL;
	o.state = NULL;
	o.depfile = NULL;
	o.manifest = NULL;
	o.tool = "";
	o.force = 1;
	return kh_gen_run(&o, &res, err);
}

int kh_verify_rebuild(const struct kh_gen_opts *opts,
		      const unsigned char *have, size_t nhave,
		      const struct kh_manifest *have_m,
		      const char *archive, const char *tmpdir,
		      struct kh_verify **out, struct kh_error *err)
{
	unsigned char *again = NULL;
	size_t nagain = 0;
	struct kh_manifest *want = NULL, *got = NULL;
	const struct kh_manifest *g = have_m;
	char prefix[PATH_MAX], path[PATH_MAX + 32];
	char *dir = NULL;
	int ret, dirfd = -1;

	*out = NULL;
	if (!tmpdir)
		tmpdir = getenv("TMPDIR");
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	/* A private directory, locked while we run; what killed runs left
	 * goes first, and a signal handler removes ours. */
	snprintf(prefix, sizeof(prefix), "%s/kheaders-verify.", tmpdir);
	kh_tmpdir_sweep(prefix);
	ret = kh_tmpdir_make(prefix, tmpdir, &dir, &dirfd, err);
	if (ret < 0)
		goto out;
	kh_tmpdir_watch(dir);
	/* gen locks its output's directory: not ours, which we hold. */
	snprintf(path, sizeof(path), "%s/out", dir);
	if (mkdir(path, 0700) < 0) {
		ret = kh_error_sys(err, errno, path, "cannot create directory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/out/rebuilt.tar.xz", dir);
	ret = kh_verify_regen(opts, path, err);
	if (ret == 0)
		ret = kh_archive_slurp(path, &again, &nagain, err);
	if (ret < 0)
		goto out;
	if (nhave == nagain && !memcmp(have, again, nhave)) {
		*out = calloc(1, sizeof(**out));
		if (!*out)
			ret = kh_error_set(err, KH_ENOMEM, NULL,
					   "out of memory");
		goto out;
	}
	ret = kh_archive_read_mem(again, nagain, "the rebuilt archive", 0,
				  &want, err);
	if (ret == 0 && !g) {
		ret = kh_archive_read_mem(have, nhave, archive, 0, &got, err);
		g = got;
	}
	if (ret == 0)
		ret = kh_verify_compare(want, g, out, err);
	if (ret == 0) {
		kh_verify_summarise(*out, want, g);
		(*out)->own[0] = want;
		(*out)->own[1] = got;
		want = got = NULL;
	}
out:
	if (dir) {
		kh_tmpdir_remove(dir);
		kh_tmpdir_unwatch(dir);
		close(dirfd);
		free(dir);
	}
	kh_manifest_free(want);
	kh_manifest_free(got);
	free(again);
	return ret;
}

void kh_verify_free(struct kh_verify *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].expected);
		free(v->v[i].actual);
	}
	free(v->v);
	kh_manifest_free(v->own[0]);
	kh_manifest_free(v->own[1]);
	free(v);
}

enum kh_verify_verdict kh_verify_verdict(const struct kh_verify *v)
{
	return v->verdict;
}

size_t kh_verify_count(const struct kh_verify *v)
{
	return v->n;
}

const struct kh_verify_finding *kh_verify_at(const struct kh_verify *v,
					     size_t i)
{
	return i < v->n ? &v->v[i] : NULL;
}

size_t kh_verify_entries(const struct kh_verify *v)
{
	return v->nentries;
}

size_t kh_verify_uniform_count(const struct kh_verify *v)
{
	return v->nuni;
}

const struct kh_verify_uniform *kh_verify_uniform_at(
	const struct kh_verify *v, size_t i)
{
	return i < v->nuni ? &v->uni[i] : NULL;
}
