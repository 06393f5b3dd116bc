/* kh_record: the entries gen wrote (see kh_record.h). */
#include "gen/kh_record.h"

#include <stdlib.h>
#include <string.h>

int kh_record_add(struct kh_record *r, const struct kh_record_entry *e,
		  struct kh_error *err)
{
	struct kh_record_entry c = *e;

	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		struct kh_record_entry *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		r->v = v;
		r->cap = cap;
	}
	c.path = strdup(e->path);
	c.link = e->link ? strdup(e->link) : NULL;
	if (!c.path || (e->link && !c.link)) {
		free(c.path);
		free(c.link);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	r->v[r->n++] = c;
	return 0;
}

void kh_record_set_digest(struct kh_record_digest *d,
			  const unsigned char sha256[KH_SHA256_LEN],
			  uint64_t size)
{
	d->known = 1;
	memcpy(d->sha256, sha256, KH_SHA256_LEN);
	d->size = size;
}

void kh_record_release(struct kh_record *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].link);
	}
	free(r->v);
	*r = (struct kh_record)KH_RECORD_INIT;
}
