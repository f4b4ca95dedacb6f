// Runs inside a network namespace whose loopback carries what goes to the mirror (127.0.77.3) at 512 kbit/s, started by
// test/relay/slow-backend-link.test.ts: a whole run through the reference relay, started as an external relay with
// small socket buffers (socket_buffer_bytes), so that its queue for the mirror fills. Prints one JSON line: the
// verdict, the findings, and the metrics the test reads.
//
//   node src/cli/run-ts.js test/helpers/slow-link-run.ts DIR
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario } from '../../src/scenario/run-scenario.ts';
import { withStore } from '../../src/store/store.ts';
import { LOAD_PROOF_THRESHOLDS } from './quick-run.ts';

export const RELAY_IP = '127.0.77.1';
export const PRIMARY_IP = '127.0.77.2';
export const MIRROR_IP = '127.0.77.3';
const DEBUG_PORT = 18_791;
const PARITY_BIN = fileURLToPath(new URL('../../src/cli/parity.js', import.meta.url));

export interface SlowLinkOutcome {
  verdict: string;
  findings: { severity: string; kind: string; metric: string | null; backend: string | null; value: number | null; message: string }[];
  /** Run-level metrics (route: all), by `metric` or `metric backend`. */
  metrics: Record<string, number | null>;
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: slow-link-run.ts DIR');
writeFileSync(
  join(dir, 'routes.json'),
  JSON.stringify({ mirror: true, mirror_ip: MIRROR_IP, routes: [{ port: 20500, target: PRIMARY_IP, customer: 'acme-fleet', Device: 'calamplmd', protocol: 'calamp-lmd' }] }),
);
// Small: the mirror's socket holds about 200 of these datagrams in the kernel and 128 KiB (about 1,300) more; the
// listener's receive buffer still takes what a busy machine's stalls of the relay let pile up.
writeFileSync(join(dir, 'config.yaml'), `app:\n  bind_ip: "${RELAY_IP}"\n  response_timeout_ms: 1000\n  socket_buffer_bytes: 131072\n`);
const spec = parseScenario(
  {
    name: 'slow-mirror-link',
    // About 5,200 packets in 2 s: 2,600 a second, against about 500 the mirror's link carries.
    traffic: { generate: { devices: 60, duration: '120s', interval: '1s' } },
    relay: {
      external: {
        address: RELAY_IP,
        command: `exec "${process.execPath}" "${PARITY_BIN}" relay --routes "${join(dir, 'routes.json')}" --config "${join(dir, 'config.yaml')}" --debug-port ${DEBUG_PORT}`,
        debug: `http://127.0.0.1:${DEBUG_PORT}`,
        ready_url: `http://127.0.0.1:${DEBUG_PORT}/debug/health`,
        customer: 'acme-fleet',
        device: 'calamplmd',
      },
    },
    backends: { primary: { address: PRIMARY_IP, latency: '1ms' }, mirror: { address: MIRROR_IP, latency: '1ms' } },
    replay: { speed: '60x', ack_timeout: '1s' },
    thresholds: LOAD_PROOF_THRESHOLDS,
  },
  'slow-mirror-link.yaml',
);
const result = await withStore(join(dir, 'run.duckdb'), (store) => runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false }));
const metrics: Record<string, number | null> = {};
for (const metric of result.analysis.metrics) {
  if (metric.route === null) metrics[metric.backend === null ? metric.metric : `${metric.metric} ${metric.backend}`] = metric.value;
}
const outcome: SlowLinkOutcome = {
  verdict: result.analysis.verdict,
  findings: result.analysis.findings.map((f) => ({ severity: f.severity, kind: f.kind, metric: f.metric, backend: f.backend, value: f.value, message: f.message })),
  metrics,
};
process.stdout.write(`${JSON.stringify(outcome)}\n`);
