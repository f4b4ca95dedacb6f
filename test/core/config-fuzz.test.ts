import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadThresholds } from '../../src/analyse/thresholds.ts';
import { loadTopology } from '../../src/capture/record/topology.ts';
import { loadAppConfig, loadRelayConfig } from '../../src/relay/load-config.ts';
import { loadAnyScenario } from '../../src/scenario/load-scenario.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { expectOneLineFault, fuzzBudgetMs, fuzzTextFiles } from '../helpers/fuzz.ts';

/**
 * Every file a user hands the harness to configure it, mutated: thresholds, a topology, the relay's routes.json and
 * config.yaml, and each scenario in fixtures/. A file is either read or refused with one line naming it; never a
 * stack trace. The first run found a YAML alias to no anchor (`*a`) thrown raw by the YAML library's conversion, and
 * routes.json's JSON fault quoting the file's own lines, over several lines.
 */
const SEED = 20_261_205;
const MIN_CASES = 200;
const TIME_BUDGET_MS = fuzzBudgetMs(6_000);
const FIXTURES = join(import.meta.dirname, '../../fixtures/scenarios');

type Kind = 'thresholds' | 'topology' | 'routes' | 'app' | 'scenario';

const SEEDS: { kind: Kind; ext: string; text: string }[] = [
  {
    kind: 'thresholds',
    ext: 'yaml',
    text: [
      'drop_rate: { warning: 0.0005, critical: 0.005 }',
      'routes:',
      '  18172:',
      '    ack_latency_p95_ms: { warning: 200, critical: 800 }',
      'ignore_ack_fields: [appVersion]',
      'baseline_tolerance: { latency_increase: 0.2, latency_floor_ms: 1, rate_increase: 0.0005 }',
      'min_replay_rate_share: 0.9',
      '',
    ].join('\n'),
  },
  { kind: 'topology', ext: 'yaml', text: 'relay: { ip: 127.0.0.1, ports: [20500, 20501], egress: [127.0.0.2] }\nbackends: { primary: 127.0.0.3, mirror: 127.0.0.4 }\n' },
  {
    kind: 'routes',
    ext: 'json',
    text: JSON.stringify(
      {
        mirror: true,
        mirror_ip: '127.0.0.9',
        ack_from_mirror: false,
        routes: [
          { port: 18172, target: '127.0.0.8', customer: 'powertelematics', Device: 'calamplmd', protocol: 'calamp-lmd' },
          { port: 8807, target: '127.0.0.7', ack_from_mirror: true },
          { port: 10166, target: '127.0.0.6', mirror: false },
          { port: 7000, targets: [{ ip: '127.0.0.1' }, { ip: '127.0.0.2' }, { ip: '127.0.0.3', enabled: false }], primary_index: 1 },
        ],
      },
      null,
      1,
    ),
  },
  { kind: 'app', ext: 'yaml', text: 'app:\n  bind_ip: "127.0.0.1"\n  response_timeout_ms: 2000\n  mirror_ip: "127.0.0.9"\n  socket_buffer_bytes: 4194304\n' },
  ...readdirSync(FIXTURES).map((file) => ({ kind: 'scenario' as const, ext: 'yaml', text: readFileSync(join(FIXTURES, file), 'utf8') })),
];

async function load(kind: Kind, path: string): Promise<unknown> {
  if (kind === 'thresholds') return loadThresholds(path);
  if (kind === 'topology') return loadTopology(path);
  if (kind === 'routes') return loadRelayConfig(path, await loadAppConfig(undefined));
  if (kind === 'app') return loadAppConfig(path);
  return loadAnyScenario(path);
}

describe('configuration files under mutation (fast-check, fixed seed, time budget)', () => {
  it('each is read or refused with one line naming the file, never a stack trace', async () => {
    await withTempDir(async (dir) => {
      const { cases, outcomes } = await fuzzTextFiles({
        dir,
        seed: SEED,
        seeds: SEEDS,
        minCases: MIN_CASES,
        budgetMs: TIME_BUDGET_MS,
        numRuns: 10_000,
        // The two faults the first run found, always tried: an alias to no anchor, and JSON that is not JSON.
        examples: [
          [0, [{ kind: 'insert', at: 0, text: 'extra: *a\n' }]],
          [2, [{ kind: 'value', at: 0, text: '.nan' }]],
        ],
        check: async (index, path) => {
          try {
            await load((SEEDS[index] as (typeof SEEDS)[number]).kind, path);
            return 'read';
          } catch (error) {
            expectOneLineFault(error, path);
            return 'refused';
          }
        },
      });
      expect(cases).toBeGreaterThanOrEqual(MIN_CASES);
      expect(outcomes.read).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    });
  }, TIME_BUDGET_MS + 120_000);
});
