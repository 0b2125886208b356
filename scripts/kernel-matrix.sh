#!/usr/bin/env bash
# kernel-matrix.sh: boot Debian cloud kernels in qemu and record what io_uring each one offers.
#
# For each kernel series (default 6.1 and 6.12) it downloads the newest Debian linux-image-*-cloud-amd64
# package (apt-get download: never installed), takes its vmlinuz, builds a static ringbench and a busybox
# initramfs, boots the kernel in qemu (KVM when kvm_intel or kvm_amd is loaded and /dev/kvm is usable,
# otherwise TCG software emulation), runs `ringbench probe --json` and a short functional `ringbench run`
# in the guest, brings the outputs back over the serial console (gzip+base64 between checksummed markers),
# and files them with internal/kmatrix: <label>.probe.json, <label>.result.json, <label>.boot.json (and
# logs) in --out, each stamped with the accelerator. It ends with the feature matrix, and hands the result
# files to `ringbench report` and `ringbench compare` when this ringbench has them.
#
# TCG runs 20-30x slower than native: its performance figures are marked "emulated" in every file and are
# not comparable with native ones. Under TCG the matrix is a feature and correctness result only.
#
# Everything it downloads or builds lives under .kernels/ (git-ignored); a second run reuses it.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: scripts/kernel-matrix.sh [options]
  --kernels "LIST"    kernel series (6.1, 6.12, ...) or exact package names (linux-image-...);
                      default "6.1 6.12": the newest cloud-amd64 package of each series apt knows
  --out DIR           where results go (default .kernels/out)
  --timeout SECS      limit for each boot, from qemu start to power-off (default 300)
  --accel auto|kvm|tcg  default auto: kvm when kvm_intel/kvm_amd is loaded and /dev/kvm is usable
  --retries N         boot again this many times when a boot fails (crash, timeout, corrupt output);
                      every retry is noted in the results (default 1)
  --no-run            probe only, skip the functional `ringbench run`
  --run-args "ARGS"   arguments of the functional run (default: see RUN_ARGS below)
  --ringbench PATH    use this ringbench binary (static, linux/amd64) instead of building one
  --keep-downloads    keep the downloaded .deb packages in .kernels/debs (default: keep only vmlinuz)
  -h, --help          this text
Needs: apt-get, apt-cache, dpkg-deb, tar, go, qemu-system-x86_64 (apt-get install qemu-system-x86).
Exit status: 0 every boot produced verified results; 1 some boot failed; 2 usage or missing tools.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KD="$ROOT/.kernels"
KERNELS="6.1 6.12"
OUT=""
TIMEOUT=300
ACCEL=auto
DO_RUN=1
KEEP_DEBS=0
PREBUILT=""
RETRIES=1
RUN_ARGS="--backend epoll,uring,sqpoll --workload small-file --duration 300ms --warmup 0 --count 1 --file-size 16M --dir /tmp --format table --quiet"

die() { printf 'kernel-matrix: %s\n' "$*" >&2; exit "${2:-1}"; }
say() { printf 'kernel-matrix: %s\n' "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--kernels) [ $# -ge 2 ] || die "--kernels needs a value" 2; KERNELS=$2; shift 2 ;;
	--kernels=*) KERNELS=${1#*=}; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a value" 2; OUT=$2; shift 2 ;;
	--out=*) OUT=${1#*=}; shift ;;
	--timeout) [ $# -ge 2 ] || die "--timeout needs a value" 2; TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	--accel) [ $# -ge 2 ] || die "--accel needs a value" 2; ACCEL=$2; shift 2 ;;
	--accel=*) ACCEL=${1#*=}; shift ;;
	--run-args) [ $# -ge 2 ] || die "--run-args needs a value" 2; RUN_ARGS=$2; shift 2 ;;
	--run-args=*) RUN_ARGS=${1#*=}; shift ;;
	--ringbench) [ $# -ge 2 ] || die "--ringbench needs a value" 2; PREBUILT=$2; shift 2 ;;
	--ringbench=*) PREBUILT=${1#*=}; shift ;;
	--retries) [ $# -ge 2 ] || die "--retries needs a value" 2; RETRIES=$2; shift 2 ;;
	--retries=*) RETRIES=${1#*=}; shift ;;
	--no-run) DO_RUN=0; shift ;;
	--keep-downloads) KEEP_DEBS=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option $1" 2 ;;
	esac
done
if ! [[ $TIMEOUT =~ ^[0-9]+$ ]] || [ "$TIMEOUT" -lt 30 ]; then die "--timeout $TIMEOUT: want whole seconds, at least 30" 2; fi
[[ $RETRIES =~ ^[0-9]+$ ]] || die "--retries $RETRIES: want a whole number" 2
case $ACCEL in auto | kvm | tcg) ;; *) die "--accel $ACCEL: want auto, kvm or tcg" 2 ;; esac
[ -n "$KERNELS" ] || die "--kernels is empty" 2
case $RUN_ARGS in *[\'\"\\]*) die "--run-args: no quotes or backslashes, please" 2 ;; esac
OUT=${OUT:-$KD/out}

for tool in apt-get apt-cache dpkg-deb tar go timeout; do
	command -v "$tool" >/dev/null || die "$tool not found" 2
done
QEMU=$(command -v qemu-system-x86_64 || true)
[ -n "$QEMU" ] || die "qemu-system-x86_64 not found: apt-get install --no-install-recommends qemu-system-x86" 2

START=$(date +%s)
mkdir -p "$KD/kernels" "$KD/debs" "$OUT"
# One run at a time: runs share .kernels/ (binaries, initramfs).
if command -v flock >/dev/null; then
	exec 9>"$KD/.lock"
	flock -n 9 || die "another kernel-matrix.sh is running (lock $KD/.lock)"
fi

# Which accelerator. /dev/kvm alone is not enough: some hosts expose a paravirtual KVM that cannot boot
# stock kernels, so KVM is used only with the hardware modules loaded.
kvm_usable() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }
}
if [ "$ACCEL" = auto ]; then
	if kvm_usable; then ACCEL=kvm; else ACCEL=tcg; fi
elif [ "$ACCEL" = kvm ] && ! kvm_usable; then
	die "--accel kvm: /dev/kvm is not usable or neither kvm_intel nor kvm_amd is loaded" 2
fi
if [ "$ACCEL" = tcg ]; then
	say "accelerator: tcg (software emulation, 20-30x slower than native): feature and correctness results only"
	# Single-threaded TCG: with thread=multi, 4 of 9 boots of Debian's 6.12 crashed (Oops: int3 in
	# __schedule, see docs/kernel-matrix.md); with thread=single none of 18 did.
	QEMU_ACCEL=(-accel "tcg,thread=single" -cpu max)
else
	say "accelerator: kvm"
	QEMU_ACCEL=(-accel kvm -cpu host)
fi

# apt-get download as root warns that the _apt user cannot write here; downloading as root is what we want.
APT_OPTS=()
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)

# resolve SERIES|PACKAGE -> package name: the newest linux-image-<series>*-cloud-amd64 apt knows, else the
# newest one already extracted under .kernels/kernels (so that a second run works offline).
resolve() {
	local want=$1 re pkg
	case $want in
	linux-image-*) echo "$want"; return ;;
	esac
	[[ $want =~ ^[0-9]+\.[0-9]+$ ]] || die "--kernels: $want: want a series like 6.1 or a package name linux-image-..." 2
	re="^linux-image-${want//./\\.}[.-][^ ]*-cloud-amd64\$"
	pkg=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E "$re" | sort -V | tail -n1 || true)
	if [ -z "$pkg" ]; then
		pkg=$(for d in "$KD"/kernels/*/; do [ -d "$d" ] && basename "$d"; done | grep -E "$re" | sort -V | tail -n1 || true)
	fi
	[ -n "$pkg" ] || die "no linux-image-$want*-cloud-amd64 package known to apt (run apt-get update; on bookworm 6.12 comes from bookworm-security or bookworm-backports)"
	echo "$pkg"
}

# newest_deb PACKAGE -> the newest .kernels/debs/PACKAGE_*.deb, or nothing.
newest_deb() {
	local f
	for f in "$KD/debs/${1}_"*.deb; do [ -f "$f" ] && printf '%s\n' "$f"; done | sort -V | tail -n1
}

# fetch_deb PACKAGE -> path of its .deb under .kernels/debs, downloading it when missing.
fetch_deb() {
	local pkg=$1 deb
	deb=$(newest_deb "$pkg")
	if [ -z "$deb" ]; then
		say "downloading $pkg"
		(cd "$KD/debs" && apt-get "${APT_OPTS[@]}" -q download "$pkg" >&2) || die "apt-get download $pkg failed"
		deb=$(newest_deb "$pkg")
		[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $KD/debs"
	fi
	echo "$deb"
}

# fetch_kernel PACKAGE: .kernels/kernels/PACKAGE/{vmlinuz,config,version} (extracted, never installed).
fetch_kernel() {
	local pkg=$1 dir="$KD/kernels/$1" deb tmp
	if [ -s "$dir/vmlinuz" ]; then
		say "reusing $dir/vmlinuz"
		return
	fi
	deb=$(fetch_deb "$pkg")
	tmp=$(mktemp -d "$KD/.extract.XXXXXX")
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./boot
	set -- "$tmp"/boot/vmlinuz-*
	[ -f "$1" ] || { rm -rf "$tmp"; die "$deb holds no boot/vmlinuz-*"; }
	mkdir -p "$dir"
	cp "$tmp"/boot/config-* "$dir/config" 2>/dev/null || true
	dpkg-deb -f "$deb" Version >"$dir/version"
	cp "$1" "$dir/vmlinuz.tmp" && mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
	rm -rf "$tmp"
	[ "$KEEP_DEBS" = 1 ] || rm -f "$deb"
}

fetch_busybox() {
	local deb tmp
	if [ -x "$KD/busybox" ]; then return; fi
	deb=$(fetch_deb busybox-static)
	tmp=$(mktemp -d "$KD/.extract.XXXXXX")
	dpkg-deb -x "$deb" "$tmp"
	[ -x "$tmp/bin/busybox" ] || { rm -rf "$tmp"; die "$deb holds no bin/busybox"; }
	cp "$tmp/bin/busybox" "$KD/busybox.tmp" && mv "$KD/busybox.tmp" "$KD/busybox"
	rm -rf "$tmp"
	[ "$KEEP_DEBS" = 1 ] || rm -f "$deb"
}

# --- downloads -------------------------------------------------------------------------------------------
PKGS=()
for k in $KERNELS; do
	PKGS+=("$(resolve "$k")")
done
for p in "${PKGS[@]}"; do fetch_kernel "$p"; done
fetch_busybox
T_FETCH=$(date +%s)

# --- builds ----------------------------------------------------------------------------------------------
cd "$ROOT"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
CGO_ENABLED=0 go build -trimpath -o "$KD/kmatrix" ./cmd/kmatrix || die "building cmd/kmatrix failed"
if [ -n "$PREBUILT" ]; then
	[ -x "$PREBUILT" ] || die "--ringbench $PREBUILT: not an executable" 2
	if ldd "$PREBUILT" >/dev/null 2>&1; then
		die "--ringbench $PREBUILT is dynamically linked: the guest has no libc (build with CGO_ENABLED=0)" 2
	fi
	cp "$PREBUILT" "$KD/ringbench.tmp" && mv "$KD/ringbench.tmp" "$KD/ringbench"
	VERSION=$("$KD/ringbench" --version 2>/dev/null | sed -n 's/^ringbench version //p' || true)
	VERSION=${VERSION:-unknown}
	say "using $PREBUILT ($VERSION)"
else
	say "building a static ringbench ($VERSION)"
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$VERSION -X main.commit=$COMMIT" -o "$KD/ringbench.tmp" ./cmd/ringbench ||
		die "building ringbench failed (is the tree mid-edit? --ringbench PATH uses a prebuilt static binary)"
	mv "$KD/ringbench.tmp" "$KD/ringbench"
fi
RB="$KD/ringbench"
HAVE_PROBE=0 HAVE_RUN=0 HAVE_REPORT=0 HAVE_COMPARE=0
"$RB" probe --help >/dev/null 2>&1 && HAVE_PROBE=1
"$RB" run --help >/dev/null 2>&1 && HAVE_RUN=1
"$RB" report --help >/dev/null 2>&1 && HAVE_REPORT=1
"$RB" compare --help >/dev/null 2>&1 && HAVE_COMPARE=1
[ "$HAVE_PROBE" = 1 ] || say "NOTE: this ringbench has no probe command: the matrix will have no io_uring columns"
RUN_SKIP="--no-run was given"
if [ "$DO_RUN" = 1 ] && [ "$HAVE_RUN" = 0 ]; then
	say "NOTE: this ringbench has no run command yet: the functional run is skipped, probe only"
	DO_RUN=0
	RUN_SKIP="this ringbench has no run command"
fi

# The guest's own limit for the functional run, so that a hung run still leaves time to send the probe.
GUEST_RUN_TIMEOUT=$((TIMEOUT / 2))

IRD="$KD/initramfs"
mkdir -p "$IRD"
cat >"$IRD/init.tmp" <<EOF
#!/bin/busybox sh
# PID 1 of a kernel-matrix guest (generated by scripts/kernel-matrix.sh), run by busybox ash:
# its ulimit has -l and -n, and RUN_ARGS and the command line are split into words on purpose.
# shellcheck disable=SC3045,SC2013,SC2086
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
exec </dev/console >/dev/console 2>&1
dmesg -n 1
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
ulimit -l unlimited 2>/dev/null
ulimit -n 65536 2>/dev/null
DO_RUN=$DO_RUN
RUN_TIMEOUT=$GUEST_RUN_TIMEOUT
RUN_ARGS="$RUN_ARGS"
RUN_SKIP="$RUN_SKIP"
EOF
cat >>"$IRD/init.tmp" <<'EOF'
accel=
for w in $(cat /proc/cmdline); do
	case $w in rb_accel=*) accel=${w#rb_accel=} ;; esac
done
nblocks=0
# emit NAME EXIT FILE: the file, gzip+base64, between checksummed markers.
emit() {
	n=$(wc -c <"$3")
	n=$((n + 0))
	sum=$(sha256sum "$3")
	echo "===RINGBENCH-BEGIN $1 exit=$2 enc=gzip+base64==="
	gzip -c "$3" | base64
	echo "===RINGBENCH-END $1 bytes=$n sha256=${sum%% *}==="
	nblocks=$((nblocks + 1))
}
R=/bin/ringbench
{
	echo "release=$(uname -r)"
	echo "version=$(uname -v)"
	echo "machine=$(uname -m)"
	echo "accel=$accel"
	echo "cmdline=$(cat /proc/cmdline)"
	if [ -e /proc/sys/kernel/io_uring_disabled ]; then
		echo "io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled)"
	else
		echo "io_uring_disabled=absent"
	fi
	if [ -e /proc/sys/kernel/io_uring_group ]; then
		echo "io_uring_group=$(cat /proc/sys/kernel/io_uring_group)"
	else
		echo "io_uring_group=absent"
	fi
	echo "nproc=$(nproc)"
	echo "mem_total_kb=$(awk '/^MemTotal/ {print $2}' /proc/meminfo)"
	echo "cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "ringbench=$($R version 2>&1 | head -n1)"
} >/tmp/meta
emit meta 0 /tmp/meta

if $R probe --help >/dev/null 2>&1; then
	$R probe --json >/tmp/probe.json 2>/tmp/probe.err
	rc=$?
else
	rc=127
	: >/tmp/probe.json
	echo "this ringbench has no probe command" >/tmp/probe.err
fi
emit probe $rc /tmp/probe.json
emit probe-stderr $rc /tmp/probe.err

# What the probe does not report (provided buffer ring, multishot recv), tried on a real ring.
timeout 30 /bin/kmatrix caps >/tmp/caps.json 2>&1
emit caps $? /tmp/caps.json

if [ "$DO_RUN" != 1 ]; then
	echo "$RUN_SKIP" >/tmp/run.log
	emit run-log 127 /tmp/run.log
else
	timeout "$RUN_TIMEOUT" $R run $RUN_ARGS --out /tmp/r.json >/tmp/run.log 2>&1
	rc=$?
	[ "$rc" = 143 ] || [ "$rc" = 124 ] && echo "functional run killed after ${RUN_TIMEOUT}s (exit $rc)" >>/tmp/run.log
	[ -s /tmp/r.json ] && emit run $rc /tmp/r.json
	emit run-log $rc /tmp/run.log
fi
echo "===RINGBENCH-DONE blocks=$nblocks==="
sync
poweroff -f
echo o >/proc/sysrq-trigger
EOF
mv "$IRD/init.tmp" "$IRD/init"
cat >"$IRD/spec" <<EOF
dir /dev 0755
nod /dev/console 0600 c 5 1
nod /dev/null 0666 c 1 3
dir /proc 0755
dir /sys 0755
dir /tmp 1777
dir /root 0700
dir /bin 0755
dir /sbin 0755
dir /usr 0755
dir /usr/bin 0755
dir /usr/sbin 0755
file /bin/busybox $KD/busybox 0755
file /bin/ringbench $RB 0755
file /bin/kmatrix $KD/kmatrix 0755
file /init $IRD/init 0755
EOF
"$KD/kmatrix" initramfs -o "$KD/initramfs.cpio.gz" "$IRD/spec"
T_BUILD=$(date +%s)

# --- boots -----------------------------------------------------------------------------------------------
FAILED=()
LABELS=()
declare -A BOOT_SECS=()
# boot PKG LOG QEMULOG: one qemu run; the console goes to LOG. Returns qemu's status.
boot() {
	local rc=0
	timeout --kill-after=10 "$TIMEOUT" "$QEMU" "${QEMU_ACCEL[@]}" -m 1G -smp 2 -nodefaults -no-reboot \
		-display none -monitor none -serial "file:$2.tmp" \
		-kernel "$KD/kernels/$1/vmlinuz" -initrd "$KD/initramfs.cpio.gz" \
		-append "console=ttyS0 quiet panic=-1 rb_accel=$ACCEL" </dev/null >"$3" 2>&1 || rc=$?
	if [ -f "$2.tmp" ]; then mv "$2.tmp" "$2"; else : >"$2"; fi
	return "$rc"
}

for pkg in "${PKGS[@]}"; do
	release=${pkg#linux-image-}
	series=$(printf '%s\n' "$release" | grep -Eo '^[0-9]+\.[0-9]+' || echo "$release")
	label="$series-$ACCEL"
	log="$OUT/$label.console.log"
	# This label's files from an earlier run (or attempt) must not pass for this one's.
	rm -f "$OUT/$label".attempt*.log
	clean() { rm -f "$OUT/$label".{console.log,qemu.log,boot.json,probe.json,result.json,caps.json,meta.txt,probe-stderr.txt,run-log.txt}; }
	LABELS+=("$label")
	notes=()
	ok=0
	for attempt in $(seq 1 $((RETRIES + 1))); do
		say "booting $release under $ACCEL (attempt $attempt, limit ${TIMEOUT}s), console -> $log"
		clean
		t0=$(date +%s)
		rc=0
		boot "$pkg" "$log" "$OUT/$label.qemu.log" || rc=$?
		BOOT_SECS[$label]=$(($(date +%s) - t0))
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			say "$label: qemu ran past ${TIMEOUT}s and was stopped; parsing what the console got"
		elif [ "$rc" != 0 ]; then
			say "$label: qemu exited $rc: $(tail -n 3 "$OUT/$label.qemu.log" | tr '\n' ' ')"
		fi
		say "$label: boot took ${BOOT_SECS[$label]}s"
		note_args=()
		for n in "${notes[@]}"; do note_args+=(-note "$n"); done
		if "$KD/kmatrix" parse -log "$log" -out "$OUT" -accel "$ACCEL" -label "$label" -package "$pkg" "${note_args[@]}"; then
			ok=1
			break
		fi
		if [ "$attempt" -le "$RETRIES" ]; then
			why=$(grep -m1 -o 'Kernel panic.*\|Oops.*' "$log" | head -c 200 || true)
			mv "$log" "$OUT/$label.attempt$attempt.console.log"
			mv "$OUT/$label.qemu.log" "$OUT/$label.attempt$attempt.qemu.log" 2>/dev/null || true
			notes+=("attempt $attempt of this boot failed${why:+ ($why)}: see $label.attempt$attempt.console.log; the figures here are from attempt $((attempt + 1))")
			say "$label: attempt $attempt failed${why:+ ($why)}; booting again"
		fi
	done
	[ "$ok" = 1 ] || FAILED+=("$label")
done
T_BOOT=$(date +%s)

# --- matrix, report, compare -----------------------------------------------------------------------------
BOOTS=()
RESULTS=()
for l in "${LABELS[@]}"; do
	[ -f "$OUT/$l.boot.json" ] && BOOTS+=("$OUT/$l.boot.json")
	[ -f "$OUT/$l.result.json" ] && RESULTS+=("$OUT/$l.result.json")
done
if [ ${#BOOTS[@]} -gt 0 ]; then
	{
		echo "Kernel matrix, $(date -u +%Y-%m-%dT%H:%MZ), accelerator $ACCEL, ringbench $VERSION"
		[ "$ACCEL" = tcg ] && echo "(TCG: software emulation, 20-30x slower than native; features and correctness only, no performance figures)"
		echo
		"$KD/kmatrix" table "${BOOTS[@]}"
	} >"$OUT/matrix.md.tmp" && mv "$OUT/matrix.md.tmp" "$OUT/matrix.md"
	echo
	cat "$OUT/matrix.md"
fi

if [ ${#RESULTS[@]} -gt 0 ]; then
	[ "$ACCEL" = tcg ] && say "the result files are from TCG: their figures are emulated and only comparable with each other"
	if [ "$HAVE_REPORT" = 1 ]; then
		say "ringbench report --out $OUT/report ${RESULTS[*]}"
		rc=0
		"$RB" report --out "$OUT/report" --force "${RESULTS[@]}" >"$OUT/report.txt" 2>&1 || rc=$?
		[ "$rc" = 0 ] || say "NOTE: ringbench report exited $rc: see $OUT/report.txt"
	else
		say "NOTE: this ringbench has no report command: skipped"
	fi
	if [ "$HAVE_COMPARE" = 1 ] && [ ${#RESULTS[@]} -ge 2 ]; then
		say "ringbench compare ${RESULTS[0]} ${RESULTS[*]:1}"
		rc=0
		{
			[ "$ACCEL" = tcg ] && echo "EMULATED (qemu TCG, 20-30x slower than native): these figures compare emulated kernels with each other only; never set them beside native results."
			"$RB" compare "${RESULTS[0]}" "${RESULTS[@]:1}" 2>&1
		} >"$OUT/compare.txt" || rc=$?
		[ "$rc" = 0 ] || say "NOTE: ringbench compare exited $rc: see $OUT/compare.txt"
	elif [ "$HAVE_COMPARE" = 0 ]; then
		say "NOTE: this ringbench has no compare command: skipped"
	fi
fi

END=$(date +%s)
say "done in $((END - START))s (downloads $((T_FETCH - START))s, builds $((T_BUILD - T_FETCH))s, boots $((T_BOOT - T_BUILD))s); results in $OUT"
if [ ${#FAILED[@]} -gt 0 ]; then
	say "FAILED: ${FAILED[*]} (see the *.console.log and *.boot.json files in $OUT)"
	exit 1
fi
