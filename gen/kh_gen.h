/* kh_gen: build the headers archive and its stub from a kernel tree.
 *
 * This is the whole `kheaders gen` job minus the command line: walk,
 * read and strip, write the tar through libarchive, compress with
 * liblzma, and replace the outputs atomically.
 */
#ifndef KH_GEN_H
#define KH_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "kh_error.h"

/* Everything that decides the output bytes lives here, and nothing
 * else does (the reproducibility knobs, printed by `gen -v`). */
struct kh_gen_opts {
	const char *srctree;   /* kernel source tree */
	const char *objtree;   /* build tree; may equal srctree */
	const char *arch;      /* SRCARCH: arch/<arch>/include */
	int64_t mtime;         /* on every entry, in seconds */
	int strip;             /* strip comments as upstream does */
	uint32_t xz_preset;
	/* These never change the archive's bytes: */
	int threads;           /* reader threads */
	const char *output;    /* the .tar.xz */
	const char *stub;      /* the .S, or NULL */
	const char *incbin;    /* path the stub .incbin's */
};

#define KH_GEN_OPTS_INIT { ".", ".", NULL, 0, 1, 6, 1, NULL, NULL, NULL }

struct kh_gen_result {
	size_t files, symlinks, dirs;
	uint64_t tar_size, xz_size;
};

#define KH_GEN_RESULT_INIT { 0, 0, 0, 0, 0 }

int kh_gen_run(const struct kh_gen_opts *o, struct kh_gen_result *res,
	       struct kh_error *err);

#endif
