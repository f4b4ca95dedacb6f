// Keeps the memory a process frees for its own next use instead of handing it back to the system (glibc's malloc
// tuned through mallopt, as GLIBC_TUNABLES would before the process starts). DuckDB's operators allocate their
// working memory (a quantile's values, a hash table's pointers) through the C++ allocator, that is glibc's malloc,
// apart from DuckDB's own pool: by default glibc serves each allocation of 128 KB to 32 MB from a fresh mapping and
// shrinks its heaps as soon as their top is free, so the next query faults the same memory in again. On this
// project's machine, a virtual machine, a page costs 13-19 µs the first time it is touched (docs/performance.md).
//
// The same for DuckDB's own jemalloc (keepJemalloc), and transparent huge pages asked for on DuckDB's block pool
// (hugePages, called by store.ts with the pool's mapping), where the same memory in 2 MB pages costs about half.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "../core/napi-args.h"

// keep(): 1 when glibc took the settings, 0 where it cannot (another C library, or glibc refused one).
static napi_value keep(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __GLIBC__
  // The largest request served from the heaps (glibc's ceiling for it on 64-bit); a heap shrinks only when 2 GB at
  // its top are free; each growth takes 64 MB at once.
  int kept = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1 &&
             mallopt(M_TOP_PAD, 64 * 1024 * 1024) == 1;
  return number(env, kept ? 1 : 0);
#else
  return number(env, 0);
#endif
}

typedef int (*mallctl_t)(const char *name, void *old_value, size_t *old_length, void *new_value, size_t new_length);

// keepJemalloc() -> the arenas set, or -1 where DuckDB's own jemalloc is not in the process (DuckDB builds it in on
// Linux x64, under the prefix duckdb_je_). Most of DuckDB's operators' memory comes from it, and DuckDB configures it
// to hand freed pages back over a second after they are freed (dirty_decay_ms:1000, muzzy_decay_ms:1000): an
// analysis's steps take about a second each on 10M observations, so the next step faulted the same memory in again.
// Over five seconds instead, for the arenas there are and those made later (as jemalloc's DUCKDB_JE_MALLOC_CONF would
// before the library loads): as fast as never handing them back on 10M observations, where never held every step's
// memory at once on 100M and the process ran out of memory at 24 GB (docs/performance.md, 2026-12-01).
#define JEMALLOC_DECAY_MS 5000
static napi_value keep_jemalloc(napi_env env, napi_callback_info info) {
  (void)info;
  void *duckdb = dlopen("libduckdb.so", RTLD_LAZY | RTLD_NOLOAD);
  if (duckdb == NULL) return number(env, -1);
  mallctl_t mallctl = (mallctl_t)dlsym(duckdb, "duckdb_je_mallctl");
  // Only the reference RTLD_NOLOAD took is given back: duckdb.node keeps the library loaded.
  dlclose(duckdb);
  if (mallctl == NULL) return number(env, -1);
  ssize_t decay = JEMALLOC_DECAY_MS;
  mallctl("arenas.dirty_decay_ms", NULL, NULL, &decay, sizeof decay);
  mallctl("arenas.muzzy_decay_ms", NULL, NULL, &decay, sizeof decay);
  unsigned arenas = 0;
  size_t length = sizeof arenas;
  if (mallctl("arenas.narenas", &arenas, &length, NULL, 0) != 0) return number(env, 0);
  int set = 0;
  for (unsigned i = 0; i < arenas; i++) {
    char name[64];
    snprintf(name, sizeof name, "arena.%u.dirty_decay_ms", i);
    // An arena not made yet refuses (EFAULT); it takes the default set above when it is.
    if (mallctl(name, NULL, NULL, &decay, sizeof decay) != 0) continue;
    snprintf(name, sizeof name, "arena.%u.muzzy_decay_ms", i);
    mallctl(name, NULL, NULL, &decay, sizeof decay);
    set++;
  }
  return number(env, set);
}

// hugePages(start, length) -> 0, or -errno: asks the kernel to back the mapping at start (an address below 2^53,
// page-aligned) with transparent huge pages where it leaves that to the process (THP "madvise" mode).
static napi_value huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int64_t start = 0, length = 0;
  if (argc < 2 || napi_get_value_int64(env, a[0], &start) != napi_ok || napi_get_value_int64(env, a[1], &length) != napi_ok || start <= 0 || length <= 0) {
    return number(env, -EINVAL);
  }
#ifdef MADV_HUGEPAGE
  return number(env, madvise((void *)(uintptr_t)start, (size_t)length, MADV_HUGEPAGE) == 0 ? 0 : -errno);
#else
  return number(env, -ENOSYS);
#endif
}

// firstTouchNs(bytes, costs) -> 0 or -errno: the time, in ns, of the first touch of every page of `bytes` of fresh
// anonymous memory in the system's small pages (costs[0]) and of as much in transparent huge pages (costs[1]), a
// Float64Array. What a first touch costs here changes with the host's state, not with the code: on this project's
// machine, a virtual machine, 4 KB pages cost 1.7 µs each on some days and 12-16 µs on others, and 2 MB pages about
// half as much for the same memory on the latter, seven times as much on the former (docs/performance.md). Both
// mappings are made before either is touched, touched 2 MB of each in turn, and handed back only at the end: memory
// just freed is still backed, and a second probe that took it would measure that instead.
#define HUGE_PAGE_BYTES (2 * 1024 * 1024)
static double elapsed_ns(const struct timespec *from, const struct timespec *to) {
  return (double)(to->tv_sec - from->tv_sec) * 1e9 + (double)(to->tv_nsec - from->tv_nsec);
}

static napi_value first_touch_ns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  int64_t bytes = 0;
  size_t count = 0;
  double *costs = argc < 2 ? NULL : typed_array(env, a[1], &count);
  long page = sysconf(_SC_PAGESIZE);
  if (costs == NULL || count < 2 || napi_get_value_int64(env, a[0], &bytes) != napi_ok || page <= 0 || bytes < HUGE_PAGE_BYTES) {
    return number(env, -EINVAL);
  }
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
  size_t length = (size_t)bytes & ~(size_t)(HUGE_PAGE_BYTES - 1);
  char *small = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (small == MAP_FAILED) return number(env, -errno);
  char *mapping = mmap(NULL, length + HUGE_PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    int error = errno;
    munmap(small, length);
    return number(env, -error);
  }
  char *huge = (char *)(((uintptr_t)mapping + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1));
  // Each size asked for even where the kernel would choose otherwise by itself: it is that size's cost that is asked.
  madvise(small, length, MADV_NOHUGEPAGE);
  madvise(huge, length, MADV_HUGEPAGE);
  costs[0] = 0;
  costs[1] = 0;
  struct timespec started, ended;
  for (size_t at = 0; at < length; at += HUGE_PAGE_BYTES) {
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (size_t offset = at; offset < at + HUGE_PAGE_BYTES; offset += (size_t)page) ((volatile char *)small)[offset] = 1;
    clock_gettime(CLOCK_MONOTONIC, &ended);
    costs[0] += elapsed_ns(&started, &ended);
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (size_t offset = at; offset < at + HUGE_PAGE_BYTES; offset += (size_t)page) ((volatile char *)huge)[offset] = 1;
    clock_gettime(CLOCK_MONOTONIC, &ended);
    costs[1] += elapsed_ns(&started, &ended);
  }
  munmap(small, length);
  munmap(mapping, length + HUGE_PAGE_BYTES);
  return number(env, 0);
#else
  return number(env, -ENOSYS);
#endif
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"keep", NULL, keep, NULL, NULL, NULL, napi_default, NULL},
      {"hugePages", NULL, huge_pages, NULL, NULL, NULL, napi_default, NULL},
      {"keepJemalloc", NULL, keep_jemalloc, NULL, NULL, NULL, napi_default, NULL},
      {"firstTouchNs", NULL, first_touch_ns, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
