/* kh_gen: the generator pipeline (see kh_gen.h).
 *
 *   walk -> reader threads (read, strip) -> tar writer -> xz -> temp file
 *
 * The stub is written to its own temporary first; both temporaries are
 * renamed only once everything succeeded, the archive first, so a
 * failure anywhere leaves the previous outputs as they were.
 */
#include "kh_gen.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kh_afile.h"
#include "kh_reader.h"
#include "kh_stub.h"
#include "kh_tarw.h"
#include "kh_walk.h"
#include "kh_xzw.h"

static int kh_gen_afile_write(void *ctx, const void *buf, size_t len,
			      struct kh_error *err)
{
	return kh_afile_write(ctx, buf, len, err);
}

static int kh_gen_check_arch(const char *arch, struct kh_error *err)
{
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

static int kh_gen_walk(const struct kh_gen_opts *o, struct kh_walk_list *list,
		       struct kh_error *err)
{
	char archinc[PATH_MAX];
	int same = 0, ret;

	ret = kh_gen_check_arch(o->arch, err);
	if (ret < 0)
		return ret;
	snprintf(archinc, sizeof(archinc), "arch/%s/include", o->arch);
	ret = kh_gen_same_tree(o->srctree, o->objtree, &same, err);
	if (ret < 0)
		return ret;
	/* srctree must have both; an objtree may lack either. */
	if ((ret = kh_walk_tree(o->srctree, "include", 0, 1, list, err)) < 0 ||
	    (ret = kh_walk_tree(o->srctree, archinc, 0, 1, list, err)) < 0)
		return ret;
	if (!same &&
	    ((ret = kh_walk_tree(o->objtree, "include", 1, 0, list, err)) < 0 ||
	     (ret = kh_walk_tree(o->objtree, archinc, 1, 0, list, err)) < 0))
		return ret;
	kh_walk_finish(list);
	return 0;
}

/* Emit the directories of rel's parent that the previous parent (prev)
 * did not share. Entries arrive in tar order, so a directory shared
 * with the previous file was written already, and any other is new. */
static int kh_gen_dirs(struct kh_tarw *tw, char *prev, const char *rel,
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

static int kh_gen_entries(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list, struct kh_tarw *tw,
			  struct kh_gen_result *res, struct kh_error *err)
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
		const char *data;
		size_t len;

		ret = kh_gen_dirs(tw, prev, e->rel, &res->dirs, err);
		if (ret == 0)
			ret = kh_reader_get(rd, i, &data, &len, err);
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

/* Write the archive into af: tar stream -> xz -> file. */
static int kh_gen_archive(const struct kh_gen_opts *o,
			  const struct kh_walk_list *list,
			  struct kh_afile *af, struct kh_gen_result *res,
			  struct kh_error *err)
{
	struct kh_sink file = { kh_gen_afile_write, af };
	struct kh_xzw *xw = NULL;
	struct kh_tarw *tw = NULL;
	int ret;

	ret = kh_xzw_new(file, o->xz_preset, &xw, err);
	if (ret == 0)
		ret = kh_tarw_new(kh_xzw_sink(xw), o->mtime, &tw, err);
	if (ret == 0)
		ret = kh_gen_entries(o, list, tw, res, err);
	if (ret == 0)
		ret = kh_tarw_finish(tw, err);
	if (ret == 0)
		ret = kh_xzw_finish(xw, err);
	if (ret == 0) {
		res->tar_size = kh_tarw_size(tw);
		res->xz_size = kh_xzw_size(xw);
	}
	kh_tarw_free(tw);
	kh_xzw_free(xw);
	return ret;
}

static int kh_gen_stub(const struct kh_gen_opts *o, struct kh_afile **out,
		       struct kh_error *err)
{
	char *text;
	size_t len;
	int ret;

	*out = NULL;
	ret = kh_stub_text(o->incbin ? o->incbin : o->output, &text, &len,
			   err);
	if (ret < 0)
		return ret;
	ret = kh_afile_open(o->stub, out, err);
	if (ret == 0)
		ret = kh_afile_write(*out, text, len, err);
	free(text);
	if (ret < 0) {
		kh_afile_abort(*out);
		*out = NULL;
	}
	return ret;
}

int kh_gen_run(const struct kh_gen_opts *o, struct kh_gen_result *res,
	       struct kh_error *err)
{
	struct kh_walk_list list = KH_WALK_LIST_INIT;
	struct kh_afile *archive = NULL, *stub = NULL;
	int ret;

	ret = kh_gen_walk(o, &list, err);
	if (ret == 0 && o->stub)
		ret = kh_gen_stub(o, &stub, err);
	if (ret == 0)
		ret = kh_afile_open(o->output, &archive, err);
	if (ret == 0)
		ret = kh_gen_archive(o, &list, archive, res, err);
	if (ret == 0) {
		ret = kh_afile_commit(archive, err);
		archive = NULL;
	}
	if (ret == 0 && stub) {
		ret = kh_afile_commit(stub, err);
		stub = NULL;
	}
	kh_afile_abort(archive);
	kh_afile_abort(stub);
	kh_walk_list_release(&list);
	return ret;
}
