#!/usr/bin/env bash
# ci-regression.sh: build ringbench, run a short suite, compare, print Markdown and exit as `ringbench
# compare` does:
#   0 no regression, 1 regression, 2 usage or I/O error (also: build or run failed, baseline missing),
#   3 not comparable (fingerprints differ, or under --strict a figure is missing or has too few values),
#   4 inconclusive (no regression found, but too few samples for some comparisons; only without --strict,
#     i.e. RINGBENCH_STRICT=0: under --strict that is 3), 5 internal error in compare.
#
# Two modes:
#
# Baseline mode (the default): run the suite and compare it with a stored baseline. It gates only the nearly
# deterministic metrics (syscalls/op, enters/op), and takes counted samples only (`run --samples counted`).
# syscalls/op is the I/O thread's (the rest of ringbench's threads make syscalls per second, not per op, so
# their share per op grows on a slower machine): it does not depend on the machine's speed, so a baseline
# from another machine suits it. compare's ordering rule: a regression when every new sample is worse than
# every baseline sample by more than the threshold (5%) and by more than 0.005 per op. One extra syscall per
# 100 operations fails it, on a noisy machine too.
#
# A/B mode (RINGBENCH_AB_BASE=<git ref>): build that ref (in a temporary git worktree) and the working tree,
# run them interleaved on this machine in this job (base, head, base, head ... RINGBENCH_AB_ROUNDS rounds,
# each round RINGBENCH_COUNT/rounds samples of each series, timed and counted), and compare head against base
# on every metric: timing metrics (ops/s, latency, CPU/op) are only comparable on one machine at one time.
# No stored baseline is read.
#
# When $GITHUB_STEP_SUMMARY is set, compare appends the Markdown there as well.
#
# Environment (all optional):
#   RINGBENCH_BASELINE       baseline result file            (results/baseline-ci.json)
#   RINGBENCH_WORKLOADS      workloads to run                (small-file,many-file)
#   RINGBENCH_BACKENDS       backends to run                 (epoll,uring)
#   RINGBENCH_COUNT          samples per series              (6; the ordering rule needs 3, the U-test 4)
#   RINGBENCH_DURATION       duration of each sample         (300ms)
#   RINGBENCH_WARMUP         warm-up before each sample      (200ms)
#   RINGBENCH_SAMPLES        run --samples                   (counted; A/B mode: timed,counted)
#   RINGBENCH_METRICS        metrics to gate                 (syscalls/op,enters/op; A/B mode: every metric)
#   RINGBENCH_THRESHOLD      regression threshold            (5%)
#   RINGBENCH_MIN_ABS_CHANGE absolute margin of the ordering rule (0.005)
#   RINGBENCH_STRICT         1: a metric missing or too few samples is exit 3, not a silent pass (1)
#   RINGBENCH_ALLOW_MISMATCH 1: compare across different CPUs/VMs (1 in baseline mode, since the I/O thread's
#                            syscall counts do not depend on the CPU; set 0 when gating timing metrics)
#   RINGBENCH_COMPARE_FLAGS  further compare flags, e.g. "--metric-threshold syscalls/op=2%"
#   RINGBENCH_RUN_FLAGS      further run flags
#   RINGBENCH_NEW            where the new result goes (a temporary file); if it already exists it is
#                            compared as it is and no suite is run (baseline mode)
#   RINGBENCH_BIN            a ringbench binary to use instead of building one (the head, in A/B mode)
#   RINGBENCH_SUDO           1: run `ringbench run` with sudo (perf events need root on hosted runners);
#                            git, the builds and compare stay with the calling user
#   RINGBENCH_AB_BASE        A/B mode: the git ref to compare against, e.g. origin/main or $BASE_SHA
#   RINGBENCH_AB_ROUNDS      A/B mode: interleaved rounds    (3; RINGBENCH_COUNT is split among them)
#   RINGBENCH_AB_OUT         A/B mode: keep the result files in this directory (default: a temporary one)
#
# To refresh the baseline on the reference machine, run the same suite into RINGBENCH_BASELINE:
#   ringbench run --workload small-file,many-file --backend epoll,uring --count 6 --duration 300ms \
#     --warmup 200ms --samples counted --label baseline-ci --out /tmp/ci.json --save-baseline results/baseline-ci.json
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

ab_base=${RINGBENCH_AB_BASE:-}
baseline=${RINGBENCH_BASELINE:-results/baseline-ci.json}
workloads=${RINGBENCH_WORKLOADS:-small-file,many-file}
backends=${RINGBENCH_BACKENDS:-epoll,uring}
count=${RINGBENCH_COUNT:-6}
duration=${RINGBENCH_DURATION:-300ms}
warmup=${RINGBENCH_WARMUP:-200ms}
threshold=${RINGBENCH_THRESHOLD:-5%}
min_abs=${RINGBENCH_MIN_ABS_CHANGE:-0.005}
strict=${RINGBENCH_STRICT:-1}
rounds=${RINGBENCH_AB_ROUNDS:-3}
if [[ -n $ab_base ]]; then
	samples=${RINGBENCH_SAMPLES:-timed,counted}
	metrics=${RINGBENCH_METRICS:-}
	allow_mismatch=${RINGBENCH_ALLOW_MISMATCH:-0}
else
	samples=${RINGBENCH_SAMPLES:-counted}
	metrics=${RINGBENCH_METRICS:-syscalls/op,enters/op}
	allow_mismatch=${RINGBENCH_ALLOW_MISMATCH:-1}
fi

say() { echo "ci-regression: $*" >&2; }

runas=()
[[ ${RINGBENCH_SUDO:-0} == 1 ]] && runas=(sudo)

if [[ -z $ab_base && ! -f $baseline ]]; then
	say "no baseline at $baseline; create one with the same suite (see the top of $0)"
	exit 2
fi

tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ringbench-ci.XXXXXX") || exit 2
worktree=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [[ -n $worktree ]]; then
		git worktree remove --force "$worktree" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# build DIR OUT LABEL builds ringbench from the source tree DIR into OUT.
build() {
	local dir=$1 out=$2 label=$3 commit
	commit=$(git -C "$dir" rev-parse --short HEAD 2>/dev/null || true)
	say "building ringbench ($label${commit:+ at $commit})"
	if ! (cd "$dir" && go build -ldflags "-X main.version=$label -X main.commit=$commit" -o "$out" ./cmd/ringbench); then
		say "build of $label failed"
		return 1
	fi
}

# suite BIN OUT COUNT [run flags...] runs the suite once into OUT.
suite() {
	local bin=$1 out=$2 n=$3 kinds=()
	shift 3
	# A base built before `run --samples` existed takes its samples as it always did.
	if "$bin" run --help 2>&1 | grep -q -- '--samples'; then
		kinds=(--samples "$samples")
	fi
	# shellcheck disable=SC2086 # RINGBENCH_RUN_FLAGS is a list of flags
	"${runas[@]}" "$bin" run --workload "$workloads" --backend "$backends" --count "$n" "${kinds[@]}" \
		--duration "$duration" --warmup "$warmup" "$@" ${RINGBENCH_RUN_FLAGS:-} --out "$out" >&2
	local rc=$?
	if ((rc != 0)); then
		say "ringbench run failed with exit status $rc"
		# 3 means a backend cannot run here: not comparable. Anything else is not a verdict either.
		if ((rc == 3)); then return 3; fi
		return 2
	fi
}

flags=(--format markdown --threshold "$threshold" --min-abs-change "$min_abs")
[[ -n $metrics ]] && flags+=(--metrics "$metrics")
[[ $strict == 1 ]] && flags+=(--strict)
[[ $allow_mismatch == 1 ]] && flags+=(--allow-mismatch)
# shellcheck disable=SC2206 # RINGBENCH_COMPARE_FLAGS is a list of flags
flags+=(${RINGBENCH_COMPARE_FLAGS:-})

if [[ -n $ab_base ]]; then
	if ! base_rev=$(git rev-parse --verify --quiet "$ab_base^{commit}"); then
		say "RINGBENCH_AB_BASE=$ab_base: not a commit here (fetch it first, e.g. actions/checkout with fetch-depth: 0)"
		exit 2
	fi
	if ((rounds < 1 || count < rounds)); then
		say "RINGBENCH_AB_ROUNDS=$rounds: want 1..RINGBENCH_COUNT ($count)"
		exit 2
	fi
	per=$((count / rounds))
	worktree=$tmp/base-src
	if ! git worktree add --detach --quiet "$worktree" "$base_rev"; then
		worktree=""
		say "cannot check out $ab_base in a worktree"
		exit 2
	fi
	build "$worktree" "$tmp/ringbench-base" base || exit 2
	head_bin=${RINGBENCH_BIN:-}
	if [[ -z $head_bin ]]; then
		head_bin=$tmp/ringbench-head
		build . "$head_bin" head || exit 2
	fi
	out=${RINGBENCH_AB_OUT:-$tmp/results}
	mkdir -p "$out" || exit 2
	say "A/B: $ab_base ($base_rev) against the working tree; $rounds rounds of $per samples per series each," \
		"workloads $workloads, backends $backends, $duration (warm-up $warmup)"
	files_base=() files_head=()
	for ((r = 1; r <= rounds; r++)); do
		for side in base head; do
			bin=$tmp/ringbench-base
			[[ $side == head ]] && bin=$head_bin
			say "round $r/$rounds: $side"
			suite "$bin" "$out/$side-$r.json" "$per" --label "$side" --quiet --force || exit $?
		done
		files_base+=("$out/base-$r.json")
		files_head+=("$out/head-$r.json")
	done
	# Files sharing a label are pooled: base is the first set, head the second.
	"$head_bin" compare "${flags[@]}" "${files_base[@]}" "${files_head[@]}"
	rc=$?
	against="$ab_base"
else
	bin=${RINGBENCH_BIN:-}
	if [[ -z $bin ]]; then
		bin=$tmp/ringbench
		build . "$bin" ci || exit 2
	fi
	new=${RINGBENCH_NEW:-$tmp/new.json}
	if [[ -e $new ]]; then
		say "comparing the existing result $new (no suite run)"
	else
		say "running: workloads $workloads, backends $backends, $count x $duration (warm-up $warmup), samples $samples"
		suite "$bin" "$new" "$count" || exit $?
	fi
	"$bin" compare "${flags[@]}" --group-by file "$baseline" "$new"
	rc=$?
	against="$baseline"
fi

case $rc in
0) say "no regression" ;;
1) say "REGRESSION against $against" ;;
3) say "not comparable with $against" ;;
4) say "inconclusive against $against: too few samples (raise RINGBENCH_COUNT)" ;;
5) say "compare failed: internal error" ;;
*) say "compare failed (exit status $rc)" ;;
esac
exit $rc
