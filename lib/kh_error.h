/* kh_error: how library code hands a failure to the front end.
 *
 * Library functions never print or exit. They return 0 or a negative
 * code and leave a complete, human-readable message here, already
 * naming the file and the reason ("include/x.h: cannot read: ...").
 * Only cli/ prints it, prefixed with the program name.
 */
#ifndef KH_ERROR_H
#define KH_ERROR_H

#include <stddef.h>

#define KH_ERROR_MAX 1024

struct kh_error {
	int code;                 /* 0, or negative once set */
	char msg[KH_ERROR_MAX];   /* NUL-terminated, never empty once set */
};

#define KH_ERROR_INIT { .code = 0 }

/* Return codes shared by every module. */
enum {
	KH_OK = 0,
	KH_EIO = -1,      /* reading or writing a file failed */
	KH_EINVAL = -2,   /* bad input (options, timestamps, trees) */
	KH_ENOMEM = -3,   /* allocation failed */
	KH_ELIB = -4,     /* a library (libarchive, liblzma) failed */
};

/* Set err to "<path>: <what>" (path may be NULL); returns code. */
int kh_error_set(struct kh_error *err, int code, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Like kh_error_set, with ": <strerror(errnum)>" appended. */
int kh_error_sys(struct kh_error *err, int errnum, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
