// Keeps the memory a process frees for its own next use instead of handing it back to the system (glibc's malloc
// tuned through mallopt, as GLIBC_TUNABLES would before the process starts). DuckDB's operators allocate their
// working memory (a quantile's values, a hash table's pointers) through the C++ allocator, that is glibc's malloc,
// apart from DuckDB's own pool: by default glibc serves each allocation of 128 KB to 32 MB from a fresh mapping and
// shrinks its heaps as soon as their top is free, so the next query faults the same memory in again. On this
// project's machine, a virtual machine, a page faulted in costs about 10 µs (docs/performance.md).
//
// And asks for transparent huge pages on DuckDB's block pool (hugePages, called by store.ts with the pool's mapping):
// there a page costs most the first time it is touched, and the same memory in 2 MB pages costs about half.
#include <errno.h>
#include <limits.h>
#include <node_api.h>
#include <stdint.h>
#include <sys/mman.h>

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

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"keep", NULL, keep, NULL, NULL, NULL, napi_default, NULL},
      {"hugePages", NULL, huge_pages, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
