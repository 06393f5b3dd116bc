/* kh_error: formatting of library error messages (see kh_error.h). */
#include "lib/kh_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int kh_error_vset(struct kh_error *err, int code, const char *path,
			 int errnum, const char *fmt, va_list ap)
{
	size_t n = 0;

	if (!err)
		return code;
	err->code = code;
	err->msg[0] = '\0';
	if (path) {
		snprintf(err->msg, sizeof(err->msg), "%s: ", path);
		n = strlen(err->msg);
	}
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	n = strlen(err->msg);
	if (errnum)
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s",
			 strerror(errnum));
	return code;
}

int kh_error_set(struct kh_error *err, int code, const char *path,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_error_vset(err, code, path, 0, fmt, ap);
	va_end(ap);
	return code;
}

int kh_error_sys(struct kh_error *err, int errnum, const char *path,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kh_error_vset(err, KH_EIO, path, errnum, fmt, ap);
	va_end(ap);
	return KH_EIO;
}
