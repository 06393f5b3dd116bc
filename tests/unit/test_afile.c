/* test_afile: what an output may replace, and when two outputs are one.
 *
 * kh_afile_check lets a missing name or a regular file through and
 * refuses a symlink (even a dangling one), a FIFO and a directory,
 * naming what it is. kh_afile_commit checks again right before its
 * rename: a name made a symlink while the output was written is kept,
 * and the temporary goes. kh_afile_same sees one directory entry
 * behind different spellings, and not behind a hard link.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/kh_afile.h"
#include "kh_test.h"

static char base[] = "/tmp/kh-test-afile.XXXXXX";

static const char *at(const char *rel)
{
	static char p[2][4096];
	static int i;

	i ^= 1;
	snprintf(p[i], sizeof(p[i]), "%s/%s", base, rel);
	return p[i];
}

/* How many names in the test directory start with a dot (temporaries). */
static int dot_names(void)
{
	DIR *d = opendir(base);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] == '.' && strcmp(e->d_name, ".") &&
		     strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void test_check(void)
{
	struct kh_error err = KH_ERROR_INIT;
	FILE *f = fopen(at("reg"), "w");

	KH_CHECK(f != NULL);
	if (f)
		fclose(f);
	KH_CHECK(kh_afile_check(at("missing"), &err) == 0);
	KH_CHECK(kh_afile_check(at("reg"), &err) == 0);
	KH_CHECK(symlink("reg", at("lnk")) == 0);
	KH_CHECK(kh_afile_check(at("lnk"), &err) == KH_EINVAL);
	KH_CHECK(strstr(err.msg, "lnk: is a symbolic link; kheaders replaces "
			"only regular files") != NULL);
	err = (struct kh_error)KH_ERROR_INIT;
	KH_CHECK(symlink("nowhere", at("dangling")) == 0);
	KH_CHECK(kh_afile_check(at("dangling"), &err) == KH_EINVAL);
	err = (struct kh_error)KH_ERROR_INIT;
	KH_CHECK(mkfifo(at("fifo"), 0644) == 0);
	KH_CHECK(kh_afile_check(at("fifo"), &err) == KH_EINVAL);
	KH_CHECK(strstr(err.msg, "is a FIFO") != NULL);
	err = (struct kh_error)KH_ERROR_INIT;
	KH_CHECK(mkdir(at("dir"), 0755) == 0);
	KH_CHECK(kh_afile_check(at("dir"), &err) == KH_EINVAL);
	KH_CHECK(strstr(err.msg, "is a directory") != NULL);
}

/* The name turns into a symlink between open and commit. */
static void test_commit_rechecks(void)
{
	struct kh_error err = KH_ERROR_INIT;
	struct kh_afile *af = NULL;
	struct stat st;
	int before = dot_names();

	KH_CHECK(kh_afile_open(at("out"), &af, &err) == 0);
	KH_CHECK(af && kh_afile_write(af, "new\n", 4, &err) == 0);
	KH_CHECK(symlink("reg", at("out")) == 0);
	KH_CHECK(af && kh_afile_commit(af, &err) == KH_EINVAL);
	KH_CHECK(strstr(err.msg, "out: is a symbolic link") != NULL);
	KH_CHECK(lstat(at("out"), &st) == 0 && S_ISLNK(st.st_mode));
	KH_CHECK(dot_names() == before);
	/* And open refuses it up front, making no temporary. */
	err = (struct kh_error)KH_ERROR_INIT;
	af = NULL;
	KH_CHECK(kh_afile_open(at("out"), &af, &err) == KH_EINVAL && !af);
	KH_CHECK(dot_names() == before);
}

static void test_same(void)
{
	char cwd[4096];

	KH_CHECK(mkdir(at("sub"), 0755) == 0);
	KH_CHECK(mkdir(at("real"), 0755) == 0);
	KH_CHECK(symlink("real", at("link")) == 0);
	KH_CHECK(kh_afile_same(at("x"), at("x")));
	KH_CHECK(kh_afile_same(at("x"), at("./x")));
	KH_CHECK(kh_afile_same(at("x"), at("sub/../x")));
	KH_CHECK(kh_afile_same(at("real/x"), at("link/x")));
	KH_CHECK(!kh_afile_same(at("x"), at("y")));
	KH_CHECK(!kh_afile_same(at("x"), at("sub/x")));
	/* Relative to the working directory. */
	KH_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	KH_CHECK(chdir(base) == 0);
	KH_CHECK(kh_afile_same("x", at("x")));
	KH_CHECK(kh_afile_same("x", "./x"));
	KH_CHECK(kh_afile_same("sub/x", "link/../sub/x") ==
		 kh_afile_same(at("sub/x"), at("real/../sub/x")));
	/* A hard link is another name, replaced on its own. */
	{
		FILE *f = fopen("h1", "w");

		if (f)
			fclose(f);
		KH_CHECK(link("h1", "h2") == 0);
		KH_CHECK(!kh_afile_same("h1", "h2"));
	}
	KH_CHECK(chdir(cwd) == 0);
}

static void cleanup(void)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	KH_CHECK(system(cmd) == 0);
}

static void setup(void)
{
	KH_CHECK(mkdtemp(base) != NULL);
}

KH_TEST_MAIN(setup, test_check, test_commit_rechecks, test_same, cleanup)
