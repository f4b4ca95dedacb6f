import { describe, expect, it } from 'vitest';
import { classify, DEFAULT_THRESHOLDS, parseThresholds, thresholdFor } from '../../src/analyse/thresholds.ts';
import { exitCodeOf, verdictOf, type Metric } from '../../src/analyse/analysis.ts';
import { ConfigError } from '../../src/core/errors.ts';

describe('thresholds and verdict rules', () => {
  it('classifies as the design table says: healthy below warning, warning below critical, critical from it', () => {
    const drop = DEFAULT_THRESHOLDS.drop_rate;
    expect([0, 0.0009, 0.001, 0.0099, 0.01, 0.5].map((v) => classify(v, drop))).toEqual(['healthy', 'healthy', 'warning', 'warning', 'critical', 'critical']);
  });

  it('reads overrides per metric and per route from YAML values', () => {
    const config = parseThresholds({ drop_rate: { warning: 0.01, critical: 0.02 }, routes: { 20500: { drift: { warning: 0.1, critical: 0.2 } } } }, 't.yaml');
    expect(thresholdFor(config, 'drop_rate', 1)).toEqual({ warning: 0.01, critical: 0.02 });
    expect(thresholdFor(config, 'drift', 20500)).toEqual({ warning: 0.1, critical: 0.2 });
    expect(thresholdFor(config, 'drift', 20501)).toEqual(DEFAULT_THRESHOLDS.drift);
  });

  it.each([
    [{ drop_rte: { warning: 1, critical: 2 } }, /unknown key "drop_rte"/],
    [{ drop_rate: { warning: 0.5 } }, /drop_rate needs numbers for both warning and critical/],
    [{ drop_rate: { warning: 0.5, critical: 0.1 } }, /critical \(0.1\) is below warning/],
    [{ routes: { abc: {} } }, /routes\.abc: route keys are port numbers/],
  ])('refuses %j naming the key', (input, message) => {
    expect(() => parseThresholds(input, 't.yaml')).toThrow(ConfigError);
    expect(() => parseThresholds(input, 't.yaml')).toThrow(message);
  });

  it('gives GO, GO_WITH_WARNINGS or NO_GO with exit codes 0, 0 (1 strict), 1', () => {
    const metric = (status: Metric['status']): Metric => ({ metric: 'drop_rate', route: 1, backend: 'mirror', value: 0, unit: 'ratio', status });
    expect(verdictOf([metric('healthy')], [])).toBe('GO');
    expect(verdictOf([metric('healthy'), metric('warning')], [])).toBe('GO_WITH_WARNINGS');
    expect(verdictOf([metric('warning'), metric('critical')], [])).toBe('NO_GO');
    expect([exitCodeOf('GO', false), exitCodeOf('GO_WITH_WARNINGS', false), exitCodeOf('GO_WITH_WARNINGS', true), exitCodeOf('NO_GO', false)]).toEqual([0, 0, 1, 1]);
  });
});
