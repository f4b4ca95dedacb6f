// A backend in C for the relay benchmark: answers every datagram with a short ACK to whoever sent it, in batches
// (recvmmsg, sendmmsg). Light enough that the relay under test, not its backends, sets the rate at which loss begins.
// Built by `npm run bench` when a C compiler is present; nothing of the project runs it.
//
// usage: udp-ack-backend LISTEN_IP PORT
// Prints "ready" once listening; on SIGTERM prints {"received":N} and exits.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 2048

static volatile sig_atomic_t stopping;

static void on_term(int sig) {
  (void)sig;
  stopping = 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: udp-ack-backend LISTEN_IP PORT\n");
    return 2;
  }
  struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &at.sin_addr) != 1) {
    fprintf(stderr, "not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, (const struct sockaddr *)&at, sizeof at) != 0) {
    perror("bind");
    return 1;
  }
  static char buffers[BATCH][PAYLOAD];
  static char acks[BATCH][16];
  struct mmsghdr in[BATCH], out[BATCH];
  struct iovec in_vectors[BATCH], out_vectors[BATCH];
  struct sockaddr_in senders[BATCH];
  long long received = 0;
  printf("ready\n");
  fflush(stdout);
  struct pollfd wait_for = {.fd = fd, .events = POLLIN};
  while (!stopping) {
    if (poll(&wait_for, 1, 200) <= 0) continue;
    for (;;) {
      for (int i = 0; i < BATCH; i++) {
        in_vectors[i] = (struct iovec){.iov_base = buffers[i], .iov_len = PAYLOAD};
        in[i].msg_hdr = (struct msghdr){.msg_name = &senders[i], .msg_namelen = sizeof senders[i], .msg_iov = &in_vectors[i], .msg_iovlen = 1};
      }
      int got = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
      if (got <= 0) break;
      for (int i = 0; i < got; i++) {
        // The ACK: "ACK" and the request's first bytes, so each answer is tied to its request.
        int length = in[i].msg_len < 8 ? (int)in[i].msg_len : 8;
        memcpy(acks[i], "ACK", 3);
        memcpy(acks[i] + 3, buffers[i], length);
        out_vectors[i] = (struct iovec){.iov_base = acks[i], .iov_len = 3 + length};
        out[i].msg_hdr = (struct msghdr){.msg_name = &senders[i], .msg_namelen = sizeof senders[i], .msg_iov = &out_vectors[i], .msg_iovlen = 1};
      }
      sendmmsg(fd, out, got, 0);
      received += got;
    }
  }
  printf("{\"received\":%lld}\n", received);
  return 0;
}
