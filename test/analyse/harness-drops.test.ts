import { describe, expect, it } from 'vitest';
import { formatMeasured, verdictOf, type Metric } from '../../src/analyse/analysis.ts';
import { applyThresholds, thresholdFindings } from '../../src/analyse/judge.ts';
import { judgeWithinHarnessDrops } from '../../src/analyse/receive-drops.ts';
import { defaultThresholds } from '../../src/analyse/thresholds.ts';
import type { StoredReplayStats } from '../../src/store/run-metadata.ts';

const ROUTE = 20500;
const metric = (name: Metric['metric'], backend: string | null, value: number, unit: Metric['unit'] = 'count'): Metric => ({ metric: name, route: ROUTE, backend, value, unit, status: null });

/** A mirror that lost 20 of 1,000 packets (2%: critical from 1%), and devices that got 985 of 1,000 ACKs (98.5%). */
function measured(): Metric[] {
  return [
    metric('sent', 'mirror', 1000),
    metric('lost', 'mirror', 20),
    metric('drop_rate', 'mirror', 0.02, 'ratio'),
    metric('device_ack_expected', null, 1000),
    metric('device_acks', null, 985),
    metric('device_ack_rate', null, 0.985, 'ratio'),
  ];
}

function judged(stats: Pick<StoredReplayStats, 'receiveDrops' | 'observers' | 'backendDrops'>): { metrics: Metric[]; messages: string[]; verdict: string } {
  const metrics = measured();
  judgeWithinHarnessDrops(metrics, stats, 'primary');
  applyThresholds(metrics, defaultThresholds());
  const findings = thresholdFindings(metrics, [], null, 'primary');
  return { metrics, messages: findings.map((f) => `${f.severity}: ${f.message}`), verdict: verdictOf(metrics, findings) };
}

const tap = (backend: string, receiveDrops: number, replyDrops?: number): StoredReplayStats['observers'][number] => ({ observer: `tap:${backend}:1`, backend, forwarded: 1000, replies: 1000, strayReplies: 0, errors: {}, receiveDrops, ...(replyDrops !== undefined && { replyDrops }) });

/** The mirror's answers: 975 compared with the reference's, all matching, and 10 it gave where the reference did not (1.02%: critical from 0.10%). */
function withAnswers(stats: Pick<StoredReplayStats, 'receiveDrops' | 'observers' | 'backendDrops'>): Metric[] {
  const metrics = [...measured(), metric('ack_compared', 'mirror', 975), metric('one_sided_acks', 'mirror', 10), metric('ack_mismatch_rate', 'mirror', 10 / 985, 'ratio')];
  judgeWithinHarnessDrops(metrics, stats, 'primary');
  applyThresholds(metrics, defaultThresholds());
  return metrics;
}
const statusOf = (metrics: Metric[], name: Metric['metric']): string | null | undefined => metrics.find((m) => m.metric === name && m.backend === 'mirror')?.status;

describe("what the harness's own sockets dropped is judged as the harness's", () => {
  it('a rate the drops could carry over a threshold is inconclusive, shown as the range it lies in', () => {
    const { metrics, messages, verdict } = judged({ receiveDrops: 12, observers: [tap('mirror', 15)] });
    const dropRate = metrics.find((m) => m.metric === 'drop_rate');
    const ackRate = metrics.find((m) => m.metric === 'device_ack_rate');
    // The mirror's tap lost 15 of the 20 missing: the mirror lost somewhere between 5 and 20 (0.5% to 2%).
    expect(dropRate?.status).toBe('inconclusive');
    expect(dropRate === undefined ? '' : formatMeasured(dropRate)).toBe('0.50% to 2.00%');
    // The devices' sockets dropped 12 of the 15 missing ACKs: 98.5% to 99.7%, across the critical floor (99%).
    expect(ackRate?.status).toBe('inconclusive');
    expect(ackRate === undefined ? '' : formatMeasured(ackRate)).toBe('98.50% to 99.70%');
    expect(messages).toEqual([
      expect.stringMatching(/^inconclusive: mirror: frame drop rate on route 20500 is inconclusive: anywhere from 0\.50% to 2\.00%, across the threshold \(critical from 1\.00%\)\. mirror's tap, or mirror itself where it is simulated, dropped datagrams on arrival/),
      expect.stringMatching(/^inconclusive: devices: share of requests ACKed at the device on route 20500 is inconclusive: anywhere from 98\.50% to 99\.70%, across the threshold \(critical below 99\.00%\)\. The replayer's own sockets, or the reference backend's tap, dropped answers/),
    ]);
    expect(verdict).toBe('INCONCLUSIVE');
  });

  it('a fault larger than the drops is still blamed', () => {
    // The mirror's tap lost 5: the mirror itself lost at least 15 (1.5%), critical either way.
    const { metrics, verdict } = judged({ receiveDrops: 0, observers: [tap('mirror', 5)] });
    expect(metrics.find((m) => m.metric === 'drop_rate')?.status).toBe('critical');
    expect(metrics.find((m) => m.metric === 'device_ack_rate')?.status).toBe('critical');
    expect(verdict).toBe('NO_GO');
  });

  it("the reference backend's tap losing answers widens the devices' view; another backend's does not", () => {
    expect(judged({ receiveDrops: 0, observers: [tap('primary', 15)] }).metrics.find((m) => m.metric === 'device_ack_rate')?.status).toBe('inconclusive');
    expect(judged({ receiveDrops: 0, observers: [tap('mirror', 15)] }).metrics.find((m) => m.metric === 'device_ack_rate')?.status).toBe('critical');
  });

  it("a simulated backend's own drops are the harness's too, like its tap's", () => {
    const { metrics } = judged({ receiveDrops: 0, observers: [], backendDrops: { mirror: 15 } });
    expect(metrics.find((m) => m.metric === 'drop_rate')?.status).toBe('inconclusive');
  });

  it("a tap that tells packets for its backend from the backend's answers widens each rate by its own drops only", () => {
    // All 15 of the tap's drops were answers: the mirror's lost packets (2%) are its own, its one-sided answers may not be.
    const answersLost = withAnswers({ receiveDrops: 0, observers: [tap('mirror', 15, 15)] });
    expect(statusOf(answersLost, 'drop_rate')).toBe('critical');
    expect(statusOf(answersLost, 'ack_mismatch_rate')).toBe('inconclusive');
    // All of them packets for it: the other way round.
    const packetsLost = withAnswers({ receiveDrops: 0, observers: [tap('mirror', 15, 0)] });
    expect(statusOf(packetsLost, 'drop_rate')).toBe('inconclusive');
    expect(statusOf(packetsLost, 'ack_mismatch_rate')).toBe('critical');
    // A tap of a run written before it told them apart: both, as before.
    const untold = withAnswers({ receiveDrops: 0, observers: [tap('mirror', 15)] });
    expect([statusOf(untold, 'drop_rate'), statusOf(untold, 'ack_mismatch_rate')]).toEqual(['inconclusive', 'inconclusive']);
    // A simulated backend's socket only receives packets for it: its drops never make its answers look one-sided.
    const simulated = withAnswers({ receiveDrops: 0, observers: [], backendDrops: { mirror: 15 } });
    expect([statusOf(simulated, 'drop_rate'), statusOf(simulated, 'ack_mismatch_rate')]).toEqual(['inconclusive', 'critical']);
  });

  it("packets that reached no backend may have reached one whose tap dropped them: that share is widened by every backend's drops", () => {
    // 15 of 1,000 reached neither backend (1.5%: critical from 1%); the taps dropped 4 and 3 packets on the way in.
    const metrics = [metric('sent', null, 1000), metric('unreached', null, 15), metric('unreached_rate', null, 0.015, 'ratio')];
    judgeWithinHarnessDrops(metrics, { receiveDrops: 0, observers: [tap('primary', 4, 0), tap('mirror', 3, 0)] }, 'primary');
    applyThresholds(metrics, defaultThresholds());
    const rate = metrics.find((m) => m.metric === 'unreached_rate');
    expect(rate === undefined ? '' : formatMeasured(rate)).toBe('0.80% to 1.50%');
    expect(rate?.status).toBe('inconclusive');
    expect(thresholdFindings(metrics, [], null, 'primary').map((f) => f.message)).toEqual([
      expect.stringMatching(/^relay: share of what was sent that reached no backend on route 20500 is inconclusive: anywhere from 0\.80% to 1\.50%, .*\. A backend's tap, or a simulated backend itself, dropped datagrams on arrival/),
    ]);
    // Their answers dropped, not packets for them: no packet can have been missed so.
    const answersOnly = [metric('sent', null, 1000), metric('unreached', null, 15), metric('unreached_rate', null, 0.015, 'ratio')];
    judgeWithinHarnessDrops(answersOnly, { receiveDrops: 0, observers: [tap('primary', 4, 4), tap('mirror', 3, 3)] }, 'primary');
    applyThresholds(answersOnly, defaultThresholds());
    expect(answersOnly.find((m) => m.metric === 'unreached_rate')?.status).toBe('critical');
  });

  it("a backend's drop rate counts what it lost that another received: the drops are weighed against that, not all it lost", () => {
    // The mirror lost 20, 12 of them reaching no backend: its own loss is 8 (0.8%: a warning), which 5 drops could make
    // 3 at best (0.3%): a warning either way, never critical.
    const metrics = [metric('sent', 'mirror', 1000), metric('lost', 'mirror', 20), metric('lost_apart', 'mirror', 8), metric('drop_rate', 'mirror', 0.008, 'ratio')];
    judgeWithinHarnessDrops(metrics, { receiveDrops: 0, observers: [tap('mirror', 5, 0)] }, 'primary');
    applyThresholds(metrics, defaultThresholds());
    const rate = metrics.find((m) => m.metric === 'drop_rate');
    expect(rate === undefined ? '' : formatMeasured(rate)).toBe('0.30% to 0.80%');
    expect(rate?.status).toBe('warning');
  });

  it('a run that could not see drops keeps its rates as they are, and says nothing of drops', () => {
    const { metrics, verdict } = judged({ receiveDrops: null, observers: [] });
    expect(metrics.some((m) => m.metric === 'replay_receive_drops')).toBe(false);
    expect(metrics.every((m) => m.uncertainty === undefined)).toBe(true);
    expect(verdict).toBe('NO_GO');
  });
});
