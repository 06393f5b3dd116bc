/* kh_facts: what a manifest states of how its archive was made.
 *
 * The "# key: value" facts: the tool, the kernel's version and release
 * as the tree states them (its Makefile and generated headers), SRCARCH
 * and gen's options under readable names. None of them is an input of
 * the archive, so gen asks kh_facts_fresh whether a manifest on disk
 * still states them before it keeps one.
 */
#ifndef KH_FACTS_H
#define KH_FACTS_H

#include "lib/kh_error.h"
#include "manifest/kh_manifest.h"

/* Fill the facts: tool, kernel version and release from the tree (when
 * known and present), SRCARCH and the options. Deterministic: no
 * paths, no clock. Reads srctree/Makefile and objtree's (else
 * srctree's) include/generated/utsrelease.h and
 * include/generated/uapi/linux/version.h. */
int kh_facts_describe(struct kh_manifest *m,
		      const struct kh_manifest_origin *o,
		      struct kh_error *err);

/* Does the manifest at path still state the facts describe() would
 * write for o? Only its leading comment lines are read. The facts that
 * come from gen's options are not compared: a changed option rebuilds
 * the archive, and so the manifest, anyway. A missing or unreadable
 * file is simply not fresh (*fresh = 0). */
int kh_facts_fresh(const char *path, const struct kh_manifest_origin *o,
		   int *fresh, struct kh_error *err);

#endif
