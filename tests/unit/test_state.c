/* test_state: numbers in the state file use their whole range, and
 * directory records read back exactly.
 *
 * Device and inode numbers are unsigned 64-bit (overlayfs with xino
 * sets the top bits): a state gen writes with such numbers must read
 * back, or every later run would find it "corrupt" and rebuild. Sizes
 * and times must fit a long long; one more digit is refused. Inputs
 * carry a ctime since version 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/kh_state.h"
#include "kh_test.h"

#define HEAD "kheaders-state 2\ntool t\nstarted 5\n"
#define HASH "00112233445566778899aabbccddeeff"
#define SHA "0011223344556677889900112233445566778899001122334455667788990011"

static int parses(const char *text, struct kh_state *st)
{
	struct kh_error err = KH_ERROR_INIT;

	return kh_state_parse(text, strlen(text), "t", st, &err);
}

static void test_full_range(void)
{
	const char *text = HEAD
		"output archive " SHA " " HASH " 7 a.tar.xz\n"
		"outstat 18446744073709551615 18446744073709551614 1 2 3\n"
		"input f 0 3 9223372036854775807 9223372036854775806 "
		"18446744073709551615 " HASH
		" include/a.h\n"
		"end 1\n";
	struct kh_state st = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char *out = NULL;
	size_t len = 0;

	KH_CHECK(parses(text, &st) == 0);
	KH_CHECK(st.nin == 1 && st.in[0].ino == 18446744073709551615ULL);
	KH_CHECK(st.in[0].mtime_ns == INT64_MAX);
	KH_CHECK(st.in[0].ctime_ns == INT64_MAX - 1);
	KH_CHECK(st.nout == 1 && st.out[0].stat.valid &&
		 st.out[0].stat.dev == 18446744073709551615ULL &&
		 st.out[0].stat.ino == 18446744073709551614ULL &&
		 st.out[0].stat.checked_ns == 3);
	/* What it writes is what it read. */
	KH_CHECK(kh_state_format(&st, &out, &len, &err) == 0);
	KH_CHECK(out && len == strlen(text) && !memcmp(out, text, len));
	free(out);
	kh_state_release(&st);
}

static void test_out_of_range(void)
{
	struct kh_state st = KH_STATE_INIT;

	KH_CHECK(parses(HEAD "input f 0 3 1 1 18446744073709551616 " HASH
			" include/a.h\nend 1\n", &st) < 0);
	kh_state_release(&st);
	st = (struct kh_state)KH_STATE_INIT;
	KH_CHECK(parses(HEAD "input f 0 3 9223372036854775808 1 1 " HASH
			" include/a.h\nend 1\n", &st) < 0);
	kh_state_release(&st);
	st = (struct kh_state)KH_STATE_INIT;
	KH_CHECK(parses(HEAD "input f 0 3 1 9223372036854775808 1 " HASH
			" include/a.h\nend 1\n", &st) < 0);
	kh_state_release(&st);
	st = (struct kh_state)KH_STATE_INIT;
	/* An outstat line belongs to the output line before it. */
	KH_CHECK(parses(HEAD "outstat 1 2 3 4 5\nend 0\n", &st) < 0);
	kh_state_release(&st);
}

static int dirs_seen;

static void note_dirs(const struct kh_state *st, void *ctx)
{
	/* Called before the first input line, with every dir parsed. */
	KH_CHECK(st->ndirs == 3 && st->nin == 0 && ctx == &dirs_seen);
	dirs_seen++;
}

/* Dir lines: names packed as "<t><name>\0", escapes undone, "-" for an
 * empty listing; the parser tells when they are all read. */
static void test_dirs(void)
{
	const char *text = HEAD
		"dir 0 17 18446744073709551615 include /dlinux/ua.h/ub%20c.h\n"
		"dir 1 18 2 include/linux -\n"
		"dir 0 19 3 arch/x86/include /dasm\n"
		"input f 0 3 1 4 2 " HASH " include/a.h\n"
		"end 1\n";
	static const char names[] = "dlinux\0ua.h\0ub c.h";
	struct kh_state st = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	char *out = NULL;
	size_t len = 0;

	st.dirs_parsed = note_dirs;
	st.dirs_ctx = &dirs_seen;
	KH_CHECK(parses(text, &st) == 0);
	KH_CHECK(dirs_seen == 1);
	KH_CHECK(st.ndirs == 3);
	KH_CHECK(!strcmp(st.dirs[0].rel, "include") && st.dirs[0].tree == 0 &&
		 st.dirs[0].ctime_ns == 17 &&
		 st.dirs[0].ino == 18446744073709551615ULL);
	KH_CHECK(st.dirs[0].nlen == sizeof(names) &&
		 !memcmp(st.dirs[0].names, names, sizeof(names)));
	KH_CHECK(st.dirs[1].tree == 1 && st.dirs[1].nlen == 0);
	KH_CHECK(st.dirs[2].nlen == 5 && !memcmp(st.dirs[2].names, "dasm", 5));
	KH_CHECK(kh_state_format(&st, &out, &len, &err) == 0);
	KH_CHECK(out && len == strlen(text) && !memcmp(out, text, len));
	free(out);
	kh_state_release(&st);
}

static void test_bad_dirs(void)
{
	static const char *bad[] = {
		"dir 0 1 2 include\n",                  /* no names */
		"dir 0 1 2 include ua.h\n",             /* no leading / */
		"dir 0 1 2 include /xa.h\n",            /* type not d or u */
		"dir 0 1 2 include /u\n",               /* empty name */
		"dir 0 1 2 include /d..\n",             /* never up */
		"dir 0 1 2 include /u.\n",
		"dir 0 1 2 include /ua.h//ub.h\n",      /* empty entry */
		"dir 2 1 2 include /ua.h\n",            /* no tree 2 */
		"dir 0 1 2 include /u%2Fa\n",           /* a slash in a name */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kh_state st = KH_STATE_INIT;
		char text[256];

		snprintf(text, sizeof(text), "%s%send 0\n", HEAD, bad[i]);
		if (parses(text, &st) == 0)
			fprintf(stderr, "accepted: %s", bad[i]);
		KH_CHECK(parses(text, &st) < 0);
		kh_state_release(&st);
	}
	/* The fast path for plain input lines refuses what the full
	 * parser refuses. */
	{
		static const char *bad_in[] = {
			"input f 0 3 1 4 2 " HASH " \n",        /* no path */
			"input f 0 3 1 4 2 " HASH "\n",
			"input f 2 3 1 4 2 " HASH " a.h\n",     /* no tree 2 */
			"input f 0  3 1 4 2 " HASH " a.h\n",    /* empty field */
			"input f 0 3 1 4 2 " HASH "0 a.h\n",    /* 33 hex digits */
			"input f 0 3 1 4 2 " HASH " a b.h\n",   /* 10 fields */
			"input f 0 3 1 4 x " HASH " a.h\n",
			/* Version 1's line, without the ctime. */
			"input f 0 3 1 2 " HASH " a.h\n",
		};

		for (size_t i = 0; i < sizeof(bad_in) / sizeof(bad_in[0]); i++) {
			struct kh_state st = KH_STATE_INIT;
			char text[256];

			snprintf(text, sizeof(text), "%s%send 1\n", HEAD,
				 bad_in[i]);
			if (parses(text, &st) == 0)
				fprintf(stderr, "accepted: %s", bad_in[i]);
			KH_CHECK(parses(text, &st) < 0);
			kh_state_release(&st);
		}
	}
	/* Dir lines come before the inputs. */
	{
		struct kh_state st = KH_STATE_INIT;

		KH_CHECK(parses(HEAD "input f 0 3 1 4 2 " HASH " include/a.h\n"
				"dir 0 1 2 include /ua.h\nend 1\n", &st) < 0);
		kh_state_release(&st);
	}
}

/* A state of version 1 (no input ctimes) is refused as such, and said
 * so: the run rebuilds, never trusts a record without a ctime. */
static void test_old_version(void)
{
	struct kh_state st = KH_STATE_INIT;
	struct kh_error err = KH_ERROR_INIT;
	const char *v1 = "kheaders-state 1\ntool t\nstarted 5\n"
		"input f 0 3 1 2 " HASH " include/a.h\nend 1\n";

	KH_CHECK(kh_state_parse(v1, strlen(v1), "s", &st, &err) < 0);
	KH_CHECK(strstr(err.msg, "s: state file of another version") != NULL);
	kh_state_release(&st);
}

KH_TEST_MAIN(test_full_range, test_out_of_range, test_dirs, test_bad_dirs,
	     test_old_version)
