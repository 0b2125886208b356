/*
 * vs-fio-loop: the plain many-file anchor for scripts/vs-fio.sh. For SECONDS it picks a file from LIST at
 * random (xorshift64, as ringbench's many-file does), and opens, preads BYTES from offset 0 and closes it:
 * three syscalls per file, no other work. Prints one JSON line.
 *
 *   cc -O2 -o vs-fio-loop vs-fio-loop.c && ./vs-fio-loop SECONDS LIST [BYTES]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../c/manyfile.h"

int main(int argc, char **argv) {
	struct mf_args a;
	int bad = mf_parse("vs-fio-loop", argc, argv, &a);
	if (bad)
		return bad;
	char *buf = aligned_alloc(4096, (a.bytes + 4095) & ~(size_t)4095);

	uint64_t x = 0x9e3779b97f4a7c15ULL, files = 0;
	struct rusage r0;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = mf_now(), deadline = t0 + a.secs, t1;
	for (;;) {
		for (int k = 0; k < 256; k++) {
			const char *p = a.paths[mf_pick(&x, a.n)];
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror(p);
				return 1;
			}
			ssize_t got = pread(fd, buf, a.bytes, 0);
			if (got < 0) {
				perror(p);
				return 1;
			}
			close(fd);
			files++;
		}
		if ((t1 = mf_now()) >= deadline)
			break;
	}
	mf_print(files, t1 - t0, mf_cpu(&r0), -1, a.n, "c");
	return 0;
}
