/* test_strip: kh_strip gives, on hand-picked inputs, the bytes that
 * upstream's
 *     perl -pi -e 'BEGIN {undef $/;}; s/\/\*((?!SPDX).)*?\*\///smg;'
 * gives. Each expected value was worked out from the regex (a match at
 * a slash-star ends at the first star-slash at or after p + 2, and
 * fails if "SPDX" starts before that; on failure the scan resumes at
 * p + 1) and then confirmed by running perl on the input. The cases
 * cover the corners a C-aware or "simpler" stripper gets wrong.
 * tests/t-strip-perl.sh does the same against perl on random inputs.
 */
#include <stdlib.h>

#include "gen/kh_strip.h"
#include "kh_test.h"

struct strip_case {
	const char *in, *want;
	size_t inlen, wantlen;
	int line;
};

/* Lengths from sizeof, so cases may hold NUL bytes. */
#define CASE(in, want) { in, want, sizeof(in) - 1, sizeof(want) - 1, __LINE__ }

static const struct strip_case strip_cases[] = {
	/* Nothing to do. */
	CASE("", ""),
	CASE("int x;\n", "int x;\n"),
	CASE("/", "/"),
	CASE("*", "*"),
	CASE("/*", "/*"),
	CASE("*/", "*/"),
	CASE("a / b * c", "a / b * c"),
	/* Plain comments, anywhere. */
	CASE("/* c */", ""),
	CASE("a/* c */b", "ab"),
	CASE("int x; /* end */", "int x; "),
	CASE("/* start */int x;", "int x;"),
	CASE("a /* one\n two\n three */ b\n", "a  b\n"),
	/* Shortest comments: the close may start right after the open. */
	CASE("/**/", ""),
	CASE("x/**/y", "xy"),
	CASE("/***/", ""),
	CASE("/****/", ""),
	CASE("/* **/", ""),
	/* Slash-star-slash is not a comment: its star cannot also start
	 * the close. */
	CASE("/*/", "/*/"),
	CASE("a/*/b", "a/*/b"),
	CASE("/*/x*/", ""),
	CASE("/*/*/", ""),
	/* Adjacent and chained comments. */
	CASE("/*a*//*b*/", ""),
	CASE("/*a*/*/", "*/"),
	CASE("//*a*/", "/"),
	CASE("///*a*/", "//"),
	CASE("*/ /* a */", "*/ "),
	/* Comments do not nest: the first close ends the outer one. */
	CASE("/* a /* b */ c */", " c */"),
	CASE("/* /* /* x */ y", " y"),
	/* Unterminated comment: left alone, and so is all that follows. */
	CASE("a /* b", "a /* b"),
	CASE("a /* b\n c */ d /* e", "a  d /* e"),
	CASE("/* a */ b /* c\n", " b /* c\n"),
	/* Not C-aware: a slash-star in a string or line comment opens. */
	CASE("char *s = \"/*\"; int x; /* y */ z", "char *s = \" z"),
	CASE("char *s = \"/* not */\";", "char *s = \"\";"),
	CASE("// see /* here\nint x; /* a */", "// see "),
	/* SPDX keeps a comment; the check is case-sensitive. */
	CASE("/* SPDX-License-Identifier: GPL-2.0 */\nint x;",
	     "/* SPDX-License-Identifier: GPL-2.0 */\nint x;"),
	CASE("/*SPDX*/", "/*SPDX*/"),
	CASE("/* SPDX **/", "/* SPDX **/"),
	CASE("/* spdx */", ""),
	CASE("/* SPD X */", ""),
	CASE("/* SPD*/X", "X"),
	CASE("/* SP*/DX", "DX"),
	CASE("/* SPDX */ x /* y */", "/* SPDX */ x "),
	CASE("// SPDX-License-Identifier: GPL-2.0\n/* x */\n",
	     "// SPDX-License-Identifier: GPL-2.0\n\n"),
	/* SPDX in a later comment protects only that one. */
	CASE("/* a */ /* SPDX-x */ /* b */", " /* SPDX-x */ "),
	/* SPDX after the close does not protect the comment. */
	CASE("/* a */ SPDX /* b */", " SPDX "),
	CASE("/* a */SPDX*/", "SPDX*/"),
	/* Unterminated comment holding SPDX: nothing to do. */
	CASE("/* x SPDX", "/* x SPDX"),
	/* A protected comment is skipped one byte at a time, so a second
	 * opener inside it starts a comment of its own; if that one has no
	 * SPDX before its close it goes, cutting into the protected one. */
	CASE("/* SPDX /* inner */ x", "/* SPDX  x"),
	CASE("/*SPDX/* */", "/*SPDX"),
	CASE("/*/* SPDX */", "/*/* SPDX */"),
	/* An SPDX inside an inner comment protects the outer opener too. */
	CASE("/* a /* SPDX */ b */", "/* a /* SPDX */ b */"),
	/* Line endings are plain bytes. */
	CASE("a\r\n/* b\r\n c */\r\nd", "a\r\n\r\nd"),
	CASE("a\r/*\r*/\rb", "a\r\rb"),
	CASE("/* SPDX\r\n */\r\n", "/* SPDX\r\n */\r\n"),
	/* NUL and high bytes are plain bytes too. */
	CASE("a\0/*\0*/b", "a\0b"),
	CASE("\0/*\0SPDX\0*/\0", "\0/*\0SPDX\0*/\0"),
	CASE("\xff/*\xfe*/\x80", "\xff\x80"),
	CASE("/\0*x*/", "/\0*x*/"),
};

static void test_strip_cases(void)
{
	for (size_t i = 0; i < sizeof(strip_cases) / sizeof(*strip_cases); i++) {
		const struct strip_case *c = &strip_cases[i];
		char *buf = malloc(c->inlen + 1);
		size_t n;

		if (!buf) {
			KH_CHECK(!"out of memory");
			return;
		}
		memcpy(buf, c->in, c->inlen);
		n = kh_strip(buf, c->inlen);
		if (n == c->wantlen && !memcmp(buf, c->want, n)) {
			kh_test_pass++;
		} else {
			kh_test_fail++;
			fprintf(stderr, "%s:%d: kh_strip gave %zu bytes \"%.*s\","
				" want %zu bytes \"%.*s\"\n", __FILE__, c->line,
				n, (int)n, buf, c->wantlen, (int)c->wantlen,
				c->want);
		}
		free(buf);
	}
}

/* Stripping must never look past len: the bytes after len here would
 * change the answer if they were read. */
static void test_strip_bounds(void)
{
	char open_[] = "a/* x *//* y */";
	char exact[] = "/* x */SPDX";
	char none[] = "/**/";

	/* Only "a", an opener and " x *" are in range: unterminated. */
	KH_CHECK(kh_strip(open_, 7) == 7);
	KH_CHECK(!memcmp(open_, "a/* x *", 7));
	/* A close ending exactly at len. */
	KH_CHECK(kh_strip(exact, 7) == 0);
	/* len 0 on a non-empty buffer. */
	KH_CHECK(kh_strip(none, 0) == 0);
	KH_CHECK(!memcmp(none, "/**/", 4));
}

/* A header shaped like the kernel's: license line kept, the rest of
 * the comments gone, and a second pass changes nothing. */
static void test_strip_header(void)
{
	static const char in[] =
		"/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */\n"
		"/*\n"
		" * include/linux/x.h\n"
		" *\n"
		" * Copyright (C) 2019\n"
		" */\n"
		"#ifndef _X_H\n"
		"#define _X_H\n"
		"\n"
		"struct x {\n"
		"\tint a;\t/* the a */\n"
		"\tint b; /**< the b */\n"
		"};\n"
		"#endif /* _X_H */\n";
	static const char want[] =
		"/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */\n"
		"\n"
		"#ifndef _X_H\n"
		"#define _X_H\n"
		"\n"
		"struct x {\n"
		"\tint a;\t\n"
		"\tint b; \n"
		"};\n"
		"#endif \n";
	char buf[sizeof(in)];
	size_t n;

	memcpy(buf, in, sizeof(in));
	n = kh_strip(buf, sizeof(in) - 1);
	KH_CHECK(n == sizeof(want) - 1);
	KH_CHECK(n == sizeof(want) - 1 && !memcmp(buf, want, n));
	KH_CHECK(kh_strip(buf, n) == n);
	KH_CHECK(!memcmp(buf, want, n));
}

KH_TEST_MAIN(test_strip_cases, test_strip_bounds, test_strip_header)
