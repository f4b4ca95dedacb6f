// A crowd of devices in C for the relay benchmark's capacity steps: DEVICES sockets, each bound to an address of its
// own and connected to the relay, send a packet each in turn at RATE_PPS for SECONDS, and read their answers as they
// come. Light, so that the relay under test sets where loss begins, not its load: on a 2-core machine the replayer
// (recording every send and answer) and both backends, sharing one core, could offer only about 30k pps of round
// trips through a relay on the other core. Sends go out to absolute deadlines in runs (every packet whose time has
// come), with a sleep between runs instead of a spin, so the crowd leaves its core's time to the backends.
// Up to PROMPT_RATE the crowd reads each answer as it comes, so that a round trip is timed to the answer, not to the
// next run of sends; above it, answers are read once per run (a wake per answer would take the backends' core).
// With WARMUP_SECONDS the devices send at the rate for that long first, uncounted: a relay has bound each of them
// (and Node has compiled its path) before the measured time, as for devices that have long been talking to it.
// Built by `npm run bench` when a C compiler is present; nothing of the project runs it.
//
// usage: udp-devices DST_IP DST_PORT RATE_PPS SECONDS DEVICES SRC_NET [WARMUP_SECONDS]
//        (SRC_NET e.g. 127.41: devices at 127.41.1.1, ...)
// Prints one line of JSON: what was sent and answered in the measured time, the answers' round trip, the rate achieved.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "bench-time.h"

#define PAYLOAD 64
#define EVENTS 256
/** Sleep between runs of sends: at 50k pps a run is about 5 packets. */
#define TICK_NS 100000LL
/** Up to this rate each answer is read as it arrives (timed to it); above it, once per run of sends. */
#define PROMPT_RATE 20000
/** How long answers are waited for after the last send: an answer later than that counts as lost. */
#define DRAIN_NS 1000000000LL

static long long answered;
static long long *round_trips;
static long long capacity;
/** Each socket's count of answers the kernel dropped on arrival, its buffer full (SO_RXQ_OVFL), by descriptor. */
static unsigned *dropped;
/** Answers to packets sent before this moment (the warm-up's) are read and not counted. */
static long long measured_from;
/** Wakes the wait for answers when the next run of sends is due (prompt reads). */
static int timer_fd = -1;

/** Reads every answer waiting on the ready sockets; the ACK echoes the request's first 8 bytes: its send time. */
static void read_answers(int epoll, int timeout_ms) {
  struct epoll_event events[EVENTS];
  int ready = epoll_wait(epoll, events, EVENTS, timeout_ms);
  for (int e = 0; e < ready; e++) {
    int fd = events[e].data.fd;
    if (fd == timer_fd) {
      unsigned long long expirations;
      ssize_t read_bytes = read(timer_fd, &expirations, sizeof expirations);
      (void)read_bytes;
      continue;
    }
    unsigned char answer[2048];
    char control[CMSG_SPACE(sizeof(unsigned))];
    for (;;) {
      struct iovec vector = {.iov_base = answer, .iov_len = sizeof answer};
      struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
      ssize_t got = recvmsg(fd, &message, MSG_DONTWAIT);
      if (got <= 0) break;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) memcpy(&dropped[fd], CMSG_DATA(c), sizeof(unsigned));
      }
      long long sent_ns = 0;
      // "ACK" and the request's first 8 bytes (native/udp-ack-backend.c).
      if (got >= 11) memcpy(&sent_ns, answer + 3, sizeof sent_ns);
      // A warm-up packet's answer is not counted; one too short to carry its send time is, as before there was one.
      if (got >= 11 && sent_ns < measured_from) continue;
      if (answered < capacity && sent_ns > 0) round_trips[answered] = now_ns() - sent_ns;
      answered++;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 7 && argc != 8) {
    fprintf(stderr, "usage: udp-devices DST_IP DST_PORT RATE_PPS SECONDS DEVICES SRC_NET [WARMUP_SECONDS]\n");
    return 2;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
    fprintf(stderr, "not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  double rate = atof(argv[3]);
  double seconds = atof(argv[4]);
  int devices = atoi(argv[5]);
  const char *src_net = argv[6];
  double warmup = argc == 8 ? atof(argv[7]) : 0;
  if (rate <= 0 || seconds <= 0 || devices <= 0 || warmup < 0) {
    fprintf(stderr, "RATE_PPS, SECONDS and DEVICES must be positive, WARMUP_SECONDS not negative\n");
    return 2;
  }
  long warm = (long)(rate * warmup);
  long packets = warm + (long)(rate * seconds);
  capacity = packets;
  round_trips = calloc(packets, sizeof(long long));
  int *fds = calloc(devices, sizeof(int));
  int epoll = epoll_create1(0);
  int highest_fd = epoll;
  for (int d = 0; d < devices; d++) {
    char src_ip[32];
    snprintf(src_ip, sizeof src_ip, "%s.%d.%d", src_net, d / 250 + 1, d % 250 + 1);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
    inet_pton(AF_INET, src_ip, &src.sin_addr);
    int buffer = 1024 * 1024;
    fds[d] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    setsockopt(fds[d], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    int on = 1;
    setsockopt(fds[d], SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
    if (fds[d] < 0 || bind(fds[d], (struct sockaddr *)&src, sizeof src) != 0 || connect(fds[d], (struct sockaddr *)&dst, sizeof dst) != 0) {
      perror(src_ip);
      return 1;
    }
    struct epoll_event watch = {.events = EPOLLIN, .data.fd = fds[d]};
    epoll_ctl(epoll, EPOLL_CTL_ADD, fds[d], &watch);
    if (fds[d] > highest_fd) highest_fd = fds[d];
  }
  int prompt = rate <= PROMPT_RATE;
  if (prompt) {
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event watch = {.events = EPOLLIN, .data.fd = timer_fd};
    if (timer_fd < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, timer_fd, &watch) != 0) {
      perror("timerfd");
      return 1;
    }
    if (timer_fd > highest_fd) highest_fd = timer_fd;
  }
  dropped = calloc(highest_fd + 1, sizeof(unsigned));
  unsigned char payload[PAYLOAD];
  memset(payload, 0x5a, sizeof payload);
  long sent = 0, errors = 0;
  long long start = now_ns() + 20000000LL;
  measured_from = start + (long long)(warm * 1e9 / rate);
  while (sent < packets) {
    long long now = now_ns();
    long due = now < start ? 0 : (long)((now - start) * rate / 1e9) + 1;
    if (due > packets) due = packets;
    for (; sent < due; sent++) {
      long long stamp = now_ns();
      memcpy(payload, &stamp, sizeof stamp);
      if (send(fds[sent % devices], payload, sizeof payload, 0) < 0) errors++;
    }
    if (!prompt) read_answers(epoll, 0);
    if (sent >= packets) break;
    long long next = start + (long long)(sent * 1e9 / rate);
    long long wake = now_ns() + TICK_NS;
    if (next > wake) wake = next;
    struct timespec at = {.tv_sec = wake / 1000000000LL, .tv_nsec = wake % 1000000000LL};
    if (prompt) {
      struct itimerspec timer = {.it_value = at};
      timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &timer, NULL);
      while (now_ns() < wake) read_answers(epoll, -1);
    } else {
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
    }
  }
  sent -= warm;
  long long last_send = now_ns();
  while (answered < sent && now_ns() - last_send < DRAIN_NS) read_answers(epoll, 10);
  long long timed = answered < capacity ? answered : capacity;
  qsort(round_trips, timed, sizeof(long long), by_value);
  double elapsed = (last_send - measured_from) / 1e9;
  long long devices_dropped = 0;
  for (int d = 0; d < devices; d++) devices_dropped += dropped[fds[d]];
  printf("{\"sent\":%ld,\"warmupSent\":%ld,\"errors\":%ld,\"answered\":%lld,\"devicesDropped\":%lld,\"achievedPps\":%.0f,\"p50Us\":%.1f,\"p99Us\":%.1f}\n", sent, warm, errors,
         answered, devices_dropped, sent / elapsed, timed > 0 ? round_trips[timed / 2] / 1e3 : 0.0, timed > 0 ? round_trips[(long long)(timed * 0.99)] / 1e3 : 0.0);
  return 0;
}
