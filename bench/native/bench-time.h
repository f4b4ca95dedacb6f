// What the bench's C programs share: the monotonic clock in nanoseconds (the harness's clock), and the comparison
// qsort needs to take percentiles of it. Each program is built alone (`cc -O2 -o BIN FILE.c`), so this is a header
// of static functions, not a library.
#ifndef BENCH_TIME_H
#define BENCH_TIME_H
#include <time.h>

static inline long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline int by_value(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}
#endif
