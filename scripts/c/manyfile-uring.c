/*
 * manyfile-uring: the io_uring many-file anchor of scripts/vs-fio.sh. For SECONDS it reads whole small
 * files picked from LIST at random (xorshift64, like ringbench's many-file and vs-fio-loop.c), 32 files per
 * submission, each as a linked chain of three requests that never gives the process a file descriptor:
 *
 *   OPENAT (direct, into slot i of a sparse fixed-file table) -> READ (fixed file i) -> CLOSE (direct, slot i)
 *
 * One io_uring_submit_and_wait per batch submits the 96 requests and waits for all 96 completions. The ring is
 * set up with SINGLE_ISSUER | DEFER_TASKRUN (plain flags where the kernel refuses them). Prints one JSON line
 * in the form of vs-fio-loop.c.
 *
 *   cc -O2 -o manyfile-uring manyfile-uring.c -luring && ./manyfile-uring SECONDS LIST [BYTES]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { CHAINS = 32 };

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
		fprintf(stderr, "manyfile-uring: bad arguments or cannot read %s\n", argv[2]);
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
		fprintf(stderr, "manyfile-uring: %s lists no files\n", argv[2]);
		return 2;
	}
	size_t bufsz = (bytes + 4095) & ~(size_t)4095;
	char *bufs = aligned_alloc(4096, bufsz * CHAINS);

	struct io_uring ring;
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
	int ret = io_uring_queue_init_params(3 * CHAINS, &ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof p);
		ret = io_uring_queue_init_params(3 * CHAINS, &ring, &p);
	}
	if (ret < 0 || (ret = io_uring_register_files_sparse(&ring, CHAINS)) < 0) {
		fprintf(stderr, "manyfile-uring: ring setup: %s\n", strerror(-ret));
		return 1;
	}
	io_uring_register_ring_fd(&ring);

	uint64_t x = 0x9e3779b97f4a7c15ULL, files = 0, got = 0;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now(), deadline = t0 + secs, t1;
	for (;;) {
		for (int i = 0; i < CHAINS; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);
			io_uring_prep_openat_direct(s, AT_FDCWD, paths[x % n], O_RDONLY, 0, i);
			s->flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_data64(s, (uint64_t)i << 2 | 0);
			s = io_uring_get_sqe(&ring);
			io_uring_prep_read(s, i, bufs + (size_t)i * bufsz, bytes, 0);
			s->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
			io_uring_sqe_set_data64(s, (uint64_t)i << 2 | 1);
			s = io_uring_get_sqe(&ring);
			io_uring_prep_close_direct(s, i);
			io_uring_sqe_set_data64(s, (uint64_t)i << 2 | 2);
		}
		ret = io_uring_submit_and_wait(&ring, 3 * CHAINS);
		if (ret < 0) {
			fprintf(stderr, "manyfile-uring: io_uring_submit_and_wait: %s\n", strerror(-ret));
			return 1;
		}
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			if (cqe->res < 0) {
				uint64_t u = io_uring_cqe_get_data64(cqe);
				fprintf(stderr, "manyfile-uring: chain %d step %d: %s\n", (int)(u >> 2), (int)(u & 3),
				        strerror(-cqe->res));
				return 1;
			}
			if ((io_uring_cqe_get_data64(cqe) & 3) == 1)
				got += cqe->res;
			seen++;
		}
		io_uring_cq_advance(&ring, seen);
		if (seen != 3 * CHAINS) {
			fprintf(stderr, "manyfile-uring: %u completions for %d requests\n", seen, 3 * CHAINS);
			return 1;
		}
		files += CHAINS;
		if ((t1 = now()) >= deadline)
			break;
	}
	getrusage(RUSAGE_SELF, &r1);
	double cpu = tv(r1.ru_utime) - tv(r0.ru_utime) + tv(r1.ru_stime) - tv(r0.ru_stime);
	printf("{\"files\": %llu, \"seconds\": %.6f, \"files_per_sec\": %.1f, \"cpu_ns_per_file\": %.1f, \"bytes_per_file\": %.1f, \"set\": %zu, \"impl\": \"liburing\"}\n",
	       (unsigned long long)files, t1 - t0, files / (t1 - t0), cpu * 1e9 / files, (double)got / files, n);
	return 0;
}
