#!/usr/bin/env bash
# vs-t-io_uring.sh: ringbench's uring backend against fio's own ring benchmark, t/io_uring (Jens Axboe's peak
# tool: one submit-and-wait io_uring_enter per loop, no per-I/O bookkeeping), on the same job: 4 KiB random
# reads of one 256 MiB file locked in memory, depth 32, fixed files and buffers, at submit batches of 1, 4, 32:
#
#   t/io_uring -d32 -s$B -c$B -b4096 -p0 -B1 -F1 -n1 -O0 -R1 -r$((SECS + 2)) FILE
#   ringbench run --workload small-file --backend uring --fixed-files --fixed-bufs --noatime --depth 32
#                 --batch $B --count-syscalls=false --warmup 1s --duration ${SECS}s --count 1 --mlock ...
#
# t/io_uring opens its files with O_NOATIME, so ringbench does too (--noatime): without it every read
# also checks whether the access time needs updating, about 4% of a batch-1 read's CPU.
#
# A third runner, the ring floor, is internal/ring's BenchmarkReadLoop: the same loop as t/io_uring's, written
# in Go on ringbench's ring (same ring setup, fixed file and buffers, registered ring fd), without the request
# loop's bookkeeping (a latency stamp and histogram entry per read, the result checks, the backend
# interface). It splits the gap: floor / t-io_uring is what Go and the ring cost, ringbench / floor what
# ringbench's harness costs.
#
# The runs go back to back, interleaved (every batch in every round, t/io_uring, floor, ringbench in one
# round, the reverse in the next). It prints medians of IOPS for each, the medians of the per-round ratios
# ringbench / t-io_uring and floor / t-io_uring, and CPU per op for all three over their measured windows
# (see vs-t-io_uring-report.py).
#
# t/io_uring is not in Debian's fio binary package: it is built from Debian's fio source package
# (a `Types: deb-src` copy of /etc/apt/sources.list.d/debian.sources is added for `apt-get source fio`, and
# removed again; `./configure --disable-native && make t/io_uring`) and cached in the cache directory.
# Building needs root and apt-get; after that, only the cached binary.
#
# Usage: scripts/vs-t-io_uring.sh [-n ROUNDS] [-d SECONDS] [-b "1 4 32"] [--cache DIR] [--dir DIR]
#                                 [--ringbench BIN] [--t-io-uring BIN] [--ring-test BIN | --no-floor] [--keep]
#
#   -n, --rounds N        interleaved rounds (VTI_ROUNDS, default 3, at least 3 for a median)
#   -d, --duration S      measured seconds per run, whole (VTI_SECS, default 3; each run takes S + 2 s)
#   -b, --batches LIST    submit batches (VTI_BATCHES, default "1 4 32"; each at most 32, the depth)
#   --cache DIR           where the t/io_uring build is cached (VTI_CACHE, default
#                         ${XDG_CACHE_HOME:-~/.cache}/ringbench)
#   --dir DIR             where the working directory (data set, raw results) is made (VTI_DIR, default
#                         $TMPDIR or /tmp); it must hold about 270 MiB
#   --ringbench BIN       use this binary (RINGBENCH_BIN) instead of building ./cmd/ringbench
#   --t-io-uring BIN      use this t/io_uring binary instead of the cached build
#   --ring-test BIN       use this internal/ring test binary (go test -c) for the floor instead of building it
#   --no-floor            leave the ring floor out (it is left out anyway without Go and --ring-test)
#   --keep                keep the working directory (data set, raw output, summary)
#   -h, --help            this text
#
# Needs: bash, python3, Go (unless --ringbench and --ring-test or --no-floor), perf (optional: t/io_uring's CPU is n/a without it), root to
# lock the file in memory (otherwise it is read into the page cache before each run and may be evicted).
# The machine may be shared: IOPS swing between runs; compare the per-round ratios and CPU per op.
#
# Exit status: 0 measured, 1 a run or the setup failed, 2 bad usage, 130 interrupted. Everything it creates
# (working directory, data set, the deb-src entry, the source tree) is removed on exit, also on Ctrl-C,
# except the cached t/io_uring binary and what --keep keeps.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
lib=$here/lib
prog=vs-t-io_uring
# shellcheck source=scripts/lib/common.sh disable=SC1091 # followed with shellcheck -x
. "$lib/common.sh"

rounds=${VTI_ROUNDS:-3}
secs=${VTI_SECS:-3}
batches=${VTI_BATCHES:-"1 4 32"}
cache=${VTI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ringbench}
base=${VTI_DIR:-${TMPDIR:-/tmp}}
rbbin=${RINGBENCH_BIN:-}
tbin=
ringtest=
floor=1
keep=0
depth=32
fsize=256M

while (($#)); do
	case $1 in
	-n | --rounds) [[ $# -ge 2 ]] || bad "$1 needs a value"; rounds=$2; shift 2 ;;
	-d | --duration) [[ $# -ge 2 ]] || bad "$1 needs a value"; secs=${2%s}; shift 2 ;;
	-b | --batches) [[ $# -ge 2 ]] || bad "$1 needs a value"; batches=$2; shift 2 ;;
	--cache) [[ $# -ge 2 ]] || bad "$1 needs a value"; cache=$2; shift 2 ;;
	--dir) [[ $# -ge 2 ]] || bad "$1 needs a value"; base=$2; shift 2 ;;
	--ringbench) [[ $# -ge 2 ]] || bad "$1 needs a value"; rbbin=$2; shift 2 ;;
	--t-io-uring) [[ $# -ge 2 ]] || bad "$1 needs a value"; tbin=$2; shift 2 ;;
	--ring-test) [[ $# -ge 2 ]] || bad "$1 needs a value"; ringtest=$2; shift 2 ;;
	--no-floor) floor=0; shift ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) bad "unknown argument $1" ;;
	esac
done
if ! [[ $rounds =~ ^[0-9]+$ ]] || ((rounds < 1 || rounds > 100)); then bad "--rounds $rounds: a number from 1 to 100"; fi
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1 || secs > 600)); then bad "--duration $secs: whole seconds from 1 to 600"; fi
for b in $batches; do
	if ! [[ $b =~ ^[0-9]+$ ]] || ((b < 1 || b > depth)); then bad "--batches: $b is not a number from 1 to $depth"; fi
done
[[ -n ${batches// /} ]] || bad "--batches: empty"
[[ -d $base && -w $base ]] || bad "--dir $base: not a writable directory"
[[ -z $rbbin || -x $rbbin ]] || bad "--ringbench $rbbin: not an executable"
[[ -z $tbin || -x $tbin ]] || bad "--t-io-uring $tbin: not an executable"
[[ -z $ringtest || -x $ringtest ]] || bad "--ring-test $ringtest: not an executable"
[[ -z $ringtest ]] || ((floor)) || bad "--ring-test and --no-floor: choose one"
((rounds >= 3)) || say "fewer than 3 rounds: the medians are thin"

command -v python3 >/dev/null || die "python3 is needed (apt-get install python3)"
[[ -n $rbbin ]] || command -v go >/dev/null || die "go is needed to build ringbench (or pass --ringbench BIN)"

# --- working directory and cleanup -----------------------------------------------------------------------------
lock_pid=
child_pid=
added_src=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$child_pid"
	stop_pid "$lock_pid"
	[[ -z $added_src ]] || rm -f "$added_src"
	rm -rf "${build_dir:-}"
	if ((keep)); then
		say "kept $work (data set in $work/data, raw results in $work/runs)"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
make_work

# run_bg CMD...: runs CMD in the background and waits for it, so that the traps can end it; its status is
# the command's.
run_bg() {
	"$@" &
	child_pid=$!
	local rc=0
	wait "$child_pid" || rc=$?
	child_pid=
	return "$rc"
}

# --- t/io_uring: cached, or built from Debian's fio source package -----------------------------------------------
build_dir=
build_t_io_uring() {
	local bin=$1
	if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
		die "t/io_uring is not cached in $cache and building it needs root and apt-get (or pass --t-io-uring BIN)"
	fi
	mkdir -p "$cache" || die "cannot make the cache directory $cache"
	build_dir=$(mktemp -d "$cache/build.XXXXXX")
	local log=$build_dir/build.log
	if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		[[ -f /etc/apt/sources.list.d/debian.sources ]] || die "no deb-src entry and no /etc/apt/sources.list.d/debian.sources to copy"
		added_src=/etc/apt/sources.list.d/ringbench-vs-t-io_uring-deb-src.sources
		sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$added_src"
		say "added $added_src (removed again when done); apt-get update"
		run_bg apt-get update >>"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed"; }
	fi
	local pkgs=()
	command -v dpkg-source >/dev/null || pkgs+=(dpkg-dev)
	command -v make >/dev/null || pkgs+=(make)
	command -v cc >/dev/null || pkgs+=(gcc)
	if ((${#pkgs[@]})); then
		say "apt-get install -y ${pkgs[*]}"
		run_bg env DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >>"$log" 2>&1 || { cat "$log" >&2; die "could not install ${pkgs[*]}"; }
	fi
	say "apt-get source fio, then ./configure --disable-native && make t/io_uring (a minute or two)"
	(cd "$build_dir" && run_bg apt-get source fio) >>"$log" 2>&1 || { tail -20 "$log" >&2; die "apt-get source fio failed"; }
	local src
	src=$(find "$build_dir" -mindepth 1 -maxdepth 1 -type d -name 'fio-*' | head -1)
	[[ -n $src ]] || die "apt-get source fio made no fio-* directory"
	(cd "$src" && ./configure --disable-native && make -j"$(nproc)" t/io_uring) >>"$log" 2>&1 ||
		{ tail -20 "$log" >&2; die "building t/io_uring failed"; }
	cp "$src/t/io_uring" "$bin.tmp" && mv "$bin.tmp" "$bin"
	basename "$src" >"$bin.version"
	[[ -z $added_src ]] || { rm -f "$added_src"; added_src=; }
	rm -rf "$build_dir"
	build_dir=
	say "t/io_uring cached as $bin"
}
if [[ -z $tbin ]]; then
	tbin=$cache/t-io_uring
	[[ -x $tbin ]] || build_t_io_uring "$tbin"
	tver="t/io_uring from Debian's $(cat "$tbin.version" 2>/dev/null || echo fio) source, cached in $cache"
else
	tver="t/io_uring $tbin"
fi

build_ringbench

if ((floor)) && [[ -z $ringtest ]]; then
	if command -v go >/dev/null; then
		say "building the ring floor (go test -c ./internal/ring)"
		(cd "$root" && go test -c -o "$work/ring.test" ./internal/ring) >"$work/build-ring.log" 2>&1 ||
			{ cat "$work/build-ring.log" >&2; die "go test -c ./internal/ring failed"; }
		ringtest=$work/ring.test
	else
		say "no Go to build internal/ring's test binary: the ring floor is left out (or pass --ring-test BIN)"
		floor=0
	fi
fi

use_perf=0
if command -v perf >/dev/null && perf stat -x, -o "$work/perf-check" -e task-clock -- true >/dev/null 2>&1; then
	use_perf=1
else
	say "perf stat is not usable here: t/io_uring's CPU per op will be n/a"
fi

# --- the data set, locked in memory ------------------------------------------------------------------------------
data=$work/data
say "creating the data set ($fsize)"
run_bg "$rbbin" run --backend epoll --workload small-file --files 1 --file-size "$fsize" --dir "$data" --keep \
	--warmup 0 --count 1 --duration 200ms --format json --quiet --out "$work/setup.json" >/dev/null 2>"$work/setup.err" ||
	{ cat "$work/setup.err" >&2; die "ringbench could not make the data set"; }
set_dir=$(find "$data" -maxdepth 1 -type d -name 'ringbench-small-file-*' | head -1)
file=$(python3 "$lib/vs-fio-mem.py" list "$set_dir" | head -1)
[[ -f $file ]] || die "no data file in $set_dir"

# This machine's page cache drops pages idle for about a minute: hold the file in memory for the whole run.
lock_files "$file"
rb_lock=()
if ((locked)); then
	lock_note="the file is mlock'ed for the whole run by one helper process; ringbench also runs with --mlock"
	rb_lock=(--mlock)
else
	not_locked "the file" "reading it into the page cache before each run"
	lock_note="NOT locked (no privilege): read into the page cache before each run"
fi

# --- runs ----------------------------------------------------------------------------------------------------------
manifest=$work/manifest.tsv
{
	printf '# job\t4 KiB random reads of one %s file in memory, depth %s, fixed files and buffers, batches %s; %s measured s per run\n' \
		"$fsize" "$depth" "$batches" "$secs"
	printf '# rounds\t%s interleaved rounds\n' "$rounds"
	printf '# machine\t%s\n' "$(machine)"
	printf '# tools\t%s; %s; %s; %s\n' "$tver" "$("$rbbin" version 2>/dev/null | head -1)" \
		"$( ((floor)) && echo "ring floor: internal/ring BenchmarkReadLoop, -test.benchtime ${secs}s" || echo 'no ring floor')" \
		"$( ((use_perf)) && perf version || echo 'no perf')"
	printf '# lock\t%s\n' "$lock_note"
} >"$manifest"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
failed=0

run_t() {
	local r=$1 b=$2 p=$work/runs/r$1-b$2-t pre=()
	((use_perf)) && pre=(perf stat -I 1000 '-x,' -e task-clock -o "$p.perf" --)
	warm "$file"
	if ! run_bg "${pre[@]}" "$tbin" -d"$depth" -s"$b" -c"$b" -b4096 -p0 -B1 -F1 -n1 -O0 -R1 -r$((secs + 2)) "$file" >"$p.out" 2>"$p.err"; then
		failed=1
		say "round $r batch $b t/io_uring failed: $(tail -3 "$p.err" "$p.out" | tr '\n' ' ')"
	fi
	printf '%s\t%s\tt\t%s\n' "$r" "$b" "$p" >>"$manifest"
	say "$(printf 'round %s batch %2s t/io_uring ' "$r" "$b") $(python3 "$lib/vs-t-io_uring-report.py" --brief t "$p")"
}
run_rb() {
	local r=$1 b=$2 p=$work/runs/r$1-b$2-rb
	warm "$file"
	if ! run_bg "$rbbin" run --workload small-file --backend uring --fixed-files --fixed-bufs --noatime --depth "$depth" --batch "$b" \
		--count-syscalls=false --files 1 --file-size "$fsize" --dir "$data" --keep "${rb_lock[@]}" \
		--warmup 1s --duration "${secs}s" --count 1 --format json --quiet --out "$p.json" >"$p.out" 2>"$p.err"; then
		failed=1
		say "round $r batch $b ringbench failed: $(tail -3 "$p.err" | tr '\n' ' ')"
	fi
	printf '%s\t%s\trb\t%s\n' "$r" "$b" "$p" >>"$manifest"
	say "$(printf 'round %s batch %2s ringbench  ' "$r" "$b") $(python3 "$lib/vs-t-io_uring-report.py" --brief rb "$p")"
}

run_floor() {
	local r=$1 b=$2 p=$work/runs/r$1-b$2-floor
	((floor)) || return 0
	warm "$file"
	if ! run_bg env RINGBENCH_READ_FILE="$file" "$ringtest" -test.run '^$' -test.bench "^BenchmarkReadLoop\$/^depth=$depth\$/^batch=$b\$" \
		-test.benchtime "${secs}s" -test.count 1 >"$p.out" 2>"$p.err"; then
		failed=1
		say "round $r batch $b ring floor failed: $(tail -3 "$p.out" "$p.err" | tr '\n' ' ')"
	fi
	printf '%s\t%s\tfloor\t%s\n' "$r" "$b" "$p" >>"$manifest"
	say "$(printf 'round %s batch %2s ring floor ' "$r" "$b") $(python3 "$lib/vs-t-io_uring-report.py" --brief floor "$p")"
}

for r in $(seq "$rounds"); do
	for b in $batches; do
		if ((r % 2)); then
			run_t "$r" "$b"
			run_floor "$r" "$b"
			run_rb "$r" "$b"
		else
			run_rb "$r" "$b"
			run_floor "$r" "$b"
			run_t "$r" "$b"
		fi
	done
done

printf '# load\tload average %s at the start, %s at the end (%s CPUs)\n' "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" >>"$manifest"
echo
python3 "$lib/vs-t-io_uring-report.py" "$manifest" | tee "$work/summary.txt" || failed=1
((failed == 0)) || die "some runs failed (see above)"
