// Strings and blobs in and out of DuckDB data chunks a column at a time, as a Node-API addon (built beside the relay's
// datagram path by src/core/build-addons.js when a C compiler is present; the store falls back to one native call per
// value without it). DuckDB's Node bindings cross into C once per string or blob longer than 12 bytes: measured 0.45
// µs a value of a 0.7 µs append (an import stores a payload per packet, a replay reads one per packet). Here a column's
// values cross in one call, through DuckDB's own C API in the library the bindings already loaded.
//
// A vector is the bindings' external for a duckdb_vector (data_chunk_get_vector). Nothing here keeps a reference to
// JavaScript memory past a call. duckdb-strings.ts checks every function against the bindings' own before use.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../core/napi-args.h"

// duckdb.h's duckdb_string_t: a length, then the bytes inline up to 12, else a 4-byte prefix and a pointer.
typedef union {
  struct {
    uint32_t length;
    char prefix[4];
    const char *ptr;
  } pointer;
  struct {
    uint32_t length;
    char inlined[12];
  } inlined;
} duckdb_string;

typedef void (*assign_fn)(void *vector, uint64_t index, const char *bytes, uint64_t length);
typedef void *(*get_data_fn)(void *vector);
typedef uint64_t *(*get_validity_fn)(void *vector);

static assign_fn assign_string;
static get_data_fn get_data;
static get_validity_fn get_validity;

// bind(libraryPath): finds DuckDB's C API in the library the bindings loaded (never loads a second copy). 1 or 0.
static napi_value bind(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *library = argc < 1 ? NULL : loaded_library(env, argv[0]);
  if (library == NULL) return number(env, 0);
  assign_string = (assign_fn)dlsym(library, "duckdb_vector_assign_string_element_len");
  get_data = (get_data_fn)dlsym(library, "duckdb_vector_get_data");
  get_validity = (get_validity_fn)dlsym(library, "duckdb_vector_get_validity");
  return number(env, assign_string != NULL && get_data != NULL && get_validity != NULL);
}

// assign(vector, arena, ends, rows, count): value i is arena[ends[i-1]..ends[i]) (from 0 for the first), into row rows[i].
static napi_value assign(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *vector = NULL;
  size_t arena_bytes, ends_length, rows_length;
  uint32_t count = 0;
  if (argc < 5 || assign_string == NULL || napi_get_value_external(env, argv[0], &vector) != napi_ok) return number(env, -1);
  const char *arena = typed_array(env, argv[1], &arena_bytes);
  const uint32_t *ends = typed_array(env, argv[2], &ends_length);
  const uint32_t *rows = typed_array(env, argv[3], &rows_length);
  napi_get_value_uint32(env, argv[4], &count);
  if (count > ends_length || count > rows_length) return number(env, -1);
  uint32_t start = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t end = ends[i];
    if (end < start || end > arena_bytes) return number(env, -1);
    assign_string(vector, rows[i], arena + start, end - start);
    start = end;
  }
  return number(env, count);
}

// copy(vector, count, dest, ends): the first count values, back to back into dest, ends[i] where value i ends (a NULL
// is empty). Returns the bytes copied, or minus the bytes needed when dest is too small (nothing is copied then);
// undefined for arguments it cannot use.
static napi_value copy(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *vector = NULL;
  uint32_t count = 0;
  size_t dest_bytes, ends_length;
  napi_value unusable;
  napi_get_undefined(env, &unusable);
  if (argc < 4 || get_data == NULL || napi_get_value_external(env, argv[0], &vector) != napi_ok) return unusable;
  napi_get_value_uint32(env, argv[1], &count);
  char *dest = typed_array(env, argv[2], &dest_bytes);
  uint32_t *ends = typed_array(env, argv[3], &ends_length);
  if (count > ends_length || (dest == NULL && dest_bytes > 0)) return unusable;
  const duckdb_string *values = get_data(vector);
  const uint64_t *validity = get_validity(vector);
  double needed = 0;
  for (uint32_t i = 0; i < count; i++) {
    bool valid = validity == NULL || (validity[i / 64] >> (i % 64)) & 1;
    if (valid) needed += values[i].inlined.length;
  }
  if (needed > (double)dest_bytes) return number(env, -needed);
  size_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    bool valid = validity == NULL || (validity[i / 64] >> (i % 64)) & 1;
    if (valid) {
      uint32_t length = values[i].inlined.length;
      memcpy(dest + at, length <= 12 ? values[i].inlined.inlined : values[i].pointer.ptr, length);
      at += length;
    }
    ends[i] = (uint32_t)at;
  }
  return number(env, (double)at);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"bind", NULL, bind, NULL, NULL, NULL, napi_default, NULL},
      {"assign", NULL, assign, NULL, NULL, NULL, napi_default, NULL},
      {"copy", NULL, copy, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
