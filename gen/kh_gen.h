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

#include "gen/kh_record.h"
#include "lib/kh_error.h"

/* What gen knows of its run that a manifest states as facts: the trees
 * and the options as recorded in the state ("mtime=...", "arch=..."). */
struct kh_gen_origin {
	const char *srctree;
	const char *objtree;
	char *const *options;
	size_t noptions;
};

/* `gen --manifest`: gen knows when a manifest is due, the manifest layer
 * knows how to write one. gen never includes manifest/ (it is the lower
 * layer); the front end hands it these functions (cli/cmd_gen.c). Each
 * returns the manifest's text (malloc'ed, len bytes); gen writes it. */
struct kh_gen_manifester {
	/* The manifest of what this run just wrote, from rec: the entries
	 * as the tar writer emitted them and the digests of the tar and
	 * of the archive as they streamed out. Nothing is read back. */
	int (*from_record)(const struct kh_record *rec, const char *archive,
			   const struct kh_gen_origin *origin, char **text,
			   size_t *len, struct kh_error *err);
	/* The manifest of the archive open at archive_fd (named archive in
	 * messages), read from it: for a run that found the archive up to
	 * date and its manifest missing or stale, which wrote nothing. */
	int (*from_archive)(int archive_fd, const char *archive,
			    const struct kh_gen_origin *origin, char **text,
			    size_t *len, struct kh_error *err);
	/* Set *fresh when the manifest at path still states the tree's
	 * facts rightly (they are not inputs: the Makefile's version...). */
	int (*fresh)(const char *path, const struct kh_gen_origin *origin,
		     int *fresh, struct kh_error *err);
};

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
	/* The skip logic: */
	const char *state;     /* state file, or NULL to always rebuild */
	const char *depfile;   /* Make depfile to write, or NULL */
	const char *tool;      /* identity of this build of the tool */
	int force;             /* rebuild even when up to date */
	/* The mtree manifest to write beside the archive, or NULL. It is
	 * rewritten when missing or stale even if the archive is not;
	 * manifester (required with manifest) writes it. */
	const char *manifest;
	const struct kh_gen_manifester *manifester;
	/* Compression (decides the bytes, recorded in the state): upstream's
	 * single xz stream, or independent blocks cut from the content,
	 * compressed in parallel (threads) and cached. */
	int xz_single;
	uint64_t xz_block_size; /* the blocks' target size; 0: default */
	/* Never changes the bytes: where compressed blocks are kept between
	 * runs (NULL: nowhere), and the bound on its size (0: default). */
	const char *cache;
	uint64_t cache_max;
};

/* Every field not named is 0 or NULL. */
#define KH_GEN_OPTS_INIT { .srctree = ".", .objtree = ".", .strip = 1, \
			   .xz_preset = 6, .threads = 1, .tool = "" }

/* Block mode's default target block size: see README for the curve
 * of size, cold time and edit time it was chosen from. */
#define KH_GEN_XZ_BLOCK_SIZE (4ULL << 20)
#define KH_GEN_XZ_BLOCK_SIZE_MAX (1ULL << 30)

#define KH_GEN_REASON_MAX 512

struct kh_gen_result {
	int rebuilt;                    /* 0: outputs were up to date */
	char reason[KH_GEN_REASON_MAX]; /* why it rebuilt (first change) */
	size_t files, symlinks, dirs;
	size_t rehashed;                /* inputs read to check them */
	size_t out_hashed;              /* outputs read to check them */
	size_t dirs_replayed;           /* directories listed from records */
	size_t dirs_read;               /* directories read */
	uint64_t tar_size, xz_size;
	size_t blocks, blocks_cached;   /* block mode: written, from cache */
	char cache_note[KH_ERROR_MAX];  /* why the cache was not used */
};

#define KH_GEN_RESULT_INIT { .rebuilt = 0 }

/* Check the options that can be wrong (an architecture, present and a
 * plain name) before anything prints or records them; kh_gen_run
 * checks them again. */
int kh_gen_check_opts(const struct kh_gen_opts *o, struct kh_error *err);

int kh_gen_run(const struct kh_gen_opts *o, struct kh_gen_result *res,
	       struct kh_error *err);

#endif
