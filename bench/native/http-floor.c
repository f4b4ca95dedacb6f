// The native floor of the HTTP replay benchmark: what one C thread does with the same job as `parity replay --proxy`
// (requests sent at a fixed rate to absolute deadlines over at most CONNECTIONS kept-alive connections, one request in
// flight on each, every answer read), and its lateness measured the same way (actual minus scheduled send time, every
// request; a request whose time comes while every connection is busy waits for one, and that wait is lateness). Built
// by `npm run bench` when a C compiler is present; nothing of the project runs it.
//
// usage: http-floor HOST PORT RATE (0: as fast as the connections allow) REQUESTS CONNECTIONS
// prints one JSON line: sent, answered, errors, seconds, achieved rate, lateness p50/p99/max (us), latency p50/p99 (us)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bench-time.h"

#define BUFFER 65536

struct connection {
  int fd;
  long request;  // the request in flight, -1 when free
  char buffer[BUFFER];
  size_t filled;
};

static struct sockaddr_in target;

static int connect_one(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0) return -1;
  return fd;
}

// An answer is whole when its headers have ended and Content-Length bytes of body followed (the proxy sends it).
static long answer_length(const char *data, size_t filled) {
  const char *end = memmem(data, filled, "\r\n\r\n", 4);
  if (end == NULL) return -1;
  long headers = end - data + 4;
  const char *length = memmem(data, headers, "ontent-Length:", 14);
  if (length == NULL) length = memmem(data, headers, "ontent-length:", 14);
  long body = length == NULL ? 0 : atol(length + 14);
  return (long)filled >= headers + body ? headers + body : -1;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: http-floor HOST PORT RATE REQUESTS CONNECTIONS\n");
    return 2;
  }
  target.sin_family = AF_INET;
  target.sin_port = htons(atoi(argv[2]));
  inet_pton(AF_INET, argv[1], &target.sin_addr);
  double rate = atof(argv[3]);
  long requests = atol(argv[4]);
  int count = atoi(argv[5]);
  struct connection *connections = calloc(count, sizeof *connections);
  struct pollfd *polls = calloc(count, sizeof *polls);
  for (int c = 0; c < count; c++) {
    connections[c].fd = connect_one();
    connections[c].request = -1;
    if (connections[c].fd < 0) {
      perror("connect");
      return 1;
    }
  }
  long long *late = calloc(requests, sizeof(long long));
  long long *sent_at = calloc(requests, sizeof(long long));
  long long *latency = calloc(requests, sizeof(long long));
  const char *body = "{\"customer\":\"north-7\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"SKU-1\",\"quantity\":2,\"cents\":1250}]}";
  long answered = 0, errors = 0, next = 0;
  long long start = now_ns() + 20000000LL;
  while (answered + errors < requests) {
    long long due = rate > 0 ? start + (long long)(next * 1e9 / rate) : 0;
    int free_one = -1;
    for (int c = 0; c < count && free_one < 0; c++) if (connections[c].request < 0) free_one = c;
    long long now = now_ns();
    if (next < requests && free_one >= 0 && now >= due) {
      char request[1024];
      int n = snprintf(request, sizeof request,
                       "POST /v1/invoices HTTP/1.1\r\nHost: billing.example\r\nContent-Type: application/json\r\nX-Request-ID: floor-%ld\r\nContent-Length: %zu\r\n\r\n%s",
                       next, strlen(body), body);
      sent_at[next] = now_ns();
      late[next] = rate > 0 ? sent_at[next] - due : 0;
      if (write(connections[free_one].fd, request, n) != n) errors++;
      else connections[free_one].request = next;
      next++;
      continue;
    }
    // Wait for an answer, or until the next request is due (a spin for its last 200 us: a wake-up can take that long).
    int timeout = 100;
    if (next < requests && free_one >= 0) {
      long long wait_us = (due - now) / 1000;
      timeout = wait_us > 300 ? (int)((wait_us - 200) / 1000) : 0;
    }
    for (int c = 0; c < count; c++) polls[c] = (struct pollfd){.fd = connections[c].fd, .events = POLLIN};
    if (poll(polls, count, timeout) <= 0) continue;
    for (int c = 0; c < count; c++) {
      if (!(polls[c].revents & POLLIN)) continue;
      struct connection *conn = &connections[c];
      ssize_t got = read(conn->fd, conn->buffer + conn->filled, BUFFER - conn->filled);
      if (got <= 0) {
        if (conn->request >= 0) errors++;
        close(conn->fd);
        conn->fd = connect_one();
        conn->request = -1;
        conn->filled = 0;
        continue;
      }
      conn->filled += got;
      long length = answer_length(conn->buffer, conn->filled);
      if (length < 0 || conn->request < 0) continue;
      latency[answered] = now_ns() - sent_at[conn->request];
      answered++;
      memmove(conn->buffer, conn->buffer + length, conn->filled - length);
      conn->filled -= length;
      conn->request = -1;
    }
  }
  double seconds = (now_ns() - start) / 1e9;
  qsort(late, requests, sizeof(long long), by_value);
  qsort(latency, answered, sizeof(long long), by_value);
  printf("{\"sent\":%ld,\"answered\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"achievedRate\":%.1f,\"lateP50Us\":%.1f,\"lateP99Us\":%.1f,\"lateMaxUs\":%.1f,\"latencyP50Us\":%.1f,\"latencyP99Us\":%.1f}\n",
         next, answered, errors, seconds, answered / seconds, late[requests / 2] / 1e3, late[(long)(requests * 0.99)] / 1e3, late[requests - 1] / 1e3,
         answered > 0 ? latency[answered / 2] / 1e3 : 0, answered > 0 ? latency[(long)(answered * 0.99)] / 1e3 : 0);
  return 0;
}
