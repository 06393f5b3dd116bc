/* kh_stub: the assembler file that embeds the archive in the kernel.
 *
 * It puts the archive in .rodata between the globals
 * kernel_headers_data and kernel_headers_data_end (typed and sized, so
 * C may declare them as arrays, which FORTIFY_SOURCE needs), with the
 * markers "IKHD_ST" and "IKHD_ED" right around the data so that tools
 * can find the archive in a kernel or module image, as "IKCFG_ST" does
 * for /proc/config.gz.
 */
#ifndef KH_STUB_H
#define KH_STUB_H

#include <stddef.h>

#include "lib/kh_error.h"
#include "lib/kh_ikhd.h"

/* Build the stub text for an .incbin of path (as the assembler will
 * resolve it: relative to its working directory or -I paths). *out is
 * malloc'ed. */
int kh_stub_text(const char *incbin, char **out, size_t *len,
		 struct kh_error *err);

#endif
