// The relay's datagram path in C, as a Node-API addon (built by src/core/build-addons.js when a C compiler is
// present; the relay falls back to Node's dgram without it). Node's dgram costs a JavaScript callback, a Buffer and an
// address object per datagram received and a libuv request per datagram sent: measured with a bare mirroring relay,
// about twice the CPU per packet of a forwarder in C. Here a socket's readiness reaches JavaScript once per batch
// (recvmmsg, up to 64 datagrams into one shared slab) and a send is one system call from the calling thread. IPv4 only:
// the relay keeps dgram for IPv6 listeners.
//
// Every function takes and returns plain numbers: a file descriptor, an IPv4 address as an unsigned 32-bit integer in
// host order, a port; a negative result is -errno. Nothing here keeps a reference to JavaScript memory past a call.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sock_diag.h>
#include <uv.h>

#include "../napi-args.h"

#define BATCH 64

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int fd;
  int events;
} watch_t;

static struct sockaddr_in ipv4(uint32_t ip, uint32_t port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = htons((uint16_t)port);
  return sa;
}

// Bytes of a Buffer argument from `offset` for `length`, or NULL when they do not lie within it.
static char *buffer_range(napi_env env, napi_value buffer, int32_t offset, int32_t length) {
  void *data = NULL;
  size_t size = 0;
  if (napi_get_buffer_info(env, buffer, &data, &size) != napi_ok || offset < 0 || length < 0 || (size_t)offset + (size_t)length > size) return NULL;
  return (char *)data + offset;
}

// open(ip, port, bufferBytes, timestamps?) -> fd: a non-blocking UDP socket bound to ip:port (port 0: any); with
// timestamps, the kernel stamps each datagram's arrival (SO_TIMESTAMPNS), which recv hands over.
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_undefined(env, &a[3]);
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return number(env, -errno);
  int size = arg_i32(env, a[2]);
  if (size > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  bool timestamps = false;
  napi_get_value_bool(env, a[3], &timestamps);
  int on = 1;
  if (timestamps && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) {
    int error = errno;
    close(fd);
    return number(env, -error);
  }
  struct sockaddr_in sa = ipv4(arg_u32(env, a[0]), arg_u32(env, a[1]));
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int error = errno;
    close(fd);
    return number(env, -error);
  }
  return number(env, fd);
}

// connect(fd, ip, port) -> 0
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  struct sockaddr_in sa = ipv4(arg_u32(env, a[1]), arg_u32(env, a[2]));
  return number(env, connect(arg_i32(env, a[0]), (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0);
}

// localPort(fd) -> port
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  if (getsockname(arg_i32(env, a[0]), (struct sockaddr *)&sa, &len) < 0) return number(env, -errno);
  return number(env, ntohs(sa.sin_port));
}

// receiveDrops(fd) -> datagrams the kernel dropped on arrival at the socket since it was made (its receive buffer
// full), or -errno. One getsockopt on this socket (SO_MEMINFO, Linux 4.12): the same count as /proc/net/udp's drops
// column, whose text the kernel makes for every UDP socket of the namespace (45-63 ms for 8,000 sockets, measured),
// which held a relay's packet path up for as long at each scrape of its metrics.
static napi_value js_receive_drops(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
#ifdef SO_MEMINFO
  uint32_t meminfo[SK_MEMINFO_VARS];
  socklen_t len = sizeof meminfo;
  if (getsockopt(arg_i32(env, a[0]), SOL_SOCKET, SO_MEMINFO, meminfo, &len) < 0) return number(env, -errno);
  if (len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) return number(env, -ENOPROTOOPT);
  return number(env, meminfo[SK_MEMINFO_DROPS]);
#else
  (void)a;
  return number(env, -ENOPROTOOPT);
#endif
}

// One datagram from fd, without blocking: to ip:port, or to the connected peer when port is 0.
static ssize_t send_datagram(int fd, const char *bytes, size_t length, uint32_t ip, uint32_t port) {
  if (port == 0) return send(fd, bytes, length, MSG_DONTWAIT);
  struct sockaddr_in sa = ipv4(ip, port);
  return sendto(fd, bytes, length, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa);
}

// send(fd, buffer, offset, length, ip, port) -> bytes sent; ip 0 and port 0: the connected peer.
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int32_t length = arg_i32(env, a[3]);
  char *bytes = buffer_range(env, a[1], arg_i32(env, a[2]), length);
  if (bytes == NULL) return number(env, -EINVAL);
  ssize_t sent = send_datagram(arg_i32(env, a[0]), bytes, (size_t)length, arg_u32(env, a[4]), arg_u32(env, a[5]));
  return number(env, sent < 0 ? -errno : (double)sent);
}

// sendBatch(fd, slab, ends: Uint32Array, ips: Uint32Array, ports: Uint32Array, count, results: Int32Array) -> how
// many of the `count` datagrams have a result. Datagram i is the slab's bytes from ends[i - 1] (0 for the first) to
// ends[i], to ips[i]:ports[i] (port 0: the connected peer). results[i] is the bytes sent or -errno; a full send
// buffer stops the batch there (its result and those after it unset, for the caller to send once it drains). One
// system call (sendmmsg) for as many datagrams as the kernel takes at once: a relay's mirror copies and its ACKs back
// to devices, each a run of sends from one socket.
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int fd = arg_i32(env, a[0]);
  void *slab = NULL;
  size_t slab_size = 0;
  napi_get_buffer_info(env, a[1], &slab, &slab_size);
  size_t n_ends, n_ips, n_ports, n_results;
  uint32_t *ends = typed_array(env, a[2], &n_ends);
  uint32_t *ips = typed_array(env, a[3], &n_ips);
  uint32_t *ports = typed_array(env, a[4], &n_ports);
  int32_t count = arg_i32(env, a[5]);
  int32_t *results = typed_array(env, a[6], &n_results);
  if (slab == NULL || ends == NULL || ips == NULL || ports == NULL || results == NULL || count < 0) return number(env, -EINVAL);
  if ((size_t)count > n_ends || (size_t)count > n_ips || (size_t)count > n_ports || (size_t)count > n_results) return number(env, -EINVAL);
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in peers[BATCH];
  int32_t done = 0;
  while (done < count) {
    int32_t take = count - done < BATCH ? count - done : BATCH;
    memset(msgs, 0, sizeof *msgs * (size_t)take);
    for (int32_t i = 0; i < take; i++) {
      int32_t k = done + i;
      uint32_t start = k == 0 ? 0 : ends[k - 1];
      if (ends[k] < start || ends[k] > slab_size) return number(env, -EINVAL);
      iov[i].iov_base = (char *)slab + start;
      iov[i].iov_len = ends[k] - start;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (ports[k] != 0) {
        peers[i] = ipv4(ips[k], ports[k]);
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      }
    }
    int sent = sendmmsg(fd, msgs, (unsigned)take, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      // The first datagram of the run failed (the kernel reports only that): its result, and on with the next.
      results[done++] = -errno;
      continue;
    }
    for (int i = 0; i < sent; i++) results[done + i] = (int32_t)msgs[i].msg_len;
    done += sent;
  }
  return number(env, done);
}

// groupOpen() -> an epoll descriptor: sockets added to it are watched as one, so that many quiet sockets (a relay's
// per-device bindings) cost one callback per turn of the event loop, not one each.
static napi_value js_group_open(napi_env env, napi_callback_info info) {
  (void)info;
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  return number(env, epfd < 0 ? -errno : epfd);
}

// groupAdd(group, fd) / groupRemove(group, fd) -> 0 or -errno.
static napi_value js_group_add(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int fd = arg_i32(env, a[1]);
  struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
  return number(env, epoll_ctl(arg_i32(env, a[0]), EPOLL_CTL_ADD, fd, &event) < 0 ? -errno : 0);
}

static napi_value js_group_remove(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  struct epoll_event event = {0};
  return number(env, epoll_ctl(arg_i32(env, a[0]), EPOLL_CTL_DEL, arg_i32(env, a[1]), &event) < 0 ? -errno : 0);
}

static double monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e9 + (double)now.tv_nsec;
}

static double realtime_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)now.tv_sec * 1e9 + (double)now.tv_nsec;
}

// CLOCK_MONOTONIC minus CLOCK_REALTIME, read with the realtime clock between two monotonic reads and taken from the
// tightest of a few tries: a thread preempted between two plain reads got the preemption into the offset, and every
// stamp of the batch with it. The first datagrams after the first socket in the system asks for stamps may be
// stamped when read, not when they arrived: Linux switches stamping on from a work queue, later on a busy machine
// (seen as arrivals stamped 160 ms after their sends had returned, the time they were read; no clock had stepped).
static double realtime_to_monotonic_ns(void) {
  double best_offset = 0, best_span = -1;
  for (int try = 0; try < 4; try++) {
    double before = monotonic_ns();
    double realtime = realtime_ns();
    double after = monotonic_ns();
    if (best_span < 0 || after - before < best_span) {
      best_span = after - before;
      best_offset = (before + after) / 2 - realtime;
    }
    if (best_span < 20e3) break;
  }
  return best_offset;
}

// Room for the kernel's arrival stamp of one received datagram (SO_TIMESTAMPNS), aligned as a control message must be.
typedef union {
  char bytes[CMSG_SPACE(sizeof(struct timespec))];
  struct cmsghdr align;
} stamp_control_t;

// Sets up `count` messages to receive datagrams into slots of `slot` bytes of `slab`, each with its sender's address
// and, where `controls` is given, its arrival stamp.
static void receive_into(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_in *peers, stamp_control_t *controls, char *slab, size_t slot, size_t count) {
  memset(msgs, 0, sizeof *msgs * count);
  for (size_t i = 0; i < count; i++) {
    iov[i].iov_base = slab + i * slot;
    iov[i].iov_len = slot;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &peers[i];
    msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
    if (controls != NULL) {
      msgs[i].msg_hdr.msg_control = controls[i].bytes;
      msgs[i].msg_hdr.msg_controllen = sizeof controls[i].bytes;
    }
  }
}

// When a received datagram arrived, from the kernel's stamp (CLOCK_REALTIME) moved onto CLOCK_MONOTONIC by
// `realtime_to_monotonic`; 0 when it carries no stamp.
static double arrival_ns(struct msghdr *message, double realtime_to_monotonic) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(message); c != NULL; c = CMSG_NXTHDR(message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    struct timespec at;
    memcpy(&at, CMSG_DATA(c), sizeof at);
    return (double)at.tv_sec * 1e9 + (double)at.tv_nsec + realtime_to_monotonic;
  }
  return 0;
}

// The replies a sending thread reads inside its spun waits (sendDue), written into the reply ring it shares with the
// main thread (src/replay/reply-ring.js, whose layout `layout` gives: records, payload bytes, then the byte offsets in
// `memory` of the arrival times, devices, addresses, payload positions, lengths, ports and payloads). Everything is
// passed in by each call; nothing is kept past it.
typedef struct {
  int epfd;
  uint8_t *memory;
  const uint32_t *layout;
  const int32_t *sockets;
  size_t n_sockets;
  const uint32_t *self_ip;
  const uint16_t *self_port;
  int32_t *errors;
  size_t n_errors;
  double realtime_to_monotonic;
} replies_t;

enum { RING_RECORDS, RING_BYTES, RING_TS, RING_DEVICE, RING_IP, RING_AT, RING_LENGTH, RING_PORT, RING_PAYLOAD, RING_LAYOUT };
// Datagrams one recvmmsg takes in a spun wait, and the largest UDP payload: the ring must have room for all of them.
#define SPUN_READ 8
#define DATAGRAM_MAX 65536
// A spun wait this long or longer reads replies, until this long before the packet's time (one socket's recvmmsg took
// 2-4 µs here).
#define REPLY_SLACK_NS 10000.0
#define REPLY_MARGIN_NS 5000.0

// Whether the ring has room for `count` records and `count` payloads of any size (one skipped end included).
static bool ring_room(const replies_t *r, uint32_t count) {
  int32_t *header = (int32_t *)r->memory;
  uint32_t written = (uint32_t)__atomic_load_n(&header[0], __ATOMIC_SEQ_CST);
  uint32_t read = (uint32_t)__atomic_load_n(&header[1], __ATOMIC_SEQ_CST);
  uint32_t bytes_written = (uint32_t)__atomic_load_n(&header[2], __ATOMIC_SEQ_CST);
  uint32_t bytes_read = (uint32_t)__atomic_load_n(&header[3], __ATOMIC_SEQ_CST);
  return r->layout[RING_RECORDS] - (written - read) >= count && r->layout[RING_BYTES] - (bytes_written - bytes_read) >= (count + 1) * DATAGRAM_MAX;
}

// Adds one reply, as ReplyRingWriter.add does (the same layout and counters); the caller made sure of the room.
static void ring_add(const replies_t *r, uint32_t device, uint32_t ip, uint16_t port, const char *bytes, uint32_t length, double ts) {
  int32_t *header = (int32_t *)r->memory;
  uint32_t records = r->layout[RING_RECORDS], size = r->layout[RING_BYTES];
  uint32_t written = (uint32_t)__atomic_load_n(&header[0], __ATOMIC_SEQ_CST);
  uint32_t bytes_written = (uint32_t)__atomic_load_n(&header[2], __ATOMIC_SEQ_CST);
  uint32_t at = bytes_written % size;
  uint32_t skipped = at + length > size ? size - at : 0;
  if (skipped > 0) at = 0;
  memcpy(r->memory + r->layout[RING_PAYLOAD] + at, bytes, length);
  uint32_t slot = written % records;
  ((double *)(r->memory + r->layout[RING_TS]))[slot] = ts;
  ((uint32_t *)(r->memory + r->layout[RING_DEVICE]))[slot] = device;
  ((uint32_t *)(r->memory + r->layout[RING_IP]))[slot] = ip;
  ((uint32_t *)(r->memory + r->layout[RING_AT]))[slot] = at;
  ((uint32_t *)(r->memory + r->layout[RING_LENGTH]))[slot] = length;
  ((uint16_t *)(r->memory + r->layout[RING_PORT]))[slot] = port;
  // The counters last: the main thread reads nothing of a record before it counts as written.
  __atomic_store_n(&header[2], (int32_t)(bytes_written + skipped + length), __ATOMIC_SEQ_CST);
  __atomic_store_n(&header[0], (int32_t)(written + 1), __ATOMIC_SEQ_CST);
}

// read_replies's slab, one per thread and freed when the thread ends: a replay's sending thread is one of many in a
// process's life.
static pthread_key_t slab_key;
static pthread_once_t slab_once = PTHREAD_ONCE_INIT;
static void make_slab_key(void) { pthread_key_create(&slab_key, free); }

// Reads replies waiting on the devices' sockets into the ring until `until` (CLOCK_MONOTONIC ns): one socket's
// datagrams (up to SPUN_READ) at a time, the clock looked at between sockets. A socket's error (an ICMP refusal after
// a send) goes into errors (errors[0] their count, the codes after it, as -errno) for the caller to report; a datagram
// from the socket's own address is its warm-up, skipped. Stops early when the ring or the errors have no room: the rest
// waits on the sockets for the thread's other way of reading (or its next send), so nothing is lost.
static void read_replies(const replies_t *r, double until) {
  pthread_once(&slab_once, make_slab_key);
  char *slab = pthread_getspecific(slab_key);
  if (slab == NULL) {
    if ((slab = malloc((size_t)SPUN_READ * DATAGRAM_MAX)) == NULL) return;
    pthread_setspecific(slab_key, slab);
  }
  struct epoll_event events[16];
  int ready = epoll_wait(r->epfd, events, 16, 0);
  for (int e = 0; e < ready && monotonic_ns() < until; e++) {
    uint32_t index = events[e].data.u32;
    // No room for the datagrams, or for an error a read might meet: they stay on the socket for a later read.
    if (index >= r->n_sockets || !ring_room(r, SPUN_READ) || (size_t)r->errors[0] + 1 >= r->n_errors) return;
    struct mmsghdr msgs[SPUN_READ];
    struct iovec iov[SPUN_READ];
    struct sockaddr_in peers[SPUN_READ];
    stamp_control_t controls[SPUN_READ];
    receive_into(msgs, iov, peers, controls, slab, DATAGRAM_MAX, SPUN_READ);
    int got = recvmmsg(r->sockets[index], msgs, SPUN_READ, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) r->errors[1 + r->errors[0]++] = -errno;
      continue;
    }
    for (int i = 0; i < got; i++) {
      uint32_t ip = ntohl(peers[i].sin_addr.s_addr);
      uint16_t port = ntohs(peers[i].sin_port);
      if (ip == r->self_ip[index] && port == r->self_port[index]) continue;
      double ts = arrival_ns(&msgs[i].msg_hdr, r->realtime_to_monotonic);
      // As recv hands them over: a datagram larger than its slot is cut, and counted with no bytes.
      uint32_t length = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : msgs[i].msg_len;
      ring_add(r, index, ip, port, iov[i].iov_base, length, ts > 0 ? ts : monotonic_ns());
    }
  }
}

// replySet(sockets: Int32Array) -> an epoll descriptor watching each socket for datagrams (its index as the event's
// data), for sendDue to read replies from inside its spun waits; or -errno. Closed with closeFd.
static napi_value js_reply_set(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  size_t n = 0;
  const int32_t *sockets = typed_array(env, a[0], &n);
  if (sockets == NULL) return number(env, -EINVAL);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return number(env, -errno);
  for (size_t i = 0; i < n; i++) {
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, sockets[i], &event) < 0) {
      int error = errno;
      close(epfd);
      return number(env, -error);
    }
  }
  return number(env, epfd);
}

// sendDue(sockets: Int32Array, connected: Uint16Array, device: Uint32Array, relayPort: Uint16Array, payload, payloadEnd:
// Uint32Array, offsetNs: Float64Array, actualNs: Float64Array, frame: Float64Array, stop: Int32Array) -> packets sent.
// A run of a replay's batch: packets frame[0] (from) up to frame[1] (to), each once it is due (CLOCK_MONOTONIC
// frame[2] + offsetNs[i] has passed; NaN: as soon as possible, unless frame[3] ns have passed since frame[2]), while
// stop[0] is 0. Packet i goes from the socket sockets[device[i]] to port relayPort[i] of the relay at frame[4] (the
// connected peer when the socket is connected to that port, connected[device[i]]), with payload bytes from where
// packet i-1's ended (0 for the first) to payloadEnd[i]; the time its send was issued goes into actualNs[i]. Stops at
// the first packet not due in time or whose send fails (its -errno in frame[5], else 0): the caller sends that one its
// own way. One call for a run of packets, where a call per packet cost the sending thread a third of its time at
// full speed. A packet due within frame[6] ns is waited for here, spinning on the clock, and the call returns once it
// has lasted frame[7] ns: a paced run then costs no JavaScript per packet (its allocations were the thread's
// collections, each a stall of the sends behind it). The caller reads replies between calls; their times are the
// kernel's (recv). With six more arguments (the reply ring's memory: Uint8Array, its layout: Uint32Array, each
// socket's own address: Uint32Array and port: Uint16Array, errors: Int32Array, the epoll set of replySet), replies
// are also read into the ring inside the waits spun here (read_replies): at 50k pps with every packet answered, a
// system call and a turn of JavaScript per reply between runs made the sends behind them late by milliseconds.
static napi_value js_send_due(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value a[16];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  size_t n_sockets, n_connected, n_device, n_relay_port, n_payload, n_ends, n_offset, n_actual, n_frame, n_stop;
  const int32_t *sockets = typed_array(env, a[0], &n_sockets);
  const uint16_t *connected = typed_array(env, a[1], &n_connected);
  const uint32_t *device = typed_array(env, a[2], &n_device);
  const uint16_t *relay_port = typed_array(env, a[3], &n_relay_port);
  const char *payload = typed_array(env, a[4], &n_payload);
  const uint32_t *ends = typed_array(env, a[5], &n_ends);
  const double *offset_ns = typed_array(env, a[6], &n_offset);
  double *actual_ns = typed_array(env, a[7], &n_actual);
  double *frame = typed_array(env, a[8], &n_frame);
  const int32_t *stop = typed_array(env, a[9], &n_stop);
  if (argc < 10 || n_frame < 8 || n_stop < 1 || n_connected < n_sockets) return number(env, -EINVAL);
  size_t from = (size_t)frame[0], to = (size_t)frame[1];
  if (to > n_device || to > n_relay_port || to > n_ends || to > n_offset || to > n_actual) return number(env, -EINVAL);
  double start_ns = frame[2], duration_ns = frame[3], spin_ns = frame[6], budget_ns = frame[7];
  // With a reply ring (arguments 10-15), replies are read inside the waits spun here.
  replies_t replies = {.epfd = -1};
  if (argc >= 16) {
    size_t n_memory, n_layout, n_self_ip, n_self_port;
    replies.memory = typed_array(env, a[10], &n_memory);
    replies.layout = typed_array(env, a[11], &n_layout);
    replies.self_ip = typed_array(env, a[12], &n_self_ip);
    replies.self_port = typed_array(env, a[13], &n_self_port);
    replies.errors = typed_array(env, a[14], &replies.n_errors);
    replies.sockets = sockets;
    replies.n_sockets = n_sockets;
    bool usable = replies.memory != NULL && replies.layout != NULL && n_layout >= RING_LAYOUT && replies.self_ip != NULL &&
                  replies.self_port != NULL && n_self_ip >= n_sockets && n_self_port >= n_sockets && replies.errors != NULL &&
                  replies.n_errors > 1 && replies.layout[RING_PAYLOAD] + (size_t)replies.layout[RING_BYTES] <= n_memory;
    if (usable) {
      replies.epfd = arg_i32(env, a[15]);
      replies.realtime_to_monotonic = realtime_to_monotonic_ns();
    }
  }
  uint32_t relay_ip = (uint32_t)frame[4];
  frame[5] = 0;
  double now = monotonic_ns();
  double give_back_at = now + budget_ns;
  size_t i = from;
  for (; i < to; i++) {
    if (__atomic_load_n(&stop[0], __ATOMIC_RELAXED) != 0 || (i > from && now >= give_back_at)) break;
    double offset = offset_ns[i];
    if (offset != offset) {
      if (now - start_ns > duration_ns) break;
    } else if (start_ns + offset > now) {
      double due = start_ns + offset;
      if (due - now > spin_ns || due > give_back_at) break;
      while (now < due && __atomic_load_n(&stop[0], __ATOMIC_RELAXED) == 0) {
        // A wait long enough reads replies first, stopping short of the packet's time: the reading takes slack, not
        // send times.
        if (replies.epfd >= 0 && due - now > REPLY_SLACK_NS) read_replies(&replies, due - REPLY_MARGIN_NS);
        now = monotonic_ns();
      }
      if (now < due) break;
    }
    uint32_t index = device[i];
    uint32_t begin = i == 0 ? 0 : ends[i - 1];
    if (index >= n_sockets || ends[i] < begin || ends[i] > n_payload) {
      frame[5] = -EINVAL;
      break;
    }
    // When the send was issued: a reply stamped by the kernel can come before the send call returns (the thread
    // preempted by the one that answers), never before it was issued.
    double issued = now;
    ssize_t sent = send_datagram(sockets[index], payload + begin, ends[i] - begin, relay_ip, connected[index] == relay_port[i] ? 0 : relay_port[i]);
    if (sent < 0) {
      frame[5] = -errno;
      break;
    }
    actual_ns[i] = issued;
    now = monotonic_ns();
  }
  return number(env, (double)(i - from));
}

// Where received datagrams go, as recv and groupRecv take it: a slab of slots, each datagram's length and sender, and
// (optionally) when it arrived; `max` the datagrams all of it has room for, at most a batch.
typedef struct {
  char *slab;
  size_t slot;
  int32_t *lengths;
  uint32_t *from;
  double *stamps;
  size_t max;
} read_target_t;

// The read target in arguments a[1] (slab), a[2] (slotBytes), a[3] (lengths), a[4] (from) and `stamps` (a typed array
// or undefined); false when one of them is not what it must be.
static bool read_target(napi_env env, const napi_value *a, napi_value stamps_arg, read_target_t *t) {
  size_t n_stamps = 0, n_lengths = 0, n_from = 0, slab_size = 0;
  void *slab = NULL;
  napi_valuetype stamps_type;
  napi_typeof(env, stamps_arg, &stamps_type);
  t->stamps = stamps_type == napi_object ? typed_array(env, stamps_arg, &n_stamps) : NULL;
  napi_get_buffer_info(env, a[1], &slab, &slab_size);
  int32_t slot = arg_i32(env, a[2]);
  t->lengths = typed_array(env, a[3], &n_lengths);
  t->from = typed_array(env, a[4], &n_from);
  if (slab == NULL || slot <= 0 || t->lengths == NULL || t->from == NULL) return false;
  t->slab = slab;
  t->slot = (size_t)slot;
  t->max = slab_size / t->slot;
  if (t->max > n_lengths) t->max = n_lengths;
  if (t->max > n_from / 2) t->max = n_from / 2;
  if (t->max > BATCH) t->max = BATCH;
  if (t->stamps != NULL && t->max > n_stamps) t->max = n_stamps;
  return true;
}

// Each of `got` datagrams just received into the target from entry `at` on: its length (-1: cut), its sender and, where
// stamps are asked for, when it arrived.
static void record_received(const read_target_t *t, size_t at, const struct mmsghdr *msgs, const struct sockaddr_in *peers, int got, double realtime_to_monotonic) {
  for (int i = 0; i < got; i++) {
    size_t k = at + (size_t)i;
    t->lengths[k] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int32_t)msgs[i].msg_len;
    t->from[2 * k] = ntohl(peers[i].sin_addr.s_addr);
    t->from[2 * k + 1] = ntohs(peers[i].sin_port);
    if (t->stamps != NULL) t->stamps[k] = arrival_ns((struct msghdr *)&msgs[i].msg_hdr, realtime_to_monotonic);
  }
}

// recv(fd, slab, slotBytes, lengths: Int32Array, from: Uint32Array, stamps?: Float64Array) -> datagrams read (0: none
// waiting). Datagram i is at i * slotBytes in the slab, lengths[i] long (-1: larger than a slot, cut), from [ip, port]
// at from[2i]; with stamps, stamps[i] is when it arrived (CLOCK_MONOTONIC ns, from the kernel's stamp of a socket
// opened with timestamps; 0 without one).
static napi_value js_recv(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  napi_get_undefined(env, &a[5]);
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  read_target_t t;
  if (!read_target(env, a, a[5], &t)) return number(env, -EINVAL);
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in peers[BATCH];
  static __thread stamp_control_t controls[BATCH];
  receive_into(msgs, iov, peers, t.stamps == NULL ? NULL : controls, t.slab, t.slot, t.max);
  int got = recvmmsg(arg_i32(env, a[0]), msgs, (unsigned)t.max, MSG_DONTWAIT, NULL);
  if (got < 0) return number(env, errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno);
  // The kernel stamps arrivals on CLOCK_REALTIME; the caller's clock is CLOCK_MONOTONIC, read here beside it.
  record_received(&t, 0, msgs, peers, got, t.stamps == NULL ? 0 : realtime_to_monotonic_ns());
  return number(env, got);
}

// groupRecv(group, slab, slotBytes, lengths: Int32Array, from: Uint32Array, fds: Int32Array, stamps?: Float64Array) ->
// entries: datagrams waiting on the group's ready sockets, read as recv reads one socket's (with stamps, when each
// arrived, 0 for a socket opened without them), each entry's socket in fds[i]. The slots are shared out among the
// sockets ready at once, so that a busy one does not starve the others (what is left is read at the next turn: the
// group stays readable). A socket's error (an ICMP port unreachable after an earlier send) is an entry of its own:
// lengths[i] -2, from[2i] its errno.
static napi_value js_group_recv(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  napi_get_undefined(env, &a[6]);
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  read_target_t t;
  size_t n_fds = 0;
  int32_t *fds = typed_array(env, a[5], &n_fds);
  if (!read_target(env, a, a[6], &t) || fds == NULL) return number(env, -EINVAL);
  size_t max = t.max < n_fds ? t.max : n_fds;
  static __thread stamp_control_t controls[BATCH];
  double realtime_to_monotonic = t.stamps == NULL ? 0 : realtime_to_monotonic_ns();
  struct epoll_event ready[BATCH];
  int n = epoll_wait(arg_i32(env, a[0]), ready, (int)max, 0);
  if (n < 0) return number(env, errno == EINTR ? 0 : -errno);
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in peers[BATCH];
  size_t used = 0;
  size_t share = n > 0 ? max / (size_t)n : 0;
  if (share == 0) share = 1;
  for (int i = 0; i < n && used < max; i++) {
    int fd = ready[i].data.fd;
    size_t take = max - used < share ? max - used : share;
    receive_into(msgs, iov, peers, t.stamps == NULL ? NULL : controls, t.slab + used * t.slot, t.slot, take);
    int got = recvmmsg(fd, msgs, (unsigned)take, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      fds[used] = fd;
      t.lengths[used] = -2;
      t.from[2 * used] = (uint32_t)errno;
      t.from[2 * used + 1] = 0;
      used++;
      continue;
    }
    for (int j = 0; j < got; j++) fds[used + (size_t)j] = fd;
    record_received(&t, used, msgs, peers, got, realtime_to_monotonic);
    used += (size_t)got;
  }
  return number(env, (double)used);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watch_t *w = (watch_t *)handle;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value callback, receiver, argv[1], result;
  napi_get_reference_value(w->env, w->callback, &callback);
  napi_get_global(w->env, &receiver);
  // A socket error (an ICMP port unreachable after a send: status < 0) is passed on as readable, so the next recv
  // returns it; libuv has stopped the poll for it, and it is started again below.
  argv[0] = number(w->env, status < 0 ? UV_READABLE : events);
  // Through make_callback, as Node's own handles do: promise jobs and nextTick callbacks queued by the handler run
  // when it returns, and an exception it throws reaches the process's uncaught-exception handling.
  if (napi_make_callback(w->env, w->context, receiver, callback, 1, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(w->env, &error);
    napi_fatal_exception(w->env, error);
  }
  napi_close_handle_scope(w->env, scope);
  if (status < 0 && !uv_is_closing((uv_handle_t *)handle)) uv_poll_start(handle, w->events, on_poll);
}

// The watch a handle argument holds, or NULL when it holds none.
static watch_t *watch_arg(napi_env env, napi_value handle) {
  watch_t *w = NULL;
  if (napi_get_value_external(env, handle, (void **)&w) != napi_ok) return NULL;
  return w;
}

// watch(fd, events, callback(events)) -> handle: calls back when the socket is readable (1) and/or writable (2).
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value a[3];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  watch_t *w = calloc(1, sizeof *w);
  if (w == NULL) return number(env, -ENOMEM);
  w->env = env;
  w->fd = arg_i32(env, a[0]);
  int status = uv_poll_init(loop, &w->poll, w->fd);
  if (status < 0) {
    free(w);
    return number(env, status);
  }
  napi_create_reference(env, a[2], 1, &w->callback);
  napi_value name;
  napi_create_string_utf8(env, "relay-udp-socket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->context);
  w->events = arg_i32(env, a[1]);
  uv_poll_start(&w->poll, w->events, on_poll);
  napi_value handle;
  napi_create_external(env, w, NULL, NULL, &handle);
  return handle;
}

// events(handle, events): what the watch waits for from now on.
static napi_value js_events(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  watch_t *w = watch_arg(env, a[0]);
  if (w == NULL) return number(env, -EINVAL);
  w->events = arg_i32(env, a[1]);
  uv_poll_start(&w->poll, w->events, on_poll);
  return number(env, 0);
}

static void on_closed(uv_handle_t *handle) { free(handle); }

// close(handle): stops the watch and closes its socket at once, so that its address is free when close returns. libuv
// lets go of the descriptor inside uv_close (it leaves the loop's epoll set and any events pending for it are
// dropped); only the handle's memory waits for the loop's close phase. Closing the socket there instead left its
// port bound for a turn of the loop, and a caller that closed from the close phase itself could not bind it again.
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  watch_t *w = watch_arg(env, a[0]);
  if (w == NULL) return number(env, -EINVAL);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->context);
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_closed);
  return number(env, close(w->fd) < 0 ? -errno : 0);
}

// closeFd(fd): a socket never watched.
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  return number(env, close(arg_i32(env, a[0])) < 0 ? -errno : 0);
}

// park(ns) -> 1 when the calling thread's event loop has I/O waiting, 0 after ns nanoseconds without: a sending
// thread's wait for its next deadline that gives its CPU back yet is woken by a reply at once (the loop's epoll
// descriptor is readable while any of its sockets is). libuv's own timers are a millisecond coarse; here the kernel's
// timer slack is cut to 1 ns for the thread (the default 50 us would be added to every wake).
static napi_value js_park(napi_env env, napi_callback_info info) {
  static __thread int slack_cut = 0;
  size_t argc = 1;
  napi_value a[1];
  double ns = 0;
  uv_loop_t *loop = NULL;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  napi_get_value_double(env, a[0], &ns);
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return number(env, -EINVAL);
  if (!slack_cut) {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    slack_cut = 1;
  }
  if (!(ns > 0)) return number(env, 0);
  struct pollfd loop_fd = {.fd = uv_backend_fd(loop), .events = POLLIN, .revents = 0};
  struct timespec timeout = {.tv_sec = (time_t)(ns / 1e9), .tv_nsec = (long)(ns - (double)(time_t)(ns / 1e9) * 1e9)};
  int ready = ppoll(&loop_fd, 1, &timeout, NULL);
  if (ready < 0) return number(env, errno == EINTR ? 1 : -errno);
  return number(env, ready > 0 ? 1 : 0);
}

// realtime(on) -> 0, or -errno where not allowed (CAP_SYS_NICE): the calling thread under SCHED_FIFO at the lowest
// real-time priority (on), so that it runs the moment it wakes, ahead of every ordinary thread; or back under the
// ordinary policy (off), its nice value kept.
static napi_value js_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  bool on = false;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  napi_get_value_bool(env, a[0], &on);
  struct sched_param param = {.sched_priority = on ? 1 : 0};
  return number(env, -pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &param));
}

NAPI_MODULE_INIT() {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"open", js_open},   {"connect", js_connect}, {"localPort", js_local_port}, {"receiveDrops", js_receive_drops}, {"send", js_send},         {"recv", js_recv},
      {"watch", js_watch}, {"events", js_events},   {"close", js_close},          {"closeFd", js_close_fd}, {"park", js_park}, {"realtime", js_realtime}, {"sendDue", js_send_due}, {"replySet", js_reply_set},
      {"sendBatch", js_send_batch}, {"groupOpen", js_group_open}, {"groupAdd", js_group_add}, {"groupRemove", js_group_remove}, {"groupRecv", js_group_recv},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, functions[i].name, fn);
  }
  return exports;
}
