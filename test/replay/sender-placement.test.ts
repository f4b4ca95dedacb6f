import { describe, expect, it } from 'vitest';
import { plannedPeakPps } from '../../src/replay/replay-plan.ts';
import { AUTO_SENDER_CPU_FROM_PPS, placeSender } from '../../src/replay/sender-cpu.ts';

describe('where the sending thread runs', () => {
  it('reads the rate a plan asks for at its fastest', () => {
    expect(plannedPeakPps({ kind: 'rate', ratePps: 50_000 }, 10, 1e9)).toBe(50_000);
    expect(plannedPeakPps({ kind: 'ramp', fromPps: 40_000, toPps: 100, overMs: 1000 }, 10, 1e9)).toBe(40_000);
    // 1,001 packets over 1 s of capture, ten times as fast: 10,000 gaps a second.
    expect(plannedPeakPps({ kind: 'original', speed: 10 }, 1001, 1e9)).toBeCloseTo(10_000);
    expect(plannedPeakPps({ kind: 'original', speed: 1 }, 1, 0)).toBeUndefined();
    expect(plannedPeakPps({ kind: 'max' }, 1000, 1e9)).toBeUndefined();
  });

  it('keeps a CPU asked for by number, shares when asked to, and shares below the auto rate or as fast as possible', () => {
    expect(placeSender(3, undefined)).toEqual({ cpu: 3, why: 'alone on CPU 3, as asked' });
    expect(placeSender('none', 90_000).cpu).toBeUndefined();
    expect(placeSender(undefined, 90_000).cpu).toBeUndefined();
    expect(placeSender('auto', undefined).why).toMatch(/as fast as possible keeps no schedule/);
    expect(placeSender('auto', AUTO_SENDER_CPU_FROM_PPS - 1)).toEqual({ cpu: undefined, why: `sharing every CPU: ${AUTO_SENDER_CPU_FROM_PPS - 1} pps is below the ${AUTO_SENDER_CPU_FROM_PPS} pps from which it gets one of its own` });
  });
});
