/* test_tmpdir: locked temporary directories and their sweeping.
 *
 * A sweep removes a dead run's directory with everything in it, but
 * never a live (locked) one, never a name that is not exactly
 * PREFIX + six characters, never a file, and never anything a symlink
 * inside points to. The signal-time removal (kh_tmpdir_unlink_all)
 * empties and removes watched directories.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kh_test.h"
#include "lib/kh_tmpdir.h"

static char base[] = "/tmp/kh-test-tmpdir.XXXXXX";

static int exists(const char *fmt, const char *a)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), fmt, base, a);
	return lstat(p, &st) == 0;
}

static void mk(const char *rel, int dir)
{
	char p[4096];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (dir) {
		KH_CHECK(mkdir(p, 0700) == 0);
		return;
	}
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	KH_CHECK(fd >= 0 && write(fd, "x\n", 2) == 2);
	if (fd >= 0)
		close(fd);
}

/* A dead run's directory: nested, with a symlink out of it. */
static void dead(const char *name)
{
	char rel[256], target[4096], link[4096];

	mk(name, 1);
	snprintf(rel, sizeof(rel), "%s/include", name);
	mk(rel, 1);
	snprintf(rel, sizeof(rel), "%s/include/linux", name);
	mk(rel, 1);
	snprintf(rel, sizeof(rel), "%s/include/linux/a.h", name);
	mk(rel, 0);
	snprintf(target, sizeof(target), "%s/outside", base);
	snprintf(link, sizeof(link), "%s/%s/include/out", base, name);
	KH_CHECK(symlink(target, link) == 0);
}

static void test_sweep(void)
{
	struct kh_error err = KH_ERROR_INIT;
	char prefix[4096], *live = NULL;
	int fd = -1;

	KH_CHECK(mkdtemp(base) != NULL);
	mk("outside", 1);
	mk("outside/keep", 0);
	snprintf(prefix, sizeof(prefix), "%s/p.", base);
	KH_CHECK(kh_tmpdir_make(prefix, "test", &live, &fd, &err) == 0);
	KH_CHECK(live && fd >= 0 && strncmp(live, prefix, strlen(prefix)) == 0);
	dead("p.DEAD01");
	dead("p.dead02");
	mk("p.SHORT", 1);       /* five characters: not ours */
	mk("p.TOOLONG", 1);     /* seven */
	mk("q.ABCDEF", 1);      /* another prefix */
	mk("p.FILE01", 0);      /* not a directory */
	KH_CHECK(kh_tmpdir_sweep(prefix) == 2);
	KH_CHECK(!exists("%s/%s", "p.DEAD01") && !exists("%s/%s", "p.dead02"));
	KH_CHECK(exists("%s/%s", "outside/keep"));
	KH_CHECK(exists("%s/%s", "p.SHORT") && exists("%s/%s", "p.TOOLONG") &&
		 exists("%s/%s", "q.ABCDEF") && exists("%s/%s", "p.FILE01"));
	KH_CHECK(access(live, F_OK) == 0);   /* locked: left alone */
	/* Once its run ends, it is swept like any other. */
	close(fd);
	KH_CHECK(kh_tmpdir_sweep(prefix) == 1);
	KH_CHECK(access(live, F_OK) != 0);
	free(live);
}

/* Deeper than any path can name (300 levels of 100 bytes: 30 KB), with
 * a symlink to outside at the bottom: removed whole, by descriptors,
 * and the symlink's target stays. */
static void test_remove_deep(void)
{
	char top[4096], name[101], target[4096];
	int fd, sub;

	snprintf(top, sizeof(top), "%s/deep", base);
	snprintf(target, sizeof(target), "%s/outside", base);
	memset(name, 'n', 100);
	name[100] = '\0';
	KH_CHECK(mkdir(top, 0700) == 0);
	fd = open(top, O_RDONLY | O_DIRECTORY);
	KH_CHECK(fd >= 0);
	for (int i = 0; i < 300 && fd >= 0; i++) {
		KH_CHECK(mkdirat(fd, name, 0700) == 0);
		sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = sub;
	}
	KH_CHECK(fd >= 0 && symlinkat(target, fd, "out") == 0);
	if (fd >= 0)
		close(fd);
	KH_CHECK(kh_tmpdir_remove(top) == 0);
	KH_CHECK(!exists("%s/%s", "deep") && exists("%s/%s", "outside/keep"));
}

static void test_remove_and_watch(void)
{
	char path[4096];

	dead("r.TREE01");
	snprintf(path, sizeof(path), "%s/r.TREE01", base);
	KH_CHECK(kh_tmpdir_remove(path) == 0);
	KH_CHECK(!exists("%s/%s", "r.TREE01") && exists("%s/%s", "outside/keep"));
	mk("w", 1);
	mk("w/out", 1);
	mk("w/out/rebuilt.tar.xz", 0);
	mk("w/.tmp", 0);
	snprintf(path, sizeof(path), "%s/w", base);
	kh_tmpdir_watch(path);
	kh_tmpdir_unlink_all();
	KH_CHECK(!exists("%s/%s", "w"));
	kh_tmpdir_unwatch(path);
	mk("w", 1);
	kh_tmpdir_unlink_all();   /* no longer watched */
	KH_CHECK(exists("%s/%s", "w"));
	test_remove_deep();
	KH_CHECK(kh_tmpdir_remove(base) == 0);
}

static void test_errors(void)
{
	struct kh_error err = KH_ERROR_INIT;
	char *p = NULL;
	int fd = -1;

	KH_CHECK(kh_tmpdir_make("/nonexistent-kh/dir/x.", "DIR", &p, &fd,
				&err) < 0);
	KH_CHECK(p == NULL && fd == -1);
	KH_CHECK_STR(err.msg, "DIR: cannot create temporary directory "
		     "/nonexistent-kh/dir/x.XXXXXX: No such file or directory");
	KH_CHECK(kh_tmpdir_sweep("/nonexistent-kh/dir/x.") == 0);
}

KH_TEST_MAIN(test_sweep, test_remove_and_watch, test_errors)
