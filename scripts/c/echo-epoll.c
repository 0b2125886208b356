/*
 * echo-epoll: the epoll anchor of scripts/echo-bench.sh. A single-threaded TCP echo server on level-triggered
 * epoll: one epoll_wait per loop, then for each ready connection one read and a write of what it read (a
 * closed-loop 64-byte echo costs read + write + a share of epoll_wait). No other work per request.
 *
 *   cc -O2 -o echo-epoll echo-epoll.c && ./echo-epoll [PORT]
 *
 * Listens on 127.0.0.1:PORT (0 or none: any free port) and prints "listening 127.0.0.1:PORT" once ready. On
 * SIGTERM or SIGINT it prints "bytes N conns M" (bytes echoed, connections accepted) and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int listen_on(int port) {
	int fd = echo_listen(port, SOCK_NONBLOCK | SOCK_CLOEXEC, "echo-epoll", &port);
	printf("listening 127.0.0.1:%d\n", port);
	fflush(stdout);
	return fd;
}

int main(int argc, char **argv) {
	int lfd = listen_on(argc > 1 ? atoi(argv[1]) : 0);
	/* No SA_RESTART: a signal ends epoll_wait with EINTR. */
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	enum { MAXEV = 256 };
	struct epoll_event evs[MAXEV];
	static char buf[64 << 10];
	unsigned long long bytes = 0, conns = 0;
	while (!stop) {
		int n = epoll_wait(ep, evs, MAXEV, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("echo-epoll: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					int one = 1;
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
					conns++;
				}
				continue;
			}
			ssize_t got = read(fd, buf, sizeof buf);
			if (got <= 0) {
				if (got < 0 && errno == EAGAIN)
					continue;
				close(fd); /* closing removes it from the epoll set */
				continue;
			}
			for (ssize_t off = 0; off < got;) {
				ssize_t w = write(fd, buf + off, got - off);
				if (w < 0 && errno == EAGAIN) {
					/* Socket buffer full: never with a closed-loop client; wait rather than drop bytes. */
					struct pollfd p = {.fd = fd, .events = POLLOUT};
					poll(&p, 1, -1);
					continue;
				}
				if (w <= 0)
					break;
				off += w;
			}
			bytes += got;
		}
	}
	printf("bytes %llu conns %llu\n", bytes, conns);
	return 0;
}
