// An independent UDP sink for the replay benchmark: it takes each datagram's arrival time from the kernel
// (SO_TIMESTAMPNS) and, told the rate the sender was asked for, says how late each arrival was against an even
// schedule from the earliest arrival (lateness_i = arrival_i - (first + i / rate), less the smallest such value).
// The same measure for every sender: it knows nothing of who sends. Prints one JSON line when sent SIGTERM.
//
// usage: udp-sink IP PORT RATE_PPS MAX_PACKETS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "bench-time.h"

static volatile sig_atomic_t stopping = 0;
static void on_term(int signal_number) { (void)signal_number; stopping = 1; }

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: udp-sink IP PORT RATE_PPS MAX_PACKETS\n");
    return 2;
  }
  double rate = atof(argv[3]);
  long capacity = atol(argv[4]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int on = 1, buffer = 32 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  inet_pton(AF_INET, argv[1], &at.sin_addr);
  if (bind(fd, (struct sockaddr *)&at, sizeof at) != 0) {
    perror("bind");
    return 1;
  }
  struct sigaction term = {.sa_handler = on_term};
  sigaction(SIGTERM, &term, NULL);
  struct timeval poll_every = {.tv_sec = 0, .tv_usec = 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll_every, sizeof poll_every);
  long long *arrival = calloc(capacity, sizeof(long long));
  long received = 0;
  printf("ready\n");
  fflush(stdout);
  char data[65536], control[256];
  while (!stopping) {
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(fd, &message, 0) < 0) continue;
    long long ns = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec t;
        memcpy(&t, CMSG_DATA(c), sizeof t);
        ns = t.tv_sec * 1000000000LL + t.tv_nsec;
      }
    }
    if (received < capacity) arrival[received] = ns;
    received++;
  }
  long n = received < capacity ? received : capacity;
  if (n == 0 || rate <= 0) {
    printf("{\"received\":%ld}\n", received);
    return 0;
  }
  long long *late = calloc(n, sizeof(long long));
  long long least = 0;
  for (long i = 0; i < n; i++) {
    late[i] = arrival[i] - arrival[0] - (long long)(i * 1e9 / rate);
    if (i == 0 || late[i] < least) least = late[i];
  }
  for (long i = 0; i < n; i++) late[i] -= least;
  qsort(late, n, sizeof(long long), by_value);
  printf("{\"received\":%ld,\"p50Us\":%.2f,\"p99Us\":%.2f,\"maxUs\":%.2f}\n", received, late[n / 2] / 1e3, late[(long)(n * 0.99)] / 1e3, late[n - 1] / 1e3);
  return 0;
}
