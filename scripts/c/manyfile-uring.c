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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manyfile.h"

enum { CHAINS = 32 };

int main(int argc, char **argv) {
	struct mf_args a;
	int bad = mf_parse("manyfile-uring", argc, argv, &a);
	if (bad)
		return bad;
	size_t bufsz = (a.bytes + 4095) & ~(size_t)4095;
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
	struct rusage r0;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = mf_now(), deadline = t0 + a.secs, t1;
	for (;;) {
		for (int i = 0; i < CHAINS; i++) {
			struct io_uring_sqe *s = io_uring_get_sqe(&ring);
			io_uring_prep_openat_direct(s, AT_FDCWD, a.paths[mf_pick(&x, a.n)], O_RDONLY, 0, i);
			s->flags |= IOSQE_IO_LINK;
			io_uring_sqe_set_data64(s, (uint64_t)i << 2 | 0);
			s = io_uring_get_sqe(&ring);
			io_uring_prep_read(s, i, bufs + (size_t)i * bufsz, a.bytes, 0);
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
		if ((t1 = mf_now()) >= deadline)
			break;
	}
	mf_print(files, t1 - t0, mf_cpu(&r0), (double)got / files, a.n, "liburing");
	return 0;
}
