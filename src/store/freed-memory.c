// Keeps the memory a process frees for its own next use instead of handing it back to the system (glibc's malloc
// tuned through mallopt, as GLIBC_TUNABLES would before the process starts). DuckDB's operators allocate their
// working memory (a quantile's values, a hash table's pointers) through the C++ allocator, that is glibc's malloc,
// apart from DuckDB's own pool: by default glibc serves each allocation of 128 KB to 32 MB from a fresh mapping and
// shrinks its heaps as soon as their top is free, so the next query faults the same memory in again. On this
// project's machine, a virtual machine, a page faulted in costs about 10 µs (docs/performance.md).
#include <limits.h>
#include <node_api.h>

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

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"keep", NULL, keep, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
