import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/core/latency-histogram.ts';
import { quantile } from '../../src/core/stats.ts';

describe('latency histogram', () => {
  it('property: any percentile is within 3% of the exact one (and never above the max)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5e9 }), { minLength: 1, maxLength: 500 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (values, q) => {
        const histogram = new LatencyHistogram();
        for (const value of values) histogram.record(value);
        const sorted = [...values].sort((a, b) => a - b);
        const exact = sorted[Math.max(0, Math.ceil(q * values.length) - 1)] as number;
        const estimate = histogram.quantileNs(q);
        expect(estimate).toBeGreaterThanOrEqual(exact);
        expect(estimate).toBeLessThanOrEqual(Math.max(exact * 1.0313 + 1, exact + 1));
        expect(estimate).toBeLessThanOrEqual(Math.max(...values));
      }),
    );
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
  });
});
