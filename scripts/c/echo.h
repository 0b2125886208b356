/*
 * echo.h: what the two C echo servers of scripts/echo-bench.sh (echo-epoll.c and echo-uring.c) share: the
 * listening socket on loopback.
 */
#ifndef ECHO_H
#define ECHO_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * echo_listen listens on 127.0.0.1:port (0: any free port), a SOCK_STREAM socket with the type flags given,
 * and stores the port it got in *bound. On failure it says so, as who, and exits 1.
 */
static inline int echo_listen(int port, int flags, const char *who, int *bound) {
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		fprintf(stderr, "%s: listen: %s\n", who, strerror(errno));
		exit(1);
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

#endif
