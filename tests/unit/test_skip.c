/* test_skip: the skip decision (gen/kh_skip.c), on its own.
 *
 * A small tree in a temporary directory is walked; a "last run" state
 * is built from that walk (tool, options, an archive's record, every
 * input's stat data and hash), then the tree, the outputs or the state
 * are changed and kh_skip_decide asked. The rules checked are those of
 * doc/kheaders.1, SKIPPING WORK: stat data vouches for an input unless
 * it is racily clean; a touched file with the same content is hashed
 * and skipped, and its new stat data carried forward; any change of
 * content, set of inputs, type, symlink target, option, tool or output
 * rebuilds and says why; a missing, corrupt or old-version state
 * rebuilds; and the decision itself writes nothing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gen/kh_reader.h"
#include "gen/kh_skip.h"
#include "gen/kh_state.h"
#include "gen/kh_walk.h"
#include "kh_test.h"

#define SEC INT64_C(1000000000)

static char top[64];
static char out[128];     /* the archive */
static char statef[128];  /* a state file name: must never appear */

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "w");
	KH_CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

/* Set path's mtime to t seconds (a ctime moves with it: no one can
 * set that). */
static void set_mtime(const char *rel, time_t t)
{
	char path[256];
	struct timespec ts[2] = { { .tv_sec = t }, { .tv_sec = t } };

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	KH_CHECK(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0);
}

static void setup(void)
{
	char path[256];

	snprintf(top, sizeof(top), "/tmp/test_skip.XXXXXX");
	KH_CHECK(mkdtemp(top) != NULL);
	snprintf(path, sizeof(path), "%s/include", top);
	KH_CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/include/linux", top);
	KH_CHECK(mkdir(path, 0755) == 0);
	put("include/a.h", "int a;\n");
	put("include/linux/b.h", "/* b */ int b;\n");
	snprintf(path, sizeof(path), "%s/include/c.h", top);
	KH_CHECK(symlink("a.h", path) == 0);
	/* Two seconds old: the racy rule only sees the state's start. */
	set_mtime("include/a.h", time(NULL) - 2);
	snprintf(out, sizeof(out), "%s/k.tar.xz", top);
	snprintf(statef, sizeof(statef), "%s/k.tar.xz.state", top);
	put("k.tar.xz", "an archive");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	KH_CHECK(system(cmd) == 0);
}

static void walk(struct kh_walk_list *list)
{
	struct kh_error err = KH_ERROR_INIT;

	*list = (struct kh_walk_list)KH_WALK_LIST_INIT;
	KH_CHECK(kh_walk_tree(top, "include", 0, 1, list, &err) == 0);
	kh_walk_finish(list);
}

/* This run: tool t1, one option. */
static void run_state(struct kh_state *cur, const char *tool,
		      const char *opt)
{
	struct kh_error err = KH_ERROR_INIT;

	*cur = (struct kh_state)KH_STATE_INIT;
	KH_CHECK(kh_state_set_tool(cur, tool, &err) == 0);
	KH_CHECK(kh_state_add_option(cur, opt, &err) == 0);
}

/* The state a run that started at started_ns would have left for list
 * and the archive as it is now (its stat data recorded when ostat);
 * with a wrong hash for the first input when bad. */
static void last_state_bad(struct kh_state *st,
			   const struct kh_walk_list *list,
			   int64_t started_ns, int ostat, int bad)
{
	struct kh_error err = KH_ERROR_INIT;
	unsigned char sha[KH_SHA256_LEN], xxh[KH_XXH128_LEN];
	unsigned long long size;

	run_state(st, "t1", "arch=x86");
	kh_state_set_started(st, started_ns);
	KH_CHECK(kh_skip_hash_output(out, sha, xxh, &size, &err) == 0);
	KH_CHECK(kh_state_add_output(st, "archive", out, sha, xxh, size,
				     &err) == 0);
	if (ostat) {
		struct kh_state_ostat os;

		kh_skip_ostat(out, &os);
		/* As if recorded well after the file was written. */
		os.checked_ns += 10 * SEC;
		kh_state_set_output_stat(st, &os);
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct kh_walk_entry *e = &list->v[i];
		struct kh_state_input *in = kh_skip_record(st, e, &err);
		char *data = NULL;
		size_t len;

		KH_CHECK(in != NULL);
		if (!in || e->type == KH_WALK_PARENTS)
			continue;
		KH_CHECK(kh_reader_load(e, 0, &data, &len, in->hash,
					&err) == 0);
		if (e->type == KH_WALK_SYMLINK)
			in->target = data;
		else
			free(data);
		if (bad && i == 0)
			memset(in->hash, 0xab, KH_XXH128_LEN);
	}
}

static void last_state(struct kh_state *st, const struct kh_walk_list *list,
		       int64_t started_ns, int ostat)
{
	last_state_bad(st, list, started_ns, ostat, 0);
}

static int64_t later(void)
{
	return (int64_t)(time(NULL) + 10) * SEC;
}

/* Decide for this walk against prev (may be NULL); returns the
 * decision, and checks that no state file appeared. */
static struct kh_skip decide(const struct kh_state *cur,
			     const struct kh_state *prev,
			     const struct kh_walk_list *list)
{
	struct kh_skip_in in = { .state = statef, .cur = cur, .output = out,
				 .prev = prev };
	struct kh_skip d = KH_SKIP_INIT;
	struct kh_error err = KH_ERROR_INIT;

	KH_CHECK(kh_skip_decide(&in, list, &d, &err) == 0);
	KH_CHECK(access(statef, F_OK) < 0);
	return d;
}

static void check_reason(const struct kh_skip *d, const char *want)
{
	KH_CHECK(!d->up_to_date);
	if (!strstr(d->reason, want))
		fprintf(stderr, "reason '%s', want '%s'\n", d->reason, want);
	KH_CHECK(strstr(d->reason, want) != NULL);
}

/* Nothing changed: up to date, nothing read, nothing to save; the
 * decision leaves the last state as it was, byte for byte. */
static void test_unchanged(void)
{
	struct kh_walk_list list;
	struct kh_state prev, cur, next = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char *before = NULL, *after = NULL;
	size_t n1 = 0, n2 = 0;
	struct kh_skip d;
	int save = -1;

	walk(&list);
	KH_CHECK(list.n == 3);
	last_state(&prev, &list, later(), 1);
	run_state(&cur, "t1", "arch=x86");
	KH_CHECK(kh_state_format(&prev, &before, &n1, &err) == 0);
	d = decide(&cur, &prev, &list);
	KH_CHECK(kh_state_format(&prev, &after, &n2, &err) == 0);
	KH_CHECK(before && after && n1 == n2 && !memcmp(before, after, n1));
	KH_CHECK(d.up_to_date && d.reason[0] == '\0');
	KH_CHECK(d.rehashed == 0 && d.out_hashed == 0);
	/* Carried forward: the same records, nothing worth a write. */
	KH_CHECK(kh_skip_carry(&d, &list, &prev, &next, &save, &err) == 0);
	KH_CHECK(save == 0);
	KH_CHECK(kh_state_ninputs(&next) == 3 && kh_state_ninputs(&prev) == 0);
	KH_CHECK(kh_state_noutputs(&next) == 1);
	KH_CHECK_STR(kh_state_input(&next, 0)->rel, "include/a.h");
	free(before);
	free(after);
	kh_state_release(&next);
	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&list);
}

/* Inputs written within a second of the last run's start are read
 * again whatever their stat data (racily clean); same content skips,
 * and the carried state is worth saving. */
static void test_racy(void)
{
	struct kh_walk_list list;
	struct kh_state prev, cur, next = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_skip d;
	int save = 0;

	walk(&list);
	last_state(&prev, &list, (int64_t)time(NULL) * SEC, 1);
	run_state(&cur, "t1", "arch=x86");
	d = decide(&cur, &prev, &list);
	KH_CHECK(d.up_to_date);
	/* Every ctime is of this second (a.h's mtime is older). */
	KH_CHECK(d.rehashed == 3);
	KH_CHECK(kh_skip_carry(&d, &list, &prev, &next, &save, &err) == 0);
	KH_CHECK(save == 1);
	kh_state_release(&next);
	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&list);
}

/* Stat data vouches: a record whose hash no longer matches but whose
 * stat data does is not read (that is the point of the state); the
 * same record in a racy run is, and the change is found. */
static void test_stat_vouches(void)
{
	struct kh_walk_list list;
	struct kh_state prev, cur;
	struct kh_skip d;

	walk(&list);
	run_state(&cur, "t1", "arch=x86");
	last_state_bad(&prev, &list, later(), 1, 1);
	d = decide(&cur, &prev, &list);
	KH_CHECK(d.up_to_date && d.rehashed == 0);
	kh_state_release(&prev);

	last_state_bad(&prev, &list, (int64_t)time(NULL) * SEC, 1, 1);
	d = decide(&cur, &prev, &list);
	check_reason(&d, "include/a.h: content changed");
	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&list);
}

/* touch: new stat data, same content: hashed, skipped, and the new
 * stat data carried forward so that the next run trusts it. */
static void test_touched(void)
{
	struct kh_walk_list l1, l2;
	struct kh_state prev, cur, next = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_skip d;
	int save = 0;

	walk(&l1);
	last_state(&prev, &l1, later(), 1);
	set_mtime("include/a.h", time(NULL) - 100);
	walk(&l2);
	run_state(&cur, "t1", "arch=x86");
	d = decide(&cur, &prev, &l2);
	KH_CHECK(d.up_to_date && d.rehashed == 1);
	KH_CHECK(kh_skip_carry(&d, &l2, &prev, &next, &save, &err) == 0);
	KH_CHECK(save == 1);
	KH_CHECK(kh_state_input(&next, 0)->mtime_ns == l2.v[0].mtime_ns);
	KH_CHECK(kh_state_input(&next, 0)->ctime_ns == l2.v[0].ctime_ns);
	KH_CHECK(l1.v[0].mtime_ns != l2.v[0].mtime_ns);
	kh_state_release(&next);
	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&l2);
	kh_walk_list_release(&l1);
	set_mtime("include/a.h", time(NULL) - 2);
}

/* Rewrite a.h (same size) and put its mtime back to the recorded one,
 * until its ctime differs from the recorded one: the kernel stamps
 * ctime from a coarse clock, and within one tick nothing tells the
 * write (the racy case, tested above). */
static void rewrite_a(const char *text, const struct kh_walk_entry *e)
{
	struct timespec ts[2] = {
		{ .tv_sec = e->mtime_ns / SEC, .tv_nsec = e->mtime_ns % SEC },
		{ .tv_sec = e->mtime_ns / SEC, .tv_nsec = e->mtime_ns % SEC },
	};
	char path[256];
	struct stat st;
	int ok = 1;

	snprintf(path, sizeof(path), "%s/include/a.h", top);
	for (int i = 0; ok && i < 100000; i++) {
		FILE *f = fopen(path, "w");

		ok = f && fputs(text, f) >= 0;
		ok = f && !fclose(f) && ok;
		ok = ok && utimensat(AT_FDCWD, path, ts, 0) == 0 &&
		     lstat(path, &st) == 0;
		if (ok && st.st_ctim.tv_sec * SEC + st.st_ctim.tv_nsec !=
			  e->ctime_ns)
			break;
	}
	KH_CHECK(ok);
}

/* Same size, same inode, mtime put back (touch -d, rsync -t): the
 * ctime moved, so the file is read and the change found. */
static void test_content_same_size(void)
{
	struct kh_walk_list l1, l2;
	struct kh_state prev, cur;
	struct kh_skip d;

	walk(&l1);
	last_state(&prev, &l1, later(), 1);
	rewrite_a("int z;\n", &l1.v[0]);
	walk(&l2);
	KH_CHECK(l2.v[0].size == l1.v[0].size && l2.v[0].ino == l1.v[0].ino &&
		 l2.v[0].mtime_ns == l1.v[0].mtime_ns &&
		 l2.v[0].ctime_ns != l1.v[0].ctime_ns);
	run_state(&cur, "t1", "arch=x86");
	d = decide(&cur, &prev, &l2);
	check_reason(&d, "include/a.h: content changed");
	KH_CHECK(d.rehashed == 1);
	rewrite_a("int a;\n", &l1.v[0]);
	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&l2);
	kh_walk_list_release(&l1);
}

/* The set of inputs: one more, one fewer; a symlink's target; a type. */
static void test_inputs_changed(void)
{
	struct kh_walk_list l1, l2;
	struct kh_state prev, cur;
	struct kh_skip d;
	char path[256];

	walk(&l1);
	last_state(&prev, &l1, later(), 1);
	run_state(&cur, "t1", "arch=x86");

	put("include/linux/a.h", "int n;\n");
	walk(&l2);
	d = decide(&cur, &prev, &l2);
	check_reason(&d, "include/linux/a.h: new");
	kh_walk_list_release(&l2);
	snprintf(path, sizeof(path), "%s/include/linux/a.h", top);
	KH_CHECK(unlink(path) == 0);

	snprintf(path, sizeof(path), "%s/include/linux/b.h", top);
	KH_CHECK(unlink(path) == 0);
	walk(&l2);
	d = decide(&cur, &prev, &l2);
	check_reason(&d, "include/linux/b.h: gone");
	kh_walk_list_release(&l2);
	put("include/linux/b.h", "/* b */ int b;\n");

	snprintf(path, sizeof(path), "%s/include/c.h", top);
	KH_CHECK(unlink(path) == 0);
	KH_CHECK(symlink("linux/b.h", path) == 0);
	walk(&l2);
	d = decide(&cur, &prev, &l2);
	check_reason(&d, "include/c.h: symlink now points to linux/b.h");
	kh_walk_list_release(&l2);

	KH_CHECK(unlink(path) == 0);
	put("include/c.h", "a.h");
	walk(&l2);
	d = decide(&cur, &prev, &l2);
	check_reason(&d, "include/c.h: now a file from the srctree");
	kh_walk_list_release(&l2);
	KH_CHECK(unlink(path) == 0);
	KH_CHECK(symlink("a.h", path) == 0);

	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&l1);
}

/* What decides the bytes: an option, the tool. The first difference
 * is named, with what it was. */
static void test_options_and_tool(void)
{
	struct kh_walk_list list;
	struct kh_state prev, cur;
	struct kh_error err = KH_ERROR_INIT;
	struct kh_skip d;

	walk(&list);
	last_state(&prev, &list, later(), 1);
	run_state(&cur, "t1", "arch=arm64");
	d = decide(&cur, &prev, &list);
	check_reason(&d, "option arch=arm64 (was arch=x86)");
	kh_state_release(&cur);

	run_state(&cur, "t1", "arch=x86");
	KH_CHECK(kh_state_add_option(&cur, "strip=none", &err) == 0);
	d = decide(&cur, &prev, &list);
	check_reason(&d, "option strip=none (was (none))");
	kh_state_release(&cur);

	run_state(&cur, "t2", "arch=x86");
	d = decide(&cur, &prev, &list);
	check_reason(&d, "the tool changed (t2, was t1)");
	kh_state_release(&cur);
	kh_state_release(&prev);
	kh_walk_list_release(&list);
}

/* Outputs: trusted by stat data only as recorded; otherwise hashed (a
 * no-op then records their stat data again); edited or missing
 * rebuilds; a stub recorded or wanted changes the set. The manifest
 * is not the decision's business. */
static void test_outputs(void)
{
	struct kh_walk_list list;
	struct kh_state prev, cur, next = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	unsigned char h[KH_SHA256_LEN] = { 0 };
	struct kh_skip d;
	int save = 0;

	walk(&list);
	run_state(&cur, "t1", "arch=x86");
	last_state(&prev, &list, later(), 0);
	KH_CHECK(kh_state_add_output(&prev, "manifest", "elsewhere", h, h, 1,
				     &err) == 0);
	d = decide(&cur, &prev, &list);
	KH_CHECK(d.up_to_date && d.out_hashed == 1);
	KH_CHECK(kh_skip_carry(&d, &list, &prev, &next, &save, &err) == 0);
	KH_CHECK(kh_state_output(&next, 0)->stat.valid);
	KH_CHECK(!kh_state_find_output(&next, "manifest")->stat.valid);
	kh_state_release(&next);
	kh_state_release(&prev);

	/* Not trusted by stat data (ostat 0): an edit in the clock tick
	 * of the record would not show in it. */
	last_state(&prev, &list, later(), 0);
	put("k.tar.xz", "an archivE");
	d = decide(&cur, &prev, &list);
	check_reason(&d, "k.tar.xz: differs from what was built");
	kh_state_release(&prev);

	last_state(&prev, &list, later(), 1);
	KH_CHECK(unlink(out) == 0);
	d = decide(&cur, &prev, &list);
	check_reason(&d, "k.tar.xz");
	KH_CHECK(!d.up_to_date);
	put("k.tar.xz", "an archive");
	kh_state_release(&prev);

	last_state(&prev, &list, later(), 1);
	{
		struct kh_skip_in in = { .state = statef, .cur = &cur,
					 .output = out, .stub = "k.S",
					 .prev = &prev };

		KH_CHECK(kh_skip_decide(&in, &list, &d, &err) == 0);
		check_reason(&d, "the set of outputs changed");
	}
	kh_state_release(&prev);
	kh_state_release(&cur);
	kh_walk_list_release(&list);
}

/* No state, --force, no file, a corrupt one, one of another version:
 * a rebuild each, saying why; never an error. */
static void test_no_usable_state(void)
{
	static const char v1[] = "kheaders-state 1\ntool t1\nstarted 5\n"
		"end 0\n";
	struct kh_walk_list list;
	struct kh_state cur, bad = KH_STATE_INIT;
	struct kh_error lerr = KH_ERROR_INIT, err = KH_ERROR_INIT;
	struct kh_skip_in in = { .state = statef, .output = out };
	struct kh_skip d;

	walk(&list);
	run_state(&cur, "t1", "arch=x86");
	in.cur = &cur;
	d = decide(&cur, NULL, &list);
	check_reason(&d, "k.tar.xz.state: no previous state");

	KH_CHECK(kh_state_parse(v1, strlen(v1), statef, &bad, &lerr) < 0);
	in.load_err = &lerr;
	KH_CHECK(kh_skip_decide(&in, &list, &d, &err) == 0);
	check_reason(&d, "state file of another version");

	lerr = (struct kh_error)KH_ERROR_INIT;
	KH_CHECK(kh_state_parse("kheaders-state 2\ngarbage\n", 25, statef,
				&bad, &lerr) < 0);
	KH_CHECK(kh_skip_decide(&in, &list, &d, &err) == 0);
	check_reason(&d, "state file is corrupt at line 2");

	in.force = 1;
	KH_CHECK(kh_skip_decide(&in, &list, &d, &err) == 0);
	check_reason(&d, "forced");
	in.state = NULL;
	KH_CHECK(kh_skip_decide(&in, &list, &d, &err) == 0);
	check_reason(&d, "no state file in use");
	KH_CHECK(access(statef, F_OK) < 0);
	kh_state_release(&bad);
	kh_state_release(&cur);
	kh_walk_list_release(&list);
}

static void test_all(void)
{
	setup();
	test_unchanged();
	test_racy();
	test_stat_vouches();
	test_touched();
	test_content_same_size();
	test_inputs_changed();
	test_options_and_tool();
	test_outputs();
	test_no_usable_state();
	teardown();
}

KH_TEST_MAIN(test_all)
