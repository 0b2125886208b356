#!/usr/bin/env bash
# truth.sh: how true are the default run's timing figures? A benchmark, not a test: it prints figures and
# whether they meet their goals, and exits 0 unless something failed to run.
#
# 1. The default run (timed and counted samples) against --count-syscalls=false (timed samples only):
#    epoll small-file ops/s, the figure tracepoints skewed most when they were open during every sample.
#    PAIRS interleaved pairs of runs (default first in odd pairs, second in even ones, so drift cancels);
#    the medians of each side are compared. Goal: within 3%.
# 2. What measuring costs per op (one histogram record and the clock reads that time it: the Go benchmark
#    BenchmarkMeasurementPerOp in workloads/internal/filedrive, two reads per op as epoll and gostd take them,
#    or two per batch of 32 as uring and sqpoll do) against the op time of the fastest backend on small-file
#    (1 / its median ops/s in a run of every backend), with the variant that backend uses. Goal: under 3%.
#
# Run as root (syscall counting needs perf events). On a shared machine, say so next to the figures:
# throughput varies up to 2x between runs there; ratios of interleaved medians are what holds.
#
# Environment (all optional):
#   TRUTH_PAIRS     interleaved pairs for 1.          (6; at least 4)
#   TRUTH_DURATION  sample duration                   (1s)
#   TRUTH_WARMUP    warm-up                           (300ms)
#   TRUTH_FLAGS     further run flags (e.g. --dir)
#   RINGBENCH_BIN   a ringbench binary to use instead of building one
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

pairs=${TRUTH_PAIRS:-6}
duration=${TRUTH_DURATION:-1s}
warmup=${TRUTH_WARMUP:-300ms}
if ((pairs < 4)); then
	echo "truth: TRUTH_PAIRS=$pairs: at least 4" >&2
	exit 2
fi

say() { echo "truth: $*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ringbench-truth.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

bin=${RINGBENCH_BIN:-}
if [[ -z $bin ]]; then
	bin=$tmp/ringbench
	say "building ringbench"
	go build -o "$bin" ./cmd/ringbench || exit 2
fi

# opsps RUN-FLAGS... runs small-file once and prints the median ops/s of each backend's timed samples,
# one "backend ops/s" line each (from the Go benchmark text: only timed samples carry ops/s).
opsps() {
	# shellcheck disable=SC2086 # TRUTH_FLAGS is a list of flags
	"$bin" run --workload small-file --duration "$duration" --warmup "$warmup" --format gobench --quiet \
		${TRUTH_FLAGS:-} "$@" --out "$tmp/r-$RANDOM$RANDOM.json" |
		awk '/^Benchmark/ {
			for (i = 1; i < NF; i++) if ($(i+1) == "ops/s") { split($1, p, "/"); sub("backend=", "", p[2]); print p[2], $i }
		}' | sort -k1,1 -k2,2g |
		awk '{ n[$1]++; v[$1, n[$1]] = $2 }
		END { for (b in n) { k = n[b]; print b, k % 2 ? v[b, (k+1)/2] : (v[b, k/2] + v[b, k/2+1]) / 2 } }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }

say "1. epoll small-file: default run vs --count-syscalls=false, $pairs interleaved pairs of $duration samples"
: >"$tmp/default" && : >"$tmp/uncounted"
for ((i = 1; i <= pairs; i++)); do
	order=(default uncounted)
	((i % 2 == 0)) && order=(uncounted default)
	for side in "${order[@]}"; do
		flags=(--backend epoll --count 1)
		[[ $side == uncounted ]] && flags+=(--count-syscalls=false)
		v=$(opsps "${flags[@]}" | awk '$1 == "epoll" { print $2 }')
		if [[ -z $v ]]; then
			say "run failed ($side, pair $i)"
			exit 2
		fi
		echo "$v" >>"$tmp/$side"
		say "  pair $i $side: $v ops/s"
	done
done
d=$(median <"$tmp/default")
u=$(median <"$tmp/uncounted")
# Each pair's ratio too: on a machine whose speed drifts, the median of ratios within pairs is steadier.
pr=$(paste -d' ' "$tmp/default" "$tmp/uncounted" | awk '{ print $1 / $2 }' | median)

say "2. what measuring costs per op, against the fastest backend's op time"
go test -run '^$' -bench '^BenchmarkMeasurementPerOp$' -count 5 ./workloads/internal/filedrive >"$tmp/bench" 2>&1
per_op=$(awk '/^BenchmarkMeasurementPerOp\/clock-per-op/ { print $3 }' "$tmp/bench" | median)
per_batch=$(awk '/^BenchmarkMeasurementPerOp\/clock-per-batch/ { print $3 }' "$tmp/bench" | median)
fastest=$(opsps --backend all --count 3 --count-syscalls=false | sort -k2 -g | tail -1)
case ${fastest%% *} in
uring | sqpoll) cost=$per_batch variant=clock-per-batch ;;
*) cost=$per_op variant=clock-per-op ;;
esac

echo "ringbench truth ($(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
awk -v d="$d" -v u="$u" -v n="$pairs" -v pr="$pr" 'BEGIN {
	r = d / u
	printf "1. epoll small-file ops/s, medians of %d interleaved pairs: default run %.0f, --count-syscalls=false %.0f: ratio %.3f (%s, goal within 3%%); median of the pairs\x27 ratios %.3f\n",
		n, d, u, r, (r > 0.97 && r < 1.03) ? "MET" : "NOT MET", pr
}'
awk -v c="$cost" -v f="$fastest" -v v="$variant" -v po="$per_op" -v pb="$per_batch" 'BEGIN {
	split(f, x, " "); optime = 1e9 / x[2]; share = c / optime
	printf "2. measuring per op (BenchmarkMeasurementPerOp, medians of 5): clock-per-op %.1f ns, clock-per-batch %.1f ns; fastest backend %s at %.0f ops/s = %.0f ns per op: %s %.2f%% (%s, goal under 3%%)\n",
		po, pb, x[1], x[2], optime, v, 100 * share, share < 0.03 ? "MET" : "NOT MET"
}'
