#!/usr/bin/env bash
# soak.sh: run every workload on every backend, one `ringbench run` at a time, round after round, for
# minutes, and fail on the first error or leak, or on memory that grows. Not for CI (the one-minute variant
# is cmd/ringbench/soak_test.go: RINGBENCH_SOAK=1 go test -run '^TestSoak$' ./cmd/ringbench/).
#
# A one-shot process's descriptors and goroutines cannot be watched from outside (the leak tests of
# workloads/leak_test.go do that in-process); what is checked after every run is what can outlive it:
#   - exit status 0, and every sample present with operations done;
#   - no process left running the binary (a load-generator child that outlived its parent, say);
#   - nothing left in the run's TMPDIR, a private directory that is also the default --dir: no data set
#     directory, partial data set, --dir probe file or tracefs mount point;
#   - no TCP listener held by a ringbench process after the round;
#   - stable memory, from the result files' peak_rss_bytes (reset before each sample): within a run the
#     last sample's peak at most 25% + 8 MiB over the first's, and across rounds the last round's median at
#     most 50% + 16 MiB over the first round's, for every workload/backend series.
#
# Exit status: 0 clean, 1 a failure (named on stderr), 2 bad environment (build failed, bad setting).
#
# Environment (all optional):
#   RINGBENCH_BIN            binary to soak (default: built from this tree into the work directory)
#   RINGBENCH_SOAK_ROUNDS    rounds (10)
#   RINGBENCH_SOAK_WORKLOADS workloads, comma-separated (small-file,many-file,echo-proxy; one that `run`
#                            does not know is skipped with a note)
#   RINGBENCH_SOAK_BACKENDS  backends (epoll,uring,sqpoll,gostd; one that cannot run here is skipped)
#   RINGBENCH_SOAK_COUNT     samples per run (5)
#   RINGBENCH_SOAK_DURATION  sample length (500ms)
#   RINGBENCH_SOAK_FLAGS     further run flags for every run
#   RINGBENCH_SOAK_KEEP      1: keep the work directory (result files, logs) at the end
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2

rounds=${RINGBENCH_SOAK_ROUNDS:-10}
workloads=${RINGBENCH_SOAK_WORKLOADS:-small-file,many-file,echo-proxy}
backends=${RINGBENCH_SOAK_BACKENDS:-epoll,uring,sqpoll,gostd}
count=${RINGBENCH_SOAK_COUNT:-5}
duration=${RINGBENCH_SOAK_DURATION:-500ms}
extra=${RINGBENCH_SOAK_FLAGS:-}

case $rounds in '' | *[!0-9]*) echo "soak: RINGBENCH_SOAK_ROUNDS=$rounds: want a number" >&2; exit 2 ;; esac
case $count in '' | *[!0-9]*) echo "soak: RINGBENCH_SOAK_COUNT=$count: want a number" >&2; exit 2 ;; esac
if [ "$rounds" -lt 2 ]; then
	echo "soak: RINGBENCH_SOAK_ROUNDS=$rounds: at least 2 (memory is compared between the first and the last)" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX") || exit 2
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "${RINGBENCH_SOAK_KEEP:-0}" = 1 ]; then
		echo "soak: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
mkdir -p "$work/tmp" "$work/out" "$work/log" || exit 2

bin=${RINGBENCH_BIN:-}
if [ -z "$bin" ]; then
	bin=$work/ringbench
	echo "soak: building $bin" >&2
	go build -o "$bin" ./cmd/ringbench || { echo "soak: build failed" >&2; exit 2; }
fi
bin=$(readlink -f "$bin") || exit 2
[ -x "$bin" ] || { echo "soak: $bin is not executable" >&2; exit 2; }

fail() {
	echo "soak: FAIL: $*" >&2
	exit 1
}

# pids_of_bin lists processes running the binary (after a run: leftovers).
pids_of_bin() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		[ "${exe% (deleted)}" = "$bin" ] && echo "${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
	done
}

# settle waits up to 5 s for leftover processes to go, then prints them.
leftovers() {
	local _ left
	for _ in $(seq 50); do
		left=$(pids_of_bin)
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "$left"
}

# listeners_of_bin lists TCP listeners held by processes running the binary.
listeners_of_bin() {
	local name
	name=$(basename "$bin")
	ss -Hltnp 2>/dev/null | grep -F "((\"${name:0:15}\"" || true
}

# peaks prints the peak_rss_bytes of every sample of a result file, in order, space-separated.
peaks() {
	grep -o '"peak_rss_bytes": *[0-9]*' "$1" | awk -F: '{gsub(/ /, "", $2); printf "%s ", $2}'
}

# samples counts the samples of a result file and those with no operations.
samples() {
	awk '/"repeat":/ {n++} /"ops": *0,/ {z++} END {printf "%d %d\n", n, z}' "$1"
}

IFS=, read -r -a wl <<<"$workloads"
IFS=, read -r -a bl <<<"$backends"
declare -A skip_workload skip_pair
declare -A series # "workload/backend" -> lines "round: peak peak ..."
export TMPDIR=$work/tmp

start=$(date +%s)
for round in $(seq 1 "$rounds"); do
	for w in "${wl[@]}"; do
		[ -n "${skip_workload[$w]:-}" ] && continue
		for b in "${bl[@]}"; do
			[ -n "${skip_pair[$w/$b]:-}" ] && continue
			out=$work/out/r$round-$w-$b.json
			log=$work/log/r$round-$w-$b
			flags=(--files 50 --file-size 64k)
			[ "$w" = many-file ] && flags=(--files 1000 --file-size 4k)
			[ "$w" = echo-proxy ] && flags=(--conns 8 --msg-size 64)
			# shellcheck disable=SC2086 # $extra is split on purpose
			"$bin" run --workload "$w" --backend "$b" --count "$count" --duration "$duration" --warmup 200ms \
				"${flags[@]}" --format json --quiet --out "$out" $extra >"$log.out" 2>"$log.err"
			rc=$?
			left=$(leftovers)
			[ -n "$left" ] && fail "round $round, $w on $b: ringbench processes left running:"$'\n'"$left"
			stray=$(ls -A "$TMPDIR")
			[ -n "$stray" ] && fail "round $round, $w on $b: left in TMPDIR (the default --dir):"$'\n'"$stray"
			if [ "$round" = 1 ] && [ $rc = 2 ] && grep -q "unknown workload" "$log.err"; then
				echo "soak: $w: not a workload of this ringbench's run, skipped" >&2
				skip_workload[$w]=1
				break
			fi
			if [ "$round" = 1 ] && [ $rc = 3 ]; then
				echo "soak: $w on $b cannot run here, skipped: $(head -c 300 "$log.err")" >&2
				skip_pair[$w/$b]=1
				continue
			fi
			[ $rc = 0 ] || fail "round $round, $w on $b: exit $rc: $(tail -c 2000 "$log.err")"
			read -r n zero < <(samples "$out")
			[ "$n" = "$count" ] || fail "round $round, $w on $b: $n samples in $out, want $count"
			[ "$zero" = 0 ] || fail "round $round, $w on $b: $zero sample(s) with no operations in $out"
			p=$(peaks "$out")
			[ -n "$p" ] || fail "round $round, $w on $b: no peak_rss_bytes in $out"
			series[$w/$b]+="$round: $p"$'\n'
			[ "${RINGBENCH_SOAK_KEEP:-0}" = 1 ] || rm -f "$out" "$log.out" "$log.err"
		done
	done
	l=$(listeners_of_bin)
	[ -n "$l" ] && fail "after round $round: TCP listeners of ringbench processes:"$'\n'"$l"
	echo "soak: round $round/$rounds clean ($(($(date +%s) - start))s)" >&2
done

# Memory: within each run and across rounds.
status=0
printf '%-24s %12s %12s %12s\n' series "first MiB" "last MiB" "max MiB"
for key in $(printf '%s\n' "${!series[@]}" | sort); do
	verdict=$(printf '%s' "${series[$key]}" | awk -v key="$key" '
		function median(a, n,    i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return a[int((n + 1) / 2)]
		}
		{
			n = NF - 1
			for (i = 2; i <= NF; i++) { v[i - 1] = $i; if ($i > mx) mx = $i }
			if (v[n] > v[1] + v[1] / 4 + 8 * 1048576) { printf "GREW within round %s: %s\n", $1, $0 }
			m = median(v, n)
			if (NR == 1) first = m
			last = m
		}
		END {
			printf "%-24s %12.1f %12.1f %12.1f\n", key, first / 1048576, last / 1048576, mx / 1048576
			if (last > first + first / 2 + 16 * 1048576) printf "GREW across rounds: median %d -> %d bytes\n", first, last
		}')
	printf '%s\n' "$verdict" | head -n 1
	if printf '%s\n' "$verdict" | grep -q GREW; then
		printf '%s\n' "$verdict" | grep GREW | sed "s|^|soak: FAIL: $key: peak RSS |" >&2
		status=1
	fi
done
[ $status = 0 ] && echo "soak: $rounds rounds clean in $(($(date +%s) - start))s" >&2
exit $status
