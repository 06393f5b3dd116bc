/* kh_skip: the skip decision (see kh_skip.h). */
#include "gen/kh_skip.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gen/kh_reader.h"
#include "lib/kh_file.h"
#include "lib/kh_hash.h"
#include "lib/kh_tarorder.h"
#include "lib/kh_time.h"

static int kh_skip_why(struct kh_skip *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record the first reason to rebuild; returns 0 ("not up to date"). */
static int kh_skip_why(struct kh_skip *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	return 0;
}

int kh_skip_hash_output(const char *path, unsigned char *sha256,
			unsigned char *xxh128, unsigned long long *size,
			struct kh_error *err)
{
	int fd, ret;

	ret = kh_file_open(AT_FDCWD, path, NULL,
			   KH_FILE_NOFOLLOW | KH_FILE_REGULAR, &fd, NULL, err);
	if (ret < 0)
		return ret;
	ret = kh_hash_fd(fd, path, sha256, xxh128, size, err);
	close(fd);
	return ret;
}

void kh_skip_ostat(const char *path, struct kh_state_ostat *os)
{
	struct timespec now;
	struct stat st;

	memset(os, 0, sizeof(*os));
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	os->valid = 1;
	os->dev = st.st_dev;
	os->ino = st.st_ino;
	os->mtime_ns = kh_time_ns(st.st_mtim);
	os->ctime_ns = kh_time_ns(st.st_ctim);
	os->checked_ns = kh_time_ns(now);
}

/* Does the output's stat data vouch for its content? Only if it is the
 * recorded one, and the file's ctime was already old when recorded: a
 * write in the same clock tick as the record would leave it unchanged
 * (the racy case of the inputs, KH_SKIP_RACY_NS). */
static int kh_skip_output_trusted(const struct kh_state_output *out,
				  const char *path)
{
	const struct kh_state_ostat *r = &out->stat;
	struct stat st;

	if (!r->valid || r->ctime_ns + KH_SKIP_RACY_NS > r->checked_ns ||
	    lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return (unsigned long long)st.st_size == out->size &&
	       st.st_dev == r->dev && st.st_ino == r->ino &&
	       kh_time_ns(st.st_mtim) == r->mtime_ns &&
	       kh_time_ns(st.st_ctim) == r->ctime_ns;
}

/* 1 if every output is the one recorded (by stat data or by hash),
 * else 0 and d->reason says why. */
static int kh_skip_outputs(const struct kh_skip_in *in, struct kh_skip *d)
{
	const char *paths[2] = { in->output, in->stub };
	const char *roles[2] = { "archive", "stub" };
	size_t want = in->stub ? 2 : 1;
	size_t nout = kh_state_noutputs(in->prev);

	/* The manifest (last, when there is one) is checked on its own:
	 * a stale one is rewritten without rebuilding the archive. */
	if (nout && !strcmp(kh_state_output(in->prev, nout - 1)->role,
			    "manifest"))
		nout--;
	if (nout != want)
		return kh_skip_why(d, "the set of outputs changed");
	for (size_t i = 0; i < want; i++) {
		const struct kh_state_output *p = kh_state_output(in->prev, i);
		unsigned char xxh[KH_XXH128_LEN];
		struct kh_error e = KH_ERROR_INIT;
		unsigned long long size;

		if (strcmp(p->role, roles[i]))
			return kh_skip_why(d, "the set of outputs changed");
		if (kh_skip_output_trusted(p, paths[i]))
			continue;
		/* XXH3 here: the check runs on every make, SHA-256 is for
		 * the record. */
		if (kh_skip_hash_output(paths[i], NULL, xxh, &size, &e) < 0)
			return kh_skip_why(d, "%s", e.msg);
		if (size != p->size || memcmp(xxh, p->xxh128, KH_XXH128_LEN))
			return kh_skip_why(d, "%s: differs from what was built",
					   paths[i]);
		d->out_hashed++;
	}
	return 1;
}

static char kh_skip_type(const struct kh_walk_entry *e)
{
	return e->type == KH_WALK_FILE ? 'f'
	     : e->type == KH_WALK_SYMLINK ? 'l' : 'p';
}

/* Compare walk entry e with its record p (of a run that started at
 * started_ns); read it again unless stat data vouches for it. 1 same,
 * 0 changed, <0 error. */
static int kh_skip_input(int64_t started_ns, const struct kh_state_input *p,
			 const struct kh_walk_entry *e, struct kh_skip *d,
			 struct kh_error *err)
{
	/* Either time in the tick of the recording run: a write then
	 * need not show in either. */
	int racy = p->mtime_ns >= started_ns - KH_SKIP_RACY_NS ||
		   p->ctime_ns >= started_ns - KH_SKIP_RACY_NS;
	char type = kh_skip_type(e);
	unsigned char hash[KH_XXH128_LEN];
	char *data;
	size_t len;
	int ret;

	if (type != p->type || e->tree != p->tree)
		return kh_skip_why(d, "%s: now a %s from the %s", e->rel,
				   type == 'f' ? "file" : type == 'l' ?
				   "symlink" : "silly-rename name",
				   e->tree ? "objtree" : "srctree");
	if (type == 'p')
		return 1;
	if ((long long)e->size == p->size && e->mtime_ns == p->mtime_ns &&
	    e->ctime_ns == p->ctime_ns &&
	    (unsigned long long)e->ino == p->ino && !racy)
		return 1;
	d->rehashed++;
	ret = kh_reader_load(e, 0, &data, &len, hash, err);
	if (ret < 0)
		return ret;
	if (type == 'l')
		ret = strcmp(data, p->target) ? kh_skip_why(d,
			"%s: symlink now points to %s", e->rel, data) : 1;
	else
		ret = memcmp(hash, p->hash, KH_XXH128_LEN) ?
			kh_skip_why(d, "%s: content changed", e->rel) : 1;
	free(data);
	return ret;
}

/* The inputs, in tar order on both sides: 1 all the same, 0 not, <0
 * error. */
static int kh_skip_inputs(const struct kh_state *prev,
			  const struct kh_walk_list *list, struct kh_skip *d,
			  struct kh_error *err)
{
	size_t nin = kh_state_ninputs(prev);

	for (size_t i = 0; i < list->n; i++) {
		const struct kh_walk_entry *e = &list->v[i];
		const struct kh_state_input *p;
		int c, ret;

		if (i >= nin)
			return kh_skip_why(d, "%s: new", e->rel);
		p = kh_state_input(prev, i);
		/* Equal in a no-op run: strcmp sees that fastest. */
		c = strcmp(p->rel, e->rel) ? kh_tarorder_cmp(p->rel, e->rel)
					   : 0;
		if (c < 0)
			return kh_skip_why(d, "%s: gone", p->rel);
		if (c > 0)
			return kh_skip_why(d, "%s: new", e->rel);
		ret = kh_skip_input(kh_state_started(prev), p, e, d, err);
		if (ret <= 0)
			return ret;
	}
	if (nin > list->n)
		return kh_skip_why(d, "%s: gone",
				   kh_state_input(prev, list->n)->rel);
	return 1;
}

/* Is everything as the last run (prev) left it? 1 yes, 0 no, <0
 * error. */
static int kh_skip_check(const struct kh_skip_in *in,
			 const struct kh_walk_list *list, struct kh_skip *d,
			 struct kh_error *err)
{
	const char *tool = kh_state_tool(in->cur);
	const char *was = kh_state_tool(in->prev);
	size_t na, nb;
	char *const *a = kh_state_options(in->cur, &na);
	char *const *b = kh_state_options(in->prev, &nb);

	if (strcmp(was, tool))
		return kh_skip_why(d, "the tool changed (%s, was %s)", tool,
				   was);
	for (size_t i = 0; i < na || i < nb; i++) {
		const char *x = i < na ? a[i] : "(none)";
		const char *y = i < nb ? b[i] : "(none)";

		if (strcmp(x, y))
			return kh_skip_why(d, "option %s (was %s)", x, y);
	}
	if (!kh_skip_outputs(in, d))
		return 0;
	return kh_skip_inputs(in->prev, list, d, err);
}

int kh_skip_decide(const struct kh_skip_in *in,
		   const struct kh_walk_list *list, struct kh_skip *d,
		   struct kh_error *err)
{
	int ret;

	*d = (struct kh_skip)KH_SKIP_INIT;
	if (!in->state)
		return kh_skip_why(d, "no state file in use");
	if (in->force)
		return kh_skip_why(d, "forced");
	/* An unreadable or corrupt state only means a rebuild. */
	if (!in->prev && in->load_err && in->load_err->code < 0)
		return kh_skip_why(d, "%s", in->load_err->msg);
	if (!in->prev)
		return kh_skip_why(d, "%s: no previous state", in->state);
	ret = kh_skip_check(in, list, d, err);
	if (ret < 0)
		return ret;
	d->up_to_date = ret;
	return 0;
}

int kh_skip_carry(const struct kh_skip *d, const struct kh_walk_list *list,
		  struct kh_state *prev, struct kh_state *next, int *save,
		  struct kh_error *err)
{
	size_t trusted = 0;
	int ret;

	*save = 0;
	if (!d->up_to_date)
		return kh_error_set(err, KH_EINVAL, NULL, "a state carried "
				    "forward that is not up to date "
				    "(internal error)");
	ret = kh_state_take_records(next, prev, err);
	if (ret < 0)
		return ret;
	/* The decision paired prev's inputs with the walk's, one to one:
	 * the same stat data where stat vouched, this run's where the
	 * content was read and found the same. */
	for (size_t i = 0; i < list->n; i++) {
		const struct kh_walk_entry *e = &list->v[i];
		int none = e->type == KH_WALK_PARENTS;

		kh_state_set_input_stat(next, i, none ? 0 : (long long)e->size,
					none ? 0 : e->mtime_ns,
					none ? 0 : e->ctime_ns,
					none ? 0 : (unsigned long long)e->ino);
	}
	/* Outputs were just hashed and found unchanged: their stat data
	 * now can vouch for them, once their ctime is old enough. */
	for (size_t i = 0; d->out_hashed && i < kh_state_noutputs(next); i++) {
		const struct kh_state_output *o = kh_state_output(next, i);
		struct kh_state_ostat os;

		if (!strcmp(o->role, "manifest"))
			continue;
		kh_skip_ostat(o->path, &os);
		trusted += os.valid && os.ctime_ns + KH_SKIP_RACY_NS <=
					  os.checked_ns;
		kh_state_set_output_stat_at(next, i, &os);
	}
	*save = d->rehashed || trusted || list->reread;
	return 0;
}

struct kh_state_input *kh_skip_record(struct kh_state *st,
				      const struct kh_walk_entry *e,
				      struct kh_error *err)
{
	struct kh_state_input *in = kh_state_add_input(st, e->rel, err);

	if (!in)
		return NULL;
	in->type = kh_skip_type(e);
	in->tree = e->tree;
	if (e->type == KH_WALK_PARENTS)
		return in;
	in->size = (long long)e->size;
	in->mtime_ns = e->mtime_ns;
	in->ctime_ns = e->ctime_ns;
	in->ino = (unsigned long long)e->ino;
	return in;
}

int kh_skip_record_dirs(const struct kh_walk_list *list, struct kh_state *st,
			struct kh_error *err)
{
	kh_state_clear_dirs(st);
	for (size_t i = 0; i < list->ndirs; i++) {
		const struct kh_walk_dirrec *r = &list->dirs[i];
		struct kh_state_dir dir = {
			.rel = r->rel, .tree = r->tree, .ctime_ns = r->ctime_ns,
			.ino = r->ino, .names = r->names, .nlen = r->nlen,
		};
		int ret = kh_state_add_dir(st, &dir, err);

		if (ret < 0)
			return ret;
	}
	return 0;
}
