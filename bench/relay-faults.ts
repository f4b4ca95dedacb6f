import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { RelayProcess } from '../src/scenario/relay-process.ts';
import { printRows } from './bench-util.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const FLEET = fileURLToPath(new URL('./peers/calamp-fleet.mjs', import.meta.url));
const RELAY_IP = '127.0.9.1';
const PRIMARY_IP = '127.0.9.2';
const MIRROR_IP = '127.0.9.3';
const PORT = 20600;
/** `RELAY_SOAK_SECONDS=300 npm run bench -- relay-faults` for the full soak; the default keeps the whole bench short. */
const SOAK_SECONDS = Number(process.env.RELAY_SOAK_SECONDS ?? 60);

interface FleetResult {
  devices: number;
  sent: number;
  acked: number;
  lossPct: number | null;
  crossDevice: number;
  duplicates: number;
  junkSent: number;
  sendErrors: number;
  rttP50Ms: number | null;
  rttP99Ms: number | null;
}

/**
 * `npm run bench -- relay-faults`: the reference relay under the faults an operator meets, driven by an independent
 * CalAmp fleet (bench/peers/calamp-fleet.mjs) with CalAmp backends in their own processes: a junk flood beside real
 * devices (with and without the route's protocol), a primary stalled with SIGSTOP, reloads every 0.5 s under load, and
 * a soak. The figures are ACK loss and round trip as the devices see them, ACKs delivered to the wrong device, and the
 * relay's own counters.
 */
export async function benchRelayFaults(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-relay-faults-'));
  const backends = [PRIMARY_IP, MIRROR_IP].map((ip, i) =>
    spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'calamp-lmd', '--listen', `${ip}:${PORT}`, '--role', i === 0 ? 'primary' : 'mirror'], { stdio: 'ignore' }),
  );
  const rows: (string | number)[][] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const protocol of [undefined, 'calamp-lmd']) {
      const label = `flood: 200 devices at 1k pps + 5k pps junk from 12,000 source sockets, route protocol ${protocol ?? 'unset'}`;
      rows.push(await withRelay(dir, protocol, (relay) => scenario(relay, label, { devices: 200, rate: 1000, seconds: 10, junkRate: 5000, junkSources: 12_000 })));
    }
    rows.push(
      await withRelay(dir, 'calamp-lmd', async (relay) => {
        const primary = backends[0] as ChildProcess;
        // Stalled 2 s into the run for 10 s: ACKs held back past the 2 s timeout come back late, all at once.
        const stall = setTimeout(() => primary.kill('SIGSTOP'), 2000);
        const resume = setTimeout(() => primary.kill('SIGCONT'), 12_000);
        try {
          return await scenario(relay, 'stall: primary SIGSTOPped 10 s under 200 devices at 1k pps', { devices: 200, rate: 1000, seconds: 16 });
        } finally {
          clearTimeout(stall);
          clearTimeout(resume);
          primary.kill('SIGCONT');
        }
      }),
    );
    rows.push(
      await withRelay(dir, 'calamp-lmd', async (relay) => {
        let reloads = 0;
        let stop = false;
        const reloading = (async () => {
          while (!stop) {
            await relay.reload({ version: `bench-${++reloads}` });
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        })();
        try {
          const row = await scenario(relay, 'reload every 0.5 s under 1,000 devices at 5k pps', { devices: 1000, rate: 5000, seconds: 10 });
          return [...row.slice(0, -1), `${row.at(-1)}, ${reloads} reloads`];
        } finally {
          stop = true;
          await reloading;
        }
      }),
    );
    rows.push(await withRelay(dir, 'calamp-lmd', (relay) => scenario(relay, `soak: ${SOAK_SECONDS} s at 5k pps from 2,000 devices`, { devices: 2000, rate: 5000, seconds: SOAK_SECONDS })));
    printRows(
      'reference relay under faults (independent CalAmp fleet; loss and round trip as the devices see them)',
      ['scenario', 'sent', 'ACK loss', 'rtt p50 ms', 'rtt p99 ms', 'wrong-device ACKs', 'relay counters'],
      rows,
    );
  } finally {
    for (const backend of backends) await stopTracked(backend);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function withRelay<T>(dir: string, protocol: string | undefined, fn: (relay: RelayProcess) => Promise<T>): Promise<T> {
  const relay = await RelayProcess.start(dir, {
    address: RELAY_IP,
    responseTimeoutMs: 2000,
    routes: { globals: { mirror: true, mirror_ip: MIRROR_IP }, routes: [{ port: PORT, target: PRIMARY_IP, ...(protocol !== undefined && { protocol }) }] },
  });
  try {
    return await fn(relay);
  } finally {
    await relay.stop();
  }
}

async function scenario(relay: RelayProcess, label: string, load: { devices: number; rate: number; seconds: number; junkRate?: number; junkSources?: number }): Promise<(string | number)[]> {
  const rssBefore = await rssMb(relay);
  const result = await runFleet([
    '--relay', `${RELAY_IP}:${PORT}`,
    '--devices', String(load.devices),
    '--rate', String(load.rate),
    '--seconds', String(load.seconds),
    '--junk-rate', String(load.junkRate ?? 0),
    '--junk-sources', String(load.junkSources ?? 0),
  ]);
  const metrics = await (await request(`${relay.debugUrl}/metrics`)).body.text();
  const refused = [...metrics.matchAll(/udp_relay_refused_total\{reason="([^"]+)"\} (\d+)/g)].map((m) => `${m[1]} ${m[2]}`);
  const counters = [
    `refused: ${refused.length === 0 ? 'none' : refused.join(', ')}`,
    `late replies ${counter(metrics, 'udp_relay_late_replies_total')}`,
    `no-reply ${counter(metrics, `udp_relay_no_reply_expected_total{port="${PORT}"}`)}`,
    `RSS ${rssBefore} -> ${await rssMb(relay)} MB`,
  ].join(', ');
  return [
    label,
    result.sent.toLocaleString('en-US'),
    `${(result.lossPct ?? 100).toFixed(2)}%`,
    result.rttP50Ms?.toFixed(2) ?? '-',
    result.rttP99Ms?.toFixed(2) ?? '-',
    result.crossDevice,
    counters,
  ];
}

function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

async function rssMb(relay: RelayProcess): Promise<number> {
  const body = (await (await request(`${relay.debugUrl}/debug/health`)).body.json()) as { rssBytes: number };
  return Math.round(body.rssBytes / 1e6);
}

function runFleet(args: string[]): Promise<FleetResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLEET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`calamp-fleet exited ${code}: ${err.trim().split('\n').at(-1) ?? ''}`));
      else resolve(JSON.parse(out) as FleetResult);
    });
  });
}
