/* kh_gen: the generator pipeline (see kh_gen.h).
 *
 *   walk -> [skip decision] -> kh_pipe (readers, tar, xz, digests) ->
 *   temporaries -> commit -> state, depfile
 *
 * The stub is written to its own temporary first; both temporaries are
 * renamed only once everything succeeded, the archive first, so a
 * failure anywhere leaves the previous outputs as they were. The state
 * goes last: a crash before it only costs one needless rebuild.
 *
 * Before any of that, the skip check: walk and stat while the last
 * run's state is read (kh_prev), and ask kh_skip whether the outputs are
 * still this run's. The decision writes nothing; what follows from it
 * (a rebuild, or the state carried forward, a stale manifest
 * rewritten, the depfile) is done here.
 */
#include "gen/kh_gen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gen/kh_depfile.h"
#include "gen/kh_pipe.h"
#include "gen/kh_prev.h"
#include "gen/kh_reader.h"
#include "gen/kh_record.h"
#include "gen/kh_skip.h"
#include "gen/kh_state.h"
#include "gen/kh_stub.h"
#include "gen/kh_tarw.h"
#include "gen/kh_walk.h"
#include "gen/kh_xzblk.h"
#include "lib/kh_afile.h"
#include "lib/kh_file.h"
#include "lib/kh_hash.h"
#include "lib/kh_hsink.h"
#include "lib/kh_time.h"

/* What gen knows of an output it wrote, for the state: the digests of
 * the bytes as they went out (never read back from the file). */
struct kh_gen_written {
	int known;
	struct kh_hsink_sum sum;
};

static void kh_gen_written_set(struct kh_gen_written *w,
			       const struct kh_hsink_sum *sum)
{
	w->known = 1;
	w->sum = *sum;
}

/* Write a small output (stub, manifest) from memory into a new
 * temporary for path, left uncommitted in *out; with a state to keep,
 * its digests from the same buffer. */
static int kh_gen_write_text(const struct kh_gen_opts *o, const char *path,
			     const char *text, size_t len,
			     struct kh_afile **out, struct kh_gen_written *w,
			     struct kh_error *err)
{
	struct kh_hsink_sum sum = { .size = len };
	int ret;

	*out = NULL;
	ret = kh_afile_open(path, out, err);
	if (ret == 0)
		ret = kh_afile_write(*out, text, len, err);
	if (ret == 0 && o->state) {
		ret = kh_hash_sha256(text, len, sum.sha256, err);
		kh_hash_xxh128(text, len, sum.xxh128);
		if (ret == 0)
			kh_gen_written_set(w, &sum);
	}
	if (ret < 0) {
		kh_afile_abort(*out);
		*out = NULL;
	}
	return ret;
}

/* The archive, through the one-pass pipeline; its digests into *w. */
static int kh_gen_archive(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list,
			  struct kh_afile *af, struct kh_state *cur,
			  struct kh_record *rec, struct kh_gen_written *w,
			  struct kh_gen_result *res, struct kh_error *err)
{
	struct kh_hsink_sum sum;
	int summed = 0;
	int ret = kh_pipe_write(o, list, af, cur, rec, &sum, &summed, res,
				err);

	if (ret == 0 && summed)
		kh_gen_written_set(w, &sum);
	return ret;
}

int kh_gen_check_opts(const struct kh_gen_opts *o, struct kh_error *err)
{
	const char *arch = o->arch;

	if (!arch || !*arch)
		return kh_error_set(err, KH_EINVAL, NULL,
				    "no architecture: pass --arch or set "
				    "SRCARCH");
	if (strchr(arch, '/') || !strcmp(arch, ".") || !strcmp(arch, ".."))
		return kh_error_set(err, KH_EINVAL, NULL,
				    "bad architecture name '%s'", arch);
	return 0;
}

/* Is objtree the same directory as srctree (an in-tree build)? */
static int kh_gen_same_tree(const char *src, const char *obj, int *same,
			    struct kh_error *err)
{
	struct stat a, b;

	if (stat(src, &a) < 0)
		return kh_error_sys(err, errno, src, "cannot use srctree");
	if (!S_ISDIR(a.st_mode))
		return kh_error_set(err, KH_EINVAL, src,
				    "srctree is not a directory");
	if (stat(obj, &b) < 0)
		return kh_error_sys(err, errno, obj, "cannot use objtree");
	if (!S_ISDIR(b.st_mode))
		return kh_error_set(err, KH_EINVAL, obj,
				    "objtree is not a directory");
	*same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return 0;
}

/* Refuse, before anything is built, what cannot make an archive: no
 * header at all (almost always a wrong --srctree), a header too large
 * to hold in memory, a path a depfile cannot name. */
static int kh_gen_check_list(const struct kh_gen_opts *o,
			     const struct kh_walk_list *list, int same,
			     struct kh_error *err)
{
	size_t n = 0;

	for (size_t i = 0; i < list->n; i++) {
		const struct kh_walk_entry *e = &list->v[i];

		if (e->type == KH_WALK_PARENTS)
			continue;
		n++;
		if (e->type == KH_WALK_FILE &&
		    (unsigned long long)e->size > KH_READER_MAX_FILE)
			return kh_error_set(err, KH_EINVAL, e->path,
					    "%lld bytes: a header may have "
					    "%llu MiB at most; is it one?",
					    (long long)e->size,
					    KH_READER_MAX_FILE >> 20);
		if (o->depfile && strpbrk(e->path, "\n\r")) {
			char *p = kh_state_escape(e->path);

			kh_error_set(err, KH_EINVAL, o->depfile, "cannot "
				     "list %s (percent-encoded here): Make "
				     "cannot name a file with a line break",
				     p ? p : "a path");
			free(p);
			return KH_EINVAL;
		}
	}
	if (n == 0)
		return kh_error_set(err, KH_EINVAL, o->srctree, "no headers "
				    "found below include/ or arch/%s/include/"
				    "%s%s%s; wrong --srctree?", o->arch,
				    same ? "" : " (nor in objtree '",
				    same ? "" : o->objtree, same ? "" : "')");
	return 0;
}

/* Walk the trees. With a state in use, record every directory for the
 * next run; cache (may be NULL) offers the last run's records. */
static int kh_gen_walk(const struct kh_gen_opts *o,
		       const struct kh_walk_cache *cache,
		       struct kh_walk_list *list, struct kh_error *err)
{
	char archinc[PATH_MAX];
	int same = 0, ret;

	snprintf(archinc, sizeof(archinc), "arch/%s/include", o->arch);
	ret = kh_gen_same_tree(o->srctree, o->objtree, &same, err);
	if (ret < 0)
		return ret;
	/* srctree must have both; an objtree may lack either. */
	{
		const struct kh_walk_root roots[] = {
			{ .root = o->srctree, .sub = "include", .tree = 0,
			  .required = 1 },
			{ .root = o->srctree, .sub = archinc, .tree = 0,
			  .required = 1 },
			{ .root = o->objtree, .sub = "include", .tree = 1 },
			{ .root = o->objtree, .sub = archinc, .tree = 1 },
		};

		ret = o->state ?
			kh_walk_trees_cached(roots, same ? 2 : 4, o->threads,
					     cache, list, err) :
			kh_walk_trees(roots, same ? 2 : 4, o->threads, list,
				      err);
		if (ret < 0)
			return ret;
	}
	kh_walk_finish(list);
	return kh_gen_check_list(o, list, same, err);
}


static int kh_gen_stub(const struct kh_gen_opts *o, struct kh_afile **out,
		       struct kh_gen_written *w, struct kh_error *err)
{
	char *text;
	size_t len;
	int ret;

	*out = NULL;
	ret = kh_stub_text(o->incbin ? o->incbin : o->output, &text, &len,
			   err);
	if (ret < 0)
		return ret;
	ret = kh_gen_write_text(o, o->stub, text, len, out, w, err);
	free(text);
	return ret;
}

static int64_t kh_gen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return kh_time_ns(ts);
}

/* The options recorded in the state: everything that decides the
 * bytes of an output, in a fixed order. */
static int kh_gen_options(const struct kh_gen_opts *o, struct kh_state *st,
			  struct kh_error *err)
{
	char buf[PATH_MAX + 64];
	int ret;

	snprintf(buf, sizeof(buf), "mtime=%lld", (long long)o->mtime);
	ret = kh_state_add_option(st, buf, err);
	snprintf(buf, sizeof(buf), "arch=%s", o->arch);
	if (ret == 0)
		ret = kh_state_add_option(st, buf, err);
	if (ret == 0)
		ret = kh_state_add_option(st, o->strip ? "strip=upstream-perl"
						       : "strip=none", err);
	snprintf(buf, sizeof(buf), "format=gnutar,record=%d", KH_TAR_RECORD);
	if (ret == 0)
		ret = kh_state_add_option(st, buf, err);
	if (o->xz_single) {
		snprintf(buf, sizeof(buf), "xz=preset%u,crc64,single-stream",
			 (unsigned)o->xz_preset);
	} else {
		char xz[KH_XZBLK_DESCRIBE_MAX];

		kh_xzblk_describe(o->xz_preset, xz, sizeof(xz));
		snprintf(buf, sizeof(buf), "xz=%s,blocks=%llu", xz,
			 (unsigned long long)kh_pipe_block_size(o));
	}
	if (ret == 0)
		ret = kh_state_add_option(st, buf, err);
	snprintf(buf, sizeof(buf), "stub-incbin=%s",
		 !o->stub ? "-" : o->incbin ? o->incbin : o->output);
	if (ret == 0)
		ret = kh_state_add_option(st, buf, err);
	return ret;
}

static int kh_gen_depfile(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list,
			  struct kh_error *err)
{
	const char **paths;
	size_t n = 0;
	int ret;

	if (!o->depfile)
		return 0;
	paths = malloc((list->n + 1) * sizeof(*paths));
	if (!paths)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < list->n; i++)
		if (list->v[i].type != KH_WALK_PARENTS)
			paths[n++] = list->v[i].path;
	ret = kh_depfile_write(o->depfile, o->output, paths, n, err);
	free(paths);
	return ret;
}

/* Record the outputs as written (their digests taken as they were
 * written, w[]: archive, stub, manifest), then save the state. */
static int kh_gen_save_state(const struct kh_gen_opts *o,
			     struct kh_state *cur,
			     const struct kh_gen_written w[3],
			     struct kh_error *err)
{
	const char *paths[3] = { o->output, o->stub, o->manifest };
	const char *roles[3] = { "archive", "stub", "manifest" };
	int ret = 0;

	if (!o->state)
		return 0;
	for (size_t i = 0; ret == 0 && i < 3; i++) {
		struct kh_state_ostat os;

		if (!paths[i])
			continue;
		if (!w[i].known)
			return kh_error_set(err, KH_ELIB, paths[i], "written "
					    "without its digests (internal "
					    "error)");
		ret = kh_state_add_output(cur, roles[i], paths[i],
					  w[i].sum.sha256, w[i].sum.xxh128,
					  w[i].sum.size, err);
		if (ret == 0) {
			kh_skip_ostat(paths[i], &os);
			kh_state_set_output_stat(cur, &os);
		}
	}
	return ret ? ret : kh_state_save(o->state, cur, err);
}

/* The skip decision on this walk (pp: the last run's state). Up to
 * date: 1, and cur becomes the state to keep, the last run's records
 * carried forward; *save says whether it is worth writing. */
static int kh_gen_decide(const struct kh_gen_opts *o, struct kh_prev *pp,
			 const struct kh_walk_list *list, struct kh_state *cur,
			 int *save, struct kh_gen_result *res,
			 struct kh_error *err)
{
	const struct kh_error *load_err = NULL;
	struct kh_state *prev = kh_prev_wait(pp, &load_err);
	struct kh_skip_in in = {
		.state = o->state, .force = o->force, .cur = cur,
		.output = o->output, .stub = o->stub,
		.prev = prev, .load_err = load_err,
	};
	struct kh_skip d = KH_SKIP_INIT;
	int ret = kh_skip_decide(&in, list, &d, err);

	*save = 0;
	res->rehashed = d.rehashed;
	res->out_hashed = d.out_hashed;
	snprintf(res->reason, sizeof(res->reason), "%s", d.reason);
	if (ret < 0 || !d.up_to_date)
		return ret;
	ret = kh_skip_carry(&d, list, prev, cur, save, err);
	return ret < 0 ? ret : 1;
}

/* The manifest, into an uncommitted temporary: of rec, what this run
 * wrote; or, rec NULL, of the archive already there, open at fd. */
static int kh_gen_manifest(const struct kh_gen_opts *o,
			   const struct kh_state *cur,
			   const struct kh_record *rec, int fd,
			   struct kh_afile **out, struct kh_gen_written *w,
			   struct kh_error *err)
{
	struct kh_gen_origin origin = { .srctree = o->srctree,
					.objtree = o->objtree };
	char *text = NULL;
	size_t len = 0;
	int ret;

	origin.options = kh_state_options(cur, &origin.noptions);
	*out = NULL;
	if (!o->manifester)
		return kh_error_set(err, KH_EINVAL, o->manifest,
				    "no manifest writer given (internal error)");
	ret = rec ? o->manifester->from_record(rec, o->output, &origin,
					       &text, &len, err) :
		o->manifester->from_archive(fd, o->output, &origin, &text,
					    &len, err);
	if (ret == 0)
		ret = kh_gen_write_text(o, o->manifest, text, len, out, w,
					err);
	free(text);
	return ret;
}

/* Up to date: rewrite the manifest only if it is missing, edited, or
 * states facts of the tree that changed (such as the Makefile's
 * version, which is not an input). *wrote: it was, and cur records it
 * (the state is then to be saved). */
static int kh_gen_refresh_manifest(const struct kh_gen_opts *o,
				   struct kh_state *cur, int *wrote,
				   struct kh_error *err)
{
	const struct kh_state_output *rec =
		kh_state_find_output(cur, "manifest");
	struct kh_gen_origin origin = { .srctree = o->srctree,
					.objtree = o->objtree };
	struct kh_gen_written w = { .known = 0 };
	struct kh_afile *af = NULL;
	int fd, fresh = 0, ret;

	*wrote = 0;
	if (!o->manifest)
		return 0;
	origin.options = kh_state_options(cur, &origin.noptions);
	if (rec && !strcmp(rec->path, o->manifest)) {
		unsigned char xxh[KH_XXH128_LEN];
		struct kh_error e = KH_ERROR_INIT;
		unsigned long long size;

		if (kh_skip_hash_output(o->manifest, NULL, xxh, &size, &e) == 0 &&
		    size == rec->size &&
		    !memcmp(xxh, rec->xxh128, KH_XXH128_LEN)) {
			ret = o->manifester ?
				o->manifester->fresh(o->manifest, &origin,
						     &fresh, err) : 0;
			if (ret < 0 || fresh)
				return ret;
		}
	}
	kh_state_drop_output(cur, "manifest");
	/* Nothing was written this run, so the archive already there is
	 * read to describe it: the one place gen reads an archive. */
	ret = kh_file_open(AT_FDCWD, o->output, NULL,
			   KH_FILE_NOFOLLOW | KH_FILE_REGULAR, &fd, NULL, err);
	if (ret < 0)
		return ret;
	ret = kh_gen_manifest(o, cur, NULL, fd, &af, &w, err);
	close(fd);
	if (ret == 0)
		ret = kh_afile_commit(af, err);
	else
		kh_afile_abort(af);
	if (ret == 0 && o->state) {
		ret = kh_state_add_output(cur, "manifest", o->manifest,
					  w.sum.sha256, w.sum.xxh128,
					  w.sum.size, err);
		*wrote = ret == 0;
	}
	return ret;
}

/* Up to date: save the state carried forward, when it records a
 * manifest just rewritten (an error then fails the run), or stat data
 * that spares the next run some hashing (best effort: the outputs are
 * right either way, and a state that cannot be written, in a read-only
 * directory, only costs the next run a hash). */
static int kh_gen_keep_state(const struct kh_gen_opts *o,
			     const struct kh_state *cur, int must,
			     struct kh_error *err)
{
	struct kh_error serr = KH_ERROR_INIT;
	int ret = kh_state_save(o->state, cur, must ? err : &serr);

	return must ? ret : 0;
}

/* Build the outputs into temporaries and commit them; w[] gets their
 * digests as written (archive, stub, manifest). */
static int kh_gen_build(const struct kh_gen_opts *o,
			const struct kh_walk_list *list, struct kh_state *cur,
			struct kh_gen_written w[3], struct kh_gen_result *res,
			struct kh_error *err)
{
	struct kh_afile *archive = NULL, *stub = NULL, *manifest = NULL;
	struct kh_record rec = KH_RECORD_INIT;
	int ret = 0;

	if (o->stub)
		ret = kh_gen_stub(o, &stub, &w[1], err);
	if (ret == 0)
		ret = kh_afile_open(o->output, &archive, err);
	if (ret == 0)
		ret = kh_gen_archive(o, list, archive, cur,
				     o->manifest ? &rec : NULL, &w[0], res,
				     err);
	/* Described from what was just written, before anything is
	 * committed, so that archive and manifest are replaced together
	 * or not at all. */
	if (ret == 0 && o->manifest)
		ret = kh_gen_manifest(o, cur, &rec, -1, &manifest, &w[2],
				      err);
	kh_record_release(&rec);
	if (ret == 0) {
		ret = kh_afile_commit(archive, err);
		archive = NULL;
	}
	if (ret == 0 && stub) {
		ret = kh_afile_commit(stub, err);
		stub = NULL;
	}
	if (ret == 0 && manifest) {
		ret = kh_afile_commit(manifest, err);
		manifest = NULL;
	}
	kh_afile_abort(archive);
	kh_afile_abort(stub);
	kh_afile_abort(manifest);
	if (ret == 0)
		res->rebuilt = 1;
	return ret;
}

/* Every file gen writes, the archive first (NULL: not written). */
static void kh_gen_outputs(const struct kh_gen_opts *o, const char *outs[5])
{
	outs[0] = o->output;
	outs[1] = o->stub;
	outs[2] = o->state;
	outs[3] = o->depfile;
	outs[4] = o->manifest;
}

/* Refuse, before any work, an output that may not be replaced (a
 * symlink, a device, a FIFO...: kh_afile_check). The commit checks
 * again. */
static int kh_gen_check_outputs_replaceable(const struct kh_gen_opts *o,
					    struct kh_error *err)
{
	const char *outs[5];

	kh_gen_outputs(o, outs);
	for (size_t i = 0; i < 5; i++)
		if (outs[i] && kh_afile_check(outs[i], err) < 0)
			return err->code;
	return 0;
}

/* Walk, with the last run's directory records when there are any. A
 * walk that failed on a record that lied (a state damaged on disk) is
 * done again without them: a bad record must not fail a run. A tree
 * that changes under the walk still does. */
static int kh_gen_walk_cached(const struct kh_gen_opts *o,
			      struct kh_prev *prev,
			      struct kh_walk_list *list, struct kh_error *err)
{
	struct kh_walk_cache cache;
	int stale = 0;
	int ret = kh_gen_walk(o, kh_prev_walk_cache(prev, &stale, &cache) ?
			      &cache : NULL, list, err);

	if (ret < 0 && stale) {
		kh_walk_list_release(list);
		*err = (struct kh_error)KH_ERROR_INIT;
		ret = kh_gen_walk(o, NULL, list, err);
		/* Every record is suspect: a no-op writes new ones. */
		list->reread = list->ndirs;
	}
	return ret;
}

int kh_gen_run(const struct kh_gen_opts *o, struct kh_gen_result *res,
	       struct kh_error *err)
{
	struct kh_walk_list list = KH_WALK_LIST_INIT;
	struct kh_state cur = KH_STATE_INIT;
	struct kh_prev prev = KH_PREV_INIT;
	struct kh_afile_guard guard;
	const char *outs[5];
	int ret, save = 0;

	/* Before anything formats or uses them (the state records
	 * "arch=..."). */
	ret = kh_gen_check_opts(o, err);
	if (ret < 0)
		return ret;
	/* One run at a time per output directory: a second run waits,
	 * then finds the outputs up to date. Under the locks, temporaries
	 * of a killed run can go. */
	kh_gen_outputs(o, outs);
	ret = kh_afile_guard(outs, 5, &guard, err);
	if (ret == 0)
		ret = kh_gen_check_outputs_replaceable(o, err);
	if (ret < 0) {
		kh_afile_unguard(&guard);
		return ret;
	}
	kh_state_set_started(&cur, kh_gen_now_ns());
	ret = kh_state_set_tool(&cur, o->tool, err);
	if (ret == 0)
		ret = kh_gen_options(o, &cur, err);
	if (ret == 0)
		kh_prev_start(&prev, o->state && !o->force ? o->state : NULL,
			      o->threads);
	if (ret == 0)
		ret = kh_gen_walk_cached(o, &prev, &list, err);
	res->dirs_replayed = list.replayed;
	res->dirs_read = list.ndirs - list.replayed;
	if (ret == 0)
		ret = kh_skip_record_dirs(&list, &cur, err);
	if (ret == 0)
		ret = kh_gen_decide(o, &prev, &list, &cur, &save, res, err);
	kh_prev_release(&prev);
	/* What is archived never comes from records: a rebuild walks
	 * again, reading every directory (a few ms against a build's
	 * hundreds), so that records can only ever save a no-op time. */
	if (ret == 0 && list.replayed) {
		kh_walk_list_release(&list);
		ret = kh_gen_walk(o, NULL, &list, err);
		if (ret == 0)
			ret = kh_skip_record_dirs(&list, &cur, err);
	}
	if (ret == 0) {
		struct kh_gen_written w[3] = { { .known = 0 } };

		ret = kh_gen_build(o, &list, &cur, w, res, err);
		if (ret == 0)
			ret = kh_gen_save_state(o, &cur, w, err);
	} else if (ret == 1) {
		int wrote = 0;

		ret = kh_gen_refresh_manifest(o, &cur, &wrote, err);
		if (ret == 0 && (save || wrote))
			ret = kh_gen_keep_state(o, &cur, wrote, err);
		for (size_t i = 0; i < list.n; i++)
			if (list.v[i].type == KH_WALK_FILE)
				res->files++;
			else if (list.v[i].type == KH_WALK_SYMLINK)
				res->symlinks++;
	}
	if (ret == 0)
		ret = kh_gen_depfile(o, &list, err);
	kh_state_release(&cur);
	kh_walk_list_release(&list);
	kh_afile_unguard(&guard);
	return ret;
}
