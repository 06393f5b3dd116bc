/* kh_time: timestamp parsing (see kh_time.h).
 *
 * A small token parser in the spirit of GNU parse_datetime, limited to
 * the forms date(1) prints. We do the calendar arithmetic ourselves
 * (days_from_civil) instead of calling mktime(), which would consult
 * the TZ variable and the host's zone files.
 */
#include "lib/kh_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct kh_time_fields {
	int have_date, have_time, have_zone, have_wday;
	int64_t year;
	int month, day, hour, min, sec;
	int zone;   /* offset east of UTC, in seconds */
};

static const char *const kh_time_months[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};

static const char *const kh_time_wdays[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

/* The zone abbreviations of GNU parse_datetime (hours east of UTC,
 * in minutes). */
static const struct { const char *name; int minutes; } kh_time_zones[] = {
	{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
	{ "wet", 0 }, { "west", 60 }, { "bst", 60 },
	{ "art", -180 }, { "brt", -180 }, { "brst", -120 },
	{ "nst", -210 }, { "ndt", -150 }, { "ast", -240 }, { "adt", -180 },
	{ "est", -300 }, { "edt", -240 }, { "cst", -360 }, { "cdt", -300 },
	{ "mst", -420 }, { "mdt", -360 }, { "pst", -480 }, { "pdt", -420 },
	{ "akst", -540 }, { "akdt", -480 }, { "hst", -600 }, { "hast", -600 },
	{ "hadt", -540 }, { "sst", -720 }, { "wat", 60 }, { "cet", 60 },
	{ "cest", 120 }, { "met", 60 }, { "mez", 60 }, { "mest", 120 },
	{ "mesz", 120 }, { "eet", 120 }, { "eest", 180 }, { "cat", 120 },
	{ "sast", 120 }, { "eat", 180 }, { "msk", 180 }, { "msd", 240 },
	{ "ist", 330 }, { "sgt", 480 }, { "kst", 540 }, { "jst", 540 },
	{ "gst", 600 }, { "nzst", 720 }, { "nzdt", 780 },
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t kh_time_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int kh_time_mdays(int64_t y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* Read exactly n digits (n > 0) or, with n == 0, one or more. */
static int kh_time_digits(const char **sp, int n, int64_t *out)
{
	const char *s = *sp;
	int64_t v = 0;
	int i = 0;

	while (isdigit((unsigned char)s[i]) && (n == 0 || i < n)) {
		if (v > INT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0 || (n && i != n))
		return -1;
	*sp = s + i;
	*out = v;
	return 0;
}

static int kh_time_bad(struct kh_error *err, const char *what,
		       const char *s, const char *why)
{
	return kh_error_set(err, KH_EINVAL, what,
			    "cannot parse timestamp '%s': %s", s, why);
}

/* +HH, +HHMM or +HH:MM; *sp points at the sign. */
static int kh_time_offset(const char **sp, int *zone)
{
	const char *s = *sp;
	int sign = *s == '-' ? -1 : 1;
	int64_t hh, mm = 0;

	s++;
	if (kh_time_digits(&s, 2, &hh) < 0)
		return -1;
	if (*s == ':') {
		s++;
		if (kh_time_digits(&s, 2, &mm) < 0)
			return -1;
	} else if (isdigit((unsigned char)*s)) {
		if (kh_time_digits(&s, 2, &mm) < 0)
			return -1;
	}
	if (isdigit((unsigned char)*s) || hh > 24 || mm > 59)
		return -1;
	*zone = sign * (int)(hh * 3600 + mm * 60);
	*sp = s;
	return 0;
}

/* HH:MM[:SS[(.|,)FRACTION]]; the fraction is dropped (tar stores
 * whole seconds). */
static int kh_time_clock(const char **sp, struct kh_time_fields *f)
{
	const char *s = *sp;
	int64_t hh, mm, ss = 0, frac;

	if (kh_time_digits(&s, 0, &hh) < 0 || *s++ != ':' ||
	    kh_time_digits(&s, 2, &mm) < 0)
		return -1;
	if (*s == ':') {
		s++;
		if (kh_time_digits(&s, 2, &ss) < 0)
			return -1;
		if ((*s == '.' || *s == ',') &&
		    isdigit((unsigned char)s[1])) {
			s++;
			if (kh_time_digits(&s, 0, &frac) < 0)
				return -1;
		}
	}
	if (hh > 23 || mm > 59 || ss > 59)
		return -1;
	f->hour = (int)hh;
	f->min = (int)mm;
	f->sec = (int)ss;
	f->have_time = 1;
	*sp = s;
	return 0;
}

/* A word: month, weekday, or zone name. */
static const char *kh_time_word(const char *w, size_t n,
				struct kh_time_fields *f, int *month_seen)
{
	for (size_t i = 0; i < 12; i++) {
		if (n == 3 && !strncasecmp(w, kh_time_months[i], 3)) {
			if (*month_seen)
				return "month given twice";
			f->month = (int)i + 1;
			*month_seen = 1;
			return NULL;
		}
	}
	for (size_t i = 0; i < 7; i++) {
		if (n == 3 && !strncasecmp(w, kh_time_wdays[i], 3)) {
			if (f->have_wday)
				return "weekday given twice";
			f->have_wday = 1;
			return NULL;
		}
	}
	for (size_t i = 0; i < sizeof(kh_time_zones) / sizeof(kh_time_zones[0]);
	     i++) {
		if (strlen(kh_time_zones[i].name) == n &&
		    !strncasecmp(w, kh_time_zones[i].name, n)) {
			if (f->have_zone)
				return "time zone given twice";
			f->zone = kh_time_zones[i].minutes * 60;
			f->have_zone = 1;
			return NULL;
		}
	}
	return "unknown word";
}

/* One token starting with a digit: ISO date, clock, or lone number. */
static const char *kh_time_number(const char **sp, struct kh_time_fields *f,
				  int64_t *nums, int *nnums, int *numlen)
{
	const char *s = *sp, *t = s;
	int64_t v, mo, d;

	while (isdigit((unsigned char)*t))
		t++;
	if (*t == ':') {
		if (f->have_time)
			return "time given twice";
		if (kh_time_clock(&s, f) < 0)
			return "bad time of day";
	} else if (*t == '-' && isdigit((unsigned char)t[1])) {
		if (f->have_date)
			return "date given twice";
		if (kh_time_digits(&s, 0, &v) < 0 || *s++ != '-' ||
		    kh_time_digits(&s, 2, &mo) < 0 || *s++ != '-' ||
		    kh_time_digits(&s, 2, &d) < 0)
			return "bad ISO 8601 date";
		if (isdigit((unsigned char)*s))
			return "bad ISO 8601 date";
		f->year = v;
		f->month = (int)mo;
		f->day = (int)d;
		f->have_date = 1;
		if ((*s == 'T' || *s == 't') && isdigit((unsigned char)s[1])) {
			int64_t hh;

			s++;
			/* date -Ihours prints the hour alone: 2026-11-21T23+00:00 */
			if (isdigit((unsigned char)s[1]) && s[2] != ':') {
				if (kh_time_digits(&s, 2, &hh) < 0 || hh > 23)
					return "bad time of day";
				f->hour = (int)hh;
				f->have_time = 1;
			} else if (kh_time_clock(&s, f) < 0) {
				return "bad time of day";
			}
		}
	} else {
		if (*nnums == 2)
			return "too many numbers";
		numlen[*nnums] = (int)(t - s);
		if (kh_time_digits(&s, 0, &nums[*nnums]) < 0)
			return "number too large";
		(*nnums)++;
	}
	if (f->have_time && (*s == '+' || *s == '-' || *s == 'Z' ||
			     *s == 'z')) {
		if (f->have_zone)
			return "time zone given twice";
		if (*s == 'Z' || *s == 'z')
			s++, f->zone = 0;
		else if (kh_time_offset(&s, &f->zone) < 0)
			return "bad time zone offset";
		f->have_zone = 1;
	}
	*sp = s;
	return NULL;
}

/* "Nov 21 ... 2026" or "21 Nov 2026": a month name plus day and year. */
static const char *kh_time_month_date(struct kh_time_fields *f, int64_t *nums,
				      int nnums, const int *numlen)
{
	int64_t day = -1, year = -1;

	for (int i = 0; i < nnums; i++) {
		if (numlen[i] <= 2 && day < 0)
			day = nums[i];
		else if (numlen[i] == 4 && year < 0)
			year = nums[i];
		else
			return "cannot tell day from year";
	}
	if (day < 0 || year < 0)
		return "a month name needs a day and a year";
	f->year = year;
	f->day = (int)day;
	f->have_date = 1;
	return NULL;
}

static const char *kh_time_fields_parse(const char *s,
					struct kh_time_fields *f)
{
	int64_t nums[2];
	int numlen[2], nnums = 0, month_seen = 0;
	const char *why;

	while (*s) {
		const char *w = s;

		if (isspace((unsigned char)*s) || *s == ',') {
			s++;
		} else if (isdigit((unsigned char)*s)) {
			why = kh_time_number(&s, f, nums, &nnums, numlen);
			if (why)
				return why;
		} else if ((*s == '+' || *s == '-') &&
			   isdigit((unsigned char)s[1])) {
			if (f->have_zone)
				return "time zone given twice";
			if (kh_time_offset(&s, &f->zone) < 0)
				return "bad time zone offset";
			f->have_zone = 1;
		} else if (isalpha((unsigned char)*s)) {
			while (isalpha((unsigned char)*s))
				s++;
			why = kh_time_word(w, (size_t)(s - w), f, &month_seen);
			if (why)
				return why;
		} else {
			return "unexpected character";
		}
	}
	if (month_seen) {
		if (f->have_date)
			return "date given twice";
		why = kh_time_month_date(f, nums, nnums, numlen);
		if (why)
			return why;
	} else if (nnums) {
		return "stray number";
	}
	if (!f->have_date)
		return "no date";
	if (f->month < 1 || f->month > 12 || f->day < 1 ||
	    f->day > kh_time_mdays(f->year, f->month))
		return "no such date";
	return NULL;
}

static int kh_time_range(int64_t t, const char *what, const char *s,
			 struct kh_error *err)
{
	if (t < 0 || t > KH_TIME_MAX)
		return kh_time_bad(err, what, s,
				   "outside 1970..2242, which tar headers hold");
	return 0;
}

static int kh_time_at(const char *s, const char *what, int64_t *out,
		      struct kh_error *err)
{
	const char *p = s + 1;
	int neg = 0;
	int64_t v, frac = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (kh_time_digits(&p, 0, &v) < 0)
		return kh_time_bad(err, what, s, "expected @SECONDS");
	if ((*p == '.' || *p == ',') && isdigit((unsigned char)p[1])) {
		p++;
		while (*p == '0')
			p++;
		frac = isdigit((unsigned char)*p);
		while (isdigit((unsigned char)*p))
			p++;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return kh_time_bad(err, what, s, "trailing characters");
	/* Whole seconds, rounded down as GNU tar does. */
	v = neg ? -v - (frac ? 1 : 0) : v;
	if (kh_time_range(v, what, s, err) < 0)
		return KH_EINVAL;
	*out = v;
	return 0;
}

int kh_time_parse(const char *s, const char *what, int64_t *out,
		  struct kh_error *err)
{
	struct kh_time_fields f = { 0 };
	const char *why;
	int64_t t;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '@')
		return kh_time_at(s, what, out, err);
	why = kh_time_fields_parse(s, &f);
	if (why)
		return kh_time_bad(err, what, s, why);
	if (f.year > 9999)
		return kh_time_bad(err, what, s, "year too large");
	t = kh_time_days(f.year, f.month, f.day) * 86400 +
	    f.hour * 3600 + f.min * 60 + f.sec - f.zone;
	if (kh_time_range(t, what, s, err) < 0)
		return KH_EINVAL;
	*out = t;
	return 0;
}

int kh_time_parse_epoch(const char *s, const char *what, int64_t *out,
			struct kh_error *err)
{
	const char *p = s;
	int64_t v;

	if (kh_time_digits(&p, 0, &v) < 0 || *p)
		return kh_error_set(err, KH_EINVAL, what,
				    "'%s' is not a number of seconds", s);
	if (kh_time_range(v, what, s, err) < 0)
		return KH_EINVAL;
	*out = v;
	return 0;
}

void kh_time_format(int64_t t, char *buf, unsigned long size)
{
	int64_t days = t / 86400, rem = t % 86400;
	/* civil_from_days (H. Hinnant), inverse of kh_time_days. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);

	snprintf(buf, size, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld UTC",
		 (long long)y, (long long)m, (long long)d,
		 (long long)(rem / 3600), (long long)(rem / 60 % 60),
		 (long long)(rem % 60));
}
