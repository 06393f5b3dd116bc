/* shim-fault: an LD_PRELOAD library that injects a fault at one exact
 * moment of a kheaders run, for tests of races and interruptions.
 *
 *   KH_FAULT=ACTION       unlink  remove the file, as if deleted meanwhile
 *                         append  append a line to it (grows, new mtime)
 *                         replace put a copy with the same bytes, size and
 *                                 mtime in its place (a new inode)
 *                         stall   touch KH_FAULT_READY, then wait for a
 *                                 signal: the test kills us here, or
 *                                 sends SIGUSR1 to let the call go on
 *   KH_FAULT_CALL=CALL    open (default), readlink, stat, rename, or
 *                         unlink (unlink, unlinkat, rmdir): the call
 *                         that triggers, just before it runs
 *   KH_FAULT_PATH=TEXT    only a path containing TEXT triggers: the
 *                         path as passed (for stat and unlinkat, the
 *                         name within its directory; for rename, the
 *                         new name)
 *   KH_FAULT_READY=FILE   created when the fault fires
 *
 * The fault fires once per process. Nothing happens without KH_FAULT.
 * Built without sanitizers; under ASan set
 * ASAN_OPTIONS=verify_asan_link_order=0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fault_fired;
static volatile sig_atomic_t fault_woken;

static void fault_wake(int sig)
{
	(void)sig;
	fault_woken = 1;
}

static void *fault_real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f) {
		fprintf(stderr, "shim-fault: no %s in libc\n", name);
		abort();
	}
	return f;
}

static int (*fault_open(void))(const char *, int, ...)
{
	static int (*f)(const char *, int, ...);

	if (!f)
		f = (int (*)(const char *, int, ...))fault_real("open");
	return f;
}

/* Same bytes, size and mtime at the same path, but a new inode. */
static void fault_replace(const char *path)
{
	int (*op)(const char *, int, ...) = fault_open();
	char tmp[4096];
	struct stat st;
	char buf[65536];
	ssize_t n;
	int in, out;

	if (snprintf(tmp, sizeof(tmp), "%s.shim-tmp", path) >= (int)sizeof(tmp) ||
	    stat(path, &st) < 0)
		return;
	in = op(path, O_RDONLY);
	out = op(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (out >= 0) {
		struct timespec ts[2] = { st.st_atim, st.st_mtim };

		futimens(out, ts);
		close(out);
	}
	if (in >= 0)
		close(in);
	rename(tmp, path);
}

static void fault_ready(const char *ready)
{
	int fd;

	if (!ready)
		return;
	fd = fault_open()(ready, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}

/* Announce the stall, then wait until a signal the program handles
 * (SIGINT...) runs its handler on this thread, or SIGUSR1 arrives on
 * any thread, which lets the call go on as if nothing happened.
 * Signals are blocked from before the announcement, and unblocked only
 * atomically inside ppoll: one sent the moment the test sees the
 * announcement cannot slip in before the wait and be missed. */
static void fault_stall(const char *ready)
{
	struct sigaction sa, old;
	sigset_t all, orig;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fault_wake;
	sigaction(SIGUSR1, &sa, &old);
	fault_ready(ready);
	while (!fault_woken) {
		struct timespec t = { 0, 10000000 };

		if (ppoll(NULL, 0, &t, &orig) < 0 && errno == EINTR)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &orig, NULL);
	sigaction(SIGUSR1, &old, NULL);
}

/* The fault, if this call is the one: path is relative to dfd. */
static void fault_hit(const char *call, int dfd, const char *rpath)
{
	const char *action = getenv("KH_FAULT");
	const char *want = getenv("KH_FAULT_CALL");
	const char *match = getenv("KH_FAULT_PATH");
	const char *ready = getenv("KH_FAULT_READY");
	char buf[4096];
	const char *path = rpath;
	int saved = errno;

	if (!action || !rpath || strcmp(want ? want : "open", call) ||
	    (match && !strstr(rpath, match)))
		return;
	if (__atomic_exchange_n(&fault_fired, 1, __ATOMIC_SEQ_CST))
		return;
	if (dfd != AT_FDCWD && rpath[0] != '/' &&
	    snprintf(buf, sizeof(buf), "/proc/self/fd/%d/%s", dfd, rpath) <
		    (int)sizeof(buf))
		path = buf;
	if (strcmp(action, "stall"))
		fault_ready(ready);
	if (!strcmp(action, "stall")) {
		fault_stall(ready);
	} else if (!strcmp(action, "unlink")) {
		unlink(path);
	} else if (!strcmp(action, "append")) {
		int fd = fault_open()(path, O_WRONLY | O_APPEND);

		if (fd >= 0) {
			if (write(fd, "/* grown */\n", 12) < 0)
				perror("shim-fault: append");
			close(fd);
		}
	} else if (!strcmp(action, "replace")) {
		fault_replace(path);
	} else {
		fprintf(stderr, "shim-fault: unknown KH_FAULT=%s\n", action);
		abort();
	}
	errno = saved;
}

static mode_t fault_mode(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = fault_mode(flags, ap);
	va_end(ap);
	fault_hit("open", AT_FDCWD, path);
	return fault_open()(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = fault_mode(flags, ap);
	va_end(ap);
	fault_hit("open", AT_FDCWD, path);
	return fault_open()(path, flags, mode);
}

/* openat and openat64 are one call on 64-bit glibc: both go here. */
static int fault_openat(int dfd, const char *path, int flags, mode_t mode)
{
	static int (*f)(int, const char *, int, ...);

	if (!f)
		f = (int (*)(int, const char *, int, ...))fault_real("openat");
	fault_hit("open", dfd, path);
	return f(dfd, path, flags, mode);
}

int openat(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = fault_mode(flags, ap);
	va_end(ap);
	return fault_openat(dfd, path, flags, mode);
}

int openat64(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = fault_mode(flags, ap);
	va_end(ap);
	return fault_openat(dfd, path, flags, mode);
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
	static ssize_t (*f)(const char *, char *, size_t);

	if (!f)
		f = (ssize_t (*)(const char *, char *, size_t))
			fault_real("readlink");
	fault_hit("readlink", AT_FDCWD, path);
	return f(path, buf, size);
}

int fstatat(int dfd, const char *path, struct stat *st, int flags)
{
	static int (*f)(int, const char *, struct stat *, int);

	if (!f)
		f = (int (*)(int, const char *, struct stat *, int))
			fault_real("fstatat");
	fault_hit("stat", dfd, path);
	return f(dfd, path, st, flags);
}

int rename(const char *from, const char *to)
{
	static int (*f)(const char *, const char *);

	if (!f)
		f = (int (*)(const char *, const char *))fault_real("rename");
	fault_hit("rename", AT_FDCWD, to);
	return f(from, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to,
	      unsigned flags)
{
	static int (*f)(int, const char *, int, const char *, unsigned);

	if (!f)
		f = (int (*)(int, const char *, int, const char *, unsigned))
			fault_real("renameat2");
	fault_hit("rename", fd2, to);
	return f(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
	static int (*f)(const char *);

	if (!f)
		f = (int (*)(const char *))fault_real("unlink");
	fault_hit("unlink", AT_FDCWD, path);
	return f(path);
}

int unlinkat(int dfd, const char *path, int flags)
{
	static int (*f)(int, const char *, int);

	if (!f)
		f = (int (*)(int, const char *, int))fault_real("unlinkat");
	fault_hit("unlink", dfd, path);
	return f(dfd, path, flags);
}

int rmdir(const char *path)
{
	static int (*f)(const char *);

	if (!f)
		f = (int (*)(const char *))fault_real("rmdir");
	fault_hit("unlink", AT_FDCWD, path);
	return f(path);
}
