#!/usr/bin/env bash
# scaling.sh: the scaling set — how epoll, uring and sqpoll scale with threads, in one interleaved run
# and a report:
#
#   ringbench run --workload small-file,echo-proxy --backend epoll,uring,sqpoll \
#       --jobs 1,2,4,8 --threads 1,2,4,8 --gen-threads threads --conns 128 --multishot
#   ringbench report OUT/scaling.json --out OUT/report
#
# Each workload sweeps the flag it reads: small-file its --jobs points, echo-proxy its --threads points,
# with as many load generator threads as the server has at each (--gen-threads threads). Every point on
# every backend is a series, and each round of samples takes all of a workload's series in turn, so that
# a drift of the machine hits every point alike. The report's Sweeps section draws ops/s against jobs and
# against threads per backend with a dashed line for perfect scaling (the 1-thread median × n) and the
# scaling efficiency at each point, and CPU/op, syscalls/op and p99 against them. On a machine with fewer
# CPUs than server and generator threads together, they share CPUs, and the report's generator warning
# says when the generator is the bottleneck. With the defaults (4 timed and 4 counted samples of 1 s per
# series, 12 series per workload) the set takes about 4 minutes.
#
# It needs only bash, coreutils and a ringbench binary: a static one (CGO_ENABLED=0 go build) runs on a
# machine with no Go.
#
# Usage: scripts/scaling.sh [-h]      (from anywhere)
# Environment:
#   RINGBENCH  ringbench binary (default ./ringbench when it exists, else built from this tree with go)
#   OUT        directory for the result files and the report (default results/scaling-<UTC time>)
#   BACKENDS   default epoll,uring,sqpoll
#   JOBS       small-file --jobs values, default 1,2,4,8
#   THREADS    echo-proxy --threads values, default 1,2,4,8
#   GEN_THREADS  echo-proxy load generator threads: threads (default: as many as --threads at each
#              point), a number, or a comma list (a sweep of its own)
#   CONNS      echo-proxy connections, default 128
#   COUNT      samples of each kind per series, default 4;  DURATION  per sample, default 1s
#   SQ_SHARE   1 for small-file --sq-share (sqpoll rings share one poll thread), default 0 (one per ring)
#   MULTISHOT  1 (default) for --multishot on uring/sqpoll, 0 for plain recv
#
# Exit status: 0 done, 1 a run or the report failed, 2 bad usage.
set -euo pipefail

prog=scaling
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "$prog: $*" >&2; exit 1; }
bad() { echo "$prog: $*" >&2; echo "try: $0 --help" >&2; exit 2; }

case ${1:-} in
-h | --help) usage; exit 0 ;;
"") ;;
*) bad "unknown argument $1" ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

BACKENDS=${BACKENDS:-epoll,uring,sqpoll}
JOBS=${JOBS:-1,2,4,8}
THREADS=${THREADS:-1,2,4,8}
CONNS=${CONNS:-128}
COUNT=${COUNT:-4}
DURATION=${DURATION:-1s}
SQ_SHARE=${SQ_SHARE:-0}
MULTISHOT=${MULTISHOT:-1}
OUT=${OUT:-results/scaling-$(date -u +%Y%m%d-%H%M%S)}

list_re='^[0-9]+(,[0-9]+)*$'
[[ $JOBS =~ $list_re ]] || bad "JOBS=$JOBS: a comma list of numbers (1,2,4,8)"
[[ $THREADS =~ $list_re ]] || bad "THREADS=$THREADS: a comma list of numbers (1,2,4,8)"
if ! [[ $COUNT =~ ^[0-9]+$ ]] || ((COUNT < 1)); then bad "COUNT=$COUNT: a number of samples, at least 1"; fi
GEN_THREADS=${GEN_THREADS:-threads}
[[ $GEN_THREADS == threads || $GEN_THREADS =~ $list_re ]] || bad "GEN_THREADS=$GEN_THREADS: threads, or a comma list of numbers"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z ${RINGBENCH:-} ]]; then
	if [[ -x ./ringbench ]]; then
		RINGBENCH=./ringbench
	elif command -v go >/dev/null; then
		echo "$prog: building ringbench" >&2
		(cd "$root" && CGO_ENABLED=0 go build -o "$tmp/ringbench" ./cmd/ringbench) || die "go build ./cmd/ringbench failed"
		RINGBENCH=$tmp/ringbench
	else
		bad "no ./ringbench and no go here: set RINGBENCH to a (static) ringbench binary"
	fi
fi
[[ -x $RINGBENCH ]] || bad "RINGBENCH=$RINGBENCH is not an executable"
mkdir -p "$OUT" || die "cannot make $OUT"

common=(--backend "$BACKENDS" --count "$COUNT" --duration "$DURATION" --force --quiet)
sq=()
if [[ $SQ_SHARE == 1 ]]; then sq+=(--sq-share); fi
net=()
if [[ $MULTISHOT == 1 ]]; then net+=(--multishot); fi

echo "$prog: $(nproc) CPUs, kernel $(uname -r); $BACKENDS; $COUNT samples of $DURATION per series and kind; results in $OUT"

echo "== small-file --jobs $JOBS${sq:+ ${sq[*]}}; echo-proxy --threads $THREADS --gen-threads $GEN_THREADS --conns $CONNS${net:+ ${net[*]}}"
"$RINGBENCH" run --workload small-file,echo-proxy --jobs "$JOBS" "${sq[@]}" \
	--threads "$THREADS" --gen-threads "$GEN_THREADS" --conns "$CONNS" "${net[@]}" "${common[@]}" \
	--out "$OUT/scaling.json" || die "the scaling run failed"

echo "== report"
"$RINGBENCH" report --out "$OUT/report" --force "$OUT/scaling.json" || die "ringbench report failed"
echo "$prog: results in $OUT; report: $OUT/report/index.html (section Sweeps)"
