# common.sh: sourced by scripts/vs-fio.sh and scripts/vs-t-io_uring.sh for what the two comparisons share.
# The caller sets prog (the name its messages start with), base (where the working directory goes), rbbin,
# root and lib, and defines cleanup (run on exit).
#
#   usage                the calling script's header comment, up to `set -euo`
#   say / die / bad MSG  a message on stderr; die exits 1, bad (bad usage) exits 2
#   make_work            makes the working directory $work (with data/ and runs/) and sets the traps
#   stop_pid [PID]       ends PID and waits for it; nothing when PID is empty
#   build_ringbench      unless rbbin is set, builds ./cmd/ringbench into $work and sets rbbin to it
#   machine              "N CPUs (model), kernel R", for the manifest
#   lock_files FILE|DIR...  holds the files in memory (vs-fio-mem.py lock, in the background): sets lock_pid,
#                        and locked=1 once they are locked ($work/lock.out says how much), 0 when they cannot be
#   not_locked WHAT INSTEAD  after lock_files could not lock: says why, naming WHAT and what is done INSTEAD,
#                        and forgets lock_pid
#   warm FILE...         reads the files into the page cache, unless they are locked
# shellcheck shell=bash disable=SC2034,SC2154 # the caller sets prog, base, root, lib; it reads locked

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[-1]}"; }
die() { echo "$prog: $*" >&2; exit 1; }
bad() { echo "$prog: $*" >&2; echo "try: $0 --help" >&2; exit 2; }
say() { echo "$prog: $*" >&2; }

make_work() {
	work=$(mktemp -d "$base/$prog.XXXXXX") || die "cannot make a directory in $base"
	trap cleanup EXIT
	trap 'say interrupted; exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$work/data" "$work/runs"
}

stop_pid() {
	if [[ -n ${1:-} ]]; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}

build_ringbench() {
	[[ -z $rbbin ]] || return 0
	say "building ringbench"
	(cd "$root" && go build -o "$work/ringbench" ./cmd/ringbench) >"$work/build.log" 2>&1 ||
		{ cat "$work/build.log" >&2; die "go build ./cmd/ringbench failed"; }
	rbbin=$work/ringbench
}

machine() {
	printf '%s CPUs (%s), kernel %s' "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(uname -r)"
}

# This machine's page cache drops pages idle for about a minute: the comparisons hold their data files in
# memory for the whole run when they may.
lock_files() {
	locked=0
	: >"$work/lock.out"
	python3 "$lib/vs-fio-mem.py" lock "$@" >"$work/lock.out" 2>&1 &
	lock_pid=$!
	local _
	for _ in $(seq 600); do
		grep -q '^locked' "$work/lock.out" && { locked=1; break; }
		kill -0 "$lock_pid" 2>/dev/null || break
		sleep 0.1
	done
}

not_locked() {
	say "cannot lock $1 in memory ($(tail -1 "$work/lock.out")): $2"
	lock_pid=
}

warm() { ((locked)) || cat "$@" >/dev/null; }
