/*
 * manyfile.h: what the two many-file anchors of scripts/vs-fio.sh (scripts/lib/vs-fio-loop.c and
 * scripts/c/manyfile-uring.c) share: the SECONDS LIST [BYTES] arguments and the file list they name, the
 * xorshift64 pick (as ringbench's many-file does), the clock, and the one JSON line they print.
 */
#ifndef MANYFILE_H
#define MANYFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

struct mf_args {
	double secs;  /* how long to run */
	size_t bytes; /* bytes read per file */
	char **paths; /* the files of LIST */
	size_t n;     /* how many */
};

static inline double mf_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double mf_tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

/* mf_parse reads the arguments and LIST into a; it returns 0, or 2 (the exit status) after saying why on
 * stderr. prog names the program in its messages. */
static inline int mf_parse(const char *prog, int argc, char **argv, struct mf_args *a) {
	if (argc < 3) {
		fprintf(stderr, "usage: %s SECONDS LIST [BYTES]\n", argv[0]);
		return 2;
	}
	a->secs = atof(argv[1]);
	a->bytes = argc > 3 ? (size_t)atol(argv[3]) : 4096;
	FILE *lf = fopen(argv[2], "r");
	if (!lf || a->secs <= 0 || a->bytes < 1 || a->bytes > (1 << 20)) {
		fprintf(stderr, "%s: bad arguments or cannot read %s\n", prog, argv[2]);
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
	free(line);
	fclose(lf);
	if (n == 0) {
		fprintf(stderr, "%s: %s lists no files\n", prog, argv[2]);
		return 2;
	}
	a->paths = paths;
	a->n = n;
	return 0;
}

/* mf_pick steps the xorshift64 state x and returns the index of the next file of n. */
static inline size_t mf_pick(uint64_t *x, size_t n) {
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x % n;
}

/* mf_cpu is the CPU time, user and system, that the process spent between r0 and now. */
static inline double mf_cpu(const struct rusage *r0) {
	struct rusage r1;
	getrusage(RUSAGE_SELF, &r1);
	return mf_tv(r1.ru_utime) - mf_tv(r0->ru_utime) + mf_tv(r1.ru_stime) - mf_tv(r0->ru_stime);
}

/* mf_print prints the result line: bytes_per_file only where it is 0 or more. */
static inline void mf_print(uint64_t files, double seconds, double cpu, double bytes_per_file, size_t set,
                            const char *impl) {
	printf("{\"files\": %llu, \"seconds\": %.6f, \"files_per_sec\": %.1f, \"cpu_ns_per_file\": %.1f, ",
	       (unsigned long long)files, seconds, files / seconds, cpu * 1e9 / files);
	if (bytes_per_file >= 0)
		printf("\"bytes_per_file\": %.1f, ", bytes_per_file);
	printf("\"set\": %zu, \"impl\": \"%s\"}\n", set, impl);
}

#endif
