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
# Usage: scripts/echo-bench.sh            (from the repository root)
# Environment:
#   RINGBENCH   ringbench binary to use (default: built from this tree into a temporary directory)
#   BACKENDS    variants, default "epoll uring uring-multishot sqpoll-multishot gostd"
#   CONNS       default "1 16 128"
#   COUNT       repeats per point, default 3
#   DURATION    measured window per sample, default 3s
#   IDLE        idle connections for the memory figure, default 10000 (0: skip)
#   ENGINE      the load generator's own I/O engine: auto (io_uring where allowed), uring or epoll
#   OUT         directory for result files, default results/echo-bench-<UTC time>
set -euo pipefail

BACKENDS=${BACKENDS:-"epoll uring uring-multishot sqpoll-multishot gostd"}
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
cleanup() {
	if [[ -n "$serve_pid" ]] && kill -0 "$serve_pid" 2>/dev/null; then
		kill -TERM "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
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
	taskset -c "$server_cpu" "$RINGBENCH" serve $(variant_args "$1") --max-conns 16384 >"$out" 2>"$tmp/serve.err" &
	serve_pid=$!
	for _ in $(seq 200); do
		if grep -q '^control ' "$out"; then
			listen=$(awk '/^listening /{print $2}' "$out")
			control=$(awk '/^control /{print $2}' "$out")
			return 0
		fi
		kill -0 "$serve_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "echo-bench: ringbench serve $1 did not start:" >&2
	cat "$tmp/serve.err" >&2
	exit 1
}

stop_serve() {
	kill -TERM "$serve_pid"
	wait "$serve_pid" || true
	serve_pid=""
}

samples=$OUT/samples.tsv
printf 'variant\tconns\trep\treq_s\tp50_ns\tp99_ns\tsys_thread\tsys_process\tcpu_ns\tgen_ns\tenters\n' >"$samples"

for rep in $(seq "$COUNT"); do
	for conns in $CONNS; do
		for v in $BACKENDS; do
			start_serve "$v"
			file=$OUT/$v-c$conns-r$rep.json
			if ! taskset -c "$load_cpu" "$RINGBENCH" load --target "$listen" --control "$control" --conns "$conns" \
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
echo
printf '%-18s %5s %10s %9s %9s %14s %15s %12s %12s\n' backend conns "req/s" p50 p99 "sys/req(thr)" "sys/req(proc)" "server µs/req" "loadgen µs/req"
for v in $BACKENDS; do
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
		if ! taskset -c "$load_cpu" "$RINGBENCH" load --target "$listen" --control "$control" --conns 1 \
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
