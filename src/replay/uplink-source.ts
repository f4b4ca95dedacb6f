import duckdb from '@duckdb/node-bindings';
import type { DuckDBBlobVector, DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import { seedFromText } from '../core/random.ts';
import { duckdbStrings, type DuckdbStrings } from '../store/duckdb-strings.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, paramTypes, str, type Row, type Store } from '../store/store.ts';

const COPY_SLICE_ROWS = 64;
/** The payload's column in uplink-packets.sql. */
const PAYLOAD_COLUMN = 6;
const UPLINK_MACRO_SQL = loadSql(import.meta.url, './sql/replay-uplink.sql');
const UPLINK_SQL = loadSql(import.meta.url, './sql/uplink-packets.sql');
const SUMMARY_SQL = loadSql(import.meta.url, './sql/uplink-summary.sql');
const BUSIEST_WINDOW_SQL = loadSql(import.meta.url, './sql/uplink-busiest-window.sql');

export interface UplinkSummary {
  /** Devices chosen by the sample, with their packet counts. */
  devices: Map<string, number>;
  /** The one route port each chosen device sends to; 0 for a device that sends to several. */
  onlyRoutePort: Map<string, number>;
  /** Devices in the capture before sampling. */
  allDevices: number;
  packets: number;
  /** Their payloads' bytes, as the UDP headers declared them. */
  payloadBytes: number;
  firstTsNs: bigint;
  spanNs: number;
}

/**
 * Which devices a sample of `share` keeps: a device is in when the hash of its address and the seed falls below the
 * share, so a sample is the same for the same seed, and takes whole devices (their order and sequence numbers intact).
 */
export function sampleDevices(devices: readonly string[], share: number, seed: number): string[] {
  if (share >= 1) return [...devices];
  return devices.filter((device) => seedFromText(`${seed}|${device}`) / 4294967296 < share);
}

/** The parameters of the replay_uplink macro (replay-uplink.sql): a capture's route ports, and its devices or all. */
function uplinkParams(captureId: number, routePorts: readonly number[], devices: readonly string[] | undefined): { capture_id: number; route_ports: string; devices: string | null } {
  return {
    capture_id: captureId,
    route_ports: `[${routePorts.join(',')}]`,
    devices: devices === undefined ? null : `[${devices.map((d) => `'${d}'`).join(',')}]`,
  };
}

/** Runs a query over the replay_uplink macro on the store's connection, which makes the macro first. */
async function queryUplink(store: Store, sql: string, params: Record<string, string | number | bigint | null>): Promise<Row[]> {
  await store.exec(UPLINK_MACRO_SQL);
  return store.query(sql, params);
}

/** The devices a summary's sample kept, or undefined where it kept every one (no filter to apply). */
export function sampledDevices(uplink: UplinkSummary): string[] | undefined {
  return uplink.devices.size < uplink.allDevices ? [...uplink.devices.keys()] : undefined;
}

export async function summarizeUplink(store: Store, captureId: number, routePorts: readonly number[], sample: number, seed: number): Promise<UplinkSummary> {
  const rows = await queryUplink(store, SUMMARY_SQL, uplinkParams(captureId, routePorts, undefined));
  const chosen = new Set(sampleDevices(rows.map((row) => str(row.device)), sample, seed));
  const devices = new Map<string, number>();
  const onlyRoutePort = new Map<string, number>();
  let first: bigint | undefined;
  let last: bigint | undefined;
  let payloadBytes = 0;
  for (const row of rows) {
    const device = str(row.device);
    if (!chosen.has(device)) continue;
    devices.set(device, num(row.packets));
    onlyRoutePort.set(device, num(row.only_route_port));
    payloadBytes += num(row.payload_bytes);
    const lo = row.first_ts_ns as bigint;
    const hi = row.last_ts_ns as bigint;
    if (first === undefined || lo < first) first = lo;
    if (last === undefined || hi > last) last = hi;
  }
  const packets = [...devices.values()].reduce((sum, n) => sum + n, 0);
  return { devices, onlyRoutePort, allDevices: rows.length, packets, payloadBytes, firstTsNs: first ?? 0n, spanNs: first === undefined || last === undefined ? 0 : Number(last - first) };
}

/**
 * The most packets of the summarised uplink (its sampled devices) that any `windowNs` of the capture holds, to within
 * two thirds (uplink-busiest-window.sql): what a replay at original timing asks for in its busiest second, where its
 * mean says little of a capture that comes in bursts.
 */
export async function busiestWindowPackets(store: Store, captureId: number, routePorts: readonly number[], uplink: UplinkSummary, windowNs: number): Promise<number> {
  const rows = await queryUplink(store, BUSIEST_WINDOW_SQL, {
    ...uplinkParams(captureId, routePorts, sampledDevices(uplink)),
    first_ts_ns: uplink.firstTsNs,
    // Two half windows of at least a nanosecond each.
    window_ns: BigInt(Math.max(2, Math.round(windowNs))),
  });
  return num(rows[0]?.packets);
}

/** A chunk of uplink packets, column by column: no object per packet, so sending allocates (and collects) less. */
export interface UplinkChunk {
  size: number;
  idx: Uint32Array;
  offsetNs: Float64Array;
  routePort: Int32Array;
  payloadHash: Float64Array;
  payloads: Uint8Array[];
  device(row: number): string;
}

/** Copies a fixed-width column of a chunk out of DuckDB in one native call. */
function column<T extends Int32Array | Uint32Array | Float64Array>(chunk: DuckDBDataChunk, index: number, type: { new (buffer: ArrayBufferLike, offset: number, length: number): T; BYTES_PER_ELEMENT: number }): T {
  const bytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk.chunk, index), chunk.rowCount * type.BYTES_PER_ELEMENT);
  return new type(bytes.buffer, bytes.byteOffset, chunk.rowCount);
}

/**
 * Streams the uplink in time order a data chunk (2,048 packets) at a time, on a connection of its own so the
 * replayer's writes on the main connection never cut the stream short. Memory stays flat in the capture's size.
 * Numbers cross a column at a time; payloads and packet objects are made per packet, when it is sent, so no
 * chunk costs the main thread a block of milliseconds (converting a chunk value by value took ~9 ms).
 */
export async function* streamUplink(
  connection: DuckDBConnection,
  options: { captureId: number; routePorts: readonly number[]; firstTsNs: bigint; devices: readonly string[] | undefined; addresses: ReadonlyMap<number, string> },
): AsyncGenerator<UplinkChunk> {
  const params = { ...uplinkParams(options.captureId, options.routePorts, options.devices), first_ts_ns: options.firstTsNs };
  await connection.run(UPLINK_MACRO_SQL);
  const result = await connection.stream(UPLINK_SQL, params, paramTypes(params));
  const deviceNames = new Map<number, string>();
  const deviceName = (address: number, port: number): string => {
    const key = address * 65536 + port;
    let name = deviceNames.get(key);
    if (name === undefined) {
      name = `${options.addresses.get(address) ?? '?'}:${port}`;
      deviceNames.set(key, name);
    }
    return name;
  };
  let ended = false;
  try {
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) {
        ended = true;
        return;
      }
      const idx = column(chunk, 0, Uint32Array);
      const offset = column(chunk, 1, Float64Array);
      const address = column(chunk, 2, Int32Array);
      const port = column(chunk, 3, Int32Array);
      const routePort = column(chunk, 4, Int32Array);
      const hash = column(chunk, 5, Float64Array);
      const strings = duckdbStrings();
      const payloads = strings === undefined ? await payloadsOneByOne(chunk) : payloadsAtOnce(strings, chunk);
      yield {
        size: chunk.rowCount,
        idx,
        offsetNs: offset,
        routePort,
        payloadHash: hash,
        payloads,
        device: (row) => deviceName(address[row] as number, port[row] as number),
      };
    }
  } finally {
    // A replay that stops before the end (its duration, Ctrl-C) leaves the query open, and with it the whole sort
    // of the capture in DuckDB's buffer pool until the result is collected: 40 MB of a 300k-packet capture, held
    // into the next replay's 64 MB cap, which then failed its commit. A new statement on the connection ends it.
    if (!ended) await connection.run('SELECT 1');
  }
}

/**
 * A chunk's payloads, copied: past 12 bytes they point into DuckDB's memory for this chunk, which the read-ahead moves
 * past before the main thread schedules them. All in one native call, into one buffer of the chunk's own.
 */
function payloadsAtOnce(strings: DuckdbStrings, chunk: DuckDBDataChunk): Uint8Array[] {
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, PAYLOAD_COLUMN);
  const ends = new Uint32Array(chunk.rowCount);
  const bytes = new Uint8Array(-strings.copy(vector, chunk.rowCount, new Uint8Array(0), ends));
  strings.copy(vector, chunk.rowCount, bytes, ends);
  const payloads = new Array<Uint8Array>(chunk.rowCount);
  let start = 0;
  for (let row = 0; row < chunk.rowCount; row++) {
    const end = ends[row] as number;
    payloads[row] = bytes.subarray(start, end);
    start = end;
  }
  return payloads;
}

/**
 * The same through the bindings, a native call per payload (where the C string path is not built): ~1 µs a payload,
 * so it yields to the event loop every few hundred, and the sending thread's reports (progress, records) are read
 * between, never held up by more than a fraction of a millisecond.
 */
async function payloadsOneByOne(chunk: DuckDBDataChunk): Promise<Uint8Array[]> {
  const payloadVector = chunk.getColumnVector(PAYLOAD_COLUMN) as DuckDBBlobVector;
  const payloads = new Array<Uint8Array>(chunk.rowCount);
  for (let row = 0; row < chunk.rowCount; row++) {
    if (row % COPY_SLICE_ROWS === COPY_SLICE_ROWS - 1) await new Promise((resolve) => setImmediate(resolve));
    const bytes = payloadVector.getItemBytes(row) ?? new Uint8Array(0);
    // Up to 12 bytes are a view into the chunk; longer ones already come back as a fresh copy.
    payloads[row] = bytes.length <= 12 ? bytes.slice() : bytes;
  }
  return payloads;
}

/** The capture's addresses by id, for naming devices. */
export async function captureAddresses(store: Store, captureId: number): Promise<Map<number, string>> {
  const rows = await store.query('SELECT address_id, ip FROM capture_addresses WHERE capture_id = $capture_id', { capture_id: captureId });
  return new Map(rows.map((row) => [num(row.address_id), str(row.ip)]));
}

/** The uplink once per loop, as one stream of chunks tagged with their loop number. */
export async function* loopUplink(
  connection: DuckDBConnection,
  loops: number,
  options: Parameters<typeof streamUplink>[1],
): AsyncGenerator<{ loop: number; chunk: UplinkChunk }> {
  for (let loop = 0; loop < loops; loop++) {
    for await (const chunk of streamUplink(connection, options)) yield { loop, chunk };
  }
}
