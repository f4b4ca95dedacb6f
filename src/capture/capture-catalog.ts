import { StoreLookupError } from '../core/errors.ts';
import { checkName } from '../core/names.ts';
import { ownerAlive, ownerOf, thisProcess } from '../store/owner.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, str, strOrNull, type Row, type Store } from '../store/store.ts';
import { withCaptureFlows, type CaptureFlows } from './capture-flows.ts';
import type { DecodeStats } from './decode-stats.ts';

const CREATE_CAPTURE_SQL = loadSql(import.meta.url, './sql/create-capture.sql');
const FINISH_CAPTURE_SQL = loadSql(import.meta.url, './sql/finish-capture.sql');
const LIST_CAPTURES_SQL = loadSql(import.meta.url, './sql/list-captures.sql');
const ROUTE_PORTS_SQL = loadSql(import.meta.url, './sql/route-ports.sql');

/** A capture as `parity captures` lists it. */
export interface CaptureSummary {
  captureId: number;
  name: string;
  source: string;
  format: string;
  frames: number;
  udpDatagrams: number;
  keptDatagrams: number;
  truncatedDatagrams: number;
  /** Packets the capture dropped before writing them, where its files say (pcapng interface statistics); else null. */
  captureDrops: number | null;
  /** HTTP exchanges (a capture imported from a HAR file, or HTTP/1.x read out of a pcap's TCP). */
  httpExchanges: number;
  /** Telemetry frames (a newline-delimited JSON recording, the WebSocket family). */
  wsFrames: number;
  /** PostgreSQL statements (read out of a pcap's TCP, the Postgres family). */
  pgStatements: number;
  unsupportedFrames: number;
  uplinkDatagrams: number;
  devices: number;
  routePorts: number[];
  firstTsNs: bigint | null;
  lastTsNs: bigint | null;
  durationSec: number;
  partial: boolean;
  error: string | null;
  /** Whether its writer finished it; an unfinished capture is either still being written or was cut off. */
  writing: boolean;
}

export async function captureExists(store: Store, name: string): Promise<boolean> {
  const rows = await store.query('SELECT 1 FROM captures WHERE name = $name', { name });
  return rows.length > 0;
}

/** Deletes a capture and its packets (for `--replace`). */
export async function deleteCapture(store: Store, name: string): Promise<void> {
  for (const table of ['capture_packets', 'capture_addresses', 'http_exchanges', 'ws_frames', 'pg_statements']) {
    await store.exec(`DELETE FROM ${table} WHERE capture_id IN (SELECT capture_id FROM captures WHERE name = $name)`, { name });
  }
  await store.exec('DELETE FROM captures WHERE name = $name', { name });
}

/**
 * Registers a new, unfinished capture owned by this process and returns its id; `finishCapture` fills in its counts.
 * Route ports known up front are stored at once, so a capture whose writer is killed can still be replayed.
 */
export async function createCapture(store: Store, name: string, source: string, routePorts: readonly number[] = []): Promise<number> {
  checkName(name, 'capture name');
  if (await captureExists(store, name)) {
    throw new StoreLookupError(
      `capture "${name}" is already in ${store.path}; choose another --name or pass --replace`,
      { field: 'name' },
    );
  }
  const owner = thisProcess();
  const rows = await store.query(
    CREATE_CAPTURE_SQL,
    { name, source, route_ports: routePorts.length > 0 ? `[${routePorts.join(',')}]` : null, pid: owner.pid, host: owner.host },
  );
  return num(rows[0]?.capture_id);
}

export interface CaptureOutcome {
  format: string;
  stats: DecodeStats;
  keptDatagrams: number;
  firstTsNs: bigint | undefined;
  lastTsNs: bigint | undefined;
  /** The fault that stopped reading early, if any. */
  error: string | undefined;
  /** Route ports given by the user; inferred from the traffic when absent. */
  routePorts: readonly number[] | undefined;
}

/**
 * Records what the import found, and the capture's route ports (given, else inferred from its flows: `flows` when the
 * caller holds them for other queries too).
 */
export async function finishCapture(store: Store, captureId: number, outcome: CaptureOutcome, flows?: CaptureFlows): Promise<number[]> {
  const routePorts = outcome.routePorts?.length
    ? [...outcome.routePorts]
    : await (flows === undefined ? withCaptureFlows(store, captureId, (held) => inferRoutePorts(store, held)) : inferRoutePorts(store, flows));
  const { stats } = outcome;
  await store.exec(
    FINISH_CAPTURE_SQL,
    {
      id: captureId,
      format: outcome.format,
      frames: stats.frames,
      udp: stats.udpDatagrams,
      kept: outcome.keptDatagrams,
      truncated: stats.truncatedDatagrams,
      non_udp: stats.nonUdpFrames,
      unsupported: stats.unsupportedFrames,
      route_ports: `[${routePorts.join(',')}]`,
      first: outcome.firstTsNs ?? null,
      last: outcome.lastTsNs ?? null,
      partial: outcome.error !== undefined,
      error: outcome.error ?? null,
      decode_stats: JSON.stringify(stats),
    },
  );
  return routePorts;
}

async function inferRoutePorts(store: Store, flows: CaptureFlows): Promise<number[]> {
  const rows = await store.query(ROUTE_PORTS_SQL, { capture_id: flows.captureId });
  return rows.map((row) => num(row.port));
}

export async function listCaptures(store: Store, name?: string): Promise<CaptureSummary[]> {
  const rows = await store.query(LIST_CAPTURES_SQL, { name: name ?? null });
  return rows.map(toSummary);
}

/** The named capture, or a lookup error that lists what the store does hold. */
export async function getCapture(store: Store, name: string): Promise<CaptureSummary> {
  const [capture] = await listCaptures(store, name);
  if (capture !== undefined) return capture;
  const known = (await listCaptures(store)).map((c) => c.name);
  const hint = known.length > 0 ? `captures in it: ${known.join(', ')}` : 'it holds no captures; run parity import first';
  throw new StoreLookupError(`capture "${name}" is not in ${store.path} (${hint})`, { field: 'capture' });
}

function toSummary(row: Row): CaptureSummary {
  const firstTsNs = typeof row.first_ts_ns === 'bigint' ? row.first_ts_ns : null;
  const lastTsNs = typeof row.last_ts_ns === 'bigint' ? row.last_ts_ns : null;
  return {
    captureId: num(row.capture_id),
    name: str(row.name),
    source: str(row.source),
    format: str(row.format),
    frames: num(row.frames),
    udpDatagrams: num(row.udp_datagrams),
    keptDatagrams: num(row.kept_datagrams),
    truncatedDatagrams: num(row.truncated_datagrams),
    captureDrops: row.capture_drops === null || row.capture_drops === undefined ? null : num(row.capture_drops),
    httpExchanges: num(row.http_exchanges),
    wsFrames: num(row.ws_frames),
    pgStatements: num(row.pg_statements),
    unsupportedFrames: num(row.unsupported_frames),
    uplinkDatagrams: num(row.uplink_datagrams),
    devices: num(row.devices),
    routePorts: Array.isArray(row.route_ports) ? row.route_ports.map((port) => num(port)) : [],
    firstTsNs,
    lastTsNs,
    durationSec: firstTsNs !== null && lastTsNs !== null ? Number(lastTsNs - firstTsNs) / 1e9 : 0,
    ...completion(row),
  };
}

/** A capture whose writer never finished it is partial: still being written, or cut off when its writer died. */
function completion(row: Row): Pick<CaptureSummary, 'partial' | 'error' | 'writing'> {
  const error = strOrNull(row.error);
  if (row.finished !== false) return { partial: row.partial === true, error, writing: false };
  const owner = ownerOf(row);
  if (owner !== null && ownerAlive(owner)) {
    return { partial: true, error: `still being written by process ${owner.pid} on ${owner.host}`, writing: true };
  }
  const who = owner === null ? 'its writer' : `its writer (process ${owner.pid} on ${owner.host})`;
  return { partial: true, error: `cut off: ${who} stopped before finishing; only what it had committed is kept`, writing: false };
}
