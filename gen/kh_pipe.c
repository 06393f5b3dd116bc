/* kh_pipe: the archive's bytes, in one pass (see kh_pipe.h).
 *
 *   reader threads (read, strip) -> tar writer -> [tar hash] -> xz
 *   (one stream, or blocks compressed in parallel or taken from the
 *   cache) -> [file hash] -> the output's temporary
 *
 * Kept apart from kh_gen.c, which decides whether to build and commits
 * the outputs: this file only turns a walk into archive bytes, and
 * records each entry and the digests as they go by, so nothing written
 * is read back.
 */
#include "gen/kh_pipe.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/kh_bcache.h"
#include "gen/kh_reader.h"
#include "gen/kh_skip.h"
#include "gen/kh_tarw.h"
#include "gen/kh_xzbw.h"
#include "gen/kh_xzw.h"
#include "lib/kh_afile.h"

static int kh_pipe_afile_write(void *ctx, const void *buf, size_t len,
			      struct kh_error *err)
{
	return kh_afile_write(ctx, buf, len, err);
}

/* Emit the directories of rel's parent that the previous parent (prev)
 * did not share. Entries arrive in tar order, so a directory shared
 * with the previous file was written already, and any other is new. */
static int kh_pipe_dirs(struct kh_tarw *tw, char *prev, const char *rel,
		       size_t *ndirs, struct kh_error *err)
{
	const char *slash = strrchr(rel, '/');
	size_t plen = slash ? (size_t)(slash - rel) : 0;
	char path[PATH_MAX + 4];
	int diverged = 0;

	for (size_t j = 1; j <= plen; j++) {
		int ret;

		if (j < plen && rel[j] != '/')
			continue;
		if (!diverged && !strncmp(prev, rel, j) &&
		    (prev[j] == '\0' || prev[j] == '/'))
			continue;
		diverged = 1;
		snprintf(path, sizeof(path), "./%.*s/", (int)j, rel);
		ret = kh_tarw_dir(tw, path, err);
		if (ret < 0)
			return ret;
		(*ndirs)++;
	}
	memcpy(prev, rel, plen);
	prev[plen] = '\0';
	return 0;
}

static int kh_pipe_entries(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list, struct kh_tarw *tw,
			  struct kh_state *cur, struct kh_gen_result *res,
			  struct kh_error *err)
{
	struct kh_reader *rd;
	char prev[PATH_MAX] = "";
	char path[PATH_MAX + 4];
	int ret;

	ret = kh_reader_new(list, o->strip, o->threads, &rd, err);
	if (ret < 0)
		return ret;
	ret = kh_tarw_dir(tw, "./", err);
	res->dirs++;
	for (size_t i = 0; ret == 0 && i < list->n; i++) {
		const struct kh_walk_entry *e = &list->v[i];
		struct kh_state_input *in;
		const char *data;
		size_t len;

		ret = kh_pipe_dirs(tw, prev, e->rel, &res->dirs, err);
		if (ret == 0 && !(in = kh_skip_record(cur, e, err)))
			ret = err->code;
		if (ret == 0)
			ret = kh_reader_get(rd, i, &data, &len, in->hash, err);
		if (ret == 0 && e->type == KH_WALK_SYMLINK &&
		    !(in->target = strdup(data)))
			ret = kh_error_set(err, KH_ENOMEM, NULL,
					   "out of memory");
		if (ret < 0)
			break;
		snprintf(path, sizeof(path), "./%s", e->rel);
		if (e->type == KH_WALK_PARENTS) {
			ret = 0;
		} else if (e->type == KH_WALK_SYMLINK) {
			ret = kh_tarw_symlink(tw, path, data, err);
			res->symlinks++;
		} else {
			ret = kh_tarw_file(tw, path, data, len, err);
			res->files++;
		}
		kh_reader_done(rd, i);
	}
	kh_reader_free(rd);
	return ret;
}

uint64_t kh_pipe_block_size(const struct kh_gen_opts *o)
{
	return o->xz_block_size ? o->xz_block_size : KH_GEN_XZ_BLOCK_SIZE;
}

/* The block cache, if one is asked for and usable: a cache that cannot
 * be used now (another run holds it, it cannot be made) costs time only,
 * so the run goes on without it. One that must not be trusted (a
 * symlink, someone else's, writable by others, not made by kheaders)
 * stops the run: the user named the wrong directory, or someone planted
 * it, and either deserves more than a note in -v. */
static int kh_pipe_cache(const struct kh_gen_opts *o,
			struct kh_gen_result *res, struct kh_bcache **bc,
			struct kh_error *err)
{
	struct kh_error cerr = KH_ERROR_INIT;
	int ret;

	*bc = NULL;
	if (!o->cache)
		return 0;
	ret = kh_bcache_open(o->cache, o->cache_max ? o->cache_max
						    : KH_BCACHE_DEFAULT_MAX,
			     bc, &cerr);
	if (ret == KH_EINVAL) {
		*err = cerr;
		return ret;
	}
	if (ret < 0)
		snprintf(res->cache_note, sizeof(res->cache_note), "%s",
			 cerr.msg);
	else if (!*bc)
		snprintf(res->cache_note, sizeof(res->cache_note),
			 "%s: in use by another run", o->cache);
	return 0;
}

/* The tar stream's digest, for the manifest: a hashing stage in front
 * of the compressor (*tar), when the run records what it writes. */
static int kh_pipe_tar_hash(const struct kh_gen_opts *o,
			   const struct kh_record *rec, struct kh_sink *tar,
			   struct kh_hsink **hs, struct kh_error *err)
{
	int ret;

	*hs = NULL;
	if (!rec)
		return 0;
	ret = kh_hsink_new(*tar, KH_HSINK_SHA256, o->output, hs, err);
	if (ret == 0)
		*tar = kh_hsink_sink(*hs);
	return ret;
}

/* The tar is complete: its digest goes into the record. */
static int kh_pipe_tar_hashed(struct kh_hsink *hs, struct kh_record *rec,
			     struct kh_error *err)
{
	struct kh_hsink_sum sum;
	int ret;

	if (!hs)
		return 0;
	ret = kh_hsink_end(hs, &sum, err);
	if (ret == 0)
		kh_record_set_digest(&rec->tar, sum.sha256, sum.size);
	return ret;
}

/* The tar stream into tar (a compressor's sink), behind a hashing
 * stage when rec is given; on_entry, if not NULL, hears where each
 * entry starts (the block writer cuts there). Shared by both modes. */
static int kh_pipe_tar(const struct kh_gen_opts *o,
		       const struct kh_walk_list *list, struct kh_sink tar,
		       kh_tarw_entry_fn *on_entry, void *ctx,
		       struct kh_state *cur, struct kh_record *rec,
		       struct kh_gen_result *res, struct kh_error *err)
{
	struct kh_hsink *th = NULL;
	struct kh_tarw *tw = NULL;
	int ret = kh_pipe_tar_hash(o, rec, &tar, &th, err);

	if (ret == 0)
		ret = kh_tarw_new(tar, o->mtime, &tw, err);
	if (ret == 0) {
		if (on_entry)
			kh_tarw_on_entry(tw, on_entry, ctx);
		kh_tarw_record(tw, rec);
		ret = kh_pipe_entries(o, list, tw, cur, res, err);
	}
	if (ret == 0)
		ret = kh_tarw_finish(tw, err);
	if (ret == 0)
		ret = kh_pipe_tar_hashed(th, rec, err);
	if (ret == 0)
		res->tar_size = kh_tarw_size(tw);
	kh_tarw_free(tw);
	kh_hsink_free(th);
	return ret;
}

/* Block mode: tar stream -> blocks, compressed in parallel or taken
 * from the cache -> file. */
static int kh_pipe_blocks(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list,
			  struct kh_sink file, struct kh_state *cur,
			  struct kh_record *rec, struct kh_gen_result *res,
			  struct kh_error *err)
{
	struct kh_xzbw_opts xo = { .preset = o->xz_preset,
				   .block_size = kh_pipe_block_size(o),
				   .threads = o->threads };
	struct kh_xzbw *xw = NULL;
	int ret;

	ret = kh_pipe_cache(o, res, &xo.cache, err);
	if (ret < 0)
		return ret;
	ret = kh_xzbw_new(file, &xo, &xw, err);
	if (ret == 0)
		ret = kh_pipe_tar(o, list, kh_xzbw_sink(xw), kh_xzbw_entry, xw,
				  cur, rec, res, err);
	if (ret == 0)
		ret = kh_xzbw_finish(xw, err);
	if (ret == 0) {
		res->xz_size = kh_xzbw_size(xw);
		kh_xzbw_counts(xw, &res->blocks, &res->blocks_cached);
	}
	kh_xzbw_free(xw);
	if (ret == 0) {
		struct kh_error cerr = KH_ERROR_INIT;

		if (kh_bcache_close(xo.cache, &cerr) < 0)
			snprintf(res->cache_note, sizeof(res->cache_note),
				 "%s", cerr.msg);
	} else {
		kh_bcache_abort(xo.cache);
	}
	return ret;
}

/* Single mode: tar stream -> xz -> file. */
static int kh_pipe_single(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list,
			  struct kh_sink file, struct kh_state *cur,
			  struct kh_record *rec, struct kh_gen_result *res,
			  struct kh_error *err)
{
	struct kh_xzw *xw = NULL;
	int ret;

	ret = kh_xzw_new(file, o->xz_preset, &xw, err);
	if (ret == 0)
		ret = kh_pipe_tar(o, list, kh_xzw_sink(xw), NULL, NULL, cur,
				  rec, res, err);
	if (ret == 0)
		ret = kh_xzw_finish(xw, err);
	if (ret == 0)
		res->xz_size = kh_xzw_size(xw);
	kh_xzw_free(xw);
	return ret;
}

/* Write the archive into af. The file's digests (for the state, and
 * the manifest when rec is given) come from a hashing stage between
 * the compressor and the file: nothing is read back. */
int kh_pipe_write(const struct kh_gen_opts *o, const struct kh_walk_list *list,
		  struct kh_afile *af, struct kh_state *cur,
		  struct kh_record *rec, struct kh_hsink_sum *sum,
		  int *summed, struct kh_gen_result *res, struct kh_error *err)
{
	struct kh_sink file = { .write = kh_pipe_afile_write, .ctx = af };
	unsigned what = (o->state ? KH_HSINK_SHA256 | KH_HSINK_XXH128 : 0) |
			(rec ? KH_HSINK_SHA256 : 0);
	struct kh_hsink *fh = NULL;
	int ret = 0;

	*summed = 0;
	if (what) {
		ret = kh_hsink_new(file, what, o->output, &fh, err);
		if (ret == 0)
			file = kh_hsink_sink(fh);
	}
	if (ret == 0)
		ret = o->xz_single ?
			kh_pipe_single(o, list, file, cur, rec, res, err) :
			kh_pipe_blocks(o, list, file, cur, rec, res, err);
	if (ret == 0 && fh)
		ret = kh_hsink_end(fh, sum, err);
	if (ret == 0 && fh) {
		*summed = 1;
		if (rec)
			kh_record_set_digest(&rec->archive, sum->sha256,
					     sum->size);
	}
	kh_hsink_free(fh);
	return ret;
}
