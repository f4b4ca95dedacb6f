// A bulk load's source that DuckDB's threads read without JavaScript, as a Node-API addon (built beside the other C
// addons by src/core/build-addons.js; chunk-feed.ts falls back to a table function of the bindings without it).
//
// The bindings run a table function's main callback on the JavaScript thread: each DuckDB thread that wants a chunk
// waits for that thread to be free. An import's reader decodes a 4 MB window at a time (about 14 ms), so DuckDB stored
// a chunk and then waited for the window to end: measured, the reading and the storing took turns, a million
// packets in 0.83-0.89 s where reading alone takes 0.45 s and storing alone 0.34-0.46 s. Here a filled chunk is copied
// into memory of the feed's own (one copy, about 30 µs a capture's chunk) and queued; DuckDB's threads take chunks
// from the queue and fill their output on their own, and the JavaScript thread is only called back (without waiting
// for it) when the queue has room again.
//
// A feed is shared by DuckDB (the registered function, until its database closes) and by JavaScript (the external,
// until collected): whichever lets go last frees it. Connections are the bindings' externals (a holder whose first
// field is the duckdb_connection); the type tag is checked before the holder is read.
#define _GNU_SOURCE
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/napi-args.h"

// DuckDB's C API (duckdb.h), the parts used, as the library exports them.
typedef void *db_connection;
typedef void *db_table_function;
typedef void *db_bind_info;
typedef void *db_init_info;
typedef void *db_function_info;
typedef void *db_data_chunk;
typedef void *db_vector;
typedef void *db_logical_type;

static struct {
  db_table_function (*create_table_function)(void);
  void (*destroy_table_function)(db_table_function *function);
  void (*set_name)(db_table_function function, const char *name);
  void (*set_extra_info)(db_table_function function, void *info, void (*destroy)(void *));
  void (*set_bind)(db_table_function function, void (*bind)(db_bind_info));
  void (*set_init)(db_table_function function, void (*init)(db_init_info));
  void (*set_function)(db_table_function function, void (*main)(db_function_info, db_data_chunk));
  int (*register_table_function)(db_connection connection, db_table_function function);
  void *(*bind_get_extra_info)(db_bind_info info);
  void (*bind_add_result_column)(db_bind_info info, const char *name, db_logical_type type);
  void (*init_set_max_threads)(db_init_info info, uint64_t threads);
  void *(*function_get_extra_info)(db_function_info info);
  db_logical_type (*create_logical_type)(int type);
  void (*destroy_logical_type)(db_logical_type *type);
  db_vector (*chunk_get_vector)(db_data_chunk chunk, uint64_t column);
  void (*chunk_set_size)(db_data_chunk chunk, uint64_t size);
  void *(*vector_get_data)(db_vector vector);
  void (*vector_ensure_validity_writable)(db_vector vector);
  uint64_t *(*vector_get_validity)(db_vector vector);
  void (*vector_assign_string_element_len)(db_vector vector, uint64_t index, const char *bytes, uint64_t length);
} api;

// The bindings' type tag for a connection external (duckdb-node-neo, bindings/src/externals.h).
static const napi_type_tag CONNECTION_TAG = {0x922B9BF54AB04DFC, 0x8A258578D371DB71};

#define MAX_COLUMNS 64
// How long DuckDB's threads wait for the next chunk before the INSERT ends, when chunks are coming fast (one pushed
// within RECENT_PUSH_MS). Ended at once, an import's INSERT lasted a few dozen chunks (DuckDB stores a chunk faster
// than the reader fills the next, about one a millisecond, so the queue is often empty), and each ended with every
// thread's partial row groups merged and written: a 4M-packet import took 3.1-4.4 s with 6.6-7.9 s of CPU, against
// 2.5-3.1 s and 4.5-5.5 s waiting 20-100 ms. A waiting INSERT holds one of libuv's threads (four in all, shared with
// every query and file read of the process) and DuckDB's: a recording's chunks come a tenth of a second apart or more,
// and its INSERT ends at once, as it always has.
#define WAIT_FOR_CHUNK_MS 20
#define RECENT_PUSH_MS 5
#define ROWS_PER_CHUNK 2048

// One column of a queued chunk: its fixed-width values, its validity (when a NULL was written) and its values too long
// to inline (value i is arena[ends[i-1]..ends[i]) into row long_rows[i]), all within the chunk's block.
typedef struct {
  uint32_t data, validity, long_rows, long_ends, arena;
  uint32_t data_bytes, long_count;
  bool has_nulls;
} queued_column;

typedef struct chunk {
  struct chunk *next;
  uint32_t rows;
  uint8_t *block;
  size_t capacity;
  queued_column columns[MAX_COLUMNS];
} chunk;

typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t pushed_one;  // a chunk queued, a commit asked or the feed closed
  int holders;  // DuckDB's registered function and JavaScript's external
  uint32_t column_count;
  char *names[MAX_COLUMNS];
  db_logical_type types[MAX_COLUMNS];
  chunk *head, *tail, *spare;
  uint32_t queued, spares;
  uint64_t taken, taken_rows;
  int64_t commit_at;  // the INSERT in progress ends once this many chunks are taken; -1: none asked
  int64_t last_push_ms;  // CLOCK_MONOTONIC
  uint32_t room;      // the queue has room again below this many chunks
  bool wake_armed, closed;
  napi_threadsafe_function wake;
} feed;

static int64_t now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

// Frees a chain of chunks, from c on.
static void free_chunks(chunk *c) {
  for (chunk *next; c != NULL; c = next) next = c->next, free(c->block), free(c);
}

// Frees the chunks still queued and the spares: nothing will take them.
static void drop_chunks(feed *f) {
  free_chunks(f->head);
  free_chunks(f->spare);
  f->head = f->tail = f->spare = NULL;
  f->queued = f->spares = 0;
}

static void free_feed(feed *f) {
  drop_chunks(f);
  for (uint32_t i = 0; i < f->column_count; i++) {
    free(f->names[i]);
    if (f->types[i] != NULL) api.destroy_logical_type(&f->types[i]);
  }
  pthread_mutex_destroy(&f->lock);
  pthread_cond_destroy(&f->pushed_one);
  free(f);
}

static void let_go(feed *f) {
  pthread_mutex_lock(&f->lock);
  bool last = --f->holders == 0;
  pthread_mutex_unlock(&f->lock);
  if (last) free_feed(f);
}

static void on_function_destroyed(void *info) { let_go((feed *)info); }

static void on_external_collected(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  feed *f = data;
  pthread_mutex_lock(&f->lock);
  bool release = !f->closed;
  f->closed = true;
  drop_chunks(f);
  pthread_mutex_unlock(&f->lock);
  if (release) napi_release_threadsafe_function(f->wake, napi_tsfn_release);
  let_go(f);
}

static void bind(db_bind_info info) {
  feed *f = api.bind_get_extra_info(info);
  for (uint32_t i = 0; i < f->column_count; i++) api.bind_add_result_column(info, f->names[i], f->types[i]);
}

// As many of DuckDB's threads as it likes: while one stores a chunk, another takes the next.
static void init(db_init_info info) { api.init_set_max_threads(info, 64); }

static void fill(db_data_chunk output, const chunk *c, uint32_t column_count) {
  for (uint32_t i = 0; i < column_count; i++) {
    const queued_column *q = &c->columns[i];
    db_vector vector = api.chunk_get_vector(output, i);
    memcpy(api.vector_get_data(vector), c->block + q->data, q->data_bytes);
    const uint32_t *rows = (const uint32_t *)(c->block + q->long_rows);
    const uint32_t *ends = (const uint32_t *)(c->block + q->long_ends);
    const char *arena = (const char *)(c->block + q->arena);
    uint32_t start = 0;
    for (uint32_t k = 0; k < q->long_count; k++) {
      api.vector_assign_string_element_len(vector, rows[k], arena + start, ends[k] - start);
      start = ends[k];
    }
    if (q->has_nulls) {
      api.vector_ensure_validity_writable(vector);
      memcpy(api.vector_get_validity(vector), c->block + q->validity, (c->rows + 63) / 64 * 8);
    }
  }
  api.chunk_set_size(output, c->rows);
}

// DuckDB's threads: the next queued chunk, or none (the INSERT ends) when the queue is empty or a commit is due.
static void take(db_function_info info, db_data_chunk output) {
  feed *f = api.function_get_extra_info(info);
  pthread_mutex_lock(&f->lock);
  if (f->head == NULL && now_ms() - f->last_push_ms < RECENT_PUSH_MS) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += WAIT_FOR_CHUNK_MS * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    while (f->head == NULL && !f->closed && (int64_t)f->taken != f->commit_at)
      if (pthread_cond_timedwait(&f->pushed_one, &f->lock, &deadline) != 0) break;
  }
  chunk *c = f->head;
  if (c == NULL || (int64_t)f->taken == f->commit_at || f->closed) {
    pthread_mutex_unlock(&f->lock);
    api.chunk_set_size(output, 0);
    return;
  }
  f->head = c->next;
  if (f->head == NULL) f->tail = NULL;
  f->queued--;
  f->taken++;
  f->taken_rows += c->rows;
  pthread_mutex_unlock(&f->lock);
  fill(output, c, f->column_count);
  pthread_mutex_lock(&f->lock);
  c->next = NULL;
  if (f->spares < f->room && !f->closed) {
    c->next = f->spare;
    f->spare = c;
    f->spares++;
    c = NULL;
  }
  // Called while the lock is held: JavaScript's close releases the function under the same lock.
  if (f->wake_armed && f->queued < f->room && !f->closed) {
    f->wake_armed = false;
    napi_call_threadsafe_function(f->wake, NULL, napi_tsfn_nonblocking);
  }
  pthread_mutex_unlock(&f->lock);
  free_chunks(c);
}

static bool bound = false;

// bind(libraryPath): finds DuckDB's C API in the library the bindings loaded (never loads a second copy). 1 or 0.
static napi_value bind_library(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *library = argc < 1 ? NULL : loaded_library(env, argv[0]);
  if (library == NULL) return number(env, 0);
  struct { void **slot; const char *name; } symbols[] = {
      {(void **)&api.create_table_function, "duckdb_create_table_function"},
      {(void **)&api.destroy_table_function, "duckdb_destroy_table_function"},
      {(void **)&api.set_name, "duckdb_table_function_set_name"},
      {(void **)&api.set_extra_info, "duckdb_table_function_set_extra_info"},
      {(void **)&api.set_bind, "duckdb_table_function_set_bind"},
      {(void **)&api.set_init, "duckdb_table_function_set_init"},
      {(void **)&api.set_function, "duckdb_table_function_set_function"},
      {(void **)&api.register_table_function, "duckdb_register_table_function"},
      {(void **)&api.bind_get_extra_info, "duckdb_bind_get_extra_info"},
      {(void **)&api.bind_add_result_column, "duckdb_bind_add_result_column"},
      {(void **)&api.init_set_max_threads, "duckdb_init_set_max_threads"},
      {(void **)&api.function_get_extra_info, "duckdb_function_get_extra_info"},
      {(void **)&api.create_logical_type, "duckdb_create_logical_type"},
      {(void **)&api.destroy_logical_type, "duckdb_destroy_logical_type"},
      {(void **)&api.chunk_get_vector, "duckdb_data_chunk_get_vector"},
      {(void **)&api.chunk_set_size, "duckdb_data_chunk_set_size"},
      {(void **)&api.vector_get_data, "duckdb_vector_get_data"},
      {(void **)&api.vector_ensure_validity_writable, "duckdb_vector_ensure_validity_writable"},
      {(void **)&api.vector_get_validity, "duckdb_vector_get_validity"},
      {(void **)&api.vector_assign_string_element_len, "duckdb_vector_assign_string_element_len"},
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    *symbols[i].slot = dlsym(library, symbols[i].name);
    if (*symbols[i].slot == NULL) return number(env, 0);
  }
  bound = true;
  return number(env, 1);
}

static void call_wake(napi_env env, napi_value callback, void *context, void *data) {
  (void)context, (void)data;
  if (env == NULL || callback == NULL) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, callback, 0, NULL, NULL);
}

// create(connection, name, typeIds, names, room, onRoom): registers table function `name` on the bindings' connection,
// its columns of DuckDB type ids `typeIds` named `names`; onRoom() is called when the queue, once asked to
// (`armWake`), holds fewer than `room` chunks. The feed's external, or undefined (nothing registered) when the
// connection is not the bindings' or DuckDB refuses the function.
static napi_value create(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], result;
  napi_get_undefined(env, &result);
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool tagged = false;
  void *holder = NULL;
  if (!bound || argc < 6 || napi_check_object_type_tag(env, argv[0], &CONNECTION_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, argv[0], &holder) != napi_ok || holder == NULL)
    return result;
  db_connection connection = *(db_connection *)holder;
  char name[256];
  size_t length = 0;
  uint32_t column_count = 0, room = 0;
  size_t type_count = 0;
  const uint8_t *type_ids = typed_array(env, argv[2], &type_count);
  napi_get_array_length(env, argv[3], &column_count);
  napi_get_value_uint32(env, argv[4], &room);
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &length) != napi_ok || type_ids == NULL || column_count != type_count ||
      column_count == 0 || column_count > MAX_COLUMNS || room == 0)
    return result;
  feed *f = calloc(1, sizeof *f);
  pthread_mutex_init(&f->lock, NULL);
  pthread_condattr_t monotonic;
  pthread_condattr_init(&monotonic);
  pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
  pthread_cond_init(&f->pushed_one, &monotonic);
  pthread_condattr_destroy(&monotonic);
  f->column_count = column_count;
  f->commit_at = -1;
  f->room = room;
  for (uint32_t i = 0; i < column_count; i++) {
    napi_value element;
    char column[256];
    size_t column_length = 0;
    napi_get_element(env, argv[3], i, &element);
    napi_get_value_string_utf8(env, element, column, sizeof column, &column_length);
    f->names[i] = strdup(column);
    f->types[i] = api.create_logical_type(type_ids[i]);
  }
  napi_value resource_name;
  napi_create_string_utf8(env, "duckdb-feed", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_threadsafe_function(env, argv[5], NULL, resource_name, 0, 1, NULL, NULL, NULL, call_wake, &f->wake) != napi_ok) {
    free_feed(f);
    return result;
  }
  // The wake-up must not keep the process alive: the feed's INSERTs do while there is work.
  napi_unref_threadsafe_function(env, f->wake);
  db_table_function function = api.create_table_function();
  api.set_name(function, name);
  api.set_bind(function, bind);
  api.set_init(function, init);
  api.set_function(function, take);
  f->holders = 2;
  api.set_extra_info(function, f, on_function_destroyed);
  int state = api.register_table_function(connection, function);
  api.destroy_table_function(&function);
  if (state != 0) {
    // Destroying the unregistered function let go of DuckDB's hold.
    on_external_collected(env, f, NULL);
    return result;
  }
  napi_create_external(env, f, on_external_collected, NULL, &result);
  return result;
}

// The call's arguments into argv (want of them), and the feed its first one is; NULL when there are fewer or it is not one.
static feed *feed_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  void *f = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want || napi_get_value_external(env, argv[0], &f) != napi_ok) return NULL;
  return f;
}

static bool read_column(napi_env env, napi_value column, queued_column *q, const uint8_t **parts, size_t *sizes, uint32_t rows) {
  // [data, dataBytes, validity | null, longCount, longRows, longEnds, arena, arenaBytes]
  napi_value v[8];
  for (uint32_t k = 0; k < 8; k++) napi_get_element(env, column, k, &v[k]);
  size_t data_length, validity_length = 0, rows_length = 0, ends_length = 0, arena_length = 0;
  bool is_typed = false;
  parts[0] = typed_array(env, v[0], &data_length);
  q->data_bytes = arg_u32(env, v[1]);
  napi_is_typedarray(env, v[2], &is_typed);
  q->has_nulls = is_typed;
  parts[1] = is_typed ? typed_array(env, v[2], &validity_length) : NULL;
  q->long_count = arg_u32(env, v[3]);
  parts[2] = typed_array(env, v[4], &rows_length);
  parts[3] = typed_array(env, v[5], &ends_length);
  parts[4] = typed_array(env, v[6], &arena_length);
  uint32_t arena_bytes = arg_u32(env, v[7]);
  sizes[0] = q->data_bytes;
  sizes[1] = is_typed ? (rows + 63) / 64 * 8 : 0;
  sizes[2] = sizes[3] = (size_t)q->long_count * 4;
  sizes[4] = arena_bytes;
  // Every part as long as it says (typed_array gives element counts: the views here are of bytes or 32-bit words).
  if (parts[0] == NULL || data_length < q->data_bytes || (is_typed && validity_length * 4 < sizes[1]) ||
      (q->long_count > 0 && (rows_length < q->long_count || ends_length < q->long_count || arena_length < arena_bytes)))
    return false;
  const uint32_t *ends = (const uint32_t *)parts[3];
  const uint32_t *long_rows = (const uint32_t *)parts[2];
  uint32_t start = 0;
  for (uint32_t k = 0; k < q->long_count; k++) {
    if (ends[k] < start || ends[k] > arena_bytes || long_rows[k] >= rows) return false;
    start = ends[k];
  }
  return true;
}

// push(feed, rows, columns): copies a filled chunk (each column as `read_column` reads it) into the queue. The chunks
// queued, or -1 for arguments it cannot use (nothing is queued then).
static napi_value push(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  feed *f = feed_call(env, info, 3, argv);
  uint32_t rows = f == NULL ? 0 : arg_u32(env, argv[1]);
  uint32_t count = 0;
  if (f == NULL || rows == 0 || rows > ROWS_PER_CHUNK || napi_get_array_length(env, argv[2], &count) != napi_ok || count != f->column_count)
    return number(env, -1);
  const uint8_t *parts[MAX_COLUMNS][5];
  size_t sizes[MAX_COLUMNS][5];
  queued_column columns[MAX_COLUMNS];
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value column;
    napi_get_element(env, argv[2], i, &column);
    if (!read_column(env, column, &columns[i], parts[i], sizes[i], rows)) return number(env, -1);
    for (uint32_t k = 0; k < 5; k++) total += (sizes[i][k] + 7) & ~(size_t)7;
  }
  pthread_mutex_lock(&f->lock);
  bool closed = f->closed;
  chunk *c = closed ? NULL : f->spare;
  if (c != NULL) f->spare = c->next, f->spares--;
  pthread_mutex_unlock(&f->lock);
  if (closed) return number(env, -1);
  if (c == NULL) c = calloc(1, sizeof *c);
  if (c->capacity < total) {
    free(c->block);
    c->capacity = total + total / 4;
    c->block = malloc(c->capacity);
  }
  size_t at = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t *offsets[5] = {&columns[i].data, &columns[i].validity, &columns[i].long_rows, &columns[i].long_ends, &columns[i].arena};
    for (uint32_t k = 0; k < 5; k++) {
      *offsets[k] = (uint32_t)at;
      if (sizes[i][k] > 0) memcpy(c->block + at, parts[i][k], sizes[i][k]);
      at += (sizes[i][k] + 7) & ~(size_t)7;
    }
    c->columns[i] = columns[i];
  }
  c->rows = rows;
  c->next = NULL;
  pthread_mutex_lock(&f->lock);
  if (f->tail != NULL) f->tail->next = c;
  else f->head = c;
  f->tail = c;
  f->queued++;
  f->last_push_ms = now_ms();
  uint32_t queued = f->queued;
  pthread_cond_signal(&f->pushed_one);
  pthread_mutex_unlock(&f->lock);
  return number(env, queued);
}

// state(feed, counts): counts = [chunks taken, rows taken, chunks queued].
static napi_value state(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  feed *f = feed_call(env, info, 2, argv);
  size_t length = 0;
  double *counts = f == NULL ? NULL : typed_array(env, argv[1], &length);
  if (f == NULL || counts == NULL || length < 3) return number(env, -1);
  pthread_mutex_lock(&f->lock);
  counts[0] = (double)f->taken;
  counts[1] = (double)f->taken_rows;
  counts[2] = f->queued;
  pthread_mutex_unlock(&f->lock);
  return number(env, 0);
}

// commitAt(feed, chunks): the INSERT in progress ends once `chunks` chunks are taken (-1: no commit asked).
static napi_value commit_at(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  feed *f = feed_call(env, info, 2, argv);
  double at = -1;
  if (f == NULL || napi_get_value_double(env, argv[1], &at) != napi_ok) return number(env, -1);
  pthread_mutex_lock(&f->lock);
  f->commit_at = (int64_t)at;
  pthread_cond_broadcast(&f->pushed_one);
  pthread_mutex_unlock(&f->lock);
  return number(env, 0);
}

// armWake(feed): onRoom() once the queue holds fewer than `room` chunks; 1 when it already does (no call is made).
static napi_value arm_wake(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  feed *f = feed_call(env, info, 1, argv);
  if (f == NULL) return number(env, -1);
  pthread_mutex_lock(&f->lock);
  bool room = f->queued < f->room;
  f->wake_armed = !room && !f->closed;
  pthread_mutex_unlock(&f->lock);
  return number(env, room ? 1 : 0);
}

// close(feed): no more chunks; those queued are dropped (a failed INSERT), the wake-up released.
static napi_value close_feed(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  feed *f = feed_call(env, info, 1, argv);
  if (f == NULL) return number(env, -1);
  pthread_mutex_lock(&f->lock);
  bool release = !f->closed;
  f->closed = true;
  drop_chunks(f);
  pthread_cond_broadcast(&f->pushed_one);
  pthread_mutex_unlock(&f->lock);
  if (release) napi_release_threadsafe_function(f->wake, napi_tsfn_release);
  return number(env, 0);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"bind", NULL, bind_library, NULL, NULL, NULL, napi_default, NULL},
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"push", NULL, push, NULL, NULL, NULL, napi_default, NULL},
      {"state", NULL, state, NULL, NULL, NULL, napi_default, NULL},
      {"commitAt", NULL, commit_at, NULL, NULL, NULL, napi_default, NULL},
      {"armWake", NULL, arm_wake, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_feed, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
