import { describe, expect, it } from 'vitest';
import { Schedule } from '../../src/replay/replay-plan.ts';
import { parseRamp, parseRatePps, parseSpeed } from '../../src/run/replay-request.ts';
import { ValueError } from '../../src/core/values.ts';

describe('replay plans', () => {
  it('parses speeds, rates and ramps, and refuses nonsense with a usage error', () => {
    expect(parseSpeed('10x')).toEqual({ kind: 'original', speed: 10 });
    expect(parseSpeed('0.5x')).toEqual({ kind: 'original', speed: 0.5 });
    expect(parseSpeed('max')).toEqual({ kind: 'max' });
    expect(parseRatePps('5000pps')).toBe(5000);
    expect(parseRatePps('5k')).toBe(5000);
    expect(parseRamp('100pps..20000pps/60s')).toEqual({ kind: 'ramp', fromPps: 100, toPps: 20000, overMs: 60000 });
    for (const bad of [() => parseSpeed('fast'), () => parseRatePps('-3'), () => parseRamp('100..200')]) expect(bad).toThrow(ValueError);
  });

  it('schedules a ramp so that the packets due by time t match the integral of its rate', () => {
    const schedule = new Schedule({ kind: 'ramp', fromPps: 100, toPps: 1100, overMs: 10_000 }, 0, 1);
    // After 10 s: (100 + 1100) / 2 * 10 = 6000 packets; after 5 s: 100*5 + 100*25/2... = 500 + 1250 = 1750.
    expect((schedule.offsetNs(6000, 0, 0) as number) / 1e9).toBeCloseTo(10, 6);
    expect((schedule.offsetNs(1750, 0, 0) as number) / 1e9).toBeCloseTo(5, 6);
    // Past the ramp it holds the end rate.
    expect((schedule.offsetNs(6000 + 1100, 0, 0) as number) / 1e9).toBeCloseTo(11, 6);
  });

  it('shifts each loop of the original timing by the capture span plus one mean gap, scaled by the speed', () => {
    const schedule = new Schedule({ kind: 'original', speed: 2 }, 9e9, 10);
    expect(schedule.offsetNs(0, 0, 3e9)).toBe(1.5e9);
    expect(schedule.offsetNs(0, 1, 0)).toBe(5e9);
  });
});
