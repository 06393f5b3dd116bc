/* kh_hash: the two hashes kheaders uses, behind one small interface.
 *
 * XXH3-128 (libxxhash) fingerprints inputs: fast enough to rehash a
 * whole kernel's headers in milliseconds. SHA-256 (OpenSSL libcrypto)
 * identifies outputs and manifest entries, where collision resistance
 * matters because other people compare the values.
 */
#ifndef KH_HASH_H
#define KH_HASH_H

#include <stddef.h>

#include "lib/kh_error.h"

#define KH_XXH128_LEN 16
#define KH_SHA256_LEN 32

void kh_hash_xxh128(const void *buf, size_t len,
		    unsigned char out[KH_XXH128_LEN]);

/* One-shot SHA-256 of a buffer. */
int kh_hash_sha256(const void *buf, size_t len,
		   unsigned char out[KH_SHA256_LEN], struct kh_error *err);

/* Hash a file's content in one pass: SHA-256 and/or XXH3-128 (either
 * may be NULL; XXH3 alone is the cheap check) and its size. */
int kh_hash_file(const char *path, unsigned char *sha256,
		 unsigned char *xxh128, unsigned long long *size,
		 struct kh_error *err);

/* The same, of what is left to read of fd (not closed); path is for
 * messages. */
int kh_hash_fd(int fd, const char *path, unsigned char *sha256,
	       unsigned char *xxh128, unsigned long long *size,
	       struct kh_error *err);

/* Lower-case hex of len bytes into hex (2 * len + 1 bytes). */
void kh_hash_hex(const unsigned char *bin, size_t len, char *hex);

/* Parse 2 * len hex digits, which must end the string or a field (a
 * NUL or a space follows: the state's lines are parsed in place);
 * 0 or -1. */
int kh_hash_unhex(const char *hex, unsigned char *bin, size_t len);

#endif
