import { describe, expect, it } from 'vitest';
import { mergeRunParts, type RunPart } from '../../src/store/merge-run-parts.ts';
import type { StoredReplayStats } from '../../src/store/run-metadata.ts';
import type { RunRecord, RunStatus } from '../../src/store/runs.ts';

const stats = (sent: number, p99Us: number, maxUs: number): StoredReplayStats => ({
  planned: sent,
  sent,
  sendErrors: 1,
  sendErrorsByKind: { refused: 1 },
  acks: sent - 1,
  askedRatePps: 1000,
  achievedRatePps: 990,
  lateness: { p50Us: p99Us / 10, p99Us, maxUs },
  notAsRecorded: [{ reason: 'COPY without its data', count: sent / 100, examples: [`COPY t${sent} FROM STDIN`] }],
  observers: [],
});

function part(name: string, overrides: Partial<RunRecord>, wallOffsetNs: bigint | null = 0n): RunPart {
  const run: RunRecord = {
    runId: 1,
    name: 'nightly-3',
    kind: 'replay',
    captureId: null,
    protocol: 'generic',
    relay: '10.0.0.1',
    status: 'completed',
    startedNs: 1_000n,
    endedNs: 9_000n,
    plan: null,
    topology: { backends: [{ role: 'primary', ip: '10.0.0.2', observation: 'simulated', observed: 'built-in' }], routes: [{ port: 20500, customer: 'a', device: 'x' }] },
    thresholds: null,
    stats: stats(100, 200, 900),
    recording: null,
    startedAt: '',
    owner: { pid: 1, host: name },
    harnessLag: null,
    ...overrides,
  };
  return { dir: `/parts/${name}`, run, wallOffsetNs };
}

describe('merging the parts of a run recorded on several hosts', () => {
  it('adds counts and rates, takes the worst lateness, and spans the parts on the wall clock', () => {
    const a = part('a', { stats: stats(100, 200, 900), harnessLag: { p99Ms: 3, maxMs: 40 } }, 5_000n);
    const b = part('b', { stats: stats(300, 450, 700), startedNs: 500n, endedNs: 20_000n, harnessLag: { p99Ms: 12, maxMs: 20 } }, 1_000n);
    const merged = mergeRunParts([a, b], (p) => p.wallOffsetNs ?? 0n);
    expect(merged.status).toBe('completed');
    expect(merged.startedNs).toBe(1_500n);
    expect(merged.endedNs).toBe(21_000n);
    expect(merged.stats).toMatchObject({ planned: 400, sent: 400, sendErrors: 2, sendErrorsByKind: { refused: 2 }, acks: 398, askedRatePps: 2000, achievedRatePps: 1980 });
    expect(merged.stats?.lateness).toEqual({ p50Us: 45, p99Us: 450, maxUs: 900 });
    // Each host's stamps are judged within the laggiest host's event loop.
    expect(merged.harnessLag).toEqual({ p99Ms: 12, maxMs: 40 });
    expect(merged.stats?.notAsRecorded).toEqual([{ reason: 'COPY without its data', count: 4, examples: ['COPY t100 FROM STDIN', 'COPY t300 FROM STDIN'] }]);
  });

  it('is only as complete as its least complete part; a part still running elsewhere counts as abandoned', () => {
    const statuses: [RunStatus[], RunStatus][] = [
      [['completed', 'interrupted'], 'interrupted'],
      [['completed', 'running'], 'abandoned'],
      [['interrupted', 'failed', 'completed'], 'failed'],
      [['abandoned', 'interrupted'], 'abandoned'],
    ];
    for (const [parts, expected] of statuses) {
      expect(mergeRunParts(parts.map((status, i) => part(String(i), { status })), () => 0n).status).toBe(expected);
    }
    // A part whose end is unknown leaves the whole's end unknown.
    expect(mergeRunParts([part('a', {}), part('b', { endedNs: null })], () => 0n).endedNs).toBeNull();
  });

  it('takes every backend and route any part declares, and a backend observation store does not count as sending', () => {
    const replayer = part('a', {});
    const mirrorStore = part('b', {
      kind: 'record',
      stats: { ...stats(0, 0, 0), sent: 0, planned: 0 },
      topology: { backends: [{ role: 'mirror', ip: '10.0.0.3', observation: 'simulated', observed: 'parity backend' }], routes: [{ port: 20600, customer: 'b', device: 'y' }] },
    });
    const merged = mergeRunParts([replayer, mirrorStore], () => 0n);
    expect(merged.topology.backends.map((b) => b.role)).toEqual(['primary', 'mirror']);
    expect(merged.topology.routes.map((r) => r.port)).toEqual([20500, 20600]);
    expect(merged.stats?.sent).toBe(100);
    expect(merged.stats?.lateness?.p99Us).toBe(200);
  });
});
