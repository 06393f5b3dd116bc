/* test_file: the one way kheaders opens a file it did not create.
 *
 * A symlink is refused under KH_FILE_NOFOLLOW, a FIFO is refused under
 * KH_FILE_REGULAR without blocking, a group-writable file under
 * KH_FILE_PRIVATE, a missing file is 1 under KH_FILE_MISSING_OK, and a
 * read stops at its limit, for files and for pipes, with the limit in
 * the message.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/kh_file.h"
#include "kh_test.h"

static char base[] = "/tmp/kh-test-file.XXXXXX";

static const char *at(const char *rel)
{
	static char p[4096];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return p;
}

static void put(const char *rel, const char *text, mode_t mode)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, mode);

	KH_CHECK(fd >= 0);
	if (fd < 0)
		return;
	KH_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void test_read_plain(void)
{
	struct kh_error err = KH_ERROR_INIT;
	char *buf;
	size_t len;

	put("a", "hello", 0644);
	KH_CHECK(kh_file_read(AT_FDCWD, at("a"), "a", KH_FILE_REGULAR |
			      KH_FILE_NOFOLLOW, 16, "a test", &buf, &len,
			      &err) == 0);
	KH_CHECK(len == 5 && buf && !strcmp(buf, "hello"));
	free(buf);
	/* Exactly at the limit is fine, one over is not. */
	KH_CHECK(kh_file_read(AT_FDCWD, at("a"), "a", 0, 5, "a test", &buf,
			      &len, &err) == 0);
	free(buf);
	KH_CHECK(kh_file_read(AT_FDCWD, at("a"), "a", 0, 4, "a test", &buf,
			      &len, &err) == KH_EINVAL);
	KH_CHECK(buf == NULL);
	KH_CHECK_STR(err.msg, "a: over the 4 bytes limit for a test; refusing to read it");
}

static void test_refusals(void)
{
	struct kh_error err = KH_ERROR_INIT;
	char *buf;
	size_t len;
	int fd;

	put("t", "x", 0644);
	KH_CHECK(symlink("t", at("l")) == 0);
	KH_CHECK(kh_file_read(AT_FDCWD, at("l"), "l", KH_FILE_NOFOLLOW, 16,
			      "x", &buf, &len, &err) == KH_EINVAL);
	KH_CHECK_STR(err.msg, "l: is a symbolic link; refusing to follow it");
	/* Without the flag, a symlink is followed. */
	KH_CHECK(kh_file_read(AT_FDCWD, at("l"), "l", KH_FILE_REGULAR, 16,
			      "x", &buf, &len, &err) == 0);
	free(buf);
	/* A FIFO without a writer: refused at once, never waited on. */
	KH_CHECK(mkfifo(at("f"), 0600) == 0);
	KH_CHECK(kh_file_read(AT_FDCWD, at("f"), "f", KH_FILE_REGULAR, 16,
			      "x", &buf, &len, &err) == KH_EINVAL);
	KH_CHECK_STR(err.msg, "f: is a FIFO, not a regular file; refusing to read it");
	put("g", "x", 0664);
	KH_CHECK(kh_file_read(AT_FDCWD, at("g"), "g", KH_FILE_PRIVATE, 16,
			      "x", &buf, &len, &err) == KH_EINVAL);
	KH_CHECK_STR(err.msg, "g: writable by its group; refusing to trust it");
	KH_CHECK(kh_file_read(AT_FDCWD, at("none"), "none",
			      KH_FILE_MISSING_OK, 16, "x", &buf, &len,
			      &err) == 1);
	KH_CHECK(buf == NULL);
	KH_CHECK(kh_file_open(AT_FDCWD, at("none"), NULL, 0, &fd, NULL,
			      &err) == KH_EIO);
	KH_CHECK(fd == -1 && strstr(err.msg, "cannot open: No such file"));
	/* /dev/zero is endless: the limit ends it. */
	KH_CHECK(kh_file_read(AT_FDCWD, "/dev/zero", NULL, 0, 1 << 20, "x",
			      &buf, &len, &err) == KH_EINVAL);
	KH_CHECK_STR(err.msg, "/dev/zero: over the 1 MiB limit for x; refusing to read it");
}

static void test_pipe(void)
{
	struct kh_error err = KH_ERROR_INIT;
	char big[200000], *buf;
	size_t len;
	int p[2];
	pid_t pid;

	memset(big, 'z', sizeof(big));
	KH_CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		(void)!write(p[1], big, sizeof(big));
		_exit(0);
	}
	close(p[1]);
	KH_CHECK(kh_file_read_fd(p[0], "(standard input)", 100000, "x",
				 &buf, &len, &err) == KH_EINVAL);
	KH_CHECK(strstr(err.msg, "(standard input): over the 100000 bytes"));
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void test_sizes(void)
{
	char b[32];

	KH_CHECK_STR(kh_file_size_str((size_t)1 << 30, b, sizeof(b)), "1 GiB");
	KH_CHECK_STR(kh_file_size_str((size_t)64 << 20, b, sizeof(b)), "64 MiB");
	KH_CHECK_STR(kh_file_size_str(2048, b, sizeof(b)), "2 KiB");
	KH_CHECK_STR(kh_file_size_str(1000, b, sizeof(b)), "1000 bytes");
}

static void setup(void)
{
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void cleanup(void)
{
	const char *names[] = { "a", "t", "l", "f", "g" };

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		unlink(at(names[i]));
	rmdir(base);
}

KH_TEST_MAIN(setup, test_read_plain, test_refusals, test_pipe, test_sizes,
	     cleanup)
