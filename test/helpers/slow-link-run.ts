// Runs inside a network namespace whose loopback carries what goes to the mirror (127.0.77.3) at 512 kbit/s, started by
// test/relay/slow-backend-link.test.ts: a whole run through the reference relay, started as an external relay with
// small socket buffers (socket_buffer_bytes), so that its queue for the mirror fills. Prints one JSON line: the
// verdict, the findings, and the metrics the test reads.
//
//   node src/cli/run-ts.js test/helpers/slow-link-run.ts DIR
import { join } from 'node:path';
import { runScenario } from '../../src/scenario/run-scenario.ts';
import { withStore } from '../../src/store/store.ts';
import { referenceRelayScenario } from './reference-relay-scenario.ts';

export interface SlowLinkOutcome {
  verdict: string;
  findings: { severity: string; kind: string; metric: string | null; backend: string | null; value: number | null; message: string }[];
  /** Run-level metrics (route: all), by `metric` or `metric backend`. */
  metrics: Record<string, number | null>;
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: slow-link-run.ts DIR');
// Small buffers: the mirror's socket holds about 200 of these datagrams in the kernel and 128 KiB (about 1,300) more,
// against the 2,600 packets a second the devices send and the 500 the mirror's link carries; the listener's receive
// buffer still takes what a busy machine's stalls of the relay let pile up.
const spec = referenceRelayScenario(dir, { name: 'slow-mirror-link', block: 77, debugPort: 18_791, socketBufferBytes: 131_072 });
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
