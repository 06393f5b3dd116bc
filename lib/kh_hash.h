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

/* Hashing as bytes go by, in pieces: SHA-256 and/or XXH3-128 and the
 * count. A value type: start it, feed it, end it; kh_hash_run_release
 * frees what a run that did not end still holds (safe after end, and
 * on a zeroed one). */
struct kh_hash_run {
	void *sha256;                   /* EVP_MD_CTX, or NULL */
	void *xxh128;                   /* XXH3_state_t, or NULL */
	unsigned long long size;
};

#define KH_HASH_RUN_INIT { NULL, NULL, 0 }

/* Start a run; sha256 and xxh128 say which digests it makes. name is
 * for messages. */
int kh_hash_run_start(struct kh_hash_run *h, int sha256, int xxh128,
		      const char *name, struct kh_error *err);
int kh_hash_run_update(struct kh_hash_run *h, const void *buf, size_t len,
		       const char *name, struct kh_error *err);
/* The digests asked for at the start (pass NULL for one that was not)
 * and the byte count (size may be NULL); releases the run. */
int kh_hash_run_end(struct kh_hash_run *h, unsigned char *sha256,
		    unsigned char *xxh128, unsigned long long *size,
		    const char *name, struct kh_error *err);
void kh_hash_run_release(struct kh_hash_run *h);

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
