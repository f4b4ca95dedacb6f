import { describe, expect, it } from 'vitest';
import { formatMeasured, verdictOf, type Metric } from '../../src/analyse/analysis.ts';
import { applyThresholds, thresholdFindings } from '../../src/analyse/judge.ts';
import { defaultThresholds } from '../../src/analyse/thresholds.ts';
import { judgeWithinHarnessDrops } from '../../src/analyse/receive-drops.ts';
import { judgeWithinUnrecorded } from '../../src/analyse/unrecorded.ts';

const ROUTE = 20500;
const metric = (name: Metric['metric'], backend: string | null, value: number, unit: Metric['unit'] = 'count'): Metric => ({ metric: name, route: ROUTE, backend, value, unit, status: null });

/** A mirror that lost 2% of 100,000 packets (critical from 1%), a primary that lost none. */
function measured(): Metric[] {
  return [
    metric('sent', 'primary', 100_000),
    metric('delivered', 'primary', 100_000),
    metric('lost_apart', 'primary', 0),
    metric('drop_rate', 'primary', 0, 'ratio'),
    metric('sent', 'mirror', 100_000),
    metric('delivered', 'mirror', 98_000),
    metric('lost_apart', 'mirror', 2_000),
    metric('drop_rate', 'mirror', 0.02, 'ratio'),
  ];
}

function judged(unrecorded: number): { metrics: Metric[]; verdict: string; messages: string[] } {
  const metrics = measured();
  // The replayer's sockets dropped nothing; a tap in front of the mirror dropped 500 (a one-sided widening first).
  judgeWithinHarnessDrops(metrics, { receiveDrops: 0, observers: [{ observer: 'tap:mirror:1', backend: 'mirror', forwarded: 0, replies: 0, strayReplies: 0, errors: {}, receiveDrops: 500 }], backendDrops: {} }, 'primary');
  judgeWithinUnrecorded(metrics, unrecorded, 'primary');
  applyThresholds(metrics, defaultThresholds());
  const findings = thresholdFindings(metrics, [], null, 'primary');
  return { metrics, verdict: verdictOf(metrics, findings), messages: findings.map((f) => `${f.severity}: ${f.message}`) };
}

const of = (metrics: Metric[], backend: string): Metric | undefined => metrics.find((m) => m.metric === 'drop_rate' && m.backend === backend);

describe('what a recording could not record is judged as the recording\'s', () => {
  it('widens every rate both ways by what is missing of its whole, after what other sources widened one way', () => {
    const { metrics, messages, verdict } = judged(100);
    const mirror = of(metrics, 'mirror');
    // 500 at the tap (0.5%, towards better), then 100 either way of 99,900: 2.00% ± 0.60%, still critical at both ends.
    expect(mirror).toMatchObject({ status: 'critical', uncertaintySource: 'unrecorded' });
    expect(mirror === undefined ? '' : formatMeasured(mirror)).toBe('2.00% ± 0.60%');
    // The primary's 0% could hide 100 losses behind requests the recording missed: 0.10%, on the warning's edge.
    expect(of(metrics, 'primary')).toMatchObject({ status: 'inconclusive' });
    expect(messages).toContainEqual(expect.stringMatching(/^inconclusive: primary: frame drop rate 0\.00% ± 0\.10% on route 20500 is inconclusive: anywhere from 0\.00% to 0\.10%.*The recording could not record 100 datagrams/));
    expect(metrics).toContainEqual(expect.objectContaining({ metric: 'recording_unrecorded', route: null, value: 100 }));
    expect(verdict).toBe('NO_GO');
  });

  it('a recording that missed nothing changes nothing', () => {
    const { metrics } = judged(0);
    expect(of(metrics, 'primary')).toMatchObject({ status: 'healthy' });
    expect(of(metrics, 'primary')?.uncertainty).toBeUndefined();
    expect(metrics.some((m) => m.metric === 'recording_unrecorded')).toBe(false);
  });
});
