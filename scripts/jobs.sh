#!/usr/bin/env bash
# jobs.sh: does --jobs scale? ringbench small-file on one backend (default epoll) with --jobs 1 and --jobs N
# (default 2), run as interleaved pairs (which of the two goes first alternating by round), each a timed
# sample on the same data set, kept between runs and locked in memory:
#
#   ringbench run --workload small-file --backend epoll --jobs J --samples timed --count 1 --warmup 500ms
#                 --duration ${SECS}s --mlock --keep --dir WORK ...
#
# It prints each pair, the medians of total IOPS for both, their ratio and the median of the per-round
# ratios (the goal on a 2-core machine: --jobs 2 at least 1.3x --jobs 1), and the median spread between
# the N threads. It is a benchmark, not a test: on a shared machine IOPS swing between runs; compare the
# per-round ratios.
#
# Usage: scripts/jobs.sh [-n ROUNDS] [-d SECONDS] [-j N] [-b BACKEND] [--dir DIR] [--ringbench BIN]
#
#   -n, --rounds N      interleaved pairs (JOBS_ROUNDS, default 4, at least 4 for a median)
#   -d, --duration S    measured seconds per run (JOBS_SECS, default 2)
#   -j, --jobs N        the --jobs to set against --jobs 1 (JOBS_N, default 2)
#   -b, --backend B     backend (JOBS_BACKEND, default epoll)
#   --dir DIR           where the working directory is made (default $TMPDIR or /tmp); it holds 256 MiB
#   --ringbench BIN     use this binary (RINGBENCH_BIN) instead of building ./cmd/ringbench
#   -h, --help          this text
#
# Exit status: 0 measured, 1 a run failed, 2 bad usage. The working directory is removed on exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

rounds=${JOBS_ROUNDS:-4}
secs=${JOBS_SECS:-2}
n=${JOBS_N:-2}
be=${JOBS_BACKEND:-epoll}
base=${TMPDIR:-/tmp}
rbbin=${RINGBENCH_BIN:-}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
bad() { echo "jobs.sh: $*" >&2; echo "try: $0 --help" >&2; exit 2; }

while (($#)); do
	case $1 in
	-n | --rounds) [[ $# -ge 2 ]] || bad "$1 needs a value"; rounds=$2; shift 2 ;;
	-d | --duration) [[ $# -ge 2 ]] || bad "$1 needs a value"; secs=${2%s}; shift 2 ;;
	-j | --jobs) [[ $# -ge 2 ]] || bad "$1 needs a value"; n=$2; shift 2 ;;
	-b | --backend) [[ $# -ge 2 ]] || bad "$1 needs a value"; be=$2; shift 2 ;;
	--dir) [[ $# -ge 2 ]] || bad "$1 needs a value"; base=$2; shift 2 ;;
	--ringbench) [[ $# -ge 2 ]] || bad "$1 needs a value"; rbbin=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) bad "unknown argument $1" ;;
	esac
done
if ! [[ $rounds =~ ^[0-9]+$ ]] || ((rounds < 1 || rounds > 100)); then bad "--rounds $rounds: a number from 1 to 100"; fi
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1 || secs > 600)); then bad "--duration $secs: whole seconds from 1 to 600"; fi
if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 2 || n > 256)); then bad "--jobs $n: a number from 2 to 256"; fi

work=$(mktemp -d "$base/ringbench-jobs.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ -z $rbbin ]]; then
	rbbin=$work/ringbench
	(cd "$root" && go build -o "$rbbin" ./cmd/ringbench)
fi
mkdir "$work/data"

run() { # run ROUND JOBS
	"$rbbin" run --workload small-file --backend "$be" --jobs "$2" --samples timed --count 1 --warmup 500ms \
		--duration "${secs}s" --mlock --keep --dir "$work/data" --format json -q --out "$work/r-$1-$2.json" >/dev/null 2>"$work/err" ||
		{ cat "$work/err" >&2; exit 1; }
}
echo "jobs.sh: small-file on $be, --jobs 1 vs --jobs $n, $rounds interleaved pairs of ${secs}s ($(nproc) CPUs allowed; load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for ((r = 0; r < rounds; r++)); do
	if ((r % 2 == 0)); then run "$r" 1; run "$r" "$n"; else run "$r" "$n"; run "$r" 1; fi
done
ls "$work"/r-*.json >/dev/null
python3 - "$work" "$rounds" "$n" <<'EOF'
import json, statistics, sys
work, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def sample(r, j):
    with open(f"{work}/r-{r}-{j}.json") as f:
        return [s for s in json.load(f)["samples"] if s.get("kind", "timed") == "timed"][0]
one, many, ratios, lo, hi = [], [], [], [], []
for r in range(rounds):
    a, b = sample(r, 1), sample(r, n)
    one.append(a["ops_per_sec"]); many.append(b["ops_per_sec"]); ratios.append(b["ops_per_sec"] / a["ops_per_sec"])
    th = [t["ops_per_sec"] for t in b.get("threads", [])]
    lo.append(min(th)); hi.append(max(th))
    print(f"round {r}: --jobs 1 {a['ops_per_sec']/1e3:8.0f}k  --jobs {n} {b['ops_per_sec']/1e3:8.0f}k  "
          f"({', '.join(f'{x/1e3:.0f}k' for x in th)} per thread)  ratio {ratios[-1]:.2f}")
m1, mn = statistics.median(one), statistics.median(many)
print(f"median IOPS: --jobs 1 {m1/1e3:.0f}k, --jobs {n} {mn/1e3:.0f}k: {mn/m1:.2f}x "
      f"(median of per-round ratios {statistics.median(ratios):.2f}x); per-thread spread (medians) "
      f"{statistics.median(lo)/1e3:.0f}k-{statistics.median(hi)/1e3:.0f}k")
EOF
