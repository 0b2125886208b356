#!/usr/bin/env bash
# ci-regression.sh: build ringbench, run a short suite, compare it with a stored baseline, print Markdown and
# exit as `ringbench compare` does:
#   0 no regression, 1 regression, 2 usage or I/O error (also: build or run failed, baseline missing),
#   3 not comparable (fingerprints differ, or under --strict a figure is missing or has too few values).
#
# By default it gates only the nearly deterministic metrics (syscalls/op, enters/op) with compare's ordering
# rule: a regression when every new sample is worse than every baseline sample by more than the threshold
# (5%) and by more than 0.01 per op. One extra syscall per operation fails it, on a noisy machine too.
# When $GITHUB_STEP_SUMMARY is set, compare appends the Markdown there as well.
#
# Environment (all optional):
#   RINGBENCH_BASELINE       baseline result file            (results/baseline-ci.json)
#   RINGBENCH_WORKLOADS      workloads to run                (small-file,many-file)
#   RINGBENCH_BACKENDS       backends to run                 (all)
#   RINGBENCH_COUNT          repeats per series              (6; the ordering rule needs 3, the U-test 4)
#   RINGBENCH_DURATION       duration of each sample         (300ms)
#   RINGBENCH_WARMUP         warm-up before each sample      (200ms)
#   RINGBENCH_METRICS        metrics to gate                 (syscalls/op,enters/op)
#   RINGBENCH_THRESHOLD      regression threshold            (5%)
#   RINGBENCH_STRICT         1: a metric missing or too few samples is exit 3, not a silent pass (1)
#   RINGBENCH_ALLOW_MISMATCH 1: compare across different CPUs/VMs (1, since syscall counts do not depend on the
#                            CPU model; set 0 when gating timing metrics such as ops/s)
#   RINGBENCH_COMPARE_FLAGS  further compare flags, e.g. "--metric-threshold syscalls/op=2%"
#   RINGBENCH_RUN_FLAGS      further run flags
#   RINGBENCH_NEW            where the new result goes (a temporary file); if it already exists it is
#                            compared as it is and no suite is run
#   RINGBENCH_BIN            a ringbench binary to use instead of building one
#
# To refresh the baseline on the reference machine, run the same suite into RINGBENCH_BASELINE, e.g.
#   ringbench run --workload small-file,many-file --backend all --count 6 --duration 300ms --warmup 200ms \
#     --out /tmp/ci.json --save-baseline results/baseline-ci.json
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

baseline=${RINGBENCH_BASELINE:-results/baseline-ci.json}
workloads=${RINGBENCH_WORKLOADS:-small-file,many-file}
backends=${RINGBENCH_BACKENDS:-all}
count=${RINGBENCH_COUNT:-6}
duration=${RINGBENCH_DURATION:-300ms}
warmup=${RINGBENCH_WARMUP:-200ms}
metrics=${RINGBENCH_METRICS:-syscalls/op,enters/op}
threshold=${RINGBENCH_THRESHOLD:-5%}
strict=${RINGBENCH_STRICT:-1}
allow_mismatch=${RINGBENCH_ALLOW_MISMATCH:-1}

say() { echo "ci-regression: $*" >&2; }

if [[ ! -f $baseline ]]; then
	say "no baseline at $baseline; create one with the same suite (see the top of $0)"
	exit 2
fi

tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ringbench-ci.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

bin=${RINGBENCH_BIN:-}
if [[ -z $bin ]]; then
	bin=$tmp/ringbench
	commit=$(git rev-parse --short HEAD 2>/dev/null || true)
	say "building ringbench${commit:+ at $commit}"
	if ! go build -ldflags "-X main.version=ci -X main.commit=$commit" -o "$bin" ./cmd/ringbench; then
		say "build failed"
		exit 2
	fi
fi

new=${RINGBENCH_NEW:-$tmp/new.json}
if [[ -e $new ]]; then
	say "comparing the existing result $new (no suite run)"
else
	say "running: workloads $workloads, backends $backends, $count x $duration (warm-up $warmup)"
	# shellcheck disable=SC2086 # RINGBENCH_RUN_FLAGS is a list of flags
	"$bin" run --workload "$workloads" --backend "$backends" --count "$count" \
		--duration "$duration" --warmup "$warmup" ${RINGBENCH_RUN_FLAGS:-} --out "$new" >&2
	rc=$?
	if ((rc != 0)); then
		say "ringbench run failed with exit status $rc"
		# 3 means a backend cannot run here: not comparable. Anything else is not a verdict either.
		if ((rc == 3)); then exit 3; fi
		exit 2
	fi
fi

flags=(--format markdown --group-by file --metrics "$metrics" --threshold "$threshold")
[[ $strict == 1 ]] && flags+=(--strict)
[[ $allow_mismatch == 1 ]] && flags+=(--allow-mismatch)
# shellcheck disable=SC2206 # RINGBENCH_COMPARE_FLAGS is a list of flags
flags+=(${RINGBENCH_COMPARE_FLAGS:-})

"$bin" compare "${flags[@]}" "$baseline" "$new"
rc=$?
case $rc in
0) say "no regression" ;;
1) say "REGRESSION against $baseline" ;;
3) say "not comparable with $baseline" ;;
*) say "compare failed (exit status $rc)" ;;
esac
exit $rc
