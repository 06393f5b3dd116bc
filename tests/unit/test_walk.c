/* test_walk: kh_walk picks the files upstream's find picks, in GNU tar
 * --sort=name order: the path order ('/' below every other byte), the
 * exclusions (include/generated/utsversion.h only at that path; .nfs*
 * and .__afs* in any component), find's -name '*.h', and a walk of a
 * real srctree/objtree pair built in a temporary directory: objtree
 * shadows srctree, symlinks are recorded and never followed, other
 * files are skipped, silly-rename headers leave only a KH_WALK_PARENTS
 * entry (upstream's tar still lists their directories), and bad trees
 * fail with a message naming the path.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen/kh_walk.h"
#include "lib/kh_tarorder.h"
#include "kh_test.h"

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

static void test_walk_pathcmp(void)
{
	/* Ascending, each pair as GNU tar --sort=name emits them. */
	static const char *const order[] = {
		"a",
		"a/b",
		"a/b/c",
		"a/b-c",
		"a/b.h",
		"a/x",
		"a-b",
		"a.h",
		"a0",
		"aa",
		"b",
		"include/linux/a/x.h",
		"include/linux/a-b.h",
		"include/linux/a.h",
		"include/linux/sub/c.h",
		"include/linux/sub-x.h",
		"include/linux/sub.h",
		"include/linux/\x7f.h",
		"include/linux/\x80.h",
		"include/linux/\xff.h",
		"include/linux2",
	};
	size_t n = sizeof(order) / sizeof(*order);

	/* One check per row: order[i] against every entry. */
	for (size_t i = 0; i < n; i++) {
		int row_ok = 1;

		for (size_t j = 0; j < n; j++) {
			int want = i < j ? -1 : i > j;
			int got = sign(kh_tarorder_cmp(order[i], order[j]));

			if (got != want) {
				row_ok = 0;
				fprintf(stderr, "%s:%d: pathcmp(\"%s\", \"%s\")"
					" = %d, want %d\n", __FILE__, __LINE__,
					order[i], order[j], got, want);
			}
		}
		KH_CHECK(row_ok);
	}
	/* Where plain strcmp would disagree ('-' and '.' sort below '/'). */
	KH_CHECK(strcmp("a-b", "a/x") < 0 && kh_tarorder_cmp("a-b", "a/x") > 0);
	KH_CHECK(strcmp("a.h", "a/x") < 0 && kh_tarorder_cmp("a.h", "a/x") > 0);
	KH_CHECK(kh_tarorder_cmp("", "") == 0);
	KH_CHECK(kh_tarorder_cmp("", "a") < 0);
}

static void test_walk_excluded(void)
{
	static const struct { const char *rel; int want; } cases[] = {
		{ "include/generated/utsversion.h", 1 },
		/* Only that exact path. */
		{ "arch/x86/include/generated/utsversion.h", 0 },
		{ "include/generated/uapi/utsversion.h", 0 },
		{ "include/linux/utsversion.h", 0 },
		{ "include/generated/autoconf.h", 0 },
		{ "include/generated/utsrelease.h", 0 },
		/* NFS and AFS silly-rename files, in any component. */
		{ "include/linux/.nfs0000000000a1b2c300000001.h", 1 },
		{ "include/linux/.__afs4F2B.h", 1 },
		{ "include/.nfs42/x.h", 1 },
		{ "include/.__afs/x.h", 1 },
		{ ".nfs", 1 },
		{ ".nfs.h", 1 },
		{ ".__afs", 1 },
		{ "arch/x86/include/asm/.nfsXYZ", 1 },
		/* Lookalikes. */
		{ "include/linux/nfs.h", 0 },
		{ "include/linux/x.nfs.h", 0 },
		{ "include/linux/.nf.h", 0 },
		{ "include/linux/.NFS1.h", 0 },
		{ "include/linux/.__af.h", 0 },
		{ "include/linux/._afs.h", 0 },
		{ "include/linux/a.h", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (!!kh_walk_excluded(cases[i].rel) == cases[i].want) {
			kh_test_pass++;
		} else {
			kh_test_fail++;
			fprintf(stderr, "%s:%d: excluded(\"%s\") != %d\n",
				__FILE__, __LINE__, cases[i].rel, cases[i].want);
		}
	}
}

static void test_walk_is_header(void)
{
	/* find -name '*.h': '*' matches a leading dot and the empty string. */
	KH_CHECK(kh_walk_is_header("x.h"));
	KH_CHECK(kh_walk_is_header(".h"));
	KH_CHECK(kh_walk_is_header("a.b.h"));
	KH_CHECK(kh_walk_is_header("name with spaces.h"));
	KH_CHECK(!kh_walk_is_header(""));
	KH_CHECK(!kh_walk_is_header("h"));
	KH_CHECK(!kh_walk_is_header("xh"));
	KH_CHECK(!kh_walk_is_header("x.H"));
	KH_CHECK(!kh_walk_is_header("x.hh"));
	KH_CHECK(!kh_walk_is_header("x.h~"));
	KH_CHECK(!kh_walk_is_header("x.h.orig"));
	KH_CHECK(!kh_walk_is_header("x.c"));
}

/* --- A real tree on disk. --- */

static char walk_top[4096];

static int walk_rm(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

/* Create top/rel (and its parents) holding text, or a directory when
 * text is NULL. */
static int mk(const char *rel, const char *text)
{
	char path[8192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", walk_top, rel);
	for (char *p = path + strlen(walk_top) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (!text)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int ln(const char *target, const char *rel)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", walk_top, rel);
	return symlink(target, path);
}

static char *at(const char *rel)
{
	static char path[8192];

	snprintf(path, sizeof(path), "%s/%s", walk_top, rel);
	return path;
}

static int build_trees(void)
{
	int r = 0;

	r |= mk("src/include/linux/a.h", "a\n");
	r |= mk("src/include/linux/b.h", "src b\n");
	r |= mk("src/include/linux/notes.txt", "not a header\n");
	r |= mk("src/include/linux/Makefile", "");
	r |= mk("src/include/linux/sub/c.h", "c\n");
	r |= mk("src/include/linux/sub-x.h", "");
	r |= mk("src/include/linux/sub.h", "");
	r |= mk("src/include/linux/.nfs0001.h", "silly\n");
	r |= mk("src/include/.nfs42/x.h", "silly dir\n");
	r |= mk("src/include/linux/.__afs4F2B.h", "silly\n");
	r |= mk("src/include/linux/.nfs0003.txt", "silly, not a header\n");
	r |= mk("src/include/only-silly/.nfs9.h", "silly\n");
	r |= mk("src/include/generated/utsversion.h", "#define UTS\n");
	r |= mk("src/include/empty", NULL);
	r |= ln("a.h", "src/include/linux/link.h");
	r |= ln("does-not-exist.h", "src/include/linux/dangling.h");
	/* A symlink to a directory: recorded if named like a header,
	 * never descended into either way. */
	r |= ln("sub", "src/include/linux/dirlink");
	r |= ln("sub", "src/include/linux/dirlink.h");
	r |= mk("src/arch/x86/include/asm/foo.h", "foo\n");
	r |= mk("src/arch/x86/include/generated/utsversion.h", "kept\n");
	r |= mk("src/arch/arm64/include/asm/other.h", "other arch\n");
	r |= mk("src/scripts/outside.h", "outside\n");
	/* objtree: generated files, and one override of a srctree file. */
	r |= mk("obj/include/linux/b.h", "obj b, longer\n");
	r |= mk("obj/include/generated/autoconf.h", "#define CONFIG_X 1\n");
	r |= mk("obj/include/generated/utsversion.h", "#define UTS\n");
	r |= mk("obj/include/linux/.nfs0002.h", "silly\n");
	r |= mk("obj/arch/x86/include/generated/asm/syscalls.h", "sys\n");
	return r;
}

struct want_entry {
	const char *rel;
	const char *root;   /* "src" or "obj" */
	enum kh_walk_type type;
	off_t size;
};

static void test_walk_tree(void)
{
	static const struct want_entry want[] = {
		{ "arch/x86/include/asm/foo.h", "src", KH_WALK_FILE, 4 },
		{ "arch/x86/include/generated/asm/syscalls.h", "obj",
		  KH_WALK_FILE, 4 },
		{ "arch/x86/include/generated/utsversion.h", "src",
		  KH_WALK_FILE, 5 },
		{ "include/.nfs42", "src", KH_WALK_PARENTS, 0 },
		{ "include/generated/autoconf.h", "obj", KH_WALK_FILE, 19 },
		{ "include/linux/.__afs4F2B.h", "src", KH_WALK_PARENTS, 0 },
		{ "include/linux/.nfs0001.h", "src", KH_WALK_PARENTS, 0 },
		{ "include/linux/.nfs0002.h", "obj", KH_WALK_PARENTS, 0 },
		{ "include/linux/a.h", "src", KH_WALK_FILE, 2 },
		{ "include/linux/b.h", "obj", KH_WALK_FILE, 14 },
		{ "include/linux/dangling.h", "src", KH_WALK_SYMLINK, 16 },
		{ "include/linux/dirlink.h", "src", KH_WALK_SYMLINK, 3 },
		{ "include/linux/link.h", "src", KH_WALK_SYMLINK, 3 },
		{ "include/linux/sub/c.h", "src", KH_WALK_FILE, 2 },
		{ "include/linux/sub-x.h", "src", KH_WALK_FILE, 0 },
		{ "include/linux/sub.h", "src", KH_WALK_FILE, 0 },
		{ "include/only-silly/.nfs9.h", "src", KH_WALK_PARENTS, 0 },
	};
	size_t nwant = sizeof(want) / sizeof(*want);
	struct kh_walk_list list = KH_WALK_LIST_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char src[4200], obj[4200];

	snprintf(src, sizeof(src), "%s/src", walk_top);
	snprintf(obj, sizeof(obj), "%s/obj", walk_top);
	/* As upstream: "include/" and "arch/$SRCARCH/include/", srctree
	 * then objtree; objtree's are optional. */
	KH_CHECK(kh_walk_tree(src, "include/", 0, 1, &list, &err) == 0);
	KH_CHECK(kh_walk_tree(src, "arch/x86/include/", 0, 1, &list, &err) == 0);
	KH_CHECK(kh_walk_tree(obj, "include/", 1, 0, &list, &err) == 0);
	KH_CHECK(kh_walk_tree(obj, "arch/x86/include/", 1, 0, &list, &err) == 0);
	/* Missing and optional: nothing, no error. */
	KH_CHECK(kh_walk_tree(obj, "arch/arm64/include/", 1, 0, &list, &err) == 0);
	if (err.code)
		fprintf(stderr, "walk: %s\n", err.msg);
	kh_walk_finish(&list);

	KH_CHECK(list.n == nwant);
	for (size_t i = 0; i < list.n && i < nwant; i++) {
		const struct kh_walk_entry *e = &list.v[i];
		char path[8192];

		snprintf(path, sizeof(path), "%s/%s/%s", walk_top,
			 want[i].root, want[i].rel);
		KH_CHECK_STR(e->rel, want[i].rel);
		KH_CHECK_STR(e->path, path);
		KH_CHECK(e->type == want[i].type);
		/* A PARENTS entry carries nothing but its path. */
		if (want[i].type == KH_WALK_PARENTS)
			continue;
		KH_CHECK(e->tree == (want[i].root[0] == 'o'));
		KH_CHECK(e->size == want[i].size);
	}
	if (list.n != nwant)
		for (size_t i = 0; i < list.n; i++)
			fprintf(stderr, "  got %s (tree %d)\n", list.v[i].rel,
				list.v[i].tree);
	kh_walk_list_release(&list);
	KH_CHECK(list.n == 0 && list.v == NULL);
}

/* finish alone: sorts, and an objtree entry wins whatever order the
 * trees were walked in. */
static void test_walk_finish_order(void)
{
	struct kh_walk_list list = KH_WALK_LIST_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char src[4200], obj[4200];

	snprintf(src, sizeof(src), "%s/src", walk_top);
	snprintf(obj, sizeof(obj), "%s/obj", walk_top);
	KH_CHECK(kh_walk_tree(obj, "include", 1, 0, &list, &err) == 0);
	KH_CHECK(kh_walk_tree(src, "include", 0, 1, &list, &err) == 0);
	kh_walk_finish(&list);
	for (size_t i = 0; i < list.n; i++) {
		if (!strcmp(list.v[i].rel, "include/linux/b.h"))
			KH_CHECK(list.v[i].tree == 1);
		if (i > 0)
			KH_CHECK(kh_tarorder_cmp(list.v[i - 1].rel,
						 list.v[i].rel) < 0);
	}
	KH_CHECK(list.n == 14);
	kh_walk_list_release(&list);
}

/* Like find on "include/", a symlink given as the start is followed. */
static void test_walk_start_symlink(void)
{
	struct kh_walk_list list = KH_WALK_LIST_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char root[4200];

	KH_CHECK(mk("lnk/real/x.h", "x\n") == 0);
	KH_CHECK(ln("real", "lnk/include") == 0);
	snprintf(root, sizeof(root), "%s/lnk", walk_top);
	KH_CHECK(kh_walk_tree(root, "include/", 0, 1, &list, &err) == 0);
	kh_walk_finish(&list);
	KH_CHECK(list.n == 1);
	if (list.n == 1) {
		KH_CHECK_STR(list.v[0].rel, "include/x.h");
		KH_CHECK(list.v[0].type == KH_WALK_FILE);
	}
	kh_walk_list_release(&list);
}

static void test_walk_errors(void)
{
	struct kh_walk_list list = KH_WALK_LIST_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char root[4200];

	/* A required tree that is missing names its path. */
	snprintf(root, sizeof(root), "%s/src", walk_top);
	KH_CHECK(kh_walk_tree(root, "arch/mips/include/", 0, 1, &list,
			      &err) < 0);
	KH_CHECK(strstr(err.msg, at("src/arch/mips/include")) != NULL);
	KH_CHECK(list.n == 0);

	/* A directory named like a header. */
	memset(&err, 0, sizeof(err));
	KH_CHECK(mk("dirh/include/linux/weird.h/inner.h", "") == 0);
	snprintf(root, sizeof(root), "%s/dirh", walk_top);
	KH_CHECK(kh_walk_tree(root, "include", 0, 1, &list, &err) < 0);
	KH_CHECK(strstr(err.msg, at("dirh/include/linux/weird.h")) != NULL);
	kh_walk_list_release(&list);

	/* The start is a file, not a directory. */
	memset(&err, 0, sizeof(err));
	KH_CHECK(mk("file/include", "") == 0);
	snprintf(root, sizeof(root), "%s/file", walk_top);
	KH_CHECK(kh_walk_tree(root, "include", 0, 0, &list, &err) < 0);
	KH_CHECK(strstr(err.msg, at("file/include")) != NULL);
	kh_walk_list_release(&list);

	/* A FIFO named like a header is neither file nor symlink. */
	memset(&err, 0, sizeof(err));
	KH_CHECK(mk("fifo/include/linux", NULL) == 0);
	KH_CHECK(mkfifo(at("fifo/include/linux/pipe.h"), 0644) == 0);
	snprintf(root, sizeof(root), "%s/fifo", walk_top);
	KH_CHECK(kh_walk_tree(root, "include", 0, 1, &list, &err) < 0);
	KH_CHECK(strstr(err.msg, at("fifo/include/linux/pipe.h")) != NULL);
	kh_walk_list_release(&list);

	/* An unreadable directory (not as root: root reads anything). */
	if (geteuid() != 0) {
		memset(&err, 0, sizeof(err));
		KH_CHECK(mk("perm/include/locked", NULL) == 0);
		KH_CHECK(chmod(at("perm/include/locked"), 0) == 0);
		snprintf(root, sizeof(root), "%s/perm", walk_top);
		KH_CHECK(kh_walk_tree(root, "include", 0, 1, &list, &err) < 0);
		KH_CHECK(strstr(err.msg, at("perm/include/locked")) != NULL);
		chmod(at("perm/include/locked"), 0755);
		kh_walk_list_release(&list);
	}
}

static void test_walk_disk(void)
{
	const char *tmp = getenv("TEST_TMP");

	snprintf(walk_top, sizeof(walk_top), "%s/test_walk.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(walk_top)) {
		KH_CHECK(!"cannot create a temporary directory");
		return;
	}
	KH_CHECK(build_trees() == 0);
	test_walk_tree();
	test_walk_finish_order();
	test_walk_start_symlink();
	test_walk_errors();
	nftw(walk_top, walk_rm, 16, FTW_DEPTH | FTW_PHYS);
}

KH_TEST_MAIN(test_walk_pathcmp, test_walk_excluded, test_walk_is_header,
	     test_walk_disk)
