/* kh_diff: set difference of two manifests, and unified diffs of two
 * texts (see kh_diff.h). */
#include "lib/kh_tarorder.h"
#include "manifest/kh_diff.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kh_buf.h"
#include "manifest/kh_myers.h"

struct kh_diff {
	struct kh_diff_change *v;
	size_t n, cap;
	size_t counts[KH_DIFF_NKINDS];
};

static const char *const kh_diff_kinds[KH_DIFF_NKINDS] = {
	"added", "removed", "changed", "mode", "type", "link",
};

const char *kh_diff_kind_name(enum kh_diff_kind k)
{
	return (unsigned)k < KH_DIFF_NKINDS ? kh_diff_kinds[k] : "?";
}

static int kh_diff_cmp(const void *pa, const void *pb)
{
	const struct kh_diff_change *a = pa, *b = pb;
	int c = kh_tarorder_cmp(a->path, b->path);

	return c ? c : (int)a->kind - (int)b->kind;
}

static int kh_diff_add(struct kh_diff *d, enum kh_diff_kind kind,
		       const struct kh_manifest_entry *a,
		       const struct kh_manifest_entry *b,
		       struct kh_error *err)
{
	struct kh_diff_change *v;

	v = kh_buf_grow_array(d->v, &d->cap, d->n + 1, sizeof(*v), 64);
	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	d->v = v;
	d->v[d->n].kind = kind;
	d->v[d->n].path = a ? a->path : b->path;
	d->v[d->n].a = a;
	d->v[d->n].b = b;
	d->n++;
	d->counts[kind]++;
	return 0;
}

static int kh_diff_has(const struct kh_manifest_entry *a,
		       const struct kh_manifest_entry *b, unsigned key)
{
	return (a->keys & key) && (b->keys & key);
}

/* The changes between two entries of the same path. */
static int kh_diff_pair(struct kh_diff *d, const struct kh_manifest_entry *a,
			const struct kh_manifest_entry *b,
			struct kh_error *err)
{
	int ret = 0;

	if (kh_diff_has(a, b, KH_MK_TYPE) && a->type != b->type)
		return kh_diff_add(d, KH_DIFF_TYPE, a, b, err);
	if (a->type == KH_MANIFEST_FILE) {
		int changed = kh_diff_has(a, b, KH_MK_SHA256) ?
			memcmp(a->sha256, b->sha256, KH_SHA256_LEN) != 0 :
			kh_diff_has(a, b, KH_MK_SIZE) && a->size != b->size;

		if (changed)
			ret = kh_diff_add(d, KH_DIFF_CHANGED, a, b, err);
	}
	if (ret == 0 && a->type == KH_MANIFEST_LINK &&
	    kh_diff_has(a, b, KH_MK_LINK) && strcmp(a->link, b->link))
		ret = kh_diff_add(d, KH_DIFF_LINK, a, b, err);
	if (ret == 0 && kh_diff_has(a, b, KH_MK_MODE) && a->mode != b->mode)
		ret = kh_diff_add(d, KH_DIFF_MODE, a, b, err);
	return ret;
}

int kh_diff_new(const struct kh_manifest *a, const struct kh_manifest *b,
		struct kh_diff **out, struct kh_error *err)
{
	struct kh_diff *d = calloc(1, sizeof(*d));
	int ret = 0;

	*out = NULL;
	if (!d)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	/* A path listed twice counts once: the first, as find() sees it. */
	for (size_t i = 0; ret == 0 && i < kh_manifest_count(a); i++) {
		const struct kh_manifest_entry *e = kh_manifest_at(a, i);
		long j = kh_manifest_find(b, e->path);

		if (kh_manifest_find(a, e->path) != (long)i)
			continue;
		if (j < 0)
			ret = kh_diff_add(d, KH_DIFF_REMOVED, e, NULL, err);
		else
			ret = kh_diff_pair(d, e, kh_manifest_at(b, (size_t)j),
					   err);
	}
	for (size_t i = 0; ret == 0 && i < kh_manifest_count(b); i++) {
		const struct kh_manifest_entry *e = kh_manifest_at(b, i);

		if (kh_manifest_find(b, e->path) == (long)i &&
		    kh_manifest_find(a, e->path) < 0)
			ret = kh_diff_add(d, KH_DIFF_ADDED, NULL, e, err);
	}
	if (ret < 0) {
		kh_diff_free(d);
		return ret;
	}
	if (d->n)
		qsort(d->v, d->n, sizeof(*d->v), kh_diff_cmp);
	*out = d;
	return 0;
}

void kh_diff_free(struct kh_diff *d)
{
	if (!d)
		return;
	free(d->v);
	free(d);
}

size_t kh_diff_count(const struct kh_diff *d)
{
	return d->n;
}

const struct kh_diff_change *kh_diff_at(const struct kh_diff *d, size_t i)
{
	return i < d->n ? &d->v[i] : NULL;
}

size_t kh_diff_count_kind(const struct kh_diff *d, enum kh_diff_kind k)
{
	return (unsigned)k < KH_DIFF_NKINDS ? d->counts[k] : 0;
}

/* ---- unified diff ---- */

struct kh_line {
	const char *p;
	size_t len;        /* including the '\n', if any */
};

struct kh_lines {
	struct kh_line *v;
	uint32_t *id;
	size_t n;
};

/* Split text into lines; the last may lack its newline. */
static int kh_diff_split(const char *s, size_t len, struct kh_lines *l)
{
	size_t n = 0, i = 0;

	for (size_t k = 0; k < len; k++)
		if (s[k] == '\n')
			n++;
	if (len && s[len - 1] != '\n')
		n++;
	l->n = n;
	l->v = malloc((n ? n : 1) * sizeof(*l->v));
	l->id = malloc((n ? n : 1) * sizeof(*l->id));
	if (!l->v || !l->id)
		return -1;
	for (size_t start = 0; start < len; i++) {
		const char *nl = memchr(s + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - s) + 1 : len;

		l->v[i].p = s + start;
		l->v[i].len = end - start;
		start = end;
	}
	return 0;
}

static uint64_t kh_diff_hash(const char *p, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * UINT64_C(1099511628211);
	return h;
}

/* Number the distinct lines of both texts, so that Myers compares
 * integers. A line without its newline differs from one with it, as
 * diff(1) has it. */
static int kh_diff_number(struct kh_lines *a, struct kh_lines *b)
{
	size_t total = a->n + b->n, nslots = 16;
	struct kh_line **slots;
	uint32_t *ids, next = 0;
	struct kh_lines *both[2] = { a, b };

	while (nslots < 2 * total)
		nslots *= 2;
	slots = calloc(nslots, sizeof(*slots));
	ids = malloc(nslots * sizeof(*ids));
	if (!slots || !ids) {
		free(slots);
		free(ids);
		return -1;
	}
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < both[s]->n; i++) {
			struct kh_line *ln = &both[s]->v[i];
			size_t h = kh_diff_hash(ln->p, ln->len) & (nslots - 1);

			while (slots[h] && (slots[h]->len != ln->len ||
					    memcmp(slots[h]->p, ln->p,
						   ln->len)))
				h = (h + 1) & (nslots - 1);
			if (!slots[h]) {
				slots[h] = ln;
				ids[h] = next++;
			}
			both[s]->id[i] = ids[h];
		}
	}
	free(slots);
	free(ids);
	return 0;
}

static void kh_diff_line(struct kh_buf *b, char prefix,
			 const struct kh_line *ln)
{
	kh_buf_add(b, &prefix, 1);
	kh_buf_add(b, ln->p, ln->len);
	if (ln->len == 0 || ln->p[ln->len - 1] != '\n')
		kh_buf_add(b, "\n\\ No newline at end of file\n", 29);
}

/* "start,count" as diff -u writes a range: a count of 1 is left out,
 * and an empty range names the line before it. */
static void kh_diff_range(struct kh_buf *b, size_t first, size_t count)
{
	if (count == 1)
		kh_buf_printf(b, "%zu", first + 1);
	else
		kh_buf_printf(b, "%zu,%zu", count ? first + 1 : first, count);
}

/* One edit-script step: ' ' both, '-' a only, '+' b only. */
struct kh_op {
	char type;
	size_t i, j;   /* line index in a and b before this step */
};

static void kh_diff_hunk(struct kh_buf *out, const struct kh_op *ops,
			 size_t from, size_t to, const struct kh_lines *a,
			 const struct kh_lines *b)
{
	size_t acount = 0, bcount = 0;

	for (size_t k = from; k < to; k++) {
		acount += ops[k].type != '+';
		bcount += ops[k].type != '-';
	}
	kh_buf_add(out, "@@ -", 4);
	kh_diff_range(out, ops[from].i, acount);
	kh_buf_add(out, " +", 2);
	kh_diff_range(out, ops[from].j, bcount);
	kh_buf_add(out, " @@\n", 4);
	for (size_t k = from; k < to; k++)
		kh_diff_line(out, ops[k].type, ops[k].type == '+' ?
			     &b->v[ops[k].j] : &a->v[ops[k].i]);
}

static void kh_diff_hunks(struct kh_buf *out, const struct kh_op *ops,
			  size_t nops, const struct kh_lines *a,
			  const struct kh_lines *b, size_t context)
{
	size_t k = 0;

	while (k < nops) {
		size_t first, last, from, to;

		while (k < nops && ops[k].type == ' ')
			k++;
		if (k == nops)
			break;
		first = k;
		last = k;
		/* Extend while the next change is near enough that the
		 * contexts would touch (diff -u: 2 * context apart). */
		for (;;) {
			size_t next = last + 1;

			while (next < nops && ops[next].type == ' ')
				next++;
			if (next == nops || next - last - 1 > 2 * context)
				break;
			last = next;
		}
		from = first > context ? first - context : 0;
		to = last + 1 + context < nops ? last + 1 + context : nops;
		kh_diff_hunk(out, ops, from, to, a, b);
		k = last + 1;
	}
}

/* The edit script of two texts: their lines and the steps, deletions
 * before insertions within a change, as diff -u orders them. */
static int kh_diff_script(const char *a, size_t alen, const char *b,
			  size_t blen, struct kh_lines *la, struct kh_lines *lb,
			  struct kh_op **ops, size_t *nops,
			  struct kh_error *err)
{
	unsigned char *del = NULL, *ins = NULL;
	size_t i = 0, j = 0, n = 0;
	int ret;

	if (kh_diff_split(a, alen, la) < 0 || kh_diff_split(b, blen, lb) < 0 ||
	    kh_diff_number(la, lb) < 0 || !(del = malloc(la->n + 1)) ||
	    !(ins = malloc(lb->n + 1)) ||
	    !(*ops = malloc((la->n + lb->n + 1) * sizeof(**ops)))) {
		ret = kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
		goto out;
	}
	ret = kh_myers(la->id, la->n, lb->id, lb->n, del, ins, err);
	while (ret == 0 && (i < la->n || j < lb->n)) {
		struct kh_op *op = &(*ops)[n++];

		op->i = i;
		op->j = j;
		if (i < la->n && del[i]) {
			op->type = '-';
			i++;
		} else if (j < lb->n && ins[j]) {
			op->type = '+';
			j++;
		} else {
			op->type = ' ';
			i++;
			j++;
		}
	}
	*nops = n;
out:
	free(del);
	free(ins);
	return ret;
}

int kh_diff_unified(const char *a, size_t alen, const char *b, size_t blen,
		    const char *label_a, const char *label_b, int context,
		    char **out, size_t *outlen, struct kh_error *err)
{
	struct kh_lines la = { 0 }, lb = { 0 };
	struct kh_buf u = KH_BUF_INIT;
	struct kh_op *ops = NULL;
	size_t nops = 0;
	int ret = 0;

	*out = NULL;
	*outlen = 0;
	if ((alen && memchr(a, '\0', alen)) || (blen && memchr(b, '\0', blen))) {
		if (alen != blen || memcmp(a, b, alen))
			kh_buf_printf(&u, "Binary files %s and %s differ\n",
				      label_a, label_b);
	} else {
		ret = kh_diff_script(a, alen, b, blen, &la, &lb, &ops, &nops,
				     err);
	}
	for (size_t k = 0; ret == 0 && k < nops; k++) {
		if (ops[k].type != ' ') {
			kh_buf_printf(&u, "--- %s\n+++ %s\n", label_a, label_b);
			kh_diff_hunks(&u, ops, nops, &la, &lb,
				      context < 0 ? 0 : (size_t)context);
			break;
		}
	}
	if (ret == 0) {
		/* Equal texts: an empty diff, "". */
		*out = kh_buf_take(&u, outlen);
		if (!*out)
			ret = kh_error_set(err, KH_ENOMEM, NULL,
					   "out of memory");
	}
	kh_buf_free(&u);
	free(la.v);
	free(la.id);
	free(lb.v);
	free(lb.id);
	free(ops);
	return ret;
}
