/*
 * vs-fio-loop: the plain many-file anchor for scripts/vs-fio.sh. For SECONDS it picks a file from LIST at
 * random (xorshift64, as ringbench's many-file does), and opens, preads BYTES from offset 0 and closes it:
 * three syscalls per file, no other work. Prints one JSON line.
 *
 *   cc -O2 -o vs-fio-loop vs-fio-loop.c && ./vs-fio-loop SECONDS LIST [BYTES]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: %s SECONDS LIST [BYTES]\n", argv[0]);
		return 2;
	}
	double secs = atof(argv[1]);
	size_t bytes = argc > 3 ? (size_t)atol(argv[3]) : 4096;
	FILE *lf = fopen(argv[2], "r");
	if (!lf || secs <= 0 || bytes < 1 || bytes > (1 << 20)) {
		fprintf(stderr, "vs-fio-loop: bad arguments or cannot read %s\n", argv[2]);
		return 2;
	}
	size_t n = 0, cap = 1024;
	char **paths = malloc(cap * sizeof *paths);
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, lf)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0)
			continue;
		if (n == cap)
			paths = realloc(paths, (cap *= 2) * sizeof *paths);
		paths[n++] = strdup(line);
	}
	fclose(lf);
	if (n == 0) {
		fprintf(stderr, "vs-fio-loop: %s lists no files\n", argv[2]);
		return 2;
	}
	char *buf = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);

	uint64_t x = 0x9e3779b97f4a7c15ULL, files = 0;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now(), deadline = t0 + secs, t1;
	for (;;) {
		for (int k = 0; k < 256; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			const char *p = paths[x % n];
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror(p);
				return 1;
			}
			ssize_t got = pread(fd, buf, bytes, 0);
			if (got < 0) {
				perror(p);
				return 1;
			}
			close(fd);
			files++;
		}
		if ((t1 = now()) >= deadline)
			break;
	}
	getrusage(RUSAGE_SELF, &r1);
	double cpu = tv(r1.ru_utime) - tv(r0.ru_utime) + tv(r1.ru_stime) - tv(r0.ru_stime);
	printf("{\"files\": %llu, \"seconds\": %.6f, \"files_per_sec\": %.1f, \"cpu_ns_per_file\": %.1f, \"set\": %zu, \"impl\": \"c\"}\n",
	       (unsigned long long)files, t1 - t0, files / (t1 - t0), cpu * 1e9 / files, n);
	return 0;
}
