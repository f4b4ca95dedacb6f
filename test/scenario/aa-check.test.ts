import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario, type ScenarioResult } from '../../src/scenario/run-scenario.ts';
import { withStore, type Store } from '../../src/store/store.ts';
import { LOAD_PROOF_THRESHOLDS } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const FAULT_RELAY = join(import.meta.dirname, '../peers/fault-relay.mjs');
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

/**
 * The A/A check: identical backends behind a faithful relay must give GO with no finding at all, run after run. A
 * harness that raises false alarms on clean runs (a device ACK rate of 0.999 from its own taps, a drift from its own
 * timing) teaches its users to ignore it. Every threshold is the default except the two latency bounds, which a
 * busy CI machine could reach on its own (they are checked by the detection suite instead).
 */
async function cleanRun(seed: number, relay: 'reference' | 'independent'): Promise<{ result: ScenarioResult; diagnosis: string }> {
  const block = relay === 'reference' ? 180 : 181;
  const relayIp = `127.${block}.${seed}.1`;
  const relaySpec =
    relay === 'reference'
      ? { builtin: { mirror: true } }
      : {
          external: {
            address: relayIp,
            command: `exec "${process.execPath}" "${FAULT_RELAY}" --listen ${relayIp}:20500 --primary 127.${block}.${seed}.2 --mirror 127.${block}.${seed}.3`,
            ready_after: '500ms',
          },
        };
  const spec = parseScenario(
    {
      name: `aa-${relay}-${seed}`,
      traffic: { generate: { devices: 8, duration: '30s', interval: '3s', seed } },
      relay: relaySpec,
      backends:
        relay === 'reference'
          ? { primary: { latency: '1ms' }, mirror: { latency: '1ms' } }
          : { primary: { address: `127.${block}.${seed}.2`, latency: '1ms' }, mirror: { address: `127.${block}.${seed}.3`, latency: '1ms' } },
      replay: { speed: '30x', ack_timeout: '1s', seed },
      thresholds: LOAD_PROOF_THRESHOLDS,
    },
    `aa-${relay}-${seed}.yaml`,
  );
  return withTempDir((dir) =>
    withStore(join(dir, 'aa.duckdb'), async (store) => {
      const result = await runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json', 'html'], screenshot: false });
      if (relay === 'independent') {
        // The external relay's output is kept beside the reports, and the page links it.
        expect(readFileSync(join(result.reports.dir, 'relay.log'), 'utf8')).toMatch(/fault relay on/);
        expect(readFileSync(join(result.reports.dir, 'report.html'), 'utf8')).toContain('<a href="relay.log">relay.log</a>');
      }
      return { result, diagnosis: result.analysis.findings.length === 0 ? '' : await diagnose(store, result) };
    }),
  );
}

/**
 * For a run that raised a finding: each request whose device got no ACK (when it left in the run, what each backend
 * did with it) and the replay's figures, so that a false alarm seen once on a busy machine can be told apart.
 */
async function diagnose(store: Store, result: ScenarioResult): Promise<string> {
  const rows = await store.query(
    `SELECT p.backend, p.uplink_id, round((p.sent_ns - (SELECT min(sent_ns) FROM packet_parity f WHERE f.run_id = p.run_id)) / 1e6, 1) AS sent_ms, p.delivered, p.acked,
            round(p.ack_latency_ms, 2) AS ack_ms, p.device_acked
     FROM packet_parity p JOIN runs r USING (run_id)
     WHERE r.name = $name AND p.uplink_id IN (SELECT uplink_id FROM packet_parity q WHERE q.run_id = p.run_id AND q.wants_ack AND NOT q.device_acked)
     ORDER BY p.uplink_id, p.backend`,
    { name: result.runName },
  );
  const stats = result.replay.stats;
  return `${JSON.stringify(rows, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}\nreplay: planned ${stats.planned}, sent ${stats.sent}, errors ${JSON.stringify(stats.sendErrorsByKind)}, acks ${stats.acks}, ${stats.durationSec.toFixed(2)} s`;
}

describe('A/A check: 20 seeded clean runs through each relay give GO with no finding', () => {
  it.each(SEEDS)('through the reference relay, seed %i', async (seed) => {
    const { result, diagnosis } = await cleanRun(seed, 'reference');
    expect(result.analysis.findings.map((f) => `${f.severity} ${f.message}`), diagnosis).toEqual([]);
    expect(result.analysis.verdict).toBe('GO');
  });

  it.each(SEEDS)('through an independent relay (test/peers/fault-relay.mjs, no faults), seed %i', async (seed) => {
    const { result, diagnosis } = await cleanRun(seed, 'independent');
    expect(result.analysis.findings.map((f) => `${f.severity} ${f.message}`), diagnosis).toEqual([]);
    expect(result.analysis.verdict).toBe('GO');
  });
});
