#!/usr/bin/env bash
# t-time-gnu: kh_time_parse reads every timestamp GNU date prints the way
# `date -d STRING +%s` reads it.
#
# A fixed-seed generator picks epochs across 1970..2242 (the range a tar
# header holds) plus edge values just inside and outside it. GNU date
# prints each in every format Kbuild users pass (date, date -u, date -R,
# date -I*, --rfc-3339=*, @SECONDS, a few strftime layouts) under TZ
# settings whose abbreviations GNU's parser knows with the right offset
# (UTC, CET/CEST, EST/EDT, IST, GMT/BST, PST/PDT, JST) or that print
# numeric zones (+0545, -03); every string is also tried in lower case.
# To those are added calendar edges of every year 1969..2243 (Feb 29/30,
# Apr 31, month 13, 24:00, :60, +14:00 zones).
#
# For each string $KH_TIME must print the seconds that
# `TZ=UTC date -d STRING +%s` prints (TZ=UTC because kheaders reads a
# zone-less string as UTC), an error where date's value is outside
# 0..077777777777, and an error where date rejects the string. Strings
# holding a full time and zone must also give back the epoch they were
# printed from, which checks the oracle itself.
# Needs KH_TIME and GNU date; exit 0 pass, 1 fail, 77 skip.
set -u
: "${KH_TIME:?KH_TIME must name the kh-time helper}"
export LC_ALL=C

[ -x "$KH_TIME" ] || { echo "FAIL: $KH_TIME is not executable (make unit)"; exit 1; }
date --version 2>/dev/null | grep -q 'GNU coreutils' ||
	{ echo "skip: GNU date is needed as the oracle" >&2; exit 77; }

tmp=${TEST_TMP:-}
if [ -z "$tmp" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-time-gnu.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
fi

MAX=8589934591   # 077777777777, KH_TIME_MAX
SENTINEL=-999999999999

# Epochs: edge values, then 300 from MINSTD with a fixed seed (exact
# integer arithmetic in any perl, no dependence on perl's rand), two
# draws combined to cover 0..MAX.
perl -e '
	my $max = $ARGV[0];
	my @e = (-86400, -1, 0, 1, 59, 86399, 86400, 951782400, 951868799,
		 951868800, 946684799, 946684800, 1709164800, 1709251199,
		 2147483647, 2147483648, 4107542399, 4107542400, $max - 86400,
		 $max, $max + 1, $max + 86400);
	my $x = 20250611;
	sub rnd { $x = ($x * 48271) % 2147483647; return $x; }
	for (1 .. 300) {
		my $hi = rnd() % 4;
		push @e, ($hi * 2147483648 + rnd()) % ($max + 1);
	}
	print "\@$_\n" for @e;
' "$MAX" >"$tmp/epochs" || exit 1

# TZ settings: every abbreviation they print in 1970..2242 is in GNU's
# (and our) table with the offset it has there, or is numeric. (Not
# Europe/Moscow: its "MSK" meant +04 in 2011..2014, GNU reads +03.)
zones="UTC Europe/Berlin America/New_York Asia/Kolkata Europe/London
America/Los_Angeles Asia/Tokyo Asia/Kathmandu America/Sao_Paulo"

# Formats: NAME ROUNDTRIP DATE-ARGS. ROUNDTRIP=1 when the string holds
# the full time and its zone, so reading it back must give the epoch.
formats='default   1
u         1 -u
R         1 -R
Idate     0 -I
Ihours    0 -Ihours
Iminutes  0 -Iminutes
Iseconds  1 -Iseconds
Ins       1 -Ins
rfcdate   0 --rfc-3339=date
rfcsec    1 --rfc-3339=seconds
rfcns     1 --rfc-3339=ns
isoz      1 +%Y-%m-%dT%H:%M:%S%z
isonozone 0 +%Y-%m-%d %H:%M:%S
dmy       1 +%d %b %Y %H:%M:%S %Z
mdy       1 +%a %b %d %H:%M:%S %z %Y
at        1 +@%s
atfrac    1 +@%s.%N'

have_zones=
for tz in $zones; do
	if [ "$tz" != UTC ] && [ ! -e "/usr/share/zoneinfo/$tz" ]; then
		echo "note: no zoneinfo for $tz, left out"
		continue
	fi
	have_zones="$have_zones $tz"
done

: >"$tmp/cases"   # epoch TAB roundtrip TAB tz/format TAB string
while read -r name rt args; do
	for tz in $have_zones; do
		# shellcheck disable=SC2086  # args split on purpose
		if [ "${args#+}" != "$args" ]; then
			TZ=$tz date -f "$tmp/epochs" "$args" >"$tmp/out" || exit 1
		else
			TZ=$tz date -f "$tmp/epochs" $args >"$tmp/out" || exit 1
		fi
		paste "$tmp/epochs" "$tmp/out" | awk -F '\t' -v rt="$rt" \
			-v tag="$tz/$name" 'BEGIN { OFS = "\t" }
			{ print substr($1, 2), rt, tag, $2
			  print substr($1, 2), rt, tag "/lc", tolower($2) }' \
			>>"$tmp/cases"
	done
done <<EOF
$formats
EOF

# Calendar edges for every year in range: the last days of months, leap
# days (valid or not), days and months that do not exist, and times at
# and past the end of the day. GNU date decides which are valid.
perl -e '
	for my $y (1969 .. 2243) {
		for my $md ("01-01", "01-31", "01-32", "01-00", "00-10", "13-01",
			    "02-28", "02-29", "02-30", "03-01", "04-30", "04-31",
			    "06-31", "09-31", "11-31", "12-31") {
			print "-\t0\tcalendar\t$y-$md\n";
		}
		print "-\t0\tcalendar\t$y-12-31 23:59:59 +0000\n";
		print "-\t0\tcalendar\t$y-12-31T23:59:59-14:00\n";
		print "-\t0\tcalendar\t$y-01-01 00:00:00 +1400\n";
		print "-\t0\tcalendar\t$y-06-15 24:00:00\n";
		print "-\t0\tcalendar\t$y-06-15 23:60:00\n";
		print "-\t0\tcalendar\t$y-06-15 23:59:60\n";
		print "-\t0\tcalendar\tFeb 29 $y 12:00 UTC\n";
	}' >>"$tmp/cases"

# A sentinel after each string tells which strings date rejected (it
# prints nothing on stdout for those).
cut -f 4 "$tmp/cases" |
	awk -v s="@$SENTINEL" '{ print; print s }' >"$tmp/date-in"
TZ=UTC date -f "$tmp/date-in" +%s >"$tmp/date-out" 2>/dev/null
awk -v s="$SENTINEL" '
	$0 == s { print (have ? v : "invalid"); have = 0; next }
	{ v = $0; have = 1 }' "$tmp/date-out" >"$tmp/want"

cut -f 4 "$tmp/cases" | xargs -d '\n' "$KH_TIME" >"$tmp/got"
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 123 ] ||
	{ echo "FAIL: $KH_TIME failed to run (xargs exit $rc)"; exit 1; }

n=$(wc -l <"$tmp/cases")
[ "$(wc -l <"$tmp/want")" -eq "$n" ] && [ "$(wc -l <"$tmp/got")" -eq "$n" ] ||
	{ echo "FAIL: lost alignment: $n cases, $(wc -l <"$tmp/want") date" \
	       "answers, $(wc -l <"$tmp/got") kh-time answers"; exit 1; }

# Report at most 3 mismatches per format (whatever the TZ or case), and
# a count for each.
paste "$tmp/cases" "$tmp/want" "$tmp/got" | awk -F '\t' -v max="$MAX" '
	function bad(why,   f) {
		nbad++
		f = $3; sub(/\/lc$/, "", f); sub(/^.*\//, "", f)
		if (++per[f] <= 3)
			printf "MISMATCH %s: \"%s\" (from @%s): %s; date: %s; kh-time: %s\n",
				$3, $4, $1, why, $5, $6
	}
	{
		n++
		kerr = ($6 ~ /^error: /)
		if ($5 == "invalid") {
			if (!kerr) bad("GNU date rejects it, kh-time accepts it")
			else nerr++
		} else if ($5 + 0 < 0 || $5 + 0 > max) {
			if (!kerr) bad("outside 0.." max " but kh-time accepts it")
			else nerr++
		} else if (kerr || $6 != $5) {
			bad("different seconds")
		} else if ($2 == 1 && $5 != $1) {
			bad("the oracle does not give back the epoch")
		} else {
			nok++
		}
	}
	END {
		for (t in per)
			printf "%6d mismatches in format %s\n", per[t], t | "sort -k5"
		close("sort -k5")
		printf "%d strings: %d same seconds, %d rejected by both, %d mismatches\n",
			n, nok, nerr, nbad
		if (!nbad && n)
			printf "ok   GNU date and kh-time agree on %d strings\n", n
		exit nbad ? 1 : 0
	}'
