/*
 * echo-uring: the io_uring anchors of scripts/echo-bench.sh. A single-threaded TCP echo server on liburing,
 * ring set up with SINGLE_ISSUER | DEFER_TASKRUN (plain flags where the kernel refuses them), multishot
 * accept, one io_uring_submit_and_wait per loop that submits everything queued and reaps what completed.
 *
 *   default  one 4 KiB recv buffer per connection: RECV -> SEND of what came -> RECV ...
 *   -m       multishot RECV from a provided buffer ring shared by all connections (no memory per idle
 *            connection); each filled buffer is sent back and returned to the ring when the send completes
 *
 *   cc -O2 -o echo-uring echo-uring.c -luring && ./echo-uring [-m] [PORT]
 *
 * Listens on 127.0.0.1:PORT (0 or none: any free port) and prints "listening 127.0.0.1:PORT" once ready. On
 * SIGTERM or SIGINT it prints "bytes N conns M" (bytes echoed, connections accepted) and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo.h"

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND };
enum { MAXFD = 1 << 17, BUFSZ = 4096, NBUF = 1024, BGID = 0 };

struct conn {
	char *buf;          /* default mode: this connection's recv buffer */
	unsigned len, off;  /* the send in progress: bytes in the buffer, bytes sent */
	int sending, eof;   /* -m: a send is in flight; the multishot recv ended (close once no send is in flight) */
	int broken;         /* -m: a send failed: send nothing more, wait for the recv to end */
	int head, tail;     /* -m: queue of filled buffers waiting to be sent (next[] links them), -1: empty */
};

static struct io_uring ring;
static struct conn *conns[MAXFD];
static int multishot, lfd;
static struct io_uring_buf_ring *br;
static char *bufs;         /* -m: NBUF buffers of BUFSZ */
static unsigned blen[NBUF]; /* -m: bytes received into each buffer */
static int next[NBUF];
static unsigned long long bytes, accepted;
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static uint64_t ud(int op, int bid, int fd) { return (uint64_t)op << 56 | (uint64_t)(uint16_t)bid << 32 | (uint32_t)fd; }

static struct io_uring_sqe *sqe(void) {
	struct io_uring_sqe *s;
	while (!(s = io_uring_get_sqe(&ring)))
		io_uring_submit(&ring);
	return s;
}

static void arm_accept(void) {
	struct io_uring_sqe *s = sqe();
	io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(s, ud(OP_ACCEPT, 0, lfd));
}

static void arm_recv(int fd) {
	struct io_uring_sqe *s = sqe();
	if (multishot) {
		io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
		s->flags |= IOSQE_BUFFER_SELECT;
		s->buf_group = BGID;
	} else {
		io_uring_prep_recv(s, fd, conns[fd]->buf, BUFSZ, 0);
	}
	io_uring_sqe_set_data64(s, ud(OP_RECV, 0, fd));
}

static void send_from(int fd, int bid) {
	struct conn *c = conns[fd];
	char *p = multishot ? bufs + (size_t)bid * BUFSZ : c->buf;
	struct io_uring_sqe *s = sqe();
	io_uring_prep_send(s, fd, p + c->off, c->len - c->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(s, ud(OP_SEND, bid, fd));
}

static void give_back(int bid) {
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid, io_uring_buf_ring_mask(NBUF), 0);
	io_uring_buf_ring_advance(br, 1);
}

static void drop(int fd) {
	struct conn *c = conns[fd];
	for (int b = c->head; b >= 0; b = next[b])
		give_back(b);
	close(fd);
	free(c->buf);
	free(c);
	conns[fd] = NULL;
}

/* -m: send the next queued buffer of fd if none is in flight; close fd once nothing of it is in flight. */
static void pump(int fd) {
	struct conn *c = conns[fd];
	if (c->sending)
		return;
	if (c->eof && (c->broken || c->head < 0)) {
		drop(fd);
		return;
	}
	if (c->broken || c->head < 0)
		return;
	c->sending = 1;
	c->len = blen[c->head];
	c->off = 0;
	send_from(fd, c->head);
}

static void on_cqe(struct io_uring_cqe *cqe) {
	uint64_t u = io_uring_cqe_get_data64(cqe);
	int op = u >> 56, bid = (u >> 32) & 0xffff, fd = (int)(uint32_t)u, res = cqe->res;
	struct conn *c = fd < MAXFD ? conns[fd] : NULL;

	if (op != OP_ACCEPT && !c) { /* cannot happen: a connection is closed only once nothing of it is in flight */
		fprintf(stderr, "echo-uring: completion for closed fd %d\n", fd);
		exit(1);
	}

	switch (op) {
	case OP_ACCEPT:
		if (!(cqe->flags & IORING_CQE_F_MORE) && !stop)
			arm_accept();
		if (res < 0)
			return;
		if (res >= MAXFD) {
			close(res);
			return;
		}
		int one = 1;
		setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c = calloc(1, sizeof *c);
		c->head = c->tail = -1;
		if (!multishot)
			c->buf = malloc(BUFSZ);
		conns[res] = c;
		accepted++;
		arm_recv(res);
		return;
	case OP_RECV:
		if (!multishot) {
			if (res <= 0) {
				drop(fd);
				return;
			}
			c->len = res;
			c->off = 0;
			send_from(fd, 0);
			return;
		}
		if (res > 0) {
			int b = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			blen[b] = res;
			next[b] = -1;
			if (c->tail >= 0)
				next[c->tail] = b;
			else
				c->head = b;
			c->tail = b;
			if (!(cqe->flags & IORING_CQE_F_MORE))
				arm_recv(fd);
			pump(fd);
		} else if (res == -ENOBUFS) {
			arm_recv(fd); /* every buffer is out; some come back as sends complete */
		} else {
			c->eof = 1;
			pump(fd);
		}
		return;
	case OP_SEND:
		if (res <= 0) {
			if (multishot) {
				/* End the multishot recv too; the connection is closed when it reports its end. */
				c->sending = 0;
				c->broken = 1;
				shutdown(fd, SHUT_RDWR);
				pump(fd);
			} else {
				drop(fd);
			}
			return;
		}
		bytes += res;
		c->off += res;
		if (c->off < c->len) {
			send_from(fd, bid);
			return;
		}
		if (!multishot) {
			arm_recv(fd);
			return;
		}
		c->head = next[bid];
		if (c->head < 0)
			c->tail = -1;
		give_back(bid);
		c->sending = 0;
		pump(fd);
		return;
	}
}

int main(int argc, char **argv) {
	int opt, port = 0;
	while ((opt = getopt(argc, argv, "m")) != -1) {
		if (opt != 'm') {
			fprintf(stderr, "usage: %s [-m] [PORT]\n", argv[0]);
			return 2;
		}
		multishot = 1;
	}
	if (optind < argc)
		port = atoi(argv[optind]);

	lfd = echo_listen(port, SOCK_CLOEXEC, "echo-uring", &port);

	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
	int ret = io_uring_queue_init_params(4096, &ring, &p);
	if (ret == -EINVAL) {
		fprintf(stderr, "echo-uring: kernel refuses DEFER_TASKRUN, using plain flags\n");
		memset(&p, 0, sizeof p);
		ret = io_uring_queue_init_params(4096, &ring, &p);
	}
	if (ret < 0) {
		fprintf(stderr, "echo-uring: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	io_uring_register_ring_fd(&ring);
	if (multishot) {
		if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf)) ||
		    posix_memalign((void **)&bufs, 4096, (size_t)NBUF * BUFSZ))
			return 1;
		io_uring_buf_ring_init(br);
		struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = NBUF, .bgid = BGID};
		if ((ret = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) {
			fprintf(stderr, "echo-uring: register_buf_ring: %s\n", strerror(-ret));
			return 1;
		}
		for (int b = 0; b < NBUF; b++)
			io_uring_buf_ring_add(br, bufs + (size_t)b * BUFSZ, BUFSZ, b, io_uring_buf_ring_mask(NBUF), b);
		io_uring_buf_ring_advance(br, NBUF);
	}

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	arm_accept();
	printf("listening 127.0.0.1:%d\n", port);
	fflush(stdout);

	while (!stop) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "echo-uring: io_uring_submit_and_wait: %s\n", strerror(-ret));
			return 1;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			on_cqe(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
	printf("bytes %llu conns %llu\n", bytes, accepted);
	return 0;
}
