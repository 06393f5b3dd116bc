/* kh_depfile: a Make dependency file for the archive.
 *
 *   kernel/kheaders_data.tar.xz: \
 *    include/linux/a.h \
 *    ...
 *   include/linux/a.h:
 *
 * One phony rule per input (as gcc -MP writes) keeps Make from failing
 * when a header is deleted. Make cannot see added headers through a
 * depfile, which is why Kbuild still runs the generator every time and
 * the generator's own state decides. The file is rewritten only when
 * its content changes.
 */
#ifndef KH_DEPFILE_H
#define KH_DEPFILE_H

#include <stddef.h>

#include "lib/kh_error.h"

int kh_depfile_write(const char *path, const char *target,
		     const char *const *inputs, size_t n,
		     struct kh_error *err);

#endif
