/* fuzz_payload: extract/kh_payload.c, the compressed payloads of kernel
 * images (bzImage and zboot headers, whole-file compression, the magic
 * scan) and its seven decoders, all fed untrusted files.
 *
 * Properties: it either fails with a message (and then stays done) or
 * hands out payloads within the output limit whose compressed bytes lie
 * inside the input; a header's payload starts with its compression's
 * magic, and decompressing those same bytes alone gives the same
 * output (the container changes nothing about the stream).
 */
#include <string.h>

#include "fuzz.h"
#include "extract/kh_payload.h"

#define FUZZ_MAX_OUT ((size_t)4 << 20)

static void check_alone(const uint8_t *data, const struct kh_payload *p)
{
	struct kh_payload q = KH_PAYLOAD_INIT;
	struct kh_error err = KH_ERROR_INIT;

	FUZZ_CHECK(kh_payload_decompress(p->comp, data + p->offset, p->in_len,
					 "alone", FUZZ_MAX_OUT, &q, &err) == 0);
	FUZZ_CHECK(q.len == p->len && q.comp == p->comp);
	FUZZ_CHECK(!p->len || !memcmp(q.data, p->data, p->len));
	kh_payload_release(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_payload_limits lim = { FUZZ_MAX_OUT, (size_t)16 << 20, 16 };
	struct kh_payload p = KH_PAYLOAD_INIT;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_payload_iter *it;
	enum kh_payload_where kind = kh_payload_kind(data, size);
	int ret, n = 0;

	FUZZ_CHECK(kh_payload_iter_new(data, size, "fuzz", &lim, &it, &err) == 0);
	while ((ret = kh_payload_next(it, &p, &err)) == 1) {
		FUZZ_CHECK(++n <= 16);
		FUZZ_CHECK(p.len <= FUZZ_MAX_OUT && (p.data || !p.len));
		FUZZ_CHECK(p.offset < size && p.in_len > 0 &&
			   p.in_len <= size - p.offset);
		FUZZ_CHECK(p.where == kind || p.where == KH_PAYLOAD_SCAN);
		if (p.where == KH_PAYLOAD_WHOLE)
			FUZZ_CHECK(p.offset == 0 && p.in_len == size);
		if (p.where != KH_PAYLOAD_SCAN)
			FUZZ_CHECK(n == 1);
		/* Only scan finds may end early; the others are exact. */
		if (p.where != KH_PAYLOAD_SCAN)
			check_alone(data, &p);
	}
	if (ret < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
		FUZZ_CHECK(p.data == NULL);
	}
	FUZZ_CHECK(kh_payload_next(it, &p, &err) == 0);
	kh_payload_iter_free(it);
	return 0;
}
