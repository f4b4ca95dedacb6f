import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { mergeObservations } from '../../src/observe/merge-observations.ts';
import { ReleasedStoreSink } from '../../src/observe/released-store-sink.ts';
import type { Observation } from '../../src/store/observation-writer.ts';
import { ObservationWriter } from '../../src/store/observation-writer.ts';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { Store } from '../../src/store/store.ts';
import { legEndpoints } from '../helpers/leg-endpoints.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const ROUTE = 18190;
const PACKETS = 200;
const HELD = 390;

/** Packet n's observation on `leg`: the device's report, its copies and the ACKs, 1 ms apart, a device of its own every ten. */
function observation(leg: string, n: number): Observation {
  const answer = leg.endsWith('>relay') && leg !== 'device>relay';
  const toDevice = leg === 'relay>device';
  return {
    leg,
    tsNs: BigInt(1_000_000_000 + n * 1_000_000 + (answer || toDevice ? 500_000 : 100_000)),
    ...legEndpoints(leg, n, ROUTE),
    routePort: ROUTE,
    payload: Buffer.from(answer || toDevice ? `ack ${n}` : `report ${n}`),
    kind: 'opaque',
    matchKey: undefined,
    observer: leg.includes('mirror') ? 'backend:mirror' : 'capture',
    keepPayload: answer || toDevice,
  };
}

describe("a backend store's unrecorded observations, merged (real DuckDB files)", () => {
  it('leave the backend\'s record not whole: INCOMPLETE, and with --partial every rate judged within them, the mirror not blamed', async () => {
    await withTempDir(async (dir) => {
      const main = await Store.open(join(dir, 'run.duckdb'));
      try {
        const topology = { backends: [{ role: 'primary', ip: '10.9.0.2', observation: 'live' as const, observed: 'capture' }], routes: [] };
        const runId = await createRun(main, { name: 'r', kind: 'record', protocol: 'generic', topology, startedNs: 1_000_000_000n });
        const writer = await ObservationWriter.create(main, runId);
        for (let n = 0; n < PACKETS; n++) for (const leg of ['device>relay', 'relay>primary', 'primary>relay', 'relay>device']) writer.add(observation(leg, n));
        await writer.finish();
        await finishRun(main, runId, 'completed', 2_000_000_000n);

        // The mirror's own store: its queue holds 390 while the store is out of reach, so the last 10 of its 400
        // observations (five copies received and their answers) are counted, not kept.
        const mirrorStore = join(dir, 'mirror.duckdb');
        const sink = await ReleasedStoreSink.open({ path: mirrorStore, runName: 'r', protocol: 'generic', topology: { backends: [{ role: 'mirror', ip: '10.9.0.3', observation: 'simulated', observed: 'parity backend' }], routes: [] }, startedNs: 1_000_000_000n, maxHeld: HELD });
        for (let n = 0; n < PACKETS; n++) for (const leg of ['relay>mirror', 'mirror>relay']) sink.add(observation(leg, n));
        expect(sink.unrecorded).toBe(2 * PACKETS - HELD);
        await sink.close('completed', 2_000_000_000n);

        const [merged] = await mergeObservations(main, 'r', [mirrorStore]);
        expect(merged).toMatchObject({ observations: HELD, unfinished: expect.stringMatching(/could not record 10 observations \(its store fell behind\)/) });

        const whole = await analyseRun(main, 'r');
        expect(whole.verdict).toBe('INCOMPLETE');
        expect(whole.findings).toContainEqual(expect.objectContaining({ severity: 'critical', message: expect.stringMatching(/^mirror's record is not whole .*could not record 10 observations/) }));

        const partial = await analyseRun(main, 'r', { partial: true });
        const mirrorDrop = partial.metrics.find((m) => m.metric === 'drop_rate' && m.backend === 'mirror' && m.route === ROUTE);
        // 5 of 200 "lost" (2.5%, critical from 1%) is known only to within 10 of 195 either way.
        expect(mirrorDrop).toMatchObject({ value: 0.025, status: 'inconclusive', uncertaintySource: 'unrecorded' });
        expect(partial.findings.filter((f) => f.severity === 'critical')).toEqual([]);
        expect(partial.findings).toContainEqual(expect.objectContaining({ metric: 'recording_unrecorded', value: 10 }));
        expect(partial.verdict).toBe('INCONCLUSIVE');
      } finally {
        main.close();
      }
    });
  });
});
