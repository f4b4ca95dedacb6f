import { describe, expect, it } from 'vitest';
import { SeenSequence } from '../../../src/backends/ws/seen-sequence.ts';
import { seededRandom } from '../../../src/core/random.ts';

/** Feeds the same numbers to the tracker and to a plain Set, which is obviously right, and compares every answer. */
function agreeWithSet(seqs: readonly number[]): SeenSequence {
  const seen = new SeenSequence();
  const plain = new Set<number>();
  const disagreements: string[] = [];
  for (const [i, seq] of seqs.entries()) {
    if (seen.has(seq) !== plain.has(seq)) disagreements.push(`before adding #${i} (${seq})`);
    seen.add(seq);
    plain.add(seq);
  }
  const lowest = seqs.reduce((a, b) => Math.min(a, b));
  const highest = seqs.reduce((a, b) => Math.max(a, b));
  for (let seq = lowest - 3; seq <= highest + 3; seq++) if (seen.has(seq) !== plain.has(seq)) disagreements.push(`at the end, ${seq}`);
  expect(disagreements).toEqual([]);
  return seen;
}

describe('SeenSequence', () => {
  it('keeps nothing one by one for a stream that arrives in order, from wherever it starts', () => {
    const seqs = Array.from({ length: 100_000 }, (_, i) => 5_000 + i);
    expect(agreeWithSet(seqs).outsideCount).toBe(0);
  });

  it('answers as a Set would for duplicates, gaps, late and early frames, and numbers below the first', () => {
    const random = seededRandom(7);
    const seqs: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = random();
      if (r < 0.05 && seqs.length > 0) seqs.push(seqs[Math.floor(random() * seqs.length)] as number); // a duplicate
      else if (r < 0.1) seqs.push(i + Math.floor(random() * 50)); // early
      else if (r < 0.15) seqs.push(i - Math.floor(random() * 50)); // late, sometimes below the first
      else seqs.push(i);
    }
    agreeWithSet(seqs);
  });

  it('keeps one by one only what lies beyond the contiguous range, and lets it go once the gap fills', () => {
    const seen = agreeWithSet([10, 12, 13, 20, 9, 7]);
    expect(seen.outsideCount).toBe(4); // 12, 13, 20, 7
    seen.add(11);
    seen.add(8);
    expect(seen.outsideCount).toBe(1); // 20
    expect(seen.has(13) && seen.has(7) && !seen.has(14)).toBe(true);
  });
});
