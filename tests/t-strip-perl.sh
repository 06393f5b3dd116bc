#!/usr/bin/env bash
# t-strip-perl: $KH_STRIP (kh_strip) writes the same bytes as upstream's
#     perl -pi -e 'BEGIN {undef $/;}; s/\/\*((?!SPDX).)*?\*\///smg;'
# run as gen_kheaders.sh runs it (perl -pi over whole files, in place):
#  (a) on every regular *.h file under golden/;
#  (b) on 1000 inputs from a fixed-seed generator, 0..300 bytes drawn
#      from slashes, stars, S/P/D/X, "SPDX", openers, closers, quotes,
#      LF, CR, NUL and high bytes;
#  (c) on ~1 MB inputs (realistic, all openers, all protected, one huge
#      comment, all empty comments), each under a time limit, plus one
#      input on which perl itself is quadratic (many protected openers
#      sharing one far close): its answer is known (nothing to strip),
#      it is checked against perl at a size perl can do, and at 1 MB
#      kh-strip must still finish at once.
# On a mismatch prints the input and both outputs in hex. perl is used
# here only as the oracle. Needs TOP and KH_STRIP; exit 0 pass, 1 fail.
set -u
: "${TOP:?TOP must name the repository}" "${KH_STRIP:?KH_STRIP must name the kh-strip helper}"
export LC_ALL=C

[ -x "$KH_STRIP" ] || { echo "FAIL: $KH_STRIP is not executable (make unit)"; exit 1; }
command -v perl >/dev/null || { echo "skip: perl is the oracle and is missing" >&2; exit 77; }

tmp=${TEST_TMP:-}
if [ -z "$tmp" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/t-strip-perl.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
fi

EXPR='BEGIN {undef $/;}; s/\/\*((?!SPDX).)*?\*\///smg;'
LIMIT=20   # seconds for one kh-strip run on ~1 MB; linear takes ~0.01
fails=0 checked=0

hex() {
	if [ -s "$1" ]; then od -An -tx1 -v "$1" | tr -s ' \n' ' '; else printf '(empty)'; fi
}

# compare NAME INPUT WANT [timed]: run kh-strip on INPUT (under the time
# limit if asked), compare with WANT.
compare() {
	local name=$1 in=$2 want=$3 got=$tmp/got limit=
	[ "${4:-}" = timed ] && limit="timeout $LIMIT"
	checked=$((checked + 1))
	if ! $limit "$KH_STRIP" <"$in" >"$got"; then
		fails=$((fails + 1))
		echo "FAIL $name: kh-strip failed or took over ${LIMIT}s"
		return
	fi
	cmp -s "$got" "$want" && return
	fails=$((fails + 1))
	[ "$fails" -gt 5 ] && return
	echo "MISMATCH $name ($(wc -c <"$in") bytes in)"
	if [ "$(wc -c <"$in")" -le 4096 ]; then
		echo "  input:    $(hex "$in")"
		echo "  perl:     $(hex "$want")"
		echo "  kh-strip: $(hex "$got")"
	else
		echo "  perl gives $(wc -c <"$want") bytes, kh-strip $(wc -c <"$got");" \
		     "first difference: $(cmp "$got" "$want" 2>&1 | head -n 1)"
	fi
}

# oracle DIR: strip every file in DIR in place, as upstream does.
oracle() {
	find "$1" -type f -print0 | xargs -0 -r -n 64 perl -pi -e "$EXPR" ||
		{ echo "FAIL: the perl oracle failed on $1"; exit 1; }
}

# (a) The golden trees.
mkdir -p "$tmp/a/in" "$tmp/a/want"
n=0
while IFS= read -r -d '' f; do
	n=$((n + 1))
	cp "$f" "$tmp/a/in/$n"
	printf '%s\n' "${f#"$TOP"/}" >"$tmp/a/in/$n.name"
done < <(find "$TOP/golden" -type f -name '*.h' -print0 | sort -z)
[ "$n" -gt 0 ] || { echo "FAIL: no *.h under golden/"; exit 1; }
for i in $(seq 1 "$n"); do cp "$tmp/a/in/$i" "$tmp/a/want/$i"; done
oracle "$tmp/a/want"
for i in $(seq 1 "$n"); do
	compare "$(cat "$tmp/a/in/$i.name")" "$tmp/a/in/$i" "$tmp/a/want/$i"
done
echo "(a) $n golden headers"

# (b) Generated inputs. MINSTD (products below 2^47, exact in any
# perl), not perl's rand, so the inputs are the same everywhere.
mkdir -p "$tmp/b/in" "$tmp/b/want"
perl -e '
	use strict; use warnings;
	my ($dir, $count) = @ARGV;
	my $x = 20250611;   # fixed seed
	sub rnd { my $n = shift;
		$x = ($x * 48271) % 2147483647;
		return $x % $n; }
	# Weighted: comment syntax and SPDX pieces dominate.
	my @tok = ("/", "/", "/", "*", "*", "*", "S", "P", "D", "X",
		   "SPDX", "SPDX", "SPD", "PDX", "/*", "/*", "/*", "*/", "*/",
		   "*/", "/**/", "/*/", "*/*", "\"", "\"/*\"", "\n", "\n",
		   "\r", "\r\n", "\0", "HIGH", "a", " ", "\t");
	for my $i (1 .. $count) {
		my $len = rnd(301);
		my $s = "";
		while (length($s) < $len) {
			my $t = $tok[rnd(scalar @tok)];
			$t = chr(0x80 + rnd(128)) if $t eq "HIGH";
			$s .= $t;
		}
		$s = substr($s, 0, $len);
		open(my $fh, ">:raw", "$dir/$i") or die "$dir/$i: $!\n";
		print $fh $s;
		close($fh) or die "$dir/$i: $!\n";
	}
' "$tmp/b/in" 1000 || { echo "FAIL: generator"; exit 1; }
cp "$tmp/b/in/"* "$tmp/b/want/"
oracle "$tmp/b/want"
for i in $(seq 1 1000); do
	compare "generated #$i" "$tmp/b/in/$i" "$tmp/b/want/$i"
done
changed=$(perl -e '
	my ($dir, $n) = (shift, 0);
	local $/;
	for my $i (1 .. 1000) {
		open(my $a, "<:raw", "$dir/in/$i") or die; my $x = <$a>;
		open(my $b, "<:raw", "$dir/want/$i") or die; my $y = <$b>;
		$n++ if $x ne $y;
	}
	print "$n\n";' "$tmp/b")
echo "(b) 1000 generated inputs, $changed of them changed by perl"
# A generator that made nothing to strip would prove little.
[ "$changed" -ge 300 ] ||
	{ echo "FAIL: only $changed generated inputs had comments to strip"; fails=$((fails + 1)); }

# (c) Large inputs.
mkdir -p "$tmp/c/in" "$tmp/c/want"
perl -e '
	my $dir = shift;
	my $mb = 1 << 20;
	sub out { my ($name, $s) = @_;
		open(my $fh, ">:raw", "$dir/$name") or die "$dir/$name: $!\n";
		print $fh $s; close($fh) or die "$dir/$name: $!\n"; }
	my $s = "";
	for (my $i = 0; length($s) < $mb; $i++) {
		$s .= "/* SPDX-License-Identifier: GPL-2.0 */\n" if $i % 50 == 0;
		$s .= "struct s$i {\n\tint a; /* the a */\n\tchar *p = \"/*\";\r\n};\n";
		$s .= "/*\n * block $i\n */\n" if $i % 3 == 0;
	}
	out("realistic", $s);
	out("openers-no-close", "/* " x 350000);
	out("protected-then-close", ("/* SPDX " x 130000) . "*/");
	out("one-huge-comment", "/*" . ("x\n" x 500000) . "*/tail");
	out("one-huge-protected", "/*" . ("x" x 1000000) . "SPDX */");
	out("empty-comments", "/**/" x 262144);
	out("quadratic-for-perl-small", ("/* " x 3000) . "SPDX */");
' "$tmp/c/in" || { echo "FAIL: large generator"; exit 1; }
cp "$tmp/c/in/"* "$tmp/c/want/"
oracle "$tmp/c/want"
for f in "$tmp/c/in/"*; do
	compare "large $(basename "$f")" "$f" "$tmp/c/want/$(basename "$f")" timed
done
# Perl needs minutes here (every opener scans to the far SPDX); the
# answer is the input, as perl confirms on the small version.
cmp -s "$tmp/c/in/quadratic-for-perl-small" "$tmp/c/want/quadratic-for-perl-small" ||
	{ echo "FAIL: perl strips quadratic-for-perl-small; the known answer is wrong"
	  fails=$((fails + 1)); }
perl -e 'print "/* " x 350000, "SPDX */"' >"$tmp/c/quadratic-for-perl"
compare "large quadratic-for-perl (1 MB, known answer)" \
	"$tmp/c/quadratic-for-perl" "$tmp/c/quadratic-for-perl" timed
large=("$tmp/c/in/"*)
echo "(c) $(( ${#large[@]} + 1 )) inputs of up to 1 MB"

echo "$checked inputs compared, $fails failed"
[ "$checked" -gt 0 ] && [ "$fails" -eq 0 ] && echo "ok   the stripper agrees with perl on $checked inputs"
[ "$fails" -eq 0 ]
