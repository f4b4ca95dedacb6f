// Arguments and results of the project's Node-API addons (udp-io.c, duckdb-strings.c, duckdb-feed.c,
// freed-memory.c): numbers, typed arrays and library paths across, no JavaScript objects kept past a call.
#ifndef PARITY_NAPI_ARGS_H
#define PARITY_NAPI_ARGS_H

#include <dlfcn.h>
#include <node_api.h>
#include <stdint.h>

static inline int32_t arg_i32(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

static inline uint32_t arg_u32(napi_env env, napi_value v) {
  uint32_t x = 0;
  napi_get_value_uint32(env, v, &x);
  return x;
}

static inline napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

// A typed array argument's elements and their count; NULL (count 0) when it is not one.
static inline void *typed_array(napi_env env, napi_value array, size_t *length) {
  napi_typedarray_type type;
  void *data = NULL;
  napi_value buffer;
  size_t offset;
  *length = 0;
  if (napi_get_typedarray_info(env, array, &type, length, &data, &buffer, &offset) != napi_ok) return NULL;
  return data;
}

// The library at the path given as `path`, if this process has loaded it already (never a second copy: DuckDB's, as
// its bindings loaded it); NULL otherwise.
static inline void *loaded_library(napi_env env, napi_value path) {
  char text[4096];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, path, text, sizeof text, &length) != napi_ok) return NULL;
  return dlopen(text, RTLD_NOW | RTLD_NOLOAD);
}

#endif
