/* kh_dl: libarchive, libcrypto and the decompressors, loaded the first
 * time they are needed.
 *
 * Kbuild runs `kheaders gen` on every make, and nearly every run is a
 * no-op that needs neither library. Linked the usual way they cost
 * every run their loading: libarchive brings libxml2, ICU and libstdc++
 * with it, and with libcrypto that was ~4 ms of relocations and page
 * faults, a fifth of a no-op. So, as systemd does with its optional
 * libraries, they are dlopen'ed by soname (found at build time from the
 * very library pkg-config links against) when a module first needs
 * them, and every function is called through a pointer of the
 * function's own declared type.
 *
 * A module that uses them includes this header after <archive.h>,
 * <archive_entry.h> and <openssl/evp.h>: the macros below turn each
 * call into a call through its pointer, unchanged in the source. The
 * binary is not linked against either library, so a function missing
 * from the lists fails the link: nothing can bypass the loader.
 * Before the first call a module must have had kh_dl_archive() or
 * kh_dl_crypto() succeed; its public entry points do that.
 *
 * The decompressors of kernel images (zlib, libbz2, liblz4, libzstd,
 * liblzo2) are loaded the same way, each when an image first needs it
 * (their sonames from the library the linker would take: libbz2 has no
 * .pc file): only extract/kh_decomp.c uses them, after kh_dl_zlib() and
 * the like, and includes all their headers before this one.
 *
 * liblzma and libxxhash are linked normally: they are small, and the
 * no-op path uses libxxhash.
 */
#ifndef KH_DL_H
#define KH_DL_H

#include "lib/kh_error.h"

/* Load libarchive / libcrypto and resolve every function listed below,
 * once per process (thread-safe). 0, or KH_ELIB with dlerror's text. */
int kh_dl_archive(struct kh_error *err);
int kh_dl_crypto(struct kh_error *err);

/* The sonames loaded ("libarchive.so.13"), for messages and tests. */
const char *kh_dl_archive_soname(void);
const char *kh_dl_crypto_soname(void);

/* The decompressors, likewise: 0, or KH_ELIB with dlerror's text. */
int kh_dl_zlib(struct kh_error *err);
int kh_dl_bz2(struct kh_error *err);
int kh_dl_lz4(struct kh_error *err);
int kh_dl_zstd(struct kh_error *err);
int kh_dl_lzo(struct kh_error *err);

/* Their sonames, space-separated, for --version. */
const char *kh_dl_decomp_sonames(void);

#define KH_DL_ARCHIVE_FUNCS(X) \
	X(archive_entry_acl_clear) \
	X(archive_entry_clear) \
	X(archive_entry_copy_pathname) \
	X(archive_entry_copy_symlink) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_gid) \
	X(archive_entry_hardlink) \
	X(archive_entry_mtime) \
	X(archive_entry_mtime_nsec) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_perm) \
	X(archive_entry_set_fflags) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_gname) \
	X(archive_entry_set_hardlink) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_size) \
	X(archive_entry_set_uid) \
	X(archive_entry_set_uname) \
	X(archive_entry_size) \
	X(archive_entry_sparse_count) \
	X(archive_entry_symlink) \
	X(archive_entry_uid) \
	X(archive_entry_xattr_clear) \
	X(archive_errno) \
	X(archive_error_string) \
	X(archive_filter_bytes) \
	X(archive_filter_name) \
	X(archive_format_name) \
	X(archive_read_data_block) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open_memory) \
	X(archive_read_support_filter_bzip2) \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_filter_lzma) \
	X(archive_read_support_filter_xz) \
	X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_raw) \
	X(archive_read_support_format_tar) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_data_block) \
	X(archive_write_disk_new) \
	X(archive_write_disk_set_options) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open2) \
	X(archive_write_set_bytes_in_last_block) \
	X(archive_write_set_bytes_per_block) \
	X(archive_write_set_format_gnutar)

#define KH_DL_CRYPTO_FUNCS(X) \
	X(EVP_Digest) \
	X(EVP_DigestFinal_ex) \
	X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) \
	X(EVP_MD_CTX_free) \
	X(EVP_MD_CTX_new) \
	X(EVP_sha256)

#if defined(ARCHIVE_VERSION_NUMBER) && defined(ARCHIVE_ENTRY_H_INCLUDED)
#define KH_DL_DECLARE(f) extern __typeof__(f) *kh_dl_##f;
KH_DL_ARCHIVE_FUNCS(KH_DL_DECLARE)
#undef KH_DL_DECLARE
#define archive_entry_acl_clear (*kh_dl_archive_entry_acl_clear)
#define archive_entry_clear (*kh_dl_archive_entry_clear)
#define archive_entry_copy_pathname (*kh_dl_archive_entry_copy_pathname)
#define archive_entry_copy_symlink (*kh_dl_archive_entry_copy_symlink)
#define archive_entry_filetype (*kh_dl_archive_entry_filetype)
#define archive_entry_free (*kh_dl_archive_entry_free)
#define archive_entry_gid (*kh_dl_archive_entry_gid)
#define archive_entry_hardlink (*kh_dl_archive_entry_hardlink)
#define archive_entry_mtime (*kh_dl_archive_entry_mtime)
#define archive_entry_mtime_nsec (*kh_dl_archive_entry_mtime_nsec)
#define archive_entry_new (*kh_dl_archive_entry_new)
#define archive_entry_pathname (*kh_dl_archive_entry_pathname)
#define archive_entry_perm (*kh_dl_archive_entry_perm)
#define archive_entry_set_fflags (*kh_dl_archive_entry_set_fflags)
#define archive_entry_set_filetype (*kh_dl_archive_entry_set_filetype)
#define archive_entry_set_gid (*kh_dl_archive_entry_set_gid)
#define archive_entry_set_gname (*kh_dl_archive_entry_set_gname)
#define archive_entry_set_hardlink (*kh_dl_archive_entry_set_hardlink)
#define archive_entry_set_mtime (*kh_dl_archive_entry_set_mtime)
#define archive_entry_set_pathname (*kh_dl_archive_entry_set_pathname)
#define archive_entry_set_perm (*kh_dl_archive_entry_set_perm)
#define archive_entry_set_size (*kh_dl_archive_entry_set_size)
#define archive_entry_set_uid (*kh_dl_archive_entry_set_uid)
#define archive_entry_set_uname (*kh_dl_archive_entry_set_uname)
#define archive_entry_size (*kh_dl_archive_entry_size)
#define archive_entry_sparse_count (*kh_dl_archive_entry_sparse_count)
#define archive_entry_symlink (*kh_dl_archive_entry_symlink)
#define archive_entry_uid (*kh_dl_archive_entry_uid)
#define archive_entry_xattr_clear (*kh_dl_archive_entry_xattr_clear)
#define archive_errno (*kh_dl_archive_errno)
#define archive_error_string (*kh_dl_archive_error_string)
#define archive_filter_bytes (*kh_dl_archive_filter_bytes)
#define archive_filter_name (*kh_dl_archive_filter_name)
#define archive_format_name (*kh_dl_archive_format_name)
#define archive_read_data_block (*kh_dl_archive_read_data_block)
#define archive_read_free (*kh_dl_archive_read_free)
#define archive_read_new (*kh_dl_archive_read_new)
#define archive_read_next_header (*kh_dl_archive_read_next_header)
#define archive_read_open_memory (*kh_dl_archive_read_open_memory)
#define archive_read_support_filter_bzip2 \
	(*kh_dl_archive_read_support_filter_bzip2)
#define archive_read_support_filter_gzip \
	(*kh_dl_archive_read_support_filter_gzip)
#define archive_read_support_filter_lzma \
	(*kh_dl_archive_read_support_filter_lzma)
#define archive_read_support_filter_xz (*kh_dl_archive_read_support_filter_xz)
#define archive_read_support_filter_zstd \
	(*kh_dl_archive_read_support_filter_zstd)
#define archive_read_support_format_raw \
	(*kh_dl_archive_read_support_format_raw)
#define archive_read_support_format_tar \
	(*kh_dl_archive_read_support_format_tar)
#define archive_write_close (*kh_dl_archive_write_close)
#define archive_write_data (*kh_dl_archive_write_data)
#define archive_write_data_block (*kh_dl_archive_write_data_block)
#define archive_write_disk_new (*kh_dl_archive_write_disk_new)
#define archive_write_disk_set_options (*kh_dl_archive_write_disk_set_options)
#define archive_write_finish_entry (*kh_dl_archive_write_finish_entry)
#define archive_write_free (*kh_dl_archive_write_free)
#define archive_write_header (*kh_dl_archive_write_header)
#define archive_write_new (*kh_dl_archive_write_new)
#define archive_write_open2 (*kh_dl_archive_write_open2)
#define archive_write_set_bytes_in_last_block \
	(*kh_dl_archive_write_set_bytes_in_last_block)
#define archive_write_set_bytes_per_block \
	(*kh_dl_archive_write_set_bytes_per_block)
#define archive_write_set_format_gnutar (*kh_dl_archive_write_set_format_gnutar)
#endif

#define KH_DL_ZLIB_FUNCS(X) \
	X(adler32) \
	X(crc32) \
	X(inflate) \
	X(inflateEnd) \
	X(inflateInit2_)

#define KH_DL_BZ2_FUNCS(X) \
	X(BZ2_bzDecompress) \
	X(BZ2_bzDecompressEnd) \
	X(BZ2_bzDecompressInit)

#define KH_DL_LZ4_FUNCS(X) \
	X(LZ4_decompress_safe) \
	X(LZ4_decompress_safe_partial)

#define KH_DL_ZSTD_FUNCS(X) \
	X(ZSTD_DCtx_setParameter) \
	X(ZSTD_createDCtx) \
	X(ZSTD_decompressStream) \
	X(ZSTD_freeDCtx) \
	X(ZSTD_getErrorCode) \
	X(ZSTD_getErrorName) \
	X(ZSTD_isError)

#define KH_DL_LZO_FUNCS(X) \
	X(__lzo_init_v2) \
	X(lzo1x_decompress_safe)

/* Every header of the decompressors, or none: they go together. */
#if defined(ZLIB_H) && defined(_BZLIB_H) && defined(LZ4_H_2983827168210) && \
	defined(ZSTD_H_235446) && defined(ZSTD_ERRORS_H_398273423) && \
	defined(__LZO1X_H_INCLUDED)
#define KH_DL_DECLARE(f) extern __typeof__(f) *kh_dl_##f;
KH_DL_ZLIB_FUNCS(KH_DL_DECLARE)
KH_DL_BZ2_FUNCS(KH_DL_DECLARE)
KH_DL_LZ4_FUNCS(KH_DL_DECLARE)
KH_DL_ZSTD_FUNCS(KH_DL_DECLARE)
KH_DL_LZO_FUNCS(KH_DL_DECLARE)
#undef KH_DL_DECLARE
#define adler32 (*kh_dl_adler32)
#define crc32 (*kh_dl_crc32)
#define inflate (*kh_dl_inflate)
#define inflateEnd (*kh_dl_inflateEnd)
#define inflateInit2_ (*kh_dl_inflateInit2_)
#define BZ2_bzDecompress (*kh_dl_BZ2_bzDecompress)
#define BZ2_bzDecompressEnd (*kh_dl_BZ2_bzDecompressEnd)
#define BZ2_bzDecompressInit (*kh_dl_BZ2_bzDecompressInit)
#define LZ4_decompress_safe (*kh_dl_LZ4_decompress_safe)
#define LZ4_decompress_safe_partial (*kh_dl_LZ4_decompress_safe_partial)
#define ZSTD_DCtx_setParameter (*kh_dl_ZSTD_DCtx_setParameter)
#define ZSTD_createDCtx (*kh_dl_ZSTD_createDCtx)
#define ZSTD_decompressStream (*kh_dl_ZSTD_decompressStream)
#define ZSTD_freeDCtx (*kh_dl_ZSTD_freeDCtx)
#define ZSTD_getErrorCode (*kh_dl_ZSTD_getErrorCode)
#define ZSTD_getErrorName (*kh_dl_ZSTD_getErrorName)
#define ZSTD_isError (*kh_dl_ZSTD_isError)
#define __lzo_init_v2 (*kh_dl___lzo_init_v2)
#define lzo1x_decompress_safe (*kh_dl_lzo1x_decompress_safe)
#endif

#ifdef OPENSSL_EVP_H
#define KH_DL_DECLARE(f) extern __typeof__(f) *kh_dl_##f;
KH_DL_CRYPTO_FUNCS(KH_DL_DECLARE)
#undef KH_DL_DECLARE
#define EVP_Digest (*kh_dl_EVP_Digest)
#define EVP_DigestFinal_ex (*kh_dl_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex (*kh_dl_EVP_DigestInit_ex)
#define EVP_DigestUpdate (*kh_dl_EVP_DigestUpdate)
#define EVP_MD_CTX_free (*kh_dl_EVP_MD_CTX_free)
#define EVP_MD_CTX_new (*kh_dl_EVP_MD_CTX_new)
#define EVP_sha256 (*kh_dl_EVP_sha256)
#endif

#endif
