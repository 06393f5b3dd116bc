/* kh_ikhd: the markers around the archive in a kernel or module image.
 *
 * gen's stub puts "IKHD_ST" right before the archive's first byte and
 * "IKHD_ED" right after its last, as the kernel's own kheaders.c did
 * (and "IKCFG_ST" does for /proc/config.gz), so that extract can find
 * the archive in an image without symbols.
 */
#ifndef KH_IKHD_H
#define KH_IKHD_H

#define KH_IKHD_START "IKHD_ST"
#define KH_IKHD_END "IKHD_ED"
#define KH_IKHD_LEN 7

_Static_assert(sizeof(KH_IKHD_START) - 1 == KH_IKHD_LEN, "marker length");
_Static_assert(sizeof(KH_IKHD_END) - 1 == KH_IKHD_LEN, "marker length");

#endif
