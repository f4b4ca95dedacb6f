import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCaptures } from '../src/capture/import-capture.ts';
import { generic } from '../src/protocols/generic.ts';
import { replayCapture } from '../src/run/replay-run.ts';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { RelayProcess } from '../src/scenario/relay-process.ts';
import { num, Store } from '../src/store/store.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { cpuSeconds, pinApart } from './cpu-pinning.ts';
import { generateBenchCapture } from './generate-capture.ts';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const RELAY_IP = '127.0.8.1';
const PRIMARY_IP = '127.0.8.2';
const MIRROR_IP = '127.0.8.3';
const PORT = 20500;
const STEP_SECONDS = 3;

/**
 * `npm run bench -- relay`: device round trip and loss through the reference relay (mirroring to two backends, each
 * its own process) at fixed offered rates, against the same primary backend reached directly, in one run; then
 * rising rates until the relay loses more than 0.1%.
 */
export async function benchRelay(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-relay-'));
  const file = join(dir, 'relay.pcap');
  generateBenchCapture(file, 300_000, 'pcap');
  const store = await Store.open(join(dir, 'relay.duckdb'));
  const backends = [PRIMARY_IP, MIRROR_IP].map((ip, i) =>
    spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${ip}:${PORT}`, '--role', i === 0 ? 'primary' : 'mirror'], { stdio: 'ignore' }),
  );
  let relay: RelayProcess | undefined;
  try {
    await importCaptures(store, { files: [file], name: 'bench', ports: [PORT] });
    relay = await RelayProcess.start(dir, {
      address: RELAY_IP,
      responseTimeoutMs: 2000,
      routes: { globals: { mirror: true, mirror_ip: MIRROR_IP }, routes: [{ port: PORT, target: PRIMARY_IP }] },
    });
    const relayPid = relay.pid as number;
    const pinned = pinApart(relayPid, [process.pid, ...backends.map((b) => b.pid as number)]);
    process.stdout.write(pinned ? 'the relay runs on a core of its own; the replayer and both backends share the others\n' : 'no taskset (or one core): the relay shares the cores with the load\n');
    const rows: (string | number)[][] = [];
    const health = async (): Promise<string> => {
      const body = (await (await request(`${(relay as RelayProcess).debugUrl}/debug/health`)).body.json()) as { upstreamSockets: number; rssBytes: number };
      return `${body.upstreamSockets} sockets, RSS ${(body.rssBytes / 1e6).toFixed(0)} MB`;
    };
    const resources: string[] = [`at start: ${await health()}`];
    for (const rate of [1000, 10_000, 50_000]) {
      const direct = await step(store, PRIMARY_IP, rate);
      const cpuBefore = cpuSeconds(relayPid);
      const through = await step(store, RELAY_IP, rate);
      const usPerPacket = ((cpuSeconds(relayPid) - cpuBefore) * 1e6) / Math.max(1, through.sent);
      rows.push([
        `${fmtRate(rate)} pps`,
        fmtRate(through.achieved),
        `${(through.loss * 100).toFixed(2)}%`,
        through.p50.toFixed(3),
        through.p99.toFixed(3),
        direct.p50.toFixed(3),
        direct.p99.toFixed(3),
        (through.p50 - direct.p50).toFixed(3),
        `${(through.p99 / Math.max(direct.p99, 1e-6)).toFixed(2)}x`,
        usPerPacket.toFixed(1),
        fmtRate(1e6 / Math.max(usPerPacket, 1e-3)),
      ]);
      resources.push(`after ${fmtRate(rate)} pps: ${await health()}`);
    }
    printRows('device round trip (ms) through the relay (mirroring to 2 backends) vs the primary reached directly', ['offered', 'achieved', 'loss', 'relay p50', 'relay p99', 'direct p50', 'direct p99', 'added p50', 'p99 ratio', 'relay CPU µs/packet', 'packets per core'], rows);
    const onset = await lossOnset(store);
    process.stdout.write(`rate at which the relay starts losing (> 0.1%): ${onset}\n`);
    resources.push(`at the end: ${await health()}`);
    process.stdout.write(`relay resources (one upstream binding per device, idle ones close after 30 s): ${resources.join('; ')}\n`);
  } finally {
    await relay?.stop();
    for (const backend of backends) await stopTracked(backend);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rising rates through the relay until it loses more than 0.1%, or the replayer cannot offer more. */
async function lossOnset(store: Store): Promise<string> {
  for (const rate of [20_000, 30_000, 40_000, 60_000, 80_000, 100_000]) {
    const through = await step(store, RELAY_IP, rate);
    process.stdout.write(`offered ${fmtRate(rate)} pps: achieved ${fmtRate(through.achieved)}, loss ${(through.loss * 100).toFixed(2)}%\n`);
    if (through.loss > 0.001) return `${fmtRate(rate)} pps offered (${fmtRate(through.achieved)} achieved)`;
    if (through.achieved < rate * 0.9) return `none up to ${fmtRate(through.achieved)} pps, the most the replayer offered`;
  }
  return "none up to the replayer's limit";
}

let runs = 0;

/** Replays at `rate` for a few seconds to `target` and measures the devices' round trip and loss. */
export async function step(store: Store, target: string, rate: number): Promise<{ achieved: number; sent: number; loss: number; p50: number; p99: number }> {
  const runName = `relay-bench-${++runs}`;
  const result = await replayCapture({
    store,
    capture: 'bench',
    relayHost: target,
    portMap: new Map(),
    plan: { pace: { kind: 'rate', ratePps: rate }, loops: 1, durationMs: STEP_SECONDS * 1000, sample: 1, seed: 1 },
    protocol: generic,
    devices: '127.31.0.0/16',
    ackTimeoutMs: 1000,
    runName,
  });
  const [row] = await store.query(
    `WITH s AS (SELECT * FROM sends WHERE run_id = $run_id),
          o AS (SELECT * FROM observations WHERE run_id = $run_id AND leg = 'relay>device')
     SELECT count(*) AS sent,
            (SELECT count(*) FROM o) AS replies,
            quantile_cont((o.ts_ns - s.actual_ns) / 1e6, 0.5) AS p50,
            quantile_cont((o.ts_ns - s.actual_ns) / 1e6, 0.99) AS p99
     FROM s ASOF LEFT JOIN o ON o.dst_ip = s.local_ip AND o.dst_port = s.local_port AND o.ts_ns >= s.actual_ns`,
    { run_id: result.runId },
  );
  const sent = num(row?.sent);
  return { achieved: result.stats.achievedRatePps, sent, loss: sent > 0 ? 1 - Math.min(sent, num(row?.replies)) / sent : 0, p50: num(row?.p50), p99: num(row?.p99) };
}
