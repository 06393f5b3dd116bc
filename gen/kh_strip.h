/* kh_strip: remove C comments exactly as upstream's perl does.
 *
 * Upstream runs, over each whole header,
 *     perl -pi -e 'BEGIN {undef $/;}; s/\/\*((?!SPDX).)*?\*\///smg;'
 * This module reproduces that expression's result byte for byte: it is
 * deliberately not C-aware (a slash-star inside a string literal starts
 * a "comment" too), keeps any comment whose body contains "SPDX", and
 * leaves an unterminated comment alone.
 */
#ifndef KH_STRIP_H
#define KH_STRIP_H

#include <stddef.h>

/* Strip buf[0..len) in place; returns the new length. */
size_t kh_strip(char *buf, size_t len);

#endif
