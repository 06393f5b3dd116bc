/* kh_time: parse the timestamps Kbuild and reproducible builds pass.
 *
 * Accepted (case-insensitive names, commas ignored):
 *   @SECONDS[.FRACTION]                 SOURCE_DATE_EPOCH style
 *   Sat Nov 21 23:25:41 UTC 2026        date, date -u
 *   Sat, 21 Nov 2026 23:25:41 +0000     date -R
 *   2026-11-21, 2026-11-21T23:25:41+01:00, 2026-11-21 23:25:41,5 +0000
 *                                       date -I..., date --rfc-3339
 * Zones: numeric (+HH, +HHMM, +HH:MM), Z, and the abbreviations GNU
 * date understands (UTC, GMT, CET, EST, ...). A string without a zone
 * is read as UTC, never in the local zone, so the same string gives
 * the same archive on every machine. The weekday, when given, is
 * checked for being a weekday name and otherwise ignored (as GNU's
 * parser does once a full date is present).
 */
#ifndef KH_TIME_H
#define KH_TIME_H

#include <stdint.h>
#include <time.h>

#include "lib/kh_error.h"

/* Largest mtime a GNU tar header stores in octal (11 digits). */
#define KH_TIME_MAX INT64_C(077777777777)

/* Parse s into seconds since the epoch; what names the source
 * ("--mtime", "KBUILD_BUILD_TIMESTAMP") for the error message. */
int kh_time_parse(const char *s, const char *what, int64_t *out,
		  struct kh_error *err);

/* Parse a SOURCE_DATE_EPOCH value: decimal seconds only. */
int kh_time_parse_epoch(const char *s, const char *what, int64_t *out,
			struct kh_error *err);

/* Format t as "YYYY-MM-DD HH:MM:SS UTC" into buf (at least 32 bytes). */
void kh_time_format(int64_t t, char *buf, unsigned long size);

/* A struct timespec (st_mtim, st_ctim, a clock) in nanoseconds: how the
 * state records and compares times. */
static inline int64_t kh_time_ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
