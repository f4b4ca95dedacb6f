import { describe, expect, it } from 'vitest';
import { compareAnswers, countDifferingPairs, flattenJson, judgeFields } from '../../src/analyse/http/response-fields.ts';

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('response fields compared live against shadow, with A/A noise', () => {
  it('flattens JSON to leaf paths, arrays under one path', () => {
    expect([...flattenJson({ a: 1, b: { c: 'x' }, lines: [{ cents: 1 }, { cents: 2 }], e: [] })]).toEqual([
      ['a', ['1']],
      ['b.c', ['"x"']],
      ['lines[].cents', ['1', '2']],
      ['e', ['[]']],
    ]);
  });

  // 10,000 pairs: `stamp` differs in every pair, `total` in 1% of them, `code` in 0.02% (2 pairs).
  const pairs = Array.from({ length: 10_000 }, (_, i) => ({
    backend: 'shadow',
    reference: json({ stamp: i, total: 100, code: 'A' }),
    other: json({ stamp: i + 1, total: i % 100 === 0 ? 101 : 100, code: i < 2 ? 'B' : 'A' }),
  }));

  it('without an A/A run every difference counts', () => {
    const compared = compareAnswers(pairs);
    const fields = judgeFields(compared, null, []);
    expect(fields.filter((f) => f.counted).map((f) => f.field).sort()).toEqual(['code', 'stamp', 'total']);
    expect(countDifferingPairs(compared, fields).get('shadow')).toBe(10_000);
  });

  it('with one, a field counts only past its noise by 20% relative and 0.03% absolute', () => {
    const compared = compareAnswers(pairs);
    // stamp is pure noise; total's 1% is within 20% of its 0.9% noise; code's 0.02% is over 0 but not by 0.03%.
    const fields = judgeFields(compared, new Map([['stamp', 1], ['total', 0.009]]), []);
    expect(fields.find((f) => f.field === 'stamp')).toMatchObject({ counted: false, excused: 'noise', differing: 10_000 });
    expect(fields.find((f) => f.field === 'total')).toMatchObject({ counted: false, excused: 'noise', differing: 100 });
    expect(fields.find((f) => f.field === 'code')).toMatchObject({ counted: false, excused: 'noise', differing: 2 });
    expect(countDifferingPairs(compared, fields).get('shadow') ?? 0).toBe(0);
    // A total that differs at 1% against 0.5% noise is a difference: 100 pairs.
    const real = judgeFields(compared, new Map([['stamp', 1], ['total', 0.005]]), []);
    expect(real.find((f) => f.field === 'total')).toMatchObject({ counted: true, excused: null, example: { reference: '100', other: '101' } });
    expect(countDifferingPairs(compared, real).get('shadow')).toBe(100);
  });

  it('fields named in the thresholds never count, and bodies that are not JSON compare whole', () => {
    const compared = compareAnswers([{ backend: 'shadow', reference: new TextEncoder().encode('OK'), other: new TextEncoder().encode('ok') }, ...pairs.slice(0, 10)]);
    const fields = judgeFields(compared, null, ['stamp']);
    expect(fields.find((f) => f.field === 'stamp')).toMatchObject({ counted: false, excused: 'ignored' });
    expect(fields.find((f) => f.field === '(body)')).toMatchObject({ counted: true, differing: 1, example: { reference: 'OK', other: 'ok' } });
  });
});
