import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/scenario/run-scenario.ts';
import { withStore } from '../../src/store/store.ts';
import { referenceRelayScenario } from '../helpers/reference-relay-scenario.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

describe('a relay with too few sockets for the devices waiting on the primary (its socket budget)', () => {
  it('what it refuses for want of a socket is named as the relay\'s, and the primary is not blamed for it', { timeout: 120_000 }, async () => {
    // An open-file limit of 300 leaves the relay a budget of 44 upstream sockets (the limit less 256 of headroom),
    // 33 of them for the one route; a primary that answers in 100 ms holds about 260 requests, one binding each.
    const analysis = await withTempDir((dir) =>
      withStore(join(dir, 'run.duckdb'), async (store) => {
        const spec = referenceRelayScenario(dir, { name: 'relay-budget', block: 79, debugPort: 18_793, socketBufferBytes: 4 * 1024 * 1024, shell: 'ulimit -n 300', primaryLatency: '100ms' });
        return (await runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false })).analysis;
      }),
    );
    const messages = analysis.findings.map((f) => `${f.severity} ${f.message}`).join('\n');
    const runLevel = (metric: string, backend: string | null): number => Number(analysis.metrics.find((m) => m.metric === metric && m.route === null && m.backend === backend)?.value);
    const refused = runLevel('relay_failed_sends', 'primary');
    expect(refused, messages).toBeGreaterThan(0);
    // The copies to the mirror share one socket: none refused, none lost but what a relay stalled by a busy machine
    // dropped at its listener, which every backend lost alike.
    const droppedOnArrival = analysis.metrics.find((m) => m.metric === 'relay_receive_drops' && m.route === null)?.value ?? 0;
    expect(runLevel('relay_failed_sends', 'mirror'), messages).toBe(0);
    expect(runLevel('lost', 'mirror'), messages).toBe(droppedOnArrival);
    // What the primary lost beyond that is what the relay refused, and the finding says so.
    expect(runLevel('lost', 'primary') - droppedOnArrival, messages).toBe(refused);
    const finding = analysis.findings.find((f) => f.kind === 'relay_self_report' && f.metric === 'relay_failed_sends' && f.backend === 'primary');
    expect(finding?.message, messages).toMatch(/^relay: [\d,]+ of its sends to primary \(udp:\/\/127\.0\.79\.2\) failed at its own side \(its own counts: [\d,]+ route_budget, the route at its share of the budget/);
    // The mirror received more than the primary because of the relay: its drift finding and the devices' say so. On a
    // machine busy enough to hold the primary past the relay's timeout (CI with two busy loops: its answers took 1.4 s
    // at p50 for 100 ms asked), the devices' finding goes on to say which of its late answers the relay dropped.
    for (const metric of ['drift', 'device_ack_rate']) {
      const finding = analysis.findings.find((f) => f.metric === metric);
      const lateAnswers = metric === 'device_ack_rate' ? '(; primary answered [\\d,]+ of those that got none .*)?' : '';
      expect(finding?.message, messages).toMatch(new RegExp(`; the relay itself reports (.* and )?${refused.toLocaleString('en-US')} of its sends to primary failed at its side${lateAnswers}$`));
    }
    expect(analysis.verdict).toBe('NO_GO');
  });
});
