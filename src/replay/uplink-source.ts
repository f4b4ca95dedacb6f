import type { DuckDBBlobVector, DuckDBConnection } from '@duckdb/node-api';
import { seedFromText } from '../core/random.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, str, type Store } from '../store/store.ts';

const UPLINK_SQL = loadSql(import.meta.url, './sql/uplink-packets.sql');
const SUMMARY_SQL = loadSql(import.meta.url, './sql/uplink-summary.sql');

/** One uplink packet of the capture, as the replayer sends it. */
export interface UplinkPacket {
  idx: number;
  offsetNs: number;
  device: string;
  routePort: number;
  payloadHash: number;
  payload: Uint8Array;
}

export interface UplinkSummary {
  /** Devices chosen by the sample, with their packet counts. */
  devices: Map<string, number>;
  /** Devices in the capture before sampling. */
  allDevices: number;
  packets: number;
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

export async function summarizeUplink(store: Store, captureId: number, routePorts: readonly number[], sample: number, seed: number): Promise<UplinkSummary> {
  const rows = await store.query(SUMMARY_SQL, { capture_id: captureId, route_ports: `[${routePorts.join(',')}]` });
  const chosen = new Set(sampleDevices(rows.map((row) => str(row.device)), sample, seed));
  const devices = new Map<string, number>();
  let first: bigint | undefined;
  let last: bigint | undefined;
  for (const row of rows) {
    const device = str(row.device);
    if (!chosen.has(device)) continue;
    devices.set(device, num(row.packets));
    const lo = row.first_ts_ns as bigint;
    const hi = row.last_ts_ns as bigint;
    if (first === undefined || lo < first) first = lo;
    if (last === undefined || hi > last) last = hi;
  }
  const packets = [...devices.values()].reduce((sum, n) => sum + n, 0);
  return { devices, allDevices: rows.length, packets, firstTsNs: first ?? 0n, spanNs: first === undefined || last === undefined ? 0 : Number(last - first) };
}

/**
 * Streams the uplink in time order a data chunk (2,048 packets) at a time, on a connection of its own so the
 * replayer's writes on the main connection never cut the stream short. Memory stays flat in the capture's size.
 */
export async function* streamUplink(
  connection: DuckDBConnection,
  options: { captureId: number; routePorts: readonly number[]; firstTsNs: bigint; devices: readonly string[] | undefined },
): AsyncGenerator<UplinkPacket[]> {
  const result = await connection.stream(UPLINK_SQL, {
    capture_id: options.captureId,
    first_ts_ns: options.firstTsNs,
    route_ports: `[${options.routePorts.join(',')}]`,
    devices: options.devices === undefined ? null : `[${options.devices.map((d) => `'${d}'`).join(',')}]`,
  });
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) return;
    const idx = chunk.getColumnVector(0);
    const offset = chunk.getColumnVector(1);
    const device = chunk.getColumnVector(2);
    const routePort = chunk.getColumnVector(3);
    const hash = chunk.getColumnVector(4);
    const payload = chunk.getColumnVector(5) as DuckDBBlobVector;
    const packets: UplinkPacket[] = new Array<UplinkPacket>(chunk.rowCount);
    for (let row = 0; row < chunk.rowCount; row++) {
      const bytes = payload.getItemBytes(row) ?? new Uint8Array(0);
      packets[row] = {
        idx: idx.getItem(row) as number,
        offsetNs: offset.getItem(row) as number,
        device: device.getItem(row) as string,
        routePort: routePort.getItem(row) as number,
        payloadHash: hash.getItem(row) as number,
        // Short payloads are views into the chunk's memory: copied, so they outlive it.
        payload: bytes.length <= 12 ? bytes.slice() : bytes,
      };
    }
    yield packets;
  }
}
