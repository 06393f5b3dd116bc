/* kh_dl: libarchive, libcrypto and the decompressors, loaded when
 * needed (see kh_dl.h). */
#include <archive.h>
#include <archive_entry.h>
#include <bzlib.h>
#include <lz4.h>
#include <lzo1x.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "lib/kh_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Set by the Makefile from the SONAME of the library it found. */
#ifndef KH_DL_ARCHIVE_SONAME
#error "KH_DL_ARCHIVE_SONAME not set (see Makefile)"
#endif
#ifndef KH_DL_CRYPTO_SONAME
#error "KH_DL_CRYPTO_SONAME not set (see Makefile)"
#endif
#if !defined(KH_DL_ZLIB_SONAME) || !defined(KH_DL_BZ2_SONAME) || \
	!defined(KH_DL_LZ4_SONAME) || !defined(KH_DL_ZSTD_SONAME) || \
	!defined(KH_DL_LZO_SONAME)
#error "a decompressor's SONAME is not set (see Makefile)"
#endif
_Static_assert(sizeof(KH_DL_ARCHIVE_SONAME) > 1 &&
	       sizeof(KH_DL_CRYPTO_SONAME) > 1 &&
	       sizeof(KH_DL_ZLIB_SONAME) > 1 && sizeof(KH_DL_BZ2_SONAME) > 1 &&
	       sizeof(KH_DL_LZ4_SONAME) > 1 && sizeof(KH_DL_ZSTD_SONAME) > 1 &&
	       sizeof(KH_DL_LZO_SONAME) > 1,
	       "no SONAME found for a library loaded when needed (objdump?)");

#define KH_DL_DEFINE(f) __typeof__(f) *kh_dl_##f;
KH_DL_ARCHIVE_FUNCS(KH_DL_DEFINE)
KH_DL_CRYPTO_FUNCS(KH_DL_DEFINE)
KH_DL_ZLIB_FUNCS(KH_DL_DEFINE)
KH_DL_BZ2_FUNCS(KH_DL_DEFINE)
KH_DL_LZ4_FUNCS(KH_DL_DEFINE)
KH_DL_ZSTD_FUNCS(KH_DL_DEFINE)
KH_DL_LZO_FUNCS(KH_DL_DEFINE)
#undef KH_DL_DEFINE

/* One library: its functions' names and where their addresses go. */
struct kh_dl_sym {
	const char *name;
	void **slot;
};

struct kh_dl_lib {
	const char *soname;
	const struct kh_dl_sym *syms;
	size_t nsyms;
	pthread_once_t once;
	int ret;
	char msg[KH_ERROR_MAX];
};

#define KH_DL_SYM(f) { #f, (void **)&kh_dl_##f },
static const struct kh_dl_sym kh_dl_archive_syms[] = {
	KH_DL_ARCHIVE_FUNCS(KH_DL_SYM)
};
static const struct kh_dl_sym kh_dl_crypto_syms[] = {
	KH_DL_CRYPTO_FUNCS(KH_DL_SYM)
};
static const struct kh_dl_sym kh_dl_zlib_syms[] = { KH_DL_ZLIB_FUNCS(KH_DL_SYM) };
static const struct kh_dl_sym kh_dl_bz2_syms[] = { KH_DL_BZ2_FUNCS(KH_DL_SYM) };
static const struct kh_dl_sym kh_dl_lz4_syms[] = { KH_DL_LZ4_FUNCS(KH_DL_SYM) };
static const struct kh_dl_sym kh_dl_zstd_syms[] = { KH_DL_ZSTD_FUNCS(KH_DL_SYM) };
static const struct kh_dl_sym kh_dl_lzo_syms[] = { KH_DL_LZO_FUNCS(KH_DL_SYM) };
#undef KH_DL_SYM

static struct kh_dl_lib kh_dl_libarchive = {
	.soname = KH_DL_ARCHIVE_SONAME,
	.syms = kh_dl_archive_syms,
	.nsyms = sizeof(kh_dl_archive_syms) / sizeof(kh_dl_archive_syms[0]),
	.once = PTHREAD_ONCE_INIT,
};
static struct kh_dl_lib kh_dl_libcrypto = {
	.soname = KH_DL_CRYPTO_SONAME,
	.syms = kh_dl_crypto_syms,
	.nsyms = sizeof(kh_dl_crypto_syms) / sizeof(kh_dl_crypto_syms[0]),
	.once = PTHREAD_ONCE_INIT,
};
#define KH_DL_LIB(soname, syms) \
	{ soname, syms, sizeof(syms) / sizeof(syms[0]), PTHREAD_ONCE_INIT, 0, "" }
static struct kh_dl_lib kh_dl_libz = KH_DL_LIB(KH_DL_ZLIB_SONAME, kh_dl_zlib_syms);
static struct kh_dl_lib kh_dl_libbz2 = KH_DL_LIB(KH_DL_BZ2_SONAME, kh_dl_bz2_syms);
static struct kh_dl_lib kh_dl_liblz4 = KH_DL_LIB(KH_DL_LZ4_SONAME, kh_dl_lz4_syms);
static struct kh_dl_lib kh_dl_libzstd = KH_DL_LIB(KH_DL_ZSTD_SONAME, kh_dl_zstd_syms);
static struct kh_dl_lib kh_dl_liblzo = KH_DL_LIB(KH_DL_LZO_SONAME, kh_dl_lzo_syms);
#undef KH_DL_LIB

static void kh_dl_fail(struct kh_dl_lib *l, const char *what)
{
	const char *why = dlerror();
	struct kh_error e = KH_ERROR_INIT;

	l->ret = kh_error_set(&e, KH_ELIB, NULL, "cannot %s: %s", what,
			      why ? why : "unknown error");
	memcpy(l->msg, e.msg, sizeof(l->msg));
}

/* Never closed: the process keeps using it until it exits. */
static void kh_dl_load(struct kh_dl_lib *l)
{
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	char what[256];

	if (!h) {
		snprintf(what, sizeof(what), "load %s", l->soname);
		kh_dl_fail(l, what);
		return;
	}
	for (size_t i = 0; i < l->nsyms; i++) {
		dlerror();
		*l->syms[i].slot = dlsym(h, l->syms[i].name);
		if (!*l->syms[i].slot) {
			snprintf(what, sizeof(what), "find %s in %s",
				 l->syms[i].name, l->soname);
			kh_dl_fail(l, what);
			return;
		}
	}
}

static void kh_dl_load_archive(void)
{
	kh_dl_load(&kh_dl_libarchive);
}

static void kh_dl_load_crypto(void)
{
	kh_dl_load(&kh_dl_libcrypto);
}

static int kh_dl_result(const struct kh_dl_lib *l, struct kh_error *err)
{
	if (l->ret < 0)
		return kh_error_set(err, l->ret, NULL, "%s", l->msg);
	return 0;
}

int kh_dl_archive(struct kh_error *err)
{
	pthread_once(&kh_dl_libarchive.once, kh_dl_load_archive);
	return kh_dl_result(&kh_dl_libarchive, err);
}

int kh_dl_crypto(struct kh_error *err)
{
	pthread_once(&kh_dl_libcrypto.once, kh_dl_load_crypto);
	return kh_dl_result(&kh_dl_libcrypto, err);
}

const char *kh_dl_archive_soname(void)
{
	return KH_DL_ARCHIVE_SONAME;
}

const char *kh_dl_crypto_soname(void)
{
	return KH_DL_CRYPTO_SONAME;
}

/* pthread_once takes no argument: one loader per library. */
#define KH_DL_LOADER(name, lib) \
	static void kh_dl_load_##name(void) \
	{ \
		kh_dl_load(&lib); \
	} \
	int kh_dl_##name(struct kh_error *err) \
	{ \
		pthread_once(&lib.once, kh_dl_load_##name); \
		return kh_dl_result(&lib, err); \
	}
KH_DL_LOADER(zlib, kh_dl_libz)
KH_DL_LOADER(bz2, kh_dl_libbz2)
KH_DL_LOADER(lz4, kh_dl_liblz4)
KH_DL_LOADER(zstd, kh_dl_libzstd)
KH_DL_LOADER(lzo, kh_dl_liblzo)
#undef KH_DL_LOADER

const char *kh_dl_decomp_sonames(void)
{
	return KH_DL_ZLIB_SONAME " " KH_DL_BZ2_SONAME " " KH_DL_LZ4_SONAME
	       " " KH_DL_ZSTD_SONAME " " KH_DL_LZO_SONAME;
}
