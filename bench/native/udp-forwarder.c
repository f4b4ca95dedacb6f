// The native floor of the relay benchmark: a mirroring forwarder in C with the reference relay's job and nothing
// more. Each datagram from a device goes to the primary from a socket of that device's own (so the primary's answer
// comes back on it and is relayed to that device) and a copy goes to the mirror, fire-and-forget (its answers are read
// and dropped). One thread, epoll, non-blocking sockets, recvmmsg on the listening socket. No timeouts, no routes, no
// bounds: what a relay's forwarding costs at the least on this machine. Built by `npm run bench` when a C compiler is
// present; nothing of the project runs it.
//
// usage: udp-forwarder LISTEN_IP PORT PRIMARY_IP MIRROR_IP
// Prints "ready" once listening; on SIGTERM prints {"forwarded":N,"acks":N} and exits.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 2048
#define TABLE_BITS 16

struct device {
  struct sockaddr_in addr;
  int fd;
  struct device *next;
};

static struct device *table[1 << TABLE_BITS];
static struct device **by_fd;
static int by_fd_size;
static volatile sig_atomic_t stopping;
static long long forwarded, acks;

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

static unsigned slot(const struct sockaddr_in *a) {
  unsigned h = a->sin_addr.s_addr * 2654435761u ^ a->sin_port * 40503u;
  return h >> (32 - TABLE_BITS);
}

static int udp_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    perror("socket");
    exit(1);
  }
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

static struct sockaddr_in address(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    fprintf(stderr, "not an IPv4 address: %s\n", ip);
    exit(2);
  }
  return a;
}

/** The device's own socket towards the primary, made the first time the device is heard from. */
static struct device *device_of(const struct sockaddr_in *from, const struct sockaddr_in *primary, int epoll) {
  unsigned s = slot(from);
  for (struct device *d = table[s]; d != NULL; d = d->next) {
    if (d->addr.sin_addr.s_addr == from->sin_addr.s_addr && d->addr.sin_port == from->sin_port) return d;
  }
  struct device *d = calloc(1, sizeof *d);
  d->addr = *from;
  d->fd = udp_socket();
  if (connect(d->fd, (const struct sockaddr *)primary, sizeof *primary) != 0) {
    perror("connect");
    exit(1);
  }
  if (d->fd >= by_fd_size) {
    int size = by_fd_size * 2 > d->fd + 1 ? by_fd_size * 2 : d->fd + 1;
    by_fd = realloc(by_fd, sizeof *by_fd * size);
    memset(by_fd + by_fd_size, 0, sizeof *by_fd * (size - by_fd_size));
    by_fd_size = size;
  }
  by_fd[d->fd] = d;
  struct epoll_event event = {.events = EPOLLIN, .data.fd = d->fd};
  epoll_ctl(epoll, EPOLL_CTL_ADD, d->fd, &event);
  d->next = table[s];
  table[s] = d;
  return d;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: udp-forwarder LISTEN_IP PORT PRIMARY_IP MIRROR_IP\n");
    return 2;
  }
  int port = atoi(argv[2]);
  struct sockaddr_in listen_at = address(argv[1], port), primary = address(argv[3], port), mirror = address(argv[4], port);
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);

  int listener = udp_socket();
  if (bind(listener, (const struct sockaddr *)&listen_at, sizeof listen_at) != 0) {
    perror("bind");
    return 1;
  }
  int mirror_fd = udp_socket();
  int epoll = epoll_create1(0);
  struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
  event.data.fd = mirror_fd;
  epoll_ctl(epoll, EPOLL_CTL_ADD, mirror_fd, &event);
  by_fd_size = 1024;
  by_fd = calloc(by_fd_size, sizeof *by_fd);

  static char buffers[BATCH][PAYLOAD];
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  struct sockaddr_in senders[BATCH];
  printf("ready\n");
  fflush(stdout);

  struct epoll_event ready[256];
  while (!stopping) {
    int n = epoll_wait(epoll, ready, 256, 200);
    for (int i = 0; i < n; i++) {
      int fd = ready[i].data.fd;
      if (fd == listener) {
        for (;;) {
          for (int m = 0; m < BATCH; m++) {
            vectors[m] = (struct iovec){.iov_base = buffers[m], .iov_len = PAYLOAD};
            messages[m].msg_hdr = (struct msghdr){.msg_name = &senders[m], .msg_namelen = sizeof senders[m], .msg_iov = &vectors[m], .msg_iovlen = 1};
          }
          int got = recvmmsg(listener, messages, BATCH, MSG_DONTWAIT, NULL);
          if (got <= 0) break;
          for (int m = 0; m < got; m++) {
            struct device *d = device_of(&senders[m], &primary, epoll);
            send(d->fd, buffers[m], messages[m].msg_len, 0);
            sendto(mirror_fd, buffers[m], messages[m].msg_len, 0, (const struct sockaddr *)&mirror, sizeof mirror);
            forwarded++;
          }
        }
      } else if (fd == mirror_fd) {
        while (recv(mirror_fd, buffers[0], PAYLOAD, MSG_DONTWAIT) > 0) {
        }
      } else {
        struct device *d = fd < by_fd_size ? by_fd[fd] : NULL;
        ssize_t got;
        while ((got = recv(fd, buffers[0], PAYLOAD, MSG_DONTWAIT)) > 0) {
          if (d == NULL) continue;
          sendto(listener, buffers[0], got, 0, (const struct sockaddr *)&d->addr, sizeof d->addr);
          acks++;
        }
      }
    }
  }
  printf("{\"forwarded\":%lld,\"acks\":%lld}\n", forwarded, acks);
  return 0;
}
