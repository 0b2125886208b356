# anchors.sh: sourced by the benchmark scripts to build the C reference programs in scripts/c/.
#
#   anchor_liburing            make sure liburing's header and library are here: installs Debian's liburing-dev
#                              with apt-get when missing and running as root; returns 1 when it cannot
#   anchor_build SRC OUT [-luring]  compiles scripts/c/SRC with cc -O2 into OUT; returns 1 (compiler
#                              output on stderr) when it cannot
# shellcheck shell=bash

anchor_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../c" && pwd)

anchor_liburing() {
	local probe
	probe=$(mktemp -d) || return 1
	printf '#include <liburing.h>\nint main(void) { struct io_uring r; return io_uring_queue_init(1, &r, 0) < -1000; }\n' >"$probe/t.c"
	if ! cc -o "$probe/t" "$probe/t.c" -luring >/dev/null 2>&1; then
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
			echo "liburing-dev is missing: apt-get install -y liburing-dev" >&2
			DEBIAN_FRONTEND=noninteractive apt-get install -y liburing-dev >/dev/null 2>&1 ||
				{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y liburing-dev >/dev/null 2>&1; }
		fi
		cc -o "$probe/t" "$probe/t.c" -luring >/dev/null 2>&1 || { rm -rf "$probe"; return 1; }
	fi
	rm -rf "$probe"
}

anchor_build() {
	local src=$1 out=$2
	shift 2
	cc -O2 -Wall -o "$out" "$anchor_src/$src" "$@"
}
