/* kh_image: find the headers archive in whatever holds it.
 *
 * The archive (an .xz stream) can be read from:
 *   - itself: a .tar.xz, or /sys/kernel/kheaders.tar.xz and
 *     /proc/kheaders.tar.xz of a running kernel;
 *   - an ELF file that defines kernel_headers_data and
 *     kernel_headers_data_end (kheaders.ko, a vmlinux with its symbol
 *     table, any program linked with the stub), also xz-compressed as
 *     modules often are (kheaders.ko.xz);
 *   - anything else that carries the stub's markers: "IKHD_ST", the
 *     archive, "IKHD_ED" (a stripped or raw, uncompressed kernel image);
 *   - any of those compressed: an x86 bzImage, an EFI zboot image, an
 *     arm64 Image.gz, a .ko.zst (extract/kh_payload: the payload the
 *     format declares, else the streams found by their magic).
 *
 * Markers are only trusted around a well-formed xz stream: the start
 * marker must be followed by the xz magic and the end marker preceded
 * by a stream footer whose CRC and flags agree with the header, so a
 * stray "IKHD_ED" inside the compressed data cannot cut it short.
 */
#ifndef KH_IMAGE_H
#define KH_IMAGE_H

#include <stddef.h>

#include "lib/kh_error.h"

/* Where `kheaders extract` looks when no source is named, in order. */
#define KH_IMAGE_SYSFS "/sys/kernel/kheaders.tar.xz"
#define KH_IMAGE_PROCFS "/proc/kheaders.tar.xz"

enum kh_image_how {
	KH_IMAGE_RAW,          /* the file is the archive */
	KH_IMAGE_ELF_SYMBOLS,  /* kernel_headers_data .. _end in .symtab */
	KH_IMAGE_MARKERS,      /* between IKHD_ST and IKHD_ED */
};

struct kh_image_blob {
	size_t offset;            /* of the archive in the (decompressed) image */
	size_t size;
	enum kh_image_how how;
};

/* Find the archive in an image held in memory; name is for messages. */
int kh_image_locate(const unsigned char *buf, size_t len, const char *name,
		    struct kh_image_blob *out, struct kh_error *err);

struct kh_image;

/* Read path ("-" is standard input) and find the archive in it. The
 * file is read once, whole, into private memory (at most
 * KH_FILE_MAX_IMAGE; a device is refused): what a caller checks (a
 * digest) is what it extracts, whatever a writer of the file does
 * meanwhile, and a truncated file cannot fault a mapping. An
 * xz-compressed ELF file is decompressed if its xz index declares at
 * most KH_FILE_MAX_MODULE. */
int kh_image_open(const char *path, struct kh_image **out,
		  struct kh_error *err);

/* kh_image_open in two steps, for a caller that looks at the bytes
 * first (kh_source: is it a manifest?). kh_image_load reads path under
 * kh_image_open's rules: a regular file up to KH_FILE_MAX_IMAGE, a
 * pipe up to KH_FILE_MAX_ARCHIVE, a device or directory refused; *buf
 * is malloc'ed. kh_image_take finds the archive in buf, which it owns
 * from then on, even when it fails. */
int kh_image_load(const char *path, unsigned char **buf, size_t *len,
		  struct kh_error *err);
int kh_image_take(unsigned char *buf, size_t len, const char *name,
		  unsigned flags, struct kh_image **out, struct kh_error *err);

/* kh_image_take's flag: a file that holds no archive by any rule above
 * is taken whole, as the archive (a plain .tar, a .tar.gz: manifest,
 * verify and diff read what libarchive reads, and its reader says what
 * is wrong with anything else). */
#define KH_IMAGE_WHOLE_FALLBACK 1u

/* The archive's bytes, valid until kh_image_free. */
const unsigned char *kh_image_data(const struct kh_image *img);
size_t kh_image_size(const struct kh_image *img);

/* How and where it was found, for -v. */
const struct kh_image_blob *kh_image_blob(const struct kh_image *img);

/* Whether the image was compressed (kheaders.ko.xz, a bzImage...). */
int kh_image_was_compressed(const struct kh_image *img);

/* 1 when the archive was found in a compressed payload, with the
 * compression ("zstd") and where the payload was ("bzImage payload");
 * else 0. */
int kh_image_payload(const struct kh_image *img, const char **comp,
		     const char **where);

/* "the whole file", "ELF symbols" or "IKHD markers". */
const char *kh_image_how_name(enum kh_image_how how);

void kh_image_free(struct kh_image *img);

#endif
