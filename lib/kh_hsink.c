/* kh_hsink: a hashing stage of the output chain (see kh_hsink.h). */
#include "lib/kh_hsink.h"

#include <stdlib.h>

struct kh_hsink {
	struct kh_sink next;
	struct kh_hash_run run;
	const char *name;
	int ended;
};

static int kh_hsink_write(void *ctx, const void *buf, size_t len,
			  struct kh_error *err)
{
	struct kh_hsink *hs = ctx;
	int ret;

	if (hs->ended)
		return kh_error_set(err, KH_ELIB, hs->name, "write after the "
				    "end of hashing (internal error)");
	ret = kh_hash_run_update(&hs->run, buf, len, hs->name, err);
	if (ret == 0 && hs->next.write)
		ret = hs->next.write(hs->next.ctx, buf, len, err);
	return ret;
}

int kh_hsink_new(struct kh_sink next, unsigned what, const char *name,
		 struct kh_hsink **hsp, struct kh_error *err)
{
	struct kh_hsink *hs = calloc(1, sizeof(*hs));
	int ret;

	*hsp = NULL;
	if (!hs)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	hs->next = next;
	hs->name = name;
	ret = kh_hash_run_start(&hs->run, (what & KH_HSINK_SHA256) != 0,
				(what & KH_HSINK_XXH128) != 0, name, err);
	if (ret < 0) {
		free(hs);
		return ret;
	}
	*hsp = hs;
	return 0;
}

struct kh_sink kh_hsink_sink(struct kh_hsink *hs)
{
	struct kh_sink s = { kh_hsink_write, hs };

	return s;
}

int kh_hsink_end(struct kh_hsink *hs, struct kh_hsink_sum *sum,
		 struct kh_error *err)
{
	unsigned long long size = 0;
	int ret;

	*sum = (struct kh_hsink_sum){ .size = 0 };
	if (hs->ended)
		return kh_error_set(err, KH_ELIB, hs->name, "hashing ended "
				    "twice (internal error)");
	hs->ended = 1;
	ret = kh_hash_run_end(&hs->run, sum->sha256, sum->xxh128, &size,
			      hs->name, err);
	sum->size = size;
	return ret;
}

void kh_hsink_free(struct kh_hsink *hs)
{
	if (!hs)
		return;
	kh_hash_run_release(&hs->run);
	free(hs);
}
