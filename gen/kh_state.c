/* kh_state: the state file of the skip logic (see kh_state.h).
 *
 * One concern, the state and its file, in three parts: the record and
 * its operations (the only code that touches a struct kh_state's
 * fields), the writer, and the reader. The reader is most of it: the
 * file is read on every make, so it has a fast path for the plain
 * input lines that are nearly all of it, beside the full parser.
 */
#include "gen/kh_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/kh_afile.h"
#include "lib/kh_buf.h"
#include "lib/kh_file.h"

/* Bytes that would break a space-separated line, and '%' itself. */
static int kh_state_plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

char *kh_state_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 2), *p = out;

	if (!out)
		return NULL;
	if (n == 0) {
		/* An empty field must still be a field. */
		strcpy(out, "%");
		return out;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (kh_state_plain(c)) {
			*p++ = (char)c;
		} else {
			sprintf(p, "%%%02X", c);
			p += 3;
		}
	}
	*p = '\0';
	return out;
}

static int kh_state_xdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescape s in place (the result is never longer); -1 if malformed. */
static int kh_state_unescape_in(char *s)
{
	char *p;

	if (s[0] == '%' && !s[1]) {
		*s = '\0';
		return 0;
	}
	/* Nearly every path is plain: check it without copying it. */
	while (kh_state_plain((unsigned char)*s))
		s++;
	if (!*s)
		return 0;
	p = s;
	while (*s) {
		if (*s == '%') {
			int hi = kh_state_xdigit(s[1]);
			int lo = hi < 0 ? -1 : kh_state_xdigit(s[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*p++ = (char)(hi << 4 | lo);
			s += 3;
		} else if (kh_state_plain((unsigned char)*s)) {
			*p++ = *s++;
		} else {
			return -1;
		}
	}
	*p = '\0';
	return 0;
}

char *kh_state_unescape(const char *s)
{
	char *out = strdup(s);

	if (out && kh_state_unescape_in(out) < 0) {
		free(out);
		return NULL;
	}
	return out;
}

void kh_state_on_dirs(struct kh_state *st,
		      void (*fn)(const struct kh_state *st, void *ctx),
		      void *ctx)
{
	st->dirs_parsed = fn;
	st->dirs_ctx = ctx;
}

const char *kh_state_tool(const struct kh_state *st)
{
	return st->tool ? st->tool : "";
}

int kh_state_set_tool(struct kh_state *st, const char *tool,
		      struct kh_error *err)
{
	char *t = strdup(tool);

	if (!t)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	free(st->tool);
	st->tool = t;
	return 0;
}

int64_t kh_state_started(const struct kh_state *st)
{
	return st->started_ns;
}

void kh_state_set_started(struct kh_state *st, int64_t ns)
{
	st->started_ns = ns;
}

int kh_state_add_option(struct kh_state *st, const char *kv,
			struct kh_error *err)
{
	char **v = realloc(st->options, (st->noptions + 1) * sizeof(*v));

	if (!v)
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	st->options = v;
	if (!(v[st->noptions] = strdup(kv)))
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	st->noptions++;
	return 0;
}

char *const *kh_state_options(const struct kh_state *st, size_t *n)
{
	*n = st->noptions;
	return st->options;
}

int kh_state_add_output(struct kh_state *st, const char *role,
			const char *path, const unsigned char *sha256,
			const unsigned char *xxh128, unsigned long long size,
			struct kh_error *err)
{
	struct kh_state_output *o;

	if (st->nout == KH_STATE_MAX_OUTPUTS)
		return kh_error_set(err, KH_EINVAL, NULL, "too many outputs");
	o = &st->out[st->nout];
	o->role = strdup(role);
	o->path = strdup(path);
	if (!o->role || !o->path) {
		free(o->role);
		free(o->path);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	memcpy(o->sha256, sha256, KH_SHA256_LEN);
	memcpy(o->xxh128, xxh128, KH_XXH128_LEN);
	o->size = size;
	memset(&o->stat, 0, sizeof(o->stat));
	st->nout++;
	return 0;
}

void kh_state_set_output_stat(struct kh_state *st,
			      const struct kh_state_ostat *os)
{
	if (st->nout)
		kh_state_set_output_stat_at(st, st->nout - 1, os);
}

void kh_state_set_output_stat_at(struct kh_state *st, size_t i,
				 const struct kh_state_ostat *os)
{
	if (i < st->nout)
		st->out[i].stat = *os;
}

size_t kh_state_noutputs(const struct kh_state *st)
{
	return st->nout;
}

const struct kh_state_output *kh_state_output(const struct kh_state *st,
					      size_t i)
{
	return i < st->nout ? &st->out[i] : NULL;
}

const struct kh_state_output *kh_state_find_output(const struct kh_state *st,
						   const char *role)
{
	for (size_t i = 0; i < st->nout; i++)
		if (!strcmp(st->out[i].role, role))
			return &st->out[i];
	return NULL;
}

void kh_state_drop_output(struct kh_state *st, const char *role)
{
	for (size_t i = 0; i < st->nout; i++) {
		if (strcmp(st->out[i].role, role))
			continue;
		free(st->out[i].role);
		free(st->out[i].path);
		memmove(&st->out[i], &st->out[i + 1],
			(st->nout - i - 1) * sizeof(st->out[0]));
		st->nout--;
		return;
	}
}

struct kh_state_input *kh_state_add_input(struct kh_state *st,
					  const char *rel,
					  struct kh_error *err)
{
	struct kh_state_input *in;

	if (st->nin == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 1024;
		void *v = realloc(st->in, cap * sizeof(*st->in));

		if (!v) {
			kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
			return NULL;
		}
		st->in = v;
		st->cap = cap;
	}
	in = &st->in[st->nin++];
	memset(in, 0, sizeof(*in));
	in->rel = rel;
	return in;
}

size_t kh_state_ninputs(const struct kh_state *st)
{
	return st->nin;
}

const struct kh_state_input *kh_state_input(const struct kh_state *st,
					    size_t i)
{
	return i < st->nin ? &st->in[i] : NULL;
}

void kh_state_set_input_stat(struct kh_state *st, size_t i, long long size,
			     int64_t mtime_ns, int64_t ctime_ns,
			     unsigned long long ino)
{
	if (i >= st->nin)
		return;
	st->in[i].size = size;
	st->in[i].mtime_ns = mtime_ns;
	st->in[i].ctime_ns = ctime_ns;
	st->in[i].ino = ino;
}

int kh_state_take_records(struct kh_state *to, struct kh_state *from,
			  struct kh_error *err)
{
	if (to->nin || to->in || to->text || to->nout)
		return kh_error_set(err, KH_EINVAL, NULL, "records taken into "
				    "a state that has some (internal error)");
	to->in = from->in;
	to->nin = from->nin;
	to->cap = from->cap;
	to->text = from->text;
	memcpy(to->out, from->out, sizeof(to->out));
	to->nout = from->nout;
	from->in = NULL;
	from->nin = from->cap = 0;
	from->text = NULL;
	memset(from->out, 0, sizeof(from->out));
	from->nout = 0;
	return 0;
}

int kh_state_add_dir(struct kh_state *st, const struct kh_state_dir *d,
		     struct kh_error *err)
{
	if (st->ndirs == st->dcap) {
		size_t cap = st->dcap ? st->dcap * 2 : 256;
		void *v = realloc(st->dirs, cap * sizeof(*st->dirs));

		if (!v)
			return kh_error_set(err, KH_ENOMEM, NULL,
					    "out of memory");
		st->dirs = v;
		st->dcap = cap;
	}
	st->dirs[st->ndirs++] = *d;
	return 0;
}

void kh_state_clear_dirs(struct kh_state *st)
{
	st->ndirs = 0;
}

size_t kh_state_ndirs(const struct kh_state *st)
{
	return st->ndirs;
}

const struct kh_state_dir *kh_state_dir(const struct kh_state *st, size_t i)
{
	return i < st->ndirs ? &st->dirs[i] : NULL;
}

void kh_state_release(struct kh_state *st)
{
	free(st->tool);
	for (size_t i = 0; i < st->noptions; i++)
		free(st->options[i]);
	free(st->options);
	for (size_t i = 0; i < st->nout; i++) {
		free(st->out[i].role);
		free(st->out[i].path);
	}
	for (size_t i = 0; i < st->nin; i++)
		free(st->in[i].target);
	free(st->in);
	free(st->dirs);
	free(st->text);
	memset(st, 0, sizeof(*st));
}

/* ---- writing ---------------------------------------------------------- */

static void kh_state_put_input(struct kh_buf *b,
			       const struct kh_state_input *in)
{
	char hex[2 * KH_XXH128_LEN + 1];
	char *rel = kh_state_escape(in->rel);
	char *target = in->type == 'l' ? kh_state_escape(in->target) : NULL;
	const char *what = "-";

	if (in->type == 'f') {
		kh_hash_hex(in->hash, KH_XXH128_LEN, hex);
		what = hex;
	} else if (in->type == 'l') {
		what = target;
	}
	if (!rel || (in->type == 'l' && !target))
		b->oom = 1;
	else
		kh_buf_printf(b, "input %c %d %lld %" PRId64 " %" PRId64
			     " %llu %s %s\n", in->type, in->tree, in->size,
			     in->mtime_ns, in->ctime_ns, in->ino, what, rel);
	free(rel);
	free(target);
}

static void kh_state_put_dir(struct kh_buf *b,
			     const struct kh_state_dir *d)
{
	char *rel = kh_state_escape(d->rel);

	if (!rel) {
		b->oom = 1;
		return;
	}
	kh_buf_printf(b, "dir %d %" PRId64 " %llu %s ", d->tree, d->ctime_ns,
		     d->ino, rel);
	free(rel);
	if (!d->nlen)
		kh_buf_printf(b, "-");
	for (size_t off = 0; off < d->nlen;) {
		const char *e = d->names + off;
		char *name = kh_state_escape(e + 1);

		if (!name) {
			b->oom = 1;
			return;
		}
		kh_buf_printf(b, "/%c%s", e[0], name);
		free(name);
		off += strlen(e) + 1;
	}
	kh_buf_printf(b, "\n");
}

int kh_state_format(const struct kh_state *st, char **text, size_t *len,
		     struct kh_error *err)
{
	struct kh_buf b = KH_BUF_INIT;

	*text = NULL;
	*len = 0;
	kh_buf_printf(&b, "%s %d\ntool %s\nstarted %" PRId64 "\n",
		     KH_STATE_MAGIC, KH_STATE_VERSION, st->tool,
		     st->started_ns);
	for (size_t i = 0; i < st->noptions; i++) {
		char *v = kh_state_escape(st->options[i]);

		if (!v)
			b.oom = 1;
		else
			kh_buf_printf(&b, "option %s\n", v);
		free(v);
	}
	for (size_t i = 0; i < st->nout; i++) {
		char hex[2 * KH_SHA256_LEN + 1], xhex[2 * KH_XXH128_LEN + 1];
		char *p = kh_state_escape(st->out[i].path);

		kh_hash_hex(st->out[i].sha256, KH_SHA256_LEN, hex);
		kh_hash_hex(st->out[i].xxh128, KH_XXH128_LEN, xhex);
		if (!p)
			b.oom = 1;
		else
			kh_buf_printf(&b, "output %s %s %s %llu %s\n",
				     st->out[i].role, hex, xhex,
				     st->out[i].size, p);
		free(p);
		if (st->out[i].stat.valid) {
			const struct kh_state_ostat *os = &st->out[i].stat;

			kh_buf_printf(&b, "outstat %llu %llu %lld %lld %lld\n",
				     os->dev, os->ino,
				     (long long)os->mtime_ns,
				     (long long)os->ctime_ns,
				     (long long)os->checked_ns);
		}
	}
	for (size_t i = 0; i < st->ndirs; i++)
		kh_state_put_dir(&b, &st->dirs[i]);
	for (size_t i = 0; i < st->nin; i++)
		kh_state_put_input(&b, &st->in[i]);
	kh_buf_printf(&b, "end %zu\n", st->nin);
	if (kh_buf_failed(&b) || !(*text = kh_buf_take(&b, len))) {
		kh_buf_free(&b);
		return kh_error_set(err, KH_ENOMEM, NULL, "out of memory");
	}
	return 0;
}

int kh_state_save(const char *path, const struct kh_state *st,
		  struct kh_error *err)
{
	struct kh_afile *af;
	char *text;
	size_t len;
	int ret;

	ret = kh_state_format(st, &text, &len, err);
	if (ret < 0)
		return kh_error_set(err, ret, path, "out of memory");
	ret = kh_afile_open(path, &af, err);
	if (ret == 0)
		ret = kh_afile_write(af, text, len, err);
	if (ret == 0)
		ret = kh_afile_commit(af, err);
	else
		kh_afile_abort(af);
	free(text);
	return ret;
}

/* ---- reading ---------------------------------------------------------- */

/* Internal: a state of another version (an older kheaders). */
#define KH_STATE_EVERSION (-100)

/* Split line into at most max space-separated fields, in place. A
 * plain loop: fields are short, and a strchr call per field was a
 * tenth of a no-op's parse. */
static size_t kh_state_fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (*line && n < max) {
		f[n++] = line;
		while (*line && *line != ' ')
			line++;
		if (!*line)
			return n;
		*line++ = '\0';
	}
	return *line ? max + 1 : n;
}

/* A decimal up to ULLONG_MAX (device and inode numbers use all 64
 * bits); the state is read on every make, so no strtoull and its locale
 * machinery. */
static int kh_state_unum(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	if (!*s)
		return -1;
	/* Up to 19 digits cannot overflow: no check per digit. */
	for (i = 0; i < 19 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (!s[i]) {
		*out = v;
		return 0;
	}
	v = 0;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9' || v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A non-negative decimal that fits a long long (sizes, times). */
static int kh_state_num(const char *s, long long *out)
{
	unsigned long long v;

	if (kh_state_unum(s, &v) < 0 || v > LLONG_MAX)
		return -1;
	*out = (long long)v;
	return 0;
}

/* "outstat DEV INO MTIME CTIME CHECKED", for the output before it. */
static int kh_state_parse_outstat(struct kh_state *st, char **f)
{
	struct kh_state_ostat os = { .valid = 1 };
	long long m, c, k;

	if (!st->nout || st->out[st->nout - 1].stat.valid ||
	    kh_state_unum(f[1], &os.dev) < 0 ||
	    kh_state_unum(f[2], &os.ino) < 0 || kh_state_num(f[3], &m) < 0 ||
	    kh_state_num(f[4], &c) < 0 || kh_state_num(f[5], &k) < 0)
		return KH_EINVAL;
	os.mtime_ns = m;
	os.ctime_ns = c;
	os.checked_ns = k;
	kh_state_set_output_stat(st, &os);
	return 0;
}

static int kh_state_parse_input(struct kh_state *st, char **f, size_t n,
				struct kh_error *err)
{
	struct kh_state_input *in;
	long long tree, size, mtime, ctime;
	unsigned long long ino;

	if (n != 9 || strlen(f[1]) != 1 || !strchr("flp", f[1][0]) ||
	    kh_state_num(f[2], &tree) < 0 || tree > 1 ||
	    kh_state_num(f[3], &size) < 0 || kh_state_num(f[4], &mtime) < 0 ||
	    kh_state_num(f[5], &ctime) < 0 || kh_state_unum(f[6], &ino) < 0)
		return KH_EINVAL;
	/* In place: the text stays with st. */
	if (kh_state_unescape_in(f[8]) < 0)
		return KH_EINVAL;
	in = kh_state_add_input(st, f[8], err);
	if (!in)
		return KH_ENOMEM;
	in->type = f[1][0];
	in->tree = (int)tree;
	in->size = size;
	in->mtime_ns = mtime;
	in->ctime_ns = ctime;
	in->ino = ino;
	if (in->type == 'f')
		return kh_hash_unhex(f[7], in->hash, KH_XXH128_LEN) < 0 ?
			KH_EINVAL : 0;
	if (in->type == 'l')
		return (in->target = kh_state_unescape(f[7])) ? 0 : KH_EINVAL;
	return strcmp(f[7], "-") ? KH_EINVAL : 0;
}

/* "dir TREE CTIME INO REL NAMES": NAMES is rewritten in place into the
 * packed form of kh_state_dir (shorter, so it fits). */
static int kh_state_parse_dir(struct kh_state *st, char **f, size_t n,
			      struct kh_error *err)
{
	struct kh_state_dir d;
	long long tree, ctime;
	char *r, *w;

	if (n != 6 || st->nin || kh_state_num(f[1], &tree) < 0 || tree > 1 ||
	    kh_state_num(f[2], &ctime) < 0 ||
	    kh_state_unum(f[3], &d.ino) < 0 ||
	    kh_state_unescape_in(f[4]) < 0)
		return KH_EINVAL;
	d.tree = (int)tree;
	d.ctime_ns = ctime;
	d.rel = f[4];
	d.names = f[5];
	d.nlen = 0;
	if (!strcmp(f[5], "-"))
		return kh_state_add_dir(st, &d, err);
	if (f[5][0] != '/')
		return KH_EINVAL;
	/* Each "/<t><escaped>" becomes "<t><name>\0", written from the
	 * start of the field: never ahead of what is still to read. */
	for (r = f[5], w = f[5]; *r;) {
		char *next = strchr(r + 1, '/');
		size_t len;

		if (next)
			*next = '\0';
		if ((r[1] != 'd' && r[1] != 'u') || !r[2] ||
		    kh_state_unescape_in(r + 2) < 0 || !r[2] ||
		    !strcmp(r + 2, ".") || !strcmp(r + 2, "..") ||
		    strchr(r + 2, '/'))
			return KH_EINVAL;
		len = strlen(r + 1) + 1;
		memmove(w, r + 1, len);
		w += len;
		if (!next)
			break;
		r = next;
		*r = '/';
	}
	d.nlen = (size_t)(w - f[5]);
	return kh_state_add_dir(st, &d, err);
}

static int kh_state_parse_line(struct kh_state *st, char *line, size_t lineno,
			       int *ended, struct kh_error *err)
{
	char *f[10];
	size_t n = kh_state_fields(line, f, 9);
	long long v;

	if (*ended || n == 0 || n > 9)
		return KH_EINVAL;
	/* Nearly every line is an input line. */
	if (lineno > 1 && !st->dirs_parsed && !strcmp(f[0], "input"))
		return kh_state_parse_input(st, f, n, err);
	if (lineno == 1 && n == 2 && !strcmp(f[0], KH_STATE_MAGIC) &&
	    kh_state_num(f[1], &v) == 0)
		return v == KH_STATE_VERSION ? 0 : KH_STATE_EVERSION;
	if (lineno == 1)
		return KH_EINVAL;
	if (!strcmp(f[0], "tool") && n == 2 && !st->tool)
		return (st->tool = strdup(f[1])) ? 0 : KH_ENOMEM;
	if (!strcmp(f[0], "started") && n == 2) {
		if (kh_state_num(f[1], &v) < 0)
			return KH_EINVAL;
		st->started_ns = v;
		return 0;
	}
	if (!strcmp(f[0], "option") && n == 2) {
		char *kv = kh_state_unescape(f[1]);
		int ret = kv ? kh_state_add_option(st, kv, err) : KH_EINVAL;

		free(kv);
		return ret;
	}
	if (!strcmp(f[0], "output") && n == 6) {
		unsigned char sha[KH_SHA256_LEN], xxh[KH_XXH128_LEN];
		char *p = kh_state_unescape(f[5]);
		int ret = KH_EINVAL;

		if (p && kh_hash_unhex(f[2], sha, KH_SHA256_LEN) == 0 &&
		    kh_hash_unhex(f[3], xxh, KH_XXH128_LEN) == 0 &&
		    kh_state_num(f[4], &v) == 0)
			ret = kh_state_add_output(st, f[1], p, sha, xxh,
						  (unsigned long long)v, err);
		free(p);
		return ret;
	}
	if (!strcmp(f[0], "outstat") && n == 6)
		return kh_state_parse_outstat(st, f);
	if (!strcmp(f[0], "dir"))
		return kh_state_parse_dir(st, f, n, err);
	if (st->dirs_parsed && (!strcmp(f[0], "input") ||
				!strcmp(f[0], "end"))) {
		st->dirs_parsed(st, st->dirs_ctx);
		st->dirs_parsed = NULL;
	}
	if (!strcmp(f[0], "input"))
		return kh_state_parse_input(st, f, n, err);
	if (!strcmp(f[0], "end") && n == 2) {
		*ended = 1;
		return kh_state_num(f[1], &v) == 0 && (size_t)v == st->nin ?
			0 : KH_EINVAL;
	}
	return KH_EINVAL;
}

/* Digits up to a space: at most 18 of them, so that any value fits a
 * long long; the end of the field in *p. -1 for anything else. */
static int kh_state_fast_num(const char **p, long long *out)
{
	const char *s = *p;
	long long v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9' && n < 18) {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (!n || *s != ' ')
		return -1;
	*out = v;
	*p = s + 1;
	return 0;
}

/* "input f ..." lines are nearly the whole file, and nearly all of them
 * are plain: parse such a line (rest: after "input f ", NUL-terminated
 * at end) in one pass. 1 when done, 0 when the line is not such a plain
 * one (kh_state_parse_line then parses it, and says what is wrong),
 * <0 on no memory. Accepts exactly what kh_state_parse_input would. */
static int kh_state_parse_input_fast(struct kh_state *st, const char *rest,
				     const char *end, struct kh_error *err)
{
	struct kh_state_input *in;
	long long size, mtime, ctime, ino;
	unsigned char hash[KH_XXH128_LEN];
	const char *p = rest, *rel;
	int tree;

	if ((p[0] != '0' && p[0] != '1') || p[1] != ' ')
		return 0;
	tree = p[0] - '0';
	p += 2;
	if (kh_state_fast_num(&p, &size) < 0 ||
	    kh_state_fast_num(&p, &mtime) < 0 ||
	    kh_state_fast_num(&p, &ctime) < 0 ||
	    kh_state_fast_num(&p, &ino) < 0 ||
	    end - p < 2 * KH_XXH128_LEN + 2 || p[2 * KH_XXH128_LEN] != ' ' ||
	    kh_hash_unhex(p, hash, KH_XXH128_LEN) < 0)
		return 0;
	rel = p + 2 * KH_XXH128_LEN + 1;
	/* Plain, no escape: the path is the text as it stands. (No path
	 * is a missing field, and "%" alone the empty path: the slow path
	 * judges both.) */
	if (rel >= end)
		return 0;
	for (p = rel; p < end; p++)
		if (!kh_state_plain((unsigned char)*p))
			return 0;
	in = kh_state_add_input(st, rel, err);
	if (!in)
		return KH_ENOMEM;
	in->type = 'f';
	in->tree = tree;
	in->size = size;
	in->mtime_ns = mtime;
	in->ctime_ns = ctime;
	in->ino = (unsigned long long)ino;
	memcpy(in->hash, hash, KH_XXH128_LEN);
	return 1;
}

/* Parse buf[0..len) in place (buf[len] must be writable) into the
 * empty st, which takes buf; on failure st is released. */
static int kh_state_parse_buf(char *buf, size_t len, const char *name,
			      struct kh_state *st, struct kh_error *err)
{
	size_t lineno = 0;
	char *line, *end;
	int ended = 0, ret = 0;

	st->text = buf;
	/* An input line has 50 bytes at least: one array, never grown and
	 * copied (untouched capacity costs no page). */
	if (!st->in) {
		st->cap = len / 50 + 16;
		st->in = malloc(st->cap * sizeof(*st->in));
		if (!st->in)
			st->cap = 0;
	}

	for (line = buf; ret == 0 && line < buf + len; line = end + 1) {
		lineno++;
		end = memchr(line, '\n', (size_t)(buf + len - line));
		if (!end || end == line || memchr(line, '\0', (size_t)(end - line))) {
			ret = KH_EINVAL;
			break;
		}
		*end = '\0';
		if (lineno > 1 && !ended && !st->dirs_parsed &&
		    end - line > 8 && !memcmp(line, "input f ", 8)) {
			ret = kh_state_parse_input_fast(st, line + 8, end,
							err);
			if (ret != 0) {
				ret = ret < 0 ? ret : 0;
				continue;
			}
		}
		ret = kh_state_parse_line(st, line, lineno, &ended, err);
	}
	if (ret == 0 && (!ended || !st->tool))
		ret = kh_error_set(err, KH_EINVAL, name,
				   "state file is truncated");
	else if (ret == KH_STATE_EVERSION)
		ret = kh_error_set(err, KH_EINVAL, name, "state file of "
				   "another version (this kheaders writes "
				   "version %d)", KH_STATE_VERSION);
	else if (ret == KH_EINVAL)
		ret = kh_error_set(err, KH_EINVAL, name,
				   "state file is corrupt at line %zu", lineno);
	else if (ret < 0 && !err->code)
		ret = kh_error_set(err, ret, name, "out of memory");
	if (ret < 0)
		kh_state_release(st);
	return ret;
}

int kh_state_parse(const char *text, size_t len, const char *name,
		   struct kh_state *st, struct kh_error *err)
{
	char *buf = malloc(len + 1);

	if (!buf)
		return kh_error_set(err, KH_ENOMEM, name, "out of memory");
	memcpy(buf, text, len);
	buf[len] = '\0';
	return kh_state_parse_buf(buf, len, name, st, err);
}

int kh_state_load(const char *path, struct kh_state *st, int *found,
		  struct kh_error *err)
{
	size_t len = 0;
	char *buf = NULL;
	int ret;

	/* The whole file in one read. Only a regular file, not through a
	 * symlink: a FIFO planted there must not hang gen, nor /dev/zero
	 * be read without end. A state refused here is one more reason to
	 * rebuild (and gen refuses to replace such a name anyway). */
	*found = 0;
	ret = kh_file_read(AT_FDCWD, path, NULL, KH_FILE_NOFOLLOW |
			   KH_FILE_REGULAR | KH_FILE_MISSING_OK,
			   KH_FILE_MAX_STATE, "a state file", &buf, &len, err);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	*found = 1;
	return kh_state_parse_buf(buf, len, path, st, err);
}
