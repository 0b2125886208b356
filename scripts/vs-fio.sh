#!/usr/bin/env bash
# vs-fio.sh: run the same job in ringbench and in fio, interleaved and repeated, and print how they compare.
#
# Small file: 4 KiB random reads of one 256 MiB file held in the page cache (locked in memory for the whole
# run), depth 32, batch 32, fio with --invalidate=0. Both tools read the same file: the data set that
# ringbench creates (and keeps) in a temporary directory. Pairs, in this order every round:
#   fio --ioengine=psync                                             vs  ringbench --backend epoll
#   fio --ioengine=io_uring --iodepth=32 --iodepth_batch_submit=32
#       --iodepth_batch_complete_min=32                              vs  ringbench --backend uring
#   the same fio job with --sqthread_poll=1                          vs  ringbench --backend sqpoll
# Many files: a plain C loop of open + pread + close over ringbench's many-file set (10,000 x 4 KiB, compiled
# here with cc; a Go loop when there is no cc) vs ringbench --workload many-file on epoll, and a liburing C
# program (scripts/c/manyfile-uring.c: linked OPENAT direct -> READ fixed file -> CLOSE direct, 32 chains per
# submit; liburing-dev is installed with apt-get when missing, as root; skipped when it cannot be built) vs
# ringbench many-file on uring.
#
# Timed rounds run fio, the loop and ringbench bare and interleaved (ringbench always counts its own syscalls,
# and that cost stays in its figures); then counted rounds run the same jobs under `perf stat`
# (raw_syscalls:sys_enter, and syscalls:sys_enter_io_uring_enter split by its arguments into submitting and
# waiting enters), since syscall tracepoints slow every syscall. CPU per op is the same measure for every
# tool: user+sys of its whole run (bash's `time`, which covers a process's io_uring kernel threads, SQPOLL
# included) / the ops of its whole run (ringbench runs with --warmup 0 --count 1, so its one sample is all
# the I/O it does); start-up is in every tool's figure. It prints medians, IOPS ratios of back-to-back pairs, and
# PASS/MISS for each goal of the issue:
#   IOPS at or above fio's (uring / fio io_uring, epoll / fio psync; sqpoll / fio sqpoll is printed, not judged)
#   uring <= 0.035 syscalls per op
#   sqpoll <= 0.01 submitting io_uring_enter per op (waits for completions are counted apart; ringbench's
#     --cq-spin is meant to trade CPU for them: try VSF_RB_SQPOLL_ARGS="--cq-spin 50us")
#   many-file on epoll at least 80% of the plain loop's files/s
# This is a benchmark: a MISS is a finding, not a failure.
#
# Usage: scripts/vs-fio.sh [-n ROUNDS] [-d SECONDS] [--only small|many] [--dir DIR] [--ringbench BIN] [--keep]
#
#   -n, --rounds N       interleaved rounds (VSF_ROUNDS, default 5)
#   -d, --duration S     seconds per run, a whole number (VSF_SECS, default 4)
#   --only small|many    run only the small-file or the many-file comparison
#   --dir DIR            where the working directory (data sets, raw results) is made (VSF_DIR, default $TMPDIR
#                        or /tmp); it must hold about 300 MiB
#   --ringbench BIN      use this binary (RINGBENCH_BIN) instead of building ./cmd/ringbench
#   --keep               keep the working directory: data sets, fio and ringbench JSON, perf counts, summary
#   -h, --help           this text
# Environment: VSF_COUNT_ROUNDS (1: rounds under perf stat after the timed ones), VSF_DEPTH (32),
#   VSF_BATCH (32), VSF_FILE_SIZE (256M), VSF_MF_FILES (10000), VSF_MF_SIZE (4k), VSF_FIO_ARGS and
#   VSF_RB_ARGS (extra arguments for every fio / ringbench run), VSF_FIO_SQPOLL_ARGS and VSF_RB_SQPOLL_ARGS
#   (extra arguments for the sqpoll runs only), VSF_INSTALL_FIO (1: apt-get install fio when it is missing and
#   we are root; 0: never).
#
# Needs: bash, python3, fio, Go (unless --ringbench), perf (optional: without it syscall figures are n/a),
# cc (optional: the Go loop stands in). Locking the files needs root or a large RLIMIT_MEMLOCK; otherwise the
# files are read into the page cache before each run and residency is checked and reported instead.
# The machine may be shared: throughput varies between runs, so compare the ratios of pairs, and syscalls and
# CPU per op, which are steady.
#
# Exit status: 0 measured (whatever the goals say), 1 a run or the setup failed, 2 bad usage, 130 interrupted.
# Everything it creates is removed on exit (also on Ctrl-C), unless --keep.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lib=$here/lib
prog=vs-fio
# shellcheck source=scripts/lib/common.sh disable=SC1091 # followed with shellcheck -x
. "$lib/common.sh"

rounds=${VSF_ROUNDS:-5}
count_rounds=${VSF_COUNT_ROUNDS:-1}
secs=${VSF_SECS:-4}
depth=${VSF_DEPTH:-32}
batch=${VSF_BATCH:-32}
fsize=${VSF_FILE_SIZE:-256M}
mf_files=${VSF_MF_FILES:-10000}
mf_size=${VSF_MF_SIZE:-4k}
base=${VSF_DIR:-${TMPDIR:-/tmp}}
rbbin=${RINGBENCH_BIN:-}
install_fio=${VSF_INSTALL_FIO:-1}
read -r -a fio_extra <<<"${VSF_FIO_ARGS:-}"
read -r -a rb_extra <<<"${VSF_RB_ARGS:-}"
read -r -a fio_sq_extra <<<"${VSF_FIO_SQPOLL_ARGS:-}"
read -r -a rb_sq_extra <<<"${VSF_RB_SQPOLL_ARGS:-}"
keep=0
only=

while (($#)); do
	case $1 in
	-n | --rounds) [[ $# -ge 2 ]] || bad "$1 needs a value"; rounds=$2; shift 2 ;;
	-d | --duration) [[ $# -ge 2 ]] || bad "$1 needs a value"; secs=${2%s}; shift 2 ;;
	--only) [[ $# -ge 2 ]] || bad "$1 needs a value"; only=$2; shift 2 ;;
	--dir) [[ $# -ge 2 ]] || bad "$1 needs a value"; base=$2; shift 2 ;;
	--ringbench) [[ $# -ge 2 ]] || bad "$1 needs a value"; rbbin=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) bad "unknown argument $1" ;;
	esac
done
if ! [[ $rounds =~ ^[0-9]+$ ]] || ((rounds < 1 || rounds > 100)); then bad "--rounds $rounds: a number from 1 to 100"; fi
if ! [[ $count_rounds =~ ^[0-9]+$ ]] || ((count_rounds > 100)); then bad "VSF_COUNT_ROUNDS=$count_rounds: a number from 0 to 100"; fi
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1 || secs > 600)); then bad "--duration $secs: whole seconds from 1 to 600"; fi
if ! [[ $depth =~ ^[0-9]+$ && $batch =~ ^[0-9]+$ ]] || ((depth < 1 || batch < 1 || batch > depth)); then
	bad "VSF_DEPTH=$depth VSF_BATCH=$batch: need 1 <= batch <= depth"
fi
case $only in "" | small | many) ;; *) bad "--only $only: small or many" ;; esac
[[ -d $base && -w $base ]] || bad "--dir $base: not a writable directory"
[[ -z $rbbin || -x $rbbin ]] || bad "--ringbench $rbbin: not an executable"

# --- tools ---------------------------------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 is needed (apt-get install python3)"
if ! command -v fio >/dev/null; then
	if [[ $install_fio == 1 && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		say "fio is missing: apt-get install -y fio"
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y fio >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y fio >/dev/null 2>&1; }; } ||
			die "could not install fio"
	else
		die "fio is missing (apt-get install fio)"
	fi
fi
[[ -n $rbbin ]] || command -v go >/dev/null || die "go is needed to build ringbench (or pass --ringbench BIN)"

# --- working directory and cleanup -----------------------------------------------------------------------------
lock_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$lock_pid"
	if ((keep)); then
		say "kept $work (data sets in $work/data, raw results in $work/runs)"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
make_work
build_ringbench
if command -v cc >/dev/null; then
	cc -O2 -o "$work/loop" "$lib/vs-fio-loop.c" 2>"$work/loop.log" || { cat "$work/loop.log" >&2; die "cc vs-fio-loop.c failed"; }
elif command -v go >/dev/null; then
	say "no cc: the many-file anchor is a Go loop (a little slower than C)"
	(cd "$root" && go build -o "$work/loop" "$lib/vs-fio-loop.go") 2>"$work/loop.log" || { cat "$work/loop.log" >&2; die "go build vs-fio-loop.go failed"; }
else
	[[ $only == small ]] || die "neither cc nor go: cannot build the many-file loop (use --only small)"
fi
chain=0
if [[ $only != small ]]; then
	# shellcheck source=scripts/lib/anchors.sh disable=SC1091 # followed with shellcheck -x
	. "$lib/anchors.sh"
	if command -v cc >/dev/null && anchor_liburing && anchor_build manyfile-uring.c "$work/chain" -luring 2>"$work/chain.log"; then
		chain=1
	else
		say "cannot build scripts/c/manyfile-uring.c (no cc or liburing-dev): the liburing chain is skipped"
	fi
fi

# perf: the events in the order vs-fio-report.py reads them. A zero syscall count for `true` means the
# tracepoint is not readable for this user (it reads 0 without an error), so perf is not used.
perf_events=(-e raw_syscalls:sys_enter -e syscalls:sys_enter_io_uring_enter
	-e syscalls:sys_enter_io_uring_enter --filter 'to_submit > 0'
	-e syscalls:sys_enter_io_uring_enter --filter 'flags & 2'
	-e syscalls:sys_enter_io_uring_enter --filter '(flags & 1) && min_complete > 0'
	-e task-clock)
use_perf=0
if command -v perf >/dev/null && perf stat -x, -o "$work/perf-check" "${perf_events[@]}" -- true >/dev/null 2>&1; then
	n=$(grep -v '^#' "$work/perf-check" | grep -m1 raw_syscalls | cut -d, -f1)
	[[ $n =~ ^[0-9]+$ ]] && ((n > 0)) && use_perf=1
fi
((use_perf)) || say "perf stat with syscall tracepoints is not usable here: syscall figures will be n/a"

# --- data sets ---------------------------------------------------------------------------------------------------
data=$work/data
rb_common=(--depth "$depth" --batch "$batch" --dir "$data" --keep --warmup 0 --count 1 --format json --quiet)
small_args=(--workload small-file --files 1 --file-size "$fsize")
many_args=(--workload many-file --files "$mf_files" --file-size "$mf_size")
mem() { python3 "$lib/vs-fio-mem.py" "$@"; }

lock_args=()
if [[ $only != many ]]; then
	say "creating the small-file data set ($fsize)"
	"$rbbin" run --backend epoll "${small_args[@]}" "${rb_common[@]}" --duration 200ms --out "$work/setup-small.json" \
		>/dev/null 2>"$work/setup-small.err" || { cat "$work/setup-small.err" >&2; die "ringbench could not make the small-file data set"; }
	small_dir=$(find "$data" -maxdepth 1 -type d -name 'ringbench-small-file-*' | head -1)
	file=$(mem list "$small_dir" | head -1)
	[[ -f $file ]] || die "no data file in $small_dir"
	lock_args+=("$small_dir")
fi
if [[ $only != small ]]; then
	say "creating the many-file data set ($mf_files x $mf_size)"
	"$rbbin" run --backend epoll "${many_args[@]}" "${rb_common[@]}" --duration 200ms --out "$work/setup-many.json" \
		>/dev/null 2>"$work/setup-many.err" || { cat "$work/setup-many.err" >&2; die "ringbench could not make the many-file data set"; }
	many_dir=$(find "$data" -maxdepth 1 -type d -name 'ringbench-many-file-*' | head -1)
	mem list "$many_dir" >"$work/many.list"
	[[ -s $work/many.list ]] || die "no files in $many_dir"
	mf_bytes=$(stat -c %s "$(head -1 "$work/many.list")")
	lock_args+=("$many_dir")
fi

# Hold every data file in memory for the whole run: this machine's page cache drops pages idle for about a
# minute, and a "page-cache" benchmark then reads the disk. Without the privilege to lock, warm before each run.
lock_files "${lock_args[@]}"
if ((locked)); then
	lock_note="data sets mlock'ed for the whole run by one helper process ($(cut -d' ' -f2 "$work/lock.out") files, $(($(cut -d' ' -f3 "$work/lock.out") >> 20)) MiB); ringbench also runs with --mlock"
	rb_common+=(--mlock)
else
	not_locked "the data sets" "reading them into the page cache before each run instead"
	lock_note="NOT locked (no privilege): warmed before each run, residency checked before and after"
fi

# --- runs ----------------------------------------------------------------------------------------------------------
# Timed rounds run every tool bare: perf's syscall tracepoints put every syscall on the kernel's slow path and
# run handlers per syscall (a few hundred ns here), which would tax pread-per-op jobs far more than io_uring
# ones. Syscalls are counted in separate passes under perf stat (VSF_COUNT_ROUNDS, default 1: the counts
# are steady). ringbench counts its own syscalls in every sample; that cost is part of its timed figures.
manifest=$work/manifest.tsv
failed=0
# measure MODE SECTION ROUND LABEL KIND RESIDENCY-ARG -- COMMAND...: runs COMMAND (under perf stat when MODE is
# counted) and bash's time, leaving runs/MODE-SECTION-rROUND-LABEL.{json,out,err,perf,time,res}; @OUT@ in
# COMMAND becomes the .json path. RESIDENCY-ARG ("" for ringbench, which checks residency itself) is what
# vs-fio-mem.py resident checks before and after.
measure() {
	local mode=$1 section=$2 rnd=$3 label=$4 kind=$5 resarg=$6
	shift 7
	local p=$work/runs/$mode-$section-r$rnd-$label rc=0 before='' a
	local pre=() cmd=()
	for a in "$@"; do cmd+=("${a//@OUT@/$p.json}"); done
	[[ $mode == counted ]] && pre=(perf stat '-x,' -o "$p.perf" "${perf_events[@]}" --)
	[[ -n $resarg ]] && before=$(mem resident "$resarg")
	local TIMEFORMAT='%3R %3U %3S'
	{ time "${pre[@]}" "${cmd[@]}" >"$p.out" 2>"$p.err"; } 2>"$p.time" || rc=$?
	[[ -n $resarg ]] && echo "$before $(mem resident "$resarg")" >"$p.res"
	[[ $kind == loop ]] && cp "$p.out" "$p.json"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$section" "$rnd" "$label" "$kind" "$p" >>"$manifest"
	if ((rc != 0)); then
		failed=1
		say "$mode round $rnd $label failed (exit $rc): $(tail -3 "$p.err" | tr '\n' ' ')"
	else
		say "$(printf '%-7s %2s %-12s' "$mode" "$rnd" "$label") $(python3 "$lib/vs-fio-report.py" --brief "$kind" "$p")"
	fi
}

fio_small=(fio --name=rr --filename="${file:-}" --rw=randread --bs=4k --size="$fsize" --time_based --runtime="$secs"
	--norandommap --randrepeat=0 --invalidate=0 --output-format=json --output=@OUT@ "${fio_extra[@]}")
fio_uring=(--ioengine=io_uring --iodepth="$depth" --iodepth_batch_submit="$batch" --iodepth_batch_complete_min="$batch")
rb_small=("$rbbin" run "${small_args[@]}" "${rb_common[@]}" --duration "${secs}s" --out @OUT@ "${rb_extra[@]}")
rb_many=("$rbbin" run "${many_args[@]}" "${rb_common[@]}" --duration "${secs}s" --out @OUT@ "${rb_extra[@]}")

# round MODE N: one round of every pair, back to back, in the order of the issue.
round() {
	local m=$1 r=$2
	if [[ $only != many ]]; then
		warm "$file"
		measure "$m" small "$r" fio-psync fio "$file" -- "${fio_small[@]}" --ioengine=psync --iodepth=1
		measure "$m" small "$r" rb-epoll rb "" -- "${rb_small[@]}" --backend epoll
		warm "$file"
		measure "$m" small "$r" fio-uring fio "$file" -- "${fio_small[@]}" "${fio_uring[@]}"
		measure "$m" small "$r" rb-uring rb "" -- "${rb_small[@]}" --backend uring
		warm "$file"
		measure "$m" small "$r" fio-sqpoll fio "$file" -- "${fio_small[@]}" "${fio_uring[@]}" --sqthread_poll=1 "${fio_sq_extra[@]}"
		measure "$m" small "$r" rb-sqpoll rb "" -- "${rb_small[@]}" --backend sqpoll "${rb_sq_extra[@]}"
	fi
	if [[ $only != small ]]; then
		((locked)) || xargs -a "$work/many.list" cat >/dev/null
		measure "$m" many "$r" c-loop loop "@$work/many.list" -- "$work/loop" "$secs" "$work/many.list" "$mf_bytes"
		if ((chain)); then
			measure "$m" many "$r" c-uring-chain loop "@$work/many.list" -- "$work/chain" "$secs" "$work/many.list" "$mf_bytes"
		fi
		measure "$m" many "$r" rb-mf-epoll rb "" -- "${rb_many[@]}" --backend epoll
		measure "$m" many "$r" rb-mf-uring rb "" -- "${rb_many[@]}" --backend uring
	fi
}

{
	printf '# job\tsmall file: 4 KiB random reads of one %s file in page cache, depth %s, batch %s; many files: %s x %s, open + read + close\n' \
		"$fsize" "$depth" "$batch" "$mf_files" "$mf_size"
	printf '# rounds\t%s timed rounds (tools bare) + %s counted under perf stat, each run %s s; per round: fio psync, rb epoll, fio io_uring, rb uring, fio sqpoll, rb sqpoll, plain loop, liburing chain, rb many-file epoll, rb many-file uring\n' \
		"$rounds" "$((use_perf ? count_rounds : 0))" "$secs"
	printf '# nrounds\t%s\n' "$rounds"
	printf '# machine\t%s\n' "$(machine)"
	printf '# tools\t%s, %s, %s, many-file loop %s%s\n' "$(fio --version)" "$( ((use_perf)) && perf version || echo 'no perf')" \
		"$("$rbbin" version 2>/dev/null | head -1)" "$(command -v cc >/dev/null && echo 'C (cc -O2)' || echo Go)" \
		"$( ((chain)) && echo ", liburing chain (liburing $(dpkg-query -W -f '${Version}' liburing-dev 2>/dev/null || echo '?'))")"
	printf '# lock\t%s\n' "$lock_note"
} >"$manifest"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

for r in $(seq "$rounds"); do round timed "$r"; done
if ((use_perf)); then
	for r in $(seq "$count_rounds"); do round counted "$r"; done
fi

printf '# load\tload average %s at the start, %s at the end (%s CPUs; other work on the machine competes with these runs)\n' \
	"$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" >>"$manifest"
echo
python3 "$lib/vs-fio-report.py" "$manifest" | tee "$work/summary.txt"
((failed == 0)) || die "some runs failed (see above)"
