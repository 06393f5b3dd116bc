# tests/lib/robust.sh: helpers for the bad-input and fault tests.
#
# Source from bash after setting T (a scratch directory) and K (the
# binary); defines functions and variables, sets no options.
#
#   rb_expect STATUS TEXT CMD...   run CMD; want exit STATUS and TEXT (if
#                                  not empty) in its stdout or stderr
#   rb_ok / rb_bad MSG             report; rb_bad sets fail=1
#   rb_priv                        echo a fresh directory under /tmp that
#                                  the unprivileged user can reach (the
#                                  runner's TEST_TMP is root-only 0700);
#                                  removed at exit
#   rb_own PATH...                 give PATHs to the unprivileged user
#   rb_nobody CMD...               run CMD without privileges: as uid and
#                                  gid 65534 through setpriv when root (CI
#                                  runs as root, and root reads unreadable
#                                  files), as is otherwise
#   rb_shim CMD...                 run CMD with tests/tools/shim-fault.so
#                                  preloaded (KH_FAULT* set by the caller)
#   rb_stall SIG ENV... CMD...     run CMD until the shim stalls it, then
#                                  send SIG; prints the exit status
#   rb_held ENV... CMD...          start CMD in the background, held by
#                                  the shim at its fault (sets HPID; its
#                                  output in $T/held.out and held.err);
#                                  false, and a FAIL, if it never fires
#   rb_release                     let the held run go on (SIGUSR1) and
#                                  wait: sets RC to its exit status
#   rb_tmpfs DIR SIZE              mount a tmpfs of SIZE at DIR; fails if
#                                  this machine does not allow it
#   rb_quiet_dir DIR NAMES...      true if DIR holds exactly NAMES (no
#                                  temporaries) and perhaps a block cache
#                                  of whole entries, else say what is extra
#   rb_maxrss_mb FILE CMD...       run CMD, write its peak RSS in MiB to
#                                  FILE, return its status
fail=${fail:-0}
RB_SHIM=${KH_BUILD:-}/tests/shim-fault.so
RB_MOUNTS=()
# rb_priv's directories live under one root made here, in the test's own
# shell: rb_priv runs in a command substitution, a subshell, so a list it
# kept would be lost and its directories left behind in /tmp.
# The runner's KH_TEST_TAG names it, so that the runner can tell a test
# that leaves it behind.
RB_ROOT=$(mktemp -d "/tmp/kheaders-rb.${KH_TEST_TAG:-x}.XXXXXX") && chmod 755 "$RB_ROOT" ||
	{ echo "FAIL cannot make a directory under /tmp"; exit 1; }

rb_cleanup() {
	local m
	for m in "${RB_MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
	chmod -R u+rwX "$RB_ROOT" 2>/dev/null
	rm -rf "$RB_ROOT"
}
trap rb_cleanup EXIT

rb_ok() { echo "ok   $*"; }
rb_bad() { echo "FAIL $*"; fail=1; }

rb_expect() {
	local want=$1 msg=$2 got
	shift 2
	"$@" >"$T/rb.out" 2>"$T/rb.err"
	got=$?
	if [ "$got" != "$want" ]; then
		rb_bad "exit $got, want $want: $*"; sed 's/^/     | /' "$T/rb.err"
	elif [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/rb.err" "$T/rb.out"; then
		rb_bad "no '$msg' in the output of: $*"; sed 's/^/     | /' "$T/rb.err"
	else
		rb_ok "$want $(cat "$T/rb.err" "$T/rb.out" | grep -a . | head -n 1)"
	fi
}

rb_priv() {
	local d
	d=$(mktemp -d "$RB_ROOT/p.XXXXXX") || return 1
	chmod 755 "$d"
	echo "$d"
}

rb_own() {
	[ "$(id -u)" = 0 ] || return 0
	chown -R 65534:65534 "$@"
}

rb_nobody() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
	else
		"$@"
	fi
}

# ASan wants to be first in the library list; the shim is not
# instrumented and only wraps libc, so that order does not matter.
RB_SHIM_ENV=(LD_PRELOAD="$RB_SHIM"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
rb_shim() {
	env "${RB_SHIM_ENV[@]}" "$@"
}

# rb_stall SIGNAL CMD...: run CMD (its KH_FAULT=stall fault set by the
# caller in CMD's env) in the background, wait until the fault fires,
# send SIGNAL and print the exit status. CMD must be a program (env
# ...), not a function, so that the signal reaches it.
rb_stall() {
	local sig=$1 ready=$T/rb.ready pid i
	shift
	rm -f "$ready"
	env "${RB_SHIM_ENV[@]}" KH_FAULT=stall KH_FAULT_READY="$ready" "$@" \
		>"$T/rb.out" 2>"$T/rb.err" &
	pid=$!
	for i in $(seq 1200); do
		[ -e "$ready" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	[ -e "$ready" ] || echo "     (the fault never fired: $*)" >&2
	kill -"$sig" $pid
	# A run that ignores the signal must not hang the suite. (Until
	# waited for, our child's pid cannot go to another process.)
	for i in $(seq 2400); do
		case $(sed 's/.*) //' /proc/$pid/stat 2>/dev/null) in
		""|Z*) break ;;
		esac
		sleep 0.05
	done
	case $(sed 's/.*) //' /proc/$pid/stat 2>/dev/null) in
	""|Z*) ;;
	*) echo "     (still alive 2 minutes after SIG$sig: killed)" >&2; kill -KILL $pid ;;
	esac
	wait $pid
	echo $?
}

rb_held() {
	local i
	rm -f "$T/held.ready"
	env "${RB_SHIM_ENV[@]}" KH_FAULT=stall KH_FAULT_READY="$T/held.ready" "$@" \
		>"$T/held.out" 2>"$T/held.err" &
	HPID=$!
	for i in $(seq 1200); do
		[ -e "$T/held.ready" ] && return 0
		kill -0 $HPID 2>/dev/null || break
		sleep 0.05
	done
	rb_bad "never held: $*"; sed 's/^/     | /' "$T/held.err"
	return 1
}

rb_release() { kill -USR1 $HPID; wait $HPID; RC=$?; }

rb_tmpfs() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>/dev/null ||
		return 1
	RB_MOUNTS+=("$1")
}

rb_quiet_dir() {
	local dir=$1 extra x bad=
	shift
	if [ $# -eq 0 ]; then
		extra=$(ls -A "$dir")
	else
		extra=$(ls -A "$dir" | grep -v -x -F "${@/#/-e}")
	fi
	# A block cache (NAME.cache) may stay, holding only whole entries
	# and its own files (tag, lock, index).
	for x in $extra; do
		if [[ $x == *.cache ]] && [ -d "$dir/$x" ] && [ -z "$(ls -A "$dir/$x" |
			grep -v -x -E 'CACHEDIR\.TAG|lock|index|[0-9a-f]{32}\.xzb')" ]; then
			continue
		fi
		bad="$bad $x"
	done
	[ -z "$bad" ] && return 0
	echo "     extra in $dir:$bad"
	return 1
}

rb_maxrss_mb() {
	local out=$1
	shift
	python3 -c '
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=f)
sys.exit(rc)' "$out" "$@"
}
