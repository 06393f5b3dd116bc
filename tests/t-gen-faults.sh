#!/bin/bash
# Faults during gen: SIGINT and SIGKILL in the middle of a run, and two
# runs on the same output at once. Afterwards the previous outputs and
# state are intact (or a rerun repairs them) and no temporary remains.
set -u
T=$TEST_TMP
K=$KHEADERS
fail=0
bad() { echo "FAIL $*"; fail=1; }

# A tree of 100 headers: the interrupted runs stall half-way through it.
mkdir -p "$T/src/arch/x86/include/asm" "$T/out"
python3 - "$T/src/include/big" <<'PY'
import os, random, sys
random.seed(7)
words = ["int", "long", "struct", "#define", "static", "inline", "u32", "u64",
         "return", "foo", "bar", "baz", "/* note */", "(", ")", "{", "}", ";"]
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(100):
    with open(os.path.join(sys.argv[1], f"h{i:03}.h"), "w") as f:
        f.write(" ".join(random.choice(words) + str(random.randrange(10**6))
                         for _ in range(9000)))
PY
echo '#define A 1' > "$T/src/arch/x86/include/asm/a.h"
G=(gen -q --srctree "$T/src" --arch x86 --mtime @1 -o "$T/out/k.tar.xz" --stub "$T/out/k.S")
"$K" "${G[@]}" || bad "first run"
cp "$T/out/k.tar.xz" "$T/good.tar.xz"; cp "$T/out/k.tar.xz.state" "$T/good.state"
echo '#define B 2' > "$T/src/arch/x86/include/asm/b.h"   # so the next runs rebuild
# The outputs, the state and a block cache of whole entries; nothing else.
. "$TOP/tests/lib/robust.sh"
clean_dir() { rb_quiet_dir "$T/out" k.tar.xz k.S k.tar.xz.state >/dev/null; }

# Interrupted half-way: the shim stalls the run when a reader opens
# the 50th of 100 headers, so the signal lands while the archive is
# being written, however fast or slow the machine is.
MID=(KH_FAULT_CALL=open KH_FAULT_PATH=include/big/h050.h)
tmp_count() { ls -A "$T/out" "$T/out/k.tar.xz.cache" 2>/dev/null | grep -c '^\.'; }

# SIGINT: dies of the signal, removes its temporaries.
rc=$(rb_stall INT "${MID[@]}" "$K" "${G[@]}")
grep -q "never fired" "$T/rb.err" && bad "SIGINT: the stall never fired"
[ "$rc" = 130 ] || bad "SIGINT: exit status $rc, want 130 (died of SIGINT)"
cmp -s "$T/out/k.tar.xz" "$T/good.tar.xz" && cmp -s "$T/out/k.tar.xz.state" "$T/good.state" ||
	bad "SIGINT: previous outputs changed"
clean_dir || bad "SIGINT: left $(ls -A "$T/out")"
echo "ok   SIGINT: exit $rc, previous outputs intact, no temporary"

# SIGKILL: nothing can clean up then, so temporaries stay (the test
# checks that there were some, or it would prove nothing), the outputs
# are intact and the next run removes the leftovers.
rc=$(rb_stall KILL "${MID[@]}" "$K" "${G[@]}")
[ "$rc" = 137 ] || bad "SIGKILL: exit status $rc, want 137"
cmp -s "$T/out/k.tar.xz" "$T/good.tar.xz" || bad "SIGKILL: previous archive changed"
left=$(tmp_count)
[ "$left" -gt 0 ] || bad "SIGKILL: no temporary left, so the sweep below proves nothing"
"$K" "${G[@]}" || bad "rerun after SIGKILL"
clean_dir || bad "rerun after SIGKILL left $(ls -A "$T/out")"
xz -t "$T/out/k.tar.xz" || bad "rerun after SIGKILL: bad archive"
echo "ok   SIGKILL: left $left temporaries, previous outputs intact; the rerun repaired and swept"

# Two runs at once on the same outputs: they take turns; one rebuilds,
# the other then finds everything up to date.
echo '#define C 3' > "$T/src/arch/x86/include/asm/c.h"
"$K" gen -v "${G[@]:2}" > "$T/a.log" 2>&1 & a=$!
"$K" gen -v "${G[@]:2}" > "$T/b.log" 2>&1 & b=$!
wait $a; ra=$?; wait $b; rb=$?
[ $ra = 0 ] && [ $rb = 0 ] || bad "concurrent runs: exit $ra and $rb"
[ "$(cat "$T/a.log" "$T/b.log" | grep -c 'rebuilt because')" = 1 ] &&
	[ "$(cat "$T/a.log" "$T/b.log" | grep -c 'up to date')" = 1 ] ||
	{ bad "concurrent runs: want one rebuild and one up to date"; cat "$T/a.log" "$T/b.log"; }
clean_dir || bad "concurrent runs left $(ls -A "$T/out")"
"$K" gen -q --no-state "${G[@]:2}" -o "$T/fresh.tar.xz" 2>/dev/null
# (-o given twice: the last one wins, as with any getopt option)
cmp -s "$T/fresh.tar.xz" "$T/out/k.tar.xz" || bad "concurrent runs: archive not what a fresh run makes"
echo "ok   two runs at once: one rebuilt, one found it up to date"
exit $fail
