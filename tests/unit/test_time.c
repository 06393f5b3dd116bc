/* test_time: kh_time reads every timestamp form Kbuild users pass (the
 * outputs of date, date -u, date -R, date -I*, date --rfc-3339=*, and
 * @SECONDS) to the seconds GNU date gives, whatever TZ says; rejects
 * impossible dates, junk and out-of-range values with a message naming
 * the source and the string; reads SOURCE_DATE_EPOCH as plain digits;
 * and formats seconds back as UTC.
 *
 * Every expected value below was computed while writing the test with
 * `TZ=UTC date -d STRING +%s` (GNU coreutils 9.1) and hard-coded; the
 * test never runs date. tests/t-time-gnu.sh does the comparison live,
 * on thousands of strings.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "lib/kh_time.h"
#include "kh_test.h"

struct time_ok {
	const char *s;
	int64_t want;
	int line;
};

#define OK(s, want) { s, INT64_C(want), __LINE__ }

static const struct time_ok time_ok[] = {
	/* @SECONDS, as SOURCE_DATE_EPOCH users write it; a fraction is
	 * dropped (tar stores whole seconds). */
	OK("@0", 0),
	OK("@1795303541", 1795303541),
	OK("@1795303541.999", 1795303541),
	OK("@+5", 5),
	OK("@8589934591", 8589934591),
	/* date and date -u (C locale). */
	OK("Sat Nov 21 23:25:41 UTC 2026", 1795303541),
	/* Single-digit day: date pads it with a space. */
	OK("Thu Feb  1 00:00:00 UTC 2024", 1706745600),
	/* date -R. */
	OK("Sat, 21 Nov 2026 23:25:41 +0000", 1795303541),
	OK("Thu, 1 Feb 2024 00:00:00 -0800", 1706774400),
	OK("Sun, 06 Nov 1994 08:49:37 GMT", 784111777),
	/* date -I, -Iminutes, -Iseconds, -Ins (comma fraction). */
	OK("2026-11-21", 1795219200),
	OK("2026-11-21T23:25+01:00", 1795299900),
	OK("2026-11-21T23:25:41+01:00", 1795299941),
	OK("2026-11-21T23:25:41,123456789+01:00", 1795299941),
	/* date --rfc-3339=seconds and =ns (dot fraction). */
	OK("2026-11-21 23:25:41+01:00", 1795299941),
	OK("2026-11-21 23:25:41.123456789+01:00", 1795299941),
	OK("1999-12-31T23:59:59.999+00:00", 946684799),
	/* Zones: names and numbers. */
	OK("2026-11-21 23:25:41 GMT", 1795303541),
	OK("2026-11-21T23:25:41Z", 1795303541),
	OK("Sat Nov 21 23:25:41 CET 2026", 1795299941),
	OK("Sat Nov 21 23:25:41 EST 2026", 1795321541),
	OK("Sat Nov 21 23:25:41 PST 2026", 1795332341),
	OK("Sat Jul 18 12:00:00 CEST 2026", 1784368800),
	OK("Sat Jul 18 12:00:00 EDT 2026", 1784390400),
	OK("Sat Jul 18 12:00:00 IST 2026", 1784356200),
	OK("Sat Jul 18 12:00:00 BST 2026", 1784372400),
	OK("2026-11-21 23:25:41 +0530", 1795283741),
	OK("2026-11-21T23:25:41+05:45", 1795282841),
	OK("2026-11-21T23:25:41-08:00", 1795332341),
	OK("2026-11-21 EST", 1795237200),
	/* Leap days, century rules. */
	OK("2024-02-29", 1709164800),
	OK("Thu Feb 29 12:34:56 UTC 2024", 1709210096),
	OK("2000-03-01 00:00:00", 951868800),
	OK("2100-02-28 23:59:59 UTC", 4107542399),
	/* The ends of the range a tar header holds. */
	OK("1970-01-01T00:00:00Z", 0),
	OK("1970-01-01 05:30:00 +0530", 0),
	OK("2242-03-16T12:56:31Z", 8589934591),
	/* Names in any case, spaces around. */
	OK("sat nov 21 23:25:41 utc 2026", 1795303541),
	OK("  2026-11-21  ", 1795219200),
	/* A wrong weekday is ignored once the date is complete (GNU too). */
	OK("Mon Nov 21 2026", 1795219200),
};

static void test_time_accepts(void)
{
	for (size_t i = 0; i < sizeof(time_ok) / sizeof(*time_ok); i++) {
		const struct time_ok *c = &time_ok[i];
		struct kh_error err = KH_ERROR_INIT;
		int64_t t = -1;
		int ret = kh_time_parse(c->s, "KBUILD_BUILD_TIMESTAMP", &t, &err);

		if (ret == 0 && t == c->want) {
			kh_test_pass++;
		} else {
			kh_test_fail++;
			fprintf(stderr, "%s:%d: '%s': got %d, %" PRId64 " (%s),"
				" want %" PRId64 "\n", __FILE__, c->line, c->s,
				ret, t, ret ? err.msg : "no error", c->want);
		}
	}
}

/* A zone-less string is UTC whatever TZ says: the archive must not
 * depend on the build host's zone. */
static void test_time_ignores_tz(void)
{
	struct kh_error err = KH_ERROR_INIT;
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	int64_t t = -1;

	setenv("TZ", "America/New_York", 1);
	tzset();
	KH_CHECK(kh_time_parse("2026-11-21 23:25:41", "x", &t, &err) == 0);
	KH_CHECK(t == INT64_C(1795303541));
	setenv("TZ", "Asia/Kolkata", 1);
	tzset();
	KH_CHECK(kh_time_parse("2026-11-21", "x", &t, &err) == 0);
	KH_CHECK(t == INT64_C(1795219200));
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

static const char *const time_bad[] = {
	"garbage",
	"@",
	"@1x",
	"@1.",
	/* Impossible dates and times. */
	"2023-02-29",
	"2100-02-29",
	"2026-04-31",
	"2026-13-01",
	"2026-00-10",
	"2026-11-00",
	"2024-01-01 25:00",
	"2026-11-21 23:60",
	"2026-11-21 23:25:60",
	/* Trailing junk. */
	"2026-11-21T23:25:41Z junk",
	"2026-11-21T23:25:41Zx",
	"2026-11-21 12:00 UTC !",
	"Sat Nov 21 23:25:41 UTC 2026 7",
	/* Two zones, two dates, two times. */
	"2026-11-21 12:00 UTC GMT",
	"2026-11-21T12:00+01:00 UTC",
	"2026-11-21 12:00 +0100 -0200",
	"2026-11-21 Nov 21 2026",
	"2026-11-21 12:00 13:00",
	"Sat Sun Nov 21 2026",
	"Nov Dec 21 2026",
	/* Empty or incomplete dates: GNU fills in from today (""
	 * is today's midnight), which would make builds differ. */
	"",
	"   ",
	"Nov 2026",
	"21 Nov",
	"12:00",
	/* Unknown zone; offsets outside the documented +HH, +HHMM,
	 * +HH:MM (GNU takes "+1" and "+01:60"; date never prints them). */
	"2026-11-21 12:00 XYZ",
	"2026-11-21T12:00+25:00",
	"2026-11-21T12:00+01:60",
	"2026-11-21T12:00+1",
	/* Out of range: before 1970, after what tar's 11 octal digits
	 * hold, years GNU would take but we never should. */
	"1969-12-31T23:59:59Z",
	"1970-01-01 00:00:00 +0001",
	"@-1",
	"@8589934592",
	"2242-03-16T12:56:32Z",
	"9999-12-31",
	"10000-01-01",
	"99999999999999999999-01-01",
	"@99999999999999999999999",
};

static void test_time_rejects(void)
{
	for (size_t i = 0; i < sizeof(time_bad) / sizeof(*time_bad); i++) {
		struct kh_error err = KH_ERROR_INIT;
		int64_t t = -1;
		int ret = kh_time_parse(time_bad[i], "KBUILD_BUILD_TIMESTAMP", &t,
					&err);

		if (ret == KH_EINVAL && err.code == KH_EINVAL && err.msg[0]) {
			kh_test_pass++;
		} else {
			kh_test_fail++;
			fprintf(stderr, "%s:%d: '%s' accepted as %" PRId64
				" (ret %d), want KH_EINVAL\n", __FILE__,
				__LINE__, time_bad[i], t, ret);
		}
	}
}

/* The message names where the string came from and quotes it. */
static void test_time_message(void)
{
	struct kh_error err = KH_ERROR_INIT;
	int64_t t;

	KH_CHECK(kh_time_parse("Sat Nov 31 12:00 UTC 2026",
			       "KBUILD_BUILD_TIMESTAMP", &t, &err) == KH_EINVAL);
	KH_CHECK(!strncmp(err.msg, "KBUILD_BUILD_TIMESTAMP: ", 24));
	KH_CHECK(strstr(err.msg, "'Sat Nov 31 12:00 UTC 2026'") != NULL);

	KH_CHECK(kh_time_parse("@-5", "--mtime", &t, &err) == KH_EINVAL);
	KH_CHECK(!strncmp(err.msg, "--mtime: ", 9));
	KH_CHECK(strstr(err.msg, "'@-5'") != NULL);

	KH_CHECK(kh_time_parse("2300-01-01", "--mtime", &t, &err) == KH_EINVAL);
	KH_CHECK(strstr(err.msg, "'2300-01-01'") != NULL);

	KH_CHECK(kh_time_parse_epoch("12a", "SOURCE_DATE_EPOCH", &t, &err) ==
		 KH_EINVAL);
	KH_CHECK(!strncmp(err.msg, "SOURCE_DATE_EPOCH: ", 19));
	KH_CHECK(strstr(err.msg, "'12a'") != NULL);

	KH_CHECK(kh_time_parse_epoch("8589934592", "SOURCE_DATE_EPOCH", &t,
				     &err) == KH_EINVAL);
	KH_CHECK(!strncmp(err.msg, "SOURCE_DATE_EPOCH: ", 19));
	KH_CHECK(strstr(err.msg, "8589934592") != NULL);
}

/* SOURCE_DATE_EPOCH is decimal digits and nothing else. */
static void test_time_epoch(void)
{
	static const char *const bad[] = {
		"", " ", "12a", "a12", "-1", "+1", " 1", "1 ", "1.5", "@1",
		"0x10", "1e3", "8589934592", "99999999999999999999999",
	};
	struct kh_error err = KH_ERROR_INIT;
	int64_t t = -1;

	KH_CHECK(kh_time_parse_epoch("0", "SOURCE_DATE_EPOCH", &t, &err) == 0 &&
		 t == 0);
	KH_CHECK(kh_time_parse_epoch("1795303541", "SOURCE_DATE_EPOCH", &t,
				     &err) == 0 && t == INT64_C(1795303541));
	KH_CHECK(kh_time_parse_epoch("0001795303541", "SOURCE_DATE_EPOCH", &t,
				     &err) == 0 && t == INT64_C(1795303541));
	KH_CHECK(kh_time_parse_epoch("8589934591", "SOURCE_DATE_EPOCH", &t,
				     &err) == 0 && t == KH_TIME_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int ret = kh_time_parse_epoch(bad[i], "SOURCE_DATE_EPOCH", &t,
					      &err);

		if (ret == KH_EINVAL) {
			kh_test_pass++;
		} else {
			kh_test_fail++;
			fprintf(stderr, "%s:%d: SOURCE_DATE_EPOCH '%s' gave %d,"
				" want KH_EINVAL\n", __FILE__, __LINE__,
				bad[i], ret);
		}
	}
}

static void test_time_format(void)
{
	static const struct { int64_t t; const char *s; } cases[] = {
		{ 0, "1970-01-01 00:00:00 UTC" },
		{ INT64_C(951868799), "2000-02-29 23:59:59 UTC" },
		{ INT64_C(1709210096), "2024-02-29 12:34:56 UTC" },
		{ INT64_C(1795303541), "2026-11-21 23:25:41 UTC" },
		{ KH_TIME_MAX, "2242-03-16 12:56:31 UTC" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		kh_time_format(cases[i].t, buf, sizeof(buf));
		KH_CHECK_STR(buf, cases[i].s);
	}
	/* A short buffer is truncated, still terminated. */
	memset(buf, 'x', sizeof(buf));
	kh_time_format(INT64_C(1795303541), buf, 8);
	KH_CHECK_STR(buf, "2026-11");
}

/* format and parse are inverses over the whole range (one check: a
 * sweep with a step that visits every time of day and month). */
static void test_time_roundtrip(void)
{
	int64_t bad = -1, n = 0;

	for (int64_t t = 0; t <= KH_TIME_MAX && bad < 0;
	     t += INT64_C(86400) * 7 + 3607) {
		struct kh_error err = KH_ERROR_INIT;
		char buf[64];
		int64_t back = -1;

		kh_time_format(t, buf, sizeof(buf));
		if (kh_time_parse(buf, "x", &back, &err) < 0 || back != t)
			bad = t;
		n++;
	}
	if (bad >= 0)
		fprintf(stderr, "%s:%d: round trip fails at %" PRId64 "\n",
			__FILE__, __LINE__, bad);
	KH_CHECK(bad < 0 && n > 10000);
}

KH_TEST_MAIN(test_time_accepts, test_time_ignores_tz, test_time_rejects,
	     test_time_message, test_time_epoch, test_time_format,
	     test_time_roundtrip)
