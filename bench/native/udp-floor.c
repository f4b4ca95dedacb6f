// The native floor of the replay benchmark: what one C thread does with the same job as the replayer (packets from
// DEVICES sockets, each on its own local address and connected to the sink, at a fixed rate to absolute deadlines:
// clock_nanosleep until 200 us before (a wake-up on this kind of machine can take that long), then a spin), and its lateness measured the same way (actual - scheduled send
// time, every packet). Built by `npm run bench` when a C compiler is present; nothing of the project runs it.
//
// usage: udp-floor DST_IP DST_PORT RATE_PPS (0: as fast as possible) PACKETS DEVICES SRC_NET (e.g. 127.31)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bench-time.h"

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: udp-floor DST_IP DST_PORT RATE_PPS PACKETS DEVICES SRC_NET\n");
    return 2;
  }
  const char *dst_ip = argv[1];
  int dst_port = atoi(argv[2]);
  double rate = atof(argv[3]);
  long packets = atol(argv[4]);
  int devices = atoi(argv[5]);
  const char *src_net = argv[6];
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(dst_port)};
  inet_pton(AF_INET, dst_ip, &dst.sin_addr);
  int *fds = calloc(devices, sizeof(int));
  for (int d = 0; d < devices; d++) {
    char src_ip[32];
    snprintf(src_ip, sizeof src_ip, "%s.%d.%d", src_net, d / 250 + 1, d % 250 + 1);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, src_ip, &src.sin_addr);
    int buffer = 4 * 1024 * 1024;
    fds[d] = socket(AF_INET, SOCK_DGRAM, 0);
    setsockopt(fds[d], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    if (fds[d] < 0 || bind(fds[d], (struct sockaddr *)&src, sizeof src) != 0 || connect(fds[d], (struct sockaddr *)&dst, sizeof dst) != 0) {
      perror(src_ip);
      return 1;
    }
  }
  unsigned char payload[100];
  memset(payload, 0x5a, sizeof payload);
  long long *late = calloc(packets, sizeof(long long));
  long errors = 0;
  long long start = now_ns() + 20000000LL;
  for (long i = 0; i < packets; i++) {
    long long target = rate > 0 ? start + (long long)(i * 1e9 / rate) : 0;
    if (rate > 0) {
      long long wait = target - now_ns();
      if (wait > 200000) {
        long long wake = target - 200000;
        struct timespec at = {.tv_sec = wake / 1000000000LL, .tv_nsec = wake % 1000000000LL};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
      }
      while (now_ns() < target) {
      }
    }
    memcpy(payload, &i, sizeof i);
    if (send(fds[i % devices], payload, sizeof payload, 0) < 0) errors++;
    late[i] = rate > 0 ? now_ns() - target : 0;
  }
  long long end = now_ns();
  qsort(late, packets, sizeof(long long), by_value);
  double seconds = (end - (rate > 0 ? start : start - 20000000LL)) / 1e9;
  printf("{\"sent\":%ld,\"errors\":%ld,\"pps\":%.0f,\"p50Us\":%.2f,\"p99Us\":%.2f,\"maxUs\":%.2f}\n", packets, errors, packets / seconds,
         late[packets / 2] / 1e3, late[(long)(packets * 0.99)] / 1e3, late[packets - 1] / 1e3);
  return 0;
}
