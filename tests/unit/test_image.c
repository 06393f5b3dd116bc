/* test_image: kh_image_locate finds the archive between the IKHD
 * markers only around a well-formed xz stream: decoy start markers, an
 * end marker that occurs inside the (stored, incompressible) data, and
 * truncated streams do not fool it; a bare .xz is taken whole; and
 * kh_extract_clean_path refuses absolute paths and "..". ELF lookups
 * are tested on real objects by tests/t-extract-sources.sh.
 */
#include <lzma.h>
#include <stdlib.h>
#include <string.h>

#include "extract/kh_extract.h"
#include "extract/kh_image.h"
#include "kh_test.h"

/* Compress n bytes of data into a fresh buffer; *len gets the size. */
static unsigned char *xz_of(const unsigned char *data, size_t n, size_t *len)
{
	size_t cap = lzma_stream_buffer_bound(n);
	unsigned char *out = malloc(cap);

	*len = 0;
	if (out && lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, data, n,
					   out, len, cap) != LZMA_OK) {
		free(out);
		out = NULL;
	}
	return out;
}

/* Random bytes LZMA2 must store as they are, with "IKHD_ED" inside. */
static unsigned char *noise_with_marker(size_t n)
{
	unsigned char *p = malloc(n);
	unsigned x = 12345;

	for (size_t i = 0; p && i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)(x >> 16);
	}
	if (p)
		memcpy(p + n / 2, "IKHD_ED", 7);
	return p;
}

/* buf = pre + "IKHD_ST" + xz + "IKHD_ED" + post. */
static unsigned char *wrap(const char *pre, const unsigned char *xz,
			   size_t xlen, const char *post, size_t *len)
{
	size_t a = strlen(pre), b = strlen(post);
	unsigned char *p = malloc(a + 7 + xlen + 7 + b);

	memcpy(p, pre, a);
	memcpy(p + a, "IKHD_ST", 7);
	memcpy(p + a + 7, xz, xlen);
	memcpy(p + a + 7 + xlen, "IKHD_ED", 7);
	memcpy(p + a + 14 + xlen, post, b);
	*len = a + 14 + xlen + b;
	return p;
}

static void test_raw(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_image_blob b;
	size_t xlen;
	unsigned char *xz = xz_of((const unsigned char *)"hello", 5, &xlen);

	KH_CHECK(xz != NULL);
	KH_CHECK(kh_image_locate(xz, xlen, "t", &b, &err) == 0);
	KH_CHECK(b.how == KH_IMAGE_RAW && b.offset == 0 && b.size == xlen);
	free(xz);
}

static void test_markers(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_image_blob b;
	size_t xlen, len;
	unsigned char *xz = xz_of((const unsigned char *)"hello", 5, &xlen);
	/* A decoy start marker not followed by xz data comes first, as in
	 * a binary that merely contains the string. */
	unsigned char *img = wrap("\177ELF junk IKHD_ST not xz; IKHD_ED ", xz,
				  xlen, " trailing IKHD_ED junk", &len);

	KH_CHECK(kh_image_locate(img, len, "t", &b, &err) == 0);
	KH_CHECK(b.how == KH_IMAGE_MARKERS);
	KH_CHECK(b.size == xlen);
	KH_CHECK(b.offset < len && !memcmp(img + b.offset, xz, xlen));
	free(img);
	free(xz);
}

static void test_marker_inside_data(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_image_blob b;
	size_t n = 1 << 16, xlen, len;
	unsigned char *data = noise_with_marker(n);
	unsigned char *xz = xz_of(data, n, &xlen);
	unsigned char *img;

	KH_CHECK(xz != NULL);
	/* Stored uncompressed, so the end marker is in the stream. */
	KH_CHECK(memmem(xz, xlen, "IKHD_ED", 7) != NULL);
	img = wrap("prefix", xz, xlen, "", &len);
	KH_CHECK(kh_image_locate(img, len, "t", &b, &err) == 0);
	KH_CHECK(b.how == KH_IMAGE_MARKERS && b.size == xlen);
	free(img);
	free(xz);
	free(data);
}

static void test_truncated(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_image_blob b;
	size_t xlen, len;
	unsigned char *xz = xz_of((const unsigned char *)"hello", 5, &xlen);
	unsigned char *img;

	/* The footer is cut: the end marker follows a partial stream. */
	img = wrap("x", xz, xlen - 5, "", &len);
	KH_CHECK(kh_image_locate(img, len, "img", &b, &err) < 0);
	KH_CHECK(strstr(err.msg, "img: no headers archive") == err.msg);
	free(img);
	/* No end marker at all. */
	img = wrap("x", xz, xlen, "", &len);
	KH_CHECK(kh_image_locate(img, len - 7, "img", &b, &err) < 0);
	free(img);
	/* A compressed kernel: located in memory, its payload is not
	 * looked into (kh_image_open does that, through kh_payload). */
	img = calloc(1, 0x300);
	memcpy(img + 0x202, "HdrS", 4);
	KH_CHECK(kh_image_locate(img, 0x300, "bzImage", &b, &err) < 0);
	KH_CHECK(strstr(err.msg, "bzImage: no headers archive") == err.msg);
	free(img);
	free(xz);
}

static void test_clean_path(void)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "./include/linux/a.h", "include/linux/a.h" },
		{ "include//x/./y.h", "include/x/y.h" },
		{ "./", "" },
		{ ".", "" },
		{ "a/", "a" },
		{ "..a/b..", "..a/b.." },
	};
	static const char *const bad[] = {
		"/etc/passwd", "../x", "a/../../x", "a/..", "./..", "", "//x",
	};
	char out[64];
	const char *why;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		KH_CHECK(kh_extract_clean_path(ok[i].in, out, sizeof(out),
					       &why) == 0);
		KH_CHECK_STR(out, ok[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		KH_CHECK(kh_extract_clean_path(bad[i], out, sizeof(out),
					       &why) < 0);
	/* Too long for the buffer is refused, never truncated. */
	KH_CHECK(kh_extract_clean_path("0123456789/0123456789/0123456789/"
				       "0123456789/0123456789/0123456789/x",
				       out, sizeof(out), &why) < 0);
}

KH_TEST_MAIN(test_raw, test_markers, test_marker_inside_data, test_truncated,
	     test_clean_path)
