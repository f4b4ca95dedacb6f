import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { RelayProcess } from '../src/scenario/relay-process.ts';
import type { Store } from '../src/store/store.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { withBenchCapture } from './generate-capture.ts';
import { cpuSeconds, pinApart } from './cpu-pinning.ts';
import { step } from './relay.ts';
import { loadUdpIo } from '../src/core/udp-io/udp-io.ts';
import { readProgressFiles } from '../src/store/progress-file.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const TAP_IP = '127.0.8.21';
const BACKEND_IP = '127.0.8.22';
/** The relay the tap is held against, in the same run: it mirrors to the tap's backend and to one of its own. */
const RELAY_IP = '127.0.8.23';
const MIRROR_IP = '127.0.8.24';
const PORT = 20500;
const RATES = [1000, 10_000, 30_000] as const;
/**
 * Each step's length: long enough for a recording's steady state (it commits by row group, 122,880 rows: 6 s of a
 * tap's rows at 10k pps), and for 20,000 requests at 1k pps. Steps of 3 s committed their rows in one commit at the
 * end, of fewer than a row group, which DuckDB logs first and compresses again later.
 */
const STEP_SECONDS = 20;

/**
 * `npm run bench -- tap`: the round trip of devices through an inline tap (`parity record --tap`, its own process,
 * recording every packet) against the same backend reached directly, at 1k, 10k and 30k pps, on a core of its own
 * where taskset allows, with the CPU it spends per request and its reply; on the C datagram path where it is built
 * and on Node's dgram. And the reference relay the same way, on the same core, with the same load and backend (and a
 * mirror of its own), right after the tap at each rate: a tap that costs more than the relay it observes distorts
 * what it measures, and this machine's speed drifts over the minutes that lay between them when the relay came last
 * (1.45x one run, 0.97-0.98x the two before it).
 */
export async function benchTap(): Promise<void> {
  await withBenchCapture('tap', { packets: Math.max(...RATES) * STEP_SECONDS, port: PORT }, async (store, dir) => {
    const backends = [BACKEND_IP, MIRROR_IP].map((ip) => spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${ip}:${PORT}`], { stdio: 'ignore' }));
    try {
      const relayDir = join(dir, 'relay');
      mkdirSync(relayDir);
      const relay = await RelayProcess.start(relayDir, {
        address: RELAY_IP,
        responseTimeoutMs: 2000,
        routes: { globals: { mirror: true, mirror_ip: MIRROR_IP }, routes: [{ port: PORT, target: BACKEND_IP }] },
      });
      try {
        const relayPid = relay.pid as number;
        pinApart(relayPid, [process.pid, ...backends.map((b) => b.pid as number)]);
        const relayAt = new Map<number, RelayStep>();
        const tapCpu = await tapRows(store, dir, backends[0]?.pid as number, async (rate) => {
          const cpuBefore = cpuSeconds(relayPid);
          const through = await step(store, RELAY_IP, rate, STEP_SECONDS);
          relayAt.set(rate, { loss: through.loss, usPerPacket: ((cpuSeconds(relayPid) - cpuBefore) * 1e6) / Math.max(1, through.sent) });
        });
        printRelayAgainst(relayAt, tapCpu);
      } finally {
        await relay.stop();
      }
    } finally {
      for (const backend of backends) await stopTracked(backend);
    }
  });
}

interface RelayStep {
  loss: number;
  usPerPacket: number;
}

/** The reference relay's CPU per mirrored packet at the tap's rates, on the tap's core, and the tap's against it. */
function printRelayAgainst(relayAt: ReadonlyMap<number, RelayStep>, tapCpu: ReadonlyMap<number, number>): void {
  const rows = RATES.flatMap((rate) => {
    const relay = relayAt.get(rate);
    const tap = tapCpu.get(rate);
    if (relay === undefined) return [];
    return [[`${fmtRate(rate)} pps`, `${(relay.loss * 100).toFixed(2)}%`, relay.usPerPacket.toFixed(1), tap === undefined ? '-' : tap.toFixed(1), tap === undefined ? '-' : `${(tap / Math.max(relay.usPerPacket, 1e-3)).toFixed(2)}x`]];
  });
  printRows(
    "the reference relay in the same run, on the tap's core, with the same load and backend (and a mirror), right after the tap at each rate: CPU per mirrored packet, against the tap's per request and reply (the tap's default datagram path)",
    ['rate', 'relay loss', 'relay CPU µs per mirrored packet', 'tap CPU µs per request and reply', 'tap / relay'],
    rows,
  );
}

/**
 * The tap's rows; returns its CPU per request and reply at each rate on its default datagram path, after each of which
 * `thenAt` runs (the relay's step at the same rate).
 */
async function tapRows(store: Store, dir: string, backendPid: number, thenAt: (rate: number) => Promise<void>): Promise<Map<number, number>> {
  const tapCpu = new Map<number, number>();
  const rows: (string | number)[][] = [];
  // The tap on each datagram path there is: the C one where built (the default), and Node's dgram.
  const paths = loadUdpIo() === undefined ? ['dgram'] : ['native', 'dgram'];
  for (const path of paths) {
    const tapDb = join(dir, `tap-${path}.duckdb`);
    const tap = spawnTracked(process.execPath, [PARITY_BIN, 'record', '--tap', `${TAP_IP}:${PORT}=${BACKEND_IP}:${PORT}`, '--run', `tapped-${path}`, '--protocol', 'generic', '--db', tapDb], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PARITY_UDP_IO: path },
    });
    try {
      let ready = '';
      tap.stderr?.on('data', (chunk: Buffer) => (ready += chunk.toString()));
      while (!ready.includes('recording')) await new Promise((resolve) => setTimeout(resolve, 50));
      const tapPid = tap.pid as number;
      const pinned = pinApart(tapPid, [process.pid, backendPid]);
      process.stdout.write(pinned ? `the tap (${path}) runs on a core of its own; the replayer and the backend share the others\n` : 'no taskset (or one core): the tap shares the cores with the load\n');
      for (const rate of RATES) {
        const direct = await step(store, BACKEND_IP, rate, STEP_SECONDS);
        const cpuBefore = cpuSeconds(tapPid);
        const tapped = await step(store, TAP_IP, rate, STEP_SECONDS);
        // Its CPU counts the commit of what the step recorded: a recording commits by row group or every 10 s, the
        // last of them after the step, and the next step's CPU would not be the tap's.
        if (!(await everythingCommitted(tapDb, tapPid))) process.stdout.write(`the tap (${path}) had not committed its ${fmtRate(rate)} pps step's rows within ${COMMIT_WAIT_MS / 1000} s: its CPU leaves out the rest\n`);
        const usPerPacket = ((cpuSeconds(tapPid) - cpuBefore) * 1e6) / Math.max(1, tapped.sent);
        if (path === paths[0]) {
          tapCpu.set(rate, usPerPacket);
          await thenAt(rate);
        }
        rows.push([`${fmtRate(rate)} pps`, path === 'native' ? 'C datagram path' : 'dgram', `${(tapped.loss * 100).toFixed(2)}%`, tapped.p50.toFixed(3), tapped.p99.toFixed(3), direct.p50.toFixed(3), direct.p99.toFixed(3), (tapped.p50 - direct.p50).toFixed(3), (tapped.p99 - direct.p99).toFixed(3), usPerPacket.toFixed(1)]);
      }
    } finally {
      await stopTracked(tap);
    }
  }
  printRows('device round trip (ms) through an inline tap that records every packet, vs the backend reached directly', ['rate', 'tap sockets', 'loss', 'tap p50', 'tap p99', 'direct p50', 'direct p99', 'added p50', 'added p99', 'tap CPU µs per request and reply, its rows committed'], rows);
  return tapCpu;
}

const COMMIT_WAIT_MS = 30_000;

/**
 * Waits until the recording `pid` says (beside its store, once a second) that everything it recorded is committed, and
 * twice alike, so that nothing was still arriving; false if that took longer than COMMIT_WAIT_MS.
 */
async function everythingCommitted(db: string, pid: number): Promise<boolean> {
  const deadline = Date.now() + COMMIT_WAIT_MS;
  let settled: number | undefined;
  while (Date.now() < deadline) {
    const progress = readProgressFiles(db).find((report) => report.pid === pid)?.progress;
    const recorded = Number(progress?.recorded);
    if (progress !== undefined && recorded > 0 && Number(progress.committed) >= recorded) {
      if (settled === recorded) return true;
      settled = recorded;
    }
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
  return false;
}
