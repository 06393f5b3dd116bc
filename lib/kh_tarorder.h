/* kh_tarorder: the order of entries in the archive, a rule of the
 * format that gen (writing), manifest (diff, verify) and extract all
 * follow.
 *
 * GNU tar --sort=name order: a depth-first walk with each directory's
 * names in strcmp order. On whole paths that is a byte comparison in
 * which '/' sorts before every other byte ("a/x" < "a-b" < "a.h").
 */
#ifndef KH_TARORDER_H
#define KH_TARORDER_H

/* <0, 0 or >0 as a sorts before, with or after b. */
int kh_tarorder_cmp(const char *a, const char *b);

#endif
