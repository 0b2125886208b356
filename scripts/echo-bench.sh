#!/usr/bin/env bash
# echo-bench: the network benchmark of the README.
#
# For each backend at 1, 16 and 128 connections with 64-byte messages (closed loop, one request in flight
# per connection) it prints requests/s, p50/p99 round-trip latency, syscalls per request (the server's I/O
# thread, and the whole server process), the server process's CPU per request (the SQPOLL kernel thread
# included) and the load generator's, and then the server's memory per idle connection with 10,000 idle
# connections.
#
# The server runs as `ringbench serve` on CPU 0 (GOMAXPROCS follows the affinity: 1), the load generator
# as `ringbench load --control` on the last CPU, so each has a core of its own and the server's figures
# are its process's alone. Repeats are interleaved across backends (ABCABC...) and medians are printed.
#
# Beside ringbench's backends it runs the C reference servers of scripts/c/ under the same load, as rows of
# the same table: c-epoll (level-triggered epoll, read + write), c-uring (liburing, one recv buffer per
# connection, DEFER_TASKRUN) and c-uring-bufring (multishot recv from a provided buffer ring). They run on
# CPU 0 too; their syscalls and CPU come from `perf stat -e raw_syscalls:sys_enter -e task-clock -p PID`
# over the whole load run (connection set-up and warm-up included), divided by the requests the server
# itself echoed in that time; sys/req(thr) and sys/req(proc) are the same figure (one thread). Without
# perf: syscalls n/a, CPU from /proc/PID/stat (10 ms ticks). liburing-dev is installed with apt-get when
# missing (as root); the C servers are skipped with a warning when they cannot be built. They are not in
# the idle-connection memory table (that figure comes from ringbench's control channel).
#
# Usage: scripts/echo-bench.sh            (from the repository root)
# Environment:
#   RINGBENCH   ringbench binary to use (default: built from this tree into a temporary directory)
#   BACKENDS    variants, default "epoll uring uring-multishot sqpoll-multishot gostd"
#   C_SERVERS   C reference servers, default "c-epoll c-uring c-uring-bufring" ("" for none)
#   CONNS       default "1 16 128"
#   COUNT       repeats per point, default 3
#   DURATION    measured window per sample, default 3s
#   IDLE        idle connections for the memory figure, default 10000 (0: skip)
#   ENGINE      the load generator's own I/O engine: auto (io_uring where allowed), uring or epoll
#   OUT         directory for result files, default results/echo-bench-<UTC time>
set -euo pipefail

BACKENDS=${BACKENDS:-"epoll uring uring-multishot sqpoll-multishot gostd"}
C_SERVERS=${C_SERVERS-"c-epoll c-uring c-uring-bufring"}
CONNS=${CONNS:-"1 16 128"}
COUNT=${COUNT:-3}
DURATION=${DURATION:-3s}
IDLE=${IDLE:-10000}
ENGINE=${ENGINE:-auto}
OUT=${OUT:-results/echo-bench-$(date -u +%Y%m%d-%H%M%S)}

for tool in jq taskset awk; do
	command -v "$tool" >/dev/null || { echo "echo-bench: $tool is required" >&2; exit 2; }
done

tmp=$(mktemp -d)
serve_pid=""
perf_pid=""
cleanup() {
	local p
	for p in "$perf_pid" "$serve_pid"; do
		if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
			kill -TERM "$p" 2>/dev/null || true
			wait "$p" 2>/dev/null || true
		fi
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${RINGBENCH:-}" ]]; then
	RINGBENCH=$tmp/ringbench
	go build -ldflags "-X main.version=bench -X main.commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
		-o "$RINGBENCH" ./cmd/ringbench
fi
mkdir -p "$OUT"

# The C reference servers: built here, dropped with a warning when they cannot be.
if [[ -n "$C_SERVERS" ]]; then
	# shellcheck source=scripts/lib/anchors.sh disable=SC1091 # followed with shellcheck -x
	. "$(dirname "${BASH_SOURCE[0]}")/lib/anchors.sh"
	built=""
	if ! command -v cc >/dev/null; then
		echo "echo-bench: WARNING: no cc: the C servers ($C_SERVERS) are skipped" >&2
	else
		for v in $C_SERVERS; do
			case "$v" in
			c-epoll) anchor_build echo-epoll.c "$tmp/echo-epoll" && built+=" $v" ;;
			c-uring | c-uring-bufring)
				if [[ ! -x $tmp/echo-uring ]] && { ! anchor_liburing || ! anchor_build echo-uring.c "$tmp/echo-uring" -luring; }; then
					echo "echo-bench: WARNING: cannot build echo-uring.c (liburing-dev missing?): $v skipped" >&2
				else
					built+=" $v"
				fi
				;;
			*) echo "echo-bench: unknown C server $v (c-epoll, c-uring, c-uring-bufring)" >&2; exit 2 ;;
			esac
		done
	fi
	C_SERVERS=${built# }
fi
use_perf=0
if [[ -n "$C_SERVERS" ]] && command -v perf >/dev/null &&
	perf stat -x, -o "$tmp/perf-check" -e raw_syscalls:sys_enter -- true >/dev/null 2>&1 &&
	[[ $(grep -v '^#' "$tmp/perf-check" | grep -m1 raw_syscalls | cut -d, -f1) =~ ^[1-9][0-9]*$ ]]; then
	use_perf=1
elif [[ -n "$C_SERVERS" ]]; then
	echo "echo-bench: perf stat with raw_syscalls:sys_enter is not usable: C servers' syscalls are n/a, CPU from /proc" >&2
fi

ncpu=$(nproc)
server_cpu=0
load_cpu=$((ncpu - 1))
if ((ncpu < 2)); then
	echo "echo-bench: WARNING: one CPU: server and load generator share it; figures are not comparable" >&2
fi

# variant_args VARIANT -> serve flags
variant_args() {
	case "$1" in
	*-multishot) echo "--backend ${1%-multishot} --multishot" ;;
	*) echo "--backend $1" ;;
	esac
}

# start_serve VARIANT: starts the server, sets serve_pid, listen, control.
start_serve() {
	local out=$tmp/serve.out
	: >"$out"
	# shellcheck disable=SC2046
	taskset -c "$server_cpu" "$RINGBENCH" serve $(variant_args "$1") --max-conns 16384 --control-token-file "$tmp/control-token" >"$out" 2>"$tmp/serve.err" &
	serve_pid=$!
	await_start '^control ' "ringbench serve $1"
	listen=$(awk '/^listening /{print $2}' "$out")
	control=$(awk '/^control /{print $2}' "$out")
}

# await_start PATTERN NAME: waits up to 10 s for the server just started (serve_pid) to print a line
# matching PATTERN to $tmp/serve.out; exits with its stderr, naming it NAME, when it dies or does not.
await_start() {
	for _ in $(seq 200); do
		grep -q "$1" "$tmp/serve.out" && return 0
		kill -0 "$serve_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "echo-bench: $2 did not start:" >&2
	cat "$tmp/serve.err" >&2
	exit 1
}

stop_serve() {
	kill -TERM "$serve_pid"
	wait "$serve_pid" || true
	serve_pid=""
}

# start_c VARIANT: starts a C server on the server CPU, sets serve_pid and listen (no control address).
start_c() {
	local out=$tmp/serve.out cmd
	case "$1" in
	c-epoll) cmd=("$tmp/echo-epoll") ;;
	c-uring) cmd=("$tmp/echo-uring") ;;
	c-uring-bufring) cmd=("$tmp/echo-uring" -m) ;;
	esac
	: >"$out"
	taskset -c "$server_cpu" "${cmd[@]}" >"$out" 2>"$tmp/serve.err" &
	serve_pid=$!
	await_start '^listening ' "C server $1"
	listen=$(awk '/^listening /{print $2}' "$out")
}

# cpu_ticks PID: user+system clock ticks of the process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_c VARIANT CONNS REP FILE: one sample of a C server; appends its row to the samples.
run_c() {
	local v=$1 conns=$2 rep=$3 file=$4 t0 t1 sys=-1 cpu pcpu req gen
	start_c "$v"
	if ((use_perf)); then
		perf stat -x, -o "$tmp/c.perf" -e raw_syscalls:sys_enter -e task-clock -p "$serve_pid" 2>/dev/null &
		perf_pid=$!
		sleep 0.3 # perf attaches before any request arrives
	fi
	t0=$(cpu_ticks "$serve_pid")
	if ! taskset -c "$load_cpu" "$RINGBENCH" load --target "$listen" --conns "$conns" \
		--msg-size 64 --duration "$DURATION" --warmup 300ms --engine "$ENGINE" --out "$file" --force --format json \
		>/dev/null 2>"$tmp/load.err"; then
		echo "echo-bench: load failed for $v at $conns connections:" >&2
		cat "$tmp/load.err" >&2
		exit 1
	fi
	t1=$(cpu_ticks "$serve_pid")
	if [[ -n "$perf_pid" ]]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
		perf_pid=""
	fi
	stop_serve
	# Requests echoed over the counted window: the server's own byte count (all of the load run).
	req=$(awk '/^bytes /{print $2 / 64}' "$tmp/serve.out")
	if ! awk -v r="$req" 'BEGIN{exit !(r > 0)}'; then
		echo "echo-bench: $v echoed nothing at $conns connections" >&2
		exit 1
	fi
	cpu=$(awk -v a="$t0" -v b="$t1" -v r="$req" -v hz="$(getconf CLK_TCK)" 'BEGIN{print (b - a) / hz * 1e9 / r}')
	if ((use_perf)); then
		sys=$(awk -F, -v r="$req" '$3 ~ /raw_syscalls:sys_enter/ && $1 ~ /^[0-9]/ {print $1 / r}' "$tmp/c.perf")
		pcpu=$(awk -F, -v r="$req" '$3 ~ /task-clock/ && $1 ~ /^[0-9.]/ {print $1 * 1e6 / r}' "$tmp/c.perf")
		cpu=${pcpu:-$cpu}
	fi
	gen=$(sed -n 's/.*load generator \([0-9.]*\) µs CPU per request.*/\1/p' "$tmp/load.err" | head -1)
	jq -r --arg v "$v" --arg c "$conns" --arg r "$rep" --arg g "${gen:-0}" --arg s "${sys:--1}" --arg cpu "$cpu" '.samples[0] |
		[$v, $c, $r, .ops_per_sec, .latency.p50_ns, .latency.p99_ns,
		 ($s | tonumber), ($s | tonumber), ($cpu | tonumber), (($g | tonumber) * 1000), -1] | @tsv' "$file" >>"$samples"
}

samples=$OUT/samples.tsv
printf 'variant\tconns\trep\treq_s\tp50_ns\tp99_ns\tsys_thread\tsys_process\tcpu_ns\tgen_ns\tenters\n' >"$samples"

for rep in $(seq "$COUNT"); do
	for conns in $CONNS; do
		for v in $BACKENDS $C_SERVERS; do
			file=$OUT/$v-c$conns-r$rep.json
			if [[ $v == c-* ]]; then
				run_c "$v" "$conns" "$rep" "$file"
				printf '.' >&2
				continue
			fi
			start_serve "$v"
			if ! taskset -c "$load_cpu" "$RINGBENCH" load --target "$listen" --control "$control" --control-token-file "$tmp/control-token" --conns "$conns" \
				--msg-size 64 --duration "$DURATION" --warmup 300ms --engine "$ENGINE" --out "$file" --force --format json \
				>/dev/null 2>"$tmp/load.err"; then
				echo "echo-bench: load failed for $v at $conns connections:" >&2
				cat "$tmp/load.err" >&2
				exit 1
			fi
			stop_serve
			gen=$(sed -n 's/.*load generator \([0-9.]*\) µs CPU per request.*/\1/p' "$tmp/load.err" | head -1)
			jq -r --arg v "$v" --arg c "$conns" --arg r "$rep" --arg g "${gen:-0}" '.samples[0] |
				[$v, $c, $r, .ops_per_sec, .latency.p50_ns, .latency.p99_ns,
				 (.syscalls.backend.per_op // -1), (if .syscalls.available then .syscalls.per_op else -1 end),
				 .cpu.per_op_ns, (($g | tonumber) * 1000), .enters_per_op] | @tsv' "$file" >>"$samples"
			printf '.' >&2
		done
	done
done
echo >&2

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo
echo "echo benchmark: 64-byte messages, closed loop, medians of $COUNT interleaved samples of $DURATION"
echo "server: ringbench serve on CPU $server_cpu; load generator: ringbench load --engine $ENGINE on CPU $load_cpu; $(uname -r), $ncpu CPUs"
if [[ -n "$C_SERVERS" ]]; then
	echo "C servers (scripts/c/, on CPU $server_cpu): ${C_SERVERS// /, }; their syscalls and CPU: $( ((use_perf)) && echo "perf stat -p over the whole load run" || echo "syscalls n/a, CPU from /proc/PID/stat") / requests they echoed"
fi
echo
printf '%-18s %5s %10s %9s %9s %14s %15s %12s %12s\n' backend conns "req/s" p50 p99 "sys/req(thr)" "sys/req(proc)" "server µs/req" "loadgen µs/req"
for v in $BACKENDS $C_SERVERS; do
	for conns in $CONNS; do
		col() { awk -F'\t' -v v="$v" -v c="$conns" -v k="$1" 'NR>1 && $1==v && $2==c {print $k}' "$samples" | median; }
		printf '%-18s %5s %10.0f %8.1fµ %8.1fµ %14.2f %15.2f %12.2f %12.2f\n' "$v" "$conns" "$(col 4)" \
			"$(awk "BEGIN{print $(col 5)/1000}")" "$(awk "BEGIN{print $(col 6)/1000}")" "$(col 7)" "$(col 8)" \
			"$(awk "BEGIN{print $(col 9)/1000}")" "$(awk "BEGIN{print $(col 10)/1000}")"
	done
done

if ((IDLE > 0)); then
	echo
	echo "memory per idle connection, $IDLE idle connections (each completed one 64-byte echo first)"
	printf '%-18s %16s %24s\n' backend "server RSS" "kernel slab (both ends)"
	for v in $BACKENDS; do
		start_serve "$v"
		file=$OUT/$v-idle.json
		if ! taskset -c "$load_cpu" "$RINGBENCH" load --target "$listen" --control "$control" --control-token-file "$tmp/control-token" --conns 1 \
			--idle-conns "$IDLE" --duration 200ms --warmup 0s --out "$file" --force --format json \
			>/dev/null 2>"$tmp/load.err"; then
			echo "echo-bench: idle run failed for $v:" >&2
			cat "$tmp/load.err" >&2
			exit 1
		fi
		stop_serve
		jq -r --arg v "$v" '.samples[0].memory | [$v, (.rss_per_conn_bytes|floor), ((.slab_per_conn_bytes // -1)|floor)] |
			"\(.[0])\t\(.[1])\t\(.[2])"' "$file" |
			awk -F'\t' '{printf "%-18s %14s B %22s B\n", $1, $2, ($3 < 0 ? "n/a" : $3)}'
	done
fi
echo
echo "result files and samples.tsv in $OUT"
