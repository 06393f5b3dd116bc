/* kh_hash: XXH3-128 and SHA-256 helpers (see kh_hash.h). */
#include "lib/kh_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/kh_dl.h"

_Static_assert(sizeof(XXH128_canonical_t) == KH_XXH128_LEN,
	       "XXH128 digest size");

void kh_hash_xxh128(const void *buf, size_t len,
		    unsigned char out[KH_XXH128_LEN])
{
	XXH128_canonical_t c;

	/* Canonical (big-endian) form: the same hex on every host. */
	XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
	for (int i = 0; i < KH_XXH128_LEN; i++)
		out[i] = c.digest[i];
}

int kh_hash_sha256(const void *buf, size_t len,
		   unsigned char out[KH_SHA256_LEN], struct kh_error *err)
{
	unsigned int n = 0;
	int ret = kh_dl_crypto(err);

	if (ret < 0)
		return ret;
	if (!EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) ||
	    n != KH_SHA256_LEN)
		return kh_error_set(err, KH_ELIB, NULL, "SHA-256 failed");
	return 0;
}

int kh_hash_file(const char *path, unsigned char *sha256,
		 unsigned char *xxh128, unsigned long long *size,
		 struct kh_error *err)
{
	int fd, ret;

	/* The no-op check hashes without SHA-256, and without libcrypto. */
	if (sha256 && (ret = kh_dl_crypto(err)) < 0)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kh_error_sys(err, errno, path, "cannot open");
	ret = kh_hash_fd(fd, path, sha256, xxh128, size, err);
	close(fd);
	return ret;
}

int kh_hash_run_start(struct kh_hash_run *h, int sha256, int xxh128,
		      const char *name, struct kh_error *err)
{
	EVP_MD_CTX *ctx = NULL;
	XXH3_state_t *xs = NULL;
	int ret;

	*h = (struct kh_hash_run)KH_HASH_RUN_INIT;
	/* XXH3 alone (the no-op check) goes without libcrypto. */
	if (sha256 && (ret = kh_dl_crypto(err)) < 0)
		return ret;
	if ((sha256 && (!(ctx = EVP_MD_CTX_new()) ||
			!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))) ||
	    (xxh128 && (!(xs = XXH3_createState()) ||
			XXH3_128bits_reset(xs) != XXH_OK))) {
		if (ctx)
			EVP_MD_CTX_free(ctx);
		XXH3_freeState(xs);
		return kh_error_set(err, KH_ELIB, name,
				    "cannot start hashing");
	}
	h->sha256 = ctx;
	h->xxh128 = xs;
	return 0;
}

int kh_hash_run_update(struct kh_hash_run *h, const void *buf, size_t len,
		       const char *name, struct kh_error *err)
{
	if (!len)
		return 0;
	if ((h->sha256 && !EVP_DigestUpdate(h->sha256, buf, len)) ||
	    (h->xxh128 && XXH3_128bits_update(h->xxh128, buf, len) != XXH_OK))
		return kh_error_set(err, KH_ELIB, name, "hashing failed");
	h->size += len;
	return 0;
}

int kh_hash_run_end(struct kh_hash_run *h, unsigned char *sha256,
		    unsigned char *xxh128, unsigned long long *size,
		    const char *name, struct kh_error *err)
{
	unsigned int n = 0;
	int ret = 0;

	if (h->sha256 && sha256 &&
	    (!EVP_DigestFinal_ex(h->sha256, sha256, &n) ||
	     n != KH_SHA256_LEN))
		ret = kh_error_set(err, KH_ELIB, name, "SHA-256 failed");
	if (ret == 0 && h->xxh128 && xxh128) {
		XXH128_canonical_t c;

		/* Canonical (big-endian) form, as kh_hash_xxh128. */
		XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->xxh128));
		memcpy(xxh128, c.digest, KH_XXH128_LEN);
	}
	if (ret == 0 && size)
		*size = h->size;
	kh_hash_run_release(h);
	return ret;
}

void kh_hash_run_release(struct kh_hash_run *h)
{
	if (h->sha256)   /* libcrypto may not even be loaded */
		EVP_MD_CTX_free(h->sha256);
	XXH3_freeState(h->xxh128);
	*h = (struct kh_hash_run)KH_HASH_RUN_INIT;
}

int kh_hash_fd(int fd, const char *path, unsigned char *sha256,
	       unsigned char *xxh128, unsigned long long *size,
	       struct kh_error *err)
{
	unsigned char buf[1 << 16];
	struct kh_hash_run h;
	int ret;

	ret = kh_hash_run_start(&h, sha256 != NULL, xxh128 != NULL, path,
				err);
	while (ret == 0) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			ret = kh_error_sys(err, errno, path, "cannot read");
		else if (r == 0)
			break;
		else
			ret = kh_hash_run_update(&h, buf, (size_t)r, path,
						 err);
	}
	if (ret == 0)
		return kh_hash_run_end(&h, sha256, xxh128, size, path, err);
	kh_hash_run_release(&h);
	return ret;
}

void kh_hash_hex(const unsigned char *bin, size_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * len] = '\0';
}

/* Lower-case hex digits only (what kh_hash_hex writes); a constant
 * table, value + 1, so that 0 means "not a digit". */
static const unsigned char kh_hash_digits[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static int kh_hash_nibble(char c)
{
	return kh_hash_digits[(unsigned char)c] - 1;
}

int kh_hash_unhex(const char *hex, unsigned char *bin, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = kh_hash_nibble(hex[2 * i]);
		int lo = hi < 0 ? -1 : kh_hash_nibble(hex[2 * i + 1]);

		if (lo < 0)
			return -1;
		bin[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[2 * len] == '\0' || hex[2 * len] == ' ' ? 0 : -1;
}
