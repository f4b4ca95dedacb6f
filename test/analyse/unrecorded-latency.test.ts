import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { formatMeasured, type Metric } from '../../src/analyse/analysis.ts';
import { payloadHash } from '../../src/core/payload-hash.ts';
import type { Observation } from '../../src/store/observation-writer.ts';
import { ObservationWriter } from '../../src/store/observation-writer.ts';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { Store } from '../../src/store/store.ts';
import { toReportJson } from '../../src/report/report-json.ts';
import { legEndpoints } from '../helpers/leg-endpoints.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const ROUTE = 18191;
const PACKETS = 400;
const MS = 1_000_000;

/**
 * Packet n's observation on `leg`, 2 ms apart, a device of its own every ten: the primary answers in 1 ms, the mirror
 * in 1 ms too but in `slowMs` (600) for every packet `slowMirror` picks (the ACK latency p95 is warning from 100 ms,
 * critical from 500 ms).
 */
function observation(leg: string, n: number, slowMirror: (n: number) => boolean, slowMs: number): Observation {
  const answer = leg === 'primary>relay' || leg === 'mirror>relay';
  const toDevice = leg === 'relay>device';
  const sent = 1_000_000_000 + n * 2 * MS;
  const offset = leg === 'device>relay' ? 0 : toDevice ? 1.5 * MS : answer ? (leg === 'mirror>relay' && slowMirror(n) ? slowMs * MS : 1.2 * MS) : 0.1 * MS;
  const request = Buffer.from(`report ${n}`);
  return {
    leg,
    tsNs: BigInt(sent + offset),
    ...legEndpoints(leg, n, ROUTE),
    routePort: ROUTE,
    payload: answer || toDevice ? Buffer.from(`ack ${n}`) : request,
    kind: 'opaque',
    matchKey: undefined,
    observer: 'capture',
    keepPayload: answer || toDevice,
    // The backends' own observers tie each answer to its request, so a slow answer is its own request's.
    ...(answer && { replyToHash: payloadHash(request) }),
  };
}

/** The mirror's ACK latency p95 on the route, from a run whose recording says it could not record `unrecorded` datagrams. */
async function mirrorAckP95(slowMirror: (n: number) => boolean, unrecorded: number, slowMs = 600): Promise<{ metric: Metric | undefined; messages: string[]; json: unknown }> {
  return withTempDir(async (dir) => {
    const store = await Store.open(join(dir, 'run.duckdb'));
    try {
      const runId = await createRun(store, { name: 'r', kind: 'record', protocol: 'generic', startedNs: 1_000_000_000n });
      const writer = await ObservationWriter.create(store, runId);
      for (let n = 0; n < PACKETS; n++) {
        for (const leg of ['device>relay', 'relay>primary', 'relay>mirror', 'primary>relay', 'mirror>relay', 'relay>device']) writer.add(observation(leg, n, slowMirror, slowMs));
      }
      await writer.finish();
      await finishRun(store, runId, 'completed', 3_000_000_000n, { unrecorded });
      const analysis = await analyseRun(store, 'r', { partial: true });
      const mirror = (m: { metric: string; backend: string | null; route: number | null }): boolean => m.metric === 'ack_latency_p95_ms' && m.backend === 'mirror' && m.route === ROUTE;
      return {
        metric: analysis.metrics.find(mirror),
        json: (JSON.parse(JSON.stringify(toReportJson(analysis))) as ReturnType<typeof toReportJson>).metrics.find(mirror),
        messages: analysis.findings.map((f) => `${f.severity}: ${f.message}`),
      };
    } finally {
      store.close();
    }
  });
}

describe('latency percentiles of a recording that missed datagrams (real DuckDB)', () => {
  // 25 of 400 answers slow: the p95 (position 379.05 of 0-399) falls among them, by 5 places.
  const someSlow = (n: number): boolean => n % 16 === 0;
  // 40 of 400 slow: by 20 places.
  const manySlow = (n: number): boolean => n % 10 === 0;

  it('with nothing missed, a slow p95 is the backend\'s', async () => {
    const { metric } = await mirrorAckP95(someSlow, 0);
    // The backend's own time: its answer 600 ms after the request, which reached it 0.1 ms after the device sent it.
    expect(metric).toMatchObject({ status: 'critical' });
    expect(metric?.value).toBeCloseTo(599.9, 6);
    expect(metric?.uncertainty).toBeUndefined();
  });

  it('is not put on a backend when as many samples as were missed could move it below the threshold', async () => {
    // 10 of the 25 slow samples could be the recording's doing (an answer unseen, a later one taken for it), which
    // leaves 15, fewer than the 5% the p95 needs: the p95 lies anywhere from the fast samples' 1 ms to the slow 600 ms.
    const { metric, messages } = await mirrorAckP95(someSlow, 10);
    expect(metric).toMatchObject({ status: 'inconclusive', uncertaintySource: 'unrecorded' });
    expect(metric?.bounds?.[0]).toBeCloseTo(1.1, 6);
    expect(metric?.bounds?.[1]).toBeCloseTo(599.9, 6);
    expect(metric === undefined ? '' : formatMeasured(metric)).toBe('599.9 ms (1.10 ms to 599.9 ms)');
    expect(messages.filter((m) => m.startsWith('critical: mirror: ACK latency'))).toEqual([]);
    expect(messages).toContainEqual(expect.stringMatching(/^inconclusive: mirror: ACK latency p95 599\.9 ms on route 18191 is inconclusive: anywhere from 1\.10 ms to 599\.9 ms, .*latency samples/));
  });

  it('still blames a backend whose slow answers outnumber what was missed', async () => {
    const { metric } = await mirrorAckP95(manySlow, 10);
    expect(metric).toMatchObject({ status: 'critical', uncertaintySource: 'unrecorded' });
    // Ten ranks either way of the p95 stay among the slow answers: the same 599.9 ms on both sides.
    expect(metric?.bounds?.[0]).toBeCloseTo(599.9, 6);
    expect(metric?.bounds?.[1]).toBeCloseTo(599.9, 6);
  });

  it('is judged within where it can lie, not as far again on the other side', async () => {
    // The same 25 slow answers at 80 ms: the p95 lies between 1.1 ms and 80 ms, under the warning's 100 ms at both ends.
    // As 79.9 ms ± 78.8 ms it would have reached 158.7 ms, and a healthy backend been held inconclusive.
    const { metric } = await mirrorAckP95(someSlow, 10, 80);
    expect(metric).toMatchObject({ status: 'healthy', uncertaintySource: 'unrecorded' });
    expect(metric === undefined ? '' : formatMeasured(metric)).toBe('79.9 ms (1.10 ms to 79.9 ms)');
  });

  it('has no bound above when more may be missing than lie beyond the percentile', async () => {
    const { metric, json } = await mirrorAckP95(() => false, 30);
    expect(metric).toMatchObject({ status: 'inconclusive', uncertainty: Number.POSITIVE_INFINITY });
    expect(metric?.bounds?.[1]).toBe(Number.POSITIVE_INFINITY);
    expect(metric === undefined ? '' : formatMeasured(metric)).toMatch(/^1\.10 ms \(1\.10 ms to ∞\)$/);
    // report.json has no infinity: the largest double, so that a reader's value ± uncertainty still spans everything.
    expect(json).toMatchObject({ uncertainty: Number.MAX_VALUE, uncertaintySource: 'unrecorded', status: 'inconclusive' });
    expect((json as { bounds: number[] }).bounds[1]).toBe(Number.MAX_VALUE);
  });
});
