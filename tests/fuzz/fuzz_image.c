/* fuzz_image: the image scanner of `kheaders extract` (kernel/kh_image.c
 * kh_image_locate): ELF symbol tables, IKHD markers around an xz
 * stream, a bare .xz, all read from untrusted files.
 *
 * Properties: it either fails with a message or names a range inside
 * the input that starts with the xz magic; a marker find is delimited
 * by the markers; an ELF find is in bounds.
 */
#include <string.h>

#include "fuzz.h"
#include "extract/kh_image.h"
#include "lib/kh_ikhd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z',
						   0 };
	struct kh_image_blob b = { 0, 0, KH_IMAGE_RAW };
	struct kh_error err = KH_ERROR_INIT;
	size_t mk = sizeof(KH_IKHD_START) - 1;

	if (kh_image_locate(data, size, "fuzz", &b, &err) < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
		return 0;
	}
	FUZZ_CHECK(b.offset <= size && b.size <= size - b.offset);
	FUZZ_CHECK(b.size >= sizeof(xz_magic) &&
		   !memcmp(data + b.offset, xz_magic, sizeof(xz_magic)));
	if (b.how == KH_IMAGE_RAW)
		FUZZ_CHECK(b.offset == 0 && b.size == size);
	if (b.how == KH_IMAGE_MARKERS) {
		FUZZ_CHECK(b.offset >= mk && b.size + mk <= size - b.offset);
		FUZZ_CHECK(!memcmp(data + b.offset - mk, KH_IKHD_START,
				   mk));
		FUZZ_CHECK(!memcmp(data + b.offset + b.size,
				   KH_IKHD_END, mk));
	}
	return 0;
}
