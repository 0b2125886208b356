#!/usr/bin/env bash
# threads: echo-proxy with N server event loops (--threads) against a multi-threaded load generator
# (--gen-threads): does the server scale with loops, and is the generator keeping up?
#
# Each point is one `ringbench run --workload echo-proxy` (timed and counted samples, interleaved as run
# does), its table printed as it comes, then one summary line per point: requests/s (median of the timed
# samples), p50/p99, syscalls per request on the server's I/O threads (all N loops; counted samples), and
# whether ringbench flagged the generator as the bottleneck. run gives the generator the last GEN_THREADS
# CPUs (when at least twice as many are allowed) and the server the rest, so on a 16-core machine
# THREADS="1 2 4 8" with GEN_THREADS=4 leaves the server 12 cores; on 2 cores both share and little change
# is to be expected. A point with more loops than the server's CPUs is still run, and says so.
#
# It needs only bash, coreutils and the ringbench binary (a static one: CGO_ENABLED=0 go build, for a
# machine without Go); jq, when present, makes the summary.
#
# Usage: scripts/threads.sh            (from the repository root)
# Environment:
#   RINGBENCH    ringbench binary (default: built statically from this tree into a temporary directory)
#   BACKEND      server backend, default uring (sqpoll, epoll, gostd work too)
#   MULTISHOT    1 (default) for --multishot on uring/sqpoll, 0 for plain recv
#   THREADS      server loops, default "1 2 4 8" cut to what the CPUs allow (at least "1 2")
#   GEN_THREADS  load generator threads, default 2 (a quarter of the CPUs on 16 or more)
#   CONNS        connections, default 128
#   COUNT        samples per point, default 3;  DURATION  window per sample, default 2s
#   OUT          directory for result files, default results/threads-<UTC time>
set -euo pipefail

ncpu=$(nproc)
GEN_THREADS=${GEN_THREADS:-$(( ncpu >= 16 ? ncpu / 4 : 2 ))}
if [[ -z "${THREADS:-}" ]]; then
	THREADS=""
	for t in 1 2 4 8 16 32; do
		if (( t <= 2 || t <= ncpu - GEN_THREADS )); then THREADS+="$t "; fi
	done
fi
BACKEND=${BACKEND:-uring}
MULTISHOT=${MULTISHOT:-1}
CONNS=${CONNS:-128}
COUNT=${COUNT:-3}
DURATION=${DURATION:-2s}
OUT=${OUT:-results/threads-$(date -u +%Y%m%d-%H%M%S)}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z "${RINGBENCH:-}" ]]; then
	command -v go >/dev/null || { echo "threads: no go here: set RINGBENCH to a (static) ringbench binary" >&2; exit 2; }
	CGO_ENABLED=0 go build -o "$tmp/ringbench" ./cmd/ringbench
	RINGBENCH=$tmp/ringbench
fi
mkdir -p "$OUT"

extra=()
if [[ "$MULTISHOT" == 1 && ( "$BACKEND" == uring || "$BACKEND" == sqpoll ) ]]; then extra+=(--multishot); fi
server_cpus=$(( ncpu >= 2 * GEN_THREADS ? ncpu - GEN_THREADS : ncpu - 1 ))
echo "threads: $ncpu CPUs; server loops: $THREADS; generator threads: $GEN_THREADS; $CONNS connections; $BACKEND ${extra[*]}"
for t in $THREADS; do
	note=""
	if (( t > server_cpus )); then note=" (more loops than the server's $server_cpus CPUs)"; fi
	echo "== --threads $t --gen-threads $GEN_THREADS$note"
	"$RINGBENCH" run --workload echo-proxy --backend "$BACKEND" "${extra[@]}" --threads "$t" --gen-threads "$GEN_THREADS" \
		--conns "$CONNS" --count "$COUNT" --duration "$DURATION" --out "$OUT/threads-$t.json" --force --quiet
done

if command -v jq >/dev/null; then
	echo
	printf '%-8s %12s %10s %10s %12s  %s\n' threads "req/s" "p50 µs" "p99 µs" "sys/req(io)" "generator"
	for t in $THREADS; do
		jq -r --arg t "$t" '
			def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
			[.samples[] | select(.kind != "counted")] as $timed
			| [.samples[] | select(.kind == "counted") | .syscalls.backend.per_op // empty] as $sys
			| [$t,
			   ($timed | map(.ops_per_sec) | med | floor),
			   ($timed | map(.latency.p50_ns / 1000) | med),
			   ($timed | map(.latency.p99_ns / 1000) | med),
			   ($sys | med),
			   (if [.samples[].warnings[]? | select(.kind == "generator-bottleneck")] | length > 0
			    then "MAY BE THE BOTTLENECK" else "ok" end)]
			| @tsv' "$OUT/threads-$t.json" |
			awk -F'\t' '{ printf "%-8s %12s %10.1f %10.1f %12s  %s\n", $1, $2, $3, $4, ($5 == "" ? "n/a" : sprintf("%.2f", $5)), $6 }'
	done
fi
echo "results: $OUT"
